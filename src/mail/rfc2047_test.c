/*
 * Unit tests of encoded-word decoding: the examples of RFC 2047 section
 * 8, the charsets decoded in place and through iconv, words that must be
 * left alone, cut input and cut output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "mail/rfc2047.h"

struct decode_case {
	const char	*name;
	const char	*in;
	const char	*want;
};

#define FFFD	"\xef\xbf\xbd"

static const struct decode_case decode_cases[] = {
	/* RFC 2047 section 8. */
	{ "rfc from", "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
	    "Keith Moore <moore@cs.utk.edu>" },
	{ "rfc to", "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
	    "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>" },
	{ "rfc cc", "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
	    "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>" },
	{ "rfc subject", "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
	    "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example." },
	{ "rfc olle", "=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
	    "Olle J\xc3\xa4rnefors <ojarnef@admin.kth.se>" },
	{ "rfc hebrew", "Nathaniel Borenstein <nsb@thumper.bellcore.com> "
	    "(=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
	    "Nathaniel Borenstein <nsb@thumper.bellcore.com> (\xd7\x9d\xd7\x95"
	    "\xd7\x9c\xd7\xa9 \xd7\x9f\xd7\x91 \xd7\x99\xd7\x9c\xd7\x98\xd7\xa4\xd7\xa0)" },
	{ "rfc plain", "Time for ISO 10646?", "Time for ISO 10646?" },
	{ "rfc a", "(=?ISO-8859-1?Q?a?=)", "(a)" },
	{ "rfc a b", "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "rfc ab", "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "rfc ab 2sp", "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "rfc ab folded", "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "rfc a_b", "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "rfc _b", "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },

	/* Q and B. */
	{ "grusse", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin",
	    "Gr\xc3\xbc\xc3\x9f" "e aus Berlin" },
	{ "lower q, lower hex", "=?utf-8?q?Gr=c3=bc=c3=9fe?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "underscores", "=?utf-8?Q?one_two__three_?=", "one two  three " },
	{ "q =5F", "=?utf-8?Q?snake=5Fcase?=", "snake_case" },
	{ "b", "=?utf-8?B?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "lower b", "=?utf-8?b?R3LDvMOfZQ==?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "b no padding", "=?utf-8?b?R3LDvMOfZQ?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "empty text", "x =?utf-8?q?\?= y", "x  y" },
	{ "language", "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },

	/* White space between words, and around them. */
	{ "tab between", "=?utf-8?q?a?=\t=?utf-8?q?b?=", "ab" },
	{ "abutting words", "=?utf-8?q?a?==?utf-8?q?b?=", "ab" },
	{ "charset change", "=?utf-8?q?a?= =?windows-1252?q?=80?=", "a\xe2\x82\xac" },
	{ "word then text", "=?utf-8?q?a?=  b", "a  b" },
	{ "text then word", "Re:  =?utf-8?q?b?=", "Re:  b" },
	{ "mixed", "Re: [list] =?utf-8?q?caf=C3=A9?= time =?utf-8?q?2?= x",
	    "Re: [list] caf\xc3\xa9 time 2 x" },
	{ "glued to text", "x=?utf-8?q?y?=z", "xyz" },
	{ "text between keeps", "=?utf-8?q?a?= - =?utf-8?q?b?=", "a - b" },
	{ "split character", "=?utf-8?q?=E2=82?= =?UTF-8?q?=AC?=", "\xe2\x82\xac" },
	{ "split not joined over text", "=?utf-8?q?=E2=82?= x =?utf-8?q?=AC?=",
	    FFFD " x " FFFD },
	{ "split 4 byte", "=?utf-8?b?8J+Y?= =?utf-8?b?gA==?=", "\xf0\x9f\x98\x80" },

	/* Charsets. */
	{ "us-ascii 8bit", "=?us-ascii?q?a=E9b?=", "a" FFFD "b" },
	{ "utf-8 bad", "=?utf-8?q?a=FFb=C3?=", "a" FFFD "b" FFFD },
	{ "utf-8 overlong", "=?utf-8?q?=C0=AF=E0=80=AF?=", FFFD FFFD FFFD FFFD FFFD },
	{ "utf-8 surrogate", "=?utf-8?q?=ED=A0=80?=", FFFD FFFD FFFD },
	{ "utf-8 4 byte", "=?utf-8?q?=F0=9F=98=80?=", "\xf0\x9f\x98\x80" },
	{ "latin1", "=?latin1?q?=E9=FF?=", "\xc3\xa9\xc3\xbf" },
	{ "windows-1252", "=?windows-1252?q?=80_=93quoted=94_=8D?=",
	    "\xe2\x82\xac \xe2\x80\x9cquoted\xe2\x80\x9d \xc2\x8d" },
	{ "iso-8859-1 as 1252", "=?iso-8859-1?q?=85?=", "\xe2\x80\xa6" },
	{ "iso-8859-15", "=?iso-8859-15?q?=A4_=BD?=", "\xe2\x82\xac \xc5\x93" },
	{ "iso-8859-15 b", "=?ISO-8859-15?B?pA==?=", "\xe2\x82\xac" },
	{ "iso-2022-jp", "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
	    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
	{ "utf-16be", "=?utf-16be?b?AEEAQg==?=", "AB" },
	{ "utf-16be cut", "=?utf-16be?q?=00A=00?=", "A" FFFD },
	{ "controls", "=?utf-8?q?a=0D=0Ab=00c?=", "a  b c" },
	{ "controls 1252", "=?cp1252?q?a=0Ab?=", "a b" },
	{ "controls iconv", "=?utf-16be?q?=00a=00=0A?=", "a " },

	/* Left alone. */
	{ "unknown charset", "=?x-no-such-charset?q?abc?=", "=?x-no-such-charset?q?abc?=" },
	{ "unknown between", "=?utf-8?q?a?= =?x-bogus?q?b?= =?utf-8?q?c?=",
	    "a =?x-bogus?q?b?= c" },
	{ "bad encoding", "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "long encoding", "=?utf-8?qq?abc?=", "=?utf-8?qq?abc?=" },
	{ "space inside", "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
	{ "bad hex", "=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?=" },
	{ "short hex", "=?utf-8?q?a=4?=", "=?utf-8?q?a=4?=" },
	{ "bad base64", "=?utf-8?b?R3L*?=", "=?utf-8?b?R3L*?=" },
	{ "base64 len", "=?utf-8?b?R3LDv?=", "=?utf-8?b?R3LDv?=" },
	{ "base64 pad", "=?utf-8?b?R3L===?=", "=?utf-8?b?R3L===?=" },
	{ "base64 after pad", "=?utf-8?b?R3=LD?=", "=?utf-8?b?R3=LD?=" },
	{ "empty charset", "=??q?abc?=", "=??q?abc?=" },
	{ "only language", "=?*en?q?abc?=", "=?*en?q?abc?=" },
	{ "unterminated", "=?utf-8?q?abc", "=?utf-8?q?abc" },
	{ "half end", "=?utf-8?q?abc?", "=?utf-8?q?abc?" },
	{ "question mark", "=?utf-8?q?a?b?=", "=?utf-8?q?a?b?=" },
	{ "slash charset", "=?utf-8//TRANSLIT?q?a?=", "=?utf-8//TRANSLIT?q?a?=" },
	{ "not words", "1+1=? 2 ?= x =?", "1+1=? 2 ?= x =?" },
	{ "8bit inside", "=?utf-8?q?\xc3\xa9?=", "=?utf-8?q?\xc3\xa9?=" },
	{ "raw utf-8 kept", "Gr\xc3\xbc\xc3\x9f" "e =?utf-8?q?x?=", "Gr\xc3\xbc\xc3\x9f" "e x" },
	{ "raw junk kept", "\xff =?utf-8?q?x?=", "\xff x" },
	{ "bad then good", "=?utf-8?q?=?utf-8?q?ok?=", "=?utf-8?q?ok" },
	{ "empty", "", "" },
};

static void
test_decode_table(void **state)
{
	struct buf b = BUF_INIT;
	char *got;

	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];

		rfc2047_decode_buf(&b, c->in, strlen(c->in));
		got = buf_take(&b);
		if (strcmp(got, c->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", c->name, got, c->want);
		free(got);
	}
}

/* A charset name longer than RFC2047_CHARSET_MAX is not a word. */
static void
test_long_charset(void **state)
{
	char in[RFC2047_CHARSET_MAX + 32], out[sizeof(in)];
	size_t n;

	memset(in, 0, sizeof(in));
	memcpy(in, "=?", 2);
	memset(in + 2, 'a', RFC2047_CHARSET_MAX + 1);
	memcpy(in + 2 + RFC2047_CHARSET_MAX + 1, "?q?x?=", 6);
	n = rfc2047_decode(in, strlen(in), out, sizeof(out));
	assert_int_equal(n, strlen(in));
	assert_string_equal(out, in);
}

/* NUL bytes in the value are copied; text around them is still decoded. */
static void
test_nul_in_input(void **state)
{
	static const char in[] = "a\0=?utf-8?q?b?=";
	struct buf b = BUF_INIT;

	rfc2047_decode_buf(&b, in, sizeof(in) - 1);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "a\0b", 3);
	buf_free(&b);
}

/* Cut output: always terminated, a prefix, never half a character. */
static void
test_output_cut(void **state)
{
	static const char in[] = "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_=E2=82=AC_=F0=9F=98=80?= x";
	static const char full[] = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80 x";
	char out[64];
	size_t size, n;

	assert_int_equal(rfc2047_decode(in, sizeof(in) - 1, out, 0), 0);
	for (size = 1; size <= sizeof(full) + 1; size++) {
		memset(out, 'X', sizeof(out));
		n = rfc2047_decode(in, sizeof(in) - 1, out, size);
		assert_true(n < size);
		assert_int_equal(out[n], '\0');
		assert_int_equal(strlen(out), n);
		assert_memory_equal(out, full, n);
		assert_int_equal(out[size], 'X');
		/* The next byte is not a continuation: no character was cut. */
		assert_true(((unsigned char)full[n] & 0xc0) != 0x80);
		if (size >= sizeof(full))
			assert_int_equal(n, sizeof(full) - 1);
		else
			assert_true(n + 3 >= size - 1);
	}
	assert_string_equal(out, full);
}

/* Every prefix of the input decodes without reading past it. */
static void
test_input_cut(void **state)
{
	static const char in[] = "a =?iso-8859-15?B?pA==?= =?utf-8?q?=C3=A9_b?= "
	    "=?utf-16be?b?AEEAQg==?= z";
	struct buf b = BUF_INIT;
	char *copy;

	for (size_t n = 0; n < sizeof(in); n++) {
		/* Exact-size copies so the sanitizers catch overreads. */
		copy = malloc(n > 0 ? n : 1);
		assert_non_null(copy);
		memcpy(copy, in, n);
		rfc2047_decode_buf(&b, copy, n);
		free(copy);
		if (n > 0 && n < 5)
			assert_memory_equal(b.p, in, n);
		buf_free(&b);
	}
	/* Cut inside the second word: it stays as written. */
	rfc2047_decode_buf(&b, in, 25 + strlen("=?utf-8?q?=C3=A"));
	assert_string_equal(b.p, "a \xe2\x82\xac =?utf-8?q?=C3=A");
	buf_free(&b);
}

/*
 * Input made to look like many overlapping words must still be decoded
 * in linear time; the ctest timeout catches a quadratic scan.
 */
static void
test_linear(void **state)
{
	static const char *const units[] = { "=?utf-8?q?x", "=?a?", "=?x-bad?q?a?=",
	    "=?utf-8?q?a?= " };
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t u, i, count;

	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		/* Unknown charsets cost an iconv_open() each: fewer of them. */
		count = u == 2 ? 2000 : 200000 / strlen(units[u]);
		for (i = 0; i < count; i++)
			buf_addstr(&in, units[u]);
		rfc2047_decode_buf(&out, in.p, in.len);
		assert_true(out.len <= in.len);
		if (u < 3)
			assert_memory_equal(out.p, in.p, in.len);
		buf_free(&in);
		buf_free(&out);
	}
}

static void
test_has_words(void **state)
{
	assert_int_equal(rfc2047_has_words("a =?x", 5), 1);
	assert_int_equal(rfc2047_has_words("a =", 3), 0);
	assert_int_equal(rfc2047_has_words("", 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_long_charset),
		cmocka_unit_test(test_nul_in_input),
		cmocka_unit_test(test_output_cut),
		cmocka_unit_test(test_input_cut),
		cmocka_unit_test(test_linear),
		cmocka_unit_test(test_has_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
