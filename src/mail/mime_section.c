/*
 * mime_section - IMAP section addressing over a parsed message.
 *
 * Part numbers walk the tree as RFC 3501 6.4.5 describes: in a multipart,
 * n is the n-th body part; a message that is not multipart has only part
 * 1, its body; after a message/rfc822 part the numbers continue inside
 * the encapsulated message. HEADER, TEXT and HEADER.FIELDS after part
 * numbers apply only to a message/rfc822 part; MIME only after numbers.
 */
#include <string.h>

#include "mail/header.h"
#include "mail/mime_section.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Case-insensitive match of word at s[*pos]; advances on success. */
static int
eat_word(const char *s, size_t len, size_t *pos, const char *word)
{
	size_t n = strlen(word), i;
	char c;

	if (len - *pos < n)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[*pos + i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != word[i])
			return 0;
	}
	*pos += n;
	return 1;
}

/* A decimal number below 2^32 at s[*pos]. */
static int
read_number(const char *s, size_t len, size_t *pos, uint32_t *out)
{
	uint64_t v = 0;
	size_t p = *pos;

	if (p >= len || !is_digit(s[p]))
		return -1;
	while (p < len && is_digit(s[p])) {
		v = v * 10 + (uint64_t)(s[p] - '0');
		if (v > UINT32_MAX)
			return -1;
		p++;
	}
	*out = (uint32_t)v;
	*pos = p;
	return 0;
}

static int
is_atom_char(unsigned char c)
{
	return c > ' ' && c < 127 && strchr("(){%*\"\\]", c) == NULL;
}

/* One astring of a header-list: an atom or a quoted string. */
static int
read_field_name(const char *s, size_t len, size_t *pos, char *dst)
{
	size_t p = *pos, n = 0;

	if (p < len && s[p] == '"') {
		for (p++; p < len && s[p] != '"'; p++) {
			if (s[p] == '\\' && p + 1 < len)
				p++;
			if (n >= MIME_SECTION_FIELD_MAX)
				return -1;
			dst[n++] = s[p];
		}
		if (p >= len)
			return -1;
		p++;
	} else {
		while (p < len && is_atom_char((unsigned char)s[p])) {
			if (n >= MIME_SECTION_FIELD_MAX)
				return -1;
			dst[n++] = s[p++];
		}
	}
	if (n == 0)
		return -1;
	dst[n] = '\0';
	*pos = p;
	return 0;
}

/* " (A B ...)" after HEADER.FIELDS[.NOT]; must end the spec. */
static int
read_field_list(const char *s, size_t len, size_t pos,
    struct mime_section *out, const char **errstr_out)
{
	if (pos + 1 >= len || s[pos] != ' ' || s[pos + 1] != '(') {
		*errstr_out = "header list expected";
		return -1;
	}
	pos += 2;
	for (;;) {
		if (out->nfields >= MIME_SECTION_FIELDS_MAX) {
			*errstr_out = "too many header fields";
			return -1;
		}
		if (read_field_name(s, len, &pos,
		    out->fields[out->nfields]) == -1) {
			*errstr_out = "bad header field name";
			return -1;
		}
		out->nfields++;
		if (pos < len && s[pos] == ')')
			break;
		if (pos >= len || s[pos] != ' ') {
			*errstr_out = "bad header list";
			return -1;
		}
		pos++;
	}
	if (pos + 1 != len) {
		*errstr_out = "junk after header list";
		return -1;
	}
	return 0;
}

static int
read_text(const char *s, size_t len, size_t pos, struct mime_section *out,
    const char **errstr_out)
{
	if (eat_word(s, len, &pos, "HEADER.FIELDS.NOT")) {
		out->text = MIME_SECTION_HEADER_FIELDS_NOT;
		return read_field_list(s, len, pos, out, errstr_out);
	}
	if (eat_word(s, len, &pos, "HEADER.FIELDS")) {
		out->text = MIME_SECTION_HEADER_FIELDS;
		return read_field_list(s, len, pos, out, errstr_out);
	}
	if (eat_word(s, len, &pos, "HEADER"))
		out->text = MIME_SECTION_HEADER;
	else if (eat_word(s, len, &pos, "TEXT"))
		out->text = MIME_SECTION_TEXT;
	else if (out->nparts > 0 && eat_word(s, len, &pos, "MIME"))
		out->text = MIME_SECTION_MIME;
	else {
		*errstr_out = "bad section";
		return -1;
	}
	if (pos != len) {
		*errstr_out = "junk after section";
		return -1;
	}
	return 0;
}

int
mime_section_parse(const char *s, size_t len, struct mime_section *out,
    const char **errstr_out)
{
	size_t pos = 0;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	out->text = MIME_SECTION_ALL;
	while (pos < len && is_digit(s[pos])) {
		if (read_number(s, len, &pos, &n) == -1 || n == 0) {
			*errstr_out = "bad part number";
			return -1;
		}
		if (out->nparts >= MIME_SECTION_PARTS_MAX) {
			*errstr_out = "section nested too deep";
			return -1;
		}
		out->parts[out->nparts++] = n;
		if (pos == len)
			return 0;
		if (s[pos] != '.') {
			*errstr_out = "bad section";
			return -1;
		}
		pos++;
		if (pos == len) {
			*errstr_out = "bad section";
			return -1;
		}
	}
	if (pos == len)
		return 0;
	return read_text(s, len, pos, out, errstr_out);
}

