/*
 * smtpd_cmd - the SMTP command parser.
 *
 * Every scan is bounded by the line length, never by a terminator, so the
 * parser is safe on lines that are not NUL-terminated; only the pointers
 * handed back rely on the caller's NUL at line[len].
 *
 * Grammar: RFC 5321 4.1.1 and 4.1.2 (verbs, paths, esmtp-param), RFC 1870
 * (SIZE), RFC 6152 and RFC 3030 (BODY, BDAT), RFC 6531 (SMTPUTF8), RFC 3461
 * (RET, ENVID, NOTIFY, ORCPT, xtext), RFC 4954 (AUTH and AUTH=).
 */
#include <string.h>

#include "mail/addr.h"
#include "smtpd/smtpd_cmd.h"

#define SIZE_DIGITS_MAX	20	/* RFC 1870 3: size-value = 1*20DIGIT */
#define BDAT_DIGITS_MAX	18	/* < 10^18: a running total stays far from wrapping */
#define SASL_MECH_MAX	20	/* RFC 4422 3.1: sasl-mech = 1*20mech-char */

static const char reply_unrecognized[] = "500 5.5.2 Syntax error, command unrecognized";
static const char reply_nul[] = "500 5.5.2 Syntax error, NUL byte in command";
static const char reply_param_syntax[] = "501 5.5.4 Syntax error in parameters";
static const char reply_param_unknown[] = "555 5.5.4 Unsupported parameter";

/* A bounded piece of the line. */
struct span {
	const char	*p;
	size_t		 len;
};

