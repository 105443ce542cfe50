/*
 * conn - what every server does with a connection it accepted: note the
 * client's address, switch Nagle off, wrap the socket in a bufferevent
 * (with TLS for an implicit-TLS listener), and name the cause of a
 * connection's end.
 */
#ifndef TERN_NET_CONN_H
#define TERN_NET_CONN_H

#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct bufferevent;
struct event_base;
struct tls_server;

struct conn_peer {
	char	ip[INET6_ADDRSTRLEN];	/* printable address */
	int	loopback;		/* 127.0.0.0/8 or ::1 */
};

/*
 * A bufferevent for the accepted socket fd (closed on failure and when the
 * bufferevent is freed), the TLS handshake started when tls is not NULL
 * (RFC 8314 implicit TLS). Fills *peer from sa. NULL on failure.
 */
struct bufferevent *conn_accept(struct event_base *base, struct tls_server *tls, int fd,
		    const struct sockaddr *sa, struct conn_peer *peer);

/*
 * Why the connection ended, for the event callback's what: a TLS failure's
 * reason (*tls_failure set), the socket error, or "eof". Static or in buf.
 */
const char	*conn_end_reason(struct bufferevent *bev, short what, int *tls_failure);

/*
 * Open connections per client address, for a per-address limit without a
 * scan of every session at each connect (an IMAP worker holds thousands).
 * Loop thread only.
 */
struct conn_counts;

struct conn_counts *conn_counts_new(void);
void		 conn_counts_free(struct conn_counts **cp);
/* One more connection from ip; returns how many are open from it now. */
int		 conn_counts_add(struct conn_counts *c, const char *ip);
/* One connection from ip ended. */
void		 conn_counts_remove(struct conn_counts *c, const char *ip);

#endif
