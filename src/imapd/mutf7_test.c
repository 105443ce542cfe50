/*
 * Unit tests of modified UTF-7 (RFC 3501 5.1.3): the RFC's examples,
 * round trips, the strictness of the decoder and UTF-8 validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "imapd/mutf7.h"

struct pair {
	const char	*utf8;
	const char	*mutf7;
};

static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&", "&-" },
	{ "a&b&&", "a&-b&-&-" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	    "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-" },
	{ "Gel\xc3\xb6schte Elemente", "Gel&APY-schte Elemente" },
	{ "\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8\xd0\xb5",
	    "&BBIERQQ+BDQETwRJBDgENQ-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },		/* U+1F600, a surrogate pair */
	{ "x\xf0\x9f\x98\x80y\xe2\x82\xac", "x&2D3eAA-y&IKw-" },
	{ "\x01", "&AAE-" },				/* controls are encoded */
	{ "tab\there", "tab&AAk-here" },
	{ "\xc2\xa3\xe2\x82\xac", "&AKMgrA-" },		/* one run, two characters */
};

static void
test_pairs(void **state)
{
	char out[256];
	int n;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = mutf7_encode(pairs[i].utf8, out, sizeof(out));
		if (n < 0 || strcmp(out, pairs[i].mutf7) != 0 || (size_t)n != strlen(out))
			fail_msg("encode %zu: got %d \"%s\", want \"%s\"", i, n,
			    n < 0 ? "" : out, pairs[i].mutf7);
		n = mutf7_decode(pairs[i].mutf7, out, sizeof(out));
		if (n < 0 || strcmp(out, pairs[i].utf8) != 0 || (size_t)n != strlen(out))
			fail_msg("decode %zu: got %d \"%s\"", i, n, n < 0 ? "" : out);
	}
}

static const char *const bad_mutf7[] = {
	"&",			/* unterminated */
	"a&U,BTFw",		/* unterminated run */
	"&U,BTFw-&ZeVnLIqe-",	/* two runs in a row: not canonical */
	"&AGE-",		/* "a" encoded */
	"&ACY-",		/* "&" encoded instead of "&-" */
	"&AC0-",		/* "-" encoded */
	"&2D0-",		/* a lone high surrogate */
	"&3gA-",		/* a lone low surrogate */
	"&2D3YPQ-",		/* high surrogate followed by high surrogate */
	"&AOk",			/* missing "-" */
	"&AOl-",		/* non-zero padding bits */
	"&AOkA-",		/* a dangling base64 character */
	"&AOk=-",		/* padding is not used */
	"&AO/-",		/* "/" instead of "," */
	"&AAA-",		/* NUL */
	"\xc3\xa9",		/* 8-bit */
	"a\tb",			/* control character */
	"a\x7f",
	"&-&",
	"&U,BTF-",		/* 30 bits: a unit and a bit */
};

static void
test_bad(void **state)
{
	char out[256];

	for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++)
		if (mutf7_decode(bad_mutf7[i], out, sizeof(out)) != -1)
			fail_msg("decode accepted \"%s\" as \"%s\"", bad_mutf7[i], out);
}

static const char *const bad_utf8[] = {
	"\xc0\x80",		/* overlong NUL */
	"\xc1\xbf",		/* overlong */
	"\xe0\x80\xaf",		/* overlong "/" */
	"\xf0\x80\x80\xaf",
	"\xed\xa0\x80",		/* surrogate U+D800 */
	"\xed\xbf\xbf",		/* surrogate U+DFFF */
	"\xf4\x90\x80\x80",	/* U+110000 */
	"\xf5\x80\x80\x80",
	"\xff",
	"\x80",			/* lone continuation */
	"\xe2\x82",		/* truncated */
	"a\xc3",
	"\xc3\x28",		/* bad continuation */
};

static void
test_utf8(void **state)
{
	char out[64];

	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		if (mutf7_utf8_valid(bad_utf8[i], strlen(bad_utf8[i])))
			fail_msg("utf8_valid accepted case %zu", i);
		if (mutf7_encode(bad_utf8[i], out, sizeof(out)) != -1)
			fail_msg("encode accepted case %zu", i);
	}
	assert_true(mutf7_utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	assert_true(mutf7_utf8_valid("\xee\x80\x80", 3));	/* U+E000 */
	assert_true(mutf7_utf8_valid("a\0b", 3));
	assert_true(mutf7_utf8_valid("", 0));
}

static void
test_small_buffer(void **state)
{
	char out[8];

	assert_int_equal(mutf7_encode("abcdefg", out, 8), 7);
	assert_int_equal(mutf7_encode("abcdefgh", out, 8), -1);
	assert_int_equal(mutf7_encode("\xc3\xa9", out, 6), 5);	/* "&AOk-" */
	assert_int_equal(mutf7_encode("\xc3\xa9", out, 5), -1);
	assert_int_equal(mutf7_decode("&AOk-", out, 3), 2);
	assert_int_equal(mutf7_decode("&AOk-", out, 2), -1);
	assert_int_equal(mutf7_encode("x", out, 0), -1);
}

/* Every code point class survives encode then decode. */
static void
test_round_trip(void **state)
{
	static const unsigned cps[] = { 0x1, 0x1f, 0x7f, 0x80, 0xff, 0x100, 0x7ff, 0x800,
	    0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x1f600 };
	char in[64], enc[128], dec[64];
	size_t i, j, n;
	unsigned cp;

	for (i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		for (j = 0; j < 3; j++) {
			n = 0;
			if (j > 0)
				in[n++] = j == 1 ? '&' : 'a';
			cp = cps[i];
			if (cp < 0x80)
				in[n++] = (char)cp;
			else if (cp < 0x800) {
				in[n++] = (char)(0xc0 | cp >> 6);
				in[n++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				in[n++] = (char)(0xe0 | cp >> 12);
				in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				in[n++] = (char)(0x80 | (cp & 0x3f));
			} else {
				in[n++] = (char)(0xf0 | cp >> 18);
				in[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				in[n++] = (char)(0x80 | (cp & 0x3f));
			}
			in[n++] = 'z';
			in[n] = '\0';
			if (mutf7_encode(in, enc, sizeof(enc)) < 0)
				fail_msg("encode U+%04X", cp);
			if (mutf7_decode(enc, dec, sizeof(dec)) < 0 || strcmp(dec, in) != 0)
				fail_msg("round trip U+%04X via \"%s\"", cp, enc);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
