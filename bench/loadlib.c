/*
 * loadlib - shared code of the bench/ load generators (see loadlib.h).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
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

#include "loadlib.h"

static const char	*prog_name = "load";
static atomic_int	 n_errors;
volatile sig_atomic_t	 lb_stop;

/* ------------------------------------------------------------ messages */

void
lb_init(const char *prog)
{
	prog_name = prog;
	signal(SIGPIPE, SIG_IGN);
}

const char *
lb_prog(void)
{
	return prog_name;
}

void
lb_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
lb_error(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (atomic_fetch_add(&n_errors, 1) >= LB_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	flockfile(stderr);
	fprintf(stderr, "%s: %s\n", prog_name, text);
	funlockfile(stderr);
}

int
lb_error_count(void)
{
	return atomic_load(&n_errors);
}

void
lb_error_summary(void)
{
	int n = atomic_load(&n_errors);

	if (n > LB_MAX_ERRORS)
		fprintf(stderr, "%s: %d more errors not shown\n", prog_name,
		    n - LB_MAX_ERRORS);
}

/* ------------------------------------------------------------ options */

int
lb_strtol(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long
lb_parse_long(const char *s, long min, long max, const char *what)
{
	long v;

	if (lb_strtol(s, min, max, &v) == -1) {
		fprintf(stderr, "%s: bad %s '%s' (%ld..%ld)\n", prog_name, what,
		    s, min, max);
		exit(2);
	}
	return v;
}

void
lb_split_list(char *list, char **out, int max, int *n, const char *what)
{
	char *p, *save = NULL;

	for (p = strtok_r(list, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (*p == '\0')
			continue;
		if (*n == max) {
			fprintf(stderr, "%s: more than %d %s\n", prog_name, max,
			    what);
			exit(2);
		}
		out[(*n)++] = p;
	}
}

/* ------------------------------------------------------------ time */

double
lb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ addresses */

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127;
	default:
		return 0;
	}
}

int
lb_resolve(const char *host, const char *port, struct lb_addr *a, char *err,
    size_t errlen)
{
	struct addrinfo hints, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	if (!is_loopback(ai->ai_addr)) {
		snprintf(err, errlen, "%s is not a loopback address", host);
		freeaddrinfo(ai);
		return -1;
	}
	memset(a, 0, sizeof(*a));
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = ai->ai_addrlen;
	a->family = ai->ai_family;
	freeaddrinfo(ai);
	return 0;
}

void
lb_resolve_or_exit(const char *host, const char *port, struct lb_addr *a)
{
	char err[512];

	if (lb_resolve(host, port, a, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog_name, err);
		exit(2);
	}
}

int
lb_connect(const struct lb_addr *a, int timeout_s, char *err, size_t errlen)
{
	struct timeval tv;
	int fd, one = 1, e;

	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	tv.tv_sec = timeout_s;
	tv.tv_usec = 0;
	if ((timeout_s > 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		e = errno;
		snprintf(err, errlen, "connect: %s",
		    e == EINPROGRESS || e == EAGAIN ? "timeout" : strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------ connections */

void
lb_conn_init(struct lb_conn *c, size_t bufsize)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->buf = lb_xcalloc(1, bufsize);
	c->cap = bufsize;
}

int
lb_conn_open(struct lb_conn *c, const struct lb_addr *a, int timeout_s)
{
	c->start = c->end = 0;
	c->err[0] = '\0';
	c->fd = lb_connect(a, timeout_s, c->err, sizeof(c->err));
	return c->fd == -1 ? -1 : 0;
}

void
lb_conn_close(struct lb_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->start = c->end = 0;
	c->rd = NULL;
	c->wr = NULL;
	c->tls = NULL;
}

void
lb_conn_free(struct lb_conn *c)
{
	lb_conn_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

static long
sock_read(struct lb_conn *c, char *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, len, 0);
		if (n == -1 && errno == EINTR && !lb_stop)
			continue;
		if (n == -1)
			snprintf(c->err, sizeof(c->err), "read: %s",
			    errno == EAGAIN || errno == EWOULDBLOCK ? "timeout" :
			    strerror(errno));
		return (long)n;
	}
}

static long
sock_write(struct lb_conn *c, const char *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR && !lb_stop)
			continue;
		if (n <= 0) {
			snprintf(c->err, sizeof(c->err), "write: %s",
			    n == 0 ? "closed" :
			    errno == EAGAIN || errno == EWOULDBLOCK ? "timeout" :
			    strerror(errno));
			return -1;
		}
		return (long)n;
	}
}

int
lb_fill(struct lb_conn *c)
{
	long n;

	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->start > 0 && c->end == c->cap) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == c->cap) {
		snprintf(c->err, sizeof(c->err), "line longer than %zu bytes",
		    c->cap);
		return -1;
	}
	if (c->fd == -1) {
		snprintf(c->err, sizeof(c->err), "read: not connected");
		return -1;
	}
	n = (c->rd != NULL ? c->rd : sock_read)(c, c->buf + c->end,
	    c->cap - c->end);
	if (n == 0)
		snprintf(c->err, sizeof(c->err), "read: connection closed");
	if (n <= 0)
		return -1;
	c->end += (size_t)n;
	return 0;
}

