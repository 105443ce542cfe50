/*
 * imap_parse - IMAP commands (RFC 3501 and RFC 9051 section 9, with the
 * extensions listed in imap_parse.h).
 *
 * The grammar is followed closely: one SP between arguments, nothing
 * after the last one, and each failure names what was wrong, because a
 * client that gets "BAD syntax error" has no way to find its bug. FETCH
 * and STORE live in imap_parse_fetch.c, SEARCH in imap_parse_search.c,
 * the tokens in imap_parse_lex.c.
 */
#include <string.h>

#include "common/str.h"
#include "imapd/imap_parse_private.h"
#include "imapd/mutf7.h"

#define ID_STRING_MAX	1024	/* RFC 2971 allows 1024-octet values */

static int
is_tag_char(unsigned char c)
{
	return (ip_is_atom_char(c) && c != '+') || c == ']';
}

int
imap_literal_marker(const char *line, size_t len, uint64_t *size, int *nonsync)
{
	size_t open, stop, i;
	uint64_t v = 0;

	*size = 0;
	*nonsync = 0;
	if (len == 0 || line[len - 1] != '}')
		return 0;
	stop = len - 1;
	for (open = stop; open > 0 && line[open - 1] != '{'; open--)
		if (line[open - 1] == ' ' || line[open - 1] == '"')
			return 0;	/* "}" ends an atom, not a marker */
	if (open == 0)
		return 0;
	if (stop > open && line[stop - 1] == '+') {
		*nonsync = 1;
		stop--;
	}
	if (stop == open)
		return -1;
	for (i = open; i < stop; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*size = v;
	return 1;
}

void
imap_parse_tag(const char *line, size_t len, char *tag, size_t taglen)
{
	size_t n = 0;

	if (taglen == 0)
		return;
	while (n < len && is_tag_char((unsigned char)line[n]))
		n++;
	if (n == 0 || n > IMAP_TAG_MAX || n >= taglen || (n < len && line[n] != ' ')) {
		str_copy(tag, "*", taglen);
		return;
	}
	memcpy(tag, line, n);
	tag[n] = '\0';
}

int
imap_is_auth_cancel(const char *line, size_t len)
{
	return len == 1 && line[0] == '*';
}

/* Mailbox names: 8-bit only after UTF8=ACCEPT, and then valid UTF-8. */
static int
check_name(struct imap_parser *p, const char *s, size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			break;
	if (i == n)
		return 0;
	if (!p->utf8)
		return ip_fail(p, "8-bit characters in %s (use modified UTF-7)", what);
	if (!mutf7_utf8_valid(s, n))
		return ip_fail(p, "Invalid UTF-8 in %s", what);
	return 0;
}

static int
read_mailbox(struct imap_parser *p, const char *what, char **out)
{
	size_t n;

	if (ip_sp(p, what) == -1 || ip_astring(p, what, out, &n) == -1)
		return -1;
	return check_name(p, *out, n, what);
}

/* list-mailbox: 1*(ATOM-CHAR / "%" / "*" / "]") or a string. */
static int
read_list_mailbox(struct imap_parser *p, char **out)
{
	size_t start = p->pos, n;
	int c = ip_peek(p);
	unsigned char b;

	if (c == '"' || c == '{') {
		if (ip_string(p, "mailbox pattern", out, &n) == -1)
			return -1;
		return check_name(p, *out, n, "mailbox pattern");
	}
	while (p->pos < p->len) {
		b = (unsigned char)p->buf[p->pos];
		if (!ip_is_atom_char(b) && b != '%' && b != '*' && b != ']' &&
		    !(b >= 0x80 && p->utf8))
			break;
		p->pos++;
	}
	if (p->pos == start)
		return ip_fail(p, c == -1 ? "Missing mailbox pattern" : c >= 0x80 ?
		    "8-bit characters in mailbox pattern (use modified UTF-7)" :
		    "Invalid character in mailbox pattern");
	n = p->pos - start;
	if (check_name(p, p->buf + start, n, "mailbox pattern") == -1)
		return -1;
	*out = ip_strndup(p, p->buf + start, n);
	return 0;
}

static int
parse_none(struct imap_parser *p)
{
	return 0;
}

/* SASL-IR (RFC 4959): base64, or "=" for an empty response. */
static int
valid_base64(const char *s, size_t n)
{
	size_t i, pad = 0;
	unsigned char c;

	if (n == 1 && s[0] == '=')
		return 1;
	if (n == 0 || n % 4 != 0)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return pad <= 2;
}

static int
parse_authenticate(struct imap_parser *p)
{
	const char *s;
	size_t n;

	if (ip_sp(p, "authentication mechanism") == -1 ||
	    ip_atom_upper(p, "authentication mechanism", &p->cmd->mechanism) == -1)
		return -1;
	if (ip_at_end(p))
		return 0;
	if (ip_sp(p, "initial response") == -1 || ip_atom(p, "initial response", &s, &n) == -1)
		return -1;
	if (!valid_base64(s, n))
		return ip_fail(p, "Invalid initial response (not base64)");
	p->cmd->initial = ip_strndup(p, s, n);
	return 0;
}

static int
parse_login(struct imap_parser *p)
{
	if (ip_sp(p, "user name") == -1 ||
	    ip_astring(p, "user name", &p->cmd->user, NULL) == -1 ||
	    ip_sp(p, "password") == -1 ||
	    ip_astring(p, "password", &p->cmd->password, NULL) == -1)
		return -1;
	return 0;
}

static int
id_pair(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	char *f, *v;
	size_t fn, vn;

	if (cmd->id_npairs >= IMAP_ID_PAIRS_MAX)
		return ip_fail(p, "Too many ID fields (at most %d)", IMAP_ID_PAIRS_MAX);
	if (ip_string(p, "ID field", &f, &fn) == -1 || ip_sp(p, "ID value") == -1 ||
	    ip_nstring(p, "ID value", &v, &vn) == -1)
		return -1;
	if (fn > ID_STRING_MAX || vn > ID_STRING_MAX)
		return ip_fail(p, "ID string too long");
	cmd->id_fields[cmd->id_npairs] = f;
	cmd->id_values[cmd->id_npairs] = v;
	cmd->id_npairs++;
	return 0;
}

/* RFC 2971: "ID NIL" or "ID (field value ...)"; "#" allows an empty list. */
static int
parse_id(struct imap_parser *p)
{
	const char *s;
	size_t n;

	if (ip_sp(p, "ID parameters") == -1)
		return -1;
	if (!ip_eat(p, '(')) {
		if (ip_atom(p, "ID parameters", &s, &n) == -1 || !ip_word_is(s, n, "NIL"))
			return ip_fail(p, "Expected ( or NIL after ID");
		return 0;
	}
	if (ip_eat(p, ')'))
		return 0;
	for (;;) {
		if (id_pair(p) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "ID field") == -1)
			return -1;
	}
}

