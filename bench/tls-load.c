/*
 * tls-load - TLS 1.3 handshake and POP3 / IMAP login load generator.
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
 *	imaps-handshake	connect, TLS 1.3 handshake, read the "* OK" greeting,
 *			close
 *	pop3s-auth	pop3s-handshake, then AUTH PLAIN with an initial
 *			response (RFC 5034), +OK, QUIT, +OK, close
 *	imaps-auth	imaps-handshake, then "a AUTHENTICATE PLAIN <base64>"
 *			with the initial response (SASL-IR, RFC 4959), the
 *			tagged OK, "b LOGOUT", its tagged OK, close
 *
 * In the auth modes thread i logs in as user i modulo the -u list, so with
 * at least C users no two sessions want the same mailbox.
 *
 * Every handshake is a full one: sessions and tickets the server sends are
 * counted but never offered back, and a resumed or non-1.3 session counts as
 * a failure. Latency is from connect() to the greeting (handshake modes) or
 * to the +OK or tagged OK after AUTH / AUTHENTICATE (auth modes, which
 * also report auth_p50_ms and auth_p99_ms: the command sent to its OK).
 * Each thread uses one blocking socket at a time bounded by SO_RCVTIMEO and
 * SO_SNDTIMEO. Exit 0 only when all N succeeded, 1 otherwise, 2 on bad
 * usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include "loadlib.h"

#define MAX_CONC	1000
#define LINE_MAX_LEN	1024	/* kept text of the last line read */
#define RBUF_SIZE	4096
#define CONNECT_TRIES	3	/* consecutive failures before a thread stops */
#define CRED_MAX	256
#define MAX_USERS	1000
#define B64_MAX		(((2 * CRED_MAX + 2) + 2) / 3 * 4 + 1)

enum mode {
	MODE_SMTPS,
	MODE_POP3S,
	MODE_POP3S_AUTH,
	MODE_IMAPS,
	MODE_IMAPS_AUTH
};

static const char *const mode_names[] = {
	"smtps-handshake", "pop3s-handshake", "pop3s-auth", "imaps-handshake",
	"imaps-auth"
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
	struct lb_conn	 lc;
	int		 id;
	SSL		*ssl;
	char		 line[LINE_MAX_LEN];
	char		 err[LINE_MAX_LEN + 64];	/* what failed, then c->line */
	struct lb_lat	 lat;		/* per connection that succeeded */
	struct lb_lat	 auth_lat;	/* AUTH to its OK; auth modes only */
};

static struct opts	 opt;
static struct lb_addr	 server;
static struct lb_work	 work;
static SSL_CTX		*ctx;
static char		*auth_cmds[MAX_USERS];	/* per user */
static atomic_long	 n_ok;
static atomic_long	 n_tickets;
static pthread_mutex_t	 info_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 info_proto[32] = "none";
static char		 info_cipher[64] = "none";
static char		 info_group[32] = "none";

static int
auth_mode(void)
{
	return opt.mode == MODE_POP3S_AUTH || opt.mode == MODE_IMAPS_AUTH;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: tls-load -m smtps-handshake|pop3s-handshake|pop3s-auth|\n"
	    "                   imaps-handshake|imaps-auth\n"
	    "                [-h host] -p port [-n total] [-c concurrency]\n"
	    "                [-t timeout_s] [-u user[,user...] -w password]\n");
	exit(2);
}

/* The first OpenSSL error of this thread, or the errno text, into err. */
static void
tls_error(SSL *ssl, char *err, size_t errlen, const char *what, int ret)
{
	unsigned long e;
	char text[256];
	int saved = errno, sslerr;

	sslerr = ssl != NULL ? SSL_get_error(ssl, ret) : SSL_ERROR_NONE;
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
	snprintf(err, errlen, "%s: %s", what, text);
}

/* The lb_conn transport: SSL_read and SSL_write on c->tls. */
static long
tls_rd(struct lb_conn *lc, char *buf, size_t len)
{
	int r;

	errno = 0;
	r = SSL_read(lc->tls, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r <= 0) {
		tls_error(lc->tls, lc->err, sizeof(lc->err), "read", r);
		return -1;
	}
	return r;
}

static long
tls_wr(struct lb_conn *lc, const char *buf, size_t len)
{
	int r;

	errno = 0;
	r = SSL_write(lc->tls, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r <= 0) {
		tls_error(lc->tls, lc->err, sizeof(lc->err), "write", r);
		return -1;
	}
	return r;
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
	lb_conn_close(&c->lc);
	ERR_clear_error();
}

