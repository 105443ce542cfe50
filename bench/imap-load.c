/*
 * imap-load - IMAP load generator for the side-by-side benchmark.
 *
 * Load mode (the default): C clients, one thread and one connection each.
 * Every client logs in (LOGIN), selects INBOX, fetches the flags and
 * envelopes of the whole mailbox (FETCH 1:* (UID FLAGS ENVELOPE), as a
 * client does on its first sync), waits for the others, then for T seconds
 * sends a random mix of commands, one at a time, each waiting for its
 * tagged reply:
 *
 *	30%  UID STORE <uid> +FLAGS (\Flagged)  or  -FLAGS (\Flagged)
 *	20%  UID SEARCH FLAGGED | SUBJECT "<word>" | UNSEEN SINCE <date>
 *	30%  UID FETCH <uid> BODY.PEEK[]
 *	20%  FETCH <n>:<n+19> (FLAGS UID RFC822.SIZE)
 *
 * then LOGOUT. Prints one line:
 *
 *	mode=load clients=8 secs=10.00 cmds=.. rate=.. store=.. search=.. body=..
 *	range=.. p50_ms=.. p99_ms=.. max_ms=.. errors=0 msgs=.. setup_ms=..
 *	store_p50_ms=.. store_p99_ms=.. (and the same for search, body, range)
 *
 * Responses are parsed as IMAP: literals ({n} and {n+}) are read by their
 * octet count wherever they occur, FETCH responses are tokenized to find
 * UID, BODY[] and RFC822.SIZE, and the tagged status is checked. A NO or
 * BAD, a missing body, a short range or a lost connection is an error; the
 * first few are printed to stderr. Exit 1 when errors > 0.
 *
 * Idle mode (-I N): N connections LOGIN, SELECT INBOX and IDLE, each waiting
 * for the "+" continuation; then "ready N" is printed (and flushed) and the
 * connections are held for -H seconds (0: until SIGTERM or SIGINT); then
 * each sends DONE and LOGOUT. Prints "mode=idle conns=.. ready=.. setup_ms=..
 * held_s=.. errors=..".
 *
 * Users: -u NAME for every client, or -u 'user%d@dom' -U K: client i is
 * user (i mod K) + 1. Loopback addresses only. Exit 2 on bad usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "loadlib.h"

#define RBUF_SIZE	65536
#define MAX_CLIENTS	100000
#define SETUP_THREADS	8		/* idle mode: connections opened in parallel */

enum op { OP_STORE, OP_SEARCH, OP_BODY, OP_RANGE, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "store", "search", "body", "range" };

struct opts {
	const char	*host;
	const char	*port;
	const char	*user;
	const char	*pass;
	int		 users;		/* 0: everyone is -u */
	int		 clients;
	double		 duration;
	long		 max_cmds;
	unsigned long	 seed;
	int		 timeout;
	int		 idle;		/* idle mode: connections */
	double		 hold;
};

static struct opts	opt = {
	.host = "127.0.0.1", .clients = 8, .duration = 10, .max_cmds = 10000000,
	.seed = 1, .timeout = 60,
};

static struct lb_addr	 server;
static atomic_long	 n_cmds;	/* claimed in the timed phase */
static pthread_barrier_t setup_barrier, start_barrier;
static double		 t_start, t_end;

struct conn {
	struct lb_conn	 lc;
	int		 dead;
	int		 id;
	unsigned	 tagn;
	char		 tag[16];
	char		*resp;		/* one logical response, literals inline */
	size_t		 rlen, rcap;
	/* mailbox */
	uint32_t	 exists;
	uint32_t	*uids;
	size_t		 nuids, uidcap;
	/* stats */
	uint64_t	 rng;
	struct lb_lat	 lat[OP_COUNT];
	double		 setup_ms;
	char		 user[256];
};

/* ------------------------------------------------------------ utilities */

static void	usage(void) __attribute__((noreturn));

static void
report_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts an error; prints the first LB_MAX_ERRORS. */
static void
report_error(struct conn *c, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	lb_error("client %d (%s): %s", c->id, c->user, text);
}

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t
rnd(struct conn *c, uint32_t n)
{
	return (uint32_t)(splitmix(&c->rng) % n);
}

