/*
 * Unit tests of the IMAP command parser: every command form, the fields
 * each one fills, literals (with binary bytes), and the one-line reasons
 * of tagged BAD replies (table-driven).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapd/imap_parse.h"

#define IN(s)	s, sizeof(s) - 1

static void
parse_ok(const char *s, size_t len, int utf8, struct imap_cmd *cmd)
{
	char err[256];

	if (imap_parse_command(s, len, utf8, cmd, err, sizeof(err)) != 0)
		fail_msg("\"%.*s\": %s", (int)len, s, err);
}

/* Parse, expect success, check the verb, free. */
struct ok_case {
	const char	*in;
	size_t		 len;
	int		 utf8;
	enum imap_verb	 verb;
	int		 uid;
};

#define OK(s, v)	{ IN(s), 0, IMAP_##v, 0 }
#define OKU(s, v)	{ IN(s), 0, IMAP_##v, 1 }
#define OK8(s, v)	{ IN(s), 1, IMAP_##v, 0 }

static const struct ok_case ok_cases[] = {
	OK("a CAPABILITY", CAPABILITY), OK("a capability", CAPABILITY),
	OK("a NOOP", NOOP), OK("a LOGOUT", LOGOUT), OK("a STARTTLS", STARTTLS),
	OK("a NAMESPACE", NAMESPACE), OK("a CHECK", CHECK), OK("a CLOSE", CLOSE),
	OK("a UNSELECT", UNSELECT), OK("a EXPUNGE", EXPUNGE), OK("a IDLE", IDLE),
	OK("a1.b]c NOOP", NOOP), OK("~x NOOP", NOOP),
	OK("a AUTHENTICATE PLAIN", AUTHENTICATE),
	OK("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw==", AUTHENTICATE),
	OK("a AUTHENTICATE PLAIN =", AUTHENTICATE),
	OK("a LOGIN user pass", LOGIN), OK("a LOGIN \"u s\" \"p\\\"w\"", LOGIN),
	OK("a LOGIN {4}\r\nuser {3+}\r\npw!", LOGIN),
	OK("a ID NIL", ID), OK("a ID ()", ID), OK("a ID (\"name\" \"x\" \"v\" NIL)", ID),
	OK("a ENABLE CONDSTORE", ENABLE), OK("a ENABLE QRESYNC UTF8=ACCEPT", ENABLE),
	OK("a SELECT INBOX", SELECT), OK("a EXAMINE \"Sent Items\"", EXAMINE),
	OK("a SELECT INBOX (CONDSTORE)", SELECT),
	OK("a SELECT INBOX (QRESYNC (67890007 20050715194045000))", SELECT),
	OK("a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))", SELECT),
	OK("a SELECT INBOX (QRESYNC (1 2 1:5 (1,3 10,30)))", SELECT),
	OK("a SELECT INBOX (QRESYNC (1 2 (1,3 10,30)))", SELECT),
	OK("a SELECT INBOX (CONDSTORE QRESYNC (1 2))", SELECT),
	OK("a CREATE foo", CREATE), OK("a CREATE foo/bar (USE (\\Sent))", CREATE),
	OK("a CREATE x (USE ())", CREATE),
	OK("a DELETE foo", DELETE), OK("a RENAME a b", RENAME),
	OK("a SUBSCRIBE foo", SUBSCRIBE), OK("a UNSUBSCRIBE foo", UNSUBSCRIBE),
	OK("a LIST \"\" *", LIST), OK("a LIST \"\" %", LIST), OK("a LIST ~/ foo/%/*", LIST),
	OK("a LIST () \"\" *", LIST), OK("a LIST \"\" \"\"", LIST),
	OK("a LIST (SUBSCRIBED) \"\" (INBOX Drafts) RETURN (CHILDREN)", LIST),
	OK("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %", LIST),
	OK("a LIST (SPECIAL-USE RECURSIVEMATCH REMOTE) \"\" %", LIST),
	OK("a LIST \"\" % RETURN ()", LIST),
	OK("a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))", LIST),
	OK("a LSUB \"\" *", LSUB), OK("a LSUB \"\" {1}\r\n%", LSUB),
	OK("a STATUS INBOX (MESSAGES)", STATUS),
	OK("a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ "
	    "SIZE DELETED)", STATUS),
	OK("a APPEND INBOX {3}\r\nabc", APPEND),
	OK("a APPEND INBOX {0}\r\n", APPEND),
	OK("a APPEND INBOX (\\Seen) {3+}\r\nabc", APPEND),
	OK("a APPEND INBOX () \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc", APPEND),
	OK("a APPEND INBOX \"07-Feb-1994 21:52:25 +0100\" ~{3}\r\na\0c", APPEND),
	OK("a SEARCH ALL", SEARCH), OKU("a UID SEARCH 1:*", SEARCH),
	OK("a FETCH 1 ALL", FETCH), OKU("a UID FETCH 1:* (FLAGS)", FETCH),
	OK("a STORE 1 +FLAGS (\\Seen)", STORE), OKU("a UID STORE 1 FLAGS ()", STORE),
	OK("a COPY 1:3 Trash", COPY), OKU("a UID COPY 4,5 Trash", COPY),
	OK("a MOVE 2 Archive", MOVE), OKU("a uid move 2 Archive", MOVE),
	OKU("a UID EXPUNGE 3000:3002", EXPUNGE),
	OK("a GETQUOTA \"\"", GETQUOTA), OK("a GETQUOTAROOT INBOX", GETQUOTAROOT),
	OK("a SETQUOTA \"\" (STORAGE 512)", SETQUOTA), OK("a SETQUOTA \"\" ()", SETQUOTA),
	OK("a SETQUOTA x (STORAGE 512 MESSAGE 100)", SETQUOTA),
	OK8("a SELECT \"Entw\xc3\xbcrfe\"", SELECT), OK8("a CREATE \xc3\xa9t\xc3\xa9", CREATE),
};

static void
test_ok_table(void **state)
{
	struct imap_cmd cmd;

	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];

		parse_ok(c->in, c->len, c->utf8, &cmd);
		if (cmd.verb != c->verb || cmd.uid != c->uid)
			fail_msg("\"%s\": verb %d uid %d", c->in, cmd.verb, cmd.uid);
		imap_cmd_free(&cmd);
	}
}

struct bad_case {
	const char	*in;
	size_t		 len;
	int		 utf8;
	const char	*tag;
	const char	*err;
};

#define BAD(s, e)	{ IN(s), 0, "a", e }
#define BADT(s, t, e)	{ IN(s), 0, t, e }
#define BAD8(s, e)	{ IN(s), 1, "a", e }