long
lb_next_line(struct lb_conn *c, const char **line)
{
	size_t scanned = 0, len;
	char *nl;

	for (;;) {
		nl = memchr(c->buf + c->start + scanned, '\n',
		    c->end - c->start - scanned);
		if (nl != NULL) {
			*line = c->buf + c->start;
			len = (size_t)(nl - *line) + 1;
			c->start += len;
			return (long)len;
		}
		scanned = c->end - c->start;
		if (lb_fill(c) == -1)
			return -1;
	}
}

long
lb_read_line(struct lb_conn *c, char *out, size_t outlen)
{
	const char *line;
	long n;
	size_t len, copy;

	if ((n = lb_next_line(c, &line)) == -1)
		return -1;
	len = (size_t)n - 1;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	copy = len < outlen ? len : outlen - 1;
	memcpy(out, line, copy);
	out[copy] = '\0';
	return (long)len;
}

long
lb_next_bytes(struct lb_conn *c, const char **p, size_t max)
{
	size_t n;

	if (c->start == c->end && lb_fill(c) == -1)
		return -1;
	n = c->end - c->start;
	if (n > max)
		n = max;
	*p = c->buf + c->start;
	c->start += n;
	return (long)n;
}

int
lb_write(struct lb_conn *c, const char *data, size_t len)
{
	long n;

	while (len > 0) {
		n = (c->wr != NULL ? c->wr : sock_write)(c, data, len);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
lb_write_str(struct lb_conn *c, const char *s)
{
	return lb_write(c, s, strlen(s));
}

int
lb_writef(struct lb_conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		lb_die("command too long");
	return lb_write(c, line, (size_t)n);
}

/* ------------------------------------------------------------ latency */

void
lb_lat_add(struct lb_lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap != 0 ? l->cap * 2 : 1024;
		l->v = lb_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = ms;
}

void
lb_lat_merge(struct lb_lat *into, const struct lb_lat *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		lb_lat_add(into, from->v[i]);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
lb_lat_sort(struct lb_lat *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_double);
}

double
lb_lat_pct(const struct lb_lat *l, double p)
{
	size_t rank;

	if (l->n == 0)
		return 0.0;
	rank = (size_t)((p / 100.0) * (double)l->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return l->v[rank - 1];
}

double
lb_lat_max(const struct lb_lat *l)
{
	return l->n > 0 ? l->v[l->n - 1] : 0.0;
}

void
lb_lat_free(struct lb_lat *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ------------------------------------------------------------ run loops */

void
lb_work_init(struct lb_work *w, long total)
{
	atomic_init(&w->next, 0);
	w->total = total;
}

long
lb_work_next(struct lb_work *w)
{
	long seq = atomic_fetch_add(&w->next, 1);

	return seq < w->total ? seq : -1;
}

static void
on_stop_signal(int sig)
{
	lb_stop = sig;
}

void
lb_catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

struct lb_threads {
	int		 n;
	pthread_t	 th[];
};

struct lb_threads *
lb_threads_start(int n, void *(*fn)(void *), void *args, size_t argsize)
{
	struct lb_threads *t;
	int i, rc;

	t = lb_xcalloc(1, sizeof(*t) + (size_t)n * sizeof(t->th[0]));
	for (i = 0; i < n; i++) {
		rc = pthread_create(&t->th[i], NULL, fn,
		    (char *)args + (size_t)i * argsize);
		if (rc != 0)
			lb_die("pthread_create: %s", strerror(rc));
		t->n = i + 1;
	}
	return t;
}

void
lb_threads_join(struct lb_threads *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		pthread_join(t->th[i], NULL);
	free(t);
}

void
lb_threads_run(int n, void *(*fn)(void *), void *args, size_t argsize)
{
	lb_threads_join(lb_threads_start(n, fn, args, argsize));
}

/* ------------------------------------------------------------ memory */

void *
lb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);

	if (p == NULL)
		lb_die("out of memory");
	return p;
}

void *
lb_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size != 0 ? size : 1);

	if (q == NULL)
		lb_die("out of memory");
	return q;
}
