/*
 * smtpd_tx - one mail transaction: recipients, the spool file, the commit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "queue/queue_dsn.h"
#include "smtpd/smtpd_private.h"

void
smtpd_tx_reset(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;

	if (tx->msg_open)
		smtpd_msg_discard(&tx->msg);
	free(tx->rcpts);
	free(tx->targets);
	queue_envelope_free(&tx->remote);
	memset(tx, 0, sizeof(*tx));
	tx->msg.fd = -1;
}

int
smtpd_tx_add_target(struct smtpd_session *s, const char *path, uint64_t quota)
{
	struct smtpd_tx *tx = &s->tx;

	for (size_t i = 0; i < tx->ntargets; i++)
		if (strcmp(tx->targets[i].path, path) == 0)
			return 0;
	tx->targets = xreallocarray(tx->targets, tx->ntargets + 1, sizeof(*tx->targets));
	struct deliver_target *t = &tx->targets[tx->ntargets++];
	memset(t, 0, sizeof(*t));
	if (str_copy(t->path, path, sizeof(t->path)) == -1)
		return -1;
	t->quota = quota;
	return 0;
}

/* RFC 5322 date-time of now, for the Received: header. */
static void
rfc5322_now(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Return-Path: and Received: (RFC 5321 4.4), written before the client's bytes. */
static void
write_trace_headers(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;
	char date[64], helo[300], head[2048], tls[160] = "";
	char proto[16];
	int n;

	rfc5322_now(date, sizeof(date));
	str_printable(helo, sizeof(helo), s->helo, strlen(s->helo));
	/* RFC 3848 / RFC 6531 protocol names: ESMTP, ESMTPS, UTF8SMTPS, ... */
	snprintf(proto, sizeof(proto), "%s%s%s",
	    tx->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
	    s->tls_info[0] != '\0' && (tx->smtputf8 || s->esmtp) ? "S" : "",
	    s->auth_user[0] != '\0' && (tx->smtputf8 || s->esmtp) ? "A" : "");
	if (s->tls_info[0] != '\0') {
		const char *sp = strchr(s->tls_info, ' ');
		snprintf(tls, sizeof(tls), "\r\n\t(using %.*s with cipher %s)",
		    sp != NULL ? (int)(sp - s->tls_info) : 0, s->tls_info,
		    sp != NULL ? sp + 1 : s->tls_info);
	}
	n = snprintf(head, sizeof(head),
	    "Return-Path: <%s>\r\n"
	    "Received: from %s ([%s])%s\r\n"
	    "\tby %s (tern) with %s id %s%s%s%s;\r\n"
	    "\t%s\r\n",
	    tx->from, helo, s->peer_ip, tls, s->srv->conf->hostname, proto, tx->msgid,
	    tx->nrcpts == 1 ? "\r\n\tfor <" : "",
	    tx->nrcpts == 1 ? tx->rcpts[0].address : "",
	    tx->nrcpts == 1 ? ">" : "", date);
	if (n > 0 && (size_t)n < sizeof(head))
		smtpd_msg_prepend(&tx->msg, head, (size_t)n);
}

int
smtpd_tx_begin_message(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;
	char name[64];

	snprintf(name, sizeof(name), "%ld-%s", (long)getpid(), tx->msgid);
	if (smtpd_msg_open(&tx->msg, s->srv->spool_dir, name,
	    s->srv->conf->max_message_size) == -1) {
		log_error("session=%s msgid=%s event=spool-error path=%s/%s: %s", s->id,
		    tx->msgid, s->srv->spool_dir, name, strerror(errno));
		return -1;
	}
	tx->msg_open = 1;
	if (s->kind == CONF_LISTEN_SUBMISSION || s->kind == CONF_LISTEN_SUBMISSIONS)
		smtpd_msg_complete_headers(&tx->msg, s->srv->conf->hostname);
	write_trace_headers(s);
	return 0;
}

int
smtpd_tx_add_remote(struct smtpd_session *s, const char *address, unsigned notify,
    const char *orcpt)
{
	struct queue_envelope *q = &s->tx.remote;

	for (size_t i = 0; i < q->nrcpts; i++)
		if (strcmp(q->rcpts[i].address, address) == 0)
			return 0;
	for (const char *p = address; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			return -1;
	if (queue_envelope_add_rcpt(q, address) == -1)
		return -1;
	q->rcpts[q->nrcpts - 1].notify = notify;
	for (const char *p = orcpt; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;	/* an ORCPT we cannot store is left out */
	str_copy(q->rcpts[q->nrcpts - 1].orcpt, orcpt, sizeof(q->rcpts[0].orcpt));
	return 0;
}

/* Where the message proper starts: after our Return-Path: (only the final hop adds one). */
static off_t
after_return_path(int fd)
{
	char head[ADDR_PATH_MAX + 32];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	const char *crlf;

	if (n < 14 || strncmp(head, "Return-Path: ", 13) != 0)
		return 0;
	crlf = memchr(head, '\n', (size_t)n);
	return crlf != NULL ? (off_t)(crlf - head + 1) : 0;
}

#define SMTPD_DSN_HEAD_MAX	(256 * 1024)	/* header bytes a success report copies */

/*
 * RFC 3461 NOTIFY=SUCCESS for recipients just delivered into mailboxes
 * here: one report (Action: delivered) to the sender, through the queue.
 * Best effort: the message is delivered whatever happens here. Remote
 * recipients are reported by the queue once the next hop has them.
 */
static void
success_report(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;
	struct queue_envelope env;
	unsigned char *which;
	char id[QUEUE_ID_MAX], *head;
	const char *err = "";
	off_t off;
	ssize_t n;
	size_t want = 0;

	if (tx->from[0] == '\0')
		return;
	for (size_t i = 0; i < tx->nrcpts; i++)
		want += (tx->rcpts[i].notify & SMTPD_NOTIFY_SUCCESS) != 0;
	if (want == 0)
		return;
	memset(&env, 0, sizeof(env));
	which = xcalloc(tx->nrcpts + 1, 1);
	str_copy(env.id, tx->msgid, sizeof(env.id));
	str_copy(env.from, tx->from, sizeof(env.from));
	str_copy(env.envid, tx->remote.envid, sizeof(env.envid));
	env.created = time(NULL);
	for (size_t i = 0; i < tx->nrcpts; i++) {
		const struct smtpd_rcpt *r = &tx->rcpts[i];
		struct queue_rcpt *q;
		if (!(r->notify & SMTPD_NOTIFY_SUCCESS) ||
		    queue_envelope_add_rcpt(&env, r->address) == -1)
			continue;
		q = &env.rcpts[env.nrcpts - 1];
		q->state = QUEUE_RCPT_DONE;
		q->notify = r->notify;
		str_copy(q->orcpt, r->orcpt, sizeof(q->orcpt));
		str_copy(q->status, "2.0.0", sizeof(q->status));
		snprintf(q->diag, sizeof(q->diag), "delivered to mailbox by %s",
		    s->srv->conf->hostname);
		which[env.nrcpts - 1] = QUEUE_DSN_DELIVERED;
	}
	/* the header block as the sender wrote it (after our Return-Path:) */
	off = after_return_path(tx->job.spool_fd);
	head = xmalloc(SMTPD_DSN_HEAD_MAX);
	n = pread(tx->job.spool_fd, head, SMTPD_DSN_HEAD_MAX, off);
	if (n < 0)
		n = 0;
	if (queue_dsn_enqueue_success(s->srv->queue_dir, &env, which, s->srv->conf->hostname,
	    head, (size_t)n, env.created, id, &err) == -1)
		log_error("session=%s msgid=%s event=success-dsn-failed: %s", s->id, tx->msgid,
		    err);
	else if (id[0] != '\0')
		log_info("session=%s msgid=%s event=success-dsn dsn=%s to=<%s>", s->id,
		    tx->msgid, id, tx->from);
	free(head);
	free(which);
	queue_envelope_free(&env);
}

static void
commit(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;
	struct deliver_job *job = &tx->job;
	struct queue_envelope *q = &tx->remote;
	struct queue_enqueue enq;
	const char *err;
	char path[PATH_MAX + 300];

	if (q->nrcpts == 0) {
		deliver_commit(job);
		return;
	}
	queue_file_new_id(q->id, sizeof(q->id));
	str_copy(q->from, tx->from, sizeof(q->from));
	q->created = q->next_try = time(NULL);
	if (queue_enqueue_prepare(&enq, s->srv->queue_dir, q, job->spool_fd,
	    after_return_path(job->spool_fd), NULL, 0, &err) == -1) {
		job->status = DELIVER_TEMPFAIL;
		snprintf(job->why, sizeof(job->why), "queue: %s: %s", err, strerror(errno));
		unlink(job->spool_path);
		return;
	}
	deliver_commit(job);
	if (job->status != DELIVER_OK) {
		queue_enqueue_abort(&enq);
		return;
	}
	if (queue_enqueue_commit(&enq, &err) == -1) {
		/* the local copies must not stay without the remote ones */
		job->status = DELIVER_TEMPFAIL;
		snprintf(job->why, sizeof(job->why), "queue: %s: %s", err, strerror(errno));
		for (size_t i = 0; i < job->ntargets; i++) {
			snprintf(path, sizeof(path), "%s/new/%s", job->targets[i].path,
			    job->targets[i].file);
			unlink(path);
		}
	}
}

void
smtpd_tx_commit(struct smtpd_session *s)
{
	commit(s);
	if (s->tx.job.status == DELIVER_OK)
		success_report(s);
}