static const struct bad_case bad_cases[] = {
	BADT("", "*", "Empty command"),
	BADT(" NOOP", "*", "Missing or invalid tag"),
	BADT("+ NOOP", "*", "Missing or invalid tag"),
	BADT("a+b NOOP", "*", "Invalid character in tag"),
	BADT("a\"b NOOP", "*", "Invalid character in tag"),
	BADT("a", "a", "Missing command"),
	BADT("a ", "a", "Missing command"),
	BAD("a  NOOP", "Extra space before command"),
	BAD("a FOO", "Unknown command FOO"),
	BAD("a FOO\x01", "Unknown command FOO"),
	BAD("a NOOP x", "Unexpected characters after command"),
	BAD("a NOOP ", "Unexpected characters after command"),
	BAD("a (", "Invalid character in command"),
	BAD("a UID NOOP", "UID must be followed by FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE"),
	BAD("a UID", "Missing command after UID"),
	BAD("a AUTHENTICATE", "Missing authentication mechanism"),
	BAD("a AUTHENTICATE PLAIN abc", "Invalid initial response (not base64)"),
	BAD("a AUTHENTICATE PLAIN a=bc", "Invalid initial response (not base64)"),
	BAD("a AUTHENTICATE PLAIN AAA=B", "Invalid initial response (not base64)"),
	BAD("a LOGIN", "Missing user name"),
	BAD("a LOGIN user", "Missing password"),
	BAD("a LOGIN user ", "Missing password"),
	BAD("a LOGIN  user pass", "Extra space before user name"),
	BAD("a LOGIN user  pass", "Extra space before password"),
	BAD("a LOGIN user\"pass\"", "Missing space before password"),
	BAD("a LOGIN user pass x", "Unexpected characters after command"),
	BAD("a LOGIN \"user pass", "Unterminated quoted string"),
	BAD("a LOGIN \"u\\ser\" pass", "Invalid escape in quoted string"),
	BAD("a LOGIN \"u\rser\" pass", "Invalid character in quoted string"),
	BAD("a LOGIN \"u\xc3\xa9\" pass", "8-bit character in quoted string"),
	BAD8("a LOGIN \"u\xc3\" pass", "Invalid UTF-8 in user name"),
	BAD("a LOGIN user {5}\r\npass", "Literal shorter than announced"),
	BAD("a LOGIN {4}user pass", "Missing CRLF after literal"),
	BAD("a LOGIN {4x}\r\nuser pass", "Invalid literal"),
	BAD("a LOGIN {}\r\nuser pass", "Invalid literal"),
	BAD("a LOGIN {99999999999}\r\nuser pass", "Literal too large"),
	BAD("a LOGIN {2}\r\nu\0 pass", "NUL character in user name"),
	BAD("a LOGIN ~{4}\r\nuser pass", "Missing space before password"),
	BAD("a ID", "Missing ID parameters"),
	BAD("a ID FOO", "Expected ( or NIL after ID"),
	BAD("a ID (\"a\")", "Missing ID value"),
	BAD("a ID (a b)", "Expected a string for ID field"),
	BAD("a ID (\"a\" \"b\" )", "Missing ID field"),
	BAD("a ENABLE", "Missing capability name"),
	BAD("a ENABLE X ", "Missing capability name"),
	BAD("a SELECT", "Missing mailbox name"),
	BAD("a SELECT ", "Missing mailbox name"),
	BAD("a SELECT INBOX ()", "Invalid character in SELECT parameter"),
	BAD("a SELECT INBOX (FOO)", "Unknown SELECT parameter FOO"),
	BAD("a SELECT INBOX (CONDSTORE CONDSTORE)", "CONDSTORE given twice"),
	BAD("a SELECT INBOX (QRESYNC (0 1))", "Invalid UIDVALIDITY"),
	BAD("a SELECT INBOX (QRESYNC (1))", "Missing mod-sequence"),
	BAD("a SELECT INBOX (QRESYNC (1 2 0:5))", "Invalid sequence set"),
	BAD("a SELECT INBOX (QRESYNC (1 2 1:5 (1,3)))", "Missing UID set"),
	BAD("a SELECT INBOX (QRESYNC (1 99999999999999999999))",
	    "Invalid mod-sequence (too large)"),
	BAD("a SELECT \"\xc3\xa9\"", "8-bit character in quoted string"),
	BAD("a SELECT \xc3\xa9", "8-bit character in mailbox name"),
	BAD("a LIST \"\" \xc3\xa9", "8-bit characters in mailbox pattern (use modified UTF-7)"),
	BAD("a LIST \"\" {2}\r\n\xc3\xa9", "8-bit characters in mailbox pattern (use modified UTF-7)"),
	BAD("a SELECT {2}\r\n\xc3\xa9", "8-bit characters in mailbox name (use modified UTF-7)"),
	BAD8("a SELECT {2}\r\n\xc3\x28", "Invalid UTF-8 in mailbox name"),
	BAD("a CREATE x (USE (\\Bogus))", "Unknown special-use attribute \\Bogus"),
	BAD("a CREATE x (FOO (\\Sent))", "Unknown CREATE parameter (only USE is supported)"),
	BAD("a CREATE x (USE (\\Sent)", "Expected ) after CREATE parameters"),
	BAD("a RENAME a", "Missing new mailbox name"),
	BAD("a LIST", "Missing reference name"),
	BAD("a LIST \"\"", "Missing mailbox pattern"),
	BAD("a LIST \"\" (", "Missing mailbox pattern"),
	BAD("a LIST (RECURSIVEMATCH) \"\" %", "RECURSIVEMATCH needs another selection option"),
	BAD("a LIST (REMOTE RECURSIVEMATCH) \"\" %",
	    "RECURSIVEMATCH needs another selection option"),
	BAD("a LIST (FOO) \"\" %", "Unknown LIST selection option FOO"),
	BAD("a LIST \"\" % RETURN (FOO)", "Unknown LIST return option FOO"),
	BAD("a LIST \"\" % RETURN", "Missing LIST return options"),
	BAD("a LIST \"\" % FOO ()", "Expected RETURN after mailbox pattern"),
	BAD("a LIST \"\" % RETURN (STATUS ())", "Invalid character in STATUS item"),
	BAD("a LIST \"\" (a b c d e f g h i j k l m n o p q)", "Too many mailbox patterns"),
	BAD("a STATUS INBOX", "Missing STATUS items"),
	BAD("a STATUS INBOX ()", "Invalid character in STATUS item"),
	BAD("a STATUS INBOX (MESSAGES FOO)", "Unknown STATUS item FOO"),
	BAD("a STATUS INBOX MESSAGES", "Expected ( before STATUS items"),
	BAD("a APPEND INBOX", "Missing message literal"),
	BAD("a APPEND INBOX abc", "Expected message literal"),
	BAD("a APPEND INBOX (\\Recent) {1}\r\nx", "\\Recent cannot be set by the client"),
	BAD("a APPEND INBOX (\\Foo) {1}\r\nx", "Unknown system flag \\Foo"),
	BAD("a APPEND INBOX \"7-Feb-1994\" {1}\r\nx", "Invalid date-time"),
	BAD("a APPEND INBOX \"30-Feb-1994 21:52:25 -0800\" {1}\r\nx",
	    "Invalid date-time (out of range)"),
	BAD("a APPEND INBOX \"07-Feb-1994 24:52:25 -0800\" {1}\r\nx",
	    "Invalid date-time (out of range)"),
	BAD("a APPEND INBOX \"07-Foo-1994 21:52:25 -0800\" {1}\r\nx", "Invalid date-time"),
	BAD("a APPEND INBOX {3}\r\nabc x", "Unexpected characters after command"),
	BAD("a APPEND INBOX {3}\r\nab", "Literal shorter than announced"),
	BAD("a APPEND INBOX  {3}\r\nabc", "Extra space before message literal"),
	BAD("a EXPUNGE 1", "Unexpected characters after command"),
	BAD("a UID EXPUNGE", "Missing sequence set"),
	BAD("a COPY 1", "Missing mailbox name"),
	BAD("a COPY x y", "Invalid sequence set"),
	BAD("a COPY 0 y", "Invalid sequence set"),
	BAD("a COPY 1, y", "Invalid sequence set"),
	BAD("a COPY 1:2:3 y", "Invalid sequence set"),
	BAD("a COPY 4294967296 y", "Invalid sequence set"),
	BAD("a COPY $,1 y", "Invalid sequence set"),
	BAD("a COPY 1:$ y", "Invalid sequence set"),
	BAD("a COPY $x y", "Missing space before mailbox name"),
	BAD("a SETQUOTA x (STORAGE)", "Missing quota limit"),
	BAD("a SETQUOTA x (STORAGE x)", "Invalid quota limit"),
	BAD("a GETQUOTAROOT", "Missing mailbox name"),
	/* FETCH */
	BAD("a FETCH", "Missing sequence set"),
	BAD("a FETCH 1", "Missing FETCH items"),
	BAD("a FETCH 1 FOO", "Unknown FETCH item FOO"),
	BAD("a FETCH 1 (FLAGS FOO)", "Unknown FETCH item FOO"),
	BAD("a FETCH 1 ()", "Empty FETCH item list"),
	BAD("a FETCH 1 (FLAGS", "Missing ) after FETCH item"),
	BAD("a FETCH 1 (FLAGS )", "Missing FETCH item"),
	BAD("a FETCH 1 (ALL)", "Unknown FETCH item ALL"),
	BAD("a FETCH 1 BODY[", "Missing ] after section"),
	BAD("a FETCH 1 BODY[FOO]", "Invalid section: bad section"),
	BAD("a FETCH 1 BODY[0]", "Invalid section: bad part number"),
	BAD("a FETCH 1 BODY[1.]", "Invalid section: bad section"),
	BAD("a FETCH 1 BODY[MIME]", "Invalid section: bad section"),
	BAD("a FETCH 1 BODY[HEADER.FIELDS]", "Invalid section: header list expected"),
	BAD("a FETCH 1 BODY[HEADER.FIELDS ()]", "Invalid character in header field name"),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (A:B)]", "Invalid header field name"),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (\"A B\")]", "Invalid header field name"),
	BAD("a FETCH 1 BODY[TEXT (A)]", "Invalid section: junk after section"),
	BAD("a FETCH 1 BODY[]<0>", "Invalid partial (want <offset.length>)"),
	BAD("a FETCH 1 BODY[]<0.0>", "Invalid partial (want <offset.length>)"),
	BAD("a FETCH 1 BODY.PEEK", "Missing section after BODY.PEEK"),
	BAD("a FETCH 1 BINARY[HEADER]", "BINARY takes only part numbers"),
	BAD("a FETCH 1 BINARY.SIZE[1]<0.5>", "BINARY.SIZE takes no partial"),
	BAD("a FETCH 1 FLAGS[]", "Unexpected [ after FETCH item"),
	BAD("a FETCH 1 FLAGS (FOO)", "Unknown FETCH modifier FOO"),
	BAD("a FETCH 1 FLAGS (CHANGEDSINCE)", "Missing mod-sequence"),
	BAD("a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)", "VANISHED is only allowed in UID FETCH"),
	BAD("a UID FETCH 1 FLAGS (VANISHED)", "VANISHED requires CHANGEDSINCE"),
	BAD("a FETCH 1 FLAGS CHANGEDSINCE 5", "Expected ( before FETCH modifiers"),
	/* STORE */
	BAD("a STORE 1", "Missing STORE data item"),
	BAD("a STORE 1 FLAGS", "Missing flags"),
	BAD("a STORE 1 FOO (\\Seen)", "Unknown STORE data item FOO"),
	BAD("a STORE 1 +FLAGS.LOUD (\\Seen)", "Unknown STORE data item +FLAGS.LOUD"),
	BAD("a STORE 1 +FLAGS (\\Recent)", "\\Recent cannot be set by the client"),
	BAD("a STORE 1 +FLAGS (\\Xyz)", "Unknown system flag \\Xyz"),
	BAD("a STORE 1 +FLAGS \\Xyz", "Unknown system flag \\Xyz"),
	BAD("a STORE 1 +FLAGS (\\Seen", "Missing ) after flag"),
	BAD("a STORE 1 +FLAGS (\\Seen  foo)", "Extra space before flag"),
	BAD("a STORE 1 +FLAGS (\\*)", "Invalid character in flag"),
	BAD("a STORE 1 (FOO 1) FLAGS x", "Unknown STORE modifier FOO"),
	BAD("a STORE 1 (UNCHANGEDSINCE x) FLAGS x", "Invalid mod-sequence"),
	/* SEARCH */
	BAD("a SEARCH", "Missing search key"),
	BAD("a SEARCH ", "Missing search key"),
	BAD("a SEARCH FOO", "Unknown search key FOO"),
	BAD("a SEARCH ALL  SEEN", "Extra space before search key"),
	BAD("a SEARCH ALL ", "Missing search key"),
	BAD("a SEARCH ()", "Empty search key list"),
	BAD("a SEARCH (SEEN", "Missing ) after search key"),
	BAD("a SEARCH SEEN)", "Unbalanced ) in search program"),
	BAD("a SEARCH OR SEEN", "Missing second OR key"),
	BAD("a SEARCH NOT", "Missing search key"),
	BAD("a SEARCH FROM", "Missing search key argument"),
	BAD("a SEARCH HEADER X", "Missing search string"),
	BAD("a SEARCH HEADER \"\" x", "Empty header field name"),
	BAD("a SEARCH BEFORE 1-Foo-2020", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH BEFORE 32-Jan-2020", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH BEFORE 29-Feb-2021", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH BEFORE 1-Jan-20", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH BEFORE \"1-Jan-2020", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH BEFORE 1-Jan-20201", "Invalid date (want d-Mmm-yyyy)"),
	BAD("a SEARCH LARGER x", "Invalid number"),
	BAD("a SEARCH UID x", "Invalid sequence set"),
	BAD("a SEARCH 0", "Invalid sequence set"),
	BAD("a SEARCH KEYWORD \\Seen", "Invalid character in keyword"),
	BAD("a SEARCH CHARSET ISO-8859-1 ALL",
	    "[BADCHARSET] Unsupported charset (use US-ASCII or UTF-8)"),
	BAD("a SEARCH CHARSET", "Missing charset"),
	BAD("a SEARCH RETURN (FOO) ALL", "Unknown RETURN option FOO"),
	BAD("a SEARCH RETURN (MIN) CHARSET", "Missing charset"),
	BAD("a SEARCH MODSEQ", "Missing search key argument"),
	BAD("a SEARCH MODSEQ \"/flags/\\\\Seen\" x 5", "Invalid MODSEQ entry type"),
	BAD("a SEARCH MODSEQ \"/foo\" all 5", "Invalid MODSEQ entry name"),
	BAD("a SEARCH SUBJECT \"x\\y\"", "Invalid escape in quoted string"),
	BAD("a SEARCH SUBJECT {3}\r\na\0b", "NUL character in search string"),
};

