/*
 * Unit tests of addr: RFC 5321 paths, table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mail/addr.h"

/* Inputs carry their length so that cases may hold NUL bytes. */
#define IN(s)		s, sizeof(s) - 1
#define OK(l, d, w, rest)	0, l, d, w, rest
#define ERR(reason, w)	-1, reason, NULL, w, NULL

enum want {
	W_NULL = 1 << 0,
	W_PM = 1 << 1,
	W_UTF8 = 1 << 2,
	W_LIT = 1 << 3,
};

static const char non_ascii[] = "non-ASCII address without SMTPUTF8";

struct path_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	unsigned	 flags;
	int		 rc;
	const char	*local;		/* or the reason when rc == -1 */
	const char	*domain;
	unsigned	 want;		/* enum want bits */
	const char	*rest;		/* what follows the path */
};

#define N	ADDR_ALLOW_NULL
#define P	ADDR_ALLOW_POSTMASTER
#define U	ADDR_ALLOW_UTF8
#define B	ADDR_ALLOW_NO_BRACKETS

static const struct path_case path_cases[] = {
	/* plain */
	{ "plain", IN("<user@example.com>"), 0, OK("user", "example.com", 0, "") },
	{ "params follow", IN("<user@example.com> SIZE=10"), 0,
	    OK("user", "example.com", 0, " SIZE=10") },
	{ "case kept", IN("<User.Name@Example.COM>"), 0,
	    OK("User.Name", "Example.COM", 0, "") },
	{ "atext specials", IN("<a!#$%&'*+-/=?^_`{|}~b@x.example>"), 0,
	    OK("a!#$%&'*+-/=?^_`{|}~b", "x.example", 0, "") },
	{ "single label domain", IN("<root@localhost>"), 0, OK("root", "localhost", 0, "") },
	{ "digit labels", IN("<a@1.2.3.4>"), 0, OK("a", "1.2.3.4", 0, "") },
	{ "hyphen inside label", IN("<a@mx-1.ex-ample.com>"), 0,
	    OK("a", "mx-1.ex-ample.com", 0, "") },
	{ "empty", IN(""), 0, ERR("missing <", 0) },
	{ "no closing", IN("<"), 0, ERR("missing >", 0) },
	{ "missing <", IN("a@b"), 0, ERR("missing <", 0) },
	{ "missing >", IN("<a@b"), 0, ERR("missing >", 0) },
	{ "missing domain", IN("<a>"), 0, ERR("missing domain", 0) },
	{ "empty domain", IN("<a@>"), 0, ERR("missing domain", 0) },
	{ "space before >", IN("<a@b >"), 0, ERR("bad domain", 0) },
	{ "space inside", IN("<a b@x>"), 0, ERR("bad local part", 0) },
	{ "two ats", IN("<a@b@c>"), 0, ERR("bad domain", 0) },

	/* null path */
	{ "null", IN("<>"), N, OK("", "", W_NULL, "") },
	{ "null params", IN("<> BODY=8BITMIME"), N, OK("", "", W_NULL, " BODY=8BITMIME") },
	{ "null refused", IN("<>"), 0, ERR("null path not allowed", 0) },
	{ "null no brackets", IN(""), N | B, ERR("bad local part", 0) },

	/* Postmaster */
	{ "postmaster", IN("<Postmaster>"), P, OK("Postmaster", "", W_PM, "") },
	{ "postmaster any case", IN("<pOSTMASTER>"), P, OK("pOSTMASTER", "", W_PM, "") },
	{ "postmaster refused", IN("<Postmaster>"), 0, ERR("missing domain", 0) },
	{ "postmaster with domain", IN("<Postmaster@example.com>"), P,
	    OK("Postmaster", "example.com", 0, "") },
	{ "postmaster prefix", IN("<Postmasters>"), P, ERR("missing domain", 0) },
	{ "postmaster short", IN("<Postmaste>"), P, ERR("missing domain", 0) },
	{ "postmaster quoted", IN("<\"Postmaster\">"), P, ERR("missing domain", 0) },
	{ "postmaster routed", IN("<@a.example:Postmaster>"), P, ERR("missing domain", 0) },
	{ "postmaster bare", IN("postmaster"), P | B, OK("postmaster", "", W_PM, "") },

	/* source routes are dropped */
	{ "route one", IN("<@relay.example:user@d.example>"), 0,
	    OK("user", "d.example", 0, "") },
	{ "route two", IN("<@a.example,@b.example:user@d.example>"), 0,
	    OK("user", "d.example", 0, "") },
	{ "route empty domain", IN("<@:user@d>"), 0, ERR("missing domain", 0) },
	{ "route no colon", IN("<@a.example user@d>"), 0, ERR("bad source route", 0) },
	{ "route comma no at", IN("<@a,b:user@d>"), 0, ERR("bad source route", 0) },
	{ "route literal", IN("<@[1.2.3.4]:user@d>"), 0, ERR("bad source route", 0) },
	{ "route bad domain", IN("<@-a:user@d>"), 0, ERR("bad domain", 0) },
	{ "route only", IN("<@a.example>"), 0, ERR("bad source route", 0) },
	{ "route then end", IN("<@a.example:"), 0, ERR("missing >", 0) },

	/* quoted local parts */
	{ "quoted space", IN("<\"john doe\"@x.example>"), 0,
	    OK("\"john doe\"", "x.example", 0, "") },
	{ "quoted at", IN("<\"a@b\"@x>"), 0, OK("\"a@b\"", "x", 0, "") },
	{ "quoted escapes", IN("<\"a\\\"b\\\\c\"@x>"), 0,
	    OK("\"a\\\"b\\\\c\"", "x", 0, "") },
	{ "quoted escaped letter", IN("<\"\\a\"@x>"), 0, OK("\"\\a\"", "x", 0, "") },
	{ "quoted empty", IN("<\"\"@x>"), 0, OK("\"\"", "x", 0, "") },
	{ "quoted dots", IN("<\"..a..\"@x>"), 0, OK("\"..a..\"", "x", 0, "") },
	{ "quoted unterminated", IN("<\"abc@x>"), 0, ERR("unterminated quoted string", 0) },
	{ "quoted pair at end", IN("<\"abc\\"), 0, ERR("bad quoted pair", 0) },
	{ "quoted pair control", IN("<\"a\\\x01\"@x>"), 0, ERR("bad quoted pair", 0) },
	{ "quoted tab", IN("<\"a\tb\"@x>"), 0, ERR("control character in address", 0) },
	{ "quoted DEL", IN("<\"a\x7f\"@x>"), 0, ERR("control character in address", 0) },
	{ "quoted then text", IN("<\"a\"b@x>"), 0, ERR("bad local part", 0) },
	{ "quoted no domain", IN("<\"a\">"), 0, ERR("missing domain", 0) },

	/* dot-string errors */
	{ "leading dot", IN("<.a@x>"), 0, ERR("bad local part", 0) },
	{ "trailing dot", IN("<a.@x>"), 0, ERR("bad local part", 0) },
	{ "double dot", IN("<a..b@x>"), 0, ERR("bad local part", 0) },
	{ "only dot", IN("<.@x>"), 0, ERR("bad local part", 0) },
	{ "empty local", IN("<\x01@x>"), 0, ERR("bad local part", 0) },
	{ "comma in local", IN("<a,b@x>"), 0, ERR("bad local part", 0) },
	{ "bracket in local", IN("<a[b@x>"), 0, ERR("bad local part", 0) },

	/* address literals */
	{ "ipv4 literal", IN("<u@[192.0.2.1]>"), 0, OK("u", "[192.0.2.1]", W_LIT, "") },
	{ "ipv4 leading zeros", IN("<u@[010.0.0.001]>"), 0,
	    OK("u", "[010.0.0.001]", W_LIT, "") },
	{ "ipv6 literal", IN("<u@[IPv6:2001:db8::1]>"), 0,
	    OK("u", "[IPv6:2001:db8::1]", W_LIT, "") },
	{ "ipv6 lower tag", IN("<u@[ipv6:::1]>"), 0, OK("u", "[ipv6:::1]", W_LIT, "") },
	{ "ipv6 full", IN("<u@[IPv6:1:2:3:4:5:6:7:8]>"), 0,
	    OK("u", "[IPv6:1:2:3:4:5:6:7:8]", W_LIT, "") },
	{ "ipv6 v4 tail", IN("<u@[IPv6:::ffff:192.0.2.1]>"), 0,
	    OK("u", "[IPv6:::ffff:192.0.2.1]", W_LIT, "") },
	{ "ipv4 256", IN("<u@[256.1.1.1]>"), 0, ERR("bad address literal", 0) },
	{ "ipv4 three parts", IN("<u@[1.2.3]>"), 0, ERR("bad address literal", 0) },
	{ "ipv4 five parts", IN("<u@[1.2.3.4.5]>"), 0, ERR("bad address literal", 0) },
	{ "ipv4 four digits", IN("<u@[1234.2.3.4]>"), 0, ERR("bad address literal", 0) },
	{ "ipv4 empty part", IN("<u@[1..3.4]>"), 0, ERR("bad address literal", 0) },
	{ "ipv6 bad hex", IN("<u@[IPv6:zz::1]>"), 0, ERR("bad address literal", 0) },
	{ "ipv6 too many", IN("<u@[IPv6:1:2:3:4:5:6:7:8:9]>"), 0,
	    ERR("bad address literal", 0) },
	{ "ipv6 no tag", IN("<u@[2001:db8::1]>"), 0, ERR("bad address literal", 0) },
	{ "ipv6 empty", IN("<u@[IPv6:]>"), 0, ERR("bad address literal", 0) },
	{ "general literal", IN("<u@[x400:foo]>"), 0, ERR("bad address literal", 0) },
	{ "literal empty", IN("<u@[]>"), 0, ERR("bad address literal", 0) },
	{ "literal unclosed", IN("<u@[1.2.3.4>"), 0, ERR("bad address literal", 0) },
	{ "literal space", IN("<u@[1.2.3.4 ]>"), 0, ERR("bad address literal", 0) },
	{ "literal backslash", IN("<u@[1.2\\.3.4]>"), 0, ERR("bad address literal", 0) },
	{ "literal then text", IN("<u@[1.2.3.4]x>"), 0, ERR("bad address literal", 0) },

	/* bad domains */
	{ "leading hyphen", IN("<u@-a.example>"), 0, ERR("bad domain", 0) },
	{ "trailing hyphen", IN("<u@a-.example>"), 0, ERR("bad domain", 0) },
	{ "label leading hyphen", IN("<u@a.-b.example>"), 0, ERR("bad domain", 0) },
	{ "empty label", IN("<u@a..example>"), 0, ERR("bad domain", 0) },
	{ "leading dot", IN("<u@.example>"), 0, ERR("bad domain", 0) },
	{ "trailing dot", IN("<u@example.com.>"), 0, ERR("bad domain", 0) },
	{ "underscore", IN("<u@a_b.example>"), 0, ERR("bad domain", 0) },
	{ "label 64", IN("<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x>"),
	    0, ERR("bad domain", 0) },
	{ "label 63", IN("<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x>"),
	    0, OK("u", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x", 0, "") },

	/* UTF-8 (RFC 6531) */
	{ "utf8 local refused", IN("<j\xc3\xb6rg@example.com>"), 0, ERR(non_ascii, W_UTF8) },
	{ "utf8 local", IN("<j\xc3\xb6rg@example.com>"), U,
	    OK("j\xc3\xb6rg", "example.com", W_UTF8, "") },
	{ "utf8 domain refused", IN("<u@b\xc3\xbc" "cher.example>"), 0, ERR(non_ascii, W_UTF8) },
	{ "utf8 domain", IN("<u@b\xc3\xbc" "cher.example>"), U,
	    OK("u", "b\xc3\xbc" "cher.example", W_UTF8, "") },
	{ "utf8 quoted", IN("<\"j\xc3\xb6 rg\"@x>"), U, OK("\"j\xc3\xb6 rg\"", "x", W_UTF8, "") },
	{ "utf8 quoted refused", IN("<\"j\xc3\xb6\"@x>"), 0, ERR(non_ascii, W_UTF8) },
	{ "utf8 four bytes", IN("<\xf0\x9f\x98\x80@x>"), U, OK("\xf0\x9f\x98\x80", "x", W_UTF8, "") },
	{ "utf8 three bytes", IN("<\xe2\x82\xac@x>"), U, OK("\xe2\x82\xac", "x", W_UTF8, "") },
	{ "utf8 ascii only", IN("<a@x>"), U, OK("a", "x", 0, "") },
	{ "utf8 bad continuation", IN("<\xc3\x28@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 lone continuation", IN("<\x80@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 overlong", IN("<\xc0\xaf@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 overlong 3", IN("<\xe0\x80\xaf@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 surrogate", IN("<\xed\xa0\x80@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 above max", IN("<\xf4\x90\x80\x80@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 f5", IN("<\xf5\x80\x80\x80@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 truncated", IN("<a\xe2\x82"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 C1 control", IN("<a\xc2\x85@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 bad in domain", IN("<a@x\xff>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 bad in quoted", IN("<\"\xfe\"@x>"), U, ERR("invalid UTF-8", W_UTF8) },
	{ "utf8 in literal", IN("<a@[\xc3\xb6]>"), U, ERR("bad address literal", W_UTF8) },
	{ "utf8 in literal refused", IN("<a@[\xc3\xb6]>"), 0, ERR(non_ascii, W_UTF8) },

	/* no brackets (tolerated when asked) */
	{ "bare", IN("user@example.com"), B, OK("user", "example.com", 0, "") },
	{ "bare params", IN("user@example.com SIZE=1"), B,
	    OK("user", "example.com", 0, " SIZE=1") },
	{ "bare with >", IN("user@example.com>"), B, ERR("bad domain", 0) },
	{ "bare refused", IN("user@example.com"), 0, ERR("missing <", 0) },
	{ "bracketed still fine", IN("<user@example.com>"), B, OK("user", "example.com", 0, "") },
	{ "bare no domain", IN("user"), B, ERR("missing domain", 0) },
	{ "bare null", IN("<>"), B | N, OK("", "", W_NULL, "") },

	/* controls and NUL */
	{ "NUL in local", IN("<a\0b@x>"), 0, ERR("control character in address", 0) },
	{ "NUL in domain", IN("<a@x\0y>"), 0, ERR("control character in address", 0) },
	{ "NUL in quoted", IN("<\"a\0\"@x>"), 0, ERR("control character in address", 0) },
	{ "NUL first", IN("<\0@x>"), 0, ERR("bad local part", 0) },
	{ "CR in local", IN("<a\rb@x>"), 0, ERR("control character in address", 0) },
	{ "LF in domain", IN("<a@x\n>"), 0, ERR("control character in address", 0) },
	{ "DEL in local", IN("<a\x7f@x>"), 0, ERR("control character in address", 0) },
	{ "tab in domain", IN("<a@x\t>"), 0, ERR("control character in address", 0) },
};

static void
test_parse_path(void **state)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *tc = &path_cases[i];
		struct addr a;
		const char *end = NULL, *err = NULL;
		int rc;

		print_message("case: %s\n", tc->name);
		rc = addr_parse_path(tc->in, tc->len, tc->flags, &a, &end, &err);
		assert_int_equal(rc, tc->rc);
		assert_int_equal(a.has_utf8 != 0, (tc->want & W_UTF8) != 0);
		if (rc == -1) {
			assert_non_null(err);
			assert_string_equal(err, tc->local);
			continue;
		}
		assert_string_equal(a.local, tc->local);
		assert_string_equal(a.domain, tc->domain);
		assert_int_equal(a.is_null != 0, (tc->want & W_NULL) != 0);
		assert_int_equal(a.is_postmaster != 0, (tc->want & W_PM) != 0);
		assert_int_equal(a.is_literal != 0, (tc->want & W_LIT) != 0);
		assert_true(end >= tc->in && end <= tc->in + tc->len);
		assert_int_equal((size_t)(tc->in + tc->len - end), strlen(tc->rest));
		assert_memory_equal(end, tc->rest, strlen(tc->rest));
	}
}

/* Limits of RFC 5321 4.5.3.1, on inputs built to the exact length. */
static void
test_lengths(void **state)
{
	static const struct {
		const char	*name;
		size_t		 local;		/* octets of the local part */
		size_t		 domain;	/* octets of the domain */
		int		 quoted;
		unsigned	 flags;
		int		 rc;
	} cases[] = {
		{ "local 64", 64, 10, 0, 0, 0 },
		{ "local 65", 65, 10, 0, 0, -1 },
		{ "quoted local 64", 64, 10, 1, 0, 0 },
		{ "quoted local 65", 65, 10, 1, 0, -1 },
		{ "path 256", 64, 189, 0, 0, 0 },
		{ "path 257", 64, 190, 0, 0, -1 },
		{ "bare path 256", 64, 189, 0, ADDR_ALLOW_NO_BRACKETS, 0 },
		{ "bare path 257", 64, 190, 0, ADDR_ALLOW_NO_BRACKETS, -1 },
		{ "domain 255", 1, 255, 0, 0, -1 },
		{ "domain 256", 1, 256, 0, 0, -1 },
		{ "local 1000", 1000, 10, 0, 0, -1 },
	};
	char buf[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr a;
		const char *end, *err = NULL;
		size_t n = 0, lab = 0;
		int bare = (cases[i].flags & ADDR_ALLOW_NO_BRACKETS) != 0;

		print_message("case: %s\n", cases[i].name);
		if (!bare)
			buf[n++] = '<';
		if (cases[i].quoted)
			buf[n++] = '"';
		for (size_t j = 0; j < cases[i].local; j++)
			buf[n++] = 'l';
		if (cases[i].quoted)
			buf[n++] = '"';
		buf[n++] = '@';
		/* Labels of 50 letters joined by dots, to the exact length. */
		for (size_t j = 0; j < cases[i].domain; j++) {
			int dot = lab == 50 && j + 1 < cases[i].domain;
			buf[n++] = dot ? '.' : 'd';
			lab = dot ? 0 : lab + 1;
		}
		if (!bare)
			buf[n++] = '>';
		assert_int_equal(addr_parse_path(buf, n, cases[i].flags, &a, &end, &err),
		    cases[i].rc);
		if (cases[i].rc == -1)
			assert_ptr_equal(err, addr_err_too_long);
		else
			assert_ptr_equal(end, buf + n);
	}
}

static void
test_local_unquoted(void **state)
{
	static const struct {
		const char	*path;
		const char	*want;
	} cases[] = {
		{ "<user@x>", "user" },
		{ "<\"john doe\"@x>", "john doe" },
		{ "<\"a@b\"@x>", "a@b" },
		{ "<\"a\\\"b\\\\c\"@x>", "a\"b\\c" },
		{ "<\"\\a\"@x>", "a" },
		{ "<\"\"@x>", "" },
		{ "<Postmaster>", "Postmaster" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr a;
		const char *end, *err;
		char buf[ADDR_LOCAL_MAX + 1];

		assert_int_equal(addr_parse_path(cases[i].path, strlen(cases[i].path),
		    ADDR_ALLOW_POSTMASTER, &a, &end, &err), 0);
		assert_int_equal(addr_local_unquoted(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].want);
	}
}

static void
test_local_unquoted_small(void **state)
{
	struct addr a;
	const char *end, *err;
	char buf[4];

	assert_int_equal(addr_parse_path("<abcd@x>", 8, 0, &a, &end, &err), 0);
	assert_int_equal(addr_local_unquoted(&a, buf, sizeof(buf)), -1);
	assert_string_equal(buf, "");
	assert_int_equal(addr_local_unquoted(&a, buf, 0), -1);
	assert_int_equal(addr_parse_path("<\"abcd\"@x>", 10, 0, &a, &end, &err), 0);
	assert_int_equal(addr_local_unquoted(&a, buf, sizeof(buf)), -1);
	assert_int_equal(addr_parse_path("<\"abc\"@x>", 9, 0, &a, &end, &err), 0);
	assert_int_equal(addr_local_unquoted(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
}

static void
test_format(void **state)
{
	static const struct {
		const char	*path;
		const char	*want;
	} cases[] = {
		{ "<user@example.com>", "user@example.com" },
		{ "<@r.example:user@d.example>", "user@d.example" },
		{ "<\"a b\"@x>", "\"a b\"@x" },
		{ "<u@[192.0.2.1]>", "u@[192.0.2.1]" },
		{ "<>", "" },
		{ "<postmaster>", "postmaster" },
	};
	struct addr a;
	const char *end, *err;
	char buf[ADDR_PATH_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(addr_parse_path(cases[i].path, strlen(cases[i].path),
		    ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER, &a, &end, &err), 0);
		assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(addr_parse_path("<user@example.com>", 18, 0, &a, &end, &err), 0);
	assert_int_equal(addr_format(&a, buf, 16), -1);
	assert_string_equal(buf, "");
	assert_int_equal(addr_format(&a, buf, 17), 0);
	assert_int_equal(addr_format(&a, buf, 0), -1);
}

static void
test_domain_valid(void **state)
{
	static const struct {
		const char	*in;
		int		 utf8;
		int		 want;
	} cases[] = {
		{ "example.com", 0, 1 },
		{ "a", 0, 1 },
		{ "xn--bcher-kva.example", 0, 1 },
		{ "EXAMPLE.COM", 0, 1 },
		{ "", 0, 0 },
		{ ".", 0, 0 },
		{ "example.com.", 0, 0 },
		{ ".example.com", 0, 0 },
		{ "a..b", 0, 0 },
		{ "-a.b", 0, 0 },
		{ "a-.b", 0, 0 },
		{ "a_b", 0, 0 },
		{ "a b", 0, 0 },
		{ "[1.2.3.4]", 0, 0 },
		{ "b\xc3\xbc" "cher.example", 0, 0 },
		{ "b\xc3\xbc" "cher.example", 1, 1 },
		{ "b\xc3" "cher.example", 1, 0 },
		{ "\xc3\xbc-.example", 1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("domain: %s\n", cases[i].in);
		assert_int_equal(addr_domain_valid(cases[i].in, strlen(cases[i].in),
		    cases[i].utf8), cases[i].want);
	}
}

static void
test_literal_valid(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} cases[] = {
		{ "[127.0.0.1]", 1 },
		{ "[255.255.255.255]", 1 },
		{ "[IPv6:::1]", 1 },
		{ "[IPV6:fe80::1]", 1 },
		{ "[IPv6:2001:DB8::A]", 1 },
		{ "127.0.0.1", 0 },
		{ "[127.0.0.1", 0 },
		{ "[]", 0 },
		{ "[", 0 },
		{ "[-1.0.0.0]", 0 },
		{ "[1.2.3.4 ]", 0 },
		{ "[IPv6:1.2.3.4]", 0 },
		{ "[IPv6::::]", 0 },
		{ "[IPv6:12345::]", 0 },
		{ "[tag:content]", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("literal: %s\n", cases[i].in);
		assert_int_equal(addr_literal_valid(cases[i].in, strlen(cases[i].in)),
		    cases[i].want);
	}
}

/* The parser must not read past len: the byte after it would change the answer. */
static void
test_bounded(void **state)
{
	struct addr a;
	const char *end, *err;
	const char *s = "<a@b>";

	assert_int_equal(addr_parse_path(s, 4, 0, &a, &end, &err), -1);
	assert_string_equal(err, "missing >");
	assert_int_equal(addr_parse_path("a@bc", 3, ADDR_ALLOW_NO_BRACKETS, &a, &end, &err), 0);
	assert_string_equal(a.domain, "b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_local_unquoted),
		cmocka_unit_test(test_local_unquoted_small),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_domain_valid),
		cmocka_unit_test(test_literal_valid),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