/* ------------------------------------------------------------ network */

static int
send_all(struct conn *c, const char *data, size_t len)
{
	if (lb_write(&c->lc, data, len) == -1) {
		report_error(c, "%s", c->lc.err);
		c->dead = 1;
		return -1;
	}
	return 0;
}

static void
resp_append(struct conn *c, const char *p, size_t n)
{
	if (c->rlen + n + 1 > c->rcap) {
		while (c->rlen + n + 1 > c->rcap)
			c->rcap = c->rcap ? c->rcap * 2 : 65536;
		c->resp = lb_xrealloc(c->resp, c->rcap);
	}
	memcpy(c->resp + c->rlen, p, n);
	c->rlen += n;
	c->resp[c->rlen] = '\0';
}

/* The literal octet count if the line (CRLF stripped) ends in {n} or {n+}; else -1. */
static long long
literal_at_end(const char *line, size_t len)
{
	size_t i;
	long long n = 0, mul = 1;

	if (len < 3 || line[len - 1] != '}')
		return -1;
	i = len - 1;
	if (line[i - 1] == '+')
		i--;
	if (i == 0 || line[i - 1] < '0' || line[i - 1] > '9')
		return -1;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		if (mul > 1000000000000LL)
			return -1;
		n += (line[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == 0 || line[i - 1] != '{')
		return -1;
	return n;
}

/* A failed read: reported, and the connection is not used again. */
static int
read_failed(struct conn *c)
{
	report_error(c, "%s", c->lc.err);
	c->dead = 1;
	return -1;
}

/*
 * One logical response into c->resp: a line, and when it ends with a
 * literal announcement, the literal's octets and the rest of the line, as
 * often as needed. CRLFs are kept. 0, or -1 on failure.
 */
static int
read_response(struct conn *c)
{
	const char *p;
	long n;

	c->rlen = 0;
	for (;;) {
		if ((n = lb_next_line(&c->lc, &p)) == -1)
			return read_failed(c);
		resp_append(c, p, (size_t)n);
		size_t body = (size_t)n - 1;
		const char *line = c->resp + c->rlen - (size_t)n;
		if (body > 0 && line[body - 1] == '\r')
			body--;
		long long lit = literal_at_end(line, body);
		if (lit < 0)
			return 0;
		while (lit > 0) {
			if ((n = lb_next_bytes(&c->lc, &p, lit > 65536 ? 65536 :
			    (size_t)lit)) == -1)
				return read_failed(c);
			resp_append(c, p, (size_t)n);
			lit -= n;
		}
	}
}

static int
sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
sendf(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		lb_die("command too long");
	return send_all(c, line, (size_t)n);
}

/* ------------------------------------------------------------ FETCH parsing */

struct fetch {
	uint32_t	 seq;
	uint32_t	 uid;
	int		 has_size;
	uint64_t	 size;
	int		 has_body;
	uint64_t	 body_len;
	int		 has_flags;
};

struct pcur {
	const char	*p, *e;
};

static void
skip_sp(struct pcur *pc)
{
	while (pc->p < pc->e && *pc->p == ' ')
		pc->p++;
}

/*
 * Skips one value: atom or number, quoted string, literal, NIL or a
 * parenthesized list. For a string or literal, *slen gets its length.
 * 0, or -1 on a syntax error.
 */
static int
skip_value(struct pcur *pc, uint64_t *slen, int depth)
{
	if (pc->p >= pc->e || depth > 64)
		return -1;
	if (*pc->p == '(') {
		pc->p++;
		for (;;) {
			skip_sp(pc);
			if (pc->p >= pc->e)
				return -1;
			if (*pc->p == ')') {
				pc->p++;
				return 0;
			}
			if (skip_value(pc, NULL, depth + 1) == -1)
				return -1;
		}
	}
	if (*pc->p == '"') {
		uint64_t n = 0;
		pc->p++;
		while (pc->p < pc->e && *pc->p != '"') {
			if (*pc->p == '\\')
				pc->p++;
			pc->p++;
			n++;
		}
		if (pc->p >= pc->e)
			return -1;
		pc->p++;
		if (slen != NULL)
			*slen = n;
		return 0;
	}
	if (*pc->p == '{') {
		char *end;
		unsigned long long n = strtoull(pc->p + 1, &end, 10);
		if (end >= pc->e)
			return -1;
		if (*end == '+')
			end++;
		if (end + 3 > pc->e || end[0] != '}' || end[1] != '\r' || end[2] != '\n')
			return -1;
		end += 3;
		if ((unsigned long long)(pc->e - end) < n)
			return -1;
		pc->p = end + n;
		if (slen != NULL)
			*slen = n;
		return 0;
	}
	/* atom, number or NIL (a bracketed section like BODY[...] in an atom too) */
	const char *s = pc->p;
	int bracket = 0;
	while (pc->p < pc->e) {
		char ch = *pc->p;
		if (ch == '[')
			bracket++;
		else if (ch == ']')
			bracket--;
		else if (bracket == 0 && (ch == ' ' || ch == ')' || ch == '(' || ch == '\r' ||
		    ch == '\n'))
			break;
		pc->p++;
	}
	return pc->p > s ? 0 : -1;
}

/* Parses "* n FETCH (...)"; 1 if it is one, 0 if not a FETCH, -1 on bad syntax. */
static int
parse_fetch(const char *resp, size_t len, struct fetch *f)
{
	struct pcur pc = { resp, resp + len };
	char *end;

	memset(f, 0, sizeof(*f));
	if (len < 2 || resp[0] != '*' || resp[1] != ' ')
		return 0;
	unsigned long seq = strtoul(resp + 2, &end, 10);
	if (end == resp + 2 || strncmp(end, " FETCH (", 8) != 0)
		return 0;
	f->seq = (uint32_t)seq;
	pc.p = end + 8;
	for (;;) {
		skip_sp(&pc);
		if (pc.p >= pc.e)
			return -1;
		if (*pc.p == ')')
			return 1;
		const char *name = pc.p;
		if (skip_value(&pc, NULL, 0) == -1)	/* the item name, with [section]<n> */
			return -1;
		size_t nlen = (size_t)(pc.p - name);
		skip_sp(&pc);
		const char *val = pc.p;
		uint64_t slen = 0;
		if (skip_value(&pc, &slen, 0) == -1)
			return -1;
		if (nlen == 3 && strncasecmp(name, "UID", 3) == 0)
			f->uid = (uint32_t)strtoul(val, NULL, 10);
		else if (nlen == 11 && strncasecmp(name, "RFC822.SIZE", 11) == 0) {
			f->has_size = 1;
			f->size = strtoull(val, NULL, 10);
		} else if (nlen == 5 && strncasecmp(name, "FLAGS", 5) == 0)
			f->has_flags = 1;
		else if (nlen >= 6 && strncasecmp(name, "BODY[]", 6) == 0) {
			if (strncmp(val, "NIL", 3) != 0) {
				f->has_body = 1;
				f->body_len = slen;
			}
		}
	}
}

/* ------------------------------------------------------------ commands */

/* Called for each untagged response of a command. */
typedef void (*untagged_fn)(struct conn *c, void *arg);

/*
 * Sends "TAG command" and reads up to the tagged reply. 0 on OK, 1 on NO or
 * BAD (an error is reported), -1 when the connection failed.
 */
static int
command(struct conn *c, untagged_fn fn, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
command(struct conn *c, untagged_fn fn, void *arg, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;
	size_t tlen;

	snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagn);
	tlen = strlen(c->tag);
	n = snprintf(line, sizeof(line), "%s ", c->tag);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((size_t)n + 2 >= sizeof(line))
		lb_die("command too long");
	memcpy(line + n, "\r\n", 2);
	if (send_all(c, line, (size_t)n + 2) == -1)
		return -1;
	for (;;) {
		if (read_response(c) == -1)
			return -1;
		if (strncmp(c->resp, c->tag, tlen) == 0 && c->resp[tlen] == ' ') {
			const char *st = c->resp + tlen + 1;
			if (strncasecmp(st, "OK", 2) == 0)
				return 0;
			line[n] = '\0';
			report_error(c, "%s -> %.*s", line, (int)strcspn(st, "\r\n"), st);
			return 1;
		}
		if (c->resp[0] == '*') {
			if (strncasecmp(c->resp, "* BYE", 5) == 0 &&
			    strncmp(line + tlen + 1, "LOGOUT", 6) != 0) {
				report_error(c, "%.*s", (int)strcspn(c->resp, "\r\n"), c->resp);
				c->dead = 1;
				return -1;
			}
			if (fn != NULL)
				fn(c, arg);
			continue;
		}
		line[n] = '\0';
		report_error(c, "%s -> unexpected %.*s", line, (int)strcspn(c->resp, "\r\n"),
		    c->resp);
		c->dead = 1;
		return -1;
	}
}

static void
on_select(struct conn *c, void *arg)
{
	char *end;
	unsigned long n = strtoul(c->resp + 2, &end, 10);

	(void)arg;
	if (end != c->resp + 2 && strncasecmp(end, " EXISTS", 7) == 0)
		c->exists = (uint32_t)n;
}

struct fetch_ctx {
	size_t	 fetches;	/* FETCH responses with what the command asked for */
	size_t	 bad;
	uint32_t want_uid;
	uint64_t body_len;
	int	 collect;	/* keep the UIDs (the initial FETCH 1:*) */
	int	 need;		/* 0: UID, 1: RFC822.SIZE, 2: BODY[] */
};

static void
on_fetch(struct conn *c, void *arg)
{
	struct fetch_ctx *fx = arg;
	struct fetch f;
	int r = parse_fetch(c->resp, c->rlen, &f);

	if (r == 0)
		return;
	if (r == -1) {
		if (fx->bad++ == 0)
			report_error(c, "unparsable FETCH response: %.80s", c->resp);
		return;
	}
	if (fx->collect && f.uid != 0) {
		if (c->nuids == c->uidcap) {
			c->uidcap = c->uidcap ? c->uidcap * 2 : 1024;
			c->uids = lb_xrealloc(c->uids, c->uidcap * sizeof(*c->uids));
		}
		c->uids[c->nuids++] = f.uid;
		fx->fetches++;
	} else if (fx->need == 1 && f.has_size && f.uid != 0)
		fx->fetches++;
	else if (fx->need == 2 && f.has_body && f.uid == fx->want_uid) {
		fx->fetches++;
		fx->body_len = f.body_len;
	}
}

static void
on_search(struct conn *c, void *arg)
{
	int *seen = arg;

	if (strncasecmp(c->resp, "* SEARCH", 8) == 0)
		(*seen)++;
}

static void
user_name(char *out, size_t outlen, int i)
{
	const char *pct_d;

	if (opt.users == 0) {
		snprintf(out, outlen, "%s", opt.user);
		return;
	}
	pct_d = strstr(opt.user, "%d");
	snprintf(out, outlen, "%.*s%d%s", (int)(pct_d - opt.user), opt.user, i % opt.users + 1,
	    pct_d + 2);
}

/* Connect, greeting, LOGIN, SELECT INBOX. 0 or -1. */
static int
open_session(struct conn *c)
{
	if (lb_conn_open(&c->lc, &server, opt.timeout) == -1) {
		report_error(c, "%s:%s: %s", opt.host, opt.port, c->lc.err);
		c->dead = 1;
		return -1;
	}
	if (read_response(c) == -1)
		return -1;
	if (strncasecmp(c->resp, "* OK", 4) != 0) {
		report_error(c, "greeting: %.*s", (int)strcspn(c->resp, "\r\n"), c->resp);
		c->dead = 1;
		return -1;
	}
	if (command(c, NULL, NULL, "LOGIN \"%s\" \"%s\"", c->user, opt.pass) != 0)
		return -1;
	if (command(c, on_select, NULL, "SELECT INBOX") != 0)
		return -1;
	return 0;
}

static void
close_session(struct conn *c)
{
	if (!c->dead)
		command(c, NULL, NULL, "LOGOUT");
	lb_conn_close(&c->lc);
}

/* ------------------------------------------------------------ load mode */

static const char *const words[] = { "invoice", "meeting", "budget", "holiday" };
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int
run_op(struct conn *c, enum op op)
{
	struct fetch_ctx fx = { 0 };
	uint32_t uid = c->uids[rnd(c, (uint32_t)c->nuids)];
	int r, seen = 0;

	switch (op) {
	case OP_STORE:
		return command(c, NULL, NULL, "UID STORE %u %cFLAGS (\\Flagged)", uid,
		    rnd(c, 2) ? '+' : '-');
	case OP_SEARCH:
		switch (rnd(c, 3)) {
		case 0:
			r = command(c, on_search, &seen, "UID SEARCH FLAGGED");
			break;
		case 1:
			r = command(c, on_search, &seen, "UID SEARCH SUBJECT \"%s\"",
			    words[rnd(c, sizeof(words) / sizeof(words[0]))]);
			break;
		default:
			r = command(c, on_search, &seen, "UID SEARCH UNSEEN SINCE %u-%s-2025",
			    1 + rnd(c, 28), months[rnd(c, 12)]);
			break;
		}
		if (r == 0 && seen != 1) {
			report_error(c, "UID SEARCH: %d SEARCH responses", seen);
			return 1;
		}
		return r;
	case OP_BODY:
		fx.need = 2;
		fx.want_uid = uid;
		r = command(c, on_fetch, &fx, "UID FETCH %u BODY.PEEK[]", uid);
		if (r == 0 && (fx.fetches != 1 || fx.body_len == 0)) {
			report_error(c, "UID FETCH %u BODY.PEEK[]: %zu bodies, %llu octets", uid,
			    fx.fetches, (unsigned long long)fx.body_len);
			return 1;
		}
		return r;
	default: {
		uint32_t n = c->exists < 20 ? c->exists : 20;
		uint32_t first = 1 + rnd(c, c->exists - n + 1);
		fx.need = 1;
		r = command(c, on_fetch, &fx, "FETCH %u:%u (FLAGS UID RFC822.SIZE)", first,
		    first + n - 1);
		if (r == 0 && fx.fetches != n) {
			report_error(c, "FETCH %u:%u: %zu responses", first, first + n - 1,
			    fx.fetches);
			return 1;
		}
		return r;
	}
	}
}

static void *
load_client(void *arg)
{
	struct conn *c = arg;
	struct fetch_ctx fx = { .collect = 1 };
	double t0 = lb_now_ms();
	int ok = 0;

	if (open_session(c) == 0) {
		if (c->exists == 0)
			report_error(c, "INBOX is empty");
		else if (command(c, on_fetch, &fx, "FETCH 1:* (UID FLAGS ENVELOPE)") == 0) {
			if (c->nuids != c->exists)
				report_error(c, "FETCH 1:* gave %zu UIDs, EXISTS %u", c->nuids,
				    c->exists);
			else
				ok = 1;
		}
	}
	c->setup_ms = lb_now_ms() - t0;
	pthread_barrier_wait(&setup_barrier);	/* everyone synced */
	pthread_barrier_wait(&start_barrier);	/* t_end is set */
	while (ok && !c->dead) {
		double t = lb_now_ms();
		if (t >= t_end || atomic_fetch_add(&n_cmds, 1) >= opt.max_cmds)
			break;
		uint32_t x = rnd(c, 100);
		enum op op = x < 30 ? OP_STORE : x < 50 ? OP_SEARCH : x < 80 ? OP_BODY : OP_RANGE;
		int r = run_op(c, op);
		if (r == -1)
			break;
		if (r == 0)
			lb_lat_add(&c->lat[op], lb_now_ms() - t);
	}
	if (c->lc.fd != -1)
		close_session(c);
	return NULL;
}

/* A new client i (in cs, not yet connected). */
static void
client_init(struct conn *c, int i)
{
	memset(c, 0, sizeof(*c));
	lb_conn_init(&c->lc, RBUF_SIZE);
	c->id = i;
	user_name(c->user, sizeof(c->user), i);
}

static void
client_free(struct conn *c)
{
	for (int o = 0; o < OP_COUNT; o++)
		lb_lat_free(&c->lat[o]);
	lb_conn_free(&c->lc);
	free(c->uids);
	free(c->resp);
}

static int
run_load(void)
{
	struct conn *cs = lb_xcalloc((size_t)opt.clients, sizeof(*cs));
	struct lb_threads *th;
	uint64_t seed = opt.seed;
	double t_done, setup_max = 0;
	struct lb_lat all = { 0 }, per[OP_COUNT];
	size_t counts[OP_COUNT] = { 0 };

	memset(per, 0, sizeof(per));
	if (pthread_barrier_init(&setup_barrier, NULL, (unsigned)opt.clients + 1) != 0 ||
	    pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.clients + 1) != 0)
		lb_die("pthread_barrier_init failed");
	for (int i = 0; i < opt.clients; i++) {
		client_init(&cs[i], i);
		cs[i].rng = splitmix(&seed) ^ (uint64_t)i;
	}
	th = lb_threads_start(opt.clients, load_client, cs, sizeof(*cs));
	/* Everyone is logged in and synced; the clock starts now. */
	pthread_barrier_wait(&setup_barrier);
	t_start = lb_now_ms();
	t_end = t_start + opt.duration * 1000.0;
	pthread_barrier_wait(&start_barrier);
	lb_threads_join(th);
	t_done = lb_now_ms();
	for (int i = 0; i < opt.clients; i++) {
		struct conn *c = &cs[i];
		if (c->setup_ms > setup_max)
			setup_max = c->setup_ms;
		for (int o = 0; o < OP_COUNT; o++) {
			lb_lat_merge(&all, &c->lat[o]);
			lb_lat_merge(&per[o], &c->lat[o]);
			counts[o] += c->lat[o].n;
		}
	}
	double secs = (t_done - t_start) / 1000.0;
	lb_lat_sort(&all);
	printf("mode=load clients=%d users=%d secs=%.2f cmds=%zu rate=%.1f", opt.clients,
	    opt.users ? opt.users : 1, secs, all.n, secs > 0 ? (double)all.n / secs : 0.0);
	for (int o = 0; o < OP_COUNT; o++)
		printf(" %s=%zu", op_names[o], counts[o]);
	printf(" p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d msgs=%u setup_ms=%.1f",
	    lb_lat_pct(&all, 50), lb_lat_pct(&all, 99), lb_lat_max(&all),
	    lb_error_count(), cs[0].exists, setup_max);
	for (int o = 0; o < OP_COUNT; o++) {
		lb_lat_sort(&per[o]);
		printf(" %s_p50_ms=%.3f %s_p99_ms=%.3f", op_names[o], lb_lat_pct(&per[o], 50),
		    op_names[o], lb_lat_pct(&per[o], 99));
		lb_lat_free(&per[o]);
	}
	printf("\n");
	fflush(stdout);
	int failed = lb_error_count() > 0 || all.n == 0;
	for (int i = 0; i < opt.clients; i++)
		client_free(&cs[i]);
	lb_lat_free(&all);
	free(cs);
	pthread_barrier_destroy(&setup_barrier);
	pthread_barrier_destroy(&start_barrier);
	return failed;
}