static void
test_bad_table(void **state)
{
	struct imap_cmd cmd;
	char err[256];
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int rc;

		rc = imap_parse_command(c->in, c->len, c->utf8, &cmd, err, sizeof(err));
		if (rc != -1 || strcmp(err, c->err) != 0 || strcmp(cmd.tag, c->tag) != 0) {
			print_error("case %zu \"%.*s\": rc %d tag \"%s\" err \"%s\", want "
			    "\"%s\"\n", i, (int)c->len, c->in, rc, cmd.tag, rc == 0 ? "" : err,
			    c->err);
			failed++;
		}
		imap_cmd_free(&cmd);
	}
	assert_int_equal(failed, 0);
}

static void
test_tag_and_markers(void **state)
{
	char tag[IMAP_TAG_MAX + 1], line[100];
	uint64_t size;
	int nonsync;

	imap_parse_tag(IN("A001 LOGIN x y"), tag, sizeof(tag));
	assert_string_equal(tag, "A001");
	imap_parse_tag(IN("A001"), tag, sizeof(tag));
	assert_string_equal(tag, "A001");
	imap_parse_tag(IN("+ foo"), tag, sizeof(tag));
	assert_string_equal(tag, "*");
	imap_parse_tag(IN("a\"b c"), tag, sizeof(tag));
	assert_string_equal(tag, "*");
	imap_parse_tag(IN(""), tag, sizeof(tag));
	assert_string_equal(tag, "*");
	memset(line, 'x', 65);
	line[65] = ' ';
	imap_parse_tag(line, 66, tag, sizeof(tag));
	assert_string_equal(tag, "*");
	imap_parse_tag(line + 1, 65, tag, sizeof(tag));
	assert_int_equal(strlen(tag), 64);

	assert_int_equal(imap_literal_marker(IN("a LOGIN {5}"), &size, &nonsync), 1);
	assert_true(size == 5 && nonsync == 0);
	assert_int_equal(imap_literal_marker(IN("a LOGIN {12+}"), &size, &nonsync), 1);
	assert_true(size == 12 && nonsync == 1);
	assert_int_equal(imap_literal_marker(IN("a APPEND x ~{4294967295}"), &size, &nonsync), 1);
	assert_true(size == 4294967295u);
	assert_int_equal(imap_literal_marker(IN("{0}"), &size, &nonsync), 1);
	assert_int_equal(imap_literal_marker(IN("a LOGIN {12x}"), &size, &nonsync), -1);
	assert_int_equal(imap_literal_marker(IN("a LOGIN {}"), &size, &nonsync), -1);
	assert_int_equal(imap_literal_marker(IN("a LOGIN {+}"), &size, &nonsync), -1);
	assert_int_equal(imap_literal_marker(IN("a APPEND x {4294967296}"), &size, &nonsync), -1);
	assert_int_equal(imap_literal_marker(IN("a NOOP"), &size, &nonsync), 0);
	assert_int_equal(imap_literal_marker(IN("a SEARCH SUBJECT x}"), &size, &nonsync), 0);
	assert_int_equal(imap_literal_marker(IN("a SEARCH SUBJECT \"{\" x}"), &size, &nonsync), 0);
	assert_int_equal(imap_literal_marker(IN(""), &size, &nonsync), 0);

	assert_int_equal(imap_is_auth_cancel(IN("*")), 1);
	assert_int_equal(imap_is_auth_cancel(IN("*x")), 0);
	assert_int_equal(imap_is_auth_cancel(IN("")), 0);
}

