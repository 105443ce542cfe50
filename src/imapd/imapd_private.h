/*
 * imapd_private - what the files of src/imapd share: the server, the
 * session, and the calls between the session core and the commands.
 *
 * Threads: a session's commands run one at a time. Commands that touch
 * the store run on a pool thread (imapd_session_run()); meanwhile the
 * loop thread only buffers input for the session and never touches its
 * store, mailbox or job output. Everything else runs on the loop thread.
 */
#ifndef TERN_IMAPD_IMAPD_PRIVATE_H
#define TERN_IMAPD_IMAPD_PRIVATE_H

#include <sys/queue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "auth/login.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "common/buf.h"
#include "common/conf.h"
#include "directory/dir.h"
#include "imapd/imap_parse.h"
#include "store/store.h"

#define IMAPD_LINE_MAX		(64 * 1024)	/* one command line */
#define IMAPD_LITERALS_MAX	(64 * 1024)	/* literal bytes of one command (not APPEND) */
#define IMAPD_TIMEOUT_AUTH	180		/* seconds before login */
#define IMAPD_TIMEOUT		(31 * 60)	/* RFC 9051 5.4: at least 30 minutes */
#define IMAPD_OUT_HIGH		(256 * 1024)	/* a job stops producing above this */
#define IMAPD_OUT_LOW		(64 * 1024)	/* ... and goes on below this */
#define IMAPD_IN_MAX		(256 * 1024)	/* input read ahead */
#define IMAPD_IDLE_POLL_MS	500		/* IDLE: look for changes this often */
#define IMAPD_MMAP_THRESHOLD	(64 * 1024)	/* malloc: blocks above go to mmap */

struct event_base;
struct event;
struct bufferevent;
struct evbuffer;
struct pool;
struct worker;
struct conn_counts;
struct throttle;
struct tls_server;
struct imapd_session;

struct imapd_server {
	const struct conf	*conf;
	struct event_base	*base;
	struct pool		*pool;
	struct login_env	 login;		/* directory, throttle, password checks */
	struct tls_server	*tls;
	TAILQ_HEAD(, imapd_session) sessions;
	struct worker		*worker;
	struct conn_counts	*per_ip;	/* open sessions per client address */
};

enum imapd_state {
	IMAPD_S_NOTAUTH = 0,
	IMAPD_S_AUTH,
	IMAPD_S_SELECTED,
	IMAPD_S_LOGOUT,		/* BYE queued, closing after flush */
};

/* What a command handler that ran on the pool asks for next. */
enum imapd_run {
	IMAPD_RUN_DONE = 0,	/* the tagged reply is in the output */
	IMAPD_RUN_MORE,		/* output is full: call again once it drained */
};

/* A login handed to the pool. */
struct imapd_login {
	char		 address[DIR_ADDRESS_MAX + 1];
	char		 password[SASL_PASSWORD_MAX + 1];	/* LOGIN; wiped */
	struct sasl	*sasl;		/* AUTHENTICATE; else NULL */
	int		 mode;		/* imapd_login.c: password, SASL, open only */
	int		 result;
	char		 why[256];
	uint64_t	 quota;
	struct store	*store;
};

/* ENVELOPE and BODYSTRUCTURE read from the index cache ahead of a FETCH. */
struct imapd_cached {
	uint32_t	 uid;
	char		*envelope;
	char		*bodystructure;
};

/* Per-command state of a long command (FETCH) across IMAPD_RUN_MORE. */
struct imapd_progress {
	uint32_t	*uids;		/* the messages, resolved at the start */
	size_t		 n, next;
	int		 started;
	struct imapd_cached *cache;	/* of uids[next..cache_end) */
	size_t		 ncache, cache_end;
};

/* Free what a command kept in s->progress. */
void	imapd_progress_free(struct imapd_progress *p);

struct imapd_session {
	TAILQ_ENTRY(imapd_session) entry;
	struct imapd_server	*srv;
	struct bufferevent	*bev;
	enum conf_listener	 kind;
	char			 id[17];
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 loopback;
	enum imapd_state	 state;
	int			 errors;
	int			 job_pending;	/* a pool job refers to this session */
	int			 waiting;	/* job, delay or TLS switch: read no commands */
	int			 dead;		/* connection gone, free when the job ends */
	const char		*end_reason;

