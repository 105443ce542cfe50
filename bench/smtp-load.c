/*
 * smtp-load - SMTP load generator for the side-by-side benchmark.
 *
 * Sends N messages of S bytes over C concurrent SMTP sessions to a server on
 * the loopback interface and prints one machine-readable summary line:
 *
 *	msgs=N ok=.. fail=.. secs=.. rate=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
 *
 * Each session is one thread with a blocking socket bounded by SO_RCVTIMEO and
 * SO_SNDTIMEO. A session claims message numbers from a shared counter, so the
 * work spreads evenly however fast each session runs, and keeps its
 * connection for many transactions. Latency is measured per message from
 * sending MAIL to reading the reply to the final dot. Exit status is 0 only
 * when every message got a 2xx reply after its data.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC	1000
#define MAX_RCPTS	1000
#define MAX_ERRORS	10	/* error lines printed to stderr */
#define REPLY_MAX	512	/* kept text of the last reply line */
#define FILLER_LEN	76	/* characters per filler line, before CRLF */
#define CONNECT_TRIES	3	/* consecutive failed connects before a session gives up */

struct opts {
	const char	*host;
	const char	*port;
	long		 nmsgs;
	int		 conc;
	size_t		 size;
	const char	*from;
	char		*rcpts[MAX_RCPTS];
	int		 nrcpts;
	int		 rcpt_per_msg;
	int		 timeout;
	int		 pipelining;
};

static struct opts	 opt;
static struct addrinfo	*server_ai;
static atomic_long	 next_seq;
static atomic_long	 n_ok;
static atomic_long	 n_fail;
static atomic_int	 n_errors;
static double		*latency_ms;	/* per message; < 0 when it failed */
static time_t		 start_wall;

struct session {
	int	 fd;
	int	 id;
	int	 pipelining;		/* server offered it and -P asked for it */
	char	 rbuf[16384];
	size_t	 rlen;
	size_t	 roff;
	char	 reply[REPLY_MAX];	/* last reply line, for error messages */
	char	*out;			/* commands or message on the wire */
	size_t	 outlen;
	size_t	 outcap;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: smtp-load [-h host] [-p port] [-n messages] [-c concurrency]\n"
	    "                 [-s size_bytes] [-f from] -r rcpt[,rcpt...]\n"
	    "                 [-R rcpts_per_message] [-t timeout_s] [--pipelining]\n");
	exit(2);
}

static void __attribute__((format(printf, 1, 2)))
report_error(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&n_errors, 1) >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	fputs("smtp-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static long
parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "smtp-load: bad %s '%s' (%ld..%ld)\n", what, s,
		    min, max);
		exit(2);
	}
	return v;
}

static void
parse_rcpts(char *list)
{
	char *p, *save = NULL;

	for (p = strtok_r(list, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (*p == '\0')
			continue;
		if (opt.nrcpts == MAX_RCPTS) {
			fprintf(stderr, "smtp-load: more than %d recipients\n",
			    MAX_RCPTS);
			exit(2);
		}
		opt.rcpts[opt.nrcpts++] = p;
	}
}

/* Only loopback addresses: this tool must never load someone else's server. */
static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

static void
resolve_server(void)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(opt.host, opt.port, &hints, &server_ai);
	if (rc != 0) {
		fprintf(stderr, "smtp-load: %s:%s: %s\n", opt.host, opt.port,
		    gai_strerror(rc));
		exit(2);
	}
	if (!is_loopback(server_ai->ai_addr)) {
		fprintf(stderr, "smtp-load: %s is not a loopback address\n",
		    opt.host);
		exit(2);
	}
}

/* Output buffer: grows as needed; a failed allocation ends the program. */
static void
out_reserve(struct session *s, size_t more)
{
	size_t cap;
	char *p;

	if (s->outlen + more <= s->outcap)
		return;
	cap = s->outcap == 0 ? 8192 : s->outcap;
	while (cap < s->outlen + more)
		cap *= 2;
	if ((p = realloc(s->out, cap)) == NULL) {
		perror("smtp-load: realloc");
		exit(1);
	}
	s->out = p;
	s->outcap = cap;
}

static void
out_add(struct session *s, const char *data, size_t len)
{
	out_reserve(s, len);
	memcpy(s->out + s->outlen, data, len);
	s->outlen += len;
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct session *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("smtp-load: vsnprintf failed\n", stderr);
		exit(1);
	}
	out_reserve(s, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s->out + s->outlen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->outlen += (size_t)n;
}

static void
session_close(struct session *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->rlen = s->roff = 0;
}

