/*
 * Unit tests of the pure parts of pop3d: the command parser (table-driven),
 * the UPDATE-state bookkeeping of pop3d_drop, and dot-stuffing for RETR
 * and TOP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/pop3d_cmd.h"
#include "pop3d/pop3d_drop.h"
#include "pop3d/pop3d_stuff.h"

#define IN(s)		s, sizeof(s) - 1
#define OK(v)		0, POP3D_CMD_##v, NULL
#define ERR(v, r)	-1, POP3D_CMD_##v, r

#define R_UNKNOWN	"-ERR Unknown command"
#define R_BADCHAR	"-ERR Bad character in command"
#define R_NOARGS	"-ERR Syntax error: this command takes no arguments"
#define R_MSGNUM	"-ERR Syntax error: invalid message number"
#define R_LINES		"-ERR Syntax error: invalid number of lines"

struct cmd_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 rc;
	enum pop3d_verb	 verb;
	const char	*reply;		/* NULL on success */
	int		 has_msg;
	uint32_t	 msg;
	uint32_t	 lines;
	const char	*arg;
	const char	*initial;
};

static const struct cmd_case cmd_cases[] = {
	{ "empty", IN(""), ERR(UNKNOWN, R_UNKNOWN), 0, 0, 0, NULL, NULL },
	{ "unknown", IN("XYZZY"), ERR(UNKNOWN, R_UNKNOWN), 0, 0, 0, NULL, NULL },
	{ "two letters", IN("QU"), ERR(UNKNOWN, R_UNKNOWN), 0, 0, 0, NULL, NULL },
	{ "leading space", IN(" QUIT"), ERR(UNKNOWN, R_UNKNOWN), 0, 0, 0, NULL, NULL },
	{ "NUL", IN("QU\0T"), ERR(UNKNOWN, R_BADCHAR), 0, 0, 0, NULL, NULL },
	{ "control", IN("NOOP\x01"), ERR(UNKNOWN, R_BADCHAR), 0, 0, 0, NULL, NULL },
	{ "quit", IN("QUIT"), OK(QUIT), 0, 0, 0, NULL, NULL },
	{ "quit lower", IN("quit"), OK(QUIT), 0, 0, 0, NULL, NULL },
	{ "quit arg", IN("QUIT now"), ERR(QUIT, R_NOARGS), 0, 0, 0, NULL, NULL },
	{ "stat trailing space", IN("STAT "), OK(STAT), 0, 0, 0, NULL, NULL },
	{ "capa", IN("CAPA"), OK(CAPA), 0, 0, 0, NULL, NULL },
	{ "stls", IN("STLS"), OK(STLS), 0, 0, 0, NULL, NULL },
	{ "noop", IN("NoOp"), OK(NOOP), 0, 0, 0, NULL, NULL },
	{ "rset", IN("RSET"), OK(RSET), 0, 0, 0, NULL, NULL },
	{ "list all", IN("LIST"), OK(LIST), 0, 0, 0, NULL, NULL },
	{ "list all space", IN("LIST "), OK(LIST), 0, 0, 0, NULL, NULL },
	{ "list one", IN("LIST 3"), OK(LIST), 1, 3, 0, NULL, NULL },
	{ "list zero", IN("LIST 0"), OK(LIST), 1, 0, 0, NULL, NULL },
	{ "list sign", IN("LIST +3"), ERR(LIST, R_MSGNUM), 0, 0, 0, NULL, NULL },
	{ "list negative", IN("LIST -1"), ERR(LIST, R_MSGNUM), 0, 0, 0, NULL, NULL },
	{ "list huge", IN("LIST 99999999999"), ERR(LIST, R_MSGNUM), 0, 0, 0, NULL, NULL },
	{ "list two", IN("LIST 1 2"), ERR(LIST, "-ERR Syntax: LIST [msg]"), 0, 0, 0, NULL,
	    NULL },
	{ "uidl one", IN("UIDL 12"), OK(UIDL), 1, 12, 0, NULL, NULL },
	{ "retr", IN("RETR 1"), OK(RETR), 1, 1, 0, NULL, NULL },
	{ "retr missing", IN("RETR"), ERR(RETR, "-ERR Syntax: RETR msg"), 0, 0, 0, NULL, NULL },
	{ "retr word", IN("RETR one"), ERR(RETR, R_MSGNUM), 0, 0, 0, NULL, NULL },
	{ "retr double space", IN("RETR  1"), ERR(RETR, "-ERR Syntax: RETR msg"), 0, 0, 0,
	    NULL, NULL },
	{ "dele", IN("DELE 2147483647"), OK(DELE), 1, 2147483647u, 0, NULL, NULL },
	{ "dele over", IN("DELE 2147483648"), ERR(DELE, R_MSGNUM), 0, 0, 0, NULL, NULL },
	{ "top", IN("TOP 1 10"), OK(TOP), 1, 1, 10, NULL, NULL },
	{ "top zero", IN("top 2 0"), OK(TOP), 1, 2, 0, NULL, NULL },
	{ "top one arg", IN("TOP 1"), ERR(TOP, "-ERR Syntax: TOP msg n"), 0, 0, 0, NULL, NULL },
	{ "top bad n", IN("TOP 1 x"), ERR(TOP, R_LINES), 1, 1, 0, NULL, NULL },
	{ "user", IN("USER user@example.test"), OK(USER), 0, 0, 0, "user@example.test", NULL },
	{ "user none", IN("USER"), ERR(USER, "-ERR Syntax: USER name"), 0, 0, 0, NULL, NULL },
	{ "user two", IN("USER a b"), ERR(USER, "-ERR Syntax: USER name"), 0, 0, 0, NULL, NULL },
	{ "pass spaces", IN("PASS a secret with  spaces "), OK(PASS), 0, 0, 0,
	    "a secret with  spaces ", NULL },
	{ "pass empty", IN("PASS"), ERR(PASS, "-ERR Syntax: PASS password"), 0, 0, 0, NULL,
	    NULL },
	{ "auth list", IN("AUTH"), OK(AUTH), 0, 0, 0, NULL, NULL },
	{ "auth mech", IN("AUTH PLAIN"), OK(AUTH), 0, 0, 0, "PLAIN", NULL },
	{ "auth ir", IN("AUTH PLAIN AHVzZXIAcGFzcw=="), OK(AUTH), 0, 0, 0, "PLAIN",
	    "AHVzZXIAcGFzcw==" },
	{ "auth three", IN("AUTH PLAIN a b"),
	    ERR(AUTH, "-ERR Syntax: AUTH mechanism [initial-response]"), 0, 0, 0, NULL, NULL },
	{ "apop", IN("APOP mrose c4c9334bac560ecc979e58001b3e22fb"), OK(APOP), 0, 0, 0,
	    "mrose", "c4c9334bac560ecc979e58001b3e22fb" },
};

