/*
 * fuzz_mime - libFuzzer target for the MIME parser, ENVELOPE/BODYSTRUCTURE
 * output and section addressing.
 *
 * The input is a message. Beyond "no crash", it checks what the IMAP
 * server relies on: every part lies inside the message, the output is
 * well formed (balanced parentheses, closed quoted strings, literal
 * lengths that fit) and section fetches stay within their ranges.
 * Header values also go through RFC 2047 decoding, whose output must
 * stay bounded and whose cut form must be a terminated prefix.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "mail/header.h"
#include "mail/imap_format.h"
#include "mail/mime.h"
#include "mail/mime_section.h"
#include "mail/rfc2047.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_well_formed(const char *s, size_t len)
{
	size_t i = 0, n;
	long depth = 0;

	while (i < len) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')') {
			if (--depth < 0)
				abort();
		} else if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' ||
				    (unsigned char)s[i] >= 0x80 || s[i] == '\0')
					abort();
				if (s[i] == '\\')
					i++;
			}
			if (i >= len)
				abort();
		} else if (s[i] == '{') {
			n = 0;
			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				n = n * 10 + (size_t)(s[i] - '0');
			if (i + 3 > len || s[i] != '}' || s[i + 1] != '\r' ||
			    s[i + 2] != '\n')
				abort();
			i += 3;
			if (n > len - i || memchr(s + i, '\0', n) != NULL)
				abort();
			i += n;
			continue;
		}
		i++;
	}
	if (depth != 0)
		abort();
}

static void
check_part(const struct mime_message *msg, const struct mime_part *p,
    unsigned depth)
{
	const struct mime_part *c;
	size_t n = 0;

	if (depth > MIME_DEPTH_MAX || p->depth != depth)
		abort();
	if (p->header_off > msg->len || p->header_len > msg->len -
	    p->header_off || p->body_off < p->header_off + p->header_len ||
	    p->body_off > msg->len || p->body_len > msg->len - p->body_off)
		abort();
	if (p->type == NULL || p->subtype == NULL)
		abort();
	for (c = p->children; c != NULL; c = c->next) {
		if (c->parent != p || c->header_off < p->body_off)
			abort();
		check_part(msg, c, depth + 1);
		n++;
	}
	if (n != p->nchildren)
		abort();
	if (p->message != NULL) {
		if (p->message->header_off != p->body_off)
			abort();
		check_part(msg, p->message, depth + 1);
	}
}

static void
fetch(const struct mime_message *msg, const char *spec)
{
	struct imap_format_buf b = { 0 };
	struct mime_section sec;
	const char *err = NULL;
	size_t off, len;

	if (mime_section_parse(spec, strlen(spec), &sec, &err) == -1)
		abort();
	if (mime_section_range(msg, &sec, &off, &len, &err) == 0) {
		if (off > msg->len || len > msg->len - off)
			abort();
	} else if (err == NULL)
		abort();
	sec.partial = 1;
	sec.partial_off = 1;
	sec.partial_len = 64;
	if (mime_section_fetch(msg, &sec, &b, &err) == 0 && b.len > 64)
		abort();
	imap_format_buf_free(&b);
}

static void
check_rfc2047(const char *data, size_t len)
{
	struct header_field f;
	struct buf b = BUF_INIT;
	char small[16];
	size_t pos = 0, n;

	while (header_next(data, len, &pos, &f)) {
		rfc2047_decode_buf(&b, f.value, f.value_len);
		/* 16 per byte and 260 per word of at least 8 bytes (rfc2047.h). */
		if (b.len > 48 * f.value_len)
			abort();
		n = rfc2047_decode(f.value, f.value_len, small, sizeof(small));
		if (n >= sizeof(small) || small[n] != '\0' ||
		    (n > 0 && memcmp(small, b.p, n) != 0))
			abort();
		buf_free(&b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const specs[] = { "", "HEADER", "TEXT", "1",
	    "1.MIME", "2", "1.1", "1.2.HEADER", "2.TEXT", "1.1.1.MIME",
	    "HEADER.FIELDS (FROM SUBJECT)", "1.HEADER.FIELDS.NOT (TO)" };
	struct imap_format_buf b = { 0 };
	struct mime_message *msg;
	size_t i;

	msg = mime_parse((const char *)data, size);
	check_part(msg, msg->root, 0);
	if (msg->nparts > MIME_PARTS_MAX)
		abort();
	imap_format_body(&b, msg, msg->root, 1);
	check_well_formed(b.data, b.len);
	imap_format_buf_free(&b);
	imap_format_body(&b, msg, msg->root, 0);
	check_well_formed(b.data, b.len);
	imap_format_buf_free(&b);
	imap_format_envelope(&b, msg->data + msg->root->header_off,
	    msg->root->header_len);
	check_well_formed(b.data, b.len);
	imap_format_buf_free(&b);
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		fetch(msg, specs[i]);
	check_rfc2047(msg->data + msg->root->header_off, msg->root->header_len);
	mime_free(&msg);
	return 0;
}
