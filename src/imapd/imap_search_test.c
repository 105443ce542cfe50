/*
 * Unit tests of SEARCH evaluation: programs are parsed with
 * imap_parse_command() and run against two fixed messages (one plain,
 * one multipart with quoted-printable, base64 and an attachment), and a
 * third whose header fields hold RFC 2047 encoded-words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "imapd/imap_search.h"

#define IN_NOT	"t SEARCH NOT SENTON 1-Jan-2000"

static const char msg1_data[] =
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "Subject: afternoon meeting\r\n"
    "To: mooch@owatagu.siam.edu.example\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    "\r\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

static const char msg2_data[] =
    "From: a@b.example\r\n"
    "Subject: =?utf-8?q?x?= folded\r\n"
    " subject line\r\n"
    "Date: 1 Jan 99 00:00 GMT\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble words\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 au lait, soft=\r\n"
    "break here\r\n"
    "--XX\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: BASE64\r\n"
    "\r\n"
    "PGI+Qm9sZCBO\r\n"
    "ZXdzPC9iPg==\r\n"
    "--XX\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0d29yZA==\r\n"
    "--XX--\r\n";

static const char *const msg1_keywords[] = { "$Junk", "Work" };

static struct imap_search_msg msg1 = {
	1, 10, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED, msg1_keywords, 2, 500, 7,
	760686745,	/* 1994-02-08 05:52:25 UTC */
	msg1_data, sizeof(msg1_data) - 1,
};

static struct imap_search_msg msg2 = {
	2, 20, IMAP_FLAG_RECENT, NULL, 0, 2000, 12,
	946771199,	/* 2000-01-01 23:59:59 UTC */
	msg2_data, sizeof(msg2_data) - 1,
};

