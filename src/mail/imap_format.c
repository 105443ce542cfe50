/*
 * imap_format - IMAP ENVELOPE, BODY and BODYSTRUCTURE text.
 *
 * Choices where the RFCs leave room (they follow what Dovecot and Cyrus
 * send, so clients see familiar output):
 * - types, subtypes, parameter names, disposition types and encodings are
 *   upper-cased; parameter values, ids and descriptions are sent as
 *   written, encoded-words included (RFC 3501 says the server does not
 *   decode them);
 * - a text part without parameters reports ("CHARSET" "US-ASCII"), the
 *   RFC 2045 default; a missing encoding reports "7BIT";
 * - a multipart without any body part (an empty multipart) reports one
 *   empty text/plain part, since the grammar needs at least one;
 * - an entity left unsplit at a limit (nesting depth) or a message/rfc822
 *   with a non-identity encoding is reported as APPLICATION/OCTET-STREAM,
 *   because MESSAGE/RFC822 would promise an ENVELOPE and a BODY;
 * - quoted strings escape '"' and '\' (RFC 3501 quoted-specials); 8-bit
 *   bytes, CR and LF, and long values go into literals.
 * Recursion follows the part tree, whose depth mime_parse() bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "mail/header.h"
#include "mail/imap_format.h"

void
imap_format_buf_append(struct imap_format_buf *b, const void *p, size_t n)
{
	size_t cap;

	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
imap_format_buf_puts(struct imap_format_buf *b, const char *s)
{
	imap_format_buf_append(b, s, strlen(s));
}

void
imap_format_buf_free(struct imap_format_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int
needs_literal(const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	if (n > IMAP_FORMAT_QUOTED_MAX)
		return 1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x80 || c == '\r' || c == '\n')
			return 1;
	}
	return 0;
}

void
imap_format_string(struct imap_format_buf *b, const char *s, size_t n)
{
	char num[32];
	size_t i, start, nul = 0;

	if (!needs_literal(s, n)) {
		imap_format_buf_append(b, "\"", 1);
		for (start = i = 0; i < n; i++) {
			if (s[i] != '"' && s[i] != '\\' && s[i] != '\0')
				continue;
			imap_format_buf_append(b, s + start, i - start);
			if (s[i] != '\0')
				imap_format_buf_append(b, "\\", 1);
			start = s[i] == '\0' ? i + 1 : i;
		}
		imap_format_buf_append(b, s + start, n - start);
		imap_format_buf_append(b, "\"", 1);
		return;
	}
	for (i = 0; i < n; i++)
		if (s[i] == '\0')
			nul++;
	snprintf(num, sizeof(num), "{%zu}\r\n", n - nul);
	imap_format_buf_puts(b, num);
	for (start = i = 0; i < n; i++) {
		if (s[i] != '\0')
			continue;
		imap_format_buf_append(b, s + start, i - start);
		start = i + 1;
	}
	imap_format_buf_append(b, s + start, n - start);
}

void
imap_format_nstring(struct imap_format_buf *b, const char *s)
{
	if (s == NULL)
		imap_format_buf_puts(b, "NIL");
	else
		imap_format_string(b, s, strlen(s));
}

static void
format_upper(struct imap_format_buf *b, const char *s)
{
	char *u;
	size_t i;

	u = xstrdup(s);
	for (i = 0; u[i] != '\0'; i++)
		if (u[i] >= 'a' && u[i] <= 'z')
			u[i] = (char)(u[i] - 'a' + 'A');
	imap_format_string(b, u, i);
	free(u);
}

/* Envelope */

static char *
field_value(const char *header, size_t len, const char *name)
{
	struct header_field f;

	if (!header_find(header, len, name, &f))
		return NULL;
	return header_unfold_dup(f.value, f.value_len, MIME_FIELD_MAX);
}

static void
format_field(struct imap_format_buf *b, const char *header, size_t len,
    const char *name)
{
	char *v;

	v = field_value(header, len, name);
	imap_format_nstring(b, v);
	free(v);
}

/* Parse the address list in field name; 0 entries when absent. */
static size_t
addresses(const char *header, size_t len, const char *name,
    struct header_addr **out)
{
	char *v;
	size_t n;

	*out = NULL;
	v = field_value(header, len, name);
	if (v == NULL)
		return 0;
	n = header_addr_parse(v, strlen(v), out);
	free(v);
	return n;
}