static int
parse_enable(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	/* Each name takes at least two bytes (SP and one character). */
	size_t max = (p->len - p->pos) / 2 + 1;

	cmd->enable = ip_alloc(p, max * sizeof(*cmd->enable));
	do {
		if (ip_sp(p, "capability name") == -1 ||
		    ip_atom_upper(p, "capability name", &cmd->enable[cmd->nenable]) == -1)
			return -1;
		cmd->nenable++;
	} while (!ip_at_end(p) && cmd->nenable < max);
	return 0;
}

/* QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)]), RFC 7162 3.2.5. */
static int
parse_qresync(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	uint64_t v;

	if (ip_expect(p, '(', "( after QRESYNC") == -1 ||
	    ip_number(p, "UIDVALIDITY", UINT32_MAX, &v) == -1)
		return -1;
	if (v == 0)
		return ip_fail(p, "Invalid UIDVALIDITY");
	cmd->qr_uidvalidity = (uint32_t)v;
	if (ip_sp(p, "mod-sequence") == -1 ||
	    ip_number(p, "mod-sequence", IP_MODSEQ_MAX, &cmd->qr_modseq) == -1)
		return -1;
	if (ip_eat(p, ')'))
		return 0;
	if (ip_sp_list(p, "known UIDs") == -1)
		return -1;
	if (ip_peek(p) != '(') {
		if (ip_seqset(p, &cmd->qr_known_uids) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "sequence match data") == -1)
			return -1;
	}
	if (ip_expect(p, '(', "( before sequence match data") == -1 ||
	    ip_seqset(p, &cmd->qr_seq_match) == -1 || ip_sp(p, "UID set") == -1 ||
	    ip_seqset(p, &cmd->qr_uid_match) == -1 ||
	    ip_expect(p, ')', ") after sequence match data") == -1)
		return -1;
	return ip_expect(p, ')', ") after QRESYNC parameters");
}

