/*
 * fuzz_addr - libFuzzer target for the RFC 5321 path parser.
 *
 * The first byte picks the flags, the rest is the path. Beyond "no crash",
 * it checks what callers rely on: fields terminated and within their
 * limits, the end pointer inside the input, and a parsed path that, once
 * formatted, parses again to the same address.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_parsed(const struct addr *a, unsigned flags)
{
	char buf[ADDR_PATH_MAX + 8], unq[ADDR_LOCAL_MAX + 1];
	struct addr again;
	const char *end, *err;
	size_t n;

	if (strnlen(a->local, sizeof(a->local)) > ADDR_LOCAL_MAX + 2 ||
	    strnlen(a->domain, sizeof(a->domain)) > ADDR_DOMAIN_MAX)
		abort();
	if (a->has_utf8 && (flags & ADDR_ALLOW_UTF8) == 0)
		abort();
	if (!a->is_null && !a->is_postmaster && a->domain[0] == '\0')
		abort();
	if (a->domain[0] != '\0' && !(a->is_literal ?
	    addr_literal_valid(a->domain, strlen(a->domain)) :
	    addr_domain_valid(a->domain, strlen(a->domain),
	    (flags & ADDR_ALLOW_UTF8) != 0)))
		abort();
	if (addr_local_unquoted(a, unq, sizeof(unq)) == -1)
		abort();

	/* Round trip: "<" formatted ">" must give the same address back. */
	buf[0] = '<';
	if (addr_format(a, buf + 1, sizeof(buf) - 2) == -1)
		abort();
	n = strlen(buf);
	buf[n++] = '>';
	if (addr_parse_path(buf, n, flags, &again, &end, &err) == -1)
		abort();
	if (end != buf + n || strcmp(again.local, a->local) != 0 ||
	    strcmp(again.domain, a->domain) != 0 || again.is_null != a->is_null ||
	    again.is_postmaster != a->is_postmaster ||
	    again.is_literal != a->is_literal)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a;
	const char *s, *end = NULL, *err = NULL;
	unsigned flags;
	size_t len;

	if (size == 0)
		return 0;
	flags = data[0] & (ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER |
	    ADDR_ALLOW_UTF8 | ADDR_ALLOW_NO_BRACKETS);
	s = (const char *)data + 1;
	len = size - 1;

	if (addr_parse_path(s, len, flags, &a, &end, &err) == 0) {
		if (end < s || end > s + len)
			abort();
		check_parsed(&a, flags);
	} else if (err == NULL)
		abort();

	(void)addr_domain_valid(s, len, (flags & ADDR_ALLOW_UTF8) != 0);
	(void)addr_literal_valid(s, len);
	return 0;
}
