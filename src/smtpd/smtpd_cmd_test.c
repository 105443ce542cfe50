/*
 * Unit tests of the SMTP command parser, table-driven: verbs and replies
 * first, then the values of parameters, BDAT and the argument pointers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_cmd.h"

/* Inputs carry their length so that cases may hold NUL bytes. */
#define IN(s)		s, sizeof(s) - 1
#define OK(v)		0, SMTPD_CMD_##v, NULL
#define ERR(v, r)	-1, SMTPD_CMD_##v, r

#define R_UNRECOGNIZED	"500 5.5.2 Syntax error, command unrecognized"
#define R_NUL		"500 5.5.2 Syntax error, NUL byte in command"
#define R_DOMAIN	"501 5.5.4 Invalid domain name"
#define R_MAIL		"501 5.5.4 Syntax: MAIL FROM:<address>"
#define R_RCPT		"501 5.5.4 Syntax: RCPT TO:<address>"
#define R_SENDER	"501 5.1.7 Bad sender address syntax"
#define R_RECIPIENT	"501 5.1.3 Bad recipient address syntax"
#define R_UTF8		"553 5.6.7 Non-ASCII address requires SMTPUTF8"
#define R_UNKNOWN	"555 5.5.4 Unsupported parameter"
#define R_PSYNTAX	"501 5.5.4 Syntax error in parameters"
#define R_BDAT		"501 5.5.4 Syntax: BDAT chunk-size [LAST]"
#define R_AUTH		"501 5.5.4 Syntax: AUTH mechanism [initial-response]"

#define A100 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LOCAL64 "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
#define LABEL50 "dddddddddddddddddddddddddddddddddddddddddddddddddd"
/* 64 + 1 + 190 = 255 octets between the brackets: a path of 257. */
#define LONGPATH "<" LOCAL64 "@" LABEL50 "." LABEL50 "." LABEL50 "." \
	"ddddddddddddddddddddddddddddddddddddd>"

struct cmd_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 rc;
	enum smtpd_verb	 verb;
	const char	*reply;		/* NULL on success */
};

