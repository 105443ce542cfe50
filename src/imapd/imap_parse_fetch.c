/*
 * imap_parse_fetch - FETCH and STORE arguments (RFC 3501 6.4.5-6.4.6,
 * RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/UNCHANGEDSINCE/VANISHED).
 *
 * Sections are read token by token here (a header list may hold quoted
 * strings and literals) and rebuilt as one canonical string for
 * mime_section_parse(); that string is also what the reply echoes.
 */
#include <string.h>

#include "common/buf.h"
#include "imapd/imap_parse_private.h"

static const struct {
	const char		*name;
	enum imap_fetch_att	 att;
} simple_atts[] = {
	{ "FLAGS", IMAP_FA_FLAGS },
	{ "UID", IMAP_FA_UID },
	{ "INTERNALDATE", IMAP_FA_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FA_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FA_ENVELOPE },
	{ "BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE },
	{ "BODY", IMAP_FA_BODY },
	{ "RFC822", IMAP_FA_RFC822 },
	{ "RFC822.HEADER", IMAP_FA_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FA_RFC822_TEXT },
	{ "MODSEQ", IMAP_FA_MODSEQ },
};

/* The macros of RFC 3501 6.4.5; FULL's BODY is the last item. */
static const enum imap_fetch_att macro_atts[] = {
	IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE, IMAP_FA_RFC822_SIZE, IMAP_FA_ENVELOPE,
	IMAP_FA_BODY,
};

static const char *
att_name(enum imap_fetch_att att)
{
	for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++)
		if (simple_atts[i].att == att)
			return simple_atts[i].name;
	return "?";
}

static struct imap_fetch_item *
add_item(struct imap_parser *p, enum imap_fetch_att att, const char *name)
{
	struct imap_fetch_item *it;

	if (p->cmd->nitems >= IMAP_FETCH_ITEMS_MAX) {
		ip_fail(p, "Too many FETCH items");
		return NULL;
	}
	it = &p->cmd->items[p->cmd->nitems++];
	it->att = att;
	it->name = ip_strndup(p, name, strlen(name));
	return it;
}

/* A FETCH item name: atom characters up to "[" (BODY.PEEK, RFC822.SIZE). */
static int
item_name(struct imap_parser *p, const char **s, size_t *n)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->buf[p->pos] != '[' &&
	    ip_is_atom_char((unsigned char)p->buf[p->pos]))
		p->pos++;
	*s = p->buf + start;
	*n = p->pos - start;
	if (*n == 0)
		return ip_fail(p, ip_at_end(p) ? "Missing FETCH item" : "Invalid FETCH item");
	return 0;
}

static int
is_section_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    c == '.';
}

/* Field names as RFC 5322 ftext; written as an atom when they can be. */
static int
add_field_name(struct imap_parser *p, struct buf *b, const char *s, size_t n)
{
	int atom = 1;
	size_t i;
	unsigned char c;

	if (n == 0)
		return ip_fail(p, "Empty header field name");
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == ':')
			return ip_fail(p, "Invalid header field name");
		if (!ip_is_atom_char(c))
			atom = 0;
	}
	if (atom) {
		buf_add(b, s, n);
		return 0;
	}
	buf_addch(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addch(b, '\\');
		buf_addch(b, s[i]);
	}
	buf_addch(b, '"');
	return 0;
}

/* " (" header-fld-name *(SP header-fld-name) ")" */
static int
header_list(struct imap_parser *p, struct buf *b)
{
	char *name;
	size_t n;

	if (ip_expect(p, '(', "( before header list") == -1)
		return -1;
	buf_addstr(b, " (");
	for (;;) {
		if (ip_astring(p, "header field name", &name, &n) == -1 ||
		    add_field_name(p, b, name, n) == -1)
			return -1;
		if (ip_eat(p, ')'))
			break;
		if (ip_sp_list(p, "header field name") == -1)
			return -1;
		buf_addch(b, ' ');
	}
	buf_addch(b, ')');
	return 0;
}

/* "[" section-spec "]" into b, canonical: keywords upper-cased, one SP. */
static int
section_text(struct imap_parser *p, struct buf *b)
{
	size_t start;
	char c;

	p->pos++;
	for (start = p->pos; p->pos < p->len && is_section_char(p->buf[p->pos]); p->pos++) {
		c = p->buf[p->pos];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf_addch(b, c);
	}
	if (p->pos > start && ip_eat(p, ' ') && header_list(p, b) == -1)
		return -1;
	if (!ip_eat(p, ']'))
		return ip_fail(p, ip_at_end(p) ? "Missing ] after section" :
		    "Invalid character in section");
	return 0;
}