static void
test_tag_limit(void **state)
{
	struct imap_cmd cmd;
	char buf[100], err[100];

	memset(buf, 't', 64);
	memcpy(buf + 64, " NOOP", 5);
	assert_int_equal(imap_parse_command(buf, 69, 0, &cmd, err, sizeof(err)), 0);
	assert_int_equal(strlen(cmd.tag), 64);
	imap_cmd_free(&cmd);
	memset(buf, 't', 65);
	memcpy(buf + 65, " NOOP", 5);
	assert_int_equal(imap_parse_command(buf, 70, 0, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "Tag too long");
	assert_string_equal(cmd.tag, "*");
	imap_cmd_free(&cmd);
	/* A tiny error buffer truncates and still terminates. */
	assert_int_equal(imap_parse_command(IN("a FOO"), 0, &cmd, err, 5), -1);
	assert_string_equal(err, "Unkn");
	imap_cmd_free(&cmd);
}

static void
test_login_auth(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("A1 login \"joe \\\"x\\\\\" {6}\r\np a\r\ns"), 0, &cmd);
	assert_string_equal(cmd.tag, "A1");
	assert_string_equal(cmd.user, "joe \"x\\");
	assert_string_equal(cmd.password, "p a\r\ns");
	imap_cmd_free(&cmd);
	parse_ok(IN("A1 LOGIN user ]x"), 0, &cmd);
	assert_string_equal(cmd.password, "]x");
	imap_cmd_free(&cmd);
	parse_ok(IN("A1 LOGIN \"\" {0}\r\n"), 0, &cmd);
	assert_string_equal(cmd.user, "");
	assert_string_equal(cmd.password, "");
	imap_cmd_free(&cmd);
	parse_ok(IN("a authenticate scram-sha-256"), 0, &cmd);
	assert_string_equal(cmd.mechanism, "SCRAM-SHA-256");
	assert_null(cmd.initial);
	imap_cmd_free(&cmd);
	parse_ok(IN("a AUTHENTICATE PLAIN ="), 0, &cmd);
	assert_string_equal(cmd.initial, "=");
	imap_cmd_free(&cmd);
	parse_ok(IN("a LOGIN \"\xc3\xa9\" x"), 1, &cmd);
	assert_string_equal(cmd.user, "\xc3\xa9");
	imap_cmd_free(&cmd);
}

static void
test_id_enable(void **state)
{
	struct imap_cmd cmd;
	char buf[4096];
	size_t n;

	parse_ok(IN("a ID (\"name\" \"Thunderbird\" \"version\" NIL \"os\" {5}\r\nLinux)"), 0,
	    &cmd);
	assert_int_equal(cmd.id_npairs, 3);
	assert_string_equal(cmd.id_fields[0], "name");
	assert_string_equal(cmd.id_values[0], "Thunderbird");
	assert_null(cmd.id_values[1]);
	assert_string_equal(cmd.id_values[2], "Linux");
	imap_cmd_free(&cmd);
	parse_ok(IN("a ID nil"), 0, &cmd);
	assert_int_equal(cmd.id_npairs, 0);
	imap_cmd_free(&cmd);

	/* 30 pairs pass, 31 do not. */
	n = (size_t)snprintf(buf, sizeof(buf), "a ID (");
	for (int i = 0; i < 31; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"f%d\" \"v\"",
		    i ? " " : "", i);
	buf[n++] = ')';
	{
		char err[128];
		assert_int_equal(imap_parse_command(buf, n, 0, &cmd, err, sizeof(err)), -1);
		assert_string_equal(err, "Too many ID fields (at most 30)");
		imap_cmd_free(&cmd);
	}
	n = (size_t)snprintf(buf, sizeof(buf), "a ID (\"f\" \"");
	memset(buf + n, 'v', 1025);
	n += 1025;
	memcpy(buf + n, "\")", 2);
	{
		char err[128];
		assert_int_equal(imap_parse_command(buf, n + 2, 0, &cmd, err, sizeof(err)), -1);
		assert_string_equal(err, "ID string too long");
		imap_cmd_free(&cmd);
	}

	parse_ok(IN("a ENABLE condstore Utf8=Accept"), 0, &cmd);
	assert_int_equal(cmd.nenable, 2);
	assert_string_equal(cmd.enable[0], "CONDSTORE");
	assert_string_equal(cmd.enable[1], "UTF8=ACCEPT");
	imap_cmd_free(&cmd);
}

