/*
 * base64 - RFC 4648 base64, strict.
 *
 * Written for SASL, where each response is one token on one line, so
 * there is no streaming and no tolerance for white space.
 */
#include <stdint.h>
#include <string.h>

#include "auth/base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	if (outlen == 0)
		return -1;
	if (len > (SIZE_MAX - 2) / 4 * 3 || BASE64_ENCODED_LEN(len) >= outlen) {
		out[0] = '\0';
		return -1;
	}
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = base64_alphabet[v >> 18];
		out[o++] = base64_alphabet[(v >> 12) & 0x3f];
		out[o++] = base64_alphabet[(v >> 6) & 0x3f];
		out[o++] = base64_alphabet[v & 0x3f];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = base64_alphabet[v >> 18];
		out[o++] = base64_alphabet[(v >> 12) & 0x3f];
		out[o++] = i + 1 < len ? base64_alphabet[(v >> 6) & 0x3f] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

/* Value of one alphabet character, or -1. */
static int
base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * One group of four characters into 1-3 bytes; last says whether padding
 * may appear. Returns the byte count, or -1.
 */
static int
decode_group(const char *g, int last, unsigned char *out)
{
	int v[4], pad = 0;
	uint32_t bits;

	for (int i = 0; i < 4; i++) {
		if (g[i] == '=' && last && i >= 2) {
			pad++;
			v[i] = 0;
			continue;
		}
		/* Data after padding ("ab=c") is as wrong as a bad character. */
		if (pad > 0 || (v[i] = base64_value(g[i])) < 0)
			return -1;
	}
	bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
	    (uint32_t)v[3];
	/* Pad bits must be zero (RFC 4648 section 3.5). */
	if ((pad == 1 && (bits & 0xff) != 0) || (pad == 2 && (bits & 0xffff) != 0))
		return -1;
	out[0] = (unsigned char)(bits >> 16);
	out[1] = (unsigned char)(bits >> 8);
	out[2] = (unsigned char)bits;
	return 3 - pad;
}

int
base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen,
    size_t *decoded_out)
{
	unsigned char group[3];
	size_t o = 0;
	int n, rc = -1;

	*decoded_out = 0;
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		if ((n = decode_group(in + i, i + 4 == len, group)) < 0 ||
		    (size_t)n > outlen - o)
			goto done;
		for (int k = 0; k < n; k++)
			out[o++] = group[k];
	}
	*decoded_out = o;
	rc = 0;
done:
	/* The bytes may be a password. */
	explicit_bzero(group, sizeof(group));
	return rc;
}