static int
select_param(struct imap_parser *p)
{
	const char *s;
	size_t n;
	char show[200];

	if (ip_atom(p, "SELECT parameter", &s, &n) == -1)
		return -1;
	if (ip_word_is(s, n, "CONDSTORE")) {
		if (p->cmd->condstore)
			return ip_fail(p, "CONDSTORE given twice");
		p->cmd->condstore = 1;
		return 0;
	}
	if (ip_word_is(s, n, "QRESYNC")) {
		if (p->cmd->qresync)
			return ip_fail(p, "QRESYNC given twice");
		p->cmd->qresync = 1;
		return ip_sp(p, "QRESYNC parameters") == -1 ? -1 : parse_qresync(p);
	}
	return ip_fail(p, "Unknown SELECT parameter %s", ip_show(show, sizeof(show), s, n));
}

static int
parse_select(struct imap_parser *p)
{
	if (read_mailbox(p, "mailbox name", &p->cmd->mailbox) == -1)
		return -1;
	if (ip_at_end(p))
		return 0;
	if (ip_sp(p, "SELECT parameters") == -1 ||
	    ip_expect(p, '(', "( before SELECT parameters") == -1)
		return -1;
	for (;;) {
		if (select_param(p) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "SELECT parameter") == -1)
			return -1;
	}
}

static const struct {
	const char	*name;
	unsigned	 bit;
} use_attrs[] = {
	{ "\\ALL", IMAP_USE_ALL }, { "\\ARCHIVE", IMAP_USE_ARCHIVE },
	{ "\\DRAFTS", IMAP_USE_DRAFTS }, { "\\FLAGGED", IMAP_USE_FLAGGED },
	{ "\\JUNK", IMAP_USE_JUNK }, { "\\SENT", IMAP_USE_SENT },
	{ "\\TRASH", IMAP_USE_TRASH },
};

static int
use_attr(struct imap_parser *p)
{
	size_t start = p->pos, n, i;
	const char *s;
	char show[200];

	if (!ip_eat(p, '\\'))
		return ip_fail(p, "Expected a special-use attribute");
	if (ip_atom(p, "special-use attribute", &s, &n) == -1)
		return -1;
	s = p->buf + start;
	n = p->pos - start;
	for (i = 0; i < sizeof(use_attrs) / sizeof(use_attrs[0]); i++) {
		if (ip_word_is(s, n, use_attrs[i].name)) {
			p->cmd->use |= use_attrs[i].bit;
			return 0;
		}
	}
	return ip_fail(p, "Unknown special-use attribute %s", ip_show(show, sizeof(show), s, n));
}

/* RFC 6154 section 3: CREATE name (USE (\Sent ...)). */
static int
parse_create(struct imap_parser *p)
{
	const char *s;
	size_t n;

	if (read_mailbox(p, "mailbox name", &p->cmd->mailbox) == -1)
		return -1;
	if (ip_at_end(p))
		return 0;
	if (ip_sp(p, "CREATE parameters") == -1 ||
	    ip_expect(p, '(', "( before CREATE parameters") == -1 ||
	    ip_atom(p, "CREATE parameter", &s, &n) == -1)
		return -1;
	if (!ip_word_is(s, n, "USE"))
		return ip_fail(p, "Unknown CREATE parameter (only USE is supported)");
	if (ip_sp(p, "special-use attributes") == -1 ||
	    ip_expect(p, '(', "( before special-use attributes") == -1)
		return -1;
	while (!ip_eat(p, ')')) {
		if (p->cmd->use != 0 && ip_sp_list(p, "special-use attribute") == -1)
			return -1;
		if (use_attr(p) == -1)
			return -1;
	}
	return ip_expect(p, ')', ") after CREATE parameters");
}

static int
parse_mailbox(struct imap_parser *p)
{
	return read_mailbox(p, "mailbox name", &p->cmd->mailbox);
}

