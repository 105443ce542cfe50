/*
 * imap_parse_lex - the tokens of RFC 3501/9051 section 9: atoms, quoted
 * strings, literals, numbers, sequence sets, flags and dates, plus the
 * arena the parsed command's strings live in.
 *
 * Input is a whole command held by the session; nothing here reads past
 * len, and literal bytes may be anything (NUL included), so every test is
 * on lengths, never on terminators.
 */
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "imapd/imap_parse_private.h"
#include "imapd/mutf7.h"

#define ARENA_BLOCK	4096
#define ALIGN		alignof(max_align_t)

struct arena_blk {
	struct arena_blk *next;
	size_t		 used, cap;
	max_align_t	 data[];
};

struct arena {
	struct arena_blk *head;
};

int
ip_fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	if (p->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Enough to recognise the token, not enough to flood a reply. */
const char *
ip_show(char *dst, size_t dstsize, const char *s, size_t n)
{
	size_t i, o = 0;
	unsigned char c;

	if (dstsize == 0)
		return dst;
	for (i = 0; i < n && i < 40; i++) {
		c = (unsigned char)s[i];
		if (o + 5 >= dstsize)
			break;
		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstsize - o, "\\x%02x", c);
	}
	dst[o] = '\0';
	return dst;
}

/* Bump allocation; big requests get a block of their own. */
void *
ip_alloc(struct imap_parser *p, size_t size)
{
	struct arena *a = p->cmd->arena;
	struct arena_blk *b;
	size_t cap;
	void *r;

	if (a == NULL)
		a = p->cmd->arena = xcalloc(1, sizeof(*a));
	size = (size + ALIGN - 1) / ALIGN * ALIGN;
	if (size == 0)
		size = ALIGN;
	b = a->head;
	if (b == NULL || b->cap - b->used < size) {
		cap = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
		b = xcalloc(1, sizeof(*b) + cap);
		b->cap = cap;
		if (size > ARENA_BLOCK / 4 && a->head != NULL) {
			/* Keep the partly used block in front for small ones. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	r = (char *)b->data + b->used;
	b->used += size;
	return r;
}

char *
ip_strndup(struct imap_parser *p, const char *s, size_t n)
{
	char *r = ip_alloc(p, n + 1);

	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	struct arena *a = cmd->arena;
	struct arena_blk *b, *next;

	if (a != NULL) {
		for (b = a->head; b != NULL; b = next) {
			next = b->next;
			free(b);
		}
		free(a);
	}
	memset(cmd, 0, sizeof(*cmd));
}

int
ip_at_end(const struct imap_parser *p)
{
	return p->pos >= p->len;
}

int
ip_peek(const struct imap_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->buf[p->pos] : -1;
}

int
ip_eat(struct imap_parser *p, char c)
{
	if (p->pos < p->len && p->buf[p->pos] == c) {
		p->pos++;
		return 1;
	}
	return 0;
}

int
ip_sp(struct imap_parser *p, const char *what)
{
	/* "(a" and "(a)" both lack the next argument. */
	if (ip_at_end(p) || p->buf[p->pos] == ')')
		return ip_fail(p, "Missing %s", what);
	if (p->buf[p->pos] != ' ')
		return ip_fail(p, "Missing space before %s", what);
	p->pos++;
	if (ip_at_end(p) || p->buf[p->pos] == ')')
		return ip_fail(p, "Missing %s", what);
	if (p->buf[p->pos] == ' ')
		return ip_fail(p, "Extra space before %s", what);
	return 0;
}

int
ip_sp_list(struct imap_parser *p, const char *what)
{
	if (ip_at_end(p))
		return ip_fail(p, "Missing ) after %s", what);
	return ip_sp(p, what);
}

int
ip_expect(struct imap_parser *p, char c, const char *what)
{
	if (ip_eat(p, c))
		return 0;
	return ip_fail(p, "Expected %s", what);
}

/* ATOM-CHAR: CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
int
ip_is_atom_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

int
ip_atom(struct imap_parser *p, const char *what, const char **s, size_t *n)
{
	size_t start = p->pos;

	while (p->pos < p->len && ip_is_atom_char((unsigned char)p->buf[p->pos]))
		p->pos++;
	if (p->pos == start) {
		if (ip_at_end(p))
			return ip_fail(p, "Missing %s", what);
		return ip_fail(p, "Invalid character in %s", what);
	}
	*s = p->buf + start;
	*n = p->pos - start;
	return 0;
}

int
ip_word_is(const char *s, size_t n, const char *word)
{
	size_t i;
	char c;

	if (strlen(word) != n)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != word[i])
			return 0;
	}
	return 1;
}

int
ip_atom_upper(struct imap_parser *p, const char *what, char **out)
{
	const char *s;
	size_t n, i;

	if (ip_atom(p, what, &s, &n) == -1)
		return -1;
	*out = ip_strndup(p, s, n);
	for (i = 0; i < n; i++)
		if ((*out)[i] >= 'a' && (*out)[i] <= 'z')
			(*out)[i] = (char)((*out)[i] - 'a' + 'A');
	return 0;
}

int
ip_literal(struct imap_parser *p, int allow8, const char **s, size_t *n, int *binary)
{
	size_t q = p->pos, digits = 0;
	uint64_t v = 0;

	*binary = 0;
	if (q < p->len && p->buf[q] == '~') {
		if (!allow8)
			return ip_fail(p, "literal8 is only allowed in APPEND");
		*binary = 1;
		q++;
	}
	if (q >= p->len || p->buf[q] != '{')
		return ip_fail(p, "Invalid literal");
	for (q++; q < p->len && p->buf[q] >= '0' && p->buf[q] <= '9'; q++) {
		v = v * 10 + (uint64_t)(p->buf[q] - '0');
		if (v > UINT32_MAX)
			return ip_fail(p, "Literal too large");
		digits++;
	}
	if (q < p->len && p->buf[q] == '+')
		q++;
	if (digits == 0 || q >= p->len || p->buf[q] != '}')
		return ip_fail(p, "Invalid literal");
	q++;
	if (p->len - q < 2 || p->buf[q] != '\r' || p->buf[q + 1] != '\n')
		return ip_fail(p, "Missing CRLF after literal");
	q += 2;
	if (p->len - q < v)
		return ip_fail(p, "Literal shorter than announced");
	*s = p->buf + q;
	*n = (size_t)v;
	p->pos = q + (size_t)v;
	return 0;
}

/* 8-bit text is UTF-8 only where the session allows it (UTF8=ACCEPT). */
static int
check_text(struct imap_parser *p, const char *s, size_t n, const char *what)
{
	if (memchr(s, '\0', n) != NULL)
		return ip_fail(p, "NUL character in %s", what);
	if (!mutf7_utf8_valid(s, n))
		return ip_fail(p, "Invalid UTF-8 in %s", what);
	return 0;
}

static int
read_quoted(struct imap_parser *p, const char *what, char **out, size_t *outlen)
{
	size_t q = p->pos + 1, n = 0, i;
	int eight = 0;
	unsigned char c;
	char *r;

	for (;; q++, n++) {
		if (q >= p->len)
			return ip_fail(p, "Unterminated quoted string");
		c = (unsigned char)p->buf[q];
		if (c == '"')
			break;
		if (c == '\\') {
			if (q + 1 >= p->len)
				return ip_fail(p, "Unterminated quoted string");
			if (p->buf[q + 1] != '"' && p->buf[q + 1] != '\\')
				return ip_fail(p, "Invalid escape in quoted string");
			q++;
		} else if (c == '\0' || c == '\r' || c == '\n') {
			return ip_fail(p, "Invalid character in quoted string");
		} else if (c >= 0x80) {
			if (!p->utf8)
				return ip_fail(p, "8-bit character in quoted string");
			eight = 1;
		}
	}
	r = ip_alloc(p, n + 1);
	for (q = p->pos + 1, i = 0; i < n; i++, q++) {
		if (p->buf[q] == '\\')
			q++;
		r[i] = p->buf[q];
	}
	r[n] = '\0';
	p->pos = q + 1;
	if (eight && check_text(p, r, n, what) == -1)
		return -1;
	*out = r;
	if (outlen != NULL)
		*outlen = n;
	return 0;
}

/* Literal contents are CHAR8: anything but NUL (RFC 3501 section 4.3). */
static int
read_literal_string(struct imap_parser *p, const char *what, char **out, size_t *outlen)
{
	const char *s;
	size_t n;
	int binary;

	if (ip_literal(p, 0, &s, &n, &binary) == -1)
		return -1;
	if (memchr(s, '\0', n) != NULL)
		return ip_fail(p, "NUL character in %s", what);
	*out = ip_strndup(p, s, n);
	if (outlen != NULL)
		*outlen = n;
	return 0;
}

int
ip_string(struct imap_parser *p, const char *what, char **out, size_t *outlen)
{
	int c = ip_peek(p);

	if (c == '"')
		return read_quoted(p, what, out, outlen);
	if (c == '{')
		return read_literal_string(p, what, out, outlen);
	if (c == -1)
		return ip_fail(p, "Missing %s", what);
	return ip_fail(p, "Expected a string for %s", what);
}

/* 1*ASTRING-CHAR: ATOM-CHAR or "]"; 8-bit only with UTF8=ACCEPT. */
static int
is_astring_char(const struct imap_parser *p, unsigned char c)
{
	return ip_is_atom_char(c) || c == ']' || (c >= 0x80 && p->utf8);
}

int
ip_astring(struct imap_parser *p, const char *what, char **out, size_t *outlen)
{
	size_t start = p->pos;
	int c = ip_peek(p);

	if (c == '"' || c == '{')
		return ip_string(p, what, out, outlen);
	while (p->pos < p->len && is_astring_char(p, (unsigned char)p->buf[p->pos]))
		p->pos++;
	if (p->pos == start) {
		if (c == -1)
			return ip_fail(p, "Missing %s", what);
		if (c >= 0x80)
			return ip_fail(p, "8-bit character in %s", what);
		return ip_fail(p, "Invalid character in %s", what);
	}
	if (check_text(p, p->buf + start, p->pos - start, what) == -1)
		return -1;
	*out = ip_strndup(p, p->buf + start, p->pos - start);
	if (outlen != NULL)
		*outlen = p->pos - start;
	return 0;
}

int
ip_nstring(struct imap_parser *p, const char *what, char **out, size_t *outlen)
{
	const char *s;
	size_t n, save = p->pos;
	int c = ip_peek(p);

	if (c == 'N' || c == 'n') {
		while (p->pos < p->len && ip_is_atom_char((unsigned char)p->buf[p->pos]))
			p->pos++;
		s = p->buf + save;
		n = p->pos - save;
		if (ip_word_is(s, n, "NIL")) {
			*out = NULL;
			if (outlen != NULL)
				*outlen = 0;
			return 0;
		}
		p->pos = save;
	}
	return ip_string(p, what, out, outlen);
}

int
ip_number(struct imap_parser *p, const char *what, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = p->pos;
	unsigned d;

	while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
		d = (unsigned)(p->buf[p->pos] - '0');
		if (v > (max - d) / 10)
			return ip_fail(p, "Invalid %s (too large)", what);
		v = v * 10 + d;
		p->pos++;
	}
	if (p->pos == start) {
		if (ip_at_end(p))
			return ip_fail(p, "Missing %s", what);
		return ip_fail(p, "Invalid %s", what);
	}
	*out = v;
	return 0;
}

static int
is_seq_char(char c)
{
	return (c >= '0' && c <= '9') || c == ':' || c == ',' || c == '*';
}

/* seq-number: nz-number or "*". */
static int
seq_number(const char *s, size_t n, size_t *i, uint32_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	if (*i < n && s[*i] == '*') {
		(*i)++;
		*out = IMAP_SEQ_STAR;
		return 0;
	}
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX)
			return -1;
		(*i)++;
	}
	if (*i == start || v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
ip_seqset(struct imap_parser *p, struct imap_seqset *set)
{
	const char *s = p->buf + p->pos;
	size_t n = 0, i = 0, max = 1;
	struct imap_range *r;
	uint32_t a, b;

	if (ip_peek(p) == '$') {
		/* RFC 5182: "$" stands alone, never inside a list or range. */
		if (p->pos + 1 < p->len && is_seq_char(s[1]))
			return ip_fail(p, "Invalid sequence set");
		p->pos++;
		set->ranges = NULL;
		set->n = 0;
		set->saved = 1;
		return 0;
	}
	while (p->pos + n < p->len && is_seq_char(s[n]))
		if (s[n++] == ',')
			max++;
	if (n == 0)
		return ip_fail(p, ip_at_end(p) ? "Missing sequence set" : "Invalid sequence set");
	r = ip_alloc(p, max * sizeof(*r));
	set->n = 0;
	for (;;) {
		if (seq_number(s, n, &i, &a) == -1)
			return ip_fail(p, "Invalid sequence set");
		b = a;
		if (i < n && s[i] == ':') {
			i++;
			if (seq_number(s, n, &i, &b) == -1)
				return ip_fail(p, "Invalid sequence set");
		}
		r[set->n].lo = a < b ? a : b;
		r[set->n].hi = a < b ? b : a;
		set->n++;
		if (i == n)
			break;
		if (s[i] != ',' || set->n >= max)
			return ip_fail(p, "Invalid sequence set");
		i++;
	}
	set->ranges = r;
	p->pos += n;
	return 0;
}

int
imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star)
{
	uint32_t lo, hi, t;
	size_t i;

	for (i = 0; i < set->n; i++) {
		lo = set->ranges[i].lo == IMAP_SEQ_STAR ? star : set->ranges[i].lo;
		hi = set->ranges[i].hi == IMAP_SEQ_STAR ? star : set->ranges[i].hi;
		/* "5:*" with * = 3 means 3:5 (RFC 9051 section 9). */
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return 1;
	}
	return 0;
}

