/*
 * mutf7 - modified UTF-7 (RFC 3501 section 5.1.3), the encoding of
 * international mailbox names for IMAP4rev1 clients.
 */
#ifndef TERN_IMAPD_MUTF7_H
#define TERN_IMAPD_MUTF7_H

#include <stddef.h>

/*
 * UTF-8 -> modified UTF-7. Returns the length written (NUL added), or -1
 * when src is not valid UTF-8 or out (outlen bytes) is too small.
 */
int	mutf7_encode(const char *src, char *out, size_t outlen);
/*
 * Modified UTF-7 -> UTF-8. Returns the length written (NUL added), or -1
 * when src is not valid modified UTF-7 (bad base64, non-canonical
 * encoding such as an encoded printable ASCII character or "&" not
 * written as "&-", unpaired surrogates, bytes >= 0x80) or out is too small.
 */
int	mutf7_decode(const char *src, char *out, size_t outlen);
/*
 * Is s (len bytes) valid UTF-8: shortest forms only, no surrogates,
 * nothing above U+10FFFF? 1 or 0. NUL bytes count as valid here.
 */
int	mutf7_utf8_valid(const char *s, size_t len);

#endif