static int
parse_rename(struct imap_parser *p)
{
	if (read_mailbox(p, "mailbox name", &p->cmd->mailbox) == -1)
		return -1;
	return read_mailbox(p, "new mailbox name", &p->cmd->mailbox2);
}

static const struct {
	const char	*name;
	unsigned	 bit;
} status_atts[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES }, { "RECENT", IMAP_STATUS_RECENT },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT }, { "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN }, { "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
	{ "SIZE", IMAP_STATUS_SIZE }, { "DELETED", IMAP_STATUS_DELETED },
};

/* "(" status-att *(SP status-att) ")" */
static int
status_list(struct imap_parser *p, unsigned *items)
{
	const char *s;
	size_t n, i;
	char show[200];

	if (ip_expect(p, '(', "( before STATUS items") == -1)
		return -1;
	for (;;) {
		if (ip_atom(p, "STATUS item", &s, &n) == -1)
			return -1;
		for (i = 0; i < sizeof(status_atts) / sizeof(status_atts[0]); i++)
			if (ip_word_is(s, n, status_atts[i].name))
				break;
		if (i == sizeof(status_atts) / sizeof(status_atts[0]))
			return ip_fail(p, "Unknown STATUS item %s",
			    ip_show(show, sizeof(show), s, n));
		*items |= status_atts[i].bit;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "STATUS item") == -1)
			return -1;
	}
}

static int
parse_status(struct imap_parser *p)
{
	if (read_mailbox(p, "mailbox name", &p->cmd->mailbox) == -1 ||
	    ip_sp(p, "STATUS items") == -1)
		return -1;
	return status_list(p, &p->cmd->status_items);
}

/* RFC 5258 list-select-opts; "()" is allowed. */
static int
list_select(struct imap_parser *p)
{
	unsigned *sel = &p->cmd->list_select;
	const char *s;
	size_t n;
	char show[200];

	p->pos++;
	while (!ip_eat(p, ')')) {
		if (*sel != 0 && ip_sp_list(p, "LIST selection option") == -1)
			return -1;
		if (ip_atom(p, "LIST selection option", &s, &n) == -1)
			return -1;
		if (ip_word_is(s, n, "SUBSCRIBED"))
			*sel |= IMAP_LIST_SEL_SUBSCRIBED;
		else if (ip_word_is(s, n, "REMOTE"))
			*sel |= IMAP_LIST_SEL_REMOTE;
		else if (ip_word_is(s, n, "RECURSIVEMATCH"))
			*sel |= IMAP_LIST_SEL_RECURSIVEMATCH;
		else if (ip_word_is(s, n, "SPECIAL-USE"))
			*sel |= IMAP_LIST_SEL_SPECIAL_USE;
		else
			return ip_fail(p, "Unknown LIST selection option %s",
			    ip_show(show, sizeof(show), s, n));
	}
	/* RFC 5258 3.1: RECURSIVEMATCH only modifies another option. */
	if ((*sel & IMAP_LIST_SEL_RECURSIVEMATCH) &&
	    !(*sel & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)))
		return ip_fail(p, "RECURSIVEMATCH needs another selection option");
	p->cmd->list_extended = 1;
	return 0;
}

static int
list_patterns(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;

	if (!ip_eat(p, '('))
		return read_list_mailbox(p, &cmd->patterns[cmd->npatterns++]);
	cmd->list_extended = 1;
	for (;;) {
		if (cmd->npatterns >= IMAP_PATTERNS_MAX)
			return ip_fail(p, "Too many mailbox patterns");
		if (read_list_mailbox(p, &cmd->patterns[cmd->npatterns++]) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "mailbox pattern") == -1)
			return -1;
	}
}