int
mime_section_parse_partial(const char *s, size_t len,
    struct mime_section *sec, const char **errstr_out)
{
	size_t pos = 1;
	uint32_t off, n;

	if (len < 5 || s[0] != '<' || s[len - 1] != '>' ||
	    read_number(s, len, &pos, &off) == -1 || pos >= len ||
	    s[pos] != '.' || (pos++, read_number(s, len, &pos, &n)) == -1 ||
	    pos != len - 1 || n == 0) {
		*errstr_out = "bad partial";
		return -1;
	}
	sec->partial = 1;
	sec->partial_off = off;
	sec->partial_len = n;
	return 0;
}

/* Walk the part numbers; NULL when the part does not exist. */
static const struct mime_part *
find_part(const struct mime_message *msg, const struct mime_section *sec)
{
	const struct mime_part *cur = msg->root, *p = msg->root;
	int is_msg = 1;
	size_t i;

	for (i = 0; i < sec->nparts; i++) {
		if (cur->flags & MIME_PART_MULTIPART)
			p = mime_part_child(cur, sec->parts[i]);
		else if (is_msg && sec->parts[i] == 1)
			p = cur;
		else
			return NULL;
		if (p == NULL)
			return NULL;
		if ((p->flags & MIME_PART_MESSAGE) && p->message != NULL) {
			cur = p->message;
			is_msg = 1;
		} else {
			cur = p;
			is_msg = 0;
		}
	}
	return p;
}

/* The message whose header/text the section means, or NULL. */
static const struct mime_part *
target_message(const struct mime_message *msg, const struct mime_part *p,
    const struct mime_section *sec)
{
	if (sec->nparts == 0)
		return msg->root;
	if ((p->flags & MIME_PART_MESSAGE) && p->message != NULL)
		return p->message;
	return NULL;
}

int
mime_section_range(const struct mime_message *msg,
    const struct mime_section *sec, size_t *off_out, size_t *len_out,
    const char **errstr_out)
{
	const struct mime_part *p, *m;

	p = find_part(msg, sec);
	if (p == NULL) {
		*errstr_out = "no such part";
		return -1;
	}
	switch (sec->text) {
	case MIME_SECTION_ALL:
		if (sec->nparts == 0) {
			*off_out = 0;
			*len_out = msg->len;
		} else {
			*off_out = p->body_off;
			*len_out = p->body_len;
		}
		return 0;
	case MIME_SECTION_MIME:
		*off_out = p->header_off;
		*len_out = p->header_len;
		return 0;
	default:
		break;
	}
	m = target_message(msg, p, sec);
	if (m == NULL) {
		*errstr_out = "part is not a message";
		return -1;
	}
	if (sec->text == MIME_SECTION_TEXT) {
		*off_out = m->body_off;
		*len_out = m->body_len;
	} else {
		*off_out = m->header_off;
		*len_out = m->header_len;
	}
	return 0;
}

static int
field_listed(const struct mime_section *sec, const struct header_field *f)
{
	size_t i;

	for (i = 0; i < sec->nfields; i++)
		if (header_name_is(f, sec->fields[i]))
			return 1;
	return 0;
}

/* The selected fields of a header block, then the empty line. */
static void
filter_fields(const char *block, size_t len, const struct mime_section *sec,
    struct imap_format_buf *out)
{
	struct header_field f;
	size_t pos = 0;
	int want = sec->text == MIME_SECTION_HEADER_FIELDS;

	while (header_next(block, len, &pos, &f)) {
		if (f.name_len == 0 || field_listed(sec, &f) != want)
			continue;
		imap_format_buf_append(out, block + f.off, f.len);
		if (f.len == 0 || block[f.off + f.len - 1] != '\n')
			imap_format_buf_append(out, "\r\n", 2);
	}
	imap_format_buf_append(out, "\r\n", 2);
}

static void
append_partial(struct imap_format_buf *out, const char *p, size_t n,
    const struct mime_section *sec)
{
	size_t off, len;

	if (!sec->partial) {
		imap_format_buf_append(out, p, n);
		return;
	}
	off = sec->partial_off;
	if (off >= n)
		return;
	len = n - off;
	if (len > sec->partial_len)
		len = sec->partial_len;
	imap_format_buf_append(out, p + off, len);
}

int
mime_section_fetch(const struct mime_message *msg,
    const struct mime_section *sec, struct imap_format_buf *out,
    const char **errstr_out)
{
	struct imap_format_buf tmp = { 0 };
	size_t off, len;

	if (mime_section_range(msg, sec, &off, &len, errstr_out) == -1)
		return -1;
	if (sec->text != MIME_SECTION_HEADER_FIELDS &&
	    sec->text != MIME_SECTION_HEADER_FIELDS_NOT) {
		append_partial(out, msg->data + off, len, sec);
		return 0;
	}
	filter_fields(msg->data + off, len, sec, &tmp);
	append_partial(out, tmp.data, tmp.len, sec);
	imap_format_buf_free(&tmp);
	return 0;
}
