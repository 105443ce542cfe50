/*
 * mime_section - IMAP section addressing (RFC 3501 6.4.5, RFC 9051 6.4.5)
 * over a parsed message: "1.2.HEADER", "2.MIME", "TEXT",
 * "HEADER.FIELDS (A B)", "HEADER.FIELDS.NOT (A)" and partial "<o.n>".
 *
 * mime_section_parse() reads the text between the brackets of BODY[...],
 * mime_section_parse_partial() the "<o.n>" after them; mime_section_fetch()
 * produces the bytes, mime_section_range() tells where they lie when they
 * are one piece of the message (everything but HEADER.FIELDS).
 */
#ifndef TERN_MAIL_MIME_SECTION_H
#define TERN_MAIL_MIME_SECTION_H

#include <stddef.h>
#include <stdint.h>

#include "mail/imap_format.h"
#include "mail/mime.h"

/* Part numbers in one section spec ("1.2.3" has 3). */
#define MIME_SECTION_PARTS_MAX	(MIME_DEPTH_MAX * 2 + 2)
/* Field names in one HEADER.FIELDS list, and their longest length. */
#define MIME_SECTION_FIELDS_MAX	64
#define MIME_SECTION_FIELD_MAX	128

enum mime_section_text {
	MIME_SECTION_ALL,		/* "" or "1.2": the whole part */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

struct mime_section {
	uint32_t	 parts[MIME_SECTION_PARTS_MAX];
	size_t		 nparts;
	enum mime_section_text text;
	char		 fields[MIME_SECTION_FIELDS_MAX][MIME_SECTION_FIELD_MAX + 1];
	size_t		 nfields;
	int		 partial;	/* <o.n> given */
	uint32_t	 partial_off;
	uint32_t	 partial_len;
};

/*
 * Parse a section spec (s, len bytes, without the brackets) into *out.
 * Returns 0, or -1 with a static reason in *errstr_out.
 */
int	mime_section_parse(const char *s, size_t len, struct mime_section *out,
	    const char **errstr_out);
/* Parse "<o.n>" into sec's partial fields; 0 or -1 with a reason. */
int	mime_section_parse_partial(const char *s, size_t len,
	    struct mime_section *sec, const char **errstr_out);

/*
 * Where section sec of msg lies, before any partial: 0 with *off_out and
 * *len_out (offsets into msg->data), or -1 when the part does not exist
 * or the text does not apply (e.g. "1.HEADER" of a text part). For
 * HEADER.FIELDS the range is the whole header block the fields come from.
 */
int	mime_section_range(const struct mime_message *msg,
	    const struct mime_section *sec, size_t *off_out, size_t *len_out,
	    const char **errstr_out);
/*
 * Append the bytes of section sec, with the field filter and partial
 * applied, to out. 0, or -1 as mime_section_range() (nothing appended).
 */
int	mime_section_fetch(const struct mime_message *msg,
	    const struct mime_section *sec, struct imap_format_buf *out,
	    const char **errstr_out);

#endif