static void
test_select(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("a SELECT inbox"), 0, &cmd);
	assert_string_equal(cmd.mailbox, "inbox");
	assert_int_equal(cmd.condstore, 0);
	assert_int_equal(cmd.qresync, 0);
	imap_cmd_free(&cmd);
	parse_ok(IN("a EXAMINE {9}\r\nSent Mail (condstore)"), 0, &cmd);
	assert_int_equal(cmd.verb, IMAP_EXAMINE);
	assert_string_equal(cmd.mailbox, "Sent Mail");
	assert_int_equal(cmd.condstore, 1);
	imap_cmd_free(&cmd);
	parse_ok(IN("A02 SELECT INBOX (QRESYNC (67890007 90060115194045000 "
	    "41:211,214:541))"), 0, &cmd);
	assert_int_equal(cmd.qresync, 1);
	assert_int_equal(cmd.qr_uidvalidity, 67890007);
	assert_true(cmd.qr_modseq == 90060115194045000ULL);
	assert_int_equal(cmd.qr_known_uids.n, 2);
	assert_int_equal(cmd.qr_known_uids.ranges[1].lo, 214);
	assert_int_equal(cmd.qr_known_uids.ranges[1].hi, 541);
	assert_int_equal(cmd.qr_seq_match.n, 0);
	imap_cmd_free(&cmd);
	parse_ok(IN("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
	    "(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,"
	    "29985,29988,29991,29994,29997)))"), 0, &cmd);
	assert_int_equal(cmd.qr_known_uids.n, 1);
	assert_int_equal(cmd.qr_seq_match.n, 4);
	assert_int_equal(cmd.qr_uid_match.n, 13);
	assert_int_equal(cmd.qr_uid_match.ranges[12].lo, 29997);
	imap_cmd_free(&cmd);
}

static void
test_create_rename_status(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("a CREATE MySent (USE (\\Sent \\trash \\All))"), 0, &cmd);
	assert_string_equal(cmd.mailbox, "MySent");
	assert_int_equal(cmd.use, IMAP_USE_SENT | IMAP_USE_TRASH | IMAP_USE_ALL);
	imap_cmd_free(&cmd);
	parse_ok(IN("a RENAME \"a b\" &AOk-"), 0, &cmd);
	assert_string_equal(cmd.mailbox, "a b");
	assert_string_equal(cmd.mailbox2, "&AOk-");
	imap_cmd_free(&cmd);
	parse_ok(IN("a STATUS blurdybloop (UIDNEXT messages size)"), 0, &cmd);
	assert_string_equal(cmd.mailbox, "blurdybloop");
	assert_int_equal(cmd.status_items,
	    IMAP_STATUS_UIDNEXT | IMAP_STATUS_MESSAGES | IMAP_STATUS_SIZE);
	imap_cmd_free(&cmd);
	parse_ok(IN("a GETQUOTA \"\""), 0, &cmd);
	assert_string_equal(cmd.mailbox, "");
	imap_cmd_free(&cmd);
	parse_ok(IN("a SETQUOTA \"#user/x\" (STORAGE 512)"), 0, &cmd);
	assert_string_equal(cmd.mailbox, "#user/x");
	imap_cmd_free(&cmd);
}

static void
test_list(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("a LIST \"\" *"), 0, &cmd);
	assert_string_equal(cmd.reference, "");
	assert_int_equal(cmd.npatterns, 1);
	assert_string_equal(cmd.patterns[0], "*");
	assert_int_equal(cmd.list_extended, 0);
	assert_int_equal(cmd.list_select, 0);
	imap_cmd_free(&cmd);
	parse_ok(IN("a LIST #news. comp.mail.%]"), 0, &cmd);
	assert_string_equal(cmd.reference, "#news.");
	assert_string_equal(cmd.patterns[0], "comp.mail.%]");
	imap_cmd_free(&cmd);
	parse_ok(IN("A01 LIST (REMOTE subscribed RECURSIVEMATCH) \"\" (\"%\" {4}\r\nfoo* x)"
	    " RETURN (CHILDREN special-use STATUS (MESSAGES UNSEEN))"), 0, &cmd);
	assert_int_equal(cmd.list_select, IMAP_LIST_SEL_REMOTE | IMAP_LIST_SEL_SUBSCRIBED |
	    IMAP_LIST_SEL_RECURSIVEMATCH);
	assert_int_equal(cmd.npatterns, 3);
	assert_string_equal(cmd.patterns[0], "%");
	assert_string_equal(cmd.patterns[1], "foo*");
	assert_string_equal(cmd.patterns[2], "x");
	assert_int_equal(cmd.list_return, IMAP_LIST_RET_CHILDREN | IMAP_LIST_RET_SPECIAL_USE |
	    IMAP_LIST_RET_STATUS);
	assert_int_equal(cmd.list_status, IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN);
	assert_int_equal(cmd.list_extended, 1);
	imap_cmd_free(&cmd);
	parse_ok(IN("a LIST () \"\" %"), 0, &cmd);
	assert_int_equal(cmd.list_extended, 1);
	imap_cmd_free(&cmd);
	parse_ok(IN("a LIST \"\" % RETURN (SUBSCRIBED)"), 0, &cmd);
	assert_int_equal(cmd.list_extended, 1);
	assert_int_equal(cmd.list_return, IMAP_LIST_RET_SUBSCRIBED);
	imap_cmd_free(&cmd);
	parse_ok(IN("a LSUB \"#news.\" \"comp.mail.*\""), 0, &cmd);
	assert_string_equal(cmd.reference, "#news.");
	assert_string_equal(cmd.patterns[0], "comp.mail.*");
	imap_cmd_free(&cmd);
	parse_ok(IN("a LIST \"\" \xc3\xa9*"), 1, &cmd);
	assert_string_equal(cmd.patterns[0], "\xc3\xa9*");
	imap_cmd_free(&cmd);
}

static void
test_append(void **state)
{
	static const char msg[] = "a APPEND saved-messages (\\Seen $Forwarded \\draft) "
	    "\" 7-Feb-1994 21:52:25 -0800\" {10}\r\nab\0\r\n\xff\x01xyz";
	struct imap_cmd cmd;

	parse_ok(msg, sizeof(msg) - 1, 0, &cmd);
	assert_string_equal(cmd.mailbox, "saved-messages");
	assert_int_equal(cmd.append_flags.system, IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT);
	assert_int_equal(cmd.append_flags.nkeywords, 1);
	assert_string_equal(cmd.append_flags.keywords[0], "$Forwarded");
	assert_int_equal(cmd.has_date, 1);
	/* 1994-02-07 21:52:25 -0800 is 1994-02-08 05:52:25 UTC. */
	assert_true(cmd.append_date == (time_t)760686745);
	assert_ptr_equal(cmd.message, msg + sizeof(msg) - 1 - 10);
	assert_int_equal(cmd.message_len, 10);
	assert_memory_equal(cmd.message, "ab\0\r\n\xff\x01xyz", 10);
	assert_int_equal(cmd.message_binary, 0);
	imap_cmd_free(&cmd);

	parse_ok(IN("a APPEND INBOX \"01-Jan-2000 00:00:00 +0000\" ~{2+}\r\n\0\0"), 0, &cmd);
	assert_int_equal(cmd.message_binary, 1);
	assert_int_equal(cmd.message_len, 2);
	assert_true(cmd.append_date == (time_t)946684800);
	assert_int_equal(cmd.append_flags.system, 0);
	imap_cmd_free(&cmd);

	parse_ok(IN("a APPEND INBOX {1}\r\nx"), 0, &cmd);
	assert_int_equal(cmd.has_date, 0);
	imap_cmd_free(&cmd);
}