static int
list_return_opt(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	const char *s;
	size_t n;
	char show[200];

	if (ip_atom(p, "LIST return option", &s, &n) == -1)
		return -1;
	if (ip_word_is(s, n, "SUBSCRIBED"))
		cmd->list_return |= IMAP_LIST_RET_SUBSCRIBED;
	else if (ip_word_is(s, n, "CHILDREN"))
		cmd->list_return |= IMAP_LIST_RET_CHILDREN;
	else if (ip_word_is(s, n, "SPECIAL-USE"))
		cmd->list_return |= IMAP_LIST_RET_SPECIAL_USE;
	else if (ip_word_is(s, n, "STATUS")) {
		if (cmd->list_return & IMAP_LIST_RET_STATUS)
			return ip_fail(p, "STATUS given twice");
		cmd->list_return |= IMAP_LIST_RET_STATUS;
		if (ip_sp(p, "STATUS items") == -1)
			return -1;
		return status_list(p, &cmd->list_status);
	} else
		return ip_fail(p, "Unknown LIST return option %s",
		    ip_show(show, sizeof(show), s, n));
	return 0;
}

static int
list_return(struct imap_parser *p)
{
	const char *s;
	size_t n;

	if (ip_sp(p, "RETURN") == -1 || ip_atom(p, "RETURN", &s, &n) == -1)
		return -1;
	if (!ip_word_is(s, n, "RETURN"))
		return ip_fail(p, "Expected RETURN after mailbox pattern");
	if (ip_sp(p, "LIST return options") == -1 ||
	    ip_expect(p, '(', "( before LIST return options") == -1)
		return -1;
	p->cmd->list_extended = 1;
	if (ip_eat(p, ')'))
		return 0;
	for (;;) {
		if (list_return_opt(p) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "LIST return option") == -1)
			return -1;
	}
}

static int
parse_list(struct imap_parser *p)
{
	if (ip_sp(p, "reference name") == -1)
		return -1;
	if (ip_peek(p) == '(' && (list_select(p) == -1 || ip_sp(p, "reference name") == -1))
		return -1;
	if (ip_astring(p, "reference name", &p->cmd->reference, NULL) == -1 ||
	    check_name(p, p->cmd->reference, strlen(p->cmd->reference), "reference name") == -1 ||
	    ip_sp(p, "mailbox pattern") == -1 || list_patterns(p) == -1)
		return -1;
	if (ip_at_end(p))
		return 0;
	return list_return(p);
}

static int
parse_lsub(struct imap_parser *p)
{
	if (read_mailbox(p, "reference name", &p->cmd->reference) == -1 ||
	    ip_sp(p, "mailbox pattern") == -1)
		return -1;
	return read_list_mailbox(p, &p->cmd->patterns[p->cmd->npatterns++]);
}

/* Exactly k digits at s[*i] (bounded by n). */
static int
digits(const char *s, size_t n, size_t *i, size_t k, int *out)
{
	int v = 0;

	if (n - *i < k)
		return -1;
	for (size_t j = 0; j < k; j++) {
		if (s[*i + j] < '0' || s[*i + j] > '9')
			return -1;
		v = v * 10 + (s[*i + j] - '0');
	}
	*i += k;
	*out = v;
	return 0;
}

static int
at(const char *s, size_t n, size_t *i, char c)
{
	if (*i < n && s[*i] == c) {
		(*i)++;
		return 1;
	}
	return 0;
}

/* date-time: "dd-Mmm-yyyy hh:mm:ss +zzzz", day space-padded or 2 digits. */
static int
read_date_time(struct imap_parser *p, time_t *out)
{
	const char *s = p->buf + p->pos;
	size_t n = p->len - p->pos, i = 0;
	int d, mon = 0, y, hh, mm, ss, zh, zm, sign;

	if (!at(s, n, &i, '"'))
		return ip_fail(p, "Invalid date-time");
	(void)at(s, n, &i, ' ');
	if ((digits(s, n, &i, 2, &d) == -1 && digits(s, n, &i, 1, &d) == -1) ||
	    !at(s, n, &i, '-') || n - i < 3 || (mon = ip_month(s + i)) == 0)
		return ip_fail(p, "Invalid date-time");
	i += 3;
	if (!at(s, n, &i, '-') || digits(s, n, &i, 4, &y) == -1 || !at(s, n, &i, ' ') ||
	    digits(s, n, &i, 2, &hh) == -1 || !at(s, n, &i, ':') ||
	    digits(s, n, &i, 2, &mm) == -1 || !at(s, n, &i, ':') ||
	    digits(s, n, &i, 2, &ss) == -1 || !at(s, n, &i, ' ') || i >= n ||
	    (s[i] != '+' && s[i] != '-'))
		return ip_fail(p, "Invalid date-time");
	sign = s[i++] == '-' ? -1 : 1;
	if (digits(s, n, &i, 2, &zh) == -1 || digits(s, n, &i, 2, &zm) == -1 ||
	    !at(s, n, &i, '"'))
		return ip_fail(p, "Invalid date-time");
	if (d < 1 || y < 1 || d > ip_days_in_month(y, mon) || hh > 23 || mm > 59 ||
	    ss > 60 || zm > 59)
		return ip_fail(p, "Invalid date-time (out of range)");
	p->pos += i;
	*out = (time_t)(ip_days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss -
	    sign * (zh * 3600 + zm * 60));
	return 0;
}