static int
run(const char *query, size_t len, const struct imap_search_msg *msg)
{
	struct imap_cmd cmd;
	char line[1024], err[256];
	int n, r;

	n = snprintf(line, sizeof(line), "t SEARCH %.*s", (int)len, query);
	if (imap_parse_command(line, (size_t)n, 0, &cmd, err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", query, err);
	r = imap_search_match(cmd.search, msg, 2, 20);
	imap_cmd_free(&cmd);
	return r;
}

struct match_case {
	const char	*query;
	size_t		 len;
	int		 m1, m2;
};

#define M(q, a, b)	{ q, sizeof(q) - 1, a, b }

static const struct match_case match_cases[] = {
	M("ALL", 1, 1),
	M("SEEN", 1, 0), M("UNSEEN", 0, 1), M("NEW", 0, 1), M("OLD", 1, 0),
	M("RECENT", 0, 1), M("FLAGGED SEEN", 1, 0), M("FLAGGED UNSEEN", 0, 0),
	M("ANSWERED", 0, 0), M("UNANSWERED", 1, 1), M("DELETED", 0, 0), M("UNDRAFT", 1, 1),
	M("OR SEEN RECENT", 1, 1), M("NOT OR SEEN RECENT", 0, 0),
	M("OR (SEEN NOT FLAGGED) (NOT SEEN NOT NOT RECENT)", 0, 1),
	M("NOT (SEEN FLAGGED)", 0, 1), M("OR OR DELETED DRAFT NOT ALL", 0, 0),
	M("KEYWORD $junk", 1, 0), M("KEYWORD work", 1, 0), M("UNKEYWORD $Junk", 0, 1),
	M("KEYWORD $Forwarded", 0, 0),
	M("1", 1, 0), M("2", 0, 1), M("*", 0, 1), M("1:*", 1, 1), M("2:1", 1, 1),
	M("3:*", 0, 1), M("1,5:7", 1, 0),
	M("UID 10", 1, 0), M("UID *", 0, 1), M("UID 15:*", 0, 1), M("UID 1:9,11:19", 0, 0),
	M("LARGER 500", 0, 1), M("SMALLER 501", 1, 0), M("LARGER 1999 SMALLER 2001", 0, 1),
	M("MODSEQ 10", 0, 1), M("MODSEQ 7", 1, 1),
	M("BEFORE 8-Feb-1994", 0, 0), M("ON 8-Feb-1994", 1, 0), M("SINCE 8-Feb-1994", 1, 1),
	M("ON 1-Jan-2000", 0, 1), M("BEFORE 2-Jan-2000", 1, 1), M("SINCE 2-Jan-2000", 0, 0),
	M("SENTON 7-Feb-1994", 1, 0), M("SENTON 8-Feb-1994", 0, 0),
	M("SENTBEFORE 8-Feb-1994", 1, 0), M("SENTSINCE 1-Jan-1999", 0, 1),
	M("SENTON \"1-JAN-1999\"", 0, 1), M("SENTSINCE 7-Feb-1994", 1, 1),
	M("FROM foobar", 1, 0), M("FROM \"FOOBAR@blurdybloop\"", 1, 0),
	M("FROM \"fred foobar <\"", 1, 0),
	M("SUBJECT \"subject line\"", 0, 1), M("SUBJECT \"folded subject\"", 0, 1),
	M("SUBJECT MEETING", 1, 0),
	M("HEADER Message-Id \"\"", 1, 0), M("HEADER X-Missing \"\"", 0, 0),
	M("HEADER content-type multipart", 0, 1),
	M("TO mooch", 1, 0), M("CC x", 0, 0), M("BCC \"\"", 0, 0),
	M("BODY tomorrow", 1, 0), M("BODY TOMORROW?", 1, 0),
	M("BODY {5}\r\ncaf\xc3\xa9", 0, 1), M("BODY \"CAF\"", 0, 1),
	M("BODY \"softbreak here\"", 0, 1), M("BODY \"soft=\"", 0, 0),
	M("BODY \"bold news\"", 0, 1), M("BODY PGI", 0, 0),
	M("BODY secretword", 0, 0), M("BODY preamble", 0, 0),
	M("BODY meeting", 0, 0), M("TEXT meeting", 1, 0),
	M("TEXT \"multipart/mixed\"", 0, 1), M("TEXT \"bold news\"", 0, 1),
	M("BODY \"\"", 1, 1), M("NOT BODY tomorrow", 0, 1),
	M("BODY \"lait, soft\"", 0, 1),
	/* Decoded "x", then the plain rest; the raw form still matches. */
	M("SUBJECT \"x folded subject\"", 0, 1), M("SUBJECT \"=?utf-8?q?x?=\"", 0, 1),
	M("SUBJECT \"x?= folded\"", 0, 1), M("SUBJECT \"xfolded\"", 0, 0),
	/* Latin-1 capitals fold to small letters, in bodies too. */
	M("BODY {5}\r\nCAF\xc3\x89", 0, 1),
};

static void
test_match_table(void **state)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		int a, b;

		a = run(c->query, c->len, &msg1);
		b = run(c->query, c->len, &msg2);
		if (a != c->m1 || b != c->m2)
			fail_msg("\"%s\": got %d %d, want %d %d", c->query, a, b, c->m1, c->m2);
	}
}

static const char msg3_data[] =
    "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.example>\r\n"
    "To: =?utf-8?B?R3LDvMOfZQ==?= <g@example.org>\r\n"
    "Cc: =?x-unknown?q?Caf=E9?= <c@example.org>\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?utf-8?q?K=C3=B6ln?=\r\n"
    " =?utf-8?b?IOKCrCAxMA==?=\r\n"
    "X-Note: =?iso-8859-15?q?=A4uro?=\r\n"
    "X-Other: =?utf-8?q?a?=\r\n"
    "X-Other: =?utf-8?q?b?=\r\n"
    "\r\n"
    "plain body\r\n";

static struct imap_search_msg msg3 = {
	3, 30, 0, NULL, 0, 300, 1, 0, msg3_data, sizeof(msg3_data) - 1,
};