	/* input: one command, its literals included */
	struct buf		 cmdbuf;
	int			 skipping;	/* inside an overlong line */
	uint64_t		 lit_need;	/* literal bytes still to come */
	int			 lit_discard;	/* ... and thrown away (refused command) */
	size_t			 lit_total;	/* literal bytes of this command */
	int			 cmd_refused;	/* refused while reading: answer at its end */
	char			 refuse_text[160];
	char			 tag[IMAP_TAG_MAX + 1];

	/* the command running */
	struct imap_cmd		 cmd;
	int			 cmd_parsed;
	struct evbuffer		*out;		/* what a pool job writes */
	enum imapd_run		(*run)(struct imapd_session *);	/* pool handler */
	struct imapd_progress	 progress;

	/* login */
	struct sasl		*sasl;		/* AUTHENTICATE waiting for a line */
	struct imapd_login	 login;
	struct event		*timer;		/* failed-login delay, IDLE poll */
	char			 user[DIR_ADDRESS_MAX + 1];	/* who logged in */
	uint64_t		 quota;		/* bytes, 0 = none */

	/* enabled extensions */
	int			 utf8;		/* UTF8=ACCEPT or IMAP4rev2 */
	int			 rev2;
	int			 condstore;	/* CONDSTORE enabled or implied */
	int			 qresync;

	/* the selected mailbox */
	struct store		*store;
	struct store_mailbox	*mb;
	int			 readonly;	/* EXAMINE */
	char			 mbname[STORE_NAME_MAX];
	int			 idling;	/* IDLE: waiting for DONE */
	int			 end_pending;	/* a job asked to end the session (BYE sent) */

	/* SEARCH RETURN (SAVE): the messages "$" means, by UID (RFC 5182) */
	uint32_t		*saved_uids;
	size_t			 nsaved;

	/*
	 * IDLE closes the mailbox (its view is most of a session's memory) and
	 * keeps only what the client knows: the UIDs in sequence order and the
	 * MODSEQ of its state. A poll asks the index whether anything moved.
	 */
	int			 hibernating;
	uint32_t		*idle_uids;
	size_t			 idle_n;
	uint64_t		 idle_modseq;
	uint32_t		 idle_uidvalidity;
};

/* imapd.c */
void	imapd_server_session_gone(struct imapd_server *srv, struct imapd_session *s);

/* imapd_session.c */
void	imapd_session_start(struct imapd_server *srv, int fd, struct sockaddr *sa,
	    int salen, enum conf_listener kind);
