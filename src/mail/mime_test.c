/*
 * Unit tests of the MIME parser, ENVELOPE/BODYSTRUCTURE output and section
 * addressing: table-driven cases with hand-checked expected text, and a
 * run over the shared corpus of real-world messages (TERN_CORPUS_DIR).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/header.h"
#include "mail/imap_format.h"
#include "mail/mime.h"
#include "mail/mime_section.h"

#define CRLF	"\r\n"

/* Messages of the table, CRLF throughout. */

static const char msg_plain[] =
    "From: Alice <alice@example.com>" CRLF
    "Subject: hi" CRLF
    CRLF
    "Hello" CRLF
    "World" CRLF;

static const char msg_alternative[] =
    "Content-Type: multipart/alternative; boundary=\"b1\"" CRLF
    CRLF
    "--b1" CRLF
    "Content-Type: text/plain; charset=utf-8" CRLF
    CRLF
    "plain" CRLF
    "--b1" CRLF
    "Content-Type: text/html; charset=utf-8" CRLF
    "Content-Transfer-Encoding: quoted-printable" CRLF
    CRLF
    "<p>html</p>" CRLF
    "--b1--" CRLF;

static const char msg_mixed[] =
    "Content-Type: multipart/mixed; boundary=XX" CRLF
    CRLF
    "preamble" CRLF
    "--XX" CRLF
    CRLF
    "body text" CRLF
    "--XX" CRLF
    "Content-Type: application/pdf; name=\"report.pdf\"" CRLF
    "Content-Disposition: attachment;" CRLF
    "\tfilename=\"report.pdf\"; size=4" CRLF
    "Content-Transfer-Encoding: base64" CRLF
    "Content-Description: The report" CRLF
    "Content-Language: en, de" CRLF
    CRLF
    "QUJD" CRLF
    "--XX--" CRLF
    "epilogue" CRLF;

static const char msg_related[] =
    "Content-Type: multipart/related; boundary=\"rel\"; type=\"text/html\"" CRLF
    CRLF
    "--rel" CRLF
    "Content-Type: text/html; charset=us-ascii" CRLF
    CRLF
    "<img src=\"cid:img1@x\">" CRLF
    "--rel" CRLF
    "Content-Type: image/png" CRLF
    "Content-ID: <img1@x>" CRLF
    "Content-Disposition: inline" CRLF
    "Content-Location: logo.png" CRLF
    "Content-Transfer-Encoding: base64" CRLF
    CRLF
    "iVBORw0K" CRLF
    "--rel--" CRLF;

static const char msg_forward[] =
    "From: a@x" CRLF
    "Subject: Fwd" CRLF
    "Content-Type: multipart/mixed; boundary=outer" CRLF
    CRLF
    "--outer" CRLF
    "Content-Type: text/plain" CRLF
    CRLF
    "see below" CRLF
    "--outer" CRLF
    "Content-Type: message/rfc822" CRLF
    CRLF
    "From: Bob <bob@y>" CRLF
    "Subject: orig" CRLF
    "Content-Type: multipart/alternative; boundary=inner" CRLF
    CRLF
    "--inner" CRLF
    CRLF
    "hi" CRLF
    "--inner" CRLF
    "Content-Type: text/html" CRLF
    CRLF
    "<b>hi</b>" CRLF
    "--inner--" CRLF
    "--outer--" CRLF;

static const char msg_no_type[] =
    "Subject: no type" CRLF
    "Content-Transfer-Encoding: 8bit" CRLF
    CRLF
    "caf\xc3\xa9" CRLF;

static const char msg_bad_type[] =
    "Content-Type: text" CRLF
    CRLF
    "x";

static const char msg_unterminated[] =
    "Content-Type: multipart/mixed; boundary=\"abc\"" CRLF
    CRLF
    "--abc" CRLF
    "Content-Type: text/plain" CRLF
    CRLF
    "one" CRLF
    "--abc" CRLF
    CRLF
    "two" CRLF;

