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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
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
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE	65536
#define MAX_ERRORS	10		/* error lines printed to stderr */
#define MAX_CLIENTS	100000
#define SETUP_THREADS	8		/* idle mode: connections opened in parallel */

enum op { OP_STORE, OP_SEARCH, OP_BODY, OP_RANGE, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "store", "search", "body", "range" };

struct opts {
	const char	*host;
	int		 port;
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

static atomic_long	 n_cmds;	/* claimed in the timed phase */
static atomic_int	 n_errors;
static atomic_int	 n_printed;
static pthread_barrier_t setup_barrier, start_barrier;
static double		 t_start, t_end;
static volatile sig_atomic_t stop_signal;

struct lat {
	float		*v;
	size_t		 n, cap;
};

struct conn {
	int		 fd;
	int		 dead;
	int		 id;
	unsigned	 tagn;
	char		 tag[16];
	char		 buf[RBUF_SIZE];
	size_t		 start, end;
	char		*resp;		/* one logical response, literals inline */
	size_t		 rlen, rcap;
	/* mailbox */
	uint32_t	 exists;
	uint32_t	*uids;
	size_t		 nuids, uidcap;
	/* stats */
	uint64_t	 rng;
	struct lat	 lat[OP_COUNT];
	double		 setup_ms;
	char		 user[256];
};

/* ------------------------------------------------------------ utilities */

static void	usage(void) __attribute__((noreturn));

static void
fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imap-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
report_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts an error; prints the first MAX_ERRORS. */
static void
report_error(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&n_errors, 1);
	if (atomic_fetch_add(&n_printed, 1) >= MAX_ERRORS)
		return;
	flockfile(stderr);
	fprintf(stderr, "imap-load: client %d (%s): ", c->id, c->user);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		fatal("out of memory");
	return q;
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

static void
lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = (float)ms;
}

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const float *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* ------------------------------------------------------------ network */

static int
connect_to(const char *host, int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { .tv_sec = opt.timeout };
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		fatal("bad address %s (IPv4 loopback only)", host);
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127)
		fatal("refusing non-loopback address %s", host);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
send_all(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			report_error(c, "write: %s", n == 0 ? "closed" : strerror(errno));
			c->dead = 1;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* More bytes into buf; -1 (and an error) on EOF, timeout or failure. */
static int
fill(struct conn *c)
{
	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->start > 0 && c->end == sizeof(c->buf)) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf)) {
		report_error(c, "response line longer than %d bytes", RBUF_SIZE);
		c->dead = 1;
		return -1;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		if (n == -1 && errno == EINTR && !stop_signal)
			continue;
		if (n <= 0) {
			report_error(c, "read: %s", n == 0 ? "connection closed" :
			    errno == EAGAIN ? "timeout" : strerror(errno));
			c->dead = 1;
			return -1;
		}
		c->end += (size_t)n;
		return 0;
	}
}