/* One line without CRLF into c->line; -1 with c->err set on failure. */
static int
conn_read_line(struct conn *c)
{
	if (lb_read_line(&c->lc, c->line, sizeof(c->line)) == -1) {
		snprintf(c->err, sizeof(c->err), "%s", c->lc.err);
		return -1;
	}
	return 0;
}

static int
conn_write(struct conn *c, const char *s)
{
	if (lb_write_str(&c->lc, s) == -1) {
		snprintf(c->err, sizeof(c->err), "%s", c->lc.err);
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

/* The IMAP greeting: "* OK ...". */
static int
read_imap_greeting(struct conn *c)
{
	if (conn_read_line(c) == -1)
		return -1;
	if (strncasecmp(c->line, "* OK", 4) != 0 ||
	    (c->line[4] != ' ' && c->line[4] != '\0')) {
		snprintf(c->err, sizeof(c->err), "greeting: %s", c->line);
		return -1;
	}
	return 0;
}

/*
 * Untagged responses up to the one tagged tag, which must be OK. None of
 * the responses expected here (CAPABILITY, BYE) carries a literal.
 */
static int
read_imap_tagged_ok(struct conn *c, const char *tag, const char *what)
{
	size_t tlen = strlen(tag);

	for (;;) {
		if (conn_read_line(c) == -1)
			return -1;
		if (c->line[0] == '*')
			continue;
		if (strncmp(c->line, tag, tlen) == 0 && c->line[tlen] == ' ' &&
		    strncasecmp(c->line + tlen + 1, "OK", 2) == 0 &&
		    (c->line[tlen + 3] == ' ' || c->line[tlen + 3] == '\0'))
			return 0;
		snprintf(c->err, sizeof(c->err), "%s: %s", what, c->line);
		return -1;
	}
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

/* The greeting of the mode's protocol. */
static int
read_greeting(struct conn *c)
{
	switch (opt.mode) {
	case MODE_SMTPS:
		return read_smtp_greeting(c);
	case MODE_IMAPS:
	case MODE_IMAPS_AUTH:
		return read_imap_greeting(c);
	default:
		return read_pop3_ok(c, "greeting");
	}
}

/* The login of the auth modes; *alat is its latency alone. */
static int
login(struct conn *c, double *alat)
{
	const char *cmd = auth_cmds[c->id % opt.nusers];
	double t1 = lb_now_ms();

	if (opt.mode == MODE_POP3S_AUTH) {
		if (conn_write(c, cmd) == -1 ||
		    read_pop3_ok(c, "AUTH PLAIN") == -1)
			return -1;
		*alat = lb_now_ms() - t1;
		return 0;
	}
	if (conn_write(c, cmd) == -1 ||
	    read_imap_tagged_ok(c, "a", "AUTHENTICATE PLAIN") == -1)
		return -1;
	*alat = lb_now_ms() - t1;
	return 0;
}

static int
logout(struct conn *c)
{
	if (opt.mode == MODE_POP3S_AUTH)
		return conn_write(c, "QUIT\r\n") == -1 ||
		    read_pop3_ok(c, "QUIT") == -1 ? -1 : 0;
	return conn_write(c, "b LOGOUT\r\n") == -1 ||
	    read_imap_tagged_ok(c, "b", "LOGOUT") == -1 ? -1 : 0;
}

/* One connection; 0 and the latencies, or -1 with c->err set. */
static int
run_one(struct conn *c, double *lat, double *alat)
{
	double t0;
	int r;

	t0 = lb_now_ms();
	if (lb_conn_open(&c->lc, &server, opt.timeout) == -1) {
		snprintf(c->err, sizeof(c->err), "%s", c->lc.err);
		goto fail;
	}
	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->lc.fd) != 1) {
		tls_error(c->ssl, c->err, sizeof(c->err), "SSL_new", 0);
		goto fail;
	}
	errno = 0;
	if ((r = SSL_connect(c->ssl)) != 1) {
		tls_error(c->ssl, c->err, sizeof(c->err), "handshake", r);
		goto fail;
	}
	if (SSL_version(c->ssl) != TLS1_3_VERSION || SSL_session_reused(c->ssl)) {
		snprintf(c->err, sizeof(c->err), "not a full TLS 1.3 handshake");
		goto fail;
	}
	note_session(c->ssl);
	c->lc.tls = c->ssl;
	c->lc.rd = tls_rd;
	c->lc.wr = tls_wr;
	if (read_greeting(c) == -1)
		goto fail;
	if (auth_mode()) {
		if (login(c, alat) == -1)
			goto fail;
		*lat = lb_now_ms() - t0;
		if (logout(c) == -1)
			goto fail;
	} else
		*lat = lb_now_ms() - t0;
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

	while ((seq = lb_work_next(&work)) != -1) {
		lat = alat = -1.0;
		if (run_one(c, &lat, &alat) == -1) {
			lb_error("connection %ld: %s", seq, c->err);
			if (++fails >= CONNECT_TRIES)
				break;
			continue;
		}
		fails = 0;
		lb_lat_add(&c->lat, lat);
		if (auth_mode())
			lb_lat_add(&c->auth_lat, alat);
		atomic_fetch_add(&n_ok, 1);
	}
	return NULL;
}

/* The login command for user, as the client sends it. */
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
	cmd = lb_xcalloc(1, sizeof(b64) + 32);
	snprintf(cmd, sizeof(b64) + 32, "%s %s\r\n",
	    opt.mode == MODE_POP3S_AUTH ? "AUTH PLAIN" : "a AUTHENTICATE PLAIN",
	    b64);
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
			opt.total = lb_parse_long(optarg, 1, 100000000,
			    "connections");
			break;
		case 'c':
			opt.conc = (int)lb_parse_long(optarg, 1, MAX_CONC,
			    "concurrency");
			break;
		case 't':
			opt.timeout = (int)lb_parse_long(optarg, 1, 3600,
			    "timeout");
			break;
		case 'u':
			lb_split_list(optarg, opt.users, MAX_USERS,
			    &opt.nusers, "users");
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
	if (auth_mode()) {
		if (opt.nusers == 0 || opt.password == NULL)
			usage();
		for (c = 0; c < opt.nusers; c++)
			auth_cmds[c] = make_auth_cmd(opt.users[c]);
	}
	if (opt.conc > opt.total)
		opt.conc = (int)opt.total;
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
	struct lb_lat lat = { 0 }, auth_lat = { 0 };
	double t0, secs;
	long ok;
	int c;

	lb_init("tls-load");
	parse_args(argc, argv);
	lb_resolve_or_exit(opt.host, opt.port, &server);
	lb_work_init(&work, opt.total);
	setup_tls();

	conns = lb_xcalloc((size_t)opt.conc, sizeof(*conns));
	for (c = 0; c < opt.conc; c++) {
		lb_conn_init(&conns[c].lc, RBUF_SIZE);
		conns[c].id = c;
	}

	t0 = lb_now_ms();
	lb_threads_run(opt.conc, thread_main, conns, sizeof(*conns));
	secs = (lb_now_ms() - t0) / 1000.0;

	/* Connections nobody made (every thread gave up) count as failed. */
	ok = atomic_load(&n_ok);
	for (c = 0; c < opt.conc; c++) {
		lb_lat_merge(&lat, &conns[c].lat);
		lb_lat_merge(&auth_lat, &conns[c].auth_lat);
	}
	lb_lat_sort(&lat);
	lb_lat_sort(&auth_lat);

	printf("mode=%s n=%ld ok=%ld fail=%ld secs=%.3f rate=%.1f "
	    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f conc=%d "
	    "proto=%s cipher=%s group=%s tickets=%.2f",
	    mode_names[opt.mode], opt.total, ok, opt.total - ok, secs,
	    secs > 0 ? (double)ok / secs : 0.0,
	    lb_lat_pct(&lat, 50), lb_lat_pct(&lat, 90), lb_lat_pct(&lat, 99),
	    lb_lat_max(&lat), opt.conc, info_proto, info_cipher, info_group,
	    ok > 0 ? (double)atomic_load(&n_tickets) / (double)ok : 0.0);
	if (auth_mode())
		printf(" auth_p50_ms=%.2f auth_p99_ms=%.2f",
		    lb_lat_pct(&auth_lat, 50), lb_lat_pct(&auth_lat, 99));
	putchar('\n');
	fflush(stdout);
	lb_error_summary();

	for (c = 0; c < opt.conc; c++) {
		lb_lat_free(&conns[c].lat);
		lb_lat_free(&conns[c].auth_lat);
		lb_conn_free(&conns[c].lc);
	}
	free(conns);
	lb_lat_free(&lat);
	lb_lat_free(&auth_lat);
	for (c = 0; c < opt.nusers; c++)
		free(auth_cmds[c]);
	SSL_CTX_free(ctx);
	return ok == opt.total ? 0 : 1;
}