/* Days since 1970-01-01; H. Hinnant's days_from_civil. */
int64_t
ip_days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
ip_days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
ip_month(const char *s)
{
	static const char names[] = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";
	char up[3];
	int i;

	for (i = 0; i < 3; i++) {
		up[i] = s[i];
		if (up[i] >= 'a' && up[i] <= 'z')
			up[i] = (char)(up[i] - 'a' + 'A');
	}
	for (i = 0; i < 12; i++)
		if (memcmp(names + i * 3, up, 3) == 0)
			return i + 1;
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1*2DIGIT "-" 3ALPHA "-" 4DIGIT at s (n bytes); returns bytes used or 0. */
static size_t
date_text(const char *s, size_t n, int *y, int *m, int *d)
{
	size_t i = 0, k;
	int v = 0;

	while (i < n && i < 2 && is_digit(s[i]))
		v = v * 10 + (s[i++] - '0');
	if (i == 0 || n - i < 9 || s[i] != '-' || s[i + 4] != '-')
		return 0;
	*d = v;
	if ((*m = ip_month(s + i + 1)) == 0)
		return 0;
	i += 5;
	for (k = 0, v = 0; k < 4; k++) {
		if (!is_digit(s[i + k]))
			return 0;
		v = v * 10 + (s[i + k] - '0');
	}
	i += 4;
	*y = v;
	if ((i < n && is_digit(s[i])) || *y < 1 || *d < 1 ||
	    *d > ip_days_in_month(*y, *m))
		return 0;
	return i;
}

int
ip_date(struct imap_parser *p, time_t *out)
{
	const char *s = p->buf + p->pos;
	size_t n = p->len - p->pos, used, q = 0;
	int y, m, d;

	if (n > 0 && s[0] == '"')
		q = 1;
	used = date_text(s + q, n - q, &y, &m, &d);
	if (used == 0 || (q && (used + 1 >= n || s[used + 1] != '"')))
		return ip_fail(p, n == 0 ? "Missing date" : "Invalid date (want d-Mmm-yyyy)");
	p->pos += used + 2 * q;
	*out = (time_t)(ip_days_from_civil(y, m, d) * 86400);
	return 0;
}

static const struct {
	const char	*name;
	unsigned	 bit;
} system_flags[] = {
	{ "\\SEEN", IMAP_FLAG_SEEN },
	{ "\\ANSWERED", IMAP_FLAG_ANSWERED },
	{ "\\FLAGGED", IMAP_FLAG_FLAGGED },
	{ "\\DELETED", IMAP_FLAG_DELETED },
	{ "\\DRAFT", IMAP_FLAG_DRAFT },
	{ "\\RECENT", IMAP_FLAG_RECENT },
};

static int
add_keyword(struct imap_parser *p, struct imap_flags *fl, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < fl->nkeywords; i++)
		if (strlen(fl->keywords[i]) == n && strncasecmp(fl->keywords[i], s, n) == 0)
			return 0;	/* keywords compare case-insensitively */
	if (fl->nkeywords >= IMAP_FLAGS_MAX)
		return ip_fail(p, "Too many flags");
	fl->keywords[fl->nkeywords++] = ip_strndup(p, s, n);
	return 0;
}

