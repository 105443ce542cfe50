/*
 * Unit tests of MX ordering (RFC 5321 5.1) and null MX (RFC 7505).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "smtpc/smtpc_mx.h"
#include "smtpc/smtpc_session.h"

static unsigned
first(unsigned n)
{
	return 0;
}

static unsigned
last(unsigned n)
{
	return n - 1;
}

static void
fill(struct smtpc_mx *mx, const char *host, unsigned pref)
{
	snprintf(mx->host, sizeof(mx->host), "%s", host);
	mx->pref = pref;
}

static void
test_order_by_preference(void **state)
{
	struct smtpc_mx mx[4];

	fill(&mx[0], "c", 30);
	fill(&mx[1], "a", 10);
	fill(&mx[2], "d", 40);
	fill(&mx[3], "b", 20);
	smtpc_mx_order(mx, 4, smtpc_mx_random);
	assert_string_equal(mx[0].host, "a");
	assert_string_equal(mx[1].host, "b");
	assert_string_equal(mx[2].host, "c");
	assert_string_equal(mx[3].host, "d");
}

static void
test_equal_preferences_shuffled(void **state)
{
	struct smtpc_mx mx[4];
	int seen_first[3] = { 0, 0, 0 };

	/* deterministic "random": different choices give different orders */
	fill(&mx[0], "x", 5);
	fill(&mx[1], "y", 5);
	fill(&mx[2], "z", 5);
	fill(&mx[3], "low", 1);
	smtpc_mx_order(mx, 4, first);
	assert_string_equal(mx[0].host, "low");
	char a[3][8];
	for (int i = 0; i < 3; i++)
		snprintf(a[i], sizeof(a[i]), "%s", mx[i + 1].host);
	smtpc_mx_order(mx, 4, last);
	assert_string_equal(mx[0].host, "low");
	/* every host of the group is still there exactly once */
	int found = 0;
	for (int i = 1; i < 4; i++)
		for (int j = 0; j < 3; j++)
			found += strcmp(mx[i].host, a[j]) == 0;
	assert_int_equal(found, 3);

	/* with the real source each of the equals comes first some of the time */
	for (int round = 0; round < 300; round++) {
		fill(&mx[0], "x", 5);
		fill(&mx[1], "y", 5);
		fill(&mx[2], "z", 5);
		smtpc_mx_order(mx, 3, smtpc_mx_random);
		seen_first[mx[0].host[0] - 'x']++;
	}
	for (int i = 0; i < 3; i++)
		assert_true(seen_first[i] > 30);
}

static void
test_null_mx(void **state)
{
	struct smtpc_mx mx[2];

	fill(&mx[0], "", 0);
	assert_true(smtpc_mx_is_null(mx, 1));
	fill(&mx[0], ".", 0);
	assert_true(smtpc_mx_is_null(mx, 1));
	fill(&mx[0], "mx.example", 0);
	assert_false(smtpc_mx_is_null(mx, 1));
	assert_false(smtpc_mx_is_null(mx, 0));
}

static void
test_random_range(void **state)
{
	for (int i = 0; i < 1000; i++)
		assert_true(smtpc_mx_random(7) < 7);
	assert_int_equal(smtpc_mx_random(1), 0);
	assert_int_equal(smtpc_mx_random(0), 0);
}

/* A backup MX keeps only the hosts better than itself. */
static void
test_cut_self(void **state)
{
	struct smtpc_mx mx[4];

	fill(&mx[0], "mx1.example.org", 10);
	fill(&mx[1], "peer.example.org", 20);
	fill(&mx[2], "Mail.Example.TEST.", 20);
	fill(&mx[3], "mx3.example.org", 30);
	assert_int_equal(smtpc_mx_cut_self(mx, 4, "mail.example.test"), 1);
	assert_int_equal(smtpc_mx_cut_self(mx, 4, "other.example.test"), 4);
	assert_int_equal(smtpc_mx_cut_self(mx, 4, ""), 4);
	assert_int_equal(smtpc_mx_cut_self(mx, 4, NULL), 4);
	/* the best one: nothing left */
	assert_int_equal(smtpc_mx_cut_self(mx, 4, "mx1.example.org."), 0);
	/* a name that only starts like ours is not ours */
	assert_int_equal(smtpc_mx_cut_self(mx, 4, "mx1.example"), 4);
}

static void
test_addr_is_self(void **state)
{
	struct sockaddr_storage self[2], a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a;
	struct sockaddr_in6 *sin6;

	memset(self, 0, sizeof(self));
	sin = (struct sockaddr_in *)&self[0];
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
	sin6 = (struct sockaddr_in6 *)&self[1];
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(25);
	inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);

	memcpy(&a, &self[0], sizeof(a));
	assert_int_equal(smtpc_addr_is_self(&a, self, 2), 1);
	sin = (struct sockaddr_in *)&a;
	sin->sin_port = htons(2525);	/* another port: another server */
	assert_int_equal(smtpc_addr_is_self(&a, self, 2), 0);
	sin->sin_port = htons(25);
	inet_pton(AF_INET, "192.0.2.2", &sin->sin_addr);
	assert_int_equal(smtpc_addr_is_self(&a, self, 2), 0);
	memcpy(&a, &self[1], sizeof(a));
	assert_int_equal(smtpc_addr_is_self(&a, self, 2), 1);
	assert_int_equal(smtpc_addr_is_self(&a, self, 0), 0);
}

/* RFC 3461 4: xtext for ENVID and ORCPT on the wire. */
static void
test_xtext(void **state)
{
	static const struct {
		const char	*in, *want;
	} cases[] = {
		{ "plain@example.test", "plain@example.test" },
		{ "a+b=c", "a+2Bb+3Dc" },
		{ "two words", "two+20words" },
		{ "caf\xc3\xa9", "caf+C3+A9" },
		{ "", "" },
		{ "~!", "~!" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(smtpc_xtext(cases[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(smtpc_xtext("abc", out, 4), 0);
	assert_int_equal(smtpc_xtext("abcd", out, 4), -1);
	assert_int_equal(smtpc_xtext("a+", out, 4), -1);	/* "a+2B" needs 5 */
	assert_int_equal(smtpc_xtext("a+", out, 5), 0);
	assert_string_equal(out, "a+2B");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_order_by_preference),
		cmocka_unit_test(test_equal_preferences_shuffled),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_random_range),
		cmocka_unit_test(test_cut_self),
		cmocka_unit_test(test_addr_is_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