static const char msg_no_delimiter[] =
    "Content-Type: multipart/mixed; boundary=zz" CRLF
    CRLF
    "--not-it" CRLF
    "text" CRLF;

static const char msg_empty_multipart[] =
    "Content-Type: multipart/mixed; boundary=e" CRLF
    CRLF
    "--e--" CRLF;

static const char msg_no_boundary[] =
    "Content-Type: multipart/mixed" CRLF
    CRLF
    "abc" CRLF;

static const char msg_digest[] =
    "Content-Type: multipart/digest; boundary=d" CRLF
    CRLF
    "--d" CRLF
    CRLF
    "Subject: inner" CRLF
    CRLF
    "x" CRLF
    "--d--" CRLF;

static const char msg_encoded_word[] =
    "Subject: =?UTF-8?B?SGVsbG8=?= world" CRLF
    "From: =?ISO-8859-1?Q?J=F6rg?= <j@x>" CRLF
    CRLF;

static const char msg_groups[] =
    "Date: Mon, 1 Jan 2024 00:00:00 +0000" CRLF
    "From: \"Doe, John\" <john@example.com>" CRLF
    "To: undisclosed-recipients:;" CRLF
    "Cc: Team: a@x, \"B\" <b@y>;, c@z (Carl)" CRLF
    "Bcc: <@relay.a,@relay.b:joe@c>" CRLF
    "Message-ID: <m1@x>" CRLF
    CRLF;

static const char msg_literals[] =
    "Subject: two" CRLF
    "  lines" CRLF
    "From: \"J\xc3\xb6rg\" <j@x>" CRLF
    "Sender: \"a \\\"q\\\" b\" <q@x>" CRLF
    "Reply-To: nobody" CRLF
    "In-Reply-To: <r@x>" CRLF
    CRLF;

struct body_case {
	const char	*name;
	const char	*msg;
	size_t		 len;
	const char	*bodystructure;
	const char	*body;		/* BODY, or NULL to skip */
};

#define M(m)	m, sizeof(m) - 1

static const struct body_case body_cases[] = {
	{ "plain text", M(msg_plain),
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "14 2 NIL NIL NIL NIL)",
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "14 2)" },
	{ "multipart/alternative", M(msg_alternative),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 1 "
	    "NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" 11 1 NIL NIL NIL NIL) \"ALTERNATIVE\" "
	    "(\"BOUNDARY\" \"b1\") NIL NIL NIL)",
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 1)"
	    "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" 11 1) \"ALTERNATIVE\")" },
	{ "multipart/mixed with attachment", M(msg_mixed),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "9 1 NIL NIL NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" "
	    "\"report.pdf\") NIL \"The report\" \"BASE64\" 4 NIL "
	    "(\"ATTACHMENT\" (\"FILENAME\" \"report.pdf\" \"SIZE\" \"4\")) "
	    "(\"en\" \"de\") NIL) \"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)",
	    NULL },
	{ "multipart/related with inline image", M(msg_related),
	    "((\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" "
	    "22 1 NIL NIL NIL NIL)(\"IMAGE\" \"PNG\" NIL \"<img1@x>\" NIL "
	    "\"BASE64\" 8 NIL (\"INLINE\" NIL) NIL \"logo.png\") \"RELATED\" "
	    "(\"BOUNDARY\" \"rel\" \"TYPE\" \"text/html\") NIL NIL NIL)",
	    NULL },
	{ "message/rfc822 forward", M(msg_forward),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "9 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "
	    "160 (NIL \"orig\" ((\"Bob\" NIL \"bob\" \"y\")) ((\"Bob\" NIL "
	    "\"bob\" \"y\")) ((\"Bob\" NIL \"bob\" \"y\")) NIL NIL NIL NIL NIL) "
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "2 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") "
	    "NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL) \"ALTERNATIVE\" "
	    "(\"BOUNDARY\" \"inner\") NIL NIL NIL) 12 NIL NIL NIL NIL) "
	    "\"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)",
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "9 1)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 160 (NIL "
	    "\"orig\" ((\"Bob\" NIL \"bob\" \"y\")) ((\"Bob\" NIL \"bob\" "
	    "\"y\")) ((\"Bob\" NIL \"bob\" \"y\")) NIL NIL NIL NIL NIL) "
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "2 1)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	    "\"7BIT\" 9 1) \"ALTERNATIVE\") 12) \"MIXED\")" },
	{ "missing Content-Type", M(msg_no_type),
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"8BIT\" "
	    "7 1 NIL NIL NIL NIL)", NULL },
	{ "invalid Content-Type", M(msg_bad_type),
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "1 1 NIL NIL NIL NIL)", NULL },
	{ "unterminated multipart", M(msg_unterminated),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "3 1 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"US-ASCII\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL) \"MIXED\" "
	    "(\"BOUNDARY\" \"abc\") NIL NIL NIL)", NULL },
	{ "boundary never seen", M(msg_no_delimiter),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "0 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"zz\") NIL NIL NIL)",
	    NULL },
	{ "empty multipart", M(msg_empty_multipart),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "0 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"e\") NIL NIL NIL)",
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "0 0) \"MIXED\")" },
	{ "multipart without boundary", M(msg_no_boundary),
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "5 1 NIL NIL NIL NIL)", NULL },
	{ "digest default type", M(msg_digest),
	    "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 19 (NIL \"inner\" "
	    "NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"US-ASCII\") NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL) 3 NIL NIL NIL "
	    "NIL) \"DIGEST\" (\"BOUNDARY\" \"d\") NIL NIL NIL)", NULL },
};