/* "<" number "." nz-number ">"; the reply echoes only "<origin>". */
static int
partial(struct imap_parser *p, struct mime_section *sec, struct buf *name)
{
	const char *s = p->buf + p->pos, *why;
	size_t n = 1;

	while (p->pos + n < p->len && n < 24 && s[n] != '>')
		n++;
	if (p->pos + n >= p->len || s[n] != '>' ||
	    mime_section_parse_partial(s, n + 1, sec, &why) == -1)
		return ip_fail(p, "Invalid partial (want <offset.length>)");
	p->pos += n + 1;
	buf_printf(name, "<%u>", sec->partial_off);
	return 0;
}

static int
section_item(struct imap_parser *p, const char *s, size_t n)
{
	struct buf text = BUF_INIT, name = BUF_INIT;
	struct mime_section *sec;
	struct imap_fetch_item *it;
	enum imap_fetch_att att;
	const char *why;
	int peek = 0, rc = -1;

	if (ip_word_is(s, n, "BODY") || (peek = ip_word_is(s, n, "BODY.PEEK")))
		att = IMAP_FA_BODY_SECTION;
	else if (ip_word_is(s, n, "BINARY") || (peek = ip_word_is(s, n, "BINARY.PEEK")))
		att = IMAP_FA_BINARY;
	else if (ip_word_is(s, n, "BINARY.SIZE"))
		att = IMAP_FA_BINARY_SIZE;
	else
		return ip_fail(p, "Unexpected [ after FETCH item");
	sec = ip_alloc(p, sizeof(*sec));
	if (section_text(p, &text) == -1)
		goto out;
	if (mime_section_parse(text.p != NULL ? text.p : "", text.len, sec, &why) == -1) {
		ip_fail(p, "Invalid section: %s", why);
		goto out;
	}
	if (att != IMAP_FA_BODY_SECTION && sec->text != MIME_SECTION_ALL) {
		ip_fail(p, "BINARY takes only part numbers");
		goto out;
	}
	buf_printf(&name, "%s[%s]", att == IMAP_FA_BODY_SECTION ? "BODY" :
	    att == IMAP_FA_BINARY ? "BINARY" : "BINARY.SIZE", text.p != NULL ? text.p : "");
	if (ip_peek(p) == '<') {
		if (att == IMAP_FA_BINARY_SIZE) {
			ip_fail(p, "BINARY.SIZE takes no partial");
			goto out;
		}
		if (partial(p, sec, &name) == -1)
			goto out;
	}
	if ((it = add_item(p, att, name.p)) == NULL)
		goto out;
	it->peek = peek;
	it->section = sec;
	rc = 0;
out:
	buf_free(&text);
	buf_free(&name);
	return rc;
}

static int
fetch_att(struct imap_parser *p)
{
	const char *s;
	size_t n, i;
	char show[200];

	if (item_name(p, &s, &n) == -1)
		return -1;
	if (ip_peek(p) == '[')
		return section_item(p, s, n);
	for (i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++)
		if (ip_word_is(s, n, simple_atts[i].name))
			return add_item(p, simple_atts[i].att, simple_atts[i].name) == NULL ? -1 : 0;
	if (ip_word_is(s, n, "BODY.PEEK") || ip_word_is(s, n, "BINARY") ||
	    ip_word_is(s, n, "BINARY.PEEK") || ip_word_is(s, n, "BINARY.SIZE"))
		return ip_fail(p, "Missing section after %s", ip_show(show, sizeof(show), s, n));
	return ip_fail(p, "Unknown FETCH item %s", ip_show(show, sizeof(show), s, n));
}

/* ALL, FAST or FULL alone: 1 when one was expanded, 0 when not a macro. */
static int
fetch_macro(struct imap_parser *p)
{
	size_t save = p->pos, count, i;
	const char *s;
	size_t n;

	if (item_name(p, &s, &n) == -1)
		return -1;
	if (ip_word_is(s, n, "FAST"))
		count = 3;
	else if (ip_word_is(s, n, "ALL"))
		count = 4;
	else if (ip_word_is(s, n, "FULL"))
		count = 5;
	else {
		p->pos = save;
		return 0;
	}
	for (i = 0; i < count; i++)
		if (add_item(p, macro_atts[i], att_name(macro_atts[i])) == NULL)
			return -1;
	return 1;
}