static void
test_seqset(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("a COPY 5:2,*,7,4294967295,3:*,*:1 x"), 0, &cmd);
	assert_int_equal(cmd.set.n, 6);
	assert_int_equal(cmd.set.ranges[0].lo, 2);
	assert_int_equal(cmd.set.ranges[0].hi, 5);
	assert_int_equal(cmd.set.ranges[1].lo, IMAP_SEQ_STAR);
	assert_int_equal(cmd.set.ranges[1].hi, IMAP_SEQ_STAR);
	assert_int_equal(cmd.set.ranges[3].lo, 4294967295u);
	assert_int_equal(cmd.set.ranges[4].lo, 3);
	assert_int_equal(cmd.set.ranges[4].hi, IMAP_SEQ_STAR);
	assert_int_equal(cmd.set.ranges[5].lo, 1);
	assert_int_equal(cmd.set.ranges[5].hi, IMAP_SEQ_STAR);

	assert_true(imap_seqset_contains(&cmd.set, 2, 10));
	assert_true(imap_seqset_contains(&cmd.set, 10, 10));
	assert_true(imap_seqset_contains(&cmd.set, 7, 10));
	imap_cmd_free(&cmd);

	parse_ok(IN("a COPY 5:* x"), 0, &cmd);
	/* "5:*" with * = 3 is 3:5. */
	assert_true(imap_seqset_contains(&cmd.set, 3, 3));
	assert_false(imap_seqset_contains(&cmd.set, 2, 3));
	assert_true(imap_seqset_contains(&cmd.set, 7, 9));
	assert_false(imap_seqset_contains(&cmd.set, 10, 9));
	imap_cmd_free(&cmd);
	parse_ok(IN("a COPY * x"), 0, &cmd);
	assert_true(imap_seqset_contains(&cmd.set, 9, 9));
	assert_false(imap_seqset_contains(&cmd.set, 8, 9));
	imap_cmd_free(&cmd);
	parse_ok(IN("a UID EXPUNGE 1,3:4"), 0, &cmd);
	assert_false(imap_seqset_contains(&cmd.set, 2, 100));
	assert_true(imap_seqset_contains(&cmd.set, 4, 100));
	imap_cmd_free(&cmd);

	/* "$", the saved search result (RFC 5182): flagged, never matched here. */
	parse_ok(IN("a UID COPY $ x"), 0, &cmd);
	assert_true(cmd.set.saved);
	assert_int_equal(cmd.set.n, 0);
	assert_false(imap_seqset_contains(&cmd.set, 1, 100));
	imap_cmd_free(&cmd);
	parse_ok(IN("a SEARCH RETURN (SAVE) $ UNSEEN"), 0, &cmd);
	assert_int_equal(cmd.search->nkids, 2);
	assert_int_equal(cmd.search->kids[0]->op, IMAP_SK_SEQSET);
	assert_true(cmd.search->kids[0]->set.saved);
	imap_cmd_free(&cmd);
}

static const struct imap_fetch_item *
item(const struct imap_cmd *cmd, size_t i)
{
	assert_true(i < cmd->nitems);
	return &cmd->items[i];
}

static void
test_fetch(void **state)
{
	struct imap_cmd cmd;

	parse_ok(IN("a FETCH 1:* FULL"), 0, &cmd);
	assert_int_equal(cmd.nitems, 5);
	assert_int_equal(item(&cmd, 0)->att, IMAP_FA_FLAGS);
	assert_int_equal(item(&cmd, 1)->att, IMAP_FA_INTERNALDATE);
	assert_int_equal(item(&cmd, 2)->att, IMAP_FA_RFC822_SIZE);
	assert_int_equal(item(&cmd, 3)->att, IMAP_FA_ENVELOPE);
	assert_int_equal(item(&cmd, 4)->att, IMAP_FA_BODY);
	assert_string_equal(item(&cmd, 2)->name, "RFC822.SIZE");
	imap_cmd_free(&cmd);
	parse_ok(IN("a FETCH 1 fast"), 0, &cmd);
	assert_int_equal(cmd.nitems, 3);
	imap_cmd_free(&cmd);
	parse_ok(IN("a FETCH 1 all"), 0, &cmd);
	assert_int_equal(cmd.nitems, 4);
	imap_cmd_free(&cmd);
	parse_ok(IN("a FETCH 1 uid"), 0, &cmd);
	assert_int_equal(cmd.nitems, 1);
	assert_int_equal(item(&cmd, 0)->att, IMAP_FA_UID);
	assert_string_equal(item(&cmd, 0)->name, "UID");
	imap_cmd_free(&cmd);

	parse_ok(IN("a FETCH 2:4 (FLAGS body.peek[header.fields (From \"To\" {2}\r\nCc)]"
	    " BODY[]<0.2048> BODY[1.2.MIME] BINARY.PEEK[1]<100.50> BINARY.SIZE[2] "
	    "RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE BODY MODSEQ ENVELOPE "
	    "BODY[TEXT] BINARY[] body[2.header.fields.not (x-a)])"), 0, &cmd);
	assert_int_equal(cmd.nitems, 16);
	assert_int_equal(item(&cmd, 1)->att, IMAP_FA_BODY_SECTION);
	assert_int_equal(item(&cmd, 1)->peek, 1);
	assert_string_equal(item(&cmd, 1)->name, "BODY[HEADER.FIELDS (From To Cc)]");
	assert_int_equal(item(&cmd, 1)->section->text, MIME_SECTION_HEADER_FIELDS);
	assert_int_equal(item(&cmd, 1)->section->nfields, 3);
	assert_string_equal(item(&cmd, 1)->section->fields[2], "Cc");
	assert_int_equal(item(&cmd, 2)->peek, 0);
	assert_string_equal(item(&cmd, 2)->name, "BODY[]<0>");
	assert_int_equal(item(&cmd, 2)->section->partial, 1);
	assert_int_equal(item(&cmd, 2)->section->partial_len, 2048);
	assert_string_equal(item(&cmd, 3)->name, "BODY[1.2.MIME]");
	assert_int_equal(item(&cmd, 3)->section->nparts, 2);
	assert_int_equal(item(&cmd, 4)->att, IMAP_FA_BINARY);
	assert_int_equal(item(&cmd, 4)->peek, 1);
	assert_string_equal(item(&cmd, 4)->name, "BINARY[1]<100>");
	assert_int_equal(item(&cmd, 5)->att, IMAP_FA_BINARY_SIZE);
	assert_string_equal(item(&cmd, 5)->name, "BINARY.SIZE[2]");
	assert_int_equal(item(&cmd, 6)->att, IMAP_FA_RFC822);
	assert_int_equal(item(&cmd, 7)->att, IMAP_FA_RFC822_HEADER);
	assert_int_equal(item(&cmd, 8)->att, IMAP_FA_RFC822_TEXT);
	assert_int_equal(item(&cmd, 9)->att, IMAP_FA_BODYSTRUCTURE);
	assert_int_equal(item(&cmd, 10)->att, IMAP_FA_BODY);
	assert_null(item(&cmd, 10)->section);
	assert_int_equal(item(&cmd, 11)->att, IMAP_FA_MODSEQ);
	assert_int_equal(item(&cmd, 12)->att, IMAP_FA_ENVELOPE);
	assert_string_equal(item(&cmd, 13)->name, "BODY[TEXT]");
	assert_string_equal(item(&cmd, 14)->name, "BINARY[]");
	assert_string_equal(item(&cmd, 15)->name, "BODY[2.HEADER.FIELDS.NOT (x-a)]");
	imap_cmd_free(&cmd);

	parse_ok(IN("a FETCH 1 BODY[HEADER.FIELDS (\"A(b\" \"C\\\"D\")]"), 0, &cmd);
	assert_string_equal(item(&cmd, 0)->name, "BODY[HEADER.FIELDS (\"A(b\" \"C\\\"D\")]");
	assert_string_equal(item(&cmd, 0)->section->fields[1], "C\"D");
	imap_cmd_free(&cmd);
	parse_ok(IN("a FETCH 1 body[2.HEADER.FIELDS.NOT (x-a)]"), 0, &cmd);
	assert_string_equal(item(&cmd, 0)->name, "BODY[2.HEADER.FIELDS.NOT (x-a)]");
	imap_cmd_free(&cmd);

	parse_ok(IN("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)"), 0, &cmd);
	assert_int_equal(cmd.uid, 1);
	assert_int_equal(cmd.has_changedsince, 1);
	assert_true(cmd.changedsince == 12345);
	assert_int_equal(cmd.vanished, 1);
	imap_cmd_free(&cmd);
	parse_ok(IN("a FETCH 1 FLAGS (changedsince 0)"), 0, &cmd);
	assert_int_equal(cmd.has_changedsince, 1);
	assert_int_equal(cmd.vanished, 0);
	imap_cmd_free(&cmd);
}

