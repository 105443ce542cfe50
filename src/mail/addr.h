/*
 * addr - RFC 5321 mail paths and addresses (pure, no I/O).
 *
 * addr_parse_path() parses the argument of MAIL FROM: / RCPT TO: from the
 * '<' up to the matching '>', and leaves the caller at the ESMTP parameters.
 * Source routes ("<@a,@b:user@d>") are accepted and dropped (RFC 5321 4.1.2,
 * C.6). The local part is kept as written in the path, quotes and all, so it
 * can be written back unchanged; addr_local_unquoted() gives its value.
 */
#ifndef TERN_MAIL_ADDR_H
#define TERN_MAIL_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 (octets) */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* RFC 5321 4.5.3.1.3, including < > */

struct addr {
	char	local[ADDR_LOCAL_MAX + 3];	/* as written; +2 for quotes */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* as written: name or [literal] */
	int	is_null;			/* "<>" */
	int	is_postmaster;			/* "<Postmaster>" without domain */
	int	has_utf8;			/* non-ASCII bytes in local or domain */
	int	is_literal;			/* domain is an address literal */
};

enum addr_flags {
	ADDR_ALLOW_NULL = 1 << 0,	/* MAIL FROM:<> */
	ADDR_ALLOW_POSTMASTER = 1 << 1,	/* RCPT TO:<Postmaster> */
	ADDR_ALLOW_UTF8 = 1 << 2,	/* SMTPUTF8 given (RFC 6531) */
	ADDR_ALLOW_NO_BRACKETS = 1 << 3, /* tolerate "MAIL FROM: user@d" (common clients) */
};

/*
 * Parse a path at s (len bytes, need not be terminated). On success returns
 * 0, fills out and sets *end_out to the byte after the path. On failure
 * returns -1 and sets *errstr_out to a short static reason ("bad domain").
 * With ADDR_ALLOW_UTF8 unset, a non-ASCII byte fails with the reason
 * "non-ASCII address without SMTPUTF8" and out->has_utf8 set, so the caller
 * can answer 553 5.6.7.
 */
int	addr_parse_path(const char *s, size_t len, unsigned flags, struct addr *out,
	    const char **end_out, const char **errstr_out);

/* Write local part's unquoted value into buf (size bufsize); -1 if it does not fit. */
int	addr_local_unquoted(const struct addr *a, char *buf, size_t bufsize);
/* Write "local@domain" (local as written) into buf; "" for the null path. -1 if too long. */
int	addr_format(const struct addr *a, char *buf, size_t bufsize);
/* 1 when the text is a valid domain name (LDH labels, or UTF-8 labels if utf8). */
int	addr_domain_valid(const char *domain, size_t len, int utf8);
/*
 * 1 when the text is an RFC 5321 address literal, brackets included:
 * "[192.0.2.1]" or "[IPv6:2001:db8::1]". Other tags are not registered, so
 * a General-address-literal is refused.
 */
int	addr_literal_valid(const char *s, size_t len);

/*
 * The reason addr_parse_path() gives when the local part, the domain or the
 * whole path is over its limit, so callers can answer "501 Path too long"
 * (RFC 5321 4.5.3.1.10). Compare the pointer.
 */
extern const char addr_err_too_long[];

#endif