static void
format_addresses(struct imap_format_buf *b, const struct header_addr *a,
    size_t n)
{
	size_t i;

	if (n == 0) {
		imap_format_buf_puts(b, "NIL");
		return;
	}
	imap_format_buf_puts(b, "(");
	for (i = 0; i < n; i++) {
		imap_format_buf_puts(b, "(");
		imap_format_nstring(b, a[i].name);
		imap_format_buf_puts(b, " ");
		imap_format_nstring(b, a[i].route);
		imap_format_buf_puts(b, " ");
		imap_format_nstring(b, a[i].mailbox);
		imap_format_buf_puts(b, " ");
		imap_format_nstring(b, a[i].host);
		imap_format_buf_puts(b, ")");
	}
	imap_format_buf_puts(b, ")");
}

static void
format_address_field(struct imap_format_buf *b, const char *header,
    size_t len, const char *name, const struct header_addr *dflt,
    size_t ndflt)
{
	struct header_addr *a;
	size_t n;

	n = addresses(header, len, name, &a);
	if (n == 0 && dflt != NULL)
		format_addresses(b, dflt, ndflt);
	else
		format_addresses(b, a, n);
	header_addr_free(&a, n);
}

void
imap_format_envelope(struct imap_format_buf *b, const char *header,
    size_t len)
{
	struct header_addr *from;
	size_t nfrom;

	if (len > MIME_HEADER_MAX)
		len = MIME_HEADER_MAX;
	nfrom = addresses(header, len, "From", &from);
	imap_format_buf_puts(b, "(");
	format_field(b, header, len, "Date");
	imap_format_buf_puts(b, " ");
	format_field(b, header, len, "Subject");
	imap_format_buf_puts(b, " ");
	format_addresses(b, from, nfrom);
	imap_format_buf_puts(b, " ");
	format_address_field(b, header, len, "Sender", from, nfrom);
	imap_format_buf_puts(b, " ");
	format_address_field(b, header, len, "Reply-To", from, nfrom);
	imap_format_buf_puts(b, " ");
	format_address_field(b, header, len, "To", NULL, 0);
	imap_format_buf_puts(b, " ");
	format_address_field(b, header, len, "Cc", NULL, 0);
	imap_format_buf_puts(b, " ");
	format_address_field(b, header, len, "Bcc", NULL, 0);
	imap_format_buf_puts(b, " ");
	format_field(b, header, len, "In-Reply-To");
	imap_format_buf_puts(b, " ");
	format_field(b, header, len, "Message-ID");
	imap_format_buf_puts(b, ")");
	header_addr_free(&from, nfrom);
}

/* Body structure */

static void
format_params(struct imap_format_buf *b, const struct mime_param *params,
    size_t n)
{
	size_t i;

	if (n == 0) {
		imap_format_buf_puts(b, "NIL");
		return;
	}
	imap_format_buf_puts(b, "(");
	for (i = 0; i < n; i++) {
		if (i > 0)
			imap_format_buf_puts(b, " ");
		format_upper(b, params[i].name);
		imap_format_buf_puts(b, " ");
		imap_format_nstring(b, params[i].value);
	}
	imap_format_buf_puts(b, ")");
}

static void
format_disposition(struct imap_format_buf *b, const struct mime_part *p)
{
	if (p->disposition == NULL) {
		imap_format_buf_puts(b, "NIL");
		return;
	}
	imap_format_buf_puts(b, "(");
	format_upper(b, p->disposition);
	imap_format_buf_puts(b, " ");
	format_params(b, p->disp_params, p->ndisp_params);
	imap_format_buf_puts(b, ")");
}

