/*
 * conn - accepted connections, shared by smtpd, pop3d and imapd.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/cidr.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "net/conn.h"
#include "net/tls.h"

struct bufferevent *
conn_accept(struct event_base *base, struct tls_server *tls, int fd,
    const struct sockaddr *sa, struct conn_peer *peer)
{
	const void *ip;
	struct bufferevent *bev;
	int one = 1;

	ip = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, ip, peer->ip, sizeof(peer->ip)) == NULL)
		strcpy(peer->ip, "?");
	peer->loopback = cidr_is_loopback(sa);
	/*
	 * Replies are written whole; Nagle would hold the tail of one longer
	 * than a segment until the client's delayed ACK (40 ms).
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls != NULL)
		return tls_accept(tls, base, fd);	/* closes fd on failure */
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		close(fd);
	return bev;
}

const char *
conn_end_reason(struct bufferevent *bev, short what, int *tls_failure)
{
	unsigned long err;

	*tls_failure = 0;
	if (!(what & BEV_EVENT_ERROR))
		return "eof";
	if ((err = bufferevent_get_openssl_error(bev)) != 0) {
		const char *why = ERR_reason_error_string(err);
		*tls_failure = 1;
		return why != NULL ? why : "handshake failed";
	}
	return strerror(EVUTIL_SOCKET_ERROR());
}

/* --- connections per client address --- */

#define COUNTS_BUCKETS	1024	/* a power of two */

struct conn_count {
	struct conn_count	*next;
	int			 n;
	char			 ip[INET6_ADDRSTRLEN];
};

struct conn_counts {
	struct conn_count	*buckets[COUNTS_BUCKETS];
};

static struct conn_count **
count_slot(struct conn_counts *c, const char *ip)
{
	struct conn_count **pp;
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *p = ip; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (pp = &c->buckets[h & (COUNTS_BUCKETS - 1)]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->ip, ip) == 0)
			break;
	return pp;
}

struct conn_counts *
conn_counts_new(void)
{
	return xcalloc(1, sizeof(struct conn_counts));
}

void
conn_counts_free(struct conn_counts **cp)
{
	struct conn_counts *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < COUNTS_BUCKETS; i++)
		while (c->buckets[i] != NULL) {
			struct conn_count *e = c->buckets[i];
			c->buckets[i] = e->next;
			free(e);
		}
	free(c);
	*cp = NULL;
}

int
conn_counts_add(struct conn_counts *c, const char *ip)
{
	struct conn_count **pp = count_slot(c, ip);

	if (*pp == NULL) {
		*pp = xcalloc(1, sizeof(**pp));
		str_copy((*pp)->ip, ip, sizeof((*pp)->ip));
	}
	return ++(*pp)->n;
}

void
conn_counts_remove(struct conn_counts *c, const char *ip)
{
	struct conn_count **pp = count_slot(c, ip), *e = *pp;

	if (e == NULL)
		return;
	if (--e->n <= 0) {
		*pp = e->next;
		free(e);
	}
}
