/*
 * loadlib - what the load generators in bench/ share: loopback-only
 * connections with timeouts, buffered line I/O over a socket (or over TLS,
 * through a transport hook), monotonic time, latency samples with
 * nearest-rank percentiles, capped error reports, option parsing and the
 * thread / work-counter helpers of the run loops.
 *
 * Nothing here knows a mail protocol or a tool's output format; each tool
 * keeps its own command line and summary line.
 */
#ifndef TERN_BENCH_LOADLIB_H
#define TERN_BENCH_LOADLIB_H

#include <sys/socket.h>

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#define LB_MAX_ERRORS	10	/* error lines lb_error() prints */

/* ------------------------------------------------------------ messages */

/* The program name the messages start with ("smtp-load: ..."). */
void	lb_init(const char *prog);	/* also ignores SIGPIPE */
const char *lb_prog(void);

/* "prog: message" to stderr, exit 1. */
void	lb_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Counts an error and prints the first LB_MAX_ERRORS as "prog: message"
 * (one write each, safe from threads).
 */
void	lb_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	lb_error_count(void);
/* "prog: N more errors not shown" when errors were left out. */
void	lb_error_summary(void);

/* ------------------------------------------------------------ options */

/* A decimal in [min, max] into *out: 0, or -1 when s is not one. */
int	lb_strtol(const char *s, long min, long max, long *out);
/* The same, or "prog: bad WHAT 's' (min..max)" and exit 2. */
long	lb_parse_long(const char *s, long min, long max, const char *what);
/*
 * Splits a comma-separated list in place (empty items skipped) onto
 * out[*n...]; "prog: more than MAX WHAT" and exit 2 past max.
 */
void	lb_split_list(char *list, char **out, int max, int *n, const char *what);

/* ------------------------------------------------------------ time */

double	lb_now_ms(void);		/* CLOCK_MONOTONIC, milliseconds */

/* ------------------------------------------------------------ addresses */

struct lb_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			family;
};

/*
 * host:port (a name or a literal; port a number or service) into *a, the
 * first address only, which must be loopback: this tool must never load
 * someone else's server. 0, or -1 with the reason in err.
 */
int	lb_resolve(const char *host, const char *port, struct lb_addr *a,
	    char *err, size_t errlen);
/* lb_resolve(), or the reason on stderr and exit 2. */
void	lb_resolve_or_exit(const char *host, const char *port, struct lb_addr *a);

/*
 * A connected TCP socket with TCP_NODELAY and, when timeout_s > 0,
 * SO_RCVTIMEO and SO_SNDTIMEO of that many seconds (on Linux the send
 * timeout bounds connect() too). The fd, or -1 with "socket: ...",
 * "setsockopt: ..." or "connect: ..." in err.
 */
int	lb_connect(const struct lb_addr *a, int timeout_s, char *err, size_t errlen);

/* ------------------------------------------------------------ connections */

#define LB_ERR_LEN	320

/*
 * A buffered connection. By default it reads and writes the socket fd;
 * a tool may set rd / wr (and tls) to run the same line reading over
 * another transport. rd returns the bytes read (> 0), 0 at the end of the
 * stream or -1 with c->err set; wr returns the bytes written (> 0) or -1
 * with c->err set.
 */
struct lb_conn {
	int	 fd;
	long	(*rd)(struct lb_conn *c, char *buf, size_t len);
	long	(*wr)(struct lb_conn *c, const char *buf, size_t len);
	void	*tls;			/* for rd / wr */
	char	*buf;
	size_t	 cap, start, end;	/* unread bytes: buf[start..end) */
	char	 err[LB_ERR_LEN];	/* what failed */
};

/* A closed connection with a read buffer of bufsize bytes (exit on ENOMEM). */
void	lb_conn_init(struct lb_conn *c, size_t bufsize);
/* Opens c (lb_connect()) with an empty buffer: 0, or -1 with c->err set. */
int	lb_conn_open(struct lb_conn *c, const struct lb_addr *a, int timeout_s);
/* Closes the socket and forgets buffered input; rd, wr and tls are reset. */
void	lb_conn_close(struct lb_conn *c);
/* lb_conn_close() and the buffer freed. */
void	lb_conn_free(struct lb_conn *c);

/*
 * Reads more into the buffer (moving what is unread to its start first
 * when needed): 0, or -1 with c->err set ("read: connection closed",
 * "read: timeout", "line longer than N bytes", ...). A read interrupted by
 * a signal is retried unless lb_stop is set.
 */
int	lb_fill(struct lb_conn *c);
/*
 * The next line, in place: *line points into the buffer (valid until the
 * next call on c) and includes its LF. Its length, or -1 (c->err set).
 */
long	lb_next_line(struct lb_conn *c, const char **line);
/*
 * The next line without its CRLF (or LF), cut to fit into out
 * (outlen > 0): the length it had before cutting, or -1 (c->err set).
 */
long	lb_read_line(struct lb_conn *c, char *out, size_t outlen);
/* Up to max bytes, in place (reading when none are buffered): how many, or -1. */
long	lb_next_bytes(struct lb_conn *c, const char **p, size_t max);

/* All of data: 0, or -1 with c->err set ("write: ..."). */
int	lb_write(struct lb_conn *c, const char *data, size_t len);
int	lb_write_str(struct lb_conn *c, const char *s);
/* A formatted command of at most 1023 bytes (longer: lb_die()). */
int	lb_writef(struct lb_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ latency */

/* Latency samples in milliseconds; one per thread, merged at the end. */
struct lb_lat {
	double	*v;
	size_t	 n, cap;
};

void	lb_lat_add(struct lb_lat *l, double ms);
void	lb_lat_merge(struct lb_lat *into, const struct lb_lat *from);
void	lb_lat_sort(struct lb_lat *l);
/* Nearest-rank percentile p (0..100] of a sorted set; 0 when empty. */
double	lb_lat_pct(const struct lb_lat *l, double p);
/* The largest of a sorted set; 0 when empty. */
double	lb_lat_max(const struct lb_lat *l);
void	lb_lat_free(struct lb_lat *l);

/* ------------------------------------------------------------ run loops */

/* Work items 0..total-1 handed out to threads in order. */
struct lb_work {
	atomic_long	next;
	long		total;
};

void	lb_work_init(struct lb_work *w, long total);
/* The next item, or -1 when all are taken. */
long	lb_work_next(struct lb_work *w);

/* Set by lb_catch_stop_signals()' handler (SIGTERM, SIGINT). */
extern volatile sig_atomic_t lb_stop;
/* SIGTERM and SIGINT set lb_stop (no SA_RESTART: blocking calls return). */
void	lb_catch_stop_signals(void);

/*
 * n threads running fn(args + i * argsize), i = 0..n-1 (exit on failure);
 * lb_threads_join() waits for all and frees the set.
 */
struct lb_threads;
struct lb_threads *lb_threads_start(int n, void *(*fn)(void *), void *args,
	    size_t argsize);
void	lb_threads_join(struct lb_threads *t);
/* Both: start n threads and wait for them. */
void	lb_threads_run(int n, void *(*fn)(void *), void *args, size_t argsize);

/* ------------------------------------------------------------ memory */

void	*lb_xcalloc(size_t n, size_t size);	/* exit on ENOMEM */
void	*lb_xrealloc(void *p, size_t size);

#endif
