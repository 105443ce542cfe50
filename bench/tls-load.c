/*
 * tls-load - TLS 1.3 handshake and POP3 login load generator.
 *
 * Opens N connections in total, C at a time, to an implicit-TLS server on
 * the loopback interface and prints one machine-readable summary line:
 *
 *	mode=.. n=N ok=.. fail=.. secs=.. rate=.. p50_ms=.. p90_ms=.. p99_ms=..
 *	max_ms=.. conc=C proto=.. cipher=.. group=.. tickets=..
 *
 * Modes, one connection each:
 *
 *	smtps-handshake	connect, TLS 1.3 handshake, read the 220 greeting, close
 *	pop3s-handshake	connect, TLS 1.3 handshake, read the +OK greeting, close
 *	pop3s-auth	the same, then AUTH PLAIN with an initial response
 *			(RFC 5034), +OK, QUIT, +OK, close; thread i logs in
 *			as user i modulo the -u list, so with at least C
 *			users no two sessions want the same mailbox
 *
 * Every handshake is a full one: sessions and tickets the server sends are
 * counted but never offered back, and a resumed or non-1.3 session counts as
 * a failure. Latency is from connect() to the greeting (handshake modes) or
 * to the +OK after AUTH (auth mode, which also reports auth_p50_ms and
 * auth_p99_ms: AUTH sent to +OK). Each thread uses one blocking socket at a
 * time bounded by SO_RCVTIMEO and SO_SNDTIMEO. Exit 0 only when all N
 * succeeded, 1 otherwise, 2 on bad usage.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#define MAX_CONC	1000
#define MAX_ERRORS	10	/* error lines printed to stderr */
#define LINE_MAX_LEN	1024	/* kept text of the last line read */
#define CONNECT_TRIES	3	/* consecutive failures before a thread stops */
#define CRED_MAX	256
#define MAX_USERS	1000
#define B64_MAX		(((2 * CRED_MAX + 2) + 2) / 3 * 4 + 1)

enum mode {
	MODE_SMTPS,
	MODE_POP3S,
	MODE_POP3S_AUTH
};

static const char *const mode_names[] = {
	"smtps-handshake", "pop3s-handshake", "pop3s-auth"
};

struct opts {
	const char	*host;
	const char	*port;
	enum mode	 mode;
	long		 total;
	int		 conc;
	int		 timeout;
	char		*users[MAX_USERS];
	int		 nusers;
	const char	*password;
};

struct conn {
	int	 fd;
	int	 id;
	SSL	*ssl;
	char	 buf[4096];
	size_t	 len;
	size_t	 off;
	char	 line[LINE_MAX_LEN];
	char	 err[LINE_MAX_LEN + 64];	/* what failed, then c->line */
};

static struct opts	 opt;
static struct addrinfo	*server_ai;
static SSL_CTX		*ctx;
static char		*auth_cmds[MAX_USERS];	/* per user */
static atomic_long	 next_seq;
static atomic_long	 n_ok;
static atomic_long	 n_tickets;
static atomic_int	 n_errors;
static double		*latency_ms;	/* per connection; < 0 if it failed */
static double		*auth_ms;	/* AUTH to +OK; auth mode only */
static pthread_mutex_t	 info_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 info_proto[32] = "none";
static char		 info_cipher[64] = "none";
static char		 info_group[32] = "none";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: tls-load -m smtps-handshake|pop3s-handshake|pop3s-auth\n"
	    "                [-h host] -p port [-n total] [-c concurrency]\n"
	    "                [-t timeout_s] [-u user[,user...] -w password]\n");
	exit(2);
}

static void __attribute__((format(printf, 1, 2)))
report_error(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&n_errors, 1) >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	fputs("tls-load: ", stderr);
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
		fprintf(stderr, "tls-load: bad %s '%s' (%ld..%ld)\n", what, s,
		    min, max);
		exit(2);
	}
	return v;
}

/* Only loopback: this tool must never load someone else's server. */
static int
loopback_addr(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) & 0xff000000U) ==
		    0x7f000000U;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127;
	default:
		return 0;
	}
}

