/*
 * listener - address parsing and socket binding for [listen].
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "net/listener.h"

static int
parse_one(const char *tok, struct listener_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_text;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (tok[0] == '[') {
		const char *close = strchr(tok, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - tok - 1) >= sizeof(host))
			return -1;
		memcpy(host, tok + 1, (size_t)(close - tok - 1));
		host[close - tok - 1] = '\0';
		port_text = close + 2;
	} else {
		const char *colon = strrchr(tok, ':');
		if (colon == NULL || (size_t)(colon - tok) >= sizeof(host))
			return -1;
		memcpy(host, tok, (size_t)(colon - tok));
		host[colon - tok] = '\0';
		port_text = colon + 1;
	}
	port = strtol(port_text, &end, 10);
	if (*port_text == '\0' || *end != '\0' || port < 0 || port > 65535)
		return -1;

	struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*s4);
		snprintf(out->text, sizeof(out->text), "%s:%ld", host, port);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*s6);
		snprintf(out->text, sizeof(out->text), "[%s]:%ld", host, port);
	} else
		return -1;
	return 0;
}

int
listener_parse(const char *spec, struct listener_addr *out, size_t max,
    char *why, size_t whylen)
{
	char *copy, *tokens[LISTENER_MAX_ADDRS + 1];
	size_t n;

	if (spec == NULL)
		return 0;
	copy = xstrdup(spec);
	n = str_split_list(copy, tokens, LISTENER_MAX_ADDRS + 1);
	if (n > max) {
		snprintf(why, whylen, "too many addresses (at most %zu)", max);
		free(copy);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_one(tokens[i], &out[i]) == -1) {
			snprintf(why, whylen, "bad listen address '%s' (want addr:port or [addr6]:port)",
			    tokens[i]);
			free(copy);
			return -1;
		}
	}
	free(copy);
	return (int)n;
}

int
listener_bind(const struct listener_addr *addr, char *why, size_t whylen)
{
	int fd, one = 1;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(why, whylen, "%s: socket: %s", addr->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) == -1 ||
	    listen(fd, 511) == -1) {
		snprintf(why, whylen, "%s: cannot listen: %s", addr->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
