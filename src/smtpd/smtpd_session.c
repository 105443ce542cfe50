/*
 * smtpd_session - one SMTP connection: the RFC 5321 state machine.
 *
 * Input is handled one command at a time from the connection's buffer, so
 * pipelined commands (RFC 2920) are answered in order; while a message is
 * being committed on the pool the session reads nothing more. Every client
 * error is a reply and a counter, never a crash: past max_errors the
 * session ends with 421.
 */
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/throttle.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "deliver/maildir.h"
#include "directory/dir.h"
#include "net/conn.h"
#include "net/pool.h"
#include "net/worker.h"
#include "net/tls.h"
#include "smtpd/smtpd_private.h"

static void	session_read(struct bufferevent *bev, void *arg);
static void	session_event(struct bufferevent *bev, short what, void *arg);


void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
smtpd_session_free(struct smtpd_session *s)
{
	smtpd_tx_reset(s);
	sasl_free(&s->sasl);
	if (s->auth_timer != NULL)
		event_free(s->auth_timer);
	explicit_bzero(&s->auth_cred, sizeof(s->auth_cred));
	free(s->tx.rcpts);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	smtpd_server_session_gone(s->srv, s);
	free(s);
}

/* The connection is finished: free now, or once the pool job returns. */
static void
session_close(struct smtpd_session *s, const char *reason)
{
	log_info("session=%s event=disconnect reason=%s", s->id, reason);
	if (s->commit_pending) {
		s->dead = 1;
		bufferevent_free(s->bev);
		s->bev = NULL;
		return;
	}
	smtpd_session_free(s);
}

static void
close_when_flushed(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_close(s, s->end_reason);
}

/* Queue the last reply already written, then close once it has been sent. */
static void
session_end(struct smtpd_session *s, const char *reason)
{
	s->end_reason = reason;
	s->state = SMTPD_S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, close_when_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	/* Deferred: callers still use the session after this returns. */
	bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* A reply to a client mistake: counted, and past the limit the session ends. */
void
smtpd_reply_error(struct smtpd_session *s, const char *text)
{
	smtpd_reply(s, "%s", text);
	if (++s->errors >= s->srv->conf->max_errors) {
		log_info("session=%s event=too-many-errors errors=%d", s->id, s->errors);
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->srv->conf->hostname);
		session_end(s, "too-many-errors");
	}
}

