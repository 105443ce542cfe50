/*
 * rfc2047 - decode MIME encoded-words in header values.
 *
 * One pass over the value. Text between words is copied as it is, but
 * only once we know what follows it: white space between two decoded
 * words is dropped (RFC 2047 6.2). Decoded bytes of consecutive words in
 * one charset are collected in a run and converted together, because
 * real mailers split multi-byte characters across words even though the
 * RFC says each word must stand alone.
 *
 * Parsing is strict where a lenient reading would cost: the encoded text
 * ends at its first '?', so every span between two '?' is looked at by
 * at most one candidate word and the pass stays linear whatever the
 * input. A word with spaces, a bad escape or a stray base64 character is
 * not a word; it stays as written, as RFC 2047 6.3 allows.
 *
 * ISO-8859-1 is decoded as Windows-1252, as mail clients and the WHATWG
 * Encoding Standard do: mail labelled Latin-1 often holds 1252's quotes
 * and euro sign in 0x80-0x9F, where real Latin-1 has only controls.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "mail/rfc2047.h"
#include "mail/transfer.h"

enum cs_kind {
	CS_NONE = 0,
	CS_UTF8,	/* UTF-8 and US-ASCII: checked, bad bytes U+FFFD */
	CS_1252,	/* Windows-1252 and ISO-8859-1: table */
	CS_ICONV,	/* everything else */
};

struct word {
	char		 cs[RFC2047_CHARSET_MAX + 1];	/* without "*lang" */
	int		 b64;
	const char	*text;
	size_t		 text_len;
	size_t		 end;		/* offset just after "?=" */
};

struct dec {
	struct buf	*out;
	struct buf	 raw;		/* decoded bytes of the current run */
	char		 cs[RFC2047_CHARSET_MAX + 1];	/* the run's charset */
	enum cs_kind	 kind;		/* CS_NONE: no run */
	iconv_t		 cd;		/* for CS_ICONV */
};

/* Windows-1252 0x80-0x9F; the five holes map to the C1 controls (WHATWG). */
static const unsigned short cp1252[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64_alpha, c)) == NULL)
		return -1;
	return (int)(p - b64_alpha);
}

static int
is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A character of an RFC 2978 mime-charset name; '/' and '?' are not. */
static int
is_charset_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'+-^_`{}~.:", c) != NULL);
}

static void
add_codepoint(struct buf *out, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_addch(out, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, u, 2);
	} else {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(out, u, 3);
	}
}

#define REPLACEMENT	0xfffd

/* Decoded text must not smuggle line ends or NULs into the caller's text. */
static void
add_clean(struct buf *out, const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\0' && s[i] != '\r' && s[i] != '\n')
			continue;
		buf_add(out, s + start, i - start);
		buf_addch(out, ' ');
		start = i + 1;
	}
	buf_add(out, s + start, n - start);
}

/*
 * Length of the well-formed UTF-8 sequence at s (n > 0 bytes), or 0 with
 * *skip set to the length of its longest valid start (at least 1): those
 * bytes become one U+FFFD (the Unicode "maximal subpart" practice).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	*skip = 1;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* above U+10FFFF */
	for (i = 1; i < need && i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	*skip = i;
	return i == need ? need : 0;
}

static void
conv_utf8(struct buf *out, const char *s, size_t n)
{
	size_t i = 0, start = 0, k, skip;

	while (i < n) {
		if ((k = utf8_seq((const unsigned char *)s + i, n - i, &skip)) > 0) {
			i += k;
			continue;
		}
		add_clean(out, s + start, i - start);
		add_codepoint(out, REPLACEMENT);
		i += skip;
		start = i;
	}
	add_clean(out, s + start, n - start);
}

static void
conv_1252(struct buf *out, const char *s, size_t n)
{
	unsigned c;

	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x80 && c < 0xa0)
			c = cp1252[c - 0x80];
		else if (c == 0 || c == '\r' || c == '\n')
			c = ' ';
		add_codepoint(out, c);
	}
}

/*
 * Through iconv: an invalid byte becomes U+FFFD and is skipped, a cut
 * sequence at the end one U+FFFD. The output is capped at 16 bytes per
 * input byte plus a chunk, as a safety belt: some charsets turn one byte
 * into several characters, none into that many.
 */