static char *
format_body(const char *m, size_t len, int ext)
{
	struct mime_message *msg;
	struct imap_format_buf b = { 0 };
	char *s;

	msg = mime_parse(m, len);
	imap_format_body(&b, msg, msg->root, ext);
	s = strndup(b.data, b.len);
	imap_format_buf_free(&b);
	mime_free(&msg);
	assert_non_null(s);
	return s;
}

static void
test_bodystructure(void **state)
{
	const struct body_case *c;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		c = &body_cases[i];
		s = format_body(c->msg, c->len, 1);
		if (strcmp(s, c->bodystructure) != 0)
			fail_msg("%s:\n got  %s\n want %s", c->name, s,
			    c->bodystructure);
		free(s);
		if (c->body == NULL)
			continue;
		s = format_body(c->msg, c->len, 0);
		if (strcmp(s, c->body) != 0)
			fail_msg("%s (BODY):\n got  %s\n want %s", c->name, s,
			    c->body);
		free(s);
	}
}

struct envelope_case {
	const char	*name;
	const char	*msg;
	size_t		 len;
	const char	*envelope;
};

static const struct envelope_case envelope_cases[] = {
	{ "plain", M(msg_plain),
	    "(NIL \"hi\" ((\"Alice\" NIL \"alice\" \"example.com\")) "
	    "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL "
	    "\"alice\" \"example.com\")) NIL NIL NIL NIL NIL)" },
	{ "encoded-words left as-is", M(msg_encoded_word),
	    "(NIL \"=?UTF-8?B?SGVsbG8=?= world\" ((\"=?ISO-8859-1?Q?J=F6rg?=\" "
	    "NIL \"j\" \"x\")) ((\"=?ISO-8859-1?Q?J=F6rg?=\" NIL \"j\" \"x\")) "
	    "((\"=?ISO-8859-1?Q?J=F6rg?=\" NIL \"j\" \"x\")) NIL NIL NIL NIL "
	    "NIL)" },
	{ "groups, routes and NIL fields", M(msg_groups),
	    "(\"Mon, 1 Jan 2024 00:00:00 +0000\" NIL ((\"Doe, John\" NIL "
	    "\"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" "
	    "\"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x\")(\"B\" NIL \"b\" "
	    "\"y\")(NIL NIL NIL NIL)(\"Carl\" NIL \"c\" \"z\")) ((NIL "
	    "\"@relay.a,@relay.b\" \"joe\" \"c\")) NIL \"<m1@x>\")" },
	{ "literals, escapes, unfolding", M(msg_literals),
	    "(NIL \"two  lines\" (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) "
	    "((\"a \\\"q\\\" b\" NIL \"q\" \"x\")) ((NIL NIL \"nobody\" \"\")) "
	    "NIL NIL NIL \"<r@x>\" NIL)" },
	{ "no header", "\r\nbody", 6,
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
};

static void
test_envelope(void **state)
{
	const struct envelope_case *c;
	struct mime_message *msg;
	struct imap_format_buf b = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(envelope_cases) / sizeof(envelope_cases[0]);
	    i++) {
		c = &envelope_cases[i];
		msg = mime_parse(c->msg, c->len);
		imap_format_envelope(&b, c->msg + msg->root->header_off,
		    msg->root->header_len);
		if (b.len != strlen(c->envelope) ||
		    memcmp(b.data, c->envelope, b.len) != 0)
			fail_msg("%s:\n got  %.*s\n want %s", c->name,
			    (int)b.len, b.data, c->envelope);
		imap_format_buf_free(&b);
		mime_free(&msg);
	}
}

