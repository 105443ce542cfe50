/*
 * conn - accepted connections, shared by smtpd, pop3d and imapd.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/cidr.h"
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
