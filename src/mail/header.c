/*
 * header - RFC 5322 header fields over bytes in memory.
 *
 * Everything here works on (pointer, length) pairs because messages may
 * hold NUL bytes and are not terminated. Line ends may be CRLF or a bare
 * LF: the store keeps CRLF, but the parser must not trust that.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "mail/header.h"

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* End of the line starting at pos: the offset after its LF, or len. */
static size_t
line_end(const char *s, size_t len, size_t pos)
{
	const char *lf;

	lf = memchr(s + pos, '\n', len - pos);
	return lf == NULL ? len : (size_t)(lf - s) + 1;
}

/* Length of the line content without its CR LF. */
static size_t
strip_eol(const char *s, size_t start, size_t end)
{
	if (end > start && s[end - 1] == '\n')
		end--;
	if (end > start && s[end - 1] == '\r')
		end--;
	return end - start;
}

/* RFC 5322 3.6.8: a field name is printable ASCII without ':' or space. */
static int
valid_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
			return 0;
	return 1;
}

int
header_next(const char *block, size_t len, size_t *pos,
    struct header_field *out)
{
	size_t p = *pos, end, i, colon;

	if (p >= len || block[p] == '\n' ||
	    (block[p] == '\r' && p + 1 < len && block[p + 1] == '\n') ||
	    (block[p] == '\r' && p + 1 == len))
		return 0;
	/* The field runs on while the next line starts with white space. */
	end = line_end(block, len, p);
	while (end < len && is_wsp((unsigned char)block[end]))
		end = line_end(block, len, end);

	memset(out, 0, sizeof(*out));
	out->off = p;
	out->len = end - p;
	colon = p;
	while (colon < end && block[colon] != ':' && block[colon] != '\n')
		colon++;
	i = colon;
	while (i > p && is_wsp((unsigned char)block[i - 1]))
		i--;	/* obsolete "Subject :" */
	if (colon < end && block[colon] == ':' && i > p &&
	    valid_name(block + p, i - p)) {
		out->name = block + p;
		out->name_len = i - p;
		out->value = block + colon + 1;
		out->value_len = strip_eol(block, colon + 1, end);
	} else {
		out->name = block + p;
		out->name_len = 0;
		out->value = block + p;
		out->value_len = strip_eol(block, p, end);
	}
	*pos = end;
	return 1;
}

int
header_name_is(const struct header_field *f, const char *name)
{
	size_t i, n = strlen(name);

	if (f->name_len != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)f->name[i]) !=
		    lower((unsigned char)name[i]))
			return 0;
	return 1;
}

int
header_find(const char *block, size_t len, const char *name,
    struct header_field *out)
{
	size_t pos = 0;

	while (header_next(block, len, &pos, out))
		if (header_name_is(out, name))
			return 1;
	return 0;
}

size_t
header_unfold(const char *value, size_t len, char *dst, size_t dstsize)
{
	size_t i, n = 0;
	unsigned char c;

	if (dstsize == 0)
		return 0;
	for (i = 0; i < len && n + 1 < dstsize; i++) {
		c = (unsigned char)value[i];
		if (c == '\r' || c == '\n' || c == '\0')
			continue;
		if (n == 0 && is_wsp(c))
			continue;
		dst[n++] = (char)c;
	}
	while (n > 0 && is_wsp((unsigned char)dst[n - 1]))
		n--;
	dst[n] = '\0';
	return n;
}

char *
header_unfold_dup(const char *value, size_t len, size_t max)
{
	size_t size = len < max ? len + 1 : max + 1;
	char *dst;

	dst = xmalloc(size);
	header_unfold(value, len, dst, size);
	return dst;
}

/* Skip a comment starting at '(' in s[pos]; returns the offset after it. */
static size_t
skip_comment(const char *s, size_t len, size_t pos)
{
	int depth = 0;

	while (pos < len) {
		if (s[pos] == '\\' && pos + 1 < len)
			pos++;
		else if (s[pos] == '(') {
			if (++depth > HEADER_COMMENT_DEPTH_MAX)
				return len;
		} else if (s[pos] == ')' && --depth == 0)
			return pos + 1;
		pos++;
	}
	return len;
}

size_t
header_skip_cfws(const char *s, size_t len, size_t pos)
{
	while (pos < len) {
		if (is_space((unsigned char)s[pos]))
			pos++;
		else if (s[pos] == '(')
			pos = skip_comment(s, len, pos);
		else
			break;
	}
	return pos;
}

