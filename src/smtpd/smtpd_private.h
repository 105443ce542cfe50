/*
 * smtpd_private - what the files of src/smtpd share: the server and the session.
 */
#ifndef TERN_SMTPD_SMTPD_PRIVATE_H
#define TERN_SMTPD_SMTPD_PRIVATE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "auth/sasl.h"
#include "common/conf.h"
#include "deliver/deliver.h"
#include "directory/dir.h"
#include "mail/addr.h"
#include "net/linebuf.h"
#include "queue/queue_file.h"
#include "smtpd/smtpd_cmd.h"
#include "smtpd/smtpd_msg.h"

struct event_base;
struct evconnlistener;
struct bufferevent;
struct pool;
struct worker;
struct conn_counts;
struct throttle;
struct smtpd_session;
struct tls_server;

struct smtpd_server {
	const struct conf	*conf;
	struct event_base	*base;
	struct pool		*pool;
	struct dir		*dir;
	struct tls_server	*tls;		/* NULL: no [tls] configured */
	struct throttle		*throttle;	/* failed AUTH per address and account */
	char			 spool_dir[PATH_MAX];
	char			 queue_dir[PATH_MAX];	/* remote recipients go here */
	TAILQ_HEAD(, smtpd_session) sessions;
	struct worker		*worker;	/* loop, pool, listeners, graceful stop */
	struct conn_counts	*per_ip;	/* open sessions per client address */
};

enum smtpd_state {
	SMTPD_S_CONNECTED = 0,	/* greeting sent, no HELO yet */
	SMTPD_S_HELO,		/* HELO/EHLO done, no transaction */
	SMTPD_S_MAIL,		/* MAIL accepted */
	SMTPD_S_RCPT,		/* at least one RCPT accepted */
	SMTPD_S_DATA,		/* reading DATA lines */
	SMTPD_S_BDAT,		/* between or inside BDAT chunks */
	SMTPD_S_COMMIT,		/* message handed to the pool */
	SMTPD_S_STARTTLS,	/* 220 sent, TLS starts once it is flushed */
	SMTPD_S_AUTH,		/* 334 sent, reading a SASL response line */
	SMTPD_S_AUTH_WAIT,	/* credentials checked on the pool, or failure delay */
	SMTPD_S_CLOSING,	/* last reply queued, closing after flush */
};

struct smtpd_rcpt {
	char	 address[ADDR_PATH_MAX + 1];
	/* RFC 3461, for a success report when delivered into a mailbox here */
	unsigned notify;			/* 0 unless it has mailboxes here */
	char	 orcpt[ADDR_PATH_MAX + 16];
};

struct smtpd_tx {
	char			 msgid[13];
	char			 from[ADDR_PATH_MAX + 1];	/* "" for <> */
	int			 smtputf8;
	int			 eightbit;
	uint64_t		 size_declared;
	struct smtpd_rcpt	*rcpts;
	size_t			 nrcpts;
	struct deliver_target	*targets;	/* distinct mailboxes */
	size_t			 ntargets;
	struct smtpd_msg	 msg;
	int			 msg_open;
	int			 data_prev_crlf;	/* last DATA line ended in CRLF */
	uint64_t		 bdat_left;		/* bytes of the current chunk still to read */
	int			 bdat_last;
	int			 bdat_discard;		/* chunk read only to stay in step */
	struct deliver_job	 job;
	struct queue_envelope	 remote;	/* non-local recipients, DSN parameters */
};

struct smtpd_session {
	TAILQ_ENTRY(smtpd_session) entry;
	struct smtpd_server	*srv;
	struct bufferevent	*bev;
	enum conf_listener	 kind;
	char			 id[17];
	struct sockaddr_storage	 peer;
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 mynetwork;
	enum smtpd_state	 state;
	char			 helo[256];
	int			 esmtp;
	char			 tls_info[128];		/* "TLSv1.3 TLS_AES_..." once up */
	int			 errors;
	int			 commit_pending;	/* a pool job refers to this session */
	int			 dead;			/* connection gone, free when job ends */
	const char		*end_reason;		/* static, for the disconnect log line */
	struct linebuf		 lb;
	char			 line[SASL_LINE_MAX + 2];	/* the longest line we take */

	/* AUTH (smtpd_auth.c) */
	char			 auth_user[DIR_ADDRESS_MAX + 1];	/* "" = not authenticated */
	struct sasl		*sasl;
	struct dir_user		 auth_cred;		/* for the pool job, wiped after */
	enum sasl_status	 auth_status;
	char			 auth_challenge[SASL_CHALLENGE_MAX];
	const char		*auth_reply;		/* static, sent after the delay */
	struct event		*auth_timer;
	struct smtpd_tx		 tx;
};

/* smtpd_session.c */
void	smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A reply to a client mistake: counted; past max_errors the session ends. */
void	smtpd_reply_error(struct smtpd_session *s, const char *text);
void	smtpd_set_timeout(struct smtpd_session *s, uint64_t seconds);
/* Handle buffered input as far as the state allows. */
void	smtpd_session_process(struct smtpd_session *s);
void	smtpd_session_free(struct smtpd_session *s);
void	smtpd_session_start(struct smtpd_server *srv, int fd, struct sockaddr *sa,
	    int salen, enum conf_listener kind);
/* Server shutdown: close idle sessions now, the others after their transaction. */
void	smtpd_session_shutdown(struct smtpd_session *s);

/* smtpd_auth.c */
/* 1 when AUTH may be used now: TLS, or loopback with allow_plaintext_loopback. */
int	smtpd_auth_allowed(struct smtpd_session *s);
void	smtpd_auth_start(struct smtpd_session *s, const struct smtpd_cmd *cmd);
void	smtpd_auth_response(struct smtpd_session *s, const char *line, size_t len);
/* 1 when the authenticated user may use address as a sender. */
int	smtpd_auth_owns(struct smtpd_session *s, const char *address);
/* 1 when every address of a From: header value is the user's. */
int	smtpd_auth_from_ok(struct smtpd_session *s, const char *value);

/* smtpd_tx.c: transaction bookkeeping */
void	smtpd_tx_reset(struct smtpd_session *s);
int	smtpd_tx_add_target(struct smtpd_session *s, const char *path, uint64_t quota);
int	smtpd_tx_begin_message(struct smtpd_session *s);
/* A recipient for the outbound queue (deduplicated); -1 when it cannot be kept. */
int	smtpd_tx_add_remote(struct smtpd_session *s, const char *address, unsigned notify,
	    const char *orcpt);
/*
 * Pool thread: make the message durable for every recipient or for none:
 * the queue entry (if any remote recipient) is written and fsync'd, the
 * local delivery committed, then the entry renamed into queue/. Result in
 * tx->job.status / why, as deliver_commit().
 */
void	smtpd_tx_commit(struct smtpd_session *s);

/* smtpd.c */
void	smtpd_server_session_gone(struct smtpd_server *srv, struct smtpd_session *s);

#endif