static void
test_fetch_limit(void **state)
{
	struct imap_cmd cmd;
	char buf[1024], err[128];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "a FETCH 1 (");
	for (int i = 0; i < IMAP_FETCH_ITEMS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sUID", i ? " " : "");
	buf[n++] = ')';
	parse_ok(buf, n, 0, &cmd);
	imap_cmd_free(&cmd);
	memcpy(buf + n - 1, " UID)", 5);
	assert_int_equal(imap_parse_command(buf, n + 4, 0, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "Too many FETCH items");
	imap_cmd_free(&cmd);
}

static void
test_store(void **state)
{
	struct imap_cmd cmd;
	char buf[1024], err[128];
	size_t n;

	parse_ok(IN("a STORE 2:4 +FLAGS.SILENT (\\Deleted foo \\SEEN FOO)"), 0, &cmd);
	assert_int_equal(cmd.store_mode, IMAP_STORE_ADD);
	assert_int_equal(cmd.silent, 1);
	assert_int_equal(cmd.store_flags.system, IMAP_FLAG_DELETED | IMAP_FLAG_SEEN);
	assert_int_equal(cmd.store_flags.nkeywords, 1);
	assert_string_equal(cmd.store_flags.keywords[0], "foo");
	imap_cmd_free(&cmd);
	parse_ok(IN("a STORE 1 -flags \\Answered $Junk"), 0, &cmd);
	assert_int_equal(cmd.store_mode, IMAP_STORE_REMOVE);
	assert_int_equal(cmd.silent, 0);
	assert_int_equal(cmd.store_flags.system, IMAP_FLAG_ANSWERED);
	assert_string_equal(cmd.store_flags.keywords[0], "$Junk");
	imap_cmd_free(&cmd);
	parse_ok(IN("a UID STORE 7 (UNCHANGEDSINCE 320162338) FLAGS ()"), 0, &cmd);
	assert_int_equal(cmd.uid, 1);
	assert_int_equal(cmd.store_mode, IMAP_STORE_SET);
	assert_int_equal(cmd.has_unchangedsince, 1);
	assert_true(cmd.unchangedsince == 320162338);
	assert_int_equal(cmd.store_flags.system, 0);
	assert_int_equal(cmd.store_flags.nkeywords, 0);
	imap_cmd_free(&cmd);
	parse_ok(IN("a STORE 1 FLAGS \\Flagged"), 0, &cmd);
	assert_int_equal(cmd.store_flags.system, IMAP_FLAG_FLAGGED);
	imap_cmd_free(&cmd);

	n = (size_t)snprintf(buf, sizeof(buf), "a STORE 1 FLAGS (");
	for (int i = 0; i <= IMAP_FLAGS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sk%d", i ? " " : "", i);
	buf[n++] = ')';
	assert_int_equal(imap_parse_command(buf, n, 0, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "Too many flags");
	imap_cmd_free(&cmd);
}

static void
test_search(void **state)
{
	struct imap_cmd cmd;
	struct imap_search_key *k;

	parse_ok(IN("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""), 0, &cmd);
	assert_null(cmd.charset);
	assert_int_equal(cmd.esearch, 0);
	k = cmd.search;
	assert_int_equal(k->op, IMAP_SK_AND);
	assert_int_equal(k->nkids, 3);
	assert_int_equal(k->kids[0]->op, IMAP_SK_FLAG);
	assert_int_equal(k->kids[0]->flag, IMAP_FLAG_FLAGGED);
	assert_int_equal(k->kids[1]->op, IMAP_SK_SINCE);
	assert_true(k->kids[1]->day == (time_t)760060800);
	assert_int_equal(k->kids[2]->op, IMAP_SK_NOT);
	assert_int_equal(k->kids[2]->nkids, 1);
	assert_int_equal(k->kids[2]->kids[0]->op, IMAP_SK_HEADER);
	assert_string_equal(k->kids[2]->kids[0]->field, "From");
	assert_string_equal(k->kids[2]->kids[0]->value, "Smith");
	imap_cmd_free(&cmd);

	parse_ok(IN("a UID SEARCH RETURN (MIN COUNT) CHARSET utf-8 OR (1:3 UID 5,*) "
	    "HEADER X-Spam {3}\r\nyes TEXT \"\" KEYWORD $Junk UNKEYWORD x LARGER 100 "
	    "SMALLER 9223372036854775807 ON \"03-Mar-2003\" BEFORE 1-jan-2000 "
	    "SENTON 1-Jan-2000 SENTBEFORE 1-Jan-2000 SENTSINCE 1-Jan-2000 NEW OLD RECENT "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN ANSWERED DELETED DRAFT SEEN "
	    "BODY x CC y BCC z TO w SUBJECT v ALL"), 0, &cmd);
	assert_int_equal(cmd.uid, 1);
	assert_int_equal(cmd.esearch, 1);
	assert_int_equal(cmd.search_return, IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT);
	assert_string_equal(cmd.charset, "UTF-8");
	k = cmd.search;
	assert_int_equal(k->nkids, 29);
	assert_int_equal(k->kids[0]->op, IMAP_SK_OR);
	assert_int_equal(k->kids[0]->kids[0]->op, IMAP_SK_AND);
	assert_int_equal(k->kids[0]->kids[0]->nkids, 2);
	assert_int_equal(k->kids[0]->kids[0]->kids[0]->op, IMAP_SK_SEQSET);
	assert_int_equal(k->kids[0]->kids[0]->kids[1]->op, IMAP_SK_UID);
	assert_int_equal(k->kids[0]->kids[1]->op, IMAP_SK_HEADER);
	assert_string_equal(k->kids[0]->kids[1]->field, "X-Spam");
	assert_string_equal(k->kids[0]->kids[1]->value, "yes");
	assert_int_equal(k->kids[1]->op, IMAP_SK_TEXT);
	assert_string_equal(k->kids[1]->value, "");
	assert_int_equal(k->kids[2]->op, IMAP_SK_KEYWORD);
	assert_string_equal(k->kids[2]->value, "$Junk");
	assert_int_equal(k->kids[3]->op, IMAP_SK_UNKEYWORD);
	assert_int_equal(k->kids[4]->op, IMAP_SK_LARGER);
	assert_true(k->kids[4]->number == 100);
	assert_true(k->kids[5]->number == 9223372036854775807ULL);
	assert_int_equal(k->kids[6]->op, IMAP_SK_ON);
	assert_true(k->kids[6]->day == (time_t)1046649600);
	assert_int_equal(k->kids[7]->op, IMAP_SK_BEFORE);
	assert_true(k->kids[7]->day == (time_t)946684800);
	assert_int_equal(k->kids[8]->op, IMAP_SK_SENTON);
	assert_int_equal(k->kids[9]->op, IMAP_SK_SENTBEFORE);
	assert_int_equal(k->kids[10]->op, IMAP_SK_SENTSINCE);
	assert_int_equal(k->kids[11]->op, IMAP_SK_NEW);
	assert_int_equal(k->kids[12]->op, IMAP_SK_OLD);
	assert_int_equal(k->kids[13]->op, IMAP_SK_FLAG);
	assert_int_equal(k->kids[13]->flag, IMAP_FLAG_RECENT);
	assert_int_equal(k->kids[14]->op, IMAP_SK_NOFLAG);
	assert_int_equal(k->kids[14]->flag, IMAP_FLAG_ANSWERED);
	assert_int_equal(k->kids[18]->flag, IMAP_FLAG_SEEN);
	assert_int_equal(k->kids[19]->op, IMAP_SK_FLAG);
	assert_int_equal(k->kids[23]->op, IMAP_SK_BODY);
	assert_string_equal(k->kids[24]->field, "Cc");
	assert_string_equal(k->kids[25]->field, "Bcc");
	assert_string_equal(k->kids[26]->field, "To");
	assert_string_equal(k->kids[27]->field, "Subject");
	assert_int_equal(k->kids[28]->op, IMAP_SK_ALL);
	imap_cmd_free(&cmd);

	parse_ok(IN("a SEARCH RETURN () ALL"), 0, &cmd);
	assert_int_equal(cmd.esearch, 1);
	assert_int_equal(cmd.search_return, IMAP_SEARCH_RET_ALL);
	imap_cmd_free(&cmd);
	parse_ok(IN("a SEARCH RETURN (SAVE MAX ALL) CHARSET \"US-ASCII\" 1"), 0, &cmd);
	assert_int_equal(cmd.search_return,
	    IMAP_SEARCH_RET_SAVE | IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_ALL);
	assert_string_equal(cmd.charset, "US-ASCII");
	imap_cmd_free(&cmd);

	parse_ok(IN("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 MODSEQ 5"), 0, &cmd);
	assert_int_equal(cmd.search_modseq, 1);
	assert_int_equal(cmd.search->kids[0]->op, IMAP_SK_MODSEQ);
	assert_true(cmd.search->kids[0]->number == 620162338);
	assert_true(cmd.search->kids[1]->number == 5);
	imap_cmd_free(&cmd);

	parse_ok(IN("a SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xe2\x82\xac!"), 0, &cmd);
	assert_string_equal(cmd.search->kids[0]->value, "\xe2\x82\xac!");
	imap_cmd_free(&cmd);
	parse_ok(IN("a SEARCH SUBJECT \"\xe2\x82\xac\""), 1, &cmd);
	assert_string_equal(cmd.search->kids[0]->value, "\xe2\x82\xac");
	imap_cmd_free(&cmd);
	/* RETURN and CHARSET are options only where they are expected. */
	parse_ok(IN("a SEARCH SUBJECT RETURN"), 0, &cmd);
	assert_string_equal(cmd.search->kids[0]->value, "RETURN");
	imap_cmd_free(&cmd);
}

static void
test_search_limits(void **state)
{
	struct imap_cmd cmd;
	char buf[4096], err[128];
	size_t n;
	int i;

	/* Depth: 31 NOTs are fine (32 levels), one more is not. */
	n = (size_t)snprintf(buf, sizeof(buf), "a SEARCH ");
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX - 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "NOT ");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "SEEN");
	parse_ok(buf, n, 0, &cmd);
	imap_cmd_free(&cmd);
	n = (size_t)snprintf(buf, sizeof(buf), "a SEARCH ");
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "(");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "SEEN");
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX; i++)
		buf[n++] = ')';
	assert_int_equal(imap_parse_command(buf, n, 0, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "Search program nested too deeply");
	imap_cmd_free(&cmd);

	/* Nodes: the top AND plus 255 keys fit, 256 keys do not. */
	n = (size_t)snprintf(buf, sizeof(buf), "a SEARCH");
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX - 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " SEEN");
	parse_ok(buf, n, 0, &cmd);
	assert_int_equal(cmd.search->nkids, IMAP_SEARCH_KEYS_MAX - 1);
	imap_cmd_free(&cmd);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " SEEN");
	assert_int_equal(imap_parse_command(buf, n, 0, &cmd, err, sizeof(err)), -1);
	assert_string_equal(err, "Too many search keys (at most 256)");
	imap_cmd_free(&cmd);
}