struct section_case {
	const char	*msg;
	size_t		 len;
	const char	*spec;
	const char	*partial;	/* "<o.n>" or NULL */
	const char	*want;		/* NULL: the part does not exist */
};

static const struct section_case section_cases[] = {
	{ M(msg_forward), "1", NULL, "see below" },
	{ M(msg_forward), "1.MIME", NULL, "Content-Type: text/plain" CRLF CRLF },
	{ M(msg_forward), "2.HEADER", NULL,
	    "From: Bob <bob@y>" CRLF "Subject: orig" CRLF
	    "Content-Type: multipart/alternative; boundary=inner" CRLF CRLF },
	{ M(msg_forward), "2.1", NULL, "hi" },
	{ M(msg_forward), "2.2", NULL, "<b>hi</b>" },
	{ M(msg_forward), "2.2.MIME", NULL, "Content-Type: text/html" CRLF CRLF },
	{ M(msg_forward), "2.TEXT", "<0.7>", "--inner" },
	{ M(msg_forward), "2.HEADER.FIELDS (SUBJECT \"x-none\")", NULL,
	    "Subject: orig" CRLF CRLF },
	{ M(msg_forward), "header.fields.not (From Content-Type)", NULL,
	    "Subject: Fwd" CRLF CRLF },
	{ M(msg_forward), "HEADER", "<6.3>", "a@x" },
	{ M(msg_forward), "1", "<4.100>", "below" },
	{ M(msg_forward), "1", "<9.1>", "" },
	{ M(msg_forward), "1.HEADER", NULL, NULL },
	{ M(msg_forward), "3", NULL, NULL },
	{ M(msg_forward), "2.3", NULL, NULL },
	{ M(msg_forward), "1.1", NULL, NULL },
	{ M(msg_plain), "1", NULL, "Hello" CRLF "World" CRLF },
	{ M(msg_plain), "TEXT", NULL, "Hello" CRLF "World" CRLF },
	{ M(msg_plain), "2", NULL, NULL },
	{ M(msg_plain), "1.1", NULL, NULL },
	{ M(msg_plain), "", "<0.4>", "From" },
};