/* APPEND mailbox [flag-list] [date-time] literal (RFC 3501, RFC 3516 literal8). */
static int
parse_append(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	const char *s;
	size_t n;

	if (read_mailbox(p, "mailbox name", &cmd->mailbox) == -1 ||
	    ip_sp(p, "message literal") == -1)
		return -1;
	if (ip_peek(p) == '(') {
		if (ip_flag_list(p, &cmd->append_flags, 0) == -1 ||
		    ip_sp(p, "message literal") == -1)
			return -1;
	}
	if (ip_peek(p) == '"') {
		if (read_date_time(p, &cmd->append_date) == -1 ||
		    ip_sp(p, "message literal") == -1)
			return -1;
		cmd->has_date = 1;
	}
	if (ip_peek(p) != '{' && ip_peek(p) != '~')
		return ip_fail(p, "Expected message literal");
	if (ip_literal(p, 1, &s, &n, &cmd->message_binary) == -1)
		return -1;
	cmd->message = s;
	cmd->message_len = n;
	return 0;
}

static int
parse_expunge(struct imap_parser *p)
{
	if (!p->cmd->uid)
		return 0;
	return ip_sp(p, "sequence set") == -1 ? -1 : ip_seqset(p, &p->cmd->set);
}

static int
parse_copy(struct imap_parser *p)
{
	if (ip_sp(p, "sequence set") == -1 || ip_seqset(p, &p->cmd->set) == -1)
		return -1;
	return read_mailbox(p, "mailbox name", &p->cmd->mailbox);
}

static int
parse_getquota(struct imap_parser *p)
{
	if (ip_sp(p, "quota root") == -1)
		return -1;
	return ip_astring(p, "quota root", &p->cmd->mailbox, NULL);
}

/* SETQUOTA root (name limit ...): the limits are checked, not kept. */
static int
parse_setquota(struct imap_parser *p)
{
	const char *s;
	size_t n;
	uint64_t v;

	if (parse_getquota(p) == -1 || ip_sp(p, "quota limits") == -1 ||
	    ip_expect(p, '(', "( before quota limits") == -1)
		return -1;
	if (ip_eat(p, ')'))
		return 0;
	for (;;) {
		if (ip_atom(p, "quota resource", &s, &n) == -1 ||
		    ip_sp(p, "quota limit") == -1 ||
		    ip_number(p, "quota limit", INT64_MAX, &v) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "quota resource") == -1)
			return -1;
	}
}