void	imapd_session_shutdown(struct imapd_session *s);
/* Free everything the session holds (when no job runs). */
void	imapd_session_free(struct imapd_session *s);
/* Untagged or continuation text straight to the client (loop thread). */
void	imapd_send(struct imapd_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A tagged reply to the running command (loop thread); BAD/NO counted for
 * the error limit when error is set. */
void	imapd_tagged(struct imapd_session *s, int error, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Run s->run on the pool until it is done, then go on with the next command. */
void	imapd_session_run(struct imapd_session *s, enum imapd_run (*run)(struct imapd_session *));
/* The current command is finished (its reply is queued): read the next. */
void	imapd_command_done(struct imapd_session *s);
void	imapd_session_end(struct imapd_session *s, const char *reason);
void	imapd_set_timeout(struct imapd_session *s, int seconds);
/* 1 when a password may be sent now: TLS, or loopback when allowed. */
int	imapd_plaintext_ok(struct imapd_session *s);
/* CAPABILITY list for the current state, without "* CAPABILITY " */
void	imapd_capabilities(struct imapd_session *s, struct buf *out);

/* imapd_out.c: output of pool jobs (into s->out) */
void	imapd_out(struct imapd_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	imapd_out_bytes(struct imapd_session *s, const void *p, size_t n);
/* The tagged reply from a pool job. */
void	imapd_out_tagged(struct imapd_session *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A sequence set of ascending numbers, ranges joined: "1:3,7". */
void	imapd_out_set(struct imapd_session *s, const uint32_t *v, size_t n);
/* An IMAP astring/string: quoted or literal. */
void	imapd_out_string(struct imapd_session *s, const char *str);
/* A mailbox name as this client wants it (modified UTF-7 unless UTF-8 is on). */
void	imapd_out_mailbox(struct imapd_session *s, const char *name);
/* Decode a mailbox name from the client into the store's UTF-8 form, normalised.
 * 0, or -1 with a reason for a NO/BAD. */
int	imapd_mailbox_arg(struct imapd_session *s, const char *arg, char *out, size_t outlen,
	    const char **err);
/* "(\Seen \Flagged kw)" of a message. */
void	imapd_out_flags(struct imapd_session *s, const struct store_msg *m);
/* Map a tagged NO for a store status. */
const char *imapd_store_code(enum store_status st);

/* imapd_login.c (loop thread) */
void	imapd_cmd_login(struct imapd_session *s);
void	imapd_cmd_authenticate(struct imapd_session *s);
void	imapd_sasl_line(struct imapd_session *s, const char *line, size_t len);

/* imapd_mailbox.c (pool handlers) */
enum imapd_run imapd_run_list(struct imapd_session *s);
enum imapd_run imapd_run_create(struct imapd_session *s);
enum imapd_run imapd_run_delete(struct imapd_session *s);
enum imapd_run imapd_run_rename(struct imapd_session *s);
enum imapd_run imapd_run_subscribe(struct imapd_session *s);
enum imapd_run imapd_run_status(struct imapd_session *s);
enum imapd_run imapd_run_append(struct imapd_session *s);
enum imapd_run imapd_run_quota(struct imapd_session *s);
/* IMAP_FLAG_* as Maildir letters in Maildir order ("DFRST" subset); out >= 6 bytes. */
void	imapd_maildir_letters(unsigned system, char *out);

/* imapd_select.c (pool handlers) */
enum imapd_run imapd_run_select(struct imapd_session *s);
enum imapd_run imapd_run_close(struct imapd_session *s);
enum imapd_run imapd_run_expunge(struct imapd_session *s);
enum imapd_run imapd_run_noop(struct imapd_session *s);
/* IDLE's poll: report changes; the first one also closes the mailbox, later
 * ones reopen it only when the index moved (then close it again). */
enum imapd_run imapd_run_idle_poll(struct imapd_session *s);
/* Reopen the mailbox IDLE closed, reporting what changed meanwhile; -1 when
 * it is gone (a BYE is queued and end_pending set). */
int	imapd_wake(struct imapd_session *s);
void	imapd_idle_free(struct imapd_session *s);
/* Report changes of other sessions (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS). */
void	imapd_report_changes(struct imapd_session *s, int allow_expunge);
/* Resolve the command's set (sequence numbers or UIDs) into UIDs in the view,
 * ascending. *out is the caller's. -1 with a reason for a BAD (seq out of range). */
int	imapd_resolve_set(struct imapd_session *s, const struct imap_seqset *set, int uid,
	    uint32_t **out, size_t *nout, const char **err);
/* Forget the saved search result ("$" becomes empty). */
void	imapd_saved_clear(struct imapd_session *s);
/* Send EXPUNGE (or VANISHED) for messages that left the view at old positions seqs. */
void	imapd_out_expunged(struct imapd_session *s, const uint32_t *seqs, const uint32_t *uids,
	    size_t n);

/* imapd_fetch.c */
enum imapd_run imapd_run_fetch(struct imapd_session *s);
/*
 * The file of m, at most max bytes of it, NUL-terminated (caller frees);
 * NULL when it was expunged meanwhile or cannot be read.
 */
char	*imapd_msg_read(struct imapd_session *s, const struct store_msg *m, size_t max,
	    size_t *len_out);

/* imapd_update.c */
enum imapd_run imapd_run_store(struct imapd_session *s);
enum imapd_run imapd_run_copy(struct imapd_session *s);

/* imapd_search.c */
enum imapd_run imapd_run_search(struct imapd_session *s);
/* The header fields the index caches for SEARCH, from a message's header block. */
void	imapd_header_cache_block(const char *header, size_t len, struct buf *out);

#endif