static int
send_out(struct session *s)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->outlen) {
		n = send(s->fd, s->out + off, s->outlen - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(s->reply, sizeof(s->reply), "send: %s",
			    n == 0 ? "closed" : strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	s->outlen = 0;
	return 0;
}

/* One line without its CRLF into s->reply; -1 on I/O error or timeout. */
static int
read_line(struct session *s)
{
	size_t i, len;
	ssize_t n;

	for (;;) {
		for (i = s->roff; i < s->rlen; i++) {
			if (s->rbuf[i] != '\n')
				continue;
			len = i - s->roff;
			if (len > 0 && s->rbuf[i - 1] == '\r')
				len--;
			if (len >= sizeof(s->reply))
				len = sizeof(s->reply) - 1;
			memcpy(s->reply, s->rbuf + s->roff, len);
			s->reply[len] = '\0';
			s->roff = i + 1;
			return 0;
		}
		if (s->roff > 0) {
			memmove(s->rbuf, s->rbuf + s->roff, s->rlen - s->roff);
			s->rlen -= s->roff;
			s->roff = 0;
		}
		if (s->rlen == sizeof(s->rbuf)) {
			snprintf(s->reply, sizeof(s->reply), "reply line too long");
			return -1;
		}
		n = recv(s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(s->reply, sizeof(s->reply), "recv: %s",
			    n == 0 ? "connection closed" :
			    (errno == EAGAIN || errno == EWOULDBLOCK) ?
			    "timeout" : strerror(errno));
			return -1;
		}
		s->rlen += (size_t)n;
	}
}

/*
 * A whole (possibly multi-line) reply; returns its code or -1. When pipe_ok
 * is not NULL, it is set if an EHLO line announces PIPELINING.
 */
static int
read_reply(struct session *s, int *pipe_ok)
{
	int code;

	for (;;) {
		if (read_line(s) == -1)
			return -1;
		if (strlen(s->reply) < 3 ||
		    s->reply[0] < '2' || s->reply[0] > '5' ||
		    s->reply[1] < '0' || s->reply[1] > '9' ||
		    s->reply[2] < '0' || s->reply[2] > '9' ||
		    (s->reply[3] != '\0' && s->reply[3] != ' ' &&
		    s->reply[3] != '-'))
			return -1;
		code = atoi(s->reply);
		if (pipe_ok != NULL && s->reply[3] != '\0' &&
		    strncasecmp(s->reply + 4, "PIPELINING", 10) == 0 &&
		    (s->reply[14] == '\0' || s->reply[14] == ' '))
			*pipe_ok = 1;
		if (s->reply[3] != '-')
			return code;
	}
}

static int
session_open(struct session *s)
{
	struct timeval tv;
	int one = 1, offered = 0, code;

	s->fd = socket(server_ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		snprintf(s->reply, sizeof(s->reply), "socket: %s", strerror(errno));
		return -1;
	}
	tv.tv_sec = opt.timeout;
	tv.tv_usec = 0;
	/* Linux bounds connect() by the send timeout too. */
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		snprintf(s->reply, sizeof(s->reply), "setsockopt: %s",
		    strerror(errno));
		session_close(s);
		return -1;
	}
	if (connect(s->fd, server_ai->ai_addr, server_ai->ai_addrlen) == -1) {
		snprintf(s->reply, sizeof(s->reply), "connect: %s",
		    strerror(errno));
		session_close(s);
		return -1;
	}
	if ((code = read_reply(s, NULL)) != 220)
		goto fail;
	out_printf(s, "EHLO smtp-load-%d.localhost\r\n", s->id);
	if (send_out(s) == -1 || (code = read_reply(s, &offered)) / 100 != 2)
		goto fail;
	s->pipelining = opt.pipelining && offered;
	return 0;
fail:
	session_close(s);
	return -1;
}

static void
session_quit(struct session *s)
{
	if (s->fd == -1)
		return;
	out_printf(s, "QUIT\r\n");
	if (send_out(s) == 0)
		(void)read_reply(s, NULL);
	session_close(s);
}

/* The recipient of message seq in position i: round-robin over the list. */
static const char *
rcpt_of(long seq, int i)
{
	return opt.rcpts[(seq * opt.rcpt_per_msg + i) % opt.nrcpts];
}

/*
 * Appends the message as it goes on the wire: RFC 5322 headers, then filler
 * lines of FILLER_LEN characters up to opt.size bytes (counted before
 * dot-stuffing), then the terminating dot. Every 16th filler line starts with
 * a dot so that the server's un-stuffing is exercised.
 */
static void
add_message(struct session *s, long seq)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char date[64], line[FILLER_LEN + 4];
	struct tm tm;
	time_t t = time(NULL);
	size_t start = s->outlen, body, hdrlen, len, i, k;
	int r;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	out_printf(s, "From: <%s>\r\nTo: ", opt.from);
	for (r = 0; r < opt.rcpt_per_msg; r++)
		out_printf(s, "%s<%s>", r == 0 ? "" : ",\r\n ", rcpt_of(seq, r));
	out_printf(s, "\r\nSubject: smtp-load message %ld\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%ld.%ld.%ld@smtp-load.invalid>\r\n"
	    "\r\n", seq, date, seq, (long)getpid(), (long)start_wall);
	hdrlen = s->outlen - start;
	body = opt.size > hdrlen ? opt.size - hdrlen : 0;
	for (k = 0; body > 0; k++) {
		len = body >= 2 ? body - 2 : 0;
		if (len > FILLER_LEN)
			len = FILLER_LEN;
		/* Never leave a single byte over: make this line one longer. */
		if (body - len - 2 == 1)
			len++;
		for (i = 0; i < len; i++)
			line[i] = alphabet[(k + i) % (sizeof(alphabet) - 1)];
		if (len > 0 && k % 16 == 15)
			line[0] = '.';
		if (len > 0 && line[0] == '.')
			out_add(s, ".", 1);
		line[len] = '\r';
		line[len + 1] = '\n';
		out_add(s, line, len + 2);
		body = body > len + 2 ? body - len - 2 : 0;
	}
	out_add(s, ".\r\n", 3);
}

