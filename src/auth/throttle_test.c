/*
 * Unit tests of the failed-login throttle: growing delay, refusal after
 * the limit, expiry of windows and refusals, success, keys kept apart,
 * bounded table with eviction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/throttle.h"

static unsigned
delay_of(struct throttle *t, const char *key, time_t now)
{
	unsigned delay = 12345;

	assert_int_equal(throttle_check(t, key, now, &delay, NULL), 0);
	return delay;
}

static void
test_defaults(void **state)
{
	struct throttle_params p;

	throttle_params_default(&p);
	assert_int_equal(p.max_failures, 10);
	assert_int_equal(p.window, 300);
	assert_int_equal(p.refuse_for, 900);
	assert_int_equal(p.delay_first_ms, 250);
	assert_int_equal(p.delay_max_ms, 5000);
}

static void
test_delay_then_refusal(void **state)
{
	static const unsigned want[] = { 0, 250, 500, 1000, 2000, 4000, 5000, 5000,
	    5000, 5000 };
	struct throttle *t = throttle_new(NULL);
	time_t now = 1000000, until = 0;

	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(delay_of(t, "ip:192.0.2.1", now + i), want[i]);
		/* The tenth failure starts the refusal, and says so once. */
		assert_int_equal(throttle_fail(t, "ip:192.0.2.1", now + i), i == 9);
	}
	assert_int_equal(throttle_check(t, "ip:192.0.2.1", now + 9, NULL, &until), -1);
	assert_int_equal(until, now + 9 + 900);
	/* Failures while refused change nothing. */
	assert_int_equal(throttle_fail(t, "ip:192.0.2.1", now + 10), 0);
	assert_int_equal(throttle_check(t, "ip:192.0.2.1", now + 10, NULL, &until), -1);
	assert_int_equal(until, now + 9 + 900);
	assert_int_equal(throttle_check(t, "ip:192.0.2.1", now + 908, NULL, NULL), -1);
	/* Other keys are not affected. */
	assert_int_equal(delay_of(t, "ip:192.0.2.2", now + 10), 0);
	assert_int_equal(delay_of(t, "user:ip:192.0.2.1", now + 10), 0);
	/* The refusal ends and the slate is clean. */
	assert_int_equal(delay_of(t, "ip:192.0.2.1", now + 909), 0);
	assert_int_equal(throttle_count(t), 0);
	assert_int_equal(throttle_fail(t, "ip:192.0.2.1", now + 910), 0);
	assert_int_equal(delay_of(t, "ip:192.0.2.1", now + 910), 250);
	throttle_free(&t);
	assert_null(t);
	throttle_free(&t);
}

static void
test_window(void **state)
{
	struct throttle *t = throttle_new(NULL);
	time_t now = 5000;

	/* Nine failures, then the window closes: counting starts over. */
	for (int i = 0; i < 9; i++)
		assert_int_equal(throttle_fail(t, "user:a@example.test", now + i), 0);
	assert_int_equal(delay_of(t, "user:a@example.test", now + 299), 5000);
	assert_int_equal(delay_of(t, "user:a@example.test", now + 300), 0);
	assert_int_equal(throttle_fail(t, "user:a@example.test", now + 301), 0);
	assert_int_equal(delay_of(t, "user:a@example.test", now + 301), 250);
	/* A failure after the window without a check in between also restarts. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(throttle_fail(t, "user:a@example.test", now + 302), 0);
	assert_int_equal(throttle_fail(t, "user:a@example.test", now + 700), 0);
	assert_int_equal(delay_of(t, "user:a@example.test", now + 700), 250);
	throttle_free(&t);
}

static void
test_success(void **state)
{
	struct throttle *t = throttle_new(NULL);

	assert_int_equal(throttle_fail(t, "user:b@example.test", 10), 0);
	assert_int_equal(throttle_fail(t, "user:b@example.test", 11), 0);
	assert_int_equal(delay_of(t, "user:b@example.test", 12), 500);
	throttle_success(t, "user:b@example.test");
	assert_int_equal(delay_of(t, "user:b@example.test", 12), 0);
	throttle_success(t, "user:nobody");
	assert_int_equal(throttle_count(t), 0);
	throttle_free(&t);
}

static void
test_params(void **state)
{
	struct throttle_params p;
	struct throttle *t;
	time_t until;

	throttle_params_default(&p);
	p.max_failures = 3;
	p.window = 60;
	p.refuse_for = 120;
	p.delay_first_ms = 100;
	p.delay_max_ms = 300;
	t = throttle_new(&p);
	assert_int_equal(throttle_fail(t, "k", 0), 0);
	assert_int_equal(delay_of(t, "k", 0), 100);
	assert_int_equal(throttle_fail(t, "k", 1), 0);
	assert_int_equal(delay_of(t, "k", 1), 200);
	assert_int_equal(throttle_fail(t, "k", 2), 1);
	assert_int_equal(throttle_check(t, "k", 2, NULL, &until), -1);
	assert_int_equal(until, 122);
	assert_int_equal(throttle_check(t, "k", 122, NULL, NULL), 0);
	throttle_free(&t);
}

static void
test_bounded(void **state)
{
	struct throttle_params p;
	struct throttle *t;
	char key[64];

	throttle_params_default(&p);
	p.capacity = 8;
	p.max_failures = 2;
	t = throttle_new(&p);
	/* One refused key, then a flood of others. */
	throttle_fail(t, "ip:attacker", 100);
	throttle_fail(t, "ip:attacker", 100);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "ip:10.0.0.%d", i);
		assert_int_equal(throttle_fail(t, key, 101 + i), 0);
		assert_true(throttle_count(t) <= 8);
	}
	assert_int_equal(throttle_count(t), 8);
	/* The refused key outlived the flood; the oldest others went. */
	assert_int_equal(throttle_check(t, "ip:attacker", 200, NULL, NULL), -1);
	assert_int_equal(delay_of(t, "ip:10.0.0.0", 200), 0);
	assert_int_equal(delay_of(t, "ip:10.0.0.99", 200), 250);
	throttle_free(&t);
}

static void
test_long_keys(void **state)
{
	struct throttle *t = throttle_new(NULL);
	char a[THROTTLE_KEY_MAX + 20], b[THROTTLE_KEY_MAX + 20];

	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[5] = 'b';
	assert_int_equal(throttle_fail(t, a, 1), 0);
	assert_int_equal(delay_of(t, a, 1), 250);
	assert_int_equal(delay_of(t, b, 1), 0);
	/* Keys are cut at THROTTLE_KEY_MAX: the same prefix is the same key. */
	b[5] = 'a';
	b[sizeof(b) - 2] = 'z';
	assert_int_equal(delay_of(t, b, 1), 250);
	/* A prefix of a key is another key. */
	a[10] = '\0';
	assert_int_equal(delay_of(t, a, 1), 0);
	throttle_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_delay_then_refusal),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_long_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