/* ------------------------------------------------------------ idle mode */

struct idle_slice {
	struct conn	 *cs;
	int		  from, step, n;
	int		  phase;	/* 0: set up, 1: tear down */
	atomic_int	 *ready;
};

static void *
idle_worker(void *arg)
{
	struct idle_slice *s = arg;

	for (int i = s->from; i < s->n; i += s->step) {
		struct conn *c = &s->cs[i];
		if (s->phase == 0) {
			if (open_session(c) == -1)
				continue;
			snprintf(c->tag, sizeof(c->tag), "a%u", ++c->tagn);
			if (sendf(c, "%s IDLE\r\n", c->tag) == -1)
				continue;
			for (;;) {
				if (read_response(c) == -1)
					break;
				if (c->resp[0] == '+') {
					atomic_fetch_add(s->ready, 1);
					break;
				}
				if (c->resp[0] != '*') {
					report_error(c, "IDLE -> %.*s",
					    (int)strcspn(c->resp, "\r\n"), c->resp);
					c->dead = 1;
					break;
				}
			}
		} else {
			if (c->dead || c->lc.fd == -1)
				continue;
			size_t tlen = strlen(c->tag);
			if (sendf(c, "DONE\r\n") == -1)
				continue;
			for (;;) {
				if (read_response(c) == -1)
					break;
				if (strncmp(c->resp, c->tag, tlen) == 0 && c->resp[tlen] == ' ') {
					if (strncasecmp(c->resp + tlen + 1, "OK", 2) != 0) {
						report_error(c, "DONE -> %.*s",
						    (int)strcspn(c->resp, "\r\n"), c->resp);
						c->dead = 1;
					}
					break;
				}
			}
			close_session(c);
		}
	}
	return NULL;
}