static void
resp_append(struct conn *c, const char *p, size_t n)
{
	if (c->rlen + n + 1 > c->rcap) {
		while (c->rlen + n + 1 > c->rcap)
			c->rcap = c->rcap ? c->rcap * 2 : 65536;
		c->resp = xrealloc(c->resp, c->rcap);
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

/*
 * One logical response into c->resp: a line, and when it ends with a
 * literal announcement, the literal's octets and the rest of the line, as
 * often as needed. CRLFs are kept. 0, or -1 on failure.
 */
static int
read_response(struct conn *c)
{
	c->rlen = 0;
	for (;;) {
		char *nl;
		while ((nl = memchr(c->buf + c->start, '\n', c->end - c->start)) == NULL)
			if (fill(c) == -1)
				return -1;
		size_t len = (size_t)(nl - (c->buf + c->start)) + 1;
		resp_append(c, c->buf + c->start, len);
		c->start += len;
		size_t body = len - 1;
		const char *line = c->resp + c->rlen - len;
		if (body > 0 && line[body - 1] == '\r')
			body--;
		long long lit = literal_at_end(line, body);
		if (lit < 0)
			return 0;
		while (lit > 0) {
			if (c->start == c->end && fill(c) == -1)
				return -1;
			size_t take = c->end - c->start;
			if ((long long)take > lit)
				take = (size_t)lit;
			resp_append(c, c->buf + c->start, take);
			c->start += take;
			lit -= (long long)take;
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
		fatal("command too long");
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
		fatal("command too long");
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
			c->uids = xrealloc(c->uids, c->uidcap * sizeof(*c->uids));
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
	c->fd = connect_to(opt.host, opt.port);
	if (c->fd == -1) {
		report_error(c, "connect %s:%d: %s", opt.host, opt.port, strerror(errno));
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
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
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
	double t0 = now_ms();
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
	c->setup_ms = now_ms() - t0;
	pthread_barrier_wait(&setup_barrier);	/* everyone synced */
	pthread_barrier_wait(&start_barrier);	/* t_end is set */
	while (ok && !c->dead) {
		double t = now_ms();
		if (t >= t_end || atomic_fetch_add(&n_cmds, 1) >= opt.max_cmds)
			break;
		uint32_t x = rnd(c, 100);
		enum op op = x < 30 ? OP_STORE : x < 50 ? OP_SEARCH : x < 80 ? OP_BODY : OP_RANGE;
		int r = run_op(c, op);
		if (r == -1)
			break;
		if (r == 0)
			lat_add(&c->lat[op], now_ms() - t);
	}
	if (c->fd != -1)
		close_session(c);
	return NULL;
}

static int
run_load(void)
{
	struct conn **cs = calloc((size_t)opt.clients, sizeof(*cs));
	pthread_t *th = calloc((size_t)opt.clients, sizeof(*th));
	uint64_t seed = opt.seed;
	double t_done, setup_max = 0;
	struct lat all = { 0 }, per[OP_COUNT];
	size_t counts[OP_COUNT] = { 0 };

	if (cs == NULL || th == NULL)
		fatal("out of memory");
	memset(per, 0, sizeof(per));
	if (pthread_barrier_init(&setup_barrier, NULL, (unsigned)opt.clients + 1) != 0 ||
	    pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.clients + 1) != 0)
		fatal("pthread_barrier_init failed");
	for (int i = 0; i < opt.clients; i++) {
		cs[i] = calloc(1, sizeof(**cs));
		if (cs[i] == NULL)
			fatal("out of memory");
		cs[i]->fd = -1;
		cs[i]->id = i;
		cs[i]->rng = splitmix(&seed) ^ (uint64_t)i;
		user_name(cs[i]->user, sizeof(cs[i]->user), i);
		if (pthread_create(&th[i], NULL, load_client, cs[i]) != 0)
			fatal("pthread_create failed");
	}
	/* Everyone is logged in and synced; the clock starts now. */
	pthread_barrier_wait(&setup_barrier);
	t_start = now_ms();
	t_end = t_start + opt.duration * 1000.0;
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < opt.clients; i++)
		pthread_join(th[i], NULL);
	t_done = now_ms();
	for (int i = 0; i < opt.clients; i++) {
		struct conn *c = cs[i];
		if (c->setup_ms > setup_max)
			setup_max = c->setup_ms;
		for (int o = 0; o < OP_COUNT; o++) {
			for (size_t k = 0; k < c->lat[o].n; k++) {
				lat_add(&all, c->lat[o].v[k]);
				lat_add(&per[o], c->lat[o].v[k]);
			}
			counts[o] += c->lat[o].n;
		}
	}
	double secs = (t_done - t_start) / 1000.0;
	qsort(all.v, all.n, sizeof(*all.v), cmp_float);
	printf("mode=load clients=%d users=%d secs=%.2f cmds=%zu rate=%.1f", opt.clients,
	    opt.users ? opt.users : 1, secs, all.n, secs > 0 ? (double)all.n / secs : 0.0);
	for (int o = 0; o < OP_COUNT; o++)
		printf(" %s=%zu", op_names[o], counts[o]);
	printf(" p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d msgs=%u setup_ms=%.1f",
	    pct(all.v, all.n, 50), pct(all.v, all.n, 99), all.n ? (double)all.v[all.n - 1] : 0.0,
	    atomic_load(&n_errors), cs[0]->exists, setup_max);
	for (int o = 0; o < OP_COUNT; o++) {
		qsort(per[o].v, per[o].n, sizeof(*per[o].v), cmp_float);
		printf(" %s_p50_ms=%.3f %s_p99_ms=%.3f", op_names[o], pct(per[o].v, per[o].n, 50),
		    op_names[o], pct(per[o].v, per[o].n, 99));
		free(per[o].v);
	}
	printf("\n");
	fflush(stdout);
	for (int i = 0; i < opt.clients; i++) {
		for (int o = 0; o < OP_COUNT; o++)
			free(cs[i]->lat[o].v);
		free(cs[i]->uids);
		free(cs[i]->resp);
		free(cs[i]);
	}
	free(all.v);
	free(cs);
	free(th);
	pthread_barrier_destroy(&setup_barrier);
	pthread_barrier_destroy(&start_barrier);
	return atomic_load(&n_errors) > 0 || all.n == 0;
}

/* ------------------------------------------------------------ idle mode */

struct idle_slice {
	struct conn	**cs;
	int		  from, step, n;
	int		  phase;	/* 0: set up, 1: tear down */
	atomic_int	 *ready;
};

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void *
idle_worker(void *arg)
{
	struct idle_slice *s = arg;

	for (int i = s->from; i < s->n; i += s->step) {
		struct conn *c = s->cs[i];
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
			if (c->dead || c->fd == -1)
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
idle_phase(struct conn **cs, int n, int phase, atomic_int *ready)
{
	int nth = n < SETUP_THREADS ? n : SETUP_THREADS;
	pthread_t th[SETUP_THREADS];
	struct idle_slice sl[SETUP_THREADS];

	for (int t = 0; t < nth; t++) {
		sl[t] = (struct idle_slice){ cs, t, nth, n, phase, ready };
		if (pthread_create(&th[t], NULL, idle_worker, &sl[t]) != 0)
			fatal("pthread_create failed");
	}
	for (int t = 0; t < nth; t++)
		pthread_join(th[t], NULL);
}

static int
run_idle(void)
{
	int n = opt.idle;
	struct conn **cs = calloc((size_t)n, sizeof(*cs));
	atomic_int ready = 0;
	struct sigaction sa;
	double t0, t1, held;

	if (cs == NULL)
		fatal("out of memory");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < n; i++) {
		cs[i] = calloc(1, sizeof(**cs));
		if (cs[i] == NULL)
			fatal("out of memory");
		cs[i]->fd = -1;
		cs[i]->id = i;
		user_name(cs[i]->user, sizeof(cs[i]->user), i);
	}
	t0 = now_ms();
	idle_phase(cs, n, 0, &ready);
	t1 = now_ms();
	printf("ready %d\n", atomic_load(&ready));
	fflush(stdout);
	/* Hold: until -H seconds have passed or a signal came. */
	while (!stop_signal && (opt.hold <= 0 || now_ms() - t1 < opt.hold * 1000.0))
		usleep(100000);
	held = (now_ms() - t1) / 1000.0;
	idle_phase(cs, n, 1, &ready);
	printf("mode=idle conns=%d ready=%d setup_ms=%.1f held_s=%.1f errors=%d\n", n,
	    atomic_load(&ready), t1 - t0, held, atomic_load(&n_errors));
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		free(cs[i]->resp);
		free(cs[i]);
	}
	free(cs);
	return atomic_load(&n_errors) > 0;
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
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc || a[0] != '-' || a[1] == '\0' || a[2] != '\0')
			usage();
		const char *v = argv[++i];
		switch (a[1]) {
		case 'h': opt.host = v; break;
		case 'p': opt.port = (int)num_arg(v, 1, 65535); break;
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
	if (opt.port == 0 || opt.user == NULL || opt.pass == NULL)
		usage();
	if (opt.users > 0 && strstr(opt.user, "%d") == NULL)
		usage();
	if (strpbrk(opt.user, "\"\\\r\n") != NULL || strpbrk(opt.pass, "\"\\\r\n") != NULL)
		fatal("user and password must not contain quotes, backslashes or line ends");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return opt.idle > 0 ? run_idle() : run_load();
}