struct encoded_case {
	const char	*key;
	const char	*needle;	/* sent as a literal */
	int		 want;
};

static const struct encoded_case encoded_cases[] = {
	{ "CHARSET UTF-8 SUBJECT", "Gr\xc3\xbc\xc3\x9f" "e", 1 },
	{ "SUBJECT", "GR\xc3\x9c\xc3\x9f" "E AUS", 1 },
	/* Three words, the white space between the last two dropped. */
	{ "SUBJECT", "gr\xc3\xbc\xc3\x9f" "e aus k\xc3\xb6ln \xe2\x82\xac 10", 1 },
	{ "SUBJECT", "=?UTF-8?Q?Gr=C3", 1 },
	{ "SUBJECT", "Gruesse", 0 },
	{ "SUBJECT", "K=C3=B6ln", 1 },
	{ "FROM", "Keld J\xc3\xb8rn", 1 },
	{ "FROM", "KELD J\xc3\x98RN SIMONSEN <keld@", 1 },
	{ "FROM", "Gr\xc3\xbc\xc3\x9f" "e", 0 },
	{ "TO", "gr\xc3\xbc\xc3\x9f" "e <g@example.org>", 1 },
	{ "TO", "R3LDvMOfZQ", 1 },
	{ "CC", "Caf\xc3\xa9", 0 },
	{ "CC", "x-unknown?q?caf=e9", 1 },
	{ "BCC", "", 0 },
	{ "HEADER X-Note", "\xe2\x82\xac" "uro", 1 },
	{ "HEADER X-Other", "b", 1 },
	{ "HEADER X-Other", "ab", 0 },
	{ "NOT SUBJECT", "k\xc3\xb6ln", 0 },
	{ "OR SEEN FROM", "j\xc3\xb8rn", 1 },
	{ "TEXT", "gr\xc3\xbc\xc3\x9f" "e aus", 1 },
	{ "TEXT", "\xe2\x82\xac" "uro", 1 },
	{ "TEXT", "uroa", 0 },
	{ "BODY", "gr\xc3\xbc\xc3\x9f" "e", 0 },
};

static void
test_encoded_words(void **state)
{
	static const char grusse[] = "SUBJECT {7}\r\nGr\xc3\xbc\xc3\x9f" "e";
	char q[256];
	int n, got;

	for (size_t i = 0; i < sizeof(encoded_cases) / sizeof(encoded_cases[0]); i++) {
		const struct encoded_case *c = &encoded_cases[i];

		n = snprintf(q, sizeof(q), "%s {%zu}\r\n%s", c->key, strlen(c->needle),
		    c->needle);
		got = run(q, (size_t)n, &msg3);
		if (got != c->want)
			fail_msg("%s \"%s\": got %d, want %d", c->key, c->needle, got, c->want);
	}
	/* The plain messages do not match what only msg3 holds. */
	assert_int_equal(run(grusse, sizeof(grusse) - 1, &msg1), 0);
	assert_int_equal(run(grusse, sizeof(grusse) - 1, &msg3), 1);
}

struct date_case {
	const char	*date;
	const char	*on;		/* SENTON date that must match, or NULL */
};

static const struct date_case date_cases[] = {
	{ "Mon, 7 Feb 1994 21:52:25 -0800", "7-Feb-1994" },
	{ "7 Feb 1994 23:59 +1400", "7-Feb-1994" },
	{ "Tue, 08 Feb 94 00:00:00 EST", "8-Feb-1994" },
	{ "Sat (day) , 1 Jan 2000 (c) 10:00 GMT", "1-Jan-2000" },
	{ "Sun 2 Jan 2000 10:00 GMT", "2-Jan-2000" },
	{ "3 January 2000 10:00 Z", "3-Jan-2000" },
	{ "1 jan 49 00:00 +0000", "1-Jan-2049" },
	{ "1 Jan 50 00:00 +0000", "1-Jan-1950" },
	{ "1 Jan 049 00:00 +0000", "1-Jan-1949" },
	{ "29 Feb 2000 12:00 +0000", "29-Feb-2000" },
	{ "  \r\n 5 Mar 2021", "5-Mar-2021" },
	{ "garbage", NULL },
	{ "31 Feb 2000 12:00 +0000", NULL },
	{ "1 Foo 2000", NULL },
	{ "1 Jan 2", NULL },
	{ "", NULL },
};

