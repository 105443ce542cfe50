/*
 * cidr - lists of IPv4/IPv6 networks ("127.0.0.0/8 ::1/128") and matching.
 */
#ifndef TERN_COMMON_CIDR_H
#define TERN_COMMON_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	prefix;
};

struct cidr_list {
	struct cidr	*items;
	size_t		 count;
};

/* Parse one "addr[/prefix]"; 0, or -1 on bad syntax. */
int	cidr_parse(const char *s, struct cidr *out);
/*
 * Parse a space- or comma-separated list into list (replacing its contents).
 * On error returns -1 and points *bad_out at a static copy of the bad token.
 */
int	cidr_list_parse(struct cidr_list *list, const char *s, const char **bad_out);
void	cidr_list_clear(struct cidr_list *list);
/* 1 when sa (AF_INET, AF_INET6, or a v4-mapped v6 address) is in the list. */
int	cidr_list_match(const struct cidr_list *list, const struct sockaddr *sa);
/* 1 when sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
int	cidr_is_loopback(const struct sockaddr *sa);

#endif