/* After a refused command in a transaction: RSET, or drop the connection. */
static void
session_reset(struct session *s)
{
	out_printf(s, "RSET\r\n");
	if (send_out(s) == -1 || read_reply(s, NULL) / 100 != 2)
		session_close(s);
}

/* One transaction; returns 0 and the latency, or -1 (connection may be gone). */
static int
send_one(struct session *s, long seq, double *ms)
{
	double t0;
	int code, r, accepted = 0, mail_ok;

	t0 = now_ms();
	out_printf(s, "MAIL FROM:<%s>\r\n", opt.from);
	if (!s->pipelining) {
		if (send_out(s) == -1 || (code = read_reply(s, NULL)) == -1)
			goto io_fail;
		if (code / 100 != 2)
			goto refused;
		for (r = 0; r < opt.rcpt_per_msg; r++) {
			out_printf(s, "RCPT TO:<%s>\r\n", rcpt_of(seq, r));
			if (send_out(s) == -1 ||
			    (code = read_reply(s, NULL)) == -1)
				goto io_fail;
			if (code / 100 == 2)
				accepted++;
			else
				report_error("message %ld: RCPT <%s>: %s", seq,
				    rcpt_of(seq, r), s->reply);
		}
		if (accepted == 0)
			goto refused_quiet;
		out_printf(s, "DATA\r\n");
		if (send_out(s) == -1 || (code = read_reply(s, NULL)) == -1)
			goto io_fail;
		if (code != 354)
			goto refused;
	} else {
		/* RFC 2920: MAIL, all RCPTs and DATA in one write. */
		for (r = 0; r < opt.rcpt_per_msg; r++)
			out_printf(s, "RCPT TO:<%s>\r\n", rcpt_of(seq, r));
		out_printf(s, "DATA\r\n");
		if (send_out(s) == -1 || (code = read_reply(s, NULL)) == -1)
			goto io_fail;
		mail_ok = code / 100 == 2;
		if (!mail_ok)
			report_error("message %ld: MAIL: %s", seq, s->reply);
		for (r = 0; r < opt.rcpt_per_msg; r++) {
			if ((code = read_reply(s, NULL)) == -1)
				goto io_fail;
			if (code / 100 == 2)
				accepted++;
			else if (mail_ok)
				report_error("message %ld: RCPT <%s>: %s", seq,
				    rcpt_of(seq, r), s->reply);
		}
		if ((code = read_reply(s, NULL)) == -1)
			goto io_fail;
		if (code != 354) {
			if (mail_ok && accepted > 0)
				goto refused;
			goto refused_quiet;
		}
		if (!mail_ok || accepted == 0) {
			/* The server should not have said 354; end it empty. */
			out_printf(s, ".\r\n");
			if (send_out(s) == -1 || read_reply(s, NULL) == -1)
				goto io_fail;
			report_error("message %ld: 354 without recipients", seq);
			return -1;
		}
	}
	add_message(s, seq);
	if (send_out(s) == -1 || (code = read_reply(s, NULL)) == -1)
		goto io_fail;
	if (code / 100 != 2) {
		report_error("message %ld: after data: %s", seq, s->reply);
		return -1;
	}
	*ms = now_ms() - t0;
	return 0;
refused:
	report_error("message %ld: %s", seq, s->reply);
refused_quiet:
	session_reset(s);
	return -1;
io_fail:
	s->outlen = 0;
	report_error("message %ld: session %d: %s", seq, s->id, s->reply);
	session_close(s);
	return -1;
}

