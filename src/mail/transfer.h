/*
 * transfer - Content-Transfer-Encoding decoders (RFC 2045 section 6), as
 * lenient as mail in the wild needs: for reading and searching, never for
 * deciding whether a message is well-formed.
 */
#ifndef TERN_MAIL_TRANSFER_H
#define TERN_MAIL_TRANSFER_H

#include <stddef.h>

/* The value of a hex digit, or -1. */
int	transfer_hex_value(char c);
/*
 * Quoted-printable into dst (at least n bytes): "=XX" escapes, soft line
 * breaks ("=" and optional blanks before the line end) removed, anything
 * malformed kept as it is. Returns the bytes written.
 */
size_t	transfer_qp_decode(const char *s, size_t n, char *dst);
/*
 * Base64 into dst (at least n bytes): characters outside the alphabet
 * (line ends, blanks, junk) are skipped, decoding stops at the first "=".
 * Returns the bytes written.
 */
size_t	transfer_base64_decode(const char *s, size_t n, char *dst);

#endif