/* Offset after the quoted string starting at '"' in s[pos]. */
static size_t
skip_quoted(const char *s, size_t len, size_t pos)
{
	for (pos++; pos < len; pos++) {
		if (s[pos] == '\\' && pos + 1 < len)
			pos++;
		else if (s[pos] == '"')
			return pos + 1;
	}
	return len;
}

void
header_leading(const char *s, size_t len, size_t *pos, const char **out,
    size_t *out_len)
{
	size_t p, start, end;

	p = header_skip_cfws(s, len, *pos);
	start = end = p;
	while (p < len && s[p] != ';') {
		if (s[p] == '(') {
			p = skip_comment(s, len, p);
			continue;
		}
		if (s[p] == '"')
			p = skip_quoted(s, len, p);
		else
			p++;
		end = p;
	}
	while (end > start && is_space((unsigned char)s[end - 1]))
		end--;
	*out = s + start;
	*out_len = end - start;
	*pos = p;
}

int
header_param_next(const char *s, size_t len, size_t *pos,
    struct header_param *out)
{
	size_t p = *pos, start, end;

	for (;;) {
		/* Find the next ';' and the name after it. */
		while (p < len && s[p] != ';') {
			if (s[p] == '"')
				p = skip_quoted(s, len, p);
			else if (s[p] == '(')
				p = skip_comment(s, len, p);
			else
				p++;
		}
		if (p >= len) {
			*pos = len;
			return 0;
		}
		p = header_skip_cfws(s, len, p + 1);
		start = p;
		while (p < len && s[p] != '=' && s[p] != ';' &&
		    !is_space((unsigned char)s[p]) && s[p] != '(' &&
		    s[p] != '"')
			p++;
		if (p > start)
			break;
	}
	memset(out, 0, sizeof(*out));
	out->name = s + start;
	out->name_len = p - start;
	p = header_skip_cfws(s, len, p);
	if (p >= len || s[p] != '=') {
		out->value = s + p;
		*pos = p;
		return 1;
	}
	p = header_skip_cfws(s, len, p + 1);
	start = p;
	if (p < len && s[p] == '"') {
		p = skip_quoted(s, len, p);
		out->quoted = 1;
		end = p;
	} else {
		/* Tolerate unquoted tspecials: the value runs to ';'. */
		while (p < len && s[p] != ';' && s[p] != '(')
			p++;
		end = p;
		while (end > start && is_space((unsigned char)s[end - 1]))
			end--;
	}
	out->value = s + start;
	out->value_len = end - start;
	*pos = p;
	return 1;
}

size_t
header_unquote(const char *value, size_t len, char *dst, size_t dstsize)
{
	size_t i = 0, n = 0;

	if (dstsize == 0)
		return 0;
	if (len > 0 && value[0] == '"') {
		i = 1;
		if (len > 1 && value[len - 1] == '"')
			len--;
	}
	for (; i < len && n + 1 < dstsize; i++) {
		if (value[i] == '\\' && i + 1 < len)
			i++;
		dst[n++] = value[i];
	}
	dst[n] = '\0';
	return n;
}

/*
 * Address lists. The parser reads tokens (atoms, quoted strings, domain
 * literals, specials) and assembles them the way IMAP ENVELOPE needs:
 * display name, route, mailbox, host.
 */

struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static char *
sbuf_take(struct sbuf *b)
{
	char *p = b->p;

	if (p == NULL)
		p = xstrdup("");
	memset(b, 0, sizeof(*b));
	return p;
}