static void
test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		char line[300];
		struct pop3d_cmd cmd;
		const char *err;
		int rc;

		memcpy(line, c->in, c->len);
		line[c->len] = '\0';
		rc = pop3d_cmd_parse(line, c->len, &cmd, &err);
		if (rc != c->rc || cmd.verb != c->verb ||
		    (c->reply != NULL && (err == NULL || strcmp(err, c->reply) != 0)))
			fail_msg("case \"%s\": rc %d verb %d err \"%s\"", c->name, rc, cmd.verb,
			    err != NULL ? err : "(none)");
		if (rc != 0)
			continue;
		if (cmd.has_msg != c->has_msg || cmd.msg != c->msg || cmd.lines != c->lines)
			fail_msg("case \"%s\": has_msg %d msg %u lines %u", c->name, cmd.has_msg,
			    cmd.msg, cmd.lines);
		if ((c->arg == NULL) != (cmd.arg == NULL) ||
		    (c->arg != NULL && strcmp(c->arg, cmd.arg) != 0))
			fail_msg("case \"%s\": arg \"%s\"", c->name, cmd.arg ? cmd.arg : "(null)");
		if ((c->initial == NULL) != (cmd.initial == NULL) ||
		    (c->initial != NULL && strcmp(c->initial, cmd.initial) != 0))
			fail_msg("case \"%s\": initial \"%s\"", c->name,
			    cmd.initial ? cmd.initial : "(null)");
	}
}

static void
test_verb_names(void **state)
{
	assert_string_equal(pop3d_cmd_name(POP3D_CMD_RETR), "RETR");
	assert_string_equal(pop3d_cmd_name(POP3D_CMD_TOP), "TOP");
	assert_string_equal(pop3d_cmd_name(POP3D_CMD_UNKNOWN), "?");
}

/* --- UPDATE state --- */

