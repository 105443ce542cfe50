/*
 * imap_format - IMAP ENVELOPE, BODY and BODYSTRUCTURE text (RFC 3501
 * 7.4.2, RFC 9051 7.5.2) from a parsed message.
 *
 * Output goes into a growable byte buffer owned by the caller. Strings are
 * written as quoted strings when they can be, else as literals "{n}\r\n"
 * followed by the bytes; the result is ready to be sent after "FETCH (".
 */
#ifndef TERN_MAIL_IMAP_FORMAT_H
#define TERN_MAIL_IMAP_FORMAT_H

#include <stddef.h>

#include "mail/mime.h"

/* Longest string written quoted; longer ones become literals. */
#define IMAP_FORMAT_QUOTED_MAX	1024

/* A growable byte buffer; zero-initialise, free with imap_format_buf_free. */
struct imap_format_buf {
	char	*data;		/* not NUL-terminated */
	size_t	 len;
	size_t	 cap;
};

void	imap_format_buf_append(struct imap_format_buf *b, const void *p,
	    size_t n);
void	imap_format_buf_puts(struct imap_format_buf *b, const char *s);
/* Free the bytes and reset b to empty. */
void	imap_format_buf_free(struct imap_format_buf *b);

/*
 * An IMAP string: quoted ("a \"b\"") when 7-bit without CR/LF and short,
 * else a literal. NUL bytes, which IMAP cannot carry, are dropped.
 */
void	imap_format_string(struct imap_format_buf *b, const char *s,
	    size_t n);
/* The same, or NIL when s is NULL. */
void	imap_format_nstring(struct imap_format_buf *b, const char *s);

/*
 * The ENVELOPE of the message whose header block is header (len bytes):
 * "(date subject from sender reply-to to cc bcc in-reply-to message-id)".
 * Sender and Reply-To default to From as RFC 3501 says.
 */
void	imap_format_envelope(struct imap_format_buf *b, const char *header,
	    size_t len);

/*
 * BODYSTRUCTURE (extensible != 0) or BODY (extensible == 0) of part p of
 * msg, usually msg->root. Types and parameter names are upper-cased.
 */
void	imap_format_body(struct imap_format_buf *b,
	    const struct mime_message *msg, const struct mime_part *p,
	    int extensible);

#endif
