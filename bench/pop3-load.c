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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadlib.h"

#define RBUF_SIZE	(256 * 1024)
#define LINE_MAX_LEN	8192

/* The next line (CRLF stripped) into out; its length. */
static size_t
read_line(struct lb_conn *c, char *out, size_t outlen)
{
	long len = lb_read_line(c, out, outlen);

	if (len == -1)
		lb_die("%s", c->err);
	if ((size_t)len >= outlen)
		lb_die("line too long");
	return (size_t)len;
}

static void
sendf(struct lb_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sendf(struct lb_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		lb_die("command too long");
	if (lb_write(c, line, (size_t)n) == -1)
		lb_die("%s", c->err);
}

static void
expect_ok(struct lb_conn *c, const char *what)
{
	char line[LINE_MAX_LEN];

	read_line(c, line, sizeof(line));
	if (strncmp(line, "+OK", 3) != 0)
		lb_die("%s: %s", what, line);
}

/* A multi-line body; returns its octets (line ends counted as CRLF), calls fn per line. */
static uint64_t
read_multi(struct lb_conn *c, void (*fn)(void *arg, const char *line), void *arg,
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
		lb_die("bad LIST line: %s", line);
	s->v = lb_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = size;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pop3-load -h 127.0.0.1 -p port -u user -w password "
	    "[--pipeline N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL, *user = NULL, *pass = NULL;
	int depth = 1;
	struct lb_conn conn, *c = &conn;
	struct lb_addr addr;
	struct sizes sizes = { NULL, 0 };
	double t0, t1, t2, t3;
	uint64_t bytes = 0, want = 0;
	size_t nl;
	long v;

	lb_init("pop3-load");
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-h") == 0)
			host = argv[++i];
		else if (strcmp(argv[i], "-p") == 0)
			port = argv[++i];
		else if (strcmp(argv[i], "-u") == 0)
			user = argv[++i];
		else if (strcmp(argv[i], "-w") == 0)
			pass = argv[++i];
		else if (strcmp(argv[i], "--pipeline") == 0) {
			if (lb_strtol(argv[++i], 1, 1000000, &v) == -1)
				usage();
			depth = (int)v;
		} else
			usage();
	}
	if (port == NULL || lb_strtol(port, 1, 65535, &v) == -1 || user == NULL ||
	    pass == NULL)
		usage();
	lb_resolve_or_exit(host, port, &addr);
	lb_conn_init(c, RBUF_SIZE);
	if (lb_conn_open(c, &addr, 0) == -1)
		lb_die("%s:%s: %s", host, port, c->err);
	expect_ok(c, "greeting");
	sendf(c, "USER %s\r\n", user);
	expect_ok(c, "USER");
	sendf(c, "PASS %s\r\n", pass);
	expect_ok(c, "PASS");

	t0 = lb_now_ms();
	sendf(c, "LIST\r\n");
	expect_ok(c, "LIST");
	read_multi(c, list_line, &sizes, &nl);
	t1 = lb_now_ms();
	sendf(c, "UIDL\r\n");
	expect_ok(c, "UIDL");
	read_multi(c, NULL, NULL, &nl);
	if (nl != sizes.n)
		lb_die("UIDL listed %zu, LIST %zu", nl, sizes.n);
	t2 = lb_now_ms();
	size_t sent = 0, done = 0;
	while (done < sizes.n) {
		while (sent < sizes.n && sent - done < (size_t)depth)
			sendf(c, "RETR %zu\r\n", ++sent);
		expect_ok(c, "RETR");
		bytes += read_multi(c, NULL, NULL, &nl);
		want += sizes.v[done];
		done++;
	}
	t3 = lb_now_ms();
	sendf(c, "QUIT\r\n");
	expect_ok(c, "QUIT");
	lb_conn_free(c);
	if (bytes != want)
		lb_die("RETR octets %llu, LIST said %llu", (unsigned long long)bytes,
		    (unsigned long long)want);
	printf("msgs=%zu bytes=%llu list_ms=%.2f uidl_ms=%.2f retr_ms=%.2f total_ms=%.2f "
	    "pipeline=%d\n", sizes.n, (unsigned long long)bytes, t1 - t0, t2 - t1, t3 - t2,
	    t3 - t0, depth);
	free(sizes.v);
	return 0;
}