/* The first OpenSSL error of this thread, or the errno text, into c->err. */
static void
conn_error(struct conn *c, const char *what, int ret)
{
	unsigned long e;
	char text[256];
	int saved = errno, sslerr;

	sslerr = c->ssl != NULL ? SSL_get_error(c->ssl, ret) : SSL_ERROR_NONE;
	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, text, sizeof(text));
		ERR_clear_error();
	} else if (sslerr == SSL_ERROR_ZERO_RETURN || (ret == 0 &&
	    (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_NONE)))
		snprintf(text, sizeof(text), "connection closed");
	else if (saved == EAGAIN || saved == EWOULDBLOCK)
		snprintf(text, sizeof(text), "timeout");
	else if (saved != 0)
		snprintf(text, sizeof(text), "%s", strerror(saved));
	else
		snprintf(text, sizeof(text), "SSL error %d", sslerr);
	snprintf(c->err, sizeof(c->err), "%s: %s", what, text);
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/* Send our close_notify; do not wait for the server's. */
		if (SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->len = c->off = 0;
	ERR_clear_error();
}

/* One line without CRLF into c->line; -1 with c->err set on failure. */
static int
conn_read_line(struct conn *c)
{
	size_t i, n;
	int r;

	for (;;) {
		for (i = c->off; i < c->len; i++) {
			if (c->buf[i] != '\n')
				continue;
			n = i - c->off;
			if (n > 0 && c->buf[i - 1] == '\r')
				n--;
			if (n >= sizeof(c->line))
				n = sizeof(c->line) - 1;
			memcpy(c->line, c->buf + c->off, n);
			c->line[n] = '\0';
			c->off = i + 1;
			return 0;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len == sizeof(c->buf)) {
			snprintf(c->err, sizeof(c->err), "line too long");
			return -1;
		}
		errno = 0;
		r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) -
		    c->len));
		if (r <= 0) {
			conn_error(c, "read", r);
			return -1;
		}
		c->len += (size_t)r;
	}
}

static int
conn_write(struct conn *c, const char *s)
{
	size_t len = strlen(s);
	int r;

	errno = 0;
	r = SSL_write(c->ssl, s, (int)len);
	if (r <= 0 || (size_t)r != len) {
		conn_error(c, "write", r);
		return -1;
	}
	return 0;
}

/* An SMTP greeting, possibly multi-line; must be 220. */
static int
read_smtp_greeting(struct conn *c)
{
	for (;;) {
		if (conn_read_line(c) == -1)
			return -1;
		if (strncmp(c->line, "220", 3) != 0 ||
		    (c->line[3] != ' ' && c->line[3] != '-' &&
		    c->line[3] != '\0')) {
			snprintf(c->err, sizeof(c->err), "greeting: %s",
			    c->line);
			return -1;
		}
		if (c->line[3] != '-')
			return 0;
	}
}

/* One POP3 status line; must be +OK. */
static int
read_pop3_ok(struct conn *c, const char *what)
{
	if (conn_read_line(c) == -1)
		return -1;
	if (strncmp(c->line, "+OK", 3) != 0 ||
	    (c->line[3] != ' ' && c->line[3] != '\0')) {
		snprintf(c->err, sizeof(c->err), "%s: %s", what, c->line);
		return -1;
	}
	return 0;
}

static void
note_session(SSL *ssl)
{
	const char *g;
	int nid;

	pthread_mutex_lock(&info_lock);
	if (strcmp(info_proto, "none") == 0) {
		snprintf(info_proto, sizeof(info_proto), "%s",
		    SSL_get_version(ssl));
		snprintf(info_cipher, sizeof(info_cipher), "%s",
		    SSL_get_cipher_name(ssl));
		nid = (int)SSL_get_negotiated_group(ssl);
		g = nid > 0 ? SSL_group_to_name(ssl, nid) : NULL;
		snprintf(info_group, sizeof(info_group), "%s",
		    g != NULL ? g : "unknown");
	}
	pthread_mutex_unlock(&info_lock);
}