static void
test_drop_update(void **state)
{
	struct pop3d_drop d;
	size_t count, idx;
	uint64_t bytes;
	uint32_t uids[3];

	pop3d_drop_init(&d, 3);
	pop3d_drop_set(&d, 0, 10, 100);
	pop3d_drop_set(&d, 1, 11, 200);
	pop3d_drop_set(&d, 2, 15, 300);
	pop3d_drop_stat(&d, &count, &bytes);
	assert_int_equal(count, 3);
	assert_int_equal(bytes, 600);

	assert_int_equal(pop3d_drop_get(&d, 0, &idx), POP3D_DROP_NO_SUCH);
	assert_int_equal(pop3d_drop_get(&d, 4, &idx), POP3D_DROP_NO_SUCH);
	assert_int_equal(pop3d_drop_get(&d, 3, &idx), POP3D_DROP_OK);
	assert_int_equal(idx, 2);

	assert_int_equal(pop3d_drop_dele(&d, 2), POP3D_DROP_OK);
	assert_int_equal(pop3d_drop_dele(&d, 2), POP3D_DROP_DELETED);
	assert_int_equal(pop3d_drop_get(&d, 2, &idx), POP3D_DROP_DELETED);
	assert_int_equal(pop3d_drop_dele(&d, 9), POP3D_DROP_NO_SUCH);
	pop3d_drop_stat(&d, &count, &bytes);
	assert_int_equal(count, 2);
	assert_int_equal(bytes, 400);

	/* RSET forgets the marks; nothing to expunge. */
	pop3d_drop_rset(&d);
	pop3d_drop_stat(&d, &count, &bytes);
	assert_int_equal(count, 3);
	assert_int_equal(bytes, 600);
	assert_int_equal(pop3d_drop_update(&d, uids), 0);

	/* QUIT expunges exactly the marked UIDs, in message order. */
	assert_int_equal(pop3d_drop_dele(&d, 3), POP3D_DROP_OK);
	assert_int_equal(pop3d_drop_dele(&d, 1), POP3D_DROP_OK);
	assert_int_equal(d.ndeleted, 2);
	assert_int_equal(pop3d_drop_update(&d, uids), 2);
	assert_int_equal(uids[0], 10);
	assert_int_equal(uids[1], 15);
	pop3d_drop_free(&d);

	/* An empty maildrop. */
	pop3d_drop_init(&d, 0);
	pop3d_drop_stat(&d, &count, &bytes);
	assert_int_equal(count, 0);
	assert_int_equal(pop3d_drop_dele(&d, 1), POP3D_DROP_NO_SUCH);
	pop3d_drop_rset(&d);
	pop3d_drop_free(&d);
}

/* --- dot-stuffing --- */

struct stuff_case {
	const char	*name;
	const char	*in;
	int		 top;
	uint32_t	 lines;
	size_t		 chunk;		/* feed in pieces of this size (0: all at once) */
	const char	*want;
};

static const struct stuff_case stuff_cases[] = {
	{ "crlf", "A: b\r\n\r\nbody\r\n", 0, 0, 0, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "bare lf", "A: b\n\nbody\n", 0, 0, 0, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "no final eol", "A: b\r\n\r\nbody", 0, 0, 0, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "final cr", "A: b\r\n\r\nbody\r", 0, 0, 0, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "dots", ".\r\n..x\r\na.b\r\n.", 0, 0, 0, "..\r\n...x\r\na.b\r\n..\r\n.\r\n" },
	{ "dots bytewise", ".\r\n..x\r\na.b\n.", 0, 0, 1, "..\r\n...x\r\na.b\r\n..\r\n.\r\n" },
	{ "crlf split", "a\r\nb\r\n", 0, 0, 2, "a\r\nb\r\n.\r\n" },
	{ "empty", "", 0, 0, 0, ".\r\n" },
	{ "top 0", "A: b\r\nC: d\r\n\r\nl1\r\nl2\r\n", 1, 0, 0, "A: b\r\nC: d\r\n\r\n.\r\n" },
	{ "top 1", "A: b\r\n\r\n.l1\r\nl2\r\n", 1, 1, 0, "A: b\r\n\r\n..l1\r\n.\r\n" },
	{ "top 1 bytewise", "A: b\r\n\r\nl1\r\nl2\r\n", 1, 1, 1, "A: b\r\n\r\nl1\r\n.\r\n" },
	{ "top more than body", "A: b\n\nl1\n", 1, 5, 0, "A: b\r\n\r\nl1\r\n.\r\n" },
	{ "top no body", "A: b\r\n", 1, 5, 0, "A: b\r\n.\r\n" },
};

static void
test_stuff_table(void **state)
{
	for (size_t i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		const struct stuff_case *c = &stuff_cases[i];
		struct pop3d_stuff st;
		char out[512], buf[512];
		size_t len = strlen(c->in), o = 0, step = c->chunk ? c->chunk : len;

		pop3d_stuff_init(&st, c->top, c->lines);
		for (size_t p = 0; p < len; p += step) {
			size_t n = len - p < step ? len - p : step;
			size_t w = pop3d_stuff_feed(&st, c->in + p, n, buf);
			assert_true(w <= 2 * n);
			memcpy(out + o, buf, w);
			o += w;
		}
		o += pop3d_stuff_end(&st, out + o);
		out[o] = '\0';
		if (strcmp(out, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\"", c->name, out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_drop_update),
		cmocka_unit_test(test_stuff_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
