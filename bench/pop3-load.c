/*
 * pop3-load - time a POP3 client downloading a whole mailbox.
 *
 * One session: USER/PASS, then LIST, UIDL and RETR of every message, one
 * command at a time as mail clients do (or with --pipeline N, N commands
 * in flight), then QUIT without DELE, so the mailbox is the same for the
 * next run. Prints one line:
 *
 *	msgs=1000 bytes=4200000 list_ms=.. uidl_ms=.. retr_ms=.. total_ms=..
 *
 * Replies are checked (+OK, the multi-line end, the RETR octet counts add
 * up to the LIST sizes). Loopback addresses only. Exit 1 on a protocol or
 * network error, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE	(256 * 1024)
#define LINE_MAX_LEN	8192

struct conn {
	int	fd;
	char	buf[RBUF_SIZE];
	size_t	start, end;
};

static void	die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pop3-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
send_all(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

static void
sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sendf(struct conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	send_all(c, line, (size_t)n);
}

/* The next line (CRLF stripped) into out; its length. */
static size_t
read_line(struct conn *c, char *out, size_t outlen)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			size_t len = (size_t)(nl - (c->buf + c->start));
			size_t copy = len;
			if (copy > 0 && c->buf[c->start + copy - 1] == '\r')
				copy--;
			if (copy >= outlen)
				die("line too long");
			memcpy(out, c->buf + c->start, copy);
			out[copy] = '\0';
			c->start += len + 1;
			return copy;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end == sizeof(c->buf))
			die("line too long");
		ssize_t n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			die("connection closed (%s)", n == 0 ? "eof" : strerror(errno));
		c->end += (size_t)n;
	}
}

static void
expect_ok(struct conn *c, const char *what)
{
	char line[LINE_MAX_LEN];

	read_line(c, line, sizeof(line));
	if (strncmp(line, "+OK", 3) != 0)
		die("%s: %s", what, line);
}

/* A multi-line body; returns its octets (line ends counted as CRLF), calls fn per line. */
static uint64_t
read_multi(struct conn *c, void (*fn)(void *arg, const char *line), void *arg,
    size_t *nlines)
{
	char line[LINE_MAX_LEN];
	uint64_t octets = 0;
	size_t len;

	*nlines = 0;
	for (;;) {
		len = read_line(c, line, sizeof(line));
		if (len == 1 && line[0] == '.')
			return octets;
		if (line[0] == '.')
			len--;
		octets += len + 2;
		(*nlines)++;
		if (fn != NULL)
			fn(arg, line);
	}
}

struct sizes {
	uint64_t	*v;
	size_t		 n;
};

static void
list_line(void *arg, const char *line)
{
	struct sizes *s = arg;
	unsigned long num;
	unsigned long long size;

	if (sscanf(line, "%lu %llu", &num, &size) != 2)
		die("bad LIST line: %s", line);
	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (s->v == NULL)
		die("out of memory");
	s->v[s->n++] = size;
}

static int
connect_to(const char *host, int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die("bad address %s (IPv4 loopback only)", host);
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127)
		die("refusing non-loopback address %s", host);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect %s:%d: %s", host, port, strerror(errno));
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pop3-load -h 127.0.0.1 -p port -u user -w password "
	    "[--pipeline N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *user = NULL, *pass = NULL;
	int port = 0, depth = 1;
	struct conn *c = calloc(1, sizeof(*c));
	struct sizes sizes = { NULL, 0 };
	double t0, t1, t2, t3;
	uint64_t bytes = 0, want = 0;
	size_t nl;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-h") == 0)
			host = argv[++i];
		else if (strcmp(argv[i], "-p") == 0)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "-u") == 0)
			user = argv[++i];
		else if (strcmp(argv[i], "-w") == 0)
			pass = argv[++i];
		else if (strcmp(argv[i], "--pipeline") == 0)
			depth = atoi(argv[++i]);
		else
			usage();
	}
	if (c == NULL || port <= 0 || user == NULL || pass == NULL || depth < 1)
		usage();
	c->fd = connect_to(host, port);
	expect_ok(c, "greeting");
	sendf(c, "USER %s\r\n", user);
	expect_ok(c, "USER");
	sendf(c, "PASS %s\r\n", pass);
	expect_ok(c, "PASS");

	t0 = now_ms();
	sendf(c, "LIST\r\n");
	expect_ok(c, "LIST");
	read_multi(c, list_line, &sizes, &nl);
	t1 = now_ms();
	sendf(c, "UIDL\r\n");
	expect_ok(c, "UIDL");
	read_multi(c, NULL, NULL, &nl);
	if (nl != sizes.n)
		die("UIDL listed %zu, LIST %zu", nl, sizes.n);
	t2 = now_ms();
	size_t sent = 0, done = 0;
	while (done < sizes.n) {
		while (sent < sizes.n && sent - done < (size_t)depth)
			sendf(c, "RETR %zu\r\n", ++sent);
		expect_ok(c, "RETR");
		bytes += read_multi(c, NULL, NULL, &nl);
		want += sizes.v[done];
		done++;
	}
	t3 = now_ms();
	sendf(c, "QUIT\r\n");
	expect_ok(c, "QUIT");
	close(c->fd);
	if (bytes != want)
		die("RETR octets %llu, LIST said %llu", (unsigned long long)bytes,
		    (unsigned long long)want);
	printf("msgs=%zu bytes=%llu list_ms=%.2f uidl_ms=%.2f retr_ms=%.2f total_ms=%.2f "
	    "pipeline=%d\n", sizes.n, (unsigned long long)bytes, t1 - t0, t2 - t1, t3 - t2,
	    t3 - t0, depth);
	free(sizes.v);
	free(c);
	return 0;
}
