/*
 * pop3d_private - what the files of src/pop3d share: the server and the session.
 */
#ifndef TERN_POP3D_POP3D_PRIVATE_H
#define TERN_POP3D_POP3D_PRIVATE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pthread.h>

#include "auth/login.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "common/conf.h"
#include "directory/dir.h"
#include "net/linebuf.h"
#include "pop3d/pop3d_cmd.h"
#include "pop3d/pop3d_drop.h"
#include "pop3d/pop3d_stuff.h"
#include "store/store.h"

#define POP3D_TIMEOUT		600	/* RFC 1939 section 3: autologout >= 10 minutes */
#define POP3D_LINE_BUF		(SASL_LINE_MAX + 2)	/* AUTH responses are longer */
#define POP3D_OUT_HIGH		(256 * 1024)	/* stop producing output above this */
#define POP3D_OUT_LOW		(64 * 1024)	/* ... and go on below this */
#define POP3D_IN_MAX		(64 * 1024)	/* pipelined input read ahead */
#define POP3D_CHUNK		(32 * 1024)	/* file bytes per read for RETR/TOP */

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
struct pool;
struct worker;
struct conn_counts;
struct throttle;
struct tls_server;
struct pop3d_session;

struct pop3d_server {
	const struct conf	*conf;
	struct event_base	*base;
	struct pool		*pool;
	struct login_env	 login;		/* directory, throttle, password checks */
	struct tls_server	*tls;		/* NULL: no [tls] configured */
	TAILQ_HEAD(, pop3d_session) sessions;
	struct worker		*worker;	/* loop, pool, listeners, graceful stop */
	struct conn_counts	*per_ip;	/* open sessions per client address */
};

enum pop3d_state {
	POP3D_S_AUTHORIZATION = 0,
	POP3D_S_TRANSACTION,
	POP3D_S_UPDATE,		/* QUIT: the expunge runs on the pool */
	POP3D_S_STLS,		/* +OK sent, TLS starts once it is flushed */
	POP3D_S_CLOSING,	/* last reply queued, closing after flush */
};

enum pop3d_login_result {
	POP3D_LOGIN_OK = 0,
	POP3D_LOGIN_BAD,	/* unknown user, disabled, wrong password */
	POP3D_LOGIN_IN_USE,
	POP3D_LOGIN_TEMP,
	POP3D_LOGIN_CONTINUE,	/* SCRAM: send the server-first challenge */
};

/* A login handed to the pool: inputs, then results. */
struct pop3d_login {
	char			 address[DIR_ADDRESS_MAX + 1];	/* canonical, or "" */
	char			 password[SASL_PASSWORD_MAX + 1];	/* USER/PASS; wiped */
	struct sasl		*sasl;		/* AUTH; else NULL */
	int			 open_only;	/* SASL already succeeded (SCRAM): open */
	char			 challenge[SASL_CHALLENGE_MAX];
	enum pop3d_login_result	 result;
	char			 why[256];
	struct store		*store;
	struct store_mailbox	*mb;
};

/* QUIT's expunge handed to the pool. */
struct pop3d_update {
	uint32_t	*uids;
	size_t		 n;
	size_t		 removed;
	int		 rc;
	char		 why[256];
};

struct pop3d_session {
	TAILQ_ENTRY(pop3d_session) entry;
	struct pop3d_server	*srv;
	struct bufferevent	*bev;
	enum conf_listener	 kind;
	char			 id[17];
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 loopback;
	enum pop3d_state	 state;
	int			 errors;
	int			 job_pending;	/* a pool job refers to this session */
	int			 waiting;	/* job or failure delay: read no commands */
	int			 dead;		/* connection gone, free when the job ends */
	const char		*end_reason;
	char			 tls_info[128];
	struct linebuf		 lb;
	char			 line[POP3D_LINE_BUF];
	char			 user[DIR_ADDRESS_MAX + 1];	/* USER, as given */
	char			 login_name[DIR_ADDRESS_MAX + 1];	/* who logged in */
	struct sasl		*sasl;		/* AUTH exchange waiting for a line */
	struct pop3d_login	 login;
	struct pop3d_update	 update;
	struct event		*delay;		/* answer of a failed login, later */
	struct store		*store;
	struct store_mailbox	*mb;
	struct pop3d_drop	 drop;
	/* RETR/TOP in progress */
	int			 stream_fd;	/* -1 when none */
	struct pop3d_stuff	 stuff;
};

/* pop3d_session.c */
void	pop3d_session_start(struct pop3d_server *srv, int fd, struct sockaddr *sa,
	    int salen, enum conf_listener kind);
/* Server shutdown: end idle sessions now, the others after their job. */
void	pop3d_session_shutdown(struct pop3d_session *s);

/* pop3d.c */
void	pop3d_server_session_gone(struct pop3d_server *srv, struct pop3d_session *s);

/* pop3d_session.c: what the login code shares with the session */
void	pop3d_reply(struct pop3d_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A reply to a client mistake: counted; past max_errors the session ends. */
void	pop3d_reply_error(struct pop3d_session *s, const char *text);
/* Send what is queued, then close (never frees before returning). */
void	pop3d_session_end(struct pop3d_session *s, const char *reason);
void	pop3d_set_timeout(struct pop3d_session *s, int seconds);
/* Handle buffered input as far as the state allows. */
void	pop3d_session_process(struct pop3d_session *s);
void	pop3d_session_free(struct pop3d_session *s);

/* pop3d_login.c */
/* 1 when a password may be sent now: TLS, or loopback when allowed. */
int	pop3d_plaintext_ok(struct pop3d_session *s);
void	pop3d_login_user(struct pop3d_session *s, const struct pop3d_cmd *cmd);
void	pop3d_login_pass(struct pop3d_session *s, const struct pop3d_cmd *cmd);
void	pop3d_login_auth(struct pop3d_session *s, const struct pop3d_cmd *cmd);
/* One client line of an AUTH exchange in progress (s->sasl set). */
void	pop3d_login_sasl_step(struct pop3d_session *s, const char *b64, size_t len);

#endif