static void
idle_phase(struct conn *cs, int n, int phase, atomic_int *ready)
{
	int nth = n < SETUP_THREADS ? n : SETUP_THREADS;
	struct idle_slice sl[SETUP_THREADS];

	for (int t = 0; t < nth; t++)
		sl[t] = (struct idle_slice){ cs, t, nth, n, phase, ready };
	lb_threads_run(nth, idle_worker, sl, sizeof(sl[0]));
}

static int
run_idle(void)
{
	int n = opt.idle;
	struct conn *cs = lb_xcalloc((size_t)n, sizeof(*cs));
	atomic_int ready = 0;
	double t0, t1, held;

	lb_catch_stop_signals();
	for (int i = 0; i < n; i++)
		client_init(&cs[i], i);
	t0 = lb_now_ms();
	idle_phase(cs, n, 0, &ready);
	t1 = lb_now_ms();
	printf("ready %d\n", atomic_load(&ready));
	fflush(stdout);
	/* Hold: until -H seconds have passed or a signal came. */
	while (!lb_stop && (opt.hold <= 0 || lb_now_ms() - t1 < opt.hold * 1000.0))
		usleep(100000);
	held = (lb_now_ms() - t1) / 1000.0;
	idle_phase(cs, n, 1, &ready);
	printf("mode=idle conns=%d ready=%d setup_ms=%.1f held_s=%.1f errors=%d\n", n,
	    atomic_load(&ready), t1 - t0, held, lb_error_count());
	fflush(stdout);
	for (int i = 0; i < n; i++)
		client_free(&cs[i]);
	free(cs);
	return lb_error_count() > 0;
}