static void
test_sent_dates(void **state)
{
	char data[256], query[64];
	struct imap_search_msg m;
	struct imap_cmd cmd;
	char err[128];
	int n, r;

	for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.len = (size_t)snprintf(data, sizeof(data), "Date: %s\r\n\r\nx\r\n",
		    date_cases[i].date);
		m.data = data;
		n = snprintf(query, sizeof(query), "t SEARCH SENTON %s",
		    date_cases[i].on != NULL ? date_cases[i].on : "1-Jan-2000");
		assert_int_equal(imap_parse_command(query, (size_t)n, 0, &cmd, err,
		    sizeof(err)), 0);
		r = imap_search_match(cmd.search, &m, 1, 1);
		if (r != (date_cases[i].on != NULL))
			fail_msg("Date \"%s\": SENTON gave %d", date_cases[i].date, r);
		imap_cmd_free(&cmd);
		/* An unparsable date matches no SENT* key, so NOT matches. */
		if (date_cases[i].on == NULL) {
			assert_int_equal(imap_parse_command(IN_NOT, sizeof(IN_NOT) - 1, 0, &cmd,
			    err, sizeof(err)), 0);
			assert_int_equal(imap_search_match(cmd.search, &m, 1, 1), 1);
			imap_cmd_free(&cmd);
		}
	}
}

static void
test_needs(void **state)
{
	static const struct {
		const char		*q;
		enum imap_search_need	 need;
	} cases[] = {
		{ "t SEARCH SEEN UID 1 LARGER 5 SINCE 1-Jan-2000", IMAP_SEARCH_NEED_INDEX },
		{ "t SEARCH FROM x", IMAP_SEARCH_NEED_HEADER },
		{ "t SEARCH NOT SENTON 1-Jan-2000", IMAP_SEARCH_NEED_HEADER },
		{ "t SEARCH OR SEEN (HEADER X y)", IMAP_SEARCH_NEED_HEADER },
		{ "t SEARCH OR SEEN BODY x", IMAP_SEARCH_NEED_MESSAGE },
		{ "t SEARCH FROM x (TEXT y)", IMAP_SEARCH_NEED_MESSAGE },
	};
	struct imap_cmd cmd;
	char err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(imap_parse_command(cases[i].q, strlen(cases[i].q), 0, &cmd,
		    err, sizeof(err)), 0);
		if (imap_search_needs(cmd.search) != cases[i].need)
			fail_msg("\"%s\": need %d", cases[i].q, imap_search_needs(cmd.search));
		imap_cmd_free(&cmd);
	}
}

/* Without the bytes, header and body keys cannot match; index keys still do. */
static void
test_no_data(void **state)
{
	struct imap_search_msg m = msg1;

	m.data = NULL;
	m.len = 0;
	assert_int_equal(run("FROM foobar", 11, &m), 0);
	assert_int_equal(run("BODY x", 6, &m), 0);
	assert_int_equal(run("SENTON 7-Feb-1994", 17, &m), 0);
	assert_int_equal(run("SEEN", 4, &m), 1);
	/* Only the header block, as imap_search_needs() HEADER allows. */
	m.data = msg1_data;
	m.len = strstr(msg1_data, "\r\n\r\n") - msg1_data + 4;
	assert_int_equal(run("FROM foobar", 11, &m), 1);
	assert_int_equal(run("SENTON 7-Feb-1994", 17, &m), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_sent_dates),
		cmocka_unit_test(test_needs),
		cmocka_unit_test(test_no_data),
		cmocka_unit_test(test_encoded_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