static void
test_section(void **state)
{
	const struct section_case *c;
	struct mime_message *msg;
	struct mime_section sec;
	struct imap_format_buf b = { 0 };
	const char *err = NULL;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(section_cases) / sizeof(section_cases[0]);
	    i++) {
		c = &section_cases[i];
		msg = mime_parse(c->msg, c->len);
		if (mime_section_parse(c->spec, strlen(c->spec), &sec,
		    &err) == -1)
			fail_msg("%s: parse: %s", c->spec, err);
		if (c->partial != NULL && mime_section_parse_partial(c->partial,
		    strlen(c->partial), &sec, &err) == -1)
			fail_msg("%s: partial: %s", c->partial, err);
		rc = mime_section_fetch(msg, &sec, &b, &err);
		if (c->want == NULL) {
			if (rc != -1 || err == NULL)
				fail_msg("%s: should not exist", c->spec);
		} else if (rc != 0 || b.len != strlen(c->want) ||
		    (b.len > 0 && memcmp(b.data, c->want, b.len) != 0))
			fail_msg("%s:\n got  [%.*s]\n want [%s]", c->spec,
			    (int)b.len, b.len ? b.data : "", c->want);
		imap_format_buf_free(&b);
		mime_free(&msg);
	}
}

static void
test_section_range(void **state)
{
	struct mime_message *msg;
	struct mime_section sec;
	const char *err;
	size_t off, len;

	(void)state;
	msg = mime_parse(M(msg_forward));
	assert_int_equal(mime_section_parse("", 0, &sec, &err), 0);
	assert_int_equal(mime_section_range(msg, &sec, &off, &len, &err), 0);
	assert_int_equal(off, 0);
	assert_int_equal(len, sizeof(msg_forward) - 1);
	assert_int_equal(mime_section_parse("2", 1, &sec, &err), 0);
	assert_int_equal(mime_section_range(msg, &sec, &off, &len, &err), 0);
	assert_int_equal(len, 160);
	assert_memory_equal(msg_forward + off, "From: Bob", 9);
	mime_free(&msg);
	assert_null(msg);
}

static const char *const bad_specs[] = {
	"0", "1.", ".1", "1..2", "MIME", "HEADER.FIELDS", "HEADER.FIELDS ()",
	"HEADER.FIELDS (A", "HEADER.FIELDS (A) x", "1.2.FOO", "TEXTX",
	"HEADERS", "4294967296", "HEADER.FIELDS.NOT(A)", "1.MIME.TEXT",
};

static const char *const bad_partials[] = {
	"<1.0>", "<1>", "<.1>", "<1.2", "1.2>", "<a.b>", "<4294967296.1>",
	"<1.2>x",
};

static void
test_section_syntax(void **state)
{
	struct mime_section sec;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
		err = NULL;
		if (mime_section_parse(bad_specs[i], strlen(bad_specs[i]), &sec,
		    &err) != -1 || err == NULL)
			fail_msg("spec accepted: %s", bad_specs[i]);
	}
	for (i = 0; i < sizeof(bad_partials) / sizeof(bad_partials[0]); i++) {
		err = NULL;
		if (mime_section_parse_partial(bad_partials[i],
		    strlen(bad_partials[i]), &sec, &err) != -1 || err == NULL)
			fail_msg("partial accepted: %s", bad_partials[i]);
	}
	assert_int_equal(mime_section_parse("1.2.HEADER.FIELDS (To \"Cc\")",
	    27, &sec, &err), 0);
	assert_int_equal(sec.nparts, 2);
	assert_int_equal(sec.parts[1], 2);
	assert_int_equal(sec.text, MIME_SECTION_HEADER_FIELDS);
	assert_int_equal(sec.nfields, 2);
	assert_string_equal(sec.fields[1], "Cc");
	assert_int_equal(mime_section_parse_partial("<10.20>", 7, &sec, &err),
	    0);
	assert_int_equal(sec.partial_off, 10);
	assert_int_equal(sec.partial_len, 20);
}