static int
is_alpha(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int
is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
upper(unsigned char ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

/* Case-insensitive ASCII comparison of a span with an upper-case word. */
static int
span_is(struct span s, const char *word)
{
	size_t n = strlen(word);

	if (s.len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (upper((unsigned char)s.p[i]) != (unsigned char)word[i])
			return 0;
	return 1;
}

/* Same, for a prefix: 1 when s starts with word. */
static int
span_starts(struct span s, const char *word)
{
	size_t n = strlen(word);

	if (s.len < n)
		return 0;
	s.len = n;
	return span_is(s, word);
}

/* Up to the next space or the end; s is advanced past the word. */
static struct span
next_word(struct span *s)
{
	struct span w = { s->p, 0 };

	while (w.len < s->len && s->p[w.len] != ' ')
		w.len++;
	s->p += w.len;
	s->len -= w.len;
	return w;
}

static void
skip_spaces(struct span *s)
{
	while (s->len > 0 && *s->p == ' ') {
		s->p++;
		s->len--;
	}
}

/*
 * 1*max DIGIT into *out; more digits than max is a syntax error. With
 * saturate the value stops at UINT64_MAX instead of wrapping (SIZE may
 * legally be 20 digits, and a huge value is simply "too big", RFC 1870).
 */
static int
parse_decimal(struct span s, size_t max, int saturate, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > max)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d;

		if (!is_digit((unsigned char)s.p[i]))
			return -1;
		d = (unsigned)(s.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			if (!saturate)
				return -1;
			v = UINT64_MAX;
			continue;
		}
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
hex_value(unsigned char ch)
{
	if (is_digit(ch))
		return ch - '0';
	/* RFC 3461 4 asks for upper case; lower case is unambiguous, so take it. */
	ch = (unsigned char)upper(ch);
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Decode xtext (RFC 3461 4) into out, terminated, at most max characters.
 * Decoded bytes must be printable ASCII: these values end up in queue
 * files and DSN headers, where a control byte or a bare 8-bit byte has no
 * business.
 */
static int
xtext_decode(struct span s, char *out, size_t outsize, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch == '+') {
			int hi, lo;

			if (s.len - i < 3)
				return -1;
			hi = hex_value((unsigned char)s.p[i + 1]);
			lo = hex_value((unsigned char)s.p[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (ch < 0x20 || ch > 0x7e)
				return -1;
		} else if (ch < 33 || ch > 126 || ch == '=')
			return -1;
		if (o >= max || o + 1 >= outsize)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Parameter values. Each returns 0, or -1 for the parameter's "bad" reply. */

static int
param_size(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	if (!has_value || parse_decimal(v, SIZE_DIGITS_MAX, 1, &cmd->size) == -1)
		return -1;
	cmd->size_given = 1;
	return 0;
}

static int
param_body(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	if (!has_value)
		return -1;
	if (span_is(v, "7BIT"))
		cmd->body = SMTPD_BODY_7BIT;
	else if (span_is(v, "8BITMIME"))
		cmd->body = SMTPD_BODY_8BITMIME;
	else if (span_is(v, "BINARYMIME"))
		cmd->body = SMTPD_BODY_BINARYMIME;
	else
		return -1;
	return 0;
}

static int
param_smtputf8(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	if (has_value)
		return -1;
	cmd->smtputf8 = 1;
	return 0;
}

static int
param_ret(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	if (!has_value)
		return -1;
	if (span_is(v, "FULL"))
		cmd->ret = SMTPD_RET_FULL;
	else if (span_is(v, "HDRS"))
		cmd->ret = SMTPD_RET_HDRS;
	else
		return -1;
	return 0;
}

static int
param_envid(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	if (!has_value)
		return -1;
	/* RFC 3461 4.4: at most 100 characters, which is what envid holds. */
	return xtext_decode(v, cmd->envid, sizeof(cmd->envid),
	    sizeof(cmd->envid) - 1);
}

static int
param_auth(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	/* "<>" or an addr-spec; the session decides whether to trust it. */
	if (!has_value)
		return -1;
	return xtext_decode(v, cmd->auth, sizeof(cmd->auth), sizeof(cmd->auth) - 1);
}

static int
param_notify(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	static const struct {
		const char	*word;
		unsigned	 bit;
	} words[] = {
		{ "NEVER", SMTPD_NOTIFY_NEVER },
		{ "SUCCESS", SMTPD_NOTIFY_SUCCESS },
		{ "FAILURE", SMTPD_NOTIFY_FAILURE },
		{ "DELAY", SMTPD_NOTIFY_DELAY },
	};
	unsigned bits = 0;

	if (!has_value)
		return -1;
	for (;;) {
		struct span w = { v.p, 0 };
		unsigned bit = 0;

		while (w.len < v.len && v.p[w.len] != ',')
			w.len++;
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (span_is(w, words[i].word))
				bit = words[i].bit;
		if (bit == 0 || (bits & bit) != 0)
			return -1;
		bits |= bit;
		if (w.len == v.len)
			break;
		v.p += w.len + 1;
		v.len -= w.len + 1;
	}
	/* RFC 3461 4.1: NEVER stands alone. */
	if ((bits & SMTPD_NOTIFY_NEVER) != 0 && bits != SMTPD_NOTIFY_NEVER)
		return -1;
	cmd->notify = bits;
	return 0;
}

static int
param_orcpt(struct smtpd_cmd *cmd, struct span v, int has_value)
{
	struct span type = { v.p, 0 }, rest;

	/* original-recipient-address = addr-type ";" xtext, addr-type = atom */
	if (!has_value)
		return -1;
	while (type.len < v.len && v.p[type.len] != ';') {
		unsigned char ch = (unsigned char)v.p[type.len];
		if (!is_alpha(ch) && !is_digit(ch) &&
		    strchr("!#$%&'*+-/=?^_`{|}~", ch) == NULL)
			return -1;
		type.len++;
	}
	if (type.len == 0 || type.len == v.len || type.len + 1 >= sizeof(cmd->orcpt))
		return -1;
	rest.p = v.p + type.len + 1;
	rest.len = v.len - type.len - 1;
	if (rest.len == 0)
		return -1;
	memcpy(cmd->orcpt, type.p, type.len);
	cmd->orcpt[type.len] = ';';
	return xtext_decode(rest, cmd->orcpt + type.len + 1,
	    sizeof(cmd->orcpt) - type.len - 1, sizeof(cmd->orcpt));
}

struct param {
	const char	*name;
	enum smtpd_verb	 verb;
	int		(*parse)(struct smtpd_cmd *, struct span, int);
	const char	*reply_dup;
	const char	*reply_bad;
};

static const struct param params[] = {
	{ "SIZE", SMTPD_CMD_MAIL, param_size,
	    "501 5.5.4 Duplicate SIZE parameter", "501 5.5.4 Bad SIZE parameter" },
	{ "BODY", SMTPD_CMD_MAIL, param_body,
	    "501 5.5.4 Duplicate BODY parameter", "501 5.5.4 Bad BODY parameter" },
	{ "SMTPUTF8", SMTPD_CMD_MAIL, param_smtputf8,
	    "501 5.5.4 Duplicate SMTPUTF8 parameter",
	    "501 5.5.4 SMTPUTF8 takes no value" },
	{ "RET", SMTPD_CMD_MAIL, param_ret,
	    "501 5.5.4 Duplicate RET parameter", "501 5.5.4 Bad RET parameter" },
	{ "ENVID", SMTPD_CMD_MAIL, param_envid,
	    "501 5.5.4 Duplicate ENVID parameter", "501 5.5.4 Bad ENVID parameter" },
	{ "AUTH", SMTPD_CMD_MAIL, param_auth,
	    "501 5.5.4 Duplicate AUTH parameter", "501 5.5.4 Bad AUTH parameter" },
	{ "NOTIFY", SMTPD_CMD_RCPT, param_notify,
	    "501 5.5.4 Duplicate NOTIFY parameter", "501 5.5.4 Bad NOTIFY parameter" },
	{ "ORCPT", SMTPD_CMD_RCPT, param_orcpt,
	    "501 5.5.4 Duplicate ORCPT parameter", "501 5.5.4 Bad ORCPT parameter" },
};

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int
keyword_valid(struct span k)
{
	if (k.len == 0 || k.p[0] == '-')
		return 0;
	for (size_t i = 0; i < k.len; i++) {
		unsigned char ch = (unsigned char)k.p[i];
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
			return 0;
	}
	return 1;
}

/*
 * esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii with RFC 6531
 * 3.3. Well-formedness of the UTF-8 is left to the values that allow it:
 * none of ours does, so any byte above 126 fails there.
 */
static int
value_valid(struct span v)
{
	if (v.len == 0)
		return 0;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if (ch < 33 || ch == '=' || ch == 127)
			return 0;
	}
	return 1;
}

/* Mail-parameters / Rcpt-parameters: esmtp-param *(SP esmtp-param). */
static int
parse_params(struct smtpd_cmd *cmd, struct span s, const char **reply_out)
{
	unsigned seen = 0;

	while (s.len > 0) {
		struct span word, key, val = { "", 0 };
		const struct param *pm = NULL;
		int has_value = 0;

		/* Extra and trailing spaces are tolerated. */
		skip_spaces(&s);
		if (s.len == 0)
			break;
		word = next_word(&s);
		key = word;
		for (size_t i = 0; i < word.len; i++) {
			if (word.p[i] == '=') {
				key.len = i;
				val.p = word.p + i + 1;
				val.len = word.len - i - 1;
				has_value = 1;
				break;
			}
		}
		if (!keyword_valid(key)) {
			*reply_out = reply_param_syntax;
			return -1;
		}
		for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
			if (params[i].verb == cmd->verb && span_is(key, params[i].name)) {
				pm = &params[i];
				if ((seen & (1u << i)) != 0) {
					*reply_out = pm->reply_dup;
					return -1;
				}
				seen |= 1u << i;
				break;
			}
		}
		if (pm == NULL) {
			/* RFC 5321 4.1.1.11 */
			*reply_out = reply_param_unknown;
			return -1;
		}
		if ((has_value && !value_valid(val)) ||
		    pm->parse(cmd, val, has_value) == -1) {
			*reply_out = pm->reply_bad;
			return -1;
		}
	}
	return 0;
}

/* "FROM:" or "TO:", optional spaces (a common client habit), the path, params. */
static int
parse_path_cmd(struct smtpd_cmd *cmd, struct span arg, const char *prefix,
    unsigned flags, const char *reply_syntax, const char *reply_bad,
    const char *reply_long, const char **reply_out)
{
	const char *end, *err;

	skip_spaces(&arg);
	if (!span_starts(arg, prefix)) {
		*reply_out = reply_syntax;
		return -1;
	}
	arg.p += strlen(prefix);
	arg.len -= strlen(prefix);
	skip_spaces(&arg);
	if (arg.len == 0) {
		*reply_out = reply_syntax;
		return -1;
	}
	if (addr_parse_path(arg.p, arg.len, flags, &cmd->path, &end, &err) == -1) {
		*reply_out = err == addr_err_too_long ? reply_long : reply_bad;
		return -1;
	}
	arg.len -= (size_t)(end - arg.p);
	arg.p = end;
	if (arg.len > 0 && *arg.p != ' ') {
		*reply_out = reply_syntax;
		return -1;
	}
	return parse_params(cmd, arg, reply_out);
}

static int
cmd_mail(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	if (parse_path_cmd(cmd, arg, "FROM:",
	    ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 | ADDR_ALLOW_NO_BRACKETS,
	    "501 5.5.4 Syntax: MAIL FROM:<address>",
	    "501 5.1.7 Bad sender address syntax",
	    "501 5.1.7 Path too long", reply_out) == -1)
		return -1;
	/* The path came before SMTPUTF8, so its UTF-8 is judged only now. */
	if (cmd->path.has_utf8 && !cmd->smtputf8) {
		*reply_out = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
		return -1;
	}
	return 0;
}

static int
cmd_rcpt(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return parse_path_cmd(cmd, arg, "TO:",
	    ADDR_ALLOW_POSTMASTER | ADDR_ALLOW_UTF8 | ADDR_ALLOW_NO_BRACKETS,
	    "501 5.5.4 Syntax: RCPT TO:<address>",
	    "501 5.1.3 Bad recipient address syntax",
	    "501 5.1.3 Path too long", reply_out);
}

/* HELO, EHLO, LHLO: exactly one Domain or address-literal. */
static int
cmd_hello(struct smtpd_cmd *cmd, struct span arg, const char *reply_syntax,
    const char **reply_out)
{
	skip_spaces(&arg);
	if (arg.len == 0) {
		*reply_out = reply_syntax;
		return -1;
	}
	if (arg.p[0] == '[' ? !addr_literal_valid(arg.p, arg.len) :
	    !addr_domain_valid(arg.p, arg.len, 1)) {
		*reply_out = "501 5.5.4 Invalid domain name";
		return -1;
	}
	cmd->helo = arg.p;
	return 0;
}

static int
cmd_helo(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return cmd_hello(cmd, arg, "501 5.5.4 Syntax: HELO domain", reply_out);
}

static int
cmd_ehlo(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return cmd_hello(cmd, arg, "501 5.5.4 Syntax: EHLO domain", reply_out);
}

static int
cmd_lhlo(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return cmd_hello(cmd, arg, "501 5.5.4 Syntax: LHLO domain", reply_out);
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2) */
static int
cmd_bdat(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	struct span w;

	skip_spaces(&arg);
	w = next_word(&arg);
	if (parse_decimal(w, BDAT_DIGITS_MAX, 0, &cmd->chunk_size) == -1)
		goto bad;
	skip_spaces(&arg);
	if (arg.len > 0) {
		w = next_word(&arg);
		if (!span_is(w, "LAST"))
			goto bad;
		cmd->last = 1;
		skip_spaces(&arg);
		if (arg.len > 0)
			goto bad;
	}
	return 0;
bad:
	*reply_out = "501 5.5.4 Syntax: BDAT chunk-size [LAST]";
	return -1;
}

/*
 * AUTH mechanism [initial-response] (RFC 4954 4): sasl-mech is 1*20 of
 * upper-case letters, digits, "-" and "_" (RFC 4422 3.1; any case taken),
 * the response is base64 or "=". The session splits cmd->arg itself.
 */
static int
cmd_auth(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	struct span mech, resp;

	mech = next_word(&arg);
	if (mech.len == 0 || mech.len > SASL_MECH_MAX)
		goto bad;
	for (size_t i = 0; i < mech.len; i++) {
		unsigned char ch = (unsigned char)mech.p[i];
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-' && ch != '_')
			goto bad;
	}
	skip_spaces(&arg);
	if (arg.len == 0)
		return 0;
	resp = next_word(&arg);
	skip_spaces(&arg);
	if (arg.len > 0)
		goto bad;
	for (size_t i = 0; i < resp.len; i++) {
		unsigned char ch = (unsigned char)resp.p[i];
		if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '/' &&
		    ch != '=')
			goto bad;
	}
	return 0;
bad:
	*reply_out = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
	return -1;
}

/* DATA, RSET, QUIT, STARTTLS: nothing but trailing spaces may follow. */
static int
no_arg(struct span arg, const char *reply_syntax, const char **reply_out)
{
	skip_spaces(&arg);
	if (arg.len > 0) {
		*reply_out = reply_syntax;
		return -1;
	}
	return 0;
}

static int
cmd_data(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return no_arg(arg, "501 5.5.4 Syntax: DATA", reply_out);
}

static int
cmd_rset(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return no_arg(arg, "501 5.5.4 Syntax: RSET", reply_out);
}

static int
cmd_quit(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return no_arg(arg, "501 5.5.4 Syntax: QUIT", reply_out);
}

static int
cmd_starttls(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return no_arg(arg, "501 5.5.4 Syntax: STARTTLS", reply_out);
}

/* NOOP, HELP, VRFY, EXPN: any argument; the session answers. */
static int
cmd_any(struct smtpd_cmd *cmd, struct span arg, const char **reply_out)
{
	return 0;
}

static const struct verb {
	const char	*name;
	enum smtpd_verb	 verb;
	int		(*parse)(struct smtpd_cmd *, struct span, const char **);
} verbs[] = {
	{ "HELO", SMTPD_CMD_HELO, cmd_helo },
	{ "EHLO", SMTPD_CMD_EHLO, cmd_ehlo },
	{ "LHLO", SMTPD_CMD_LHLO, cmd_lhlo },
	{ "MAIL", SMTPD_CMD_MAIL, cmd_mail },
	{ "RCPT", SMTPD_CMD_RCPT, cmd_rcpt },
	{ "DATA", SMTPD_CMD_DATA, cmd_data },
	{ "BDAT", SMTPD_CMD_BDAT, cmd_bdat },
	{ "RSET", SMTPD_CMD_RSET, cmd_rset },
	{ "NOOP", SMTPD_CMD_NOOP, cmd_any },
	{ "QUIT", SMTPD_CMD_QUIT, cmd_quit },
	{ "HELP", SMTPD_CMD_HELP, cmd_any },
	{ "VRFY", SMTPD_CMD_VRFY, cmd_any },
	{ "EXPN", SMTPD_CMD_EXPN, cmd_any },
	{ "STARTTLS", SMTPD_CMD_STARTTLS, cmd_starttls },
	{ "AUTH", SMTPD_CMD_AUTH, cmd_auth },
};

int
smtpd_cmd_parse(const char *line, size_t len, struct smtpd_cmd *cmd,
    const char **reply_out)
{
	struct span rest = { line, len }, name;
	const struct verb *v = NULL;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTPD_CMD_UNKNOWN;
	cmd->arg = "";
	cmd->helo = "";
	/* A NUL would cut the strings handed out short; refuse it outright. */
	if (memchr(line, '\0', len) != NULL) {
		*reply_out = reply_nul;
		return -1;
	}
	name = next_word(&rest);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (span_is(name, verbs[i].name)) {
			v = &verbs[i];
			break;
		}
	}
	if (v == NULL) {
		*reply_out = reply_unrecognized;
		return -1;
	}
	cmd->verb = v->verb;
	if (rest.len > 0) {
		/* Drop the one space; empty means no argument. */
		rest.p++;
		rest.len--;
		if (rest.len > 0)
			cmd->arg = rest.p;
	}
	return v->parse(cmd, rest, reply_out);
}