static const struct cmd_case cmd_cases[] = {
	/* unknown verbs, NUL */
	{ "empty line", IN(""), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "unknown verb", IN("FOO bar"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "verb too long", IN("MAILX FROM:<a@b>"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "verb prefix", IN("MAI"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "leading space", IN(" NOOP"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "tab separator", IN("HELO\tx.example"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "8-bit verb", IN("N\xc3\x96OP"), ERR(UNKNOWN, R_UNRECOGNIZED) },
	{ "NUL only", IN("\0"), ERR(UNKNOWN, R_NUL) },
	{ "NUL after verb", IN("NOOP\0"), ERR(UNKNOWN, R_NUL) },
	{ "NUL in path", IN("MAIL FROM:<a\0@b.example>"), ERR(UNKNOWN, R_NUL) },
	{ "NUL at end", IN("RCPT TO:<a@b.example>\0"), ERR(UNKNOWN, R_NUL) },

	/* HELO, EHLO, LHLO */
	{ "helo", IN("HELO mail.example.com"), OK(HELO) },
	{ "helo lower", IN("helo mail.example.com"), OK(HELO) },
	{ "helo literal", IN("HELO [192.0.2.1]"), OK(HELO) },
	{ "helo missing", IN("HELO"), ERR(HELO, "501 5.5.4 Syntax: HELO domain") },
	{ "helo space only", IN("HELO "), ERR(HELO, "501 5.5.4 Syntax: HELO domain") },
	{ "helo underscore", IN("HELO bad_name"), ERR(HELO, R_DOMAIN) },
	{ "helo trailing dot", IN("HELO a.example."), ERR(HELO, R_DOMAIN) },
	{ "helo two words", IN("HELO a.example b"), ERR(HELO, R_DOMAIN) },
	{ "helo bad literal", IN("HELO [300.1.1.1]"), ERR(HELO, R_DOMAIN) },
	{ "ehlo", IN("EHLO mail.example.com"), OK(EHLO) },
	{ "ehlo mixed case", IN("eHlO mail.example.com"), OK(EHLO) },
	{ "ehlo ipv6", IN("EHLO [IPv6:2001:db8::25]"), OK(EHLO) },
	{ "ehlo single label", IN("EHLO localhost"), OK(EHLO) },
	{ "ehlo u-label", IN("EHLO b\xc3\xbc" "cher.example"), OK(EHLO) },
	{ "ehlo bad utf8", IN("EHLO b\xc3" "cher.example"), ERR(EHLO, R_DOMAIN) },
	{ "ehlo missing", IN("EHLO"), ERR(EHLO, "501 5.5.4 Syntax: EHLO domain") },
	{ "ehlo hyphen", IN("EHLO -x.example"), ERR(EHLO, R_DOMAIN) },
	{ "ehlo trailing space", IN("EHLO x.example "), ERR(EHLO, R_DOMAIN) },
	{ "lhlo", IN("LHLO mail.example.com"), OK(LHLO) },
	{ "lhlo missing", IN("LHLO"), ERR(LHLO, "501 5.5.4 Syntax: LHLO domain") },
	{ "lhlo bad", IN("LHLO a..b"), ERR(LHLO, R_DOMAIN) },

	/* MAIL */
	{ "mail", IN("MAIL FROM:<a@b.example>"), OK(MAIL) },
	{ "mail lower", IN("mail from:<a@b.example>"), OK(MAIL) },
	{ "mail space after colon", IN("MAIL FROM: <a@b.example>"), OK(MAIL) },
	{ "mail two spaces", IN("MAIL  FROM:<a@b.example>"), OK(MAIL) },
	{ "mail null", IN("MAIL FROM:<>"), OK(MAIL) },
	{ "mail bare", IN("MAIL FROM:a@b.example"), OK(MAIL) },
	{ "mail route", IN("MAIL FROM:<@r.example:a@b.example>"), OK(MAIL) },
	{ "mail quoted", IN("MAIL FROM:<\"a b\"@b.example>"), OK(MAIL) },
	{ "mail no arg", IN("MAIL"), ERR(MAIL, R_MAIL) },
	{ "mail to", IN("MAIL TO:<a@b.example>"), ERR(MAIL, R_MAIL) },
	{ "mail no colon", IN("MAIL FROM <a@b.example>"), ERR(MAIL, R_MAIL) },
	{ "mail empty path", IN("MAIL FROM:"), ERR(MAIL, R_MAIL) },
	{ "mail empty path space", IN("MAIL FROM: "), ERR(MAIL, R_MAIL) },
	{ "mail junk after path", IN("MAIL FROM:<a@b.example>x"), ERR(MAIL, R_MAIL) },
	{ "mail bad path", IN("MAIL FROM:<a@@b.example>"), ERR(MAIL, R_SENDER) },
	{ "mail no >", IN("MAIL FROM:<a@b.example"), ERR(MAIL, R_SENDER) },
	{ "mail postmaster", IN("MAIL FROM:<Postmaster>"), ERR(MAIL, R_SENDER) },
	{ "mail bad domain", IN("MAIL FROM:<a@-b.example>"), ERR(MAIL, R_SENDER) },
	{ "mail control", IN("MAIL FROM:<a\x01@b.example>"), ERR(MAIL, R_SENDER) },
	{ "mail too long", IN("MAIL FROM:" LONGPATH), ERR(MAIL, "501 5.1.7 Path too long") },
	{ "mail utf8 no smtputf8", IN("MAIL FROM:<j\xc3\xb6@b.example>"), ERR(MAIL, R_UTF8) },
	{ "mail utf8 domain no smtputf8", IN("MAIL FROM:<a@b\xc3\xbc.example> SIZE=1"),
	    ERR(MAIL, R_UTF8) },
	{ "mail utf8", IN("MAIL FROM:<j\xc3\xb6@b.example> SMTPUTF8"), OK(MAIL) },
	{ "mail bad utf8", IN("MAIL FROM:<j\xc3@b.example> SMTPUTF8"), ERR(MAIL, R_SENDER) },
	{ "mail utf8 param error first", IN("MAIL FROM:<j\xc3\xb6@b.example> FOO"),
	    ERR(MAIL, R_UNKNOWN) },

	/* MAIL parameters */
	{ "size", IN("MAIL FROM:<a@b.example> SIZE=1000"), OK(MAIL) },
	{ "size lower", IN("MAIL FROM:<a@b.example> size=1000"), OK(MAIL) },
	{ "size 20 digits", IN("MAIL FROM:<a@b.example> SIZE=99999999999999999999"), OK(MAIL) },
	{ "size 21 digits", IN("MAIL FROM:<a@b.example> SIZE=999999999999999999999"),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size no value", IN("MAIL FROM:<a@b.example> SIZE"),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size empty", IN("MAIL FROM:<a@b.example> SIZE="),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size letters", IN("MAIL FROM:<a@b.example> SIZE=10k"),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size negative", IN("MAIL FROM:<a@b.example> SIZE=-1"),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size two equals", IN("MAIL FROM:<a@b.example> SIZE=1=2"),
	    ERR(MAIL, "501 5.5.4 Bad SIZE parameter") },
	{ "size twice", IN("MAIL FROM:<a@b.example> SIZE=1 SIZE=2"),
	    ERR(MAIL, "501 5.5.4 Duplicate SIZE parameter") },
	{ "size twice any case", IN("MAIL FROM:<a@b.example> SIZE=1 size=1"),
	    ERR(MAIL, "501 5.5.4 Duplicate SIZE parameter") },
	{ "body 7bit", IN("MAIL FROM:<a@b.example> BODY=7BIT"), OK(MAIL) },
	{ "body 8bitmime", IN("MAIL FROM:<a@b.example> BODY=8BITMIME"), OK(MAIL) },
	{ "body binarymime", IN("MAIL FROM:<a@b.example> BODY=BINARYMIME"), OK(MAIL) },
	{ "body lower", IN("MAIL FROM:<a@b.example> body=8bitmime"), OK(MAIL) },
	{ "body bad", IN("MAIL FROM:<a@b.example> BODY=9BIT"),
	    ERR(MAIL, "501 5.5.4 Bad BODY parameter") },
	{ "body no value", IN("MAIL FROM:<a@b.example> BODY"),
	    ERR(MAIL, "501 5.5.4 Bad BODY parameter") },
	{ "body twice", IN("MAIL FROM:<a@b.example> BODY=7BIT BODY=7BIT"),
	    ERR(MAIL, "501 5.5.4 Duplicate BODY parameter") },
	{ "smtputf8", IN("MAIL FROM:<a@b.example> SMTPUTF8"), OK(MAIL) },
	{ "smtputf8 value", IN("MAIL FROM:<a@b.example> SMTPUTF8=YES"),
	    ERR(MAIL, "501 5.5.4 SMTPUTF8 takes no value") },
	{ "smtputf8 twice", IN("MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8"),
	    ERR(MAIL, "501 5.5.4 Duplicate SMTPUTF8 parameter") },
	{ "ret full", IN("MAIL FROM:<a@b.example> RET=FULL"), OK(MAIL) },
	{ "ret hdrs", IN("MAIL FROM:<a@b.example> RET=hdrs"), OK(MAIL) },
	{ "ret bad", IN("MAIL FROM:<a@b.example> RET=BODY"),
	    ERR(MAIL, "501 5.5.4 Bad RET parameter") },
	{ "ret twice", IN("MAIL FROM:<a@b.example> RET=FULL RET=HDRS"),
	    ERR(MAIL, "501 5.5.4 Duplicate RET parameter") },
	{ "envid", IN("MAIL FROM:<a@b.example> ENVID=QQ314159"), OK(MAIL) },
	{ "envid 100", IN("MAIL FROM:<a@b.example> ENVID=" A100), OK(MAIL) },
	{ "envid 101", IN("MAIL FROM:<a@b.example> ENVID=" A100 "a"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid 100 encoded", IN("MAIL FROM:<a@b.example> ENVID=+2B" A100),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid control", IN("MAIL FROM:<a@b.example> ENVID=a+0Db"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid NUL", IN("MAIL FROM:<a@b.example> ENVID=+00"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid 8-bit", IN("MAIL FROM:<a@b.example> ENVID=+C3+B6"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid short hex", IN("MAIL FROM:<a@b.example> ENVID=a+4"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid bad hex", IN("MAIL FROM:<a@b.example> ENVID=a+G1"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid raw 8-bit", IN("MAIL FROM:<a@b.example> SMTPUTF8 ENVID=\xc3\xb6"),
	    ERR(MAIL, "501 5.5.4 Bad ENVID parameter") },
	{ "envid twice", IN("MAIL FROM:<a@b.example> ENVID=a ENVID=b"),
	    ERR(MAIL, "501 5.5.4 Duplicate ENVID parameter") },
	{ "auth", IN("MAIL FROM:<a@b.example> AUTH=a@b.example"), OK(MAIL) },
	{ "auth null", IN("MAIL FROM:<a@b.example> AUTH=<>"), OK(MAIL) },
	{ "auth control", IN("MAIL FROM:<a@b.example> AUTH=a+0A"),
	    ERR(MAIL, "501 5.5.4 Bad AUTH parameter") },
	{ "auth empty", IN("MAIL FROM:<a@b.example> AUTH="),
	    ERR(MAIL, "501 5.5.4 Bad AUTH parameter") },
	{ "auth twice", IN("MAIL FROM:<a@b.example> AUTH=<> AUTH=<>"),
	    ERR(MAIL, "501 5.5.4 Duplicate AUTH parameter") },
	{ "all params", IN("MAIL FROM:<a@b.example> SIZE=1 BODY=8BITMIME SMTPUTF8 "
	    "RET=HDRS ENVID=x AUTH=<>"), OK(MAIL) },
	{ "extra spaces", IN("MAIL FROM:<a@b.example>   SIZE=1   BODY=7BIT  "), OK(MAIL) },
	{ "unknown param", IN("MAIL FROM:<a@b.example> FOO=bar"), ERR(MAIL, R_UNKNOWN) },
	{ "unknown flag", IN("MAIL FROM:<a@b.example> X-FOO"), ERR(MAIL, R_UNKNOWN) },
	{ "rcpt param on mail", IN("MAIL FROM:<a@b.example> NOTIFY=NEVER"),
	    ERR(MAIL, R_UNKNOWN) },
	{ "keyword hyphen first", IN("MAIL FROM:<a@b.example> -X=1"), ERR(MAIL, R_PSYNTAX) },
	{ "keyword empty", IN("MAIL FROM:<a@b.example> =1"), ERR(MAIL, R_PSYNTAX) },
	{ "keyword bad char", IN("MAIL FROM:<a@b.example> SI_ZE=1"), ERR(MAIL, R_PSYNTAX) },
	{ "keyword 8-bit", IN("MAIL FROM:<a@b.example> S\xc3\xb6=1"), ERR(MAIL, R_PSYNTAX) },
	{ "value control", IN("MAIL FROM:<a@b.example> BODY=7B\x01IT"),
	    ERR(MAIL, "501 5.5.4 Bad BODY parameter") },

	/* RCPT */
	{ "rcpt", IN("RCPT TO:<a@b.example>"), OK(RCPT) },
	{ "rcpt lower", IN("rcpt to:<a@b.example>"), OK(RCPT) },
	{ "rcpt space after colon", IN("RCPT TO: <a@b.example>"), OK(RCPT) },
	{ "rcpt bare", IN("RCPT TO:a@b.example"), OK(RCPT) },
	{ "rcpt postmaster", IN("RCPT TO:<Postmaster>"), OK(RCPT) },
	{ "rcpt route", IN("RCPT TO:<@r.example,@s.example:a@b.example>"), OK(RCPT) },
	{ "rcpt literal", IN("RCPT TO:<a@[192.0.2.1]>"), OK(RCPT) },
	{ "rcpt utf8", IN("RCPT TO:<j\xc3\xb6@b.example>"), OK(RCPT) },
	{ "rcpt bad utf8", IN("RCPT TO:<j\xc3@b.example>"), ERR(RCPT, R_RECIPIENT) },
	{ "rcpt null", IN("RCPT TO:<>"), ERR(RCPT, R_RECIPIENT) },
	{ "rcpt bad path", IN("RCPT TO:<a..b@x.example>"), ERR(RCPT, R_RECIPIENT) },
	{ "rcpt from", IN("RCPT FROM:<a@b.example>"), ERR(RCPT, R_RCPT) },
	{ "rcpt no arg", IN("RCPT"), ERR(RCPT, R_RCPT) },
	{ "rcpt empty path", IN("RCPT TO:"), ERR(RCPT, R_RCPT) },
	{ "rcpt junk after path", IN("RCPT TO:<a@b.example>>"), ERR(RCPT, R_RCPT) },
	{ "rcpt too long", IN("RCPT TO:" LONGPATH), ERR(RCPT, "501 5.1.3 Path too long") },
	{ "notify never", IN("RCPT TO:<a@b.example> NOTIFY=NEVER"), OK(RCPT) },
	{ "notify list", IN("RCPT TO:<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY"), OK(RCPT) },
	{ "notify lower", IN("RCPT TO:<a@b.example> NOTIFY=failure,delay"), OK(RCPT) },
	{ "notify never with", IN("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify with never", IN("RCPT TO:<a@b.example> NOTIFY=DELAY,NEVER"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify repeated", IN("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify empty item", IN("RCPT TO:<a@b.example> NOTIFY=SUCCESS,,DELAY"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify trailing comma", IN("RCPT TO:<a@b.example> NOTIFY=SUCCESS,"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify unknown", IN("RCPT TO:<a@b.example> NOTIFY=ALWAYS"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify no value", IN("RCPT TO:<a@b.example> NOTIFY"),
	    ERR(RCPT, "501 5.5.4 Bad NOTIFY parameter") },
	{ "notify twice", IN("RCPT TO:<a@b.example> NOTIFY=NEVER NOTIFY=NEVER"),
	    ERR(RCPT, "501 5.5.4 Duplicate NOTIFY parameter") },
	{ "orcpt", IN("RCPT TO:<a@b.example> ORCPT=rfc822;a+40b.example"), OK(RCPT) },
	{ "orcpt utf-8", IN("RCPT TO:<a@b.example> ORCPT=utf-8;j\\x{00F6}@b.example"),
	    OK(RCPT) },
	{ "orcpt no type", IN("RCPT TO:<a@b.example> ORCPT=;a@b.example"),
	    ERR(RCPT, "501 5.5.4 Bad ORCPT parameter") },
	{ "orcpt no semicolon", IN("RCPT TO:<a@b.example> ORCPT=rfc822"),
	    ERR(RCPT, "501 5.5.4 Bad ORCPT parameter") },
	{ "orcpt no address", IN("RCPT TO:<a@b.example> ORCPT=rfc822;"),
	    ERR(RCPT, "501 5.5.4 Bad ORCPT parameter") },
	{ "orcpt bad type", IN("RCPT TO:<a@b.example> ORCPT=rfc(822);a@b"),
	    ERR(RCPT, "501 5.5.4 Bad ORCPT parameter") },
	{ "orcpt control", IN("RCPT TO:<a@b.example> ORCPT=rfc822;a+0A@b"),
	    ERR(RCPT, "501 5.5.4 Bad ORCPT parameter") },
	{ "orcpt twice", IN("RCPT TO:<a@b.example> ORCPT=rfc822;a@b ORCPT=rfc822;a@b"),
	    ERR(RCPT, "501 5.5.4 Duplicate ORCPT parameter") },
	{ "rcpt both params", IN("RCPT TO:<a@b.example> NOTIFY=NEVER ORCPT=rfc822;a@b.example"),
	    OK(RCPT) },
	{ "mail param on rcpt", IN("RCPT TO:<a@b.example> SIZE=10"), ERR(RCPT, R_UNKNOWN) },
	{ "rcpt unknown", IN("RCPT TO:<a@b.example> XFOO=1"), ERR(RCPT, R_UNKNOWN) },
	{ "rcpt param syntax", IN("RCPT TO:<a@b.example> =x"), ERR(RCPT, R_PSYNTAX) },

	/* no argument */
	{ "data", IN("DATA"), OK(DATA) },
	{ "data trailing space", IN("DATA "), OK(DATA) },
	{ "data arg", IN("DATA x"), ERR(DATA, "501 5.5.4 Syntax: DATA") },
	{ "rset", IN("rset"), OK(RSET) },
	{ "rset arg", IN("RSET now"), ERR(RSET, "501 5.5.4 Syntax: RSET") },
	{ "quit", IN("QUIT"), OK(QUIT) },
	{ "quit arg", IN("QUIT please"), ERR(QUIT, "501 5.5.4 Syntax: QUIT") },
	{ "starttls", IN("STARTTLS"), OK(STARTTLS) },
	{ "starttls lower", IN("starttls"), OK(STARTTLS) },
	{ "starttls arg", IN("STARTTLS x"), ERR(STARTTLS, "501 5.5.4 Syntax: STARTTLS") },

	/* any argument */
	{ "noop", IN("NOOP"), OK(NOOP) },
	{ "noop arg", IN("NOOP anything at all"), OK(NOOP) },
	{ "help", IN("HELP"), OK(HELP) },
	{ "help arg", IN("HELP MAIL"), OK(HELP) },
	{ "vrfy", IN("VRFY user"), OK(VRFY) },
	{ "vrfy empty", IN("VRFY"), OK(VRFY) },
	{ "expn", IN("EXPN list"), OK(EXPN) },
	{ "expn 8-bit", IN("EXPN \xff"), OK(EXPN) },

	/* BDAT */
	{ "bdat", IN("BDAT 100"), OK(BDAT) },
	{ "bdat last", IN("BDAT 0 LAST"), OK(BDAT) },
	{ "bdat last lower", IN("bdat 10 last"), OK(BDAT) },
	{ "bdat trailing space", IN("BDAT 10 LAST "), OK(BDAT) },
	{ "bdat 18 digits", IN("BDAT 999999999999999999"), OK(BDAT) },
	{ "bdat 19 digits", IN("BDAT 1000000000000000000"), ERR(BDAT, R_BDAT) },
	{ "bdat no size", IN("BDAT"), ERR(BDAT, R_BDAT) },
	{ "bdat only last", IN("BDAT LAST"), ERR(BDAT, R_BDAT) },
	{ "bdat negative", IN("BDAT -1"), ERR(BDAT, R_BDAT) },
	{ "bdat plus", IN("BDAT +1"), ERR(BDAT, R_BDAT) },
	{ "bdat hex", IN("BDAT 0x10"), ERR(BDAT, R_BDAT) },
	{ "bdat bad marker", IN("BDAT 10 FIRST"), ERR(BDAT, R_BDAT) },
	{ "bdat extra", IN("BDAT 10 LAST x"), ERR(BDAT, R_BDAT) },

	/* AUTH */
	{ "auth plain", IN("AUTH PLAIN"), OK(AUTH) },
	{ "auth initial", IN("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), OK(AUTH) },
	{ "auth empty response", IN("AUTH PLAIN ="), OK(AUTH) },
	{ "auth lower", IN("auth login"), OK(AUTH) },
	{ "auth scram", IN("AUTH SCRAM-SHA-256"), OK(AUTH) },
	{ "auth no mech", IN("AUTH"), ERR(AUTH, R_AUTH) },
	{ "auth bad mech", IN("AUTH PL@IN"), ERR(AUTH, R_AUTH) },
	{ "auth mech 21", IN("AUTH ABCDEFGHIJKLMNOPQRSTU"), ERR(AUTH, R_AUTH) },
	{ "auth mech 20", IN("AUTH ABCDEFGHIJKLMNOPQRST"), OK(AUTH) },
	{ "auth bad base64", IN("AUTH PLAIN ab!c"), ERR(AUTH, R_AUTH) },
	{ "auth two responses", IN("AUTH PLAIN abc def"), ERR(AUTH, R_AUTH) },
};

static void
test_cmd_table(void **state)
{
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *tc = &cmd_cases[i];
		struct smtpd_cmd cmd;
		const char *reply = NULL;
		int rc;

		print_message("case: %s\n", tc->name);
		rc = smtpd_cmd_parse(tc->in, tc->len, &cmd, &reply);
		assert_int_equal(rc, tc->rc);
		assert_int_equal(cmd.verb, tc->verb);
		if (rc == 0)
			continue;
		assert_non_null(reply);
		assert_string_equal(reply, tc->reply);
	}
}

/* Values of MAIL and RCPT: the path and every parameter. */
static void
test_path_values(void **state)
{
	static const struct {
		const char	*in;
		const char	*local;
		const char	*domain;
		int		 is_null;
		int		 has_utf8;
		int		 size_given;
		uint64_t	 size;
		enum smtpd_body	 body;
		int		 smtputf8;
		enum smtpd_dsn_ret ret;
		const char	*envid;
		const char	*auth;
		unsigned	 notify;
		const char	*orcpt;
	} cases[] = {
		{ "MAIL FROM:<a@b.example>", "a", "b.example", 0, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM:<>", "", "", 1, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM: <a@b.example> SIZE=0", "a", "b.example", 0, 0, 1, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM:<a@b.example> SIZE=18446744073709551615", "a", "b.example", 0, 0,
		    1, UINT64_MAX, SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM:<a@b.example> SIZE=99999999999999999999", "a", "b.example", 0, 0,
		    1, UINT64_MAX, SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM:<a@b.example> SIZE=0001234 BODY=8BITMIME", "a", "b.example", 0, 0,
		    1, 1234, SMTPD_BODY_8BITMIME, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "MAIL FROM:<a@b.example> BODY=BINARYMIME RET=FULL", "a", "b.example", 0, 0,
		    0, 0, SMTPD_BODY_BINARYMIME, 0, SMTPD_RET_FULL, "", "", 0, "" },
		{ "MAIL FROM:<j\xc3\xb6@b.example> SMTPUTF8 RET=HDRS", "j\xc3\xb6", "b.example",
		    0, 1, 0, 0, SMTPD_BODY_7BIT, 1, SMTPD_RET_HDRS, "", "", 0, "" },
		{ "MAIL FROM:<a@b.example> ENVID=QQ+2B31+3d4 AUTH=e+2Bf@g.example", "a",
		    "b.example", 0, 0, 0, 0, SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE,
		    "QQ+31=4", "e+f@g.example", 0, "" },
		{ "MAIL FROM:<a@b.example> AUTH=<>", "a", "b.example", 0, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "<>", 0, "" },
		{ "RCPT TO:<Postmaster>", "Postmaster", "", 0, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "RCPT TO:<j\xc3\xb6@b.example>", "j\xc3\xb6", "b.example", 0, 1, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0, "" },
		{ "RCPT TO:<a@b.example> NOTIFY=NEVER", "a", "b.example", 0, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", SMTPD_NOTIFY_NEVER, "" },
		{ "RCPT TO:<a@b.example> NOTIFY=delay,SUCCESS", "a", "b.example", 0, 0, 0, 0,
		    SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "",
		    SMTPD_NOTIFY_DELAY | SMTPD_NOTIFY_SUCCESS, "" },
		{ "RCPT TO:<a@b.example> NOTIFY=FAILURE ORCPT=rfc822;x+2By+40z.example", "a",
		    "b.example", 0, 0, 0, 0, SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "",
		    SMTPD_NOTIFY_FAILURE, "rfc822;x+y@z.example" },
		{ "RCPT TO:a@b.example ORCPT=utf-8;j\\x{00F6}@b.example", "a", "b.example",
		    0, 0, 0, 0, SMTPD_BODY_7BIT, 0, SMTPD_RET_NONE, "", "", 0,
		    "utf-8;j\\x{00F6}@b.example" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_cmd cmd;
		const char *reply = NULL;

		print_message("case: %s\n", cases[i].in);
		assert_int_equal(smtpd_cmd_parse(cases[i].in, strlen(cases[i].in),
		    &cmd, &reply), 0);
		assert_string_equal(cmd.path.local, cases[i].local);
		assert_string_equal(cmd.path.domain, cases[i].domain);
		assert_int_equal(cmd.path.is_null != 0, cases[i].is_null);
		assert_int_equal(cmd.path.has_utf8 != 0, cases[i].has_utf8);
		assert_int_equal(cmd.size_given, cases[i].size_given);
		assert_true(cmd.size == cases[i].size);
		assert_int_equal(cmd.body, cases[i].body);
		assert_int_equal(cmd.smtputf8, cases[i].smtputf8);
		assert_int_equal(cmd.ret, cases[i].ret);
		assert_string_equal(cmd.envid, cases[i].envid);
		assert_string_equal(cmd.auth, cases[i].auth);
		assert_int_equal(cmd.notify, cases[i].notify);
		assert_string_equal(cmd.orcpt, cases[i].orcpt);
	}
}

static void
test_envid_limit(void **state)
{
	struct smtpd_cmd cmd;
	const char *reply;
	const char *line = "MAIL FROM:<a@b.example> ENVID=" A100;

	assert_int_equal(smtpd_cmd_parse(line, strlen(line), &cmd, &reply), 0);
	assert_string_equal(cmd.envid, A100);
}

static void
test_bdat_values(void **state)
{
	static const struct {
		const char	*in;
		uint64_t	 size;
		int		 last;
	} cases[] = {
		{ "BDAT 0", 0, 0 },
		{ "BDAT 0 LAST", 0, 1 },
		{ "BDAT 65536", 65536, 0 },
		{ "BDAT  42  last", 42, 1 },
		{ "BDAT 000000000000000007", 7, 0 },
		{ "BDAT 999999999999999999 LAST", 999999999999999999ULL, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_cmd cmd;
		const char *reply;

		print_message("case: %s\n", cases[i].in);
		assert_int_equal(smtpd_cmd_parse(cases[i].in, strlen(cases[i].in),
		    &cmd, &reply), 0);
		assert_int_equal(cmd.verb, SMTPD_CMD_BDAT);
		assert_true(cmd.chunk_size == cases[i].size);
		assert_int_equal(cmd.last, cases[i].last);
	}
}

/* cmd->arg and cmd->helo point into the line; "" when there is nothing. */
static void
test_arg_pointers(void **state)
{
	static const struct {
		const char	*in;
		const char	*arg;
		const char	*helo;
	} cases[] = {
		{ "NOOP", "", "" },
		{ "NOOP ", "", "" },
		{ "NOOP hello", "hello", "" },
		{ "VRFY  two", " two", "" },
		{ "HELP MAIL", "MAIL", "" },
		{ "EHLO mail.example", "mail.example", "mail.example" },
		{ "HELO  mail.example", " mail.example", "mail.example" },
		{ "LHLO [192.0.2.1]", "[192.0.2.1]", "[192.0.2.1]" },
		{ "MAIL FROM:<a@b.example> SIZE=1", "FROM:<a@b.example> SIZE=1", "" },
		{ "AUTH PLAIN =", "PLAIN =", "" },
		{ "BDAT 1 LAST", "1 LAST", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpd_cmd cmd;
		const char *reply;
		const char *in = cases[i].in;

		assert_int_equal(smtpd_cmd_parse(in, strlen(in), &cmd, &reply), 0);
		assert_string_equal(cmd.arg, cases[i].arg);
		assert_string_equal(cmd.helo, cases[i].helo);
		if (cmd.arg[0] != '\0')
			assert_true(cmd.arg > in && cmd.arg < in + strlen(in));
	}
}

/*
 * Lines that are not NUL-terminated: the parser must stop at len. The copy
 * sits at the very end of a heap block so that ASan catches any overread.
 */
static void
test_unterminated(void **state)
{
	static const char *lines[] = {
		"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME ENVID=x+2B",
		"RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@b",
		"EHLO mail.example", "BDAT 10 LAST", "AUTH PLAIN =", "QUIT",
		"MAIL FROM:<a@b.example", "RCPT TO:<\"a", "EHLO [1.2.3.4",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = strlen(lines[i]);
		char *copy = malloc(len);
		struct smtpd_cmd cmd;
		const char *reply;

		assert_non_null(copy);
		memcpy(copy, lines[i], len);
		(void)smtpd_cmd_parse(copy, len, &cmd, &reply);
		free(copy);
	}
}

/* The same line, one byte shorter each time: never a crash, always a verdict. */
static void
test_truncations(void **state)
{
	const char *line = "MAIL FROM:<\"q\\\"x\"@[IPv6:2001:db8::1]> SIZE=1 "
	    "ENVID=a+2Bb AUTH=<> SMTPUTF8 RET=FULL";
	size_t len = strlen(line);

	for (size_t n = 0; n <= len; n++) {
		struct smtpd_cmd cmd;
		const char *reply = NULL;
		char *copy = malloc(n + 1);

		assert_non_null(copy);
		memcpy(copy, line, n);
		copy[n] = '\0';
		if (smtpd_cmd_parse(copy, n, &cmd, &reply) == -1)
			assert_non_null(reply);
		free(copy);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_path_values),
		cmocka_unit_test(test_envid_limit),
		cmocka_unit_test(test_bdat_values),
		cmocka_unit_test(test_arg_pointers),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_truncations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