static void
test_header_fields(void **state)
{
	static const char block[] = "Subject: a" CRLF " b" CRLF
	    "X-Odd : c" CRLF "not a field" CRLF "From x Fri 17:06" CRLF
	    "To:d" CRLF CRLF "body";
	struct header_field f;
	char buf[16];
	size_t pos = 0;

	(void)state;
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 1);
	assert_true(header_name_is(&f, "subject"));
	assert_int_equal(header_unfold(f.value, f.value_len, buf,
	    sizeof(buf)), 3);
	assert_string_equal(buf, "a b");
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 1);
	assert_true(header_name_is(&f, "X-ODD"));
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 1);
	assert_int_equal(f.name_len, 0);
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 1);
	assert_int_equal(f.name_len, 0);
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 1);
	assert_true(header_name_is(&f, "to"));
	assert_int_equal(header_next(block, sizeof(block) - 1, &pos, &f), 0);
	assert_int_equal(header_find(block, sizeof(block) - 1, "TO", &f), 1);
	assert_int_equal(header_find(block, sizeof(block) - 1, "body", &f), 0);
	/* Cut, still terminated. */
	assert_int_equal(header_unfold("abcdef", 6, buf, 4), 3);
	assert_string_equal(buf, "abc");
}

/* Deep nesting and many parts stay within the limits. */
static void
test_limits(void **state)
{
	struct mime_message *msg;
	struct imap_format_buf b = { 0 };
	const char *hdr = "Content-Type: message/rfc822" CRLF CRLF;
	const char *mp = "Content-Type: multipart/mixed; boundary=q" CRLF CRLF;
	size_t i, k, hlen = strlen(hdr);
	char *m;

	(void)state;
	m = malloc(hlen * 1000 + 2);
	assert_non_null(m);
	for (i = 0; i < 1000; i++)
		memcpy(m + i * hlen, hdr, hlen);
	memcpy(m + 1000 * hlen, "x", 2);
	msg = mime_parse(m, 1000 * hlen + 1);
	assert_true(msg->limited);
	assert_true(msg->nparts <= MIME_DEPTH_MAX + 1);
	imap_format_body(&b, msg, msg->root, 1);
	assert_non_null(strstr(b.data, "\"APPLICATION\" \"OCTET-STREAM\""));
	imap_format_buf_free(&b);
	mime_free(&msg);
	free(m);

	/* 20000 empty parts under one boundary. */
	m = malloc(strlen(mp) + 20000 * 5 + 8);
	assert_non_null(m);
	memcpy(m, mp, strlen(mp));
	i = strlen(mp);
	for (k = 0; k < 20000; k++) {
		memcpy(m + i, "--q" CRLF, 5);
		i += 5;
	}
	msg = mime_parse(m, i);
	assert_true(msg->limited);
	assert_int_equal(msg->nparts, MIME_PARTS_MAX);
	mime_free(&msg);
	free(m);
}

/*
 * Corpus run: every file parses, the output is well formed IMAP (balanced
 * parentheses outside strings, quoted strings closed, literal lengths that
 * fit) and each message takes bounded time.
 */

#define CORPUS_FILE_MAX		(32 * 1024 * 1024)
#define CORPUS_DEPTH_MAX	16
#define CORPUS_SECONDS_MAX	5.0

static int
well_formed(const char *s, size_t len)
{
	size_t i = 0, n;
	long depth = 0;
	char *end;

	while (i < len) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')') {
			if (--depth < 0)
				return 0;
		} else if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' ||
				    (unsigned char)s[i] >= 0x80)
					return 0;
				if (s[i] == '\\')
					i++;
			}
			if (i >= len)
				return 0;
		} else if (s[i] == '{') {
			n = strtoul(s + i + 1, &end, 10);
			if (*end != '}' || end[1] != '\r' || end[2] != '\n')
				return 0;
			i = (size_t)(end - s) + 3;
			if (n > len - i || memchr(s + i, '\0', n) != NULL)
				return 0;
			i += n;
			continue;
		}
		i++;
	}
	return depth == 0;
}