/* TLS 1.3 session tickets the server sends: counted, never kept. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	(void)sess;
	atomic_fetch_add(&n_tickets, 1);
	return 0;
}

/* One connection; 0 and the latencies, or -1 with c->err set. */
static int
run_one(struct conn *c, double *lat, double *alat)
{
	struct timeval tv;
	double t0, t1;
	int one = 1, r;

	t0 = now_ms();
	c->fd = socket(server_ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
		return -1;
	}
	tv.tv_sec = opt.timeout;
	tv.tv_usec = 0;
	/* On Linux the send timeout also bounds connect(). */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1) {
		snprintf(c->err, sizeof(c->err), "setsockopt: %s",
		    strerror(errno));
		goto fail;
	}
	if (connect(c->fd, server_ai->ai_addr, server_ai->ai_addrlen) == -1) {
		snprintf(c->err, sizeof(c->err), "connect: %s",
		    errno == EINPROGRESS ? "timeout" : strerror(errno));
		goto fail;
	}
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_error(c, "SSL_new", 0);
		goto fail;
	}
	errno = 0;
	if ((r = SSL_connect(c->ssl)) != 1) {
		conn_error(c, "handshake", r);
		goto fail;
	}
	if (SSL_version(c->ssl) != TLS1_3_VERSION || SSL_session_reused(c->ssl)) {
		snprintf(c->err, sizeof(c->err), "not a full TLS 1.3 handshake");
		goto fail;
	}
	note_session(c->ssl);
	if (opt.mode == MODE_SMTPS) {
		if (read_smtp_greeting(c) == -1)
			goto fail;
	} else if (read_pop3_ok(c, "greeting") == -1)
		goto fail;
	if (opt.mode == MODE_POP3S_AUTH) {
		t1 = now_ms();
		if (conn_write(c, auth_cmds[c->id % opt.nusers]) == -1 ||
		    read_pop3_ok(c, "AUTH PLAIN") == -1)
			goto fail;
		*alat = now_ms() - t1;
		*lat = now_ms() - t0;
		if (conn_write(c, "QUIT\r\n") == -1 ||
		    read_pop3_ok(c, "QUIT") == -1)
			goto fail;
	} else
		*lat = now_ms() - t0;
	conn_close(c);
	return 0;
fail:
	conn_close(c);
	return -1;
}

static void *
thread_main(void *arg)
{
	struct conn *c = arg;
	double lat, alat;
	long seq;
	int fails = 0;

	while ((seq = atomic_fetch_add(&next_seq, 1)) < opt.total) {
		lat = alat = -1.0;
		if (run_one(c, &lat, &alat) == -1) {
			report_error("connection %ld: %s", seq, c->err);
			if (++fails >= CONNECT_TRIES)
				break;
			continue;
		}
		fails = 0;
		latency_ms[seq] = lat;
		if (auth_ms != NULL)
			auth_ms[seq] = alat;
		atomic_fetch_add(&n_ok, 1);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts the successful entries of v to its front; returns how many. */
static long
compact_sorted(double *v, long n)
{
	long i, k;

	for (i = 0, k = 0; i < n; i++)
		if (v[i] >= 0.0)
			v[k++] = v[i];
	qsort(v, (size_t)k, sizeof(*v), cmp_double);
	return k;
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, long n, double p)
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
parse_users(char *list)
{
	char *p, *save = NULL;

	for (p = strtok_r(list, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (*p == '\0')
			continue;
		if (opt.nusers == MAX_USERS) {
			fprintf(stderr, "tls-load: more than %d users\n",
			    MAX_USERS);
			exit(2);
		}
		opt.users[opt.nusers++] = p;
	}
}

/* "AUTH PLAIN <base64>" for user u, as the client sends it. */
static char *
make_auth_cmd(const char *user)
{
	unsigned char raw[2 * CRED_MAX + 2];
	unsigned char b64[B64_MAX];
	size_t ulen, plen;
	char *cmd;

	ulen = strlen(user);
	plen = strlen(opt.password);
	if (ulen >= CRED_MAX || plen >= CRED_MAX) {
		fprintf(stderr, "tls-load: user or password too long\n");
		exit(2);
	}
	/* RFC 4616: authzid (empty) NUL authcid NUL passwd */
	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, opt.password, plen);
	EVP_EncodeBlock(b64, raw, (int)(2 + ulen + plen));
	if ((cmd = malloc(sizeof(b64) + 16)) == NULL) {
		perror("tls-load: malloc");
		exit(1);
	}
	snprintf(cmd, sizeof(b64) + 16, "AUTH PLAIN %s\r\n", b64);
	return cmd;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL, 'H' },
		{ NULL,		0,		NULL, 0 }
	};
	const char *mode = NULL;
	size_t i;
	int ch, c;

	opt.host = "127.0.0.1";
	opt.total = 1000;
	opt.conc = 10;
	opt.timeout = 30;
	while ((ch = getopt_long(argc, argv, "h:p:m:n:c:t:u:w:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			opt.total = parse_long(optarg, 1, 100000000,
			    "connections");
			break;
		case 'c':
			opt.conc = (int)parse_long(optarg, 1, MAX_CONC,
			    "concurrency");
			break;
		case 't':
			opt.timeout = (int)parse_long(optarg, 1, 3600,
			    "timeout");
			break;
		case 'u':
			parse_users(optarg);
			break;
		case 'w':
			opt.password = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || mode == NULL || opt.port == NULL)
		usage();
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(mode, mode_names[i]) == 0)
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0]))
		usage();
	opt.mode = (enum mode)i;
	if (opt.mode == MODE_POP3S_AUTH) {
		if (opt.nusers == 0 || opt.password == NULL)
			usage();
		for (c = 0; c < opt.nusers; c++)
			auth_cmds[c] = make_auth_cmd(opt.users[c]);
	}
	if (opt.conc > opt.total)
		opt.conc = (int)opt.total;
}

