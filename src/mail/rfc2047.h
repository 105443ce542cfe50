/*
 * rfc2047 - decode the MIME encoded-words of a header value
 * ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", RFC 2047) into UTF-8. Pure code over
 * bytes; charsets other than UTF-8, US-ASCII, ISO-8859-1 and
 * Windows-1252 go through iconv(3).
 */
#ifndef TERN_MAIL_RFC2047_H
#define TERN_MAIL_RFC2047_H

#include <stddef.h>

#include "common/buf.h"

/* Longest charset name accepted (RFC 2978 asks for at most 40). */
#define RFC2047_CHARSET_MAX	64

/*
 * Append the decoded form of an unfolded header value (len bytes, may
 * hold NULs) to out. Encoded-words are decoded wherever they stand;
 * white space between two decoded words is dropped (RFC 2047 6.2); bytes
 * of adjacent words in one charset are joined before conversion, so a
 * character split over two words survives. A word that is malformed or
 * names a charset we cannot convert stays as written, and so does all
 * other text. Decoded text is UTF-8 with bad sequences as U+FFFD, and
 * decoded NUL, CR and LF bytes become spaces. Work and output are linear
 * in len: at most 3 bytes per input byte, and for iconv charsets 16 per
 * decoded byte plus 260 per run of words.
 */
void	rfc2047_decode_buf(struct buf *out, const char *in, size_t len);

/*
 * The same into dst (dstsize bytes, terminated when dstsize > 0). Longer
 * output is cut at a UTF-8 character boundary. Returns the length
 * written.
 */
size_t	rfc2047_decode(const char *in, size_t len, char *dst, size_t dstsize);

/* 1 when in holds something that looks like the start of an encoded-word. */
int	rfc2047_has_words(const char *in, size_t len);

#endif