static int
fetch_modifier(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	const char *s;
	size_t n;
	char show[200];

	if (ip_atom(p, "FETCH modifier", &s, &n) == -1)
		return -1;
	if (ip_word_is(s, n, "CHANGEDSINCE")) {
		if (cmd->has_changedsince)
			return ip_fail(p, "CHANGEDSINCE given twice");
		cmd->has_changedsince = 1;
		if (ip_sp(p, "mod-sequence") == -1)
			return -1;
		return ip_number(p, "mod-sequence", IP_MODSEQ_MAX, &cmd->changedsince);
	}
	if (ip_word_is(s, n, "VANISHED")) {
		cmd->vanished = 1;
		return 0;
	}
	return ip_fail(p, "Unknown FETCH modifier %s", ip_show(show, sizeof(show), s, n));
}

static int
fetch_modifiers(struct imap_parser *p)
{
	if (ip_sp(p, "FETCH modifiers") == -1 ||
	    ip_expect(p, '(', "( before FETCH modifiers") == -1)
		return -1;
	for (;;) {
		if (fetch_modifier(p) == -1)
			return -1;
		if (ip_eat(p, ')'))
			break;
		if (ip_sp_list(p, "FETCH modifier") == -1)
			return -1;
	}
	/* RFC 7162 3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE. */
	if (p->cmd->vanished && !p->cmd->uid)
		return ip_fail(p, "VANISHED is only allowed in UID FETCH");
	if (p->cmd->vanished && !p->cmd->has_changedsince)
		return ip_fail(p, "VANISHED requires CHANGEDSINCE");
	return 0;
}

int
imap_parse_fetch(struct imap_parser *p)
{
	int rc;

	if (ip_sp(p, "sequence set") == -1 || ip_seqset(p, &p->cmd->set) == -1 ||
	    ip_sp(p, "FETCH items") == -1)
		return -1;
	if (ip_eat(p, '(')) {
		if (ip_peek(p) == ')')
			return ip_fail(p, "Empty FETCH item list");
		for (;;) {
			if (fetch_att(p) == -1)
				return -1;
			if (ip_eat(p, ')'))
				break;
			if (ip_sp_list(p, "FETCH item") == -1)
				return -1;
		}
	} else if ((rc = fetch_macro(p)) == -1 || (rc == 0 && fetch_att(p) == -1))
		return -1;
	return ip_at_end(p) ? 0 : fetch_modifiers(p);
}

/* RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) ... */
static int
store_modifier(struct imap_parser *p)
{
	const char *s;
	size_t n;
	char show[200];

	p->pos++;
	if (ip_atom(p, "STORE modifier", &s, &n) == -1)
		return -1;
	if (!ip_word_is(s, n, "UNCHANGEDSINCE"))
		return ip_fail(p, "Unknown STORE modifier %s", ip_show(show, sizeof(show), s, n));
	p->cmd->has_unchangedsince = 1;
	if (ip_sp(p, "mod-sequence") == -1 ||
	    ip_number(p, "mod-sequence", IP_MODSEQ_MAX, &p->cmd->unchangedsince) == -1 ||
	    ip_expect(p, ')', ") after STORE modifier") == -1)
		return -1;
	return ip_sp(p, "STORE data item");
}

/* ["+" / "-"] "FLAGS" [".SILENT"] */
static int
store_item(struct imap_parser *p)
{
	struct imap_cmd *cmd = p->cmd;
	const char *s;
	size_t n;
	char show[200];

	if (ip_atom(p, "STORE data item", &s, &n) == -1)
		return -1;
	cmd->store_mode = IMAP_STORE_SET;
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		cmd->store_mode = s[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s++;
		n--;
	}
	if (ip_word_is(s, n, "FLAGS.SILENT"))
		cmd->silent = 1;
	else if (!ip_word_is(s, n, "FLAGS"))
		return ip_fail(p, "Unknown STORE data item %s",
		    ip_show(show, sizeof(show), s - (cmd->store_mode != IMAP_STORE_SET),
		    n + (cmd->store_mode != IMAP_STORE_SET)));
	return 0;
}

int
imap_parse_store(struct imap_parser *p)
{
	struct imap_flags *fl = &p->cmd->store_flags;

	if (ip_sp(p, "sequence set") == -1 || ip_seqset(p, &p->cmd->set) == -1 ||
	    ip_sp(p, "STORE data item") == -1)
		return -1;
	if (ip_peek(p) == '(' && store_modifier(p) == -1)
		return -1;
	if (store_item(p) == -1 || ip_sp(p, "flags") == -1)
		return -1;
	if (ip_peek(p) == '(')
		return ip_flag_list(p, fl, 0);
	/* RFC 3501 also allows flags without parentheses. */
	for (;;) {
		if (ip_flag(p, fl, 0) == -1)
			return -1;
		if (ip_at_end(p))
			return 0;
		if (ip_sp(p, "flag") == -1)
			return -1;
	}
}
