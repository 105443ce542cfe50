/*
 * transfer - quoted-printable and base64 bodies (RFC 2045 6.7, 6.8).
 */
#include <stdint.h>
#include <string.h>

#include "mail/transfer.h"

int
transfer_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t
transfer_qp_decode(const char *s, size_t n, char *dst)
{
	size_t i = 0, o = 0, j;
	int hi, lo;

	while (i < n) {
		if (s[i] != '=') {
			dst[o++] = s[i++];
			continue;
		}
		if (i + 2 < n && (hi = transfer_hex_value(s[i + 1])) >= 0 &&
		    (lo = transfer_hex_value(s[i + 2])) >= 0) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 3;
			continue;
		}
		/* A soft line break: "=", optional blanks, line end. */
		for (j = i + 1; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j < n && s[j] == '\r')
			j++;
		if (j < n && s[j] == '\n') {
			i = j + 1;
			continue;
		}
		dst[o++] = s[i++];
	}
	return o;
}

size_t
transfer_base64_decode(const char *s, size_t n, char *dst)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t i, o = 0;
	const char *p;

	for (i = 0; i < n && s[i] != '='; i++) {
		if (s[i] == '\0' || (p = strchr(alpha, s[i])) == NULL)
			continue;
		bits = (bits << 6 | (uint32_t)(p - alpha)) & 0xffffff;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			dst[o++] = (char)(bits >> nbits);
		}
	}
	return o;
}
