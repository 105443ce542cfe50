/*
 * addr - RFC 5321 paths.
 *
 * One left-to-right pass with a cursor bounded by the caller's length, so
 * nothing past s + len is read and the text need not be terminated. The
 * grammar (RFC 5321 4.1.2, 4.1.3; RFC 6531 3.3 for UTF-8):
 *
 *   Path        = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l       = "@" Domain *( "," "@" Domain )      (accepted, dropped)
 *   Mailbox     = Local-part "@" ( Domain / address-literal )
 *   Local-part  = Dot-string / Quoted-string
 *
 * Non-ASCII bytes must form well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates); the C1 controls U+0080-U+009F are refused with the other
 * control characters, since they never belong in an address.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mail/addr.h"

const char addr_err_too_long[] = "address too long";

static const char err_non_ascii[] = "non-ASCII address without SMTPUTF8";
static const char err_utf8[] = "invalid UTF-8";

struct cursor {
	const char	*p;
	const char	*end;
	int		 brackets;	/* the path opened with '<' */
};

static int
is_alnum(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* atext of RFC 5322 3.2.3, ASCII part. */
static int
is_atext(unsigned char ch)
{
	return is_alnum(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static int
lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/*
 * Length of the well-formed UTF-8 character at p (avail bytes there), or 0.
 * The ranges of the second byte follow RFC 3629 4; 0xc2 starts at 0xa0 to
 * keep out the C1 controls.
 */
static size_t
utf8_char_len(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (avail == 0)
		return 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	switch (p[0]) {
	case 0xc2:
	case 0xe0:
		lo = 0xa0;
		break;
	case 0xed:
		hi = 0x9f;	/* no surrogates */
		break;
	case 0xf0:
		lo = 0x90;
		break;
	case 0xf4:
		hi = 0x8f;	/* nothing above U+10FFFF */
		break;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* At a byte >= 0x80: step over one UTF-8 character, or fail with the reason. */
static int
take_utf8(struct cursor *c, unsigned flags, struct addr *out,
    const char **errstr_out)
{
	size_t n;

	out->has_utf8 = 1;
	if ((flags & ADDR_ALLOW_UTF8) == 0) {
		*errstr_out = err_non_ascii;
		return -1;
	}
	n = utf8_char_len((const unsigned char *)c->p, (size_t)(c->end - c->p));
	if (n == 0) {
		*errstr_out = err_utf8;
		return -1;
	}
	c->p += n;
	return 0;
}

/* Where a path ends: at '>', or without brackets at a space or the end. */
static int
at_path_end(const struct cursor *c)
{
	if (c->brackets)
		return c->p < c->end && *c->p == '>';
	return c->p == c->end || *c->p == ' ';
}

static const char *
check_domain(const char *d, size_t len, int utf8)
{
	const unsigned char *p = (const unsigned char *)d;
	const unsigned char *end = p + len;

	if (len == 0)
		return "missing domain";
	if (len > ADDR_DOMAIN_MAX)
		return addr_err_too_long;
	for (;;) {
		const unsigned char *label = p;
		int ascii = 1;

		while (p < end && *p != '.') {
			if (is_alnum(*p) || *p == '-') {
				p++;
				continue;
			}
			if (*p < 0x80 || !utf8)
				return "bad domain";
			size_t n = utf8_char_len(p, (size_t)(end - p));
			if (n == 0)
				return err_utf8;
			p += n;
			ascii = 0;
		}
		/* Empty labels cover a leading, doubled or trailing dot. */
		if (p == label || label[0] == '-' || p[-1] == '-')
			return "bad domain";
		/* RFC 1035 2.3.4; a U-label's limit is on its A-label form. */
		if (ascii && p - label > 63)
			return "bad domain";
		if (p == end)
			return NULL;
		p++;	/* the dot */
	}
}

int
addr_domain_valid(const char *domain, size_t len, int utf8)
{
	return check_domain(domain, len, utf8) == NULL;
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of at most 255. */
static int
ipv4_valid(const char *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i == len || s[i] != '.')
				return 0;
			i++;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return 0;
	}
	return i == len;
}

static int
ipv6_valid(const char *s, size_t len)
{
	char buf[64];
	unsigned char bin[16];

	/* inet_pton wants a terminated string and takes only hex, ':' and '.'. */
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, bin) == 1;
}

int
addr_literal_valid(const char *s, size_t len)
{
	const char *in;
	size_t n;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	in = s + 1;
	n = len - 2;
	if (n > 5 && lower(in[0]) == 'i' && lower(in[1]) == 'p' &&
	    lower(in[2]) == 'v' && in[3] == '6' && in[4] == ':')
		return ipv6_valid(in + 5, n - 5);
	return ipv4_valid(in, n);
}

/* Domain or address literal; stops at the first byte that cannot belong to it. */
static int
parse_domain(struct cursor *c, unsigned flags, struct addr *out,
    const char **start_out, size_t *len_out, const char **errstr_out)
{
	const char *start = c->p;
	const char *err;

	if (c->p < c->end && *c->p == '[') {
		/* dcontent is %d33-90 / %d94-126: no '[', '\\' or ']' inside. */
		c->p++;
		while (c->p < c->end && *c->p != ']') {
			unsigned char ch = (unsigned char)*c->p;
			if (ch < 33 || ch > 126 || ch == '[' || ch == '\\') {
				int utf8 = ch >= 0x80;

				if (utf8)
					out->has_utf8 = 1;
				*errstr_out = utf8 && (flags & ADDR_ALLOW_UTF8) == 0 ?
				    err_non_ascii : "bad address literal";
				return -1;
			}
			c->p++;
		}
		if (c->p == c->end) {
			*errstr_out = "bad address literal";
			return -1;
		}
		c->p++;
		if ((size_t)(c->p - start) > ADDR_DOMAIN_MAX) {
			*errstr_out = addr_err_too_long;
			return -1;
		}
		if (!addr_literal_valid(start, (size_t)(c->p - start))) {
			*errstr_out = "bad address literal";
			return -1;
		}
		out->is_literal = 1;
	} else {
		while (c->p < c->end) {
			unsigned char ch = (unsigned char)*c->p;
			if (is_alnum(ch) || ch == '-' || ch == '.')
				c->p++;
			else if (ch >= 0x80) {
				if (take_utf8(c, flags, out, errstr_out) == -1)
					return -1;
			} else
				break;
		}
		err = check_domain(start, (size_t)(c->p - start),
		    (flags & ADDR_ALLOW_UTF8) != 0);
		if (err != NULL) {
			*errstr_out = err;
			return -1;
		}
	}
	*start_out = start;
	*len_out = (size_t)(c->p - start);
	return 0;
}

/* A-d-l ":", checked and forgotten (RFC 5321 4.1.2: MUST accept, SHOULD ignore). */
static int
parse_route(struct cursor *c, unsigned flags, struct addr *out,
    const char **errstr_out)
{
	const char *d;
	size_t dlen;

	for (;;) {
		if (c->p == c->end || *c->p != '@') {
			*errstr_out = "bad source route";
			return -1;
		}
		c->p++;
		if (c->p < c->end && *c->p == '[') {
			*errstr_out = "bad source route";
			return -1;
		}
		if (parse_domain(c, flags, out, &d, &dlen, errstr_out) == -1)
			return -1;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == ':') {
			c->p++;
			return 0;
		}
		*errstr_out = "bad source route";
		return -1;
	}
}

static int
parse_quoted(struct cursor *c, unsigned flags, struct addr *out,
    const char **errstr_out)
{
	c->p++;		/* the opening quote */
	for (;;) {
		if (c->p == c->end) {
			*errstr_out = "unterminated quoted string";
			return -1;
		}
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"')
			break;
		if (ch == '\\') {
			/* quoted-pairSMTP = "\" %d32-126 */
			c->p++;
			if (c->p == c->end || (unsigned char)*c->p < 32 ||
			    (unsigned char)*c->p > 126) {
				*errstr_out = "bad quoted pair";
				return -1;
			}
			c->p++;
		} else if (ch >= 0x80) {
			if (take_utf8(c, flags, out, errstr_out) == -1)
				return -1;
		} else if (ch < 32 || ch == 127) {
			*errstr_out = "control character in address";
			return -1;
		} else
			c->p++;
	}
	c->p++;		/* the closing quote */
	return 0;
}

/* Dot-string: one or more atoms joined by single dots. */
static int
parse_dot_string(struct cursor *c, unsigned flags, struct addr *out,
    const char **errstr_out)
{
	for (;;) {
		const char *atom = c->p;

		while (c->p < c->end) {
			unsigned char ch = (unsigned char)*c->p;
			if (is_atext(ch))
				c->p++;
			else if (ch >= 0x80) {
				if (take_utf8(c, flags, out, errstr_out) == -1)
					return -1;
			} else
				break;
		}
		if (c->p == atom) {
			*errstr_out = "bad local part";
			return -1;
		}
		if (c->p == c->end || *c->p != '.')
			return 0;
		c->p++;
	}
}

static int
parse_local(struct cursor *c, unsigned flags, struct addr *out,
    const char **errstr_out)
{
	const char *start = c->p;
	size_t len, max = ADDR_LOCAL_MAX;
	int rc;

	if (c->p < c->end && *c->p == '"') {
		rc = parse_quoted(c, flags, out, errstr_out);
		max += 2;	/* the limit counts what is between the quotes */
	} else
		rc = parse_dot_string(c, flags, out, errstr_out);
	if (rc == -1)
		return -1;
	len = (size_t)(c->p - start);
	if (len > max) {
		*errstr_out = addr_err_too_long;
		return -1;
	}
	memcpy(out->local, start, len);
	out->local[len] = '\0';
	return 0;
}

static int
is_postmaster(const char *local)
{
	static const char pm[] = "postmaster";

	for (size_t i = 0; i < sizeof(pm); i++)
		if (lower((unsigned char)local[i]) != pm[i])
			return 0;
	return 1;
}

static const char *
stop_reason(const struct cursor *c, const char *otherwise)
{
	if (c->p == c->end)
		return "missing >";
	if ((unsigned char)*c->p < 32 || *c->p == 127)
		return "control character in address";
	return otherwise;
}

/* After the local part: "@" domain, or Postmaster alone, then the path's end. */
static int
parse_rest(struct cursor *c, unsigned flags, int routed, struct addr *out,
    const char **errstr_out)
{
	const char *d;
	size_t dlen;

	if (c->p < c->end && *c->p == '@') {
		c->p++;
		if (parse_domain(c, flags, out, &d, &dlen, errstr_out) == -1)
			return -1;
		memcpy(out->domain, d, dlen);
		out->domain[dlen] = '\0';
	} else if (at_path_end(c) || c->p == c->end) {
		if (routed || (flags & ADDR_ALLOW_POSTMASTER) == 0 ||
		    !at_path_end(c) || !is_postmaster(out->local)) {
			*errstr_out = "missing domain";
			return -1;
		}
		out->is_postmaster = 1;
	} else {
		*errstr_out = stop_reason(c, "bad local part");
		return -1;
	}
	if (!at_path_end(c)) {
		*errstr_out = stop_reason(c, out->is_literal ?
		    "bad address literal" : "bad domain");
		return -1;
	}
	return 0;
}

int
addr_parse_path(const char *s, size_t len, unsigned flags, struct addr *out,
    const char **end_out, const char **errstr_out)
{
	struct cursor c = { s, s + len, 0 };
	size_t total;
	int routed = 0;

	memset(out, 0, sizeof(*out));
	if (len > 0 && s[0] == '<') {
		c.brackets = 1;
		c.p++;
	} else if ((flags & ADDR_ALLOW_NO_BRACKETS) == 0) {
		*errstr_out = "missing <";
		return -1;
	}

	if (c.brackets && c.p < c.end && *c.p == '>') {
		if ((flags & ADDR_ALLOW_NULL) == 0) {
			*errstr_out = "null path not allowed";
			return -1;
		}
		out->is_null = 1;
		*end_out = c.p + 1;
		return 0;
	}
	if (c.p < c.end && *c.p == '@') {
		if (parse_route(&c, flags, out, errstr_out) == -1)
			return -1;
		routed = 1;
	}
	if (c.p == c.end && c.brackets) {
		*errstr_out = "missing >";
		return -1;
	}
	if (parse_local(&c, flags, out, errstr_out) == -1 ||
	    parse_rest(&c, flags, routed, out, errstr_out) == -1)
		return -1;
	if (c.brackets)
		c.p++;
	/* The limit counts the brackets, even when the client left them out. */
	total = (size_t)(c.p - s) + (c.brackets ? 0 : 2);
	if (total > ADDR_PATH_MAX) {
		*errstr_out = addr_err_too_long;
		return -1;
	}
	*end_out = c.p;
	return 0;
}

int
addr_local_unquoted(const struct addr *a, char *buf, size_t bufsize)
{
	const char *l = a->local;
	size_t len = strlen(l), o = 0;

	if (bufsize == 0)
		return -1;
	if (len < 2 || l[0] != '"') {
		if (len >= bufsize) {
			buf[0] = '\0';
			return -1;
		}
		memcpy(buf, l, len + 1);
		return 0;
	}
	/* Between the quotes; a backslash stands for the byte after it. */
	for (size_t i = 1; i + 1 < len; i++) {
		if (l[i] == '\\' && i + 2 < len)
			i++;
		if (o + 1 >= bufsize) {
			buf[0] = '\0';
			return -1;
		}
		buf[o++] = l[i];
	}
	buf[o] = '\0';
	return 0;
}

int
addr_format(const struct addr *a, char *buf, size_t bufsize)
{
	int n;

	if (bufsize == 0)
		return -1;
	if (a->is_null) {
		buf[0] = '\0';
		return 0;
	}
	if (a->domain[0] == '\0')
		n = snprintf(buf, bufsize, "%s", a->local);
	else
		n = snprintf(buf, bufsize, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= bufsize) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}