/* Next language tag of a Content-Language list from *pos, or 0. */
static int
next_language(const char *s, size_t *pos, size_t *start, size_t *n)
{
	size_t p = *pos, e;

	while (s[p] == ',' || s[p] == ' ' || s[p] == '\t')
		p++;
	if (s[p] == '\0')
		return 0;
	*start = p;
	while (s[p] != '\0' && s[p] != ',')
		p++;
	e = p;
	while (e > *start && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	*n = e - *start;
	*pos = p;
	return 1;
}

static void
format_language(struct imap_format_buf *b, const char *lang)
{
	size_t pos = 0, start, n, count = 0;

	if (lang == NULL) {
		imap_format_buf_puts(b, "NIL");
		return;
	}
	while (next_language(lang, &pos, &start, &n))
		count++;
	if (count == 0) {
		imap_format_buf_puts(b, "NIL");
		return;
	}
	pos = 0;
	if (count > 1)
		imap_format_buf_puts(b, "(");
	for (count = 0; next_language(lang, &pos, &start, &n); count++) {
		if (count > 0)
			imap_format_buf_puts(b, " ");
		imap_format_string(b, lang + start, n);
	}
	if (count > 1)
		imap_format_buf_puts(b, ")");
}

static void
format_number(struct imap_format_buf *b, size_t n)
{
	char num[32];

	snprintf(num, sizeof(num), " %zu", n);
	imap_format_buf_puts(b, num);
}

/* body-ext-1part / the tail of body-ext-mpart: dsp, lang, loc. */
static void
format_ext_tail(struct imap_format_buf *b, const struct mime_part *p)
{
	imap_format_buf_puts(b, " ");
	format_disposition(b, p);
	imap_format_buf_puts(b, " ");
	format_language(b, p->language);
	imap_format_buf_puts(b, " ");
	imap_format_nstring(b, p->location);
}

static int
is_opaque_container(const struct mime_part *p)
{
	return (p->flags & MIME_PART_OPAQUE) != 0 &&
	    (strcmp(p->type, "multipart") == 0 ||
	    strcmp(p->type, "message") == 0);
}

static void
format_single(struct imap_format_buf *b, const struct mime_message *msg,
    const struct mime_part *p, int ext)
{
	int text = strcmp(p->type, "text") == 0;

	imap_format_buf_puts(b, "(");
	if (is_opaque_container(p))
		imap_format_buf_puts(b, "\"APPLICATION\" \"OCTET-STREAM\"");
	else {
		format_upper(b, p->type);
		imap_format_buf_puts(b, " ");
		format_upper(b, p->subtype);
	}
	imap_format_buf_puts(b, " ");
	if (p->nparams == 0 && text)
		imap_format_buf_puts(b, "(\"CHARSET\" \"US-ASCII\")");
	else
		format_params(b, p->params, p->nparams);
	imap_format_buf_puts(b, " ");
	imap_format_nstring(b, p->id);
	imap_format_buf_puts(b, " ");
	imap_format_nstring(b, p->description);
	imap_format_buf_puts(b, " ");
	if (p->encoding == NULL)
		imap_format_buf_puts(b, "\"7BIT\"");
	else
		format_upper(b, p->encoding);
	format_number(b, p->body_len);
	if ((p->flags & MIME_PART_MESSAGE) && p->message != NULL) {
		imap_format_buf_puts(b, " ");
		imap_format_envelope(b, msg->data + p->message->header_off,
		    p->message->header_len);
		imap_format_buf_puts(b, " ");
		imap_format_body(b, msg, p->message, ext);
		format_number(b, p->body_lines);
	} else if (text)
		format_number(b, p->body_lines);
	if (ext) {
		imap_format_buf_puts(b, " ");
		imap_format_nstring(b, p->md5);
		format_ext_tail(b, p);
	}
	imap_format_buf_puts(b, ")");
}

static void
format_multi(struct imap_format_buf *b, const struct mime_message *msg,
    const struct mime_part *p, int ext)
{
	const struct mime_part *c;

	imap_format_buf_puts(b, "(");
	if (p->children == NULL) {
		imap_format_buf_puts(b, "(\"TEXT\" \"PLAIN\" "
		    "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0");
		if (ext)
			imap_format_buf_puts(b, " NIL NIL NIL NIL");
		imap_format_buf_puts(b, ")");
	}
	for (c = p->children; c != NULL; c = c->next)
		imap_format_body(b, msg, c, ext);
	imap_format_buf_puts(b, " ");
	format_upper(b, p->subtype);
	if (ext) {
		imap_format_buf_puts(b, " ");
		format_params(b, p->params, p->nparams);
		format_ext_tail(b, p);
	}
	imap_format_buf_puts(b, ")");
}

void
imap_format_body(struct imap_format_buf *b, const struct mime_message *msg,
    const struct mime_part *p, int extensible)
{
	if (p->flags & MIME_PART_MULTIPART)
		format_multi(b, msg, p, extensible);
	else
		format_single(b, msg, p, extensible);
}
