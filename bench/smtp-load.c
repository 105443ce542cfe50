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
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "loadlib.h"

#define MAX_CONC	1000
#define MAX_RCPTS	1000
#define REPLY_MAX	512	/* kept text of the last reply line */
#define RBUF_SIZE	16384	/* read buffer per session */
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
static struct lb_addr	 server;
static struct lb_work	 work;
static atomic_long	 n_ok;
static time_t		 start_wall;

struct session {
	struct lb_conn	 conn;
	int		 id;
	int		 pipelining;		/* server offered it and -P asked for it */
	char		 reply[REPLY_MAX];	/* last reply line, or what failed */
	char		*out;			/* commands or message on the wire */
	size_t		 outlen;
	size_t		 outcap;
	struct lb_lat	 lat;			/* per message that succeeded */
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

/* Output buffer: grows as needed; a failed allocation ends the program. */
static void
out_reserve(struct session *s, size_t more)
{
	size_t cap;

	if (s->outlen + more <= s->outcap)
		return;
	cap = s->outcap == 0 ? 8192 : s->outcap;
	while (cap < s->outlen + more)
		cap *= 2;
	s->out = lb_xrealloc(s->out, cap);
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
	if (n < 0)
		lb_die("vsnprintf failed");
	out_reserve(s, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s->out + s->outlen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->outlen += (size_t)n;
}

static void
session_close(struct session *s)
{
	lb_conn_close(&s->conn);
}

static int
send_out(struct session *s)
{
	size_t len = s->outlen;

	s->outlen = 0;
	if (lb_write(&s->conn, s->out, len) == -1) {
		snprintf(s->reply, sizeof(s->reply), "%s", s->conn.err);
		return -1;
	}
	return 0;
}

/* One line without its CRLF into s->reply; -1 on I/O error or timeout. */
static int
read_line(struct session *s)
{
	if (lb_read_line(&s->conn, s->reply, sizeof(s->reply)) == -1) {
		snprintf(s->reply, sizeof(s->reply), "%s", s->conn.err);
		return -1;
	}
	return 0;
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
	int offered = 0, code;

	if (lb_conn_open(&s->conn, &server, opt.timeout) == -1) {
		snprintf(s->reply, sizeof(s->reply), "%s", s->conn.err);
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
	if (s->conn.fd == -1)
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

	t0 = lb_now_ms();
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
				lb_error("message %ld: RCPT <%s>: %s", seq,
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
			lb_error("message %ld: MAIL: %s", seq, s->reply);
		for (r = 0; r < opt.rcpt_per_msg; r++) {
			if ((code = read_reply(s, NULL)) == -1)
				goto io_fail;
			if (code / 100 == 2)
				accepted++;
			else if (mail_ok)
				lb_error("message %ld: RCPT <%s>: %s", seq,
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
			lb_error("message %ld: 354 without recipients", seq);
			return -1;
		}
	}
	add_message(s, seq);
	if (send_out(s) == -1 || (code = read_reply(s, NULL)) == -1)
		goto io_fail;
	if (code / 100 != 2) {
		lb_error("message %ld: after data: %s", seq, s->reply);
		return -1;
	}
	*ms = lb_now_ms() - t0;
	return 0;
refused:
	lb_error("message %ld: %s", seq, s->reply);
refused_quiet:
	session_reset(s);
	return -1;
io_fail:
	s->outlen = 0;
	lb_error("message %ld: session %d: %s", seq, s->id, s->reply);
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

	while ((seq = lb_work_next(&work)) != -1) {
		if (s->conn.fd == -1 && session_open(s) == -1) {
			lb_error("message %ld: session %d: %s", seq, s->id,
			    s->reply);
			if (++connect_fails >= CONNECT_TRIES)
				break;
			continue;
		}
		connect_fails = 0;
		if (send_one(s, seq, &ms) == 0) {
			lb_lat_add(&s->lat, ms);
			atomic_fetch_add(&n_ok, 1);
		}
	}
	session_quit(s);
	return NULL;
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
			opt.nmsgs = lb_parse_long(optarg, 1, 100000000,
			    "messages");
			break;
		case 'c':
			opt.conc = (int)lb_parse_long(optarg, 1, MAX_CONC,
			    "concurrency");
			break;
		case 's':
			opt.size = (size_t)lb_parse_long(optarg, 0, 1L << 30,
			    "size");
			break;
		case 'f':
			opt.from = optarg;
			break;
		case 'r':
			lb_split_list(optarg, opt.rcpts, MAX_RCPTS, &opt.nrcpts,
			    "recipients");
			break;
		case 'R':
			opt.rcpt_per_msg = (int)lb_parse_long(optarg, 1,
			    MAX_RCPTS, "recipients per message");
			break;
		case 't':
			opt.timeout = (int)lb_parse_long(optarg, 1, 3600,
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
	struct lb_lat lat = { 0 };
	double t0, secs;
	long ok, fail;
	int c;

	lb_init("smtp-load");
	parse_args(argc, argv);
	lb_resolve_or_exit(opt.host, opt.port, &server);
	lb_work_init(&work, opt.nmsgs);
	start_wall = time(NULL);

	sessions = lb_xcalloc((size_t)opt.conc, sizeof(*sessions));
	for (c = 0; c < opt.conc; c++) {
		lb_conn_init(&sessions[c].conn, RBUF_SIZE);
		sessions[c].id = c;
	}

	t0 = lb_now_ms();
	lb_threads_run(opt.conc, session_main, sessions, sizeof(*sessions));
	secs = (lb_now_ms() - t0) / 1000.0;

	/* Messages nobody claimed (every session gave up) count as failed. */
	ok = atomic_load(&n_ok);
	fail = opt.nmsgs - ok;
	for (c = 0; c < opt.conc; c++)
		lb_lat_merge(&lat, &sessions[c].lat);
	lb_lat_sort(&lat);

	printf("msgs=%ld ok=%ld fail=%ld secs=%.3f rate=%.1f "
	    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
	    "conc=%d size=%zu rcpts=%d pipelining=%d\n",
	    opt.nmsgs, ok, fail, secs, secs > 0 ? (double)ok / secs : 0.0,
	    lb_lat_pct(&lat, 50), lb_lat_pct(&lat, 90), lb_lat_pct(&lat, 99),
	    lb_lat_max(&lat), opt.conc, opt.size, opt.rcpt_per_msg,
	    opt.pipelining);
	fflush(stdout);
	lb_error_summary();

	for (c = 0; c < opt.conc; c++) {
		free(sessions[c].out);
		lb_lat_free(&sessions[c].lat);
		lb_conn_free(&sessions[c].conn);
	}
	free(sessions);
	lb_lat_free(&lat);
	return fail == 0 ? 0 : 1;
}
