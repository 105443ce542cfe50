/*
 * Unit tests of the net layer: bounded lines, listen specs, the thread pool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "net/conn.h"
#include "net/linebuf.h"
#include "net/listener.h"
#include "net/pool.h"

static void
test_linebuf(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct linebuf lb = { .max = 8 };
	char buf[10];
	size_t len;
	int crlf;

	evbuffer_add_printf(in, "HELO a\r\nNOOP\nlonglonglong\r\nQUIT\r\n.\r");
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_string_equal(buf, "HELO a");
	assert_int_equal(crlf, 1);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_string_equal(buf, "NOOP");
	assert_int_equal(crlf, 0);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_TOO_LONG);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_string_equal(buf, "QUIT");
	/* A lone CR is not a line end. */
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_NEED_MORE);
	evbuffer_add(in, "\n", 1);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_string_equal(buf, ".");

	/* An overlong line arriving in pieces is reported once, after its LF. */
	evbuffer_add_printf(in, "0123456789abc");
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_NEED_MORE);
	evbuffer_add_printf(in, "def");
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_NEED_MORE);
	evbuffer_add_printf(in, "gh\r\nok\r\n");
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_TOO_LONG);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_string_equal(buf, "ok");

	/* Exactly max bytes of content fit, with or without CR. */
	evbuffer_add_printf(in, "12345678\r\n12345678\n123456789\r\n");
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_int_equal(len, 8);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_OK);
	assert_int_equal(len, 8);
	assert_int_equal(linebuf_next(&lb, in, buf, &len, &crlf), LINEBUF_TOO_LONG);
	assert_int_equal(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

static void
test_listener_parse(void **state)
{
	struct listener_addr a[4];
	char why[128];

	assert_int_equal(listener_parse("127.0.0.1:25, [::1]:2525 0.0.0.0:587", a, 4,
	    why, sizeof(why)), 3);
	assert_string_equal(a[0].text, "127.0.0.1:25");
	assert_string_equal(a[1].text, "[::1]:2525");
	assert_int_equal(listener_parse("", a, 4, why, sizeof(why)), 0);
	assert_int_equal(listener_parse(NULL, a, 4, why, sizeof(why)), 0);
	assert_int_equal(listener_parse("localhost:25", a, 4, why, sizeof(why)), -1);
	assert_int_equal(listener_parse("127.0.0.1", a, 4, why, sizeof(why)), -1);
	assert_int_equal(listener_parse("127.0.0.1:99999", a, 4, why, sizeof(why)), -1);
	assert_int_equal(listener_parse("[::1:25", a, 4, why, sizeof(why)), -1);
	assert_int_equal(listener_parse("1.1.1.1:1 1.1.1.1:2 1.1.1.1:3", a, 2, why,
	    sizeof(why)), -1);
}

struct job {
	int	worked;
	int	done;
	struct event_base *base;
	int	*remaining;
};

static void
job_work(void *arg)
{
	((struct job *)arg)->worked = 1;
}

static void
job_done(void *arg)
{
	struct job *job = arg;

	job->done = job->worked;
	if (--*job->remaining == 0)
		event_base_loopbreak(job->base);
}

static void
keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void
test_pool(void **state)
{
	struct event_base *base;
	struct pool *pool;
	struct job jobs[64];
	int remaining = 64;

	evthread_use_pthreads();
	base = event_base_new();
	pool = pool_new(base, 4);
	for (int i = 0; i < 64; i++) {
		jobs[i] = (struct job){ .base = base, .remaining = &remaining };
		pool_submit(pool, job_work, job_done, &jobs[i]);
	}
	assert_int_equal(pool_pending(pool), 64);
	/* The pool does not keep a loop alive by itself: a worker's listeners do. */
	struct event *keepalive = event_new(base, -1, EV_PERSIST, keepalive_cb, NULL);
	struct timeval tv = { 10, 0 };
	event_add(keepalive, &tv);
	event_base_dispatch(base);
	event_free(keepalive);
	assert_int_equal(remaining, 0);
	assert_int_equal(pool_pending(pool), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(jobs[i].done, 1);
	pool_free(&pool);
	assert_null(pool);
	event_base_free(base);
}

static void
test_conn_counts(void **state)
{
	struct conn_counts *c = conn_counts_new();
	char ip[32];

	assert_int_equal(conn_counts_add(c, "192.0.2.1"), 1);
	assert_int_equal(conn_counts_add(c, "192.0.2.1"), 2);
	assert_int_equal(conn_counts_add(c, "2001:db8::1"), 1);
	conn_counts_remove(c, "192.0.2.1");
	assert_int_equal(conn_counts_add(c, "192.0.2.1"), 2);
	conn_counts_remove(c, "192.0.2.1");
	conn_counts_remove(c, "192.0.2.1");
	conn_counts_remove(c, "192.0.2.1");	/* not there: ignored */
	assert_int_equal(conn_counts_add(c, "192.0.2.1"), 1);
	/* Many addresses share buckets. */
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(conn_counts_add(c, ip), 1);
	}
	for (int i = 0; i < 5000; i += 2) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		conn_counts_remove(c, ip);
	}
	assert_int_equal(conn_counts_add(c, "10.0.0.0"), 1);
	assert_int_equal(conn_counts_add(c, "10.0.0.1"), 2);
	conn_counts_free(&c);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linebuf),
		cmocka_unit_test(test_listener_parse),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_conn_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