/* ------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: imap-load [-h 127.0.0.1] -p port -u user [-U count] -w password\n"
	    "                 [-c clients] [-t seconds] [-m max-commands] [-s seed] [-T timeout]\n"
	    "       imap-load ... -I connections [-H hold-seconds]   (idle mode)\n"
	    "  -u 'user%%d@dom' -U K: client i logs in as user (i mod K) + 1\n");
	exit(2);
}

static long
num_arg(const char *s, long lo, long hi)
{
	long v;

	if (lb_strtol(s, lo, hi, &v) == -1)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	lb_init("imap-load");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc || a[0] != '-' || a[1] == '\0' || a[2] != '\0')
			usage();
		const char *v = argv[++i];
		switch (a[1]) {
		case 'h': opt.host = v; break;
		case 'p': (void)num_arg(v, 1, 65535); opt.port = v; break;
		case 'u': opt.user = v; break;
		case 'U': opt.users = (int)num_arg(v, 1, MAX_CLIENTS); break;
		case 'w': opt.pass = v; break;
		case 'c': opt.clients = (int)num_arg(v, 1, MAX_CLIENTS); break;
		case 't': opt.duration = (double)num_arg(v, 1, 86400); break;
		case 'm': opt.max_cmds = num_arg(v, 1, 1000000000L); break;
		case 's': opt.seed = (unsigned long)num_arg(v, 0, 0x7fffffffL); break;
		case 'T': opt.timeout = (int)num_arg(v, 1, 3600); break;
		case 'I': opt.idle = (int)num_arg(v, 1, MAX_CLIENTS); break;
		case 'H': opt.hold = (double)num_arg(v, 0, 86400); break;
		default: usage();
		}
	}
	if (opt.port == NULL || opt.user == NULL || opt.pass == NULL)
		usage();
	if (opt.users > 0 && strstr(opt.user, "%d") == NULL)
		usage();
	if (strpbrk(opt.user, "\"\\\r\n") != NULL || strpbrk(opt.pass, "\"\\\r\n") != NULL)
		lb_die("user and password must not contain quotes, backslashes or line ends");
	lb_resolve_or_exit(opt.host, opt.port, &server);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return opt.idle > 0 ? run_idle() : run_load();
}