static void *
session_main(void *arg)
{
	struct session *s = arg;
	long seq;
	double ms;
	int connect_fails = 0;

	while ((seq = atomic_fetch_add(&next_seq, 1)) < opt.nmsgs) {
		if (s->fd == -1 && session_open(s) == -1) {
			report_error("message %ld: session %d: %s", seq, s->id,
			    s->reply);
			atomic_fetch_add(&n_fail, 1);
			if (++connect_fails >= CONNECT_TRIES)
				break;
			continue;
		}
		connect_fails = 0;
		if (send_one(s, seq, &ms) == 0) {
			latency_ms[seq] = ms;
			atomic_fetch_add(&n_ok, 1);
		} else
			atomic_fetch_add(&n_fail, 1);
	}
	session_quit(s);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, long n, double p)
{
	long rank;

	if (n == 0)
		return 0.0;
	rank = (long)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pipelining",	no_argument,	NULL, 'P' },
		{ "help",	no_argument,	NULL, 'H' },
		{ NULL,		0,		NULL, 0 }
	};
	int ch;

	opt.host = "127.0.0.1";
	opt.port = "25";
	opt.nmsgs = 1000;
	opt.conc = 10;
	opt.size = 4096;
	opt.from = "load@smtp-load.invalid";
	opt.rcpt_per_msg = 1;
	opt.timeout = 30;
	while ((ch = getopt_long(argc, argv, "h:p:n:c:s:f:r:R:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'n':
			opt.nmsgs = parse_long(optarg, 1, 100000000, "messages");
			break;
		case 'c':
			opt.conc = (int)parse_long(optarg, 1, MAX_CONC,
			    "concurrency");
			break;
		case 's':
			opt.size = (size_t)parse_long(optarg, 0, 1L << 30,
			    "size");
			break;
		case 'f':
			opt.from = optarg;
			break;
		case 'r':
			parse_rcpts(optarg);
			break;
		case 'R':
			opt.rcpt_per_msg = (int)parse_long(optarg, 1, MAX_RCPTS,
			    "recipients per message");
			break;
		case 't':
			opt.timeout = (int)parse_long(optarg, 1, 3600,
			    "timeout");
			break;
		case 'P':
			opt.pipelining = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.nrcpts == 0)
		usage();
	if (opt.conc > opt.nmsgs)
		opt.conc = (int)opt.nmsgs;
}

int
main(int argc, char **argv)
{
	struct session *sessions;
	pthread_t *threads;
	double t0, secs, *ok_lat;
	long i, n, ok, fail;
	int c, rc;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	resolve_server();
	start_wall = time(NULL);

	latency_ms = calloc((size_t)opt.nmsgs, sizeof(*latency_ms));
	sessions = calloc((size_t)opt.conc, sizeof(*sessions));
	threads = calloc((size_t)opt.conc, sizeof(*threads));
	if (latency_ms == NULL || sessions == NULL || threads == NULL) {
		perror("smtp-load: calloc");
		return 1;
	}
	for (i = 0; i < opt.nmsgs; i++)
		latency_ms[i] = -1.0;

	t0 = now_ms();
	for (c = 0; c < opt.conc; c++) {
		sessions[c].fd = -1;
		sessions[c].id = c;
		rc = pthread_create(&threads[c], NULL, session_main, &sessions[c]);
		if (rc != 0) {
			fprintf(stderr, "smtp-load: pthread_create: %s\n",
			    strerror(rc));
			return 1;
		}
	}
	for (c = 0; c < opt.conc; c++)
		pthread_join(threads[c], NULL);
	secs = (now_ms() - t0) / 1000.0;

	/* Messages nobody claimed (every session gave up) count as failed. */
	ok = atomic_load(&n_ok);
	fail = opt.nmsgs - ok;
	ok_lat = latency_ms;
	for (i = 0, n = 0; i < opt.nmsgs; i++)
		if (latency_ms[i] >= 0.0)
			ok_lat[n++] = latency_ms[i];
	qsort(ok_lat, (size_t)n, sizeof(*ok_lat), cmp_double);

	printf("msgs=%ld ok=%ld fail=%ld secs=%.3f rate=%.1f "
	    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	    "conc=%d size=%zu rcpts=%d pipelining=%d\n",
	    opt.nmsgs, ok, fail, secs, secs > 0 ? (double)ok / secs : 0.0,
	    percentile(ok_lat, n, 50), percentile(ok_lat, n, 90),
	    percentile(ok_lat, n, 99), n > 0 ? ok_lat[n - 1] : 0.0,
	    opt.conc, opt.size, opt.rcpt_per_msg, opt.pipelining);
	fflush(stdout);
	if (atomic_load(&n_errors) > MAX_ERRORS)
		fprintf(stderr, "smtp-load: %d more errors not shown\n",
		    atomic_load(&n_errors) - MAX_ERRORS);

	for (c = 0; c < opt.conc; c++)
		free(sessions[c].out);
	free(sessions);
	free(threads);
	free(latency_ms);
	freeaddrinfo(server_ai);
	return fail == 0 ? 0 : 1;
}
