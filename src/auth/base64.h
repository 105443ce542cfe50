/*
 * base64 - strict RFC 4648 section 4 base64 for SASL (the alphabet with
 * "+/" and "=" padding, no line breaks, no white space).
 *
 * The decoder refuses anything a correct encoder would not produce:
 * characters outside the alphabet, missing or misplaced padding, non-zero
 * pad bits. One input has one meaning, so logs and comparisons agree.
 */
#ifndef TERN_AUTH_BASE64_H
#define TERN_AUTH_BASE64_H

#include <stddef.h>

/* Characters (without the NUL) base64_encode writes for len bytes. */
#define BASE64_ENCODED_LEN(len)	((((len) + 2) / 3) * 4)
/* Bytes base64_decode can write for len characters, at most. */
#define BASE64_DECODED_MAX(len)	(((len) / 4) * 3)

/*
 * Encode len bytes of in into out (outlen bytes, room for the terminating
 * NUL). 0, or -1 when out is too small (out is then "").
 */
int	base64_encode(const void *in, size_t len, char *out, size_t outlen);
/*
 * Decode len characters of in into out (outlen bytes); the byte count goes
 * to *decoded_out. 0, or -1 on malformed input or when out is too small.
 * Not terminated: out holds bytes. On error out may hold partial data.
 */
int	base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen,
	    size_t *decoded_out);

#endif