static char *
read_crlf(const char *path, size_t *len_out)
{
	FILE *f;
	char *raw, *out;
	size_t n, i, m = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	raw = malloc(CORPUS_FILE_MAX);
	assert_non_null(raw);
	n = fread(raw, 1, CORPUS_FILE_MAX, f);
	fclose(f);
	out = malloc(n * 2 + 1);
	assert_non_null(out);
	for (i = 0; i < n; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[m++] = '\r';
		out[m++] = raw[i];
	}
	free(raw);
	*len_out = m;
	return out;
}

static void
check_sections(const struct mime_message *msg)
{
	static const char *const specs[] = { "HEADER", "TEXT", "1", "1.MIME",
	    "2", "1.1", "2.HEADER", "HEADER.FIELDS (FROM TO)", "1.2.TEXT" };
	struct imap_format_buf b = { 0 };
	struct mime_section sec;
	const char *err;
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		assert_int_equal(mime_section_parse(specs[i], strlen(specs[i]),
		    &sec, &err), 0);
		sec.partial = 1;
		sec.partial_off = 3;
		sec.partial_len = 100;
		if (mime_section_fetch(msg, &sec, &b, &err) == 0)
			assert_true(b.len <= 100);
		imap_format_buf_free(&b);
	}
}

static void
check_message(const char *path, size_t *count)
{
	struct imap_format_buf b = { 0 };
	struct mime_message *msg;
	struct timespec t0, t1;
	double secs;
	size_t len;
	char *m;

	if ((m = read_crlf(path, &len)) == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	msg = mime_parse(m, len);
	imap_format_body(&b, msg, msg->root, 1);
	if (!well_formed(b.data, b.len))
		fail_msg("%s: BODYSTRUCTURE not well formed", path);
	imap_format_buf_free(&b);
	imap_format_body(&b, msg, msg->root, 0);
	if (!well_formed(b.data, b.len))
		fail_msg("%s: BODY not well formed", path);
	imap_format_buf_free(&b);
	imap_format_envelope(&b, m + msg->root->header_off,
	    msg->root->header_len);
	if (!well_formed(b.data, b.len))
		fail_msg("%s: ENVELOPE not well formed", path);
	imap_format_buf_free(&b);
	check_sections(msg);
	mime_free(&msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > CORPUS_SECONDS_MAX)
		fail_msg("%s: took %.2f s", path, secs);
	free(m);
	(*count)++;
}

static void
walk(const char *dir, int depth, size_t *count)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (depth > CORPUS_DEPTH_MAX || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) || lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			walk(path, depth + 1, count);
		else if (S_ISREG(st.st_mode) && strncmp(de->d_name, "LICENSE",
		    7) != 0 && strcmp(de->d_name, "README.md") != 0)
			check_message(path, count);
	}
	closedir(d);
}

static void
test_corpus(void **state)
{
	char dflt[PATH_MAX];
	const char *dir, *src;
	struct stat st;
	size_t count = 0, n;

	(void)state;
	dir = getenv("TERN_CORPUS_DIR");
	if (dir == NULL) {
		if ((src = getenv("TERN_SOURCE_DIR")) != NULL)
			snprintf(dflt, sizeof(dflt), "%s/../shared/corpus", src);
		else {
			/* __FILE__ is <source>/src/mail/mime_test.c */
			n = strlen(__FILE__);
			if (n < 20)
				skip();
			snprintf(dflt, sizeof(dflt), "%.*s/../shared/corpus",
			    (int)(n - 20), __FILE__);
		}
		dir = dflt;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		print_message("corpus %s absent, skipped\n", dir);
		skip();
	}
	walk(dir, 0, &count);
	print_message("corpus: %zu files parsed\n", count);
	assert_true(count > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_bodystructure),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_section),
		cmocka_unit_test(test_section_range),
		cmocka_unit_test(test_section_syntax),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