/* Every prefix of valid commands must fail cleanly, never read past len. */
static void
test_prefixes(void **state)
{
	static const char *const cmds[] = {
		"a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc",
		"a UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (A {1}\r\nB)]<0.5>) (CHANGEDSINCE 1 "
		    "VANISHED)",
		"a SEARCH RETURN (MIN) CHARSET UTF-8 OR (1:3 UID 5,*) HEADER X {2}\r\nab "
		    "SINCE \"1-Jan-2000\" MODSEQ \"/flags/\\\\seen\" all 5",
		"a LIST (SUBSCRIBED) \"\" (a b) RETURN (STATUS (MESSAGES))",
		"a SELECT INBOX (QRESYNC (1 2 1:5 (1,3 10,30)))",
		"a ID (\"a\" NIL)",
		"a STORE 1 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen x)",
	};
	struct imap_cmd cmd;
	char err[128], *copy;
	size_t len;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		len = strlen(cmds[i]);
		parse_ok(cmds[i], len, 0, &cmd);
		imap_cmd_free(&cmd);
		for (size_t n = 0; n < len; n++) {
			/* An exact-size heap copy lets ASan catch over-reads. */
			copy = malloc(n + 1);
			memcpy(copy, cmds[i], n);
			if (imap_parse_command(copy, n, 0, &cmd, err, sizeof(err)) == 0 &&
			    cmd.verb != IMAP_SEARCH && cmd.verb != IMAP_LIST &&
			    cmd.verb != IMAP_SELECT && cmd.verb != IMAP_ID &&
			    cmd.verb != IMAP_FETCH)
				fail_msg("prefix %zu of \"%s\" parsed", n, cmds[i]);
			imap_cmd_free(&cmd);
			free(copy);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_table),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_tag_and_markers),
		cmocka_unit_test(test_tag_limit),
		cmocka_unit_test(test_login_auth),
		cmocka_unit_test(test_id_enable),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_create_rename_status),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_fetch_limit),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_search_limits),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