static void
conv_iconv(struct buf *out, iconv_t cd, char *s, size_t n)
{
	char chunk[256], *op;
	size_t ol, made = 0, cap = 16 * n + sizeof(chunk) + 3, r, got;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (n > 0 && made + sizeof(chunk) + 3 <= cap) {
		op = chunk;
		ol = sizeof(chunk);
		r = iconv(cd, &s, &n, &op, &ol);
		got = sizeof(chunk) - ol;
		add_clean(out, chunk, got);
		made += got;
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG && got > 0)
			continue;
		add_codepoint(out, REPLACEMENT);
		made += 3;
		if (errno != EILSEQ)
			break;		/* EINVAL: cut at the end */
		s++;
		n--;
	}
	/* The end of a stateful charset (ISO-2022-JP) may emit something. */
	op = chunk;
	ol = sizeof(chunk);
	if (made + sizeof(chunk) <= cap && iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1)
		add_clean(out, chunk, sizeof(chunk) - ol);
}

static enum cs_kind
charset_kind(const char *cs)
{
	static const char *const utf8[] = { "utf-8", "utf8", "us-ascii", "ascii" };
	static const char *const latin[] = { "iso-8859-1", "iso8859-1", "iso_8859-1",
	    "latin1", "l1", "windows-1252", "cp1252", "x-cp1252" };
	size_t i;

	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		if (strcasecmp(cs, utf8[i]) == 0)
			return CS_UTF8;
	for (i = 0; i < sizeof(latin) / sizeof(latin[0]); i++)
		if (strcasecmp(cs, latin[i]) == 0)
			return CS_1252;
	return CS_ICONV;
}

/* Convert the bytes of the current run; the run stays open. */
static void
run_flush(struct dec *d)
{
	if (d->raw.len == 0)
		return;
	switch (d->kind) {
	case CS_UTF8:
		conv_utf8(d->out, d->raw.p, d->raw.len);
		break;
	case CS_1252:
		conv_1252(d->out, d->raw.p, d->raw.len);
		break;
	case CS_ICONV:
		conv_iconv(d->out, d->cd, d->raw.p, d->raw.len);
		break;
	case CS_NONE:
		break;
	}
	d->raw.len = 0;
}

static void
run_end(struct dec *d)
{
	run_flush(d);
	if (d->kind == CS_ICONV)
		iconv_close(d->cd);
	d->kind = CS_NONE;
}

/*
 * Start a run in charset cs. -1 when cs cannot be converted; the
 * current run is then left alone.
 */
static int
run_start(struct dec *d, const char *cs)
{
	enum cs_kind kind;
	iconv_t cd = (iconv_t)-1;

	if ((kind = charset_kind(cs)) == CS_ICONV &&
	    (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return -1;
	run_end(d);
	d->kind = kind;
	d->cd = cd;
	memcpy(d->cs, cs, strlen(cs) + 1);
	return 0;
}

/* Q text (RFC 2047 4.2): '_' is a space, "=XX" a byte. -1 on a bad escape. */
static int
q_check(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '=') {
			if (n - i < 3 || transfer_hex_value(s[i + 1]) < 0 || transfer_hex_value(s[i + 2]) < 0)
				return -1;
			i += 2;
		}
	return 0;
}

static void
q_decode(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_')
			buf_addch(out, ' ');
		else if (s[i] == '=') {
			buf_addch(out, (char)(transfer_hex_value(s[i + 1]) << 4 | transfer_hex_value(s[i + 2])));
			i += 2;
		} else
			buf_addch(out, s[i]);
	}
}

/* Base64: alphabet, then at most two '='; missing padding is forgiven. */
static int
b64_check(const char *s, size_t n)
{
	size_t i = 0, pad;

	while (i < n && b64_value(s[i]) >= 0)
		i++;
	if (i % 4 == 1)
		return -1;
	for (pad = 0; i < n && s[i] == '=' && pad < 2; i++)
		pad++;
	return i == n ? 0 : -1;
}