static void
resolve_server(void)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(opt.host, opt.port, &hints, &server_ai)) != 0) {
		fprintf(stderr, "tls-load: %s:%s: %s\n", opt.host, opt.port,
		    gai_strerror(rc));
		exit(2);
	}
	if (!loopback_addr(server_ai->ai_addr)) {
		fprintf(stderr, "tls-load: %s is not a loopback address\n",
		    opt.host);
		exit(2);
	}
}

static void
setup_tls(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		fprintf(stderr, "tls-load: cannot set up an SSL_CTX\n");
		exit(1);
	}
	/*
	 * The servers use self-signed certificates on loopback: the chain is
	 * not verified (the client's signature check still happens).
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* See the tickets, keep none, so no handshake is ever resumed. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
}

int
main(int argc, char **argv)
{
	struct conn *conns;
	pthread_t *threads;
	double t0, secs;
	long ok, nlat, nauth = 0, i;
	int c, rc;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	resolve_server();
	setup_tls();

	latency_ms = calloc((size_t)opt.total, sizeof(*latency_ms));
	if (opt.mode == MODE_POP3S_AUTH)
		auth_ms = calloc((size_t)opt.total, sizeof(*auth_ms));
	conns = calloc((size_t)opt.conc, sizeof(*conns));
	threads = calloc((size_t)opt.conc, sizeof(*threads));
	if (latency_ms == NULL || conns == NULL || threads == NULL ||
	    (opt.mode == MODE_POP3S_AUTH && auth_ms == NULL)) {
		perror("tls-load: calloc");
		return 1;
	}
	for (i = 0; i < opt.total; i++) {
		latency_ms[i] = -1.0;
		if (auth_ms != NULL)
			auth_ms[i] = -1.0;
	}

	t0 = now_ms();
	for (c = 0; c < opt.conc; c++) {
		conns[c].fd = -1;
		conns[c].id = c;
		if ((rc = pthread_create(&threads[c], NULL, thread_main,
		    &conns[c])) != 0) {
			fprintf(stderr, "tls-load: pthread_create: %s\n",
			    strerror(rc));
			return 1;
		}
	}
	for (c = 0; c < opt.conc; c++)
		pthread_join(threads[c], NULL);
	secs = (now_ms() - t0) / 1000.0;

	/* Connections nobody made (every thread gave up) count as failed. */
	ok = atomic_load(&n_ok);
	nlat = compact_sorted(latency_ms, opt.total);
	if (auth_ms != NULL)
		nauth = compact_sorted(auth_ms, opt.total);

	printf("mode=%s n=%ld ok=%ld fail=%ld secs=%.3f rate=%.1f "
	    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f conc=%d "
	    "proto=%s cipher=%s group=%s tickets=%.2f",
	    mode_names[opt.mode], opt.total, ok, opt.total - ok, secs,
	    secs > 0 ? (double)ok / secs : 0.0,
	    pct(latency_ms, nlat, 50), pct(latency_ms, nlat, 90),
	    pct(latency_ms, nlat, 99), nlat > 0 ? latency_ms[nlat - 1] : 0.0,
	    opt.conc, info_proto, info_cipher, info_group,
	    ok > 0 ? (double)atomic_load(&n_tickets) / (double)ok : 0.0);
	if (auth_ms != NULL)
		printf(" auth_p50_ms=%.2f auth_p99_ms=%.2f",
		    pct(auth_ms, nauth, 50), pct(auth_ms, nauth, 99));
	putchar('\n');
	fflush(stdout);
	if (atomic_load(&n_errors) > MAX_ERRORS)
		fprintf(stderr, "tls-load: %d more errors not shown\n",
		    atomic_load(&n_errors) - MAX_ERRORS);

	free(conns);
	free(threads);
	free(latency_ms);
	free(auth_ms);
	for (c = 0; c < opt.nusers; c++)
		free(auth_cmds[c]);
	SSL_CTX_free(ctx);
	freeaddrinfo(server_ai);
	return ok == opt.total ? 0 : 1;
}