static const struct verb_def {
	const char	*name;
	enum imap_verb	 verb;
	int		(*parse)(struct imap_parser *);
	int		 uid_ok;	/* may follow "UID" */
} verbs[] = {
	{ "CAPABILITY", IMAP_CAPABILITY, parse_none, 0 },
	{ "NOOP", IMAP_NOOP, parse_none, 0 },
	{ "LOGOUT", IMAP_LOGOUT, parse_none, 0 },
	{ "STARTTLS", IMAP_STARTTLS, parse_none, 0 },
	{ "AUTHENTICATE", IMAP_AUTHENTICATE, parse_authenticate, 0 },
	{ "LOGIN", IMAP_LOGIN, parse_login, 0 },
	{ "ID", IMAP_ID, parse_id, 0 },
	{ "ENABLE", IMAP_ENABLE, parse_enable, 0 },
	{ "NAMESPACE", IMAP_NAMESPACE, parse_none, 0 },
	{ "SELECT", IMAP_SELECT, parse_select, 0 },
	{ "EXAMINE", IMAP_EXAMINE, parse_select, 0 },
	{ "CREATE", IMAP_CREATE, parse_create, 0 },
	{ "DELETE", IMAP_DELETE, parse_mailbox, 0 },
	{ "RENAME", IMAP_RENAME, parse_rename, 0 },
	{ "SUBSCRIBE", IMAP_SUBSCRIBE, parse_mailbox, 0 },
	{ "UNSUBSCRIBE", IMAP_UNSUBSCRIBE, parse_mailbox, 0 },
	{ "LIST", IMAP_LIST, parse_list, 0 },
	{ "LSUB", IMAP_LSUB, parse_lsub, 0 },
	{ "STATUS", IMAP_STATUS, parse_status, 0 },
	{ "APPEND", IMAP_APPEND, parse_append, 0 },
	{ "CHECK", IMAP_CHECK, parse_none, 0 },
	{ "CLOSE", IMAP_CLOSE, parse_none, 0 },
	{ "UNSELECT", IMAP_UNSELECT, parse_none, 0 },
	{ "EXPUNGE", IMAP_EXPUNGE, parse_expunge, 1 },
	{ "SEARCH", IMAP_SEARCH, imap_parse_search, 1 },
	{ "FETCH", IMAP_FETCH, imap_parse_fetch, 1 },
	{ "STORE", IMAP_STORE, imap_parse_store, 1 },
	{ "COPY", IMAP_COPY, parse_copy, 1 },
	{ "MOVE", IMAP_MOVE, parse_copy, 1 },
	{ "IDLE", IMAP_IDLE, parse_none, 0 },
	{ "GETQUOTA", IMAP_GETQUOTA, parse_getquota, 0 },
	{ "GETQUOTAROOT", IMAP_GETQUOTAROOT, parse_mailbox, 0 },
	{ "SETQUOTA", IMAP_SETQUOTA, parse_setquota, 0 },
};

static const struct verb_def *
find_verb(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (ip_word_is(s, n, verbs[i].name))
			return &verbs[i];
	return NULL;
}

static int
parse_verb(struct imap_parser *p)
{
	const struct verb_def *def;
	const char *s;
	size_t n;
	char show[200];

	if (ip_atom(p, "command", &s, &n) == -1)
		return -1;
	if (ip_word_is(s, n, "UID")) {
		p->cmd->uid = 1;
		if (ip_sp(p, "command after UID") == -1 ||
		    ip_atom(p, "command after UID", &s, &n) == -1)
			return -1;
		def = find_verb(s, n);
		if (def == NULL || !def->uid_ok)
			return ip_fail(p, "UID must be followed by FETCH, STORE, SEARCH, COPY, "
			    "MOVE or EXPUNGE");
	} else if ((def = find_verb(s, n)) == NULL)
		return ip_fail(p, "Unknown command %s", ip_show(show, sizeof(show), s, n));
	p->cmd->verb = def->verb;
	return def->parse(p);
}

static int
parse_tag(struct imap_parser *p)
{
	size_t n = 0;

	while (n < p->len && is_tag_char((unsigned char)p->buf[n]))
		n++;
	if (n == 0)
		return ip_fail(p, p->len == 0 ? "Empty command" : "Missing or invalid tag");
	if (n > IMAP_TAG_MAX)
		return ip_fail(p, "Tag too long");
	if (n < p->len && p->buf[n] != ' ')
		return ip_fail(p, "Invalid character in tag");
	memcpy(p->cmd->tag, p->buf, n);
	p->cmd->tag[n] = '\0';
	p->pos = n;
	return 0;
}

int
imap_parse_command(const char *buf, size_t len, int utf8, struct imap_cmd *cmd,
    char *err, size_t errlen)
{
	struct imap_parser p;

	memset(cmd, 0, sizeof(*cmd));
	str_copy(cmd->tag, "*", sizeof(cmd->tag));
	if (errlen > 0)
		err[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.buf = buf;
	p.len = len;
	p.utf8 = utf8;
	p.cmd = cmd;
	p.err = err;
	p.errlen = errlen;
	if (parse_tag(&p) == -1 || ip_sp(&p, "command") == -1 || parse_verb(&p) == -1)
		return -1;
	if (!ip_at_end(&p))
		return ip_fail(&p, "Unexpected characters after command");
	return 0;
}