static void
b64_decode(struct buf *out, const char *s, size_t n)
{
	unsigned bits = 0, nbits = 0;
	int v;

	for (size_t i = 0; i < n && (v = b64_value(s[i])) >= 0; i++) {
		bits = (bits << 6 | (unsigned)v) & 0xffffff;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			buf_addch(out, (char)(bits >> nbits));
		}
	}
}

/*
 * The encoded-word "=?charset[*lang]?Q|B?text?=" at in[pos]; 0 when it is
 * one (w filled), -1 when not.
 */
static int
word_parse(const char *in, size_t len, size_t pos, struct word *w)
{
	size_t i = pos + 2, start = i, cs_len, t;

	if (len - pos < 2 || in[pos] != '=' || in[pos + 1] != '?')
		return -1;
	while (i < len && i - start <= RFC2047_CHARSET_MAX &&
	    (is_charset_char(in[i]) || in[i] == '*'))
		i++;
	if (i == start || i - start > RFC2047_CHARSET_MAX || len - i < 4 || in[i] != '?' ||
	    in[i + 2] != '?')
		return -1;
	/* RFC 2231 5: a language after '*' says nothing about the bytes. */
	for (cs_len = 0; start + cs_len < i && in[start + cs_len] != '*'; cs_len++)
		;
	if (cs_len == 0)
		return -1;
	memcpy(w->cs, in + start, cs_len);
	w->cs[cs_len] = '\0';
	if (in[i + 1] == 'b' || in[i + 1] == 'B')
		w->b64 = 1;
	else if (in[i + 1] == 'q' || in[i + 1] == 'Q')
		w->b64 = 0;
	else
		return -1;
	w->text = in + i + 3;
	for (t = i + 3; t < len && in[t] != '?'; t++)
		if ((unsigned char)in[t] <= ' ' || (unsigned char)in[t] >= 0x7f)
			return -1;
	if (len - t < 2 || in[t + 1] != '=')
		return -1;
	w->text_len = t - (i + 3);
	w->end = t + 2;
	if (w->b64)
		return b64_check(w->text, w->text_len);
	return q_check(w->text, w->text_len);
}

static int
all_lwsp(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lwsp(s[i]))
			return 0;
	return 1;
}

void
rfc2047_decode_buf(struct buf *out, const char *in, size_t len)
{
	struct dec d = { out, BUF_INIT, "", CS_NONE, (iconv_t)-1 };
	struct word w;
	size_t pos = 0, lit = 0;	/* lit: start of the text not yet copied */
	int join;
	const char *q;

	while (pos < len && (q = memchr(in + pos, '=', len - pos)) != NULL) {
		pos = (size_t)(q - in);
		if (word_parse(in, len, pos, &w) == -1) {
			pos++;
			continue;
		}
		/* Only white space since the last word: drop it (6.2). */
		join = d.kind != CS_NONE && all_lwsp(in + lit, pos - lit);
		if (d.kind == CS_NONE || strcasecmp(d.cs, w.cs) != 0) {
			if (run_start(&d, w.cs) == -1) {
				pos++;
				continue;
			}
		} else if (!join)
			run_flush(&d);
		if (!join)
			buf_add(out, in + lit, pos - lit);
		if (w.b64)
			b64_decode(&d.raw, w.text, w.text_len);
		else
			q_decode(&d.raw, w.text, w.text_len);
		lit = pos = w.end;
	}
	run_end(&d);
	buf_add(out, in + lit, len - lit);
	buf_free(&d.raw);
}

size_t
rfc2047_decode(const char *in, size_t len, char *dst, size_t dstsize)
{
	struct buf b = BUF_INIT;
	size_t n, back;

	if (dstsize == 0)
		return 0;
	rfc2047_decode_buf(&b, in, len);
	n = b.len < dstsize - 1 ? b.len : dstsize - 1;
	/* Do not cut a character (at most 3 bytes back: raw text may be junk). */
	for (back = 0; n < b.len && n > 0 && back < 3 &&
	    ((unsigned char)b.p[n] & 0xc0) == 0x80; back++)
		n--;
	if (n > 0)
		memcpy(dst, b.p, n);
	dst[n] = '\0';
	buf_free(&b);
	return n;
}

int
rfc2047_has_words(const char *in, size_t len)
{
	return len >= 2 && memmem(in, len, "=?", 2) != NULL;
}
