/*
 * pop3d_cmd - POP3 command parsing.
 *
 * RFC 1939 section 3: a keyword of 3 or 4 characters (case-insensitive),
 * then arguments separated by single spaces. Trailing white space is
 * tolerated (some clients send "LIST "), a NUL byte or a control
 * character is not. PASS is the exception: its argument is the rest of
 * the line, spaces included (RFC 1939 section 7).
 */
#include <string.h>
#include <strings.h>

#include "pop3d/pop3d_cmd.h"

#define E_UNKNOWN	"-ERR Unknown command"
#define E_NUL		"-ERR Bad character in command"
#define E_NOARGS	"-ERR Syntax error: this command takes no arguments"
#define E_MSGNUM	"-ERR Syntax error: invalid message number"
#define E_LINES	"-ERR Syntax error: invalid number of lines"
#define E_USER		"-ERR Syntax: USER name"
#define E_PASS		"-ERR Syntax: PASS password"
#define E_RETR		"-ERR Syntax: RETR msg"
#define E_DELE		"-ERR Syntax: DELE msg"
#define E_LIST		"-ERR Syntax: LIST [msg]"
#define E_UIDL		"-ERR Syntax: UIDL [msg]"
#define E_TOP		"-ERR Syntax: TOP msg n"
#define E_AUTH		"-ERR Syntax: AUTH mechanism [initial-response]"
#define E_APOP		"-ERR Syntax: APOP name digest"

enum argspec {
	ARGS_NONE,	/* no arguments */
	ARGS_MSG,	/* one message number */
	ARGS_OPT_MSG,	/* zero or one message number */
	ARGS_MSG_LINES,	/* TOP msg n */
	ARGS_NAME,	/* one word */
	ARGS_REST,	/* the rest of the line */
	ARGS_AUTH,	/* zero, one or two words */
	ARGS_TWO,	/* two words */
};

static const struct verb_def {
	const char	*name;
	enum pop3d_verb	 verb;
	enum argspec	 args;
	const char	*syntax;
} verbs[] = {
	{ "USER", POP3D_CMD_USER, ARGS_NAME, E_USER },
	{ "PASS", POP3D_CMD_PASS, ARGS_REST, E_PASS },
	{ "APOP", POP3D_CMD_APOP, ARGS_TWO, E_APOP },
	{ "AUTH", POP3D_CMD_AUTH, ARGS_AUTH, E_AUTH },
	{ "STLS", POP3D_CMD_STLS, ARGS_NONE, E_NOARGS },
	{ "CAPA", POP3D_CMD_CAPA, ARGS_NONE, E_NOARGS },
	{ "STAT", POP3D_CMD_STAT, ARGS_NONE, E_NOARGS },
	{ "LIST", POP3D_CMD_LIST, ARGS_OPT_MSG, E_LIST },
	{ "RETR", POP3D_CMD_RETR, ARGS_MSG, E_RETR },
	{ "DELE", POP3D_CMD_DELE, ARGS_MSG, E_DELE },
	{ "NOOP", POP3D_CMD_NOOP, ARGS_NONE, E_NOARGS },
	{ "RSET", POP3D_CMD_RSET, ARGS_NONE, E_NOARGS },
	{ "QUIT", POP3D_CMD_QUIT, ARGS_NONE, E_NOARGS },
	{ "TOP", POP3D_CMD_TOP, ARGS_MSG_LINES, E_TOP },
	{ "UIDL", POP3D_CMD_UIDL, ARGS_OPT_MSG, E_UIDL },
};

const char *
pop3d_cmd_name(enum pop3d_verb verb)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "?";
}

/* Decimal digits only, no sign, at most max. */
static int
parse_number(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Split at single spaces into at most max words; -1 on empty words or more. */
static int
split_words(char *s, char **words, int max)
{
	int n = 0;

	if (*s == '\0')
		return 0;
	for (;;) {
		char *sp = strchr(s, ' ');
		if (n == max || *s == ' ' || *s == '\0')
			return -1;
		words[n++] = s;
		if (sp == NULL)
			return n;
		*sp = '\0';
		s = sp + 1;
	}
}

static int
fail(const char *reply, const char **err_out)
{
	*err_out = reply;
	return -1;
}

static int
parse_args(const struct verb_def *def, char *args, struct pop3d_cmd *out,
    const char **err_out)
{
	char *w[3];
	int n;

	if (def->args == ARGS_REST) {
		if (*args == '\0')
			return fail(def->syntax, err_out);
		out->arg = args;
		return 0;
	}
	/* Tolerate trailing blanks: "LIST " and "STAT  " are common. */
	for (size_t l = strlen(args); l > 0 && (args[l - 1] == ' ' || args[l - 1] == '\t'); l--)
		args[l - 1] = '\0';
	n = split_words(args, w, 3);
	switch (def->args) {
	case ARGS_NONE:
		return n == 0 ? 0 : fail(def->syntax, err_out);
	case ARGS_MSG:
	case ARGS_OPT_MSG:
		if (n == 0 && def->args == ARGS_OPT_MSG)
			return 0;
		if (n != 1)
			return fail(def->syntax, err_out);
		if (parse_number(w[0], POP3D_MSGNUM_MAX, &out->msg) == -1)
			return fail(E_MSGNUM, err_out);
		out->has_msg = 1;
		return 0;
	case ARGS_MSG_LINES:
		if (n != 2)
			return fail(def->syntax, err_out);
		if (parse_number(w[0], POP3D_MSGNUM_MAX, &out->msg) == -1)
			return fail(E_MSGNUM, err_out);
		if (parse_number(w[1], UINT32_MAX, &out->lines) == -1)
			return fail(E_LINES, err_out);
		out->has_msg = 1;
		return 0;
	case ARGS_NAME:
		if (n != 1 || strlen(w[0]) > POP3D_ARG_MAX)
			return fail(def->syntax, err_out);
		out->arg = w[0];
		return 0;
	case ARGS_AUTH:
		if (n < 0 || n > 2)
			return fail(def->syntax, err_out);
		out->arg = n >= 1 ? w[0] : NULL;
		out->initial = n == 2 ? w[1] : NULL;
		return 0;
	case ARGS_TWO:
		if (n != 2)
			return fail(def->syntax, err_out);
		out->arg = w[0];
		out->initial = w[1];
		return 0;
	default:
		return fail(def->syntax, err_out);
	}
}

int
pop3d_cmd_parse(char *line, size_t len, struct pop3d_cmd *out, const char **err_out)
{
	const struct verb_def *def = NULL;
	size_t kwlen;
	char *args;

	memset(out, 0, sizeof(out[0]));
	*err_out = NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f)
			return fail(E_NUL, err_out);
	}
	line[len] = '\0';
	for (kwlen = 0; kwlen < len && line[kwlen] != ' '; kwlen++)
		;
	if (kwlen < 3 || kwlen > 4)
		return fail(E_UNKNOWN, err_out);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == kwlen && strncasecmp(line, verbs[i].name, kwlen) == 0) {
			def = &verbs[i];
			break;
		}
	}
	if (def == NULL)
		return fail(E_UNKNOWN, err_out);
	out->verb = def->verb;
	args = kwlen < len ? line + kwlen + 1 : line + kwlen;
	return parse_args(def, args, out, err_out);
}
