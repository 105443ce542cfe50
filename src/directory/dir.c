/*
 * dir - address syntax shared by every directory back end.
 *
 * Canonical form is deliberately simple: ASCII letters lower-cased in both
 * parts, every other byte kept. Local parts are case-sensitive in theory
 * (RFC 5321 2.4) but no one relies on it, and one rule for lookups, storage
 * and Maildir paths avoids a whole class of "two mailboxes for one person"
 * mistakes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/str.h"
#include "directory/dir_private.h"

void
dir_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Reason why address is not plausible, or NULL. */
static const char *
address_problem(const char *address, const char *at, int allow_empty_local)
{
	size_t local_len, domain_len;

	if (*address == '\0')
		return "empty address";
	if (strlen(address) > DIR_ADDRESS_MAX)
		return "address too long";
	for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return "control character or space in address";
	if (at == NULL)
		return "missing '@'";
	local_len = (size_t)(at - address);
	domain_len = strlen(at + 1);
	if (local_len == 0 && !allow_empty_local)
		return "empty local part";
	if (local_len > DIR_LOCAL_MAX)
		return "local part longer than 64 octets";
	if (domain_len == 0)
		return "empty domain";
	if (domain_len > DIR_DOMAIN_MAX)
		return "domain longer than 255 octets";
	return NULL;
}

int
dir_split(const char *address, int allow_empty_local, char *local, char *domain,
    char *why, size_t whylen)
{
	char shown[128];
	const char *at, *problem;

	if (address == NULL)
		address = "";
	at = strrchr(address, '@');
	problem = address_problem(address, at, allow_empty_local);
	if (problem != NULL) {
		str_printable(shown, sizeof(shown), address, strlen(address));
		dir_why(why, whylen, "invalid address '%s': %s", shown, problem);
		return -1;
	}
	memcpy(local, address, (size_t)(at - address));
	local[at - address] = '\0';
	str_copy(domain, at + 1, DIR_DOMAIN_MAX + 1);
	str_lower_ascii(local);
	str_lower_ascii(domain);
	return 0;
}

int
dir_canonical(const char *address, char *out, char *why, size_t whylen)
{
	char local[DIR_LOCAL_MAX + 1], domain[DIR_DOMAIN_MAX + 1];

	if (dir_split(address, 0, local, domain, why, whylen) == -1)
		return -1;
	snprintf(out, DIR_ADDRESS_MAX + 1, "%s@%s", local, domain);
	return 0;
}

/*
 * Letters, digits and hyphens in dot-separated labels of 1-63 octets, or
 * UTF-8 bytes (internationalised names are kept as given). No address
 * literals: we host names, not IP addresses.
 */
int
dir_domain_name_ok(const char *domain)
{
	size_t label = 0, len = strlen(domain);

	if (len == 0 || len > 253)
		return 0;
	for (const unsigned char *p = (const unsigned char *)domain; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p >= 0x80))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* The local part names a folder under mail/<domain>/ (see maildir_path). */
int
dir_local_part_ok(const char *local)
{
	return local[0] != '\0' && local[0] != '.' && strchr(local, '/') == NULL;
}

const char *
dir_domain_kind_name(enum dir_domain_kind kind)
{
	switch (kind) {
	case DIR_DOMAIN_LOCAL:
		return "local";
	case DIR_DOMAIN_RELAY:
		return "relay";
	default:
		return "none";
	}
}
