/*
 * tls - server-side TLS for every listener, over libevent's OpenSSL
 * bufferevents (RFC 8314 implicit TLS, and STARTTLS/STLS upgrades).
 *
 * One tls_server per worker holds the SSL_CTX: TLS 1.2 minimum, no
 * compression, no renegotiation, the client's cipher preference for TLS
 * 1.3 defaults. tls_server_reload() swaps certificate and key; sessions
 * already running keep the context they started with.
 */
#ifndef TERN_NET_TLS_H
#define TERN_NET_TLS_H

#include <stddef.h>

struct bufferevent;
struct event_base;
struct tls_server;

/* Load cert (PEM, full chain) and key. NULL with why on error. */
struct tls_server	*tls_server_new(const char *cert_path, const char *key_path,
			    char *why, size_t whylen);
/* Reload cert and key from the same paths; on error the old ones stay. 0 or -1. */
int			 tls_server_reload(struct tls_server *tls, char *why, size_t whylen);
void			 tls_server_free(struct tls_server **tlsp);

/*
 * Implicit TLS: a bufferevent for the accepted fd that starts with the
 * handshake (BEV_OPT_CLOSE_ON_FREE). NULL on failure (fd closed).
 */
struct bufferevent	*tls_accept(struct tls_server *tls, struct event_base *base, int fd);
/*
 * STARTTLS/STLS: after the plain reply ("220 Ready to start TLS") has been
 * flushed, call this to put TLS over the same connection. Every byte the
 * client pipelined after the command is discarded (CVE-2011-0411 class).
 * plain is freed; the returned bufferevent owns the connection. NULL on
 * failure (connection closed).
 */
struct bufferevent	*tls_starttls(struct tls_server *tls, struct bufferevent *plain);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" of an established TLS bufferevent; "" if none. */
void			 tls_describe(struct bufferevent *bev, char *out, size_t outlen);
/* 1 when the bufferevent is a TLS one. */
int			 tls_active(struct bufferevent *bev);

#endif
