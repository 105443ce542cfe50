/*
 * Unit tests of password hashing: round trip, known hashes of other
 * methods, refusals, generated passwords.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/password.h"

static void
test_hash_and_verify(void **state)
{
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];

	assert_int_equal(password_hash("correct horse", a, sizeof(a)), 0);
	assert_int_equal(strncmp(a, "$y$", 3), 0);
	assert_int_equal(password_verify("correct horse", a), 1);
	assert_int_equal(password_verify("correct horsE", a), 0);
	assert_int_equal(password_verify("", a), 0);
	/* A fresh salt every time. */
	assert_int_equal(password_hash("correct horse", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(password_verify("correct horse", b), 1);
	/* UTF-8 and the empty password are passwords like any other. */
	assert_int_equal(password_hash("p\xc3\xa4ss", a, sizeof(a)), 0);
	assert_int_equal(password_verify("p\xc3\xa4ss", a), 1);
	assert_int_equal(password_hash("", a, sizeof(a)), 0);
	assert_int_equal(password_verify("", a), 1);
}

static void
test_known_hashes(void **state)
{
	static const struct { const char *plain; const char *hash; int want; } cases[] = {
		{ "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
		    "O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", 1 },
		{ "Hello world?", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
		    "O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", 0 },
		{ "U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", 1 },
		{ "U*V", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", 0 },
		/* Truncated or altered hashes never match. */
		{ "U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe", 0 },
		{ "U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeX", 0 },
		{ "x", "", 0 },
		{ "x", "!", 0 },
		{ "x", "*", 0 },
		{ "x", "!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/", 0 },
		{ "x", "$unknown$abc", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(password_verify(cases[i].plain, cases[i].hash),
		    cases[i].want);
	assert_int_equal(password_verify(NULL, "$y$"), 0);
	assert_int_equal(password_verify("x", NULL), 0);
}

static void
test_hash_limits(void **state)
{
	char out[PASSWORD_HASH_MAX], small[16], long_plain[600];

	assert_int_equal(password_hash("secret", small, sizeof(small)), -1);
	memset(long_plain, 'a', sizeof(long_plain) - 1);
	long_plain[sizeof(long_plain) - 1] = '\0';
	assert_int_equal(password_hash(long_plain, out, sizeof(out)), -1);
	long_plain[511] = '\0';
	assert_int_equal(password_hash(long_plain, out, sizeof(out)), 0);
	assert_int_equal(password_verify(long_plain, out), 1);
}

static void
test_generate(void **state)
{
	char a[PASSWORD_GENERATED_LEN + 1], b[PASSWORD_GENERATED_LEN + 1];

	password_generate(a, sizeof(a));
	password_generate(b, sizeof(b));
	assert_int_equal(strlen(a), PASSWORD_GENERATED_LEN);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < PASSWORD_GENERATED_LEN; i++) {
		assert_non_null(strchr("23456789abcdefghijkmnpqrstuvwxyz"
		    "ABCDEFGHJKLMNPQRSTUVWXYZ", a[i]));
		assert_true(a[i] != '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_known_hashes),
		cmocka_unit_test(test_hash_limits),
		cmocka_unit_test(test_generate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
