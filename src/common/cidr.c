/*
 * cidr - network lists for mynetworks and access checks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"
#include "common/str.h"
#include "common/xalloc.h"

int
cidr_parse(const char *s, struct cidr *out)
{
	char buf[64];
	char *slash, *end;
	unsigned max;

	if (str_copy(buf, s, sizeof(buf)) == -1)
		return -1;
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else
		return -1;
	out->prefix = max;
	if (slash != NULL) {
		unsigned long p;
		if (*slash < '0' || *slash > '9')
			return -1;
		p = strtoul(slash, &end, 10);
		if (*end != '\0' || p > max)
			return -1;
		out->prefix = (unsigned)p;
	}
	return 0;
}

int
cidr_list_parse(struct cidr_list *list, const char *s, const char **bad_out)
{
	static char bad[64];
	char *copy = xstrdup(s);
	char *tokens[256];
	size_t n = str_split_list(copy, tokens, 256);
	struct cidr *items = xcalloc(n ? n : 1, sizeof(*items));

	for (size_t i = 0; i < n; i++) {
		if (cidr_parse(tokens[i], &items[i]) == -1) {
			str_copy(bad, tokens[i], sizeof(bad));
			if (bad_out != NULL)
				*bad_out = bad;
			free(items);
			free(copy);
			return -1;
		}
	}
	free(copy);
	cidr_list_clear(list);
	list->items = items;
	list->count = n;
	return 0;
}

void
cidr_list_clear(struct cidr_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int
prefix_match(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

/* Reduce sa to (family, bytes), unwrapping v4-mapped IPv6. */
static int
sockaddr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(out, &a6->s6_addr[12], 4);
			return AF_INET;
		}
		memcpy(out, a6, 16);
		return AF_INET6;
	}
	return -1;
}

int
cidr_list_match(const struct cidr_list *list, const struct sockaddr *sa)
{
	unsigned char bytes[16];
	int family = sockaddr_bytes(sa, bytes);

	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].family == family &&
		    prefix_match(bytes, list->items[i].addr, list->items[i].prefix))
			return 1;
	return 0;
}

int
cidr_is_loopback(const struct sockaddr *sa)
{
	static const unsigned char v6lo[16] = { [15] = 1 };
	unsigned char bytes[16];
	int family = sockaddr_bytes(sa, bytes);

	if (family == AF_INET)
		return bytes[0] == 127;
	if (family == AF_INET6)
		return memcmp(bytes, v6lo, 16) == 0;
	return 0;
}
