/*
 * queue_file - the on-disk queue entry and the one way into the queue.
 *
 * One file per message, queue/<id>: a text envelope (sender, recipients
 * with their state, attempts, next try, DSN parameters), an empty line,
 * then the message exactly as it will be sent (CRLF line ends). Every
 * writer (smtpd for remote recipients, the queue worker for bounces) goes
 * through queue_enqueue*(): tmp file + fsync + rename + fsync(dir). Only
 * the queue worker rewrites an entry (new recipient states) or removes it.
 * Everything here blocks on the disk: call it from a pool thread or a CLI.
 */
#ifndef TERN_QUEUE_QUEUE_FILE_H
#define TERN_QUEUE_QUEUE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mail/addr.h"

#define QUEUE_ID_MAX		32	/* id text, NUL included */
#define QUEUE_DIAG_MAX		512	/* last reply or error, one line */
#define QUEUE_ENVID_MAX		101	/* RFC 3461 4.4 */
#define QUEUE_ENVELOPE_MAX	(1024 * 1024)	/* envelope bytes before the message */
#define QUEUE_RCPT_MAX		10000	/* recipients of one entry */

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING = 0,	/* still to be delivered */
	QUEUE_RCPT_DONE,	/* accepted by the next hop or a mailbox */
	QUEUE_RCPT_FAILED,	/* failed for good; the bounce (if any) is enqueued */
};

/* RFC 3461 NOTIFY bits; 0 = not given (default: failures are reported). */
#define QUEUE_NOTIFY_NEVER	0x1
#define QUEUE_NOTIFY_SUCCESS	0x2
#define QUEUE_NOTIFY_FAILURE	0x4
#define QUEUE_NOTIFY_DELAY	0x8

enum queue_ret {
	QUEUE_RET_DEFAULT = 0,	/* as HDRS for a bounce */
	QUEUE_RET_FULL,
	QUEUE_RET_HDRS,
};

struct queue_rcpt {
	char			 address[ADDR_PATH_MAX + 1];	/* local@domain, no < > */
	char			 orcpt[ADDR_PATH_MAX + 16];	/* RFC 3461 ORCPT, "" none */
	enum queue_rcpt_state	 state;
	unsigned		 notify;
	char			 status[16];	/* enhanced status of the last try, "" none */
	char			 diag[QUEUE_DIAG_MAX];	/* last reply or error, "" none */
};

struct queue_envelope {
	char			 id[QUEUE_ID_MAX];
	char			 from[ADDR_PATH_MAX + 1];	/* "" = null sender */
	time_t			 created;
	time_t			 next_try;
	time_t			 last_try;	/* 0 = never tried */
	int			 attempts;
	enum queue_ret		 ret;
	char			 envid[QUEUE_ENVID_MAX];
	char			 last_error[QUEUE_DIAG_MAX];
	int			 delay_notified;	/* the delay DSN was sent ("delayed 1") */
	struct queue_rcpt	*rcpts;
	size_t			 nrcpts;
	/* filled by parse/load: where the message starts, and its size */
	uint64_t		 msg_offset;
	uint64_t		 msg_size;
};

/* A new entry id: time and random hex, unique enough for a file name. */
void	queue_file_new_id(char *out, size_t outlen);
/* 1 when name looks like an entry id (hex only, sensible length). */
int	queue_file_id_ok(const char *name);

/* Append a recipient (pending); -1 when the address cannot be stored. */
int	queue_envelope_add_rcpt(struct queue_envelope *env, const char *address);
/* Free the recipients; the struct can be reused after memset. */
void	queue_envelope_free(struct queue_envelope *env);
/* Count of recipients in state. */
size_t	queue_envelope_count(const struct queue_envelope *env, enum queue_rcpt_state state);

/*
 * The envelope as text, empty line included, in new memory (*out, *len_out;
 * the caller frees). -1 when a field cannot be written (control bytes in an
 * address): nothing is allocated then.
 */
int	queue_envelope_format(const struct queue_envelope *env, char **out, size_t *len_out);
/*
 * Parse the envelope at the start of data (pure; fuzzed). On success the
 * envelope is filled (free it), msg_offset is where the message starts and
 * msg_size what follows it in data. -1 with a static reason otherwise.
 */
int	queue_envelope_parse(const char *data, size_t len, struct queue_envelope *env,
	    const char **errstr_out);

/*
 * Two-step enqueue so that a caller can make other work (local delivery)
 * and the queue entry succeed or fail together: prepare writes and fsyncs
 * queue/.tmp-<id>; commit renames it to queue/<id> and fsyncs the
 * directory; abort removes the tmp file. The message comes from msg_fd
 * (from offset msg_off to its end) when msg_fd >= 0, else from msg/msglen.
 */
struct queue_enqueue {
	char	dir[4096];
	char	tmp[4200];
	char	final[4200];
	int	prepared;
};

int	queue_enqueue_prepare(struct queue_enqueue *q, const char *queue_dir,
	    const struct queue_envelope *env, int msg_fd, off_t msg_off,
	    const void *msg, size_t msglen, const char **errstr_out);
int	queue_enqueue_commit(struct queue_enqueue *q, const char **errstr_out);
void	queue_enqueue_abort(struct queue_enqueue *q);
/* prepare + commit in one call. */
int	queue_enqueue(const char *queue_dir, const struct queue_envelope *env, int msg_fd,
	    off_t msg_off, const void *msg, size_t msglen, const char **errstr_out);

/*
 * Read the envelope of queue_dir/<id> (the message is not read). -1 with
 * errno ENOENT when the entry is gone, or with *errstr_out set for a
 * damaged file (errno EINVAL).
 */
int	queue_file_load(const char *queue_dir, const char *id, struct queue_envelope *env,
	    const char **errstr_out);
/* The message of an entry (after queue_file_load) in new memory; -1 on error. */
int	queue_file_read_message(const char *queue_dir, const struct queue_envelope *env,
	    char **out, size_t *len_out);
/*
 * Store a new envelope for an existing entry, keeping its message: tmp +
 * fsync + rename + fsync(dir). -1 with errno ENOENT when the entry was
 * removed meanwhile (tern queue delete): then nothing is written.
 */
int	queue_file_rewrite(const char *queue_dir, const struct queue_envelope *env,
	    const char **errstr_out);
/* Remove an entry (durably); 0, or -1 with errno. */
int	queue_file_remove(const char *queue_dir, const char *id);

#endif