int
ip_flag(struct imap_parser *p, struct imap_flags *fl, int allow_recent)
{
	size_t start = p->pos, i;
	const char *s;
	size_t n;
	char show[200];

	if (!ip_eat(p, '\\'))
		return ip_atom(p, "flag", &s, &n) == -1 ? -1 : add_keyword(p, fl, s, n);
	if (ip_atom(p, "flag", &s, &n) == -1)
		return -1;
	s = p->buf + start;
	n++;
	for (i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if (!ip_word_is(s, n, system_flags[i].name))
			continue;
		if (system_flags[i].bit == IMAP_FLAG_RECENT && !allow_recent)
			return ip_fail(p, "\\Recent cannot be set by the client");
		fl->system |= system_flags[i].bit;
		return 0;
	}
	return ip_fail(p, "Unknown system flag %s", ip_show(show, sizeof(show), s, n));
}

int
ip_flag_list(struct imap_parser *p, struct imap_flags *fl, int allow_recent)
{
	if (!ip_eat(p, '('))
		return ip_fail(p, "Expected ( before flag list");
	if (ip_eat(p, ')'))
		return 0;
	for (;;) {
		if (ip_flag(p, fl, allow_recent) == -1)
			return -1;
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "flag") == -1)
			return -1;
	}
}