void
smtpd_set_timeout(struct smtpd_session *s, uint64_t seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* --- transaction end: hand the message to the pool, reply when it is durable --- */

static void
commit_work(void *arg)
{
	struct smtpd_session *s = arg;

	smtpd_tx_commit(s);
}

static void
commit_done(void *arg)
{
	struct smtpd_session *s = arg;
	struct smtpd_tx *tx = &s->tx;
	struct deliver_job *job = &tx->job;

	s->commit_pending = 0;
	close(tx->msg.fd);
	tx->msg.fd = -1;
	smtpd_msg_release(&tx->msg);
	tx->msg_open = 0;
	if (job->status == DELIVER_OK)
		log_info("session=%s msgid=%s event=delivered from=<%s> nrcpt=%zu "
		    "mailboxes=%zu queued=%zu%s%s size=%llu", s->id, tx->msgid, tx->from,
		    tx->nrcpts, tx->ntargets, tx->remote.nrcpts,
		    tx->remote.nrcpts > 0 ? " queue_id=" : "", tx->remote.nrcpts > 0 ?
		    tx->remote.id : "", (unsigned long long)job->size);
	else
		log_warn("session=%s msgid=%s event=deferred reason=\"%s\"", s->id,
		    tx->msgid, job->why);
	if (s->dead) {
		smtpd_session_free(s);
		return;
	}
	switch (job->status) {
	case DELIVER_OK:
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", tx->msgid);
		break;
	case DELIVER_OVERQUOTA:
		smtpd_reply(s, "452 4.2.2 Mailbox full");
		break;
	default:
		smtpd_reply(s, "451 4.3.0 Error: local delivery failed, try again later");
		break;
	}
	smtpd_tx_reset(s);
	s->state = SMTPD_S_HELO;
	smtpd_set_timeout(s, s->srv->conf->timeout_command);
	if (worker_stopping(s->srv->worker)) {
		smtpd_reply(s, "421 4.3.2 %s Service shutting down", s->srv->conf->hostname);
		session_end(s, "shutdown");
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	smtpd_session_process(s);
}

/* The client's message is complete (DATA dot or BDAT LAST): check, then commit. */
static void
message_end(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;
	struct smtpd_msg *msg = &tx->msg;

	smtpd_msg_finish(msg);
	s->state = SMTPD_S_HELO;
	if (msg->too_big) {
		smtpd_reply_error(s, "552 5.3.4 Error: message exceeds fixed maximum message size");
	} else if (msg->too_long) {
		smtpd_reply_error(s, "500 5.5.2 Error: line too long (RFC 5321: at most 1000 octets)");
	} else if (s->auth_user[0] != '\0' && !smtpd_auth_from_ok(s, msg->from_header)) {
		log_info("session=%s msgid=%s event=from-rejected user=%s from=\"%.100s\"", s->id,
		    tx->msgid, s->auth_user, msg->from_header);
		smtpd_reply_error(s, "553 5.7.1 Error: From: header not owned by the "
		    "authenticated user");
	} else if (msg->hops > SMTPD_MSG_MAX_HOPS) {
		smtpd_reply(s, "554 5.4.6 Error: too many hops (mail loop?)");
	} else if (msg->io_error != 0) {
		log_error("session=%s msgid=%s event=spool-error: %s", s->id, tx->msgid,
		    strerror(msg->io_error));
		smtpd_reply(s, "451 4.3.0 Error: cannot store message, try again later");
	} else {
		struct deliver_job *job = &tx->job;
		memset(job, 0, sizeof(*job));
		job->spool_fd = msg->fd;
		str_copy(job->spool_path, msg->path, sizeof(job->spool_path));
		job->size = msg->file_size;
		job->targets = tx->targets;
		job->ntargets = tx->ntargets;
		s->state = SMTPD_S_COMMIT;
		s->commit_pending = 1;
		bufferevent_disable(s->bev, EV_READ);
		pool_submit(s->srv->pool, commit_work, commit_done, s);
		return;
	}
	log_info("session=%s msgid=%s event=rejected size=%llu too_big=%d too_long=%d "
	    "hops=%d", s->id, tx->msgid, (unsigned long long)msg->body_size, msg->too_big,
	    msg->too_long, msg->hops);
	smtpd_tx_reset(s);
}

/* --- DATA: lines up to CRLF.CRLF --- */

static void
data_input(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct smtpd_tx *tx = &s->tx;
	size_t len;
	int crlf;

	while (s->state == SMTPD_S_DATA) {
		enum linebuf_status st = linebuf_next(&s->lb, in, s->line, &len, &crlf);
		if (st == LINEBUF_NEED_MORE)
			return;
		if (st == LINEBUF_TOO_LONG) {
			tx->msg.too_long = 1;
			tx->data_prev_crlf = 0;
			continue;
		}
		/* Only CRLF "." CRLF ends the message (no SMTP smuggling with
		 * bare LF or CR around the dot). */
		if (len == 1 && s->line[0] == '.' && crlf && tx->data_prev_crlf) {
			s->lb.max = SMTPD_CMD_LINE_MAX;
			message_end(s);
			return;
		}
		tx->data_prev_crlf = crlf;
		if (len > 0 && s->line[0] == '.')
			smtpd_msg_line(&tx->msg, s->line + 1, len - 1);
		else
			smtpd_msg_line(&tx->msg, s->line, len);
	}
}

/* --- BDAT: counted chunks (RFC 3030) --- */

/* A chunk has been read completely. */
static void
bdat_chunk_done(struct smtpd_session *s)
{
	struct smtpd_tx *tx = &s->tx;

	if (tx->bdat_discard) {
		/* The chunk of a refused BDAT: read only to stay in step. */
		tx->bdat_discard = 0;
		return;
	}
	if (tx->bdat_last) {
		message_end(s);
		return;
	}
	if (tx->msg.too_big) {
		/* Say so now rather than after gigabytes more. */
		smtpd_tx_reset(s);
		s->state = SMTPD_S_HELO;
		smtpd_reply_error(s, "552 5.3.4 Error: message exceeds fixed maximum message size");
		return;
	}
	smtpd_reply(s, "250 2.0.0 Ok: %llu octets received",
	    (unsigned long long)tx->msg.body_size);
}

/* Read chunk bytes; returns 1 when the chunk is complete. */
static int
bdat_input(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct smtpd_tx *tx = &s->tx;

	while (tx->bdat_left > 0) {
		struct evbuffer_iovec vec;
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1 || vec.iov_len == 0)
			return 0;
		size_t take = vec.iov_len < tx->bdat_left ? vec.iov_len : (size_t)tx->bdat_left;
		if (!tx->bdat_discard)
			smtpd_msg_feed(&tx->msg, vec.iov_base, take);
		evbuffer_drain(in, take);
		tx->bdat_left -= take;
	}
	bdat_chunk_done(s);
	return 1;
}

/* --- commands --- */

static int
is_submission(const struct smtpd_session *s)
{
	return s->kind == CONF_LISTEN_SUBMISSION || s->kind == CONF_LISTEN_SUBMISSIONS;
}

static void
cmd_helo(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	const struct conf *conf = s->srv->conf;

	if (s->state >= SMTPD_S_MAIL)
		smtpd_tx_reset(s);
	str_copy(s->helo, cmd->helo, sizeof(s->helo));
	s->state = SMTPD_S_HELO;
	if (cmd->verb == SMTPD_CMD_HELO) {
		s->esmtp = 0;
		smtpd_reply(s, "250 %s", conf->hostname);
		return;
	}
	s->esmtp = 1;
	char shown[300];
	str_printable(shown, sizeof(shown), s->helo, strlen(s->helo));
	smtpd_reply(s, "250-%s Hello %s [%s]", conf->hostname, shown, s->peer_ip);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-SIZE %llu", (unsigned long long)conf->max_message_size);
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(s, "250-DSN");
	if (s->srv->tls != NULL && !tls_active(s->bev))
		smtpd_reply(s, "250-STARTTLS");
	if (smtpd_auth_allowed(s))
		smtpd_reply(s, "250-AUTH %s", sasl_mechanisms_list());
	smtpd_reply(s, "250-SMTPUTF8");
	smtpd_reply(s, "250 CHUNKING");
}

static void
cmd_mail(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	struct smtpd_tx *tx = &s->tx;

	if (s->state == SMTPD_S_CONNECTED) {
		smtpd_reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state != SMTPD_S_HELO) {
		smtpd_reply_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (is_submission(s) && s->auth_user[0] == '\0') {
		smtpd_reply_error(s, "530 5.7.0 Error: authentication required");
		return;
	}
	if (!s->esmtp && (cmd->size_given || cmd->body != SMTPD_BODY_7BIT || cmd->smtputf8)) {
		smtpd_reply_error(s, "555 5.5.4 Error: ESMTP parameters need EHLO");
		return;
	}
	if (cmd->body == SMTPD_BODY_BINARYMIME) {
		smtpd_reply_error(s, "555 5.5.4 Error: BODY=BINARYMIME is not supported");
		return;
	}
	if (cmd->size_given && cmd->size > s->srv->conf->max_message_size) {
		smtpd_reply_error(s, "552 5.3.4 Error: message size exceeds fixed maximum message size");
		return;
	}
	smtpd_tx_reset(s);
	if (addr_format(&cmd->path, tx->from, sizeof(tx->from)) == -1) {
		smtpd_reply_error(s, "501 5.1.7 Error: sender address too long");
		return;
	}
	if (s->auth_user[0] != '\0' && !smtpd_auth_owns(s, tx->from)) {
		log_info("session=%s event=sender-rejected user=%s from=<%s>", s->id,
		    s->auth_user, tx->from);
		tx->from[0] = '\0';
		smtpd_reply_error(s, "553 5.7.1 Error: sender address not owned by the "
		    "authenticated user");
		return;
	}
	tx->smtputf8 = cmd->smtputf8;
	tx->eightbit = cmd->body == SMTPD_BODY_8BITMIME;
	tx->size_declared = cmd->size_given ? cmd->size : 0;
	tx->remote.ret = (enum queue_ret)cmd->ret;
	str_copy(tx->remote.envid, cmd->envid, sizeof(tx->remote.envid));
	str_random_hex(tx->msgid, 6);
	for (char *p = tx->msgid; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	s->state = SMTPD_S_MAIL;
	log_info("session=%s msgid=%s event=mail from=<%s>", s->id, tx->msgid, tx->from);
	smtpd_reply(s, "250 2.1.0 Ok");
}

/* Refuse a mailbox that is already full, or that the declared SIZE would overfill. */
static int
rcpt_over_quota(struct smtpd_session *s, const char *path, uint64_t quota)
{
	uint64_t used;

	if (quota == 0 || maildir_usage(path, &used) == -1)
		return 0;
	return used >= quota || used + s->tx.size_declared > quota;
}

/* Remember the accepted RCPT address and answer. */
static void
rcpt_accepted(struct smtpd_session *s, const char *address, size_t nmailboxes,
    size_t nremote)
{
	struct smtpd_tx *tx = &s->tx;

	tx->rcpts = xreallocarray(tx->rcpts, tx->nrcpts + 1, sizeof(*tx->rcpts));
	memset(&tx->rcpts[tx->nrcpts], 0, sizeof(tx->rcpts[tx->nrcpts]));
	str_copy(tx->rcpts[tx->nrcpts++].address, address, ADDR_PATH_MAX + 1);
	s->state = SMTPD_S_RCPT;
	log_info("session=%s msgid=%s event=rcpt to=<%s> mailboxes=%zu remote=%zu", s->id,
	    tx->msgid, address, nmailboxes, nremote);
	smtpd_reply(s, "250 2.1.5 Ok");
}

/* A recipient elsewhere, for a client allowed to relay: the queue sends it on. */
static void
rcpt_accept_remote(struct smtpd_session *s, const char *address,
    const struct smtpd_cmd *cmd)
{
	if (smtpd_tx_add_remote(s, address, cmd->notify, cmd->orcpt) == -1) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	rcpt_accepted(s, address, 0, 1);
}

static void
rcpt_accept_local(struct smtpd_session *s, const char *address,
    const struct smtpd_cmd *cmd, const struct dir_resolution *res)
{
	char path[PATH_MAX];
	size_t before = s->tx.remote.nrcpts;

	/* Alias destinations off this host go to the queue, with the local ones. */
	for (size_t i = 0; i < res->nremote; i++)
		if (smtpd_tx_add_remote(s, res->remote[i], cmd->notify, "") == -1) {
			s->tx.remote.nrcpts = before;
			smtpd_reply(s, "452 4.5.3 Error: too many recipients");
			return;
		}
	for (size_t i = 0; i < res->nmailboxes; i++) {
		const struct dir_mailbox *mb = &res->mailboxes[i];
		if (maildir_path(path, sizeof(path), s->srv->conf->data_dir, mb->domain,
		    mb->local) == -1) {
			log_error("session=%s event=bad-mailbox-name address=%s", s->id, address);
			s->tx.remote.nrcpts = before;
			smtpd_reply(s, "451 4.3.0 <%s>: mailbox unavailable", address);
			return;
		}
		if (rcpt_over_quota(s, path, mb->quota)) {
			s->tx.remote.nrcpts = before;
			smtpd_reply(s, "452 4.2.2 <%s>: Mailbox full", address);
			return;
		}
	}
	for (size_t i = 0; i < res->nmailboxes; i++) {
		maildir_path(path, sizeof(path), s->srv->conf->data_dir,
		    res->mailboxes[i].domain, res->mailboxes[i].local);
		smtpd_tx_add_target(s, path, res->mailboxes[i].quota);
	}
	rcpt_accepted(s, address, res->nmailboxes, res->nremote);
	if (res->nmailboxes > 0) {
		/* delivered here at commit: a NOTIFY=SUCCESS report is ours to send */
		struct smtpd_rcpt *r = &s->tx.rcpts[s->tx.nrcpts - 1];
		r->notify = cmd->notify;
		str_copy(r->orcpt, cmd->orcpt, sizeof(r->orcpt));
	}
}

/* The lookup key of a path: unquoted local part, '@', domain. */
static int
rcpt_key(struct smtpd_session *s, const struct smtpd_cmd *cmd, char *out, size_t outlen)
{
	char local[ADDR_LOCAL_MAX + 1];

	if (cmd->path.is_postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> without domain is ours. */
		snprintf(out, outlen, "postmaster@%s", s->srv->conf->hostname);
		return 0;
	}
	if (addr_local_unquoted(&cmd->path, local, sizeof(local)) == -1)
		return -1;
	return snprintf(out, outlen, "%s@%s", local, cmd->path.domain) >= (int)outlen ? -1 : 0;
}

static void
cmd_rcpt(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	struct dir_resolution res;
	char address[ADDR_PATH_MAX + 1], key[ADDR_PATH_MAX + 1];

	if (s->state != SMTPD_S_MAIL && s->state != SMTPD_S_RCPT) {
		smtpd_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->tx.nrcpts >= (size_t)s->srv->conf->max_recipients) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (cmd->path.has_utf8 && !s->tx.smtputf8) {
		smtpd_reply_error(s, "553 5.6.7 Error: non-ASCII address needs MAIL FROM ... SMTPUTF8");
		return;
	}
	if (addr_format(&cmd->path, address, sizeof(address)) == -1 ||
	    rcpt_key(s, cmd, key, sizeof(key)) == -1) {
		smtpd_reply_error(s, "501 5.1.3 Error: bad recipient address syntax");
		return;
	}
	if (cmd->path.is_literal) {
		/* user@[1.2.3.4] is never one of our domains. */
		res.status = DIR_RESOLVE_NOT_LOCAL;
		res.mailboxes = NULL;
		res.remote = NULL;
		res.nmailboxes = res.nremote = 0;
	} else
		dir_resolve(s->srv->dir, key, s->srv->conf->recipient_delimiter, &res);

	switch (res.status) {
	case DIR_RESOLVE_OK:
		rcpt_accept_local(s, address, cmd, &res);
		break;
	case DIR_RESOLVE_UNKNOWN:
		log_info("session=%s event=rcpt-unknown to=<%s>", s->id, address);
		smtpd_reply_error(s, "550 5.1.1 Error: recipient address rejected: user unknown");
		break;
	case DIR_RESOLVE_DISABLED:
		smtpd_reply_error(s, "550 5.2.1 Error: mailbox disabled");
		break;
	case DIR_RESOLVE_LOOP:
		log_warn("session=%s event=alias-loop to=<%s>", s->id, address);
		smtpd_reply(s, "554 5.4.6 Error: alias loop or expansion too large");
		break;
	case DIR_RESOLVE_NOT_LOCAL:
		if (!s->mynetwork && s->auth_user[0] == '\0') {
			log_info("session=%s event=relay-denied to=<%s>", s->id, address);
			smtpd_reply_error(s, "554 5.7.1 Error: relay access denied");
			break;
		}
		rcpt_accept_remote(s, address, cmd);
		break;
	case DIR_RESOLVE_RELAY:
		/*
		 * We are a backup MX for the domain: accepted from anyone and
		 * queued; the queue passes it on to the domain's better MX hosts.
		 * Aliases of the domain, when it has some, were resolved above.
		 */
		rcpt_accept_remote(s, address, cmd);
		break;
	case DIR_RESOLVE_TEMPFAIL:
	default:
		smtpd_reply(s, "451 4.3.0 Error: temporary directory failure");
		break;
	}
	dir_resolution_free(&res);
}

static int
begin_message(struct smtpd_session *s)
{
	if (smtpd_tx_begin_message(s) == -1) {
		smtpd_reply(s, "451 4.3.0 Error: cannot store message, try again later");
		return -1;
	}
	return 0;
}

static void
cmd_data(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	if (s->state == SMTPD_S_BDAT) {
		smtpd_reply_error(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (s->state != SMTPD_S_RCPT) {
		smtpd_reply_error(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (begin_message(s) == -1)
		return;
	s->state = SMTPD_S_DATA;
	s->tx.data_prev_crlf = 1;
	s->lb.max = SMTPD_CMD_LINE_MAX;	/* lines over 998 are flagged by the writer */
	smtpd_set_timeout(s, s->srv->conf->timeout_data_block);
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_bdat(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	struct smtpd_tx *tx = &s->tx;

	/* Whatever the answer, the chunk's bytes follow and must be read. */
	tx->bdat_left = cmd->chunk_size;
	if (s->state != SMTPD_S_RCPT && s->state != SMTPD_S_BDAT) {
		tx->bdat_discard = 1;
		smtpd_reply_error(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (!tx->msg_open && begin_message(s) == -1) {
		tx->bdat_discard = 1;
		return;
	}
	s->state = SMTPD_S_BDAT;
	tx->bdat_last = cmd->last;
	smtpd_set_timeout(s, s->srv->conf->timeout_data_block);
	if (tx->bdat_left == 0)
		bdat_input(s);
}

/* The 220 has been sent: put TLS under the session (RFC 3207). */
static void
starttls_flushed(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;
	struct bufferevent *tls_bev;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	tls_bev = tls_starttls(s->srv->tls, s->bev);
	s->bev = NULL;
	if (tls_bev == NULL) {
		session_close(s, "tls-setup-failed");
		return;
	}
	s->bev = tls_bev;
	/* RFC 3207 4.2: forget everything learnt before TLS, HELO included. */
	smtpd_tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->state = SMTPD_S_CONNECTED;
	bufferevent_setcb(s->bev, session_read, NULL, session_event, s);
	smtpd_set_timeout(s, s->srv->conf->timeout_command);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
cmd_starttls(struct smtpd_session *s)
{
	if (s->srv->tls == NULL) {
		smtpd_reply_error(s, "454 4.7.0 Error: TLS not available");
		return;
	}
	if (tls_active(s->bev)) {
		smtpd_reply_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->state >= SMTPD_S_MAIL) {
		smtpd_reply_error(s, "503 5.5.1 Error: STARTTLS inside a mail transaction");
		return;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SMTPD_S_STARTTLS;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, starttls_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
}

static void
cmd_rset(struct smtpd_session *s)
{
	smtpd_tx_reset(s);
	if (s->state != SMTPD_S_CONNECTED)
		s->state = SMTPD_S_HELO;
	smtpd_reply(s, "250 2.0.0 Ok");
}

static void
session_command(struct smtpd_session *s, size_t len)
{
	struct smtpd_cmd cmd;
	const char *err;
	char shown[128];
	size_t shown_len = len;

	/* an AUTH initial response is a credential: log the mechanism only */
	if (len > 5 && str_prefix_ci(s->line, "AUTH ")) {
		shown_len = 5;
		while (shown_len < len && s->line[shown_len] != ' ')
			shown_len++;
	}
	log_debug("session=%s event=command line=\"%s\"", s->id,
	    str_printable(shown, sizeof(shown), s->line, shown_len));
	if (smtpd_cmd_parse(s->line, len, &cmd, &err) == -1) {
		if (cmd.verb == SMTPD_CMD_BDAT || (cmd.verb == SMTPD_CMD_UNKNOWN &&
		    str_prefix_ci(s->line, "BDAT "))) {
			/* An unreadable chunk size leaves the byte stream unframed. */
			smtpd_reply(s, "%s", err);
			smtpd_reply(s, "421 4.5.0 %s Error: cannot continue after a bad BDAT",
			    s->srv->conf->hostname);
			session_end(s, "bad-bdat");
			return;
		}
		smtpd_reply_error(s, err);
		return;
	}
	switch (cmd.verb) {
	case SMTPD_CMD_HELO:
	case SMTPD_CMD_EHLO:
		cmd_helo(s, &cmd);
		break;
	case SMTPD_CMD_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTPD_CMD_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTPD_CMD_DATA:
		cmd_data(s, &cmd);
		break;
	case SMTPD_CMD_BDAT:
		cmd_bdat(s, &cmd);
		break;
	case SMTPD_CMD_RSET:
		cmd_rset(s);
		break;
	case SMTPD_CMD_NOOP:
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTPD_CMD_QUIT:
		smtpd_reply(s, "221 2.0.0 Bye");
		session_end(s, "quit");
		break;
	case SMTPD_CMD_HELP:
		smtpd_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT "
		    "HELP VRFY; see RFC 5321");
		break;
	case SMTPD_CMD_VRFY:
		/* No address harvesting: neither confirm nor deny (RFC 5321 3.5.3). */
		smtpd_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt "
		    "delivery");
		break;
	case SMTPD_CMD_EXPN:
		smtpd_reply_error(s, "502 5.5.1 Error: EXPN is not available");
		break;
	case SMTPD_CMD_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTPD_CMD_AUTH:
		smtpd_auth_start(s, &cmd);
		break;
	case SMTPD_CMD_LHLO:
	default:
		smtpd_reply_error(s, "502 5.5.1 Error: command not implemented");
		break;
	}
}

/* Handle everything buffered, as far as the state allows. */
void
smtpd_session_process(struct smtpd_session *s)
{
	struct evbuffer *in;
	size_t len;
	int crlf;

	while (s->state != SMTPD_S_COMMIT && s->state != SMTPD_S_CLOSING &&
	    s->state != SMTPD_S_STARTTLS && s->state != SMTPD_S_AUTH_WAIT) {
		in = bufferevent_get_input(s->bev);
		if (s->tx.bdat_left > 0) {
			if (!bdat_input(s))
				return;
			continue;
		}
		if (s->state == SMTPD_S_DATA) {
			data_input(s);
			if (s->state == SMTPD_S_DATA)
				return;
			continue;
		}
		if (s->state == SMTPD_S_AUTH) {
			enum linebuf_status st = linebuf_next(&s->lb, in, s->line, &len, &crlf);
			if (st == LINEBUF_NEED_MORE)
				return;
			if (st == LINEBUF_TOO_LONG)
				smtpd_auth_response(s, "*", 1);	/* cannot be valid: cancel */
			else
				smtpd_auth_response(s, s->line, len);
			continue;
		}
		if (worker_stopping(s->srv->worker) && s->state != SMTPD_S_BDAT) {
			smtpd_session_shutdown(s);
			return;
		}
		enum linebuf_status st = linebuf_next(&s->lb, in, s->line, &len, &crlf);
		if (st == LINEBUF_NEED_MORE)
			return;
		if (st == LINEBUF_TOO_LONG) {
			smtpd_reply_error(s, "500 5.5.2 Error: line too long");
			continue;
		}
		session_command(s, len);
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	smtpd_session_process(arg);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		/* The TLS handshake finished (implicit TLS or STARTTLS). */
		tls_describe(bev, s->tls_info, sizeof(s->tls_info));
		log_info("session=%s event=tls-established tls=\"%s\"", s->id, s->tls_info);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		log_info("session=%s event=timeout state=%d", s->id, s->state);
		bufferevent_enable(bev, EV_WRITE);
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->conf->hostname);
		session_end(s, "timeout");
		return;
	}
	int tls_failure;
	const char *why = conn_end_reason(bev, what, &tls_failure);
	if (tls_failure) {
		log_info("session=%s event=tls-failed reason=\"%s\"", s->id, why);
		session_close(s, "tls-error");
	} else if (what & BEV_EVENT_ERROR)
		session_close(s, why);
	else
		session_close(s, s->state == SMTPD_S_CLOSING ? "quit" : "eof");
}

void
smtpd_session_start(struct smtpd_server *srv, int fd, struct sockaddr *sa, int salen,
    enum conf_listener kind)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	struct conn_peer peer;
	int nfrom;

	s->srv = srv;
	s->kind = kind;
	s->tx.msg.fd = -1;
	str_random_hex(s->id, 8);
	memcpy(&s->peer, sa, (size_t)salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	s->mynetwork = cidr_list_match(&srv->conf->mynetworks, sa);
	s->lb.max = SMTPD_CMD_LINE_MAX;
	s->bev = conn_accept(srv->base, kind == CONF_LISTEN_SUBMISSIONS ? srv->tls : NULL, fd, sa,
	    &peer);
	if (s->bev == NULL) {
		free(s);
		return;
	}
	str_copy(s->peer_ip, peer.ip, sizeof(s->peer_ip));
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	worker_session_begin(srv->worker);
	nfrom = conn_counts_add(srv->per_ip, s->peer_ip);
	bufferevent_setcb(s->bev, session_read, NULL, session_event, s);
	smtpd_set_timeout(s, srv->conf->timeout_command);
	log_info("session=%s event=connect listener=%s client=[%s] mynetwork=%d", s->id,
	    conf_listener_name(kind), s->peer_ip, s->mynetwork);
	if (worker_stopping(srv->worker) ||
	    worker_sessions(srv->worker) > srv->conf->max_sessions) {
		smtpd_reply(s, "421 4.3.2 %s Service not available, try again later",
		    srv->conf->hostname);
		session_end(s, "shutdown");
		return;
	}
	if (!s->mynetwork && nfrom > srv->conf->max_sessions_per_ip) {
		log_info("session=%s event=too-many-sessions client=[%s]", s->id, s->peer_ip);
		smtpd_reply(s, "421 4.7.0 %s Error: too many connections from your address",
		    srv->conf->hostname);
		session_end(s, "too-many-sessions");
		return;
	}
	smtpd_reply(s, "220 %s ESMTP tern", srv->conf->hostname);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
smtpd_session_shutdown(struct smtpd_session *s)
{
	switch (s->state) {
	case SMTPD_S_DATA:
	case SMTPD_S_BDAT:
	case SMTPD_S_COMMIT:
	case SMTPD_S_CLOSING:
		/* A message in flight is finished first; its end closes. */
		return;
	default:
		if (s->tx.bdat_left > 0)
			return;
		smtpd_reply(s, "421 4.3.2 %s Service shutting down", s->srv->conf->hostname);
		session_end(s, "shutdown");
	}
}
