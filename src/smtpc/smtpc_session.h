/*
 * smtpc_session - deliver one message to the recipients of one domain
 * over SMTP: MX hosts in order, each address of a host in turn, one
 * transaction for all recipients (RFC 5321), STARTTLS whenever offered
 * (opportunistic: certificates are not verified, and a failed handshake
 * is retried once in the clear), EHLO with a HELO fallback, SIZE and
 * BODY=8BITMIME and SMTPUTF8 when the server offers them. An address
 * literal ("[192.0.2.1]") is connected to directly, without DNS.
 *
 * Outcome per recipient: code 2xx delivered, 5xx failed for good, 4xx or
 * 0 (not tried) to be tried again later. A 4xx or a broken connection
 * moves the recipients still open to the next MX host.
 *
 * Never ourselves: when an MX host is us (by name, or an address that is
 * one of our listeners), it and every MX of equal or worse preference are
 * dropped (RFC 5321 5.1, a backup MX passes mail only to better ones);
 * when nothing better is left, the recipients stay open with 4.4.6 "we
 * are the best MX".
 */
#ifndef TERN_SMTPC_SMTPC_SESSION_H
#define TERN_SMTPC_SMTPC_SESSION_H

#include <stddef.h>

#include "smtpc/smtpc_mx.h"

#define SMTPC_DIAG_MAX		512
#define SMTPC_REPLY_MAX		(64 * 1024)	/* one (multi-line) reply */
#define SMTPC_TIMEOUT_CONNECT	30
#define SMTPC_TIMEOUT_REPLY	300	/* RFC 5321 4.5.3.2: MAIL, RCPT, data blocks */
#define SMTPC_TIMEOUT_DOT	600	/* RFC 5321 4.5.3.2.6: after the final dot */

struct event_base;
struct smtpc_job;
typedef struct ssl_ctx_st SSL_CTX;

struct smtpc_rcpt {
	const char	*address;		/* local@domain */
	int		 code;			/* last reply code, 0 = not tried */
	char		 status[16];		/* enhanced status, ours if none given */
	char		 diag[SMTPC_DIAG_MAX];	/* "host said: 550 5.1.1 ..." */
};

struct smtpc_params {
	struct event_base	*base;
	struct smtpc_dns	*dns;
	SSL_CTX			*ssl;		/* client context, NULL = no STARTTLS */
	const char		*helo;		/* our host name */
	int			 port;		/* [queue] remote_port */
	const char		*domain;	/* the recipients' domain */
	/* ourselves (backup MX, loops): an MX by this name, or these addresses */
	const char		*self_name;	/* [server] hostname, NULL = none */
	const struct sockaddr_storage *self_addrs;	/* our listeners, port included */
	size_t			 nself;
	const char		*from;		/* "" = null sender */
	const char		*msg;		/* the message, CRLF lines */
	size_t			 msglen;
	struct smtpc_rcpt	*rcpts;
	size_t			 nrcpts;
	void			(*done)(void *arg);	/* once, on the loop thread */
	void			*arg;
};

/*
 * Start the delivery. The params (and everything they point to) must stay
 * valid until done runs; the results are in params->rcpts then. done is
 * never called from inside smtpc_start().
 */
struct smtpc_job	*smtpc_start(struct smtpc_params *params);
/*
 * Stop a delivery without calling done (worker shutdown). A job waiting
 * for DNS is freed when the resolver answers or is freed.
 */
void			 smtpc_cancel(struct smtpc_job *job);

#endif
