/*
 * tls - OpenSSL contexts and TLS bufferevents for the listeners.
 *
 * Settings follow RFC 8314/7525 practice: TLS 1.2 and 1.3 only, no
 * compression (CRIME), no renegotiation, and for TLS 1.3 OpenSSL's default
 * suites in the client's order. Clients that close without close_notify
 * are common in mail; libevent is told to accept that "dirty" shutdown.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "common/xalloc.h"
#include "net/tls.h"

struct tls_server {
	SSL_CTX	*ctx;
	char	*cert_path;
	char	*key_path;
};

static void
openssl_reason(char *why, size_t whylen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s %s: %s", what, path, e != 0 ? buf : "unknown error");
	ERR_clear_error();
}

static SSL_CTX *
make_ctx(const char *cert, const char *key, char *why, size_t whylen)
{
	static const unsigned char sid_ctx[] = "tern";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		openssl_reason(why, whylen, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		openssl_reason(why, whylen, "cannot load certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		openssl_reason(why, whylen, "cannot load key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason(why, whylen, "key does not match certificate", cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_server *
tls_server_new(const char *cert_path, const char *key_path, char *why, size_t whylen)
{
	struct tls_server *tls;
	SSL_CTX *ctx;

	if (cert_path == NULL || key_path == NULL) {
		snprintf(why, whylen, "[tls] cert and key are not set");
		return NULL;
	}
	ctx = make_ctx(cert_path, key_path, why, whylen);
	if (ctx == NULL)
		return NULL;
	tls = xcalloc(1, sizeof(*tls));
	tls->ctx = ctx;
	tls->cert_path = xstrdup(cert_path);
	tls->key_path = xstrdup(key_path);
	return tls;
}

int
tls_server_reload(struct tls_server *tls, char *why, size_t whylen)
{
	SSL_CTX *ctx = make_ctx(tls->cert_path, tls->key_path, why, whylen);

	if (ctx == NULL)
		return -1;
	/* SSL objects hold a reference to their context: running sessions are safe. */
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	return 0;
}

void
tls_server_free(struct tls_server **tlsp)
{
	struct tls_server *tls = *tlsp;

	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls->cert_path);
	free(tls->key_path);
	free(tls);
	*tlsp = NULL;
}

struct bufferevent *
tls_accept(struct tls_server *tls, struct event_base *base, int fd)
{
	SSL *ssl = SSL_new(tls->ctx);
	struct bufferevent *bev;

	if (ssl == NULL) {
		evutil_closesocket(fd);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *
tls_starttls(struct tls_server *tls, struct bufferevent *plain)
{
	struct event_base *base = bufferevent_get_base(plain);
	int fd;

	/*
	 * A socket bufferevent on a duplicate of the descriptor rather than a
	 * filter over the plain one: a filter keeps encrypted bytes in the
	 * plain buffer, and the last reply before a close could be lost.
	 * Whatever the client pipelined after STARTTLS was sent in the clear:
	 * what plain has read is dropped with it, and what is still in the
	 * socket is read as handshake data, which fails the handshake.
	 */
	fd = fcntl(bufferevent_getfd(plain), F_DUPFD_CLOEXEC, 0);
	bufferevent_free(plain);
	if (fd == -1)
		return NULL;
	return tls_accept(tls, base, fd);
}

int
tls_active(struct bufferevent *bev)
{
	return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

void
tls_describe(struct bufferevent *bev, char *out, size_t outlen)
{
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;

	if (ssl == NULL) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