static void
sbuf_clear(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

enum tok_kind {
	TOK_END,
	TOK_ATOM,
	TOK_QUOTED,
	TOK_LITERAL,	/* [domain literal] */
	TOK_SPECIAL,
};

struct addr_parser {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	const char	*comment;	/* last comment seen, without parens */
	size_t		 comment_len;
	struct header_addr *list;
	size_t		 n;
	size_t		 cap;
};

struct tok {
	enum tok_kind	 kind;
	const char	*p;
	size_t		 len;
};

static int
is_special(unsigned char c)
{
	return strchr("()<>[]:;@\\,.\"", c) != NULL && c != '\0';
}

static void
skip_cfws_note(struct addr_parser *ap)
{
	size_t end;

	for (;;) {
		while (ap->pos < ap->len && is_space((unsigned char)ap->s[ap->pos]))
			ap->pos++;
		if (ap->pos >= ap->len || ap->s[ap->pos] != '(')
			return;
		end = skip_comment(ap->s, ap->len, ap->pos);
		ap->comment = ap->s + ap->pos + 1;
		ap->comment_len = end - ap->pos - 1;
		if (ap->comment_len > 0 && ap->s[end - 1] == ')')
			ap->comment_len--;
		ap->pos = end;
	}
}

/* Look at the next token without consuming it. */
static struct tok
peek(struct addr_parser *ap)
{
	struct tok t;
	size_t p;

	skip_cfws_note(ap);
	p = ap->pos;
	t.p = ap->s + p;
	t.len = 0;
	if (p >= ap->len) {
		t.kind = TOK_END;
		return t;
	}
	if (ap->s[p] == '"') {
		t.kind = TOK_QUOTED;
		t.len = skip_quoted(ap->s, ap->len, p) - p;
	} else if (ap->s[p] == '[') {
		t.kind = TOK_LITERAL;
		while (p < ap->len && ap->s[p] != ']')
			p++;
		t.len = (p < ap->len ? p + 1 : p) - ap->pos;
	} else if (is_special((unsigned char)ap->s[p])) {
		t.kind = TOK_SPECIAL;
		t.len = 1;
	} else {
		t.kind = TOK_ATOM;
		while (p < ap->len && !is_special((unsigned char)ap->s[p]) &&
		    !is_space((unsigned char)ap->s[p]))
			p++;
		t.len = p - ap->pos;
	}
	return t;
}

static void
consume(struct addr_parser *ap, const struct tok *t)
{
	ap->pos = (size_t)(t->p - ap->s) + t->len;
}

static int
is_char(const struct tok *t, char c)
{
	return t->kind == TOK_SPECIAL && t->p[0] == c;
}

/* Append a token's text; quoted strings lose quotes and escapes. */
static void
add_word(struct sbuf *b, const struct tok *t)
{
	char *tmp;
	size_t n;

	if (t->kind != TOK_QUOTED) {
		sbuf_add(b, t->p, t->len);
		return;
	}
	tmp = xmalloc(t->len + 1);
	n = header_unquote(t->p, t->len, tmp, t->len + 1);
	sbuf_add(b, tmp, n);
	free(tmp);
}

static void
emit(struct addr_parser *ap, char *name, char *route, char *mailbox,
    char *host)
{
	struct header_addr *a;

	if (ap->n >= HEADER_ADDR_MAX) {
		free(name);
		free(route);
		free(mailbox);
		free(host);
		return;
	}
	if (ap->n == ap->cap) {
		ap->cap = ap->cap ? ap->cap * 2 : 4;
		ap->list = xreallocarray(ap->list, ap->cap, sizeof(*ap->list));
	}
	a = &ap->list[ap->n++];
	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->host = host;
}

/* Read a domain: atoms, dots and domain literals. */
static void
read_domain(struct addr_parser *ap, struct sbuf *b)
{
	struct tok t;

	for (;;) {
		t = peek(ap);
		if (t.kind == TOK_ATOM || t.kind == TOK_LITERAL ||
		    is_char(&t, '.')) {
			sbuf_add(b, t.p, t.len);
			consume(ap, &t);
		} else
			return;
	}
}

/* Read "@a,@b:" if present, into route. */
static void
read_route(struct addr_parser *ap, struct sbuf *route)
{
	struct tok t;
	size_t save;

	t = peek(ap);
	if (!is_char(&t, '@'))
		return;
	save = ap->pos;
	for (;;) {
		t = peek(ap);
		if (is_char(&t, '@')) {
			sbuf_add(route, "@", 1);
			consume(ap, &t);
			read_domain(ap, route);
		} else if (is_char(&t, ',')) {
			sbuf_add(route, ",", 1);
			consume(ap, &t);
		} else if (is_char(&t, ':')) {
			consume(ap, &t);
			return;
		} else {
			/* Not a route after all: "<@host>" or garbage. */
			sbuf_clear(route);
			ap->pos = save;
			return;
		}
	}
}

/* Inside <...>: route, local part, '@', domain, up to '>'. */
static void
read_angle(struct addr_parser *ap, char *name)
{
	struct sbuf route = { 0 }, local = { 0 }, host = { 0 };
	struct tok t;
	int at = 0;

	read_route(ap, &route);
	for (;;) {
		t = peek(ap);
		if (t.kind == TOK_END || is_char(&t, '>'))
			break;
		consume(ap, &t);
		if (!at && is_char(&t, '@')) {
			at = 1;
			read_domain(ap, &host);
		} else if (!at && t.kind != TOK_SPECIAL)
			add_word(&local, &t);
		else if (!at && is_char(&t, '.'))
			sbuf_add(&local, ".", 1);
	}
	if (t.kind != TOK_END)
		consume(ap, &t);
	if (local.len == 0 && host.len == 0 && name == NULL) {
		sbuf_clear(&route);
		sbuf_clear(&local);
		sbuf_clear(&host);
		return;		/* "<>" */
	}
	emit(ap, name, route.len ? sbuf_take(&route) : NULL,
	    sbuf_take(&local), sbuf_take(&host));
	sbuf_clear(&route);
}

/*
 * One mailbox or group starting at the current token. in_group tells
 * whether ';' ends the current group.
 */
static void
read_address(struct addr_parser *ap, int in_group)
{
	struct sbuf phrase = { 0 }, local = { 0 }, host = { 0 };
	struct tok t;
	int words = 0, last_dot = 0;

	ap->comment = NULL;
	for (;;) {
		t = peek(ap);
		if (t.kind == TOK_ATOM || t.kind == TOK_QUOTED) {
			if (words > 0)
				sbuf_add(&phrase, " ", 1);
			add_word(&phrase, &t);
			add_word(&local, &t);
			words++;
			last_dot = 0;
		} else if (is_char(&t, '.')) {
			/* Obsolete phrases may hold dots; keep them. */
			sbuf_add(&phrase, ".", 1);
			sbuf_add(&local, ".", 1);
			last_dot = 1;
		} else
			break;
		consume(ap, &t);
	}
	(void)last_dot;

	if (is_char(&t, ':') && !in_group) {
		consume(ap, &t);
		emit(ap, NULL, NULL, sbuf_take(&phrase), NULL);
		sbuf_clear(&local);
		for (;;) {
			t = peek(ap);
			if (t.kind == TOK_END)
				break;
			if (is_char(&t, ';')) {
				consume(ap, &t);
				break;
			}
			if (is_char(&t, ',')) {
				consume(ap, &t);
				continue;
			}
			read_address(ap, 1);
		}
		emit(ap, NULL, NULL, NULL, NULL);
		return;
	}
	if (is_char(&t, '<')) {
		consume(ap, &t);
		sbuf_clear(&local);
		read_angle(ap, phrase.len ? sbuf_take(&phrase) : NULL);
		sbuf_clear(&phrase);
		return;
	}
	sbuf_clear(&phrase);
	if (is_char(&t, '@')) {
		consume(ap, &t);
		read_domain(ap, &host);
		skip_cfws_note(ap);
	}
	if (local.len > 0 || host.len > 0) {
		emit(ap, ap->comment != NULL && ap->comment_len > 0 ?
		    xstrndup(ap->comment, ap->comment_len) : NULL, NULL,
		    sbuf_take(&local), sbuf_take(&host));
	}
	sbuf_clear(&local);
	sbuf_clear(&host);
	/* Skip what cannot be parsed, up to the next separator. */
	for (;;) {
		t = peek(ap);
		if (t.kind == TOK_END || is_char(&t, ',') ||
		    (in_group && is_char(&t, ';')))
			return;
		consume(ap, &t);
	}
}

size_t
header_addr_parse(const char *s, size_t len, struct header_addr **out)
{
	struct addr_parser ap;
	struct tok t;

	memset(&ap, 0, sizeof(ap));
	ap.s = s;
	ap.len = len;
	for (;;) {
		t = peek(&ap);
		if (t.kind == TOK_END)
			break;
		if (is_char(&t, ',') || is_char(&t, ';')) {
			consume(&ap, &t);
			continue;
		}
		read_address(&ap, 0);
	}
	*out = ap.list;
	return ap.n;
}

void
header_addr_free(struct header_addr **list, size_t n)
{
	size_t i;

	if (*list == NULL)
		return;
	for (i = 0; i < n; i++) {
		free((*list)[i].name);
		free((*list)[i].route);
		free((*list)[i].mailbox);
		free((*list)[i].host);
	}
	free(*list);
	*list = NULL;
}
