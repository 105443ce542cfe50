/*
 * queue_dsn - delivery status notifications (RFC 3464 bounces).
 *
 * A bounce is a multipart/report to the envelope sender with a readable
 * part, the message/delivery-status part (one block per failed
 * recipient) and the original header block (text/rfc822-headers; the
 * whole message as message/rfc822 when the sender asked for RET=FULL).
 * It is enqueued like any other message, with the null sender, so a
 * bounce itself never bounces.
 */
#ifndef TERN_QUEUE_QUEUE_DSN_H
#define TERN_QUEUE_QUEUE_DSN_H

#include <stddef.h>
#include <time.h>

#include "queue/queue_file.h"

#define QUEUE_DSN_FULL_MAX	(1024 * 1024)	/* RET=FULL copies at most this much */

/* which[] values of a success report (RFC 3464 2.3.3 Action). */
#define QUEUE_DSN_DELIVERED	1	/* into a mailbox here */
#define QUEUE_DSN_RELAYED	2	/* to a next hop without DSN (RFC 3461 6.2.1) */

/*
 * Build the bounce for the recipients of env marked in which[] (one flag
 * per recipient, nonzero = report it; their status and diag say why).
 * msg is the original message. The result is new memory (*out, *len_out).
 */
void	queue_dsn_build(const struct queue_envelope *env, const unsigned char *which,
	    const char *hostname, const char *msg, size_t msglen, time_t now,
	    char **out, size_t *len_out);
/*
 * Build and enqueue that bounce into queue_dir for env->from. Nothing is
 * sent (and 0 returned) for a null sender or when no recipient is marked
 * or every marked one has NOTIFY without FAILURE. id_out (QUEUE_ID_MAX)
 * gets the new entry's id, "" when none was made. -1 with a reason.
 */
int	queue_dsn_enqueue(const char *queue_dir, const struct queue_envelope *env,
	    const unsigned char *which, const char *hostname, const char *msg,
	    size_t msglen, time_t now, char *id_out, const char **errstr_out);

/*
 * A delay notice (RFC 3464 Action: delayed) for the recipients marked in
 * which (still open; their status and diag say why), with the moment the
 * queue gives up (Will-Retry-Until). The original header block is attached.
 */
void	queue_dsn_build_delay(const struct queue_envelope *env, const unsigned char *which,
	    const char *hostname, const char *msg, size_t msglen, time_t now,
	    time_t retry_until, char **out, size_t *len_out);
/*
 * Build and enqueue that notice, like queue_dsn_enqueue(): nothing for a
 * null sender, or when no marked recipient wants it (NOTIFY given without
 * DELAY; without NOTIFY a delay is reported).
 */
int	queue_dsn_enqueue_delay(const char *queue_dir, const struct queue_envelope *env,
	    const unsigned char *which, const char *hostname, const char *msg,
	    size_t msglen, time_t now, time_t retry_until, char *id_out,
	    const char **errstr_out);

/*
 * A success report (RFC 3461 NOTIFY=SUCCESS): which[i] is 0, or
 * QUEUE_DSN_DELIVERED / QUEUE_DSN_RELAYED for the recipient's Action.
 * Only recipients whose NOTIFY has SUCCESS are reported (without NOTIFY,
 * success is never reported); the original header block is attached
 * whatever RET says (RFC 3461 4.3). Nothing for a null sender.
 */
void	queue_dsn_build_success(const struct queue_envelope *env, const unsigned char *which,
	    const char *hostname, const char *msg, size_t msglen, time_t now,
	    char **out, size_t *len_out);
int	queue_dsn_enqueue_success(const char *queue_dir, const struct queue_envelope *env,
	    const unsigned char *which, const char *hostname, const char *msg,
	    size_t msglen, time_t now, char *id_out, const char **errstr_out);

#endif
