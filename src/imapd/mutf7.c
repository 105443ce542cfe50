/*
 * mutf7 - modified UTF-7 (RFC 3501 section 5.1.3).
 *
 * Printable ASCII stands for itself except "&", written "&-"; anything
 * else is UTF-16 in a modified base64 ("," for "/", no padding) between
 * "&" and "-". Decoding is strict so that every name has exactly one
 * encoded form: a name that decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "imapd/mutf7.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

struct out {
	char	*p;
	size_t	 len, cap;
	int	 overflow;
};

static void
put(struct out *o, char c)
{
	/* One byte is kept for the NUL. */
	if (o->len + 1 >= o->cap) {
		o->overflow = 1;
		return;
	}
	o->p[o->len++] = c;
}

static int
finish(struct out *o)
{
	if (o->overflow || o->cap == 0 || o->len > INT32_MAX)
		return -1;
	o->p[o->len] = '\0';
	return (int)o->len;
}

static int
is_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* One code point at s[*i]; -1 for overlongs, surrogates, > U+10FFFF. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	unsigned char c = s[*i];
	uint32_t v, min;
	size_t n, k;

	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		v = c & 0x07;
		min = 0x10000;
	} else
		return -1;
	if (len - *i - 1 < n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		v = v << 6 | (s[*i + k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return -1;
	*i += n + 1;
	*cp = v;
	return 0;
}

int
mutf7_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len)
		if (utf8_next((const unsigned char *)s, len, &i, &cp) == -1)
			return 0;
	return 1;
}

static void
put_utf8(struct out *o, uint32_t cp)
{
	if (cp < 0x80)
		put(o, (char)cp);
	else if (cp < 0x800) {
		put(o, (char)(0xc0 | cp >> 6));
		put(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(o, (char)(0xe0 | cp >> 12));
		put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		put(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		put(o, (char)(0xf0 | cp >> 18));
		put(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		put(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		put(o, (char)(0x80 | (cp & 0x3f)));
	}
}

struct b64_state {
	uint32_t	 bits;
	unsigned	 nbits;
};

static void
put_unit(struct out *o, struct b64_state *st, uint32_t unit)
{
	st->bits = (st->bits << 16 | unit) & 0x3fffff;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		put(o, b64[(st->bits >> st->nbits) & 0x3f]);
	}
}

/* The run of non-printable characters at s[*i], base64 between & and -. */
static int
encode_run(struct out *o, const unsigned char *s, size_t len, size_t *i)
{
	struct b64_state st = { 0, 0 };
	uint32_t cp;

	put(o, '&');
	while (*i < len && !is_printable(s[*i])) {
		if (utf8_next(s, len, i, &cp) == -1)
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_unit(o, &st, 0xd800 | cp >> 10);
			put_unit(o, &st, 0xdc00 | (cp & 0x3ff));
		} else
			put_unit(o, &st, cp);
	}
	if (st.nbits > 0)
		put(o, b64[(st.bits << (6 - st.nbits)) & 0x3f]);
	put(o, '-');
	return 0;
}

int
mutf7_encode(const char *src, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)src;
	struct out o = { out, 0, outlen, 0 };
	size_t len = strlen(src), i = 0;

	while (i < len) {
		if (s[i] == '&') {
			put(&o, '&');
			put(&o, '-');
			i++;
		} else if (is_printable(s[i]))
			put(&o, (char)s[i++]);
		else if (encode_run(&o, s, len, &i) == -1)
			return -1;
	}
	return finish(&o);
}

static int
b64_value(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

/* One UTF-16 unit; *hi holds a pending high surrogate. */
static int
take_unit(struct out *o, uint32_t u, uint32_t *hi)
{
	if (*hi != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		put_utf8(o, 0x10000 + ((*hi - 0xd800) << 10) + (u - 0xdc00));
		*hi = 0;
		return 0;
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*hi = u;
		return 0;
	}
	/* A lone low surrogate, NUL, or printable ASCII that should be plain. */
	if ((u >= 0xdc00 && u <= 0xdfff) || u == 0 || (u >= 0x20 && u <= 0x7e))
		return -1;
	put_utf8(o, u);
	return 0;
}

/* The base64 run after "&" at s[*i], up to and including "-". */
static int
decode_run(struct out *o, const char *s, size_t *i)
{
	struct b64_state st = { 0, 0 };
	uint32_t hi = 0, u;
	size_t units = 0;
	int v;

	for (; s[*i] != '-'; (*i)++) {
		if ((v = b64_value(s[*i])) == -1)
			return -1;
		st.bits = (st.bits << 6 | (uint32_t)v) & 0x3fffff;
		st.nbits += 6;
		if (st.nbits < 16)
			continue;
		st.nbits -= 16;
		u = (st.bits >> st.nbits) & 0xffff;
		if (take_unit(o, u, &hi) == -1)
			return -1;
		units++;
	}
	(*i)++;
	/* Canonical: no unit left half-done, no extra characters, zero padding. */
	if (hi != 0 || units == 0 || st.nbits >= 6 ||
	    (st.bits & ((1u << st.nbits) - 1)) != 0)
		return -1;
	return 0;
}

int
mutf7_decode(const char *src, char *out, size_t outlen)
{
	struct out o = { out, 0, outlen, 0 };
	size_t i = 0;
	int after_run = 0;

	while (src[i] != '\0') {
		if (!is_printable((unsigned char)src[i]))
			return -1;
		if (src[i] != '&') {
			put(&o, src[i++]);
			after_run = 0;
			continue;
		}
		i++;
		if (src[i] == '-') {
			put(&o, '&');
			i++;
			after_run = 0;
			continue;
		}
		/* Two runs in a row would have been written as one. */
		if (after_run || decode_run(&o, src, &i) == -1)
			return -1;
		after_run = 1;
	}
	return finish(&o);
}
