/*
 * smtpc_session - deliver one message to the recipients of one domain
 * over SMTP: MX hosts in order, each address of a host in turn, one
 * transaction for all recipients (RFC 5321), STARTTLS whenever offered
 * (opportunistic: a certificate that does not verify is used anyway, and
 * the verification result is reported; a failed handshake is retried
 * once in the clear), EHLO with a HELO fallback, SIZE (a message over the
 * server's limit is not sent), BODY=8BITMIME, SMTPUTF8, PIPELINING (RFC
 * 2920: MAIL, every RCPT and DATA in one write) and DSN (RFC 3461: RET,
 * ENVID, NOTIFY and ORCPT passed on) when the server offers them. An
 * address literal ("[192.0.2.1]") is connected to directly, without DNS.
 *
 * Smarthost: with relay_host set, the recipients go there instead of to
 * their domain's MX hosts (relay_mx: to the MX hosts of relay_host). With
 * AUTH credentials, STARTTLS is required and a failed or missing TLS
 * defers the recipients: credentials are never sent in the clear.
 * Failures that only concern the smarthost (DNS, refused login) are
 * always temporary.
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
#define SMTPC_TLS_MAX		192	/* "TLSv1.3 TLS_AES_... certificate verified" */
#define SMTPC_REPLY_MAX		(64 * 1024)	/* one (multi-line) reply */
#define SMTPC_TIMEOUT_CONNECT	30
#define SMTPC_TIMEOUT_REPLY	300	/* RFC 5321 4.5.3.2: MAIL, RCPT, data blocks */
#define SMTPC_TIMEOUT_DOT	600	/* RFC 5321 4.5.3.2.6: after the final dot */

struct event_base;
struct smtpc_job;
struct smtpc_pool;
typedef struct ssl_ctx_st SSL_CTX;

struct smtpc_rcpt {
	const char	*address;		/* local@domain */
	unsigned	 notify;		/* RFC 3461 NOTIFY bits (SMTPC_NOTIFY_*), 0 = none */
	const char	*orcpt;			/* "rfc822;addr" (decoded), NULL or "" = none */
	/* results */
	int		 code;			/* last reply code, 0 = not tried */
	char		 status[16];		/* enhanced status, ours if none given */
	char		 diag[SMTPC_DIAG_MAX];	/* "550 5.1.1 ... (from host[addr], TLS ...)" */
	char		 tls[SMTPC_TLS_MAX];	/* TLS of the session that answered, "none" */
	int		 next_hop_dsn;		/* the answering server took DSN (RFC 3461) */
};

/* NOTIFY bits, the same values as the queue file's. */
#define SMTPC_NOTIFY_NEVER	0x1
#define SMTPC_NOTIFY_SUCCESS	0x2
#define SMTPC_NOTIFY_FAILURE	0x4
#define SMTPC_NOTIFY_DELAY	0x8

enum smtpc_ret {
	SMTPC_RET_NONE = 0,
	SMTPC_RET_FULL,
	SMTPC_RET_HDRS,
};

struct smtpc_params {
	struct event_base	*base;
	struct smtpc_dns	*dns;
	struct smtpc_pool	*pool;		/* reuse and limits, NULL = none */
	SSL_CTX			*ssl;		/* client context, NULL = no STARTTLS */
	const char		*helo;		/* our host name */
	int			 port;		/* [queue] remote_port */
	const char		*domain;	/* the recipients' domain */
	/* ourselves (backup MX, loops): an MX by this name, or these addresses */
	const char		*self_name;	/* [server] hostname, NULL = none */
	const struct sockaddr_storage *self_addrs;	/* our listeners, port included */
	size_t			 nself;
	/* a smarthost instead of the MX hosts of domain; NULL = none */
	const char		*relay_host;	/* name or address, no brackets */
	int			 relay_mx;	/* 1: the MX hosts of relay_host */
	const char		*auth_user;	/* AUTH PLAIN/LOGIN over TLS; NULL = no AUTH */
	const char		*auth_pass;
	const char		*from;		/* "" = null sender */
	enum smtpc_ret		 ret;		/* RFC 3461 RET of MAIL */
	const char		*envid;		/* RFC 3461 ENVID (decoded), NULL or "" = none */
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

/*
 * Connections shared by the jobs of one worker: at most max_per_dest open
 * to one address and port at once (a job waits for a slot), and after a
 * transaction a connection is reset and kept a few seconds for the next
 * message to that address (RFC 5321 4.1.4 RSET), which then skips the
 * connect, EHLO, STARTTLS and AUTH. Free it after every job is finished
 * or cancelled; parked connections are closed then.
 */
struct smtpc_pool	*smtpc_pool_new(struct event_base *base, int max_per_dest);
void			 smtpc_pool_free(struct smtpc_pool **poolp);

/*
 * RFC 3461 4 xtext: bytes outside 33-126, '+' and '=' as "+XX". Writes at
 * most outlen bytes with the NUL; -1 when it does not fit.
 */
int			 smtpc_xtext(const char *in, char *out, size_t outlen);

#endif
