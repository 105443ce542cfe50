/*
 * pop3d_session - one POP3 connection: the RFC 1939 state machine
 * (AUTHORIZATION, TRANSACTION, UPDATE) with the RFC 2449 extensions.
 *
 * Commands are taken one at a time from the input buffer, so pipelined
 * commands (RFC 2449 PIPELINING) are answered in order. While a login or
 * QUIT's expunge runs on the pool, or a RETR/TOP is being streamed, no
 * further command is read; input beyond POP3D_IN_MAX waits in the socket.
 * RETR and TOP read the file in chunks as the client drains its output,
 * so a large message never sits in memory. Deletions happen only at QUIT
 * in the TRANSACTION state: a dropped connection deletes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/throttle.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "deliver/maildir.h"
#include "net/conn.h"
#include "net/pool.h"
#include "net/worker.h"
#include "net/tls.h"
#include "pop3d/pop3d_private.h"

#define POP3D_SASL_MECHS	"PLAIN LOGIN SCRAM-SHA-256"

static void	session_read(struct bufferevent *bev, void *arg);
static void	session_write(struct bufferevent *bev, void *arg);
static void	session_event(struct bufferevent *bev, short what, void *arg);

void
pop3d_reply(struct pop3d_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
stream_stop(struct pop3d_session *s)
{
	if (s->stream_fd != -1) {
		close(s->stream_fd);
		s->stream_fd = -1;
	}
}

void
pop3d_session_free(struct pop3d_session *s)
{
	stream_stop(s);
	if (s->delay != NULL)
		event_free(s->delay);
	sasl_free(&s->sasl);
	sasl_free(&s->login.sasl);
	explicit_bzero(s->login.password, sizeof(s->login.password));
	store_mailbox_close(&s->mb);	/* releases the POP3 lock */
	store_close(&s->store);
	pop3d_drop_free(&s->drop);
	free(s->update.uids);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	pop3d_server_session_gone(s->srv, s);
	free(s);
}

/* The connection is finished: free now, or once the pool job returns. */
static void
session_close(struct pop3d_session *s, const char *reason)
{
	log_info("session=%s event=disconnect reason=%s", s->id, reason);
	if (s->job_pending) {
		s->dead = 1;
		bufferevent_free(s->bev);
		s->bev = NULL;
		return;
	}
	pop3d_session_free(s);
}

static void
close_when_flushed(struct bufferevent *bev, void *arg)
{
	struct pop3d_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_close(s, s->end_reason);
}

/* Queue the last reply already written, then close once it has been sent. */
void
pop3d_session_end(struct pop3d_session *s, const char *reason)
{
	stream_stop(s);
	s->end_reason = reason;
	s->state = POP3D_S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(s->bev, NULL, close_when_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	/* Never free here: callers still use the session after this returns. */
	bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* A reply to a client mistake: counted, and past the limit the session ends. */
void
pop3d_reply_error(struct pop3d_session *s, const char *text)
{
	pop3d_reply(s, "%s", text);
	if (++s->errors >= s->srv->conf->max_errors) {
		log_info("session=%s event=too-many-errors errors=%d", s->id, s->errors);
		pop3d_reply(s, "-ERR Too many errors, closing connection");
		pop3d_session_end(s, "too-many-errors");
	}
}

void
pop3d_set_timeout(struct pop3d_session *s, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void
stls_flushed(struct bufferevent *bev, void *arg)
{
	struct pop3d_session *s = arg;
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
	s->user[0] = '\0';
	s->state = POP3D_S_AUTHORIZATION;
	bufferevent_setwatermark(s->bev, EV_WRITE, POP3D_OUT_LOW, 0);
	bufferevent_setwatermark(s->bev, EV_READ, 0, POP3D_IN_MAX);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	pop3d_set_timeout(s, POP3D_TIMEOUT);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
cmd_stls(struct pop3d_session *s)
{
	if (s->srv->tls == NULL) {
		pop3d_reply_error(s, "-ERR TLS is not available");
		return;
	}
	if (tls_active(s->bev)) {
		pop3d_reply_error(s, "-ERR TLS is already active");
		return;
	}
	pop3d_reply(s, "+OK Begin TLS negotiation");
	s->state = POP3D_S_STLS;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, stls_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
}

static void
cmd_capa(struct pop3d_session *s)
{
	int auth = s->state == POP3D_S_AUTHORIZATION;

	pop3d_reply(s, "+OK Capability list follows");
	pop3d_reply(s, "TOP");
	pop3d_reply(s, "UIDL");
	if (auth && pop3d_plaintext_ok(s)) {
		pop3d_reply(s, "USER");
		pop3d_reply(s, "SASL %s", POP3D_SASL_MECHS);
	}
	if (auth && s->srv->tls != NULL && !tls_active(s->bev))
		pop3d_reply(s, "STLS");
	pop3d_reply(s, "RESP-CODES");
	pop3d_reply(s, "AUTH-RESP-CODE");
	pop3d_reply(s, "PIPELINING");
	/* Mail stays until the client deletes it; no minimum delay between logins. */
	pop3d_reply(s, "EXPIRE NEVER");
	pop3d_reply(s, "IMPLEMENTATION tern");
	pop3d_reply(s, ".");
}

/* --- TRANSACTION commands --- */

/* Resolve a message number, answering the error; 0 when found. */
static int
get_msg(struct pop3d_session *s, uint32_t msgnum, size_t *index_out)
{
	switch (pop3d_drop_get(&s->drop, msgnum, index_out)) {
	case POP3D_DROP_OK:
		return 0;
	case POP3D_DROP_DELETED:
		pop3d_reply_error(s, "-ERR Message is deleted");
		return -1;
	default:
		pop3d_reply_error(s, "-ERR No such message");
		return -1;
	}
}

static void
uidl_of(struct pop3d_session *s, size_t i, char *out, size_t outlen)
{
	/* Dovecot's default %08Xu%08Xv: the IMAP UID and UIDVALIDITY. */
	snprintf(out, outlen, "%08X%08X", s->drop.uids[i], store_mailbox_uidvalidity(s->mb));
}

static void
cmd_list(struct pop3d_session *s, const struct pop3d_cmd *cmd, int uidl)
{
	char uid[32];
	size_t i, count;
	uint64_t bytes;

	if (cmd->has_msg) {
		if (get_msg(s, cmd->msg, &i) == -1)
			return;
		if (uidl) {
			uidl_of(s, i, uid, sizeof(uid));
			pop3d_reply(s, "+OK %u %s", cmd->msg, uid);
		} else
			pop3d_reply(s, "+OK %u %llu", cmd->msg, (unsigned long long)s->drop.sizes[i]);
		return;
	}
	pop3d_drop_stat(&s->drop, &count, &bytes);
	if (uidl)
		pop3d_reply(s, "+OK Unique-ID listing follows");
	else
		pop3d_reply(s, "+OK %zu messages (%llu octets)", count, (unsigned long long)bytes);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	for (i = 0; i < s->drop.n; i++) {
		if (s->drop.deleted[i])
			continue;
		if (uidl) {
			uidl_of(s, i, uid, sizeof(uid));
			evbuffer_add_printf(out, "%zu %s\r\n", i + 1, uid);
		} else
			evbuffer_add_printf(out, "%zu %llu\r\n", i + 1,
			    (unsigned long long)s->drop.sizes[i]);
	}
	pop3d_reply(s, ".");
}

/* Move file bytes to the output until it is full or the message ends. */
static void
stream_fill(struct pop3d_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char in[POP3D_CHUNK], buf[2 * POP3D_CHUNK];
	ssize_t n;

	while (s->stream_fd != -1 && evbuffer_get_length(out) < POP3D_OUT_HIGH) {
		n = read(s->stream_fd, in, sizeof(in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_error("session=%s event=read-error user=%s: %s", s->id, s->login_name,
			    strerror(errno));
			/* The +OK is out: only closing tells the client it is incomplete. */
			pop3d_session_end(s, "read-error");
			return;
		}
		if (n > 0)
			evbuffer_add(out, buf, pop3d_stuff_feed(&s->stuff, in, (size_t)n, buf));
		if (n == 0 || s->stuff.done) {
			size_t e = pop3d_stuff_end(&s->stuff, buf);
			evbuffer_add(out, buf, e);
			stream_stop(s);
			pop3d_set_timeout(s, POP3D_TIMEOUT);
		}
	}
}

static void
cmd_retr(struct pop3d_session *s, const struct pop3d_cmd *cmd)
{
	int top = cmd->verb == POP3D_CMD_TOP;
	size_t i;

	if (get_msg(s, cmd->msg, &i) == -1)
		return;
	s->stream_fd = store_msg_open(s->mb, store_mailbox_msg(s->mb, i));
	if (s->stream_fd == -1) {
		if (errno == ENOENT)
			pop3d_reply(s, "-ERR Message was removed by another session");
		else
			pop3d_reply(s, "-ERR [SYS/TEMP] Cannot read message: %s", strerror(errno));
		return;
	}
	log_debug("session=%s event=%s msg=%u uid=%u", s->id, top ? "top" : "retr",
	    cmd->msg, s->drop.uids[i]);
	if (top)
		pop3d_reply(s, "+OK Top of message follows");
	else
		pop3d_reply(s, "+OK %llu octets", (unsigned long long)s->drop.sizes[i]);
	pop3d_stuff_init(&s->stuff, top, cmd->lines);
	/* A client that reads a big message sends nothing meanwhile: only a
	 * stalled write counts as idle. */
	struct timeval tv = { .tv_sec = POP3D_TIMEOUT };
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	stream_fill(s);
}

static void
cmd_dele(struct pop3d_session *s, const struct pop3d_cmd *cmd)
{
	switch (pop3d_drop_dele(&s->drop, cmd->msg)) {
	case POP3D_DROP_OK:
		pop3d_reply(s, "+OK Message %u deleted", cmd->msg);
		break;
	case POP3D_DROP_DELETED:
		pop3d_reply_error(s, "-ERR Message is already deleted");
		break;
	default:
		pop3d_reply_error(s, "-ERR No such message");
		break;
	}
}

static void
cmd_rset(struct pop3d_session *s)
{
	size_t count;
	uint64_t bytes;

	pop3d_drop_rset(&s->drop);
	pop3d_drop_stat(&s->drop, &count, &bytes);
	pop3d_reply(s, "+OK %zu messages (%llu octets)", count, (unsigned long long)bytes);
}

static void
update_work(void *arg)
{
	struct pop3d_session *s = arg;
	struct pop3d_update *u = &s->update;

	u->rc = store_expunge(s->mb, u->uids, u->n, &u->removed, u->why, sizeof(u->why));
}

static void
update_done(void *arg)
{
	struct pop3d_session *s = arg;
	struct pop3d_update *u = &s->update;

	s->job_pending = 0;
	s->waiting = 0;
	store_mailbox_close(&s->mb);	/* the lock goes with the expunge done */
	if (u->rc == 0)
		log_info("session=%s event=quit user=%s deleted=%zu left=%zu", s->id,
		    s->login_name, u->removed, s->drop.n - u->removed);
	else
		log_error("session=%s event=quit-error user=%s deleted=%zu of %zu reason=\"%s\"",
		    s->id, s->login_name, u->removed, u->n, u->why);
	if (s->dead) {
		pop3d_session_free(s);
		return;
	}
	if (u->rc == 0)
		pop3d_reply(s, "+OK Bye, %zu messages deleted, %zu left", u->removed,
		    s->drop.n - u->removed);
	else
		pop3d_reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed");
	pop3d_session_end(s, "quit");
}

/* QUIT in TRANSACTION: the UPDATE state (RFC 1939 section 6). */
static void
cmd_quit_update(struct pop3d_session *s)
{
	struct pop3d_update *u = &s->update;

	if (s->drop.ndeleted == 0) {
		log_info("session=%s event=quit user=%s deleted=0 left=%zu", s->id,
		    s->login_name, s->drop.n);
		pop3d_reply(s, "+OK Bye, %zu messages left", s->drop.n);
		pop3d_session_end(s, "quit");
		return;
	}
	memset(u, 0, sizeof(*u));
	u->uids = xcalloc(s->drop.ndeleted, sizeof(*u->uids));
	u->n = pop3d_drop_update(&s->drop, u->uids);
	s->state = POP3D_S_UPDATE;
	s->job_pending = 1;
	s->waiting = 1;
	pool_submit(s->srv->pool, update_work, update_done, s);
}

/* --- dispatch --- */

static int
allowed(enum pop3d_state state, enum pop3d_verb verb)
{
	switch (verb) {
	case POP3D_CMD_CAPA:
	case POP3D_CMD_QUIT:
		return 1;
	case POP3D_CMD_USER:
	case POP3D_CMD_PASS:
	case POP3D_CMD_APOP:
	case POP3D_CMD_AUTH:
	case POP3D_CMD_STLS:
		return state == POP3D_S_AUTHORIZATION;
	default:
		return state == POP3D_S_TRANSACTION;
	}
}

static void
session_command(struct pop3d_session *s, size_t len)
{
	struct pop3d_cmd cmd;
	const char *err;
	char shown[64];

	if (pop3d_cmd_parse(s->line, len, &cmd, &err) == -1) {
		log_debug("session=%s event=bad-command verb=%s", s->id,
		    pop3d_cmd_name(cmd.verb));
		pop3d_reply_error(s, err);
		return;
	}
	/* The arguments of PASS and AUTH are secrets: log the verb only. */
	log_debug("session=%s event=command verb=%s arg=\"%s\"", s->id,
	    pop3d_cmd_name(cmd.verb), cmd.verb == POP3D_CMD_PASS || cmd.verb == POP3D_CMD_AUTH ||
	    cmd.arg == NULL ? "" : str_printable(shown, sizeof(shown), cmd.arg, strlen(cmd.arg)));
	if (!allowed(s->state, cmd.verb)) {
		pop3d_reply_error(s, s->state == POP3D_S_AUTHORIZATION ?
		    "-ERR Not logged in yet" : "-ERR Command not valid after login");
		return;
	}
	if (cmd.verb != POP3D_CMD_PASS && cmd.verb != POP3D_CMD_CAPA)
		s->user[0] = '\0';	/* PASS must follow USER directly */
	switch (cmd.verb) {
	case POP3D_CMD_USER:
		pop3d_login_user(s, &cmd);
		break;
	case POP3D_CMD_PASS:
		pop3d_login_pass(s, &cmd);
		break;
	case POP3D_CMD_APOP:
		pop3d_reply_error(s, "-ERR APOP is not supported, use USER/PASS or AUTH over TLS");
		break;
	case POP3D_CMD_AUTH:
		pop3d_login_auth(s, &cmd);
		break;
	case POP3D_CMD_STLS:
		cmd_stls(s);
		break;
	case POP3D_CMD_CAPA:
		cmd_capa(s);
		break;
	case POP3D_CMD_STAT: {
		size_t count;
		uint64_t bytes;
		pop3d_drop_stat(&s->drop, &count, &bytes);
		pop3d_reply(s, "+OK %zu %llu", count, (unsigned long long)bytes);
		break;
	}
	case POP3D_CMD_LIST:
		cmd_list(s, &cmd, 0);
		break;
	case POP3D_CMD_UIDL:
		cmd_list(s, &cmd, 1);
		break;
	case POP3D_CMD_RETR:
	case POP3D_CMD_TOP:
		cmd_retr(s, &cmd);
		break;
	case POP3D_CMD_DELE:
		cmd_dele(s, &cmd);
		break;
	case POP3D_CMD_NOOP:
		pop3d_reply(s, "+OK");
		break;
	case POP3D_CMD_RSET:
		cmd_rset(s);
		break;
	case POP3D_CMD_QUIT:
		if (s->state == POP3D_S_TRANSACTION) {
			cmd_quit_update(s);
			break;
		}
		pop3d_reply(s, "+OK Bye");
		pop3d_session_end(s, "quit");
		break;
	default:
		pop3d_reply_error(s, "-ERR Unknown command");
		break;
	}
}

/* Handle everything buffered, as far as the state and the output allow. */
void
pop3d_session_process(struct pop3d_session *s)
{
	struct evbuffer *in, *out;
	size_t len;
	int crlf;

	while ((s->state == POP3D_S_AUTHORIZATION || s->state == POP3D_S_TRANSACTION) &&
	    !s->waiting) {
		out = bufferevent_get_output(s->bev);
		if (s->stream_fd != -1) {
			stream_fill(s);
			if (s->stream_fd != -1 || s->state == POP3D_S_CLOSING)
				return;	/* session_write goes on */
		}
		if (evbuffer_get_length(out) >= POP3D_OUT_HIGH)
			return;
		if (worker_stopping(s->srv->worker)) {
			pop3d_session_shutdown(s);
			return;
		}
		in = bufferevent_get_input(s->bev);
		enum linebuf_status st = linebuf_next(&s->lb, in, s->line, &len, &crlf);
		if (st == LINEBUF_NEED_MORE)
			return;
		if (st == LINEBUF_TOO_LONG) {
			if (s->sasl != NULL) {
				sasl_free(&s->sasl);
				s->lb.max = POP3D_CMD_LINE_MAX - 2;
			}
			pop3d_reply_error(s, "-ERR Line too long");
			continue;
		}
		if (s->sasl != NULL)
			pop3d_login_sasl_step(s, s->line, len);
		else
			session_command(s, len);
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	pop3d_session_process(arg);
}

/* The client has read enough of the output: go on streaming or reading. */
static void
session_write(struct bufferevent *bev, void *arg)
{
	pop3d_session_process(arg);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct pop3d_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		tls_describe(bev, s->tls_info, sizeof(s->tls_info));
		log_info("session=%s event=tls-established tls=\"%s\"", s->id, s->tls_info);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* Autologout: no UPDATE state (RFC 1939 section 3). */
		log_info("session=%s event=timeout state=%d", s->id, s->state);
		if (s->state == POP3D_S_UPDATE)
			return;
		bufferevent_enable(bev, EV_WRITE);
		pop3d_reply(s, "-ERR Autologout: idle for too long");
		pop3d_session_end(s, "timeout");
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
		session_close(s, s->state == POP3D_S_CLOSING ? "quit" : "eof");
}

void
pop3d_session_start(struct pop3d_server *srv, int fd, struct sockaddr *sa, int salen,
    enum conf_listener kind)
{
	struct pop3d_session *s = xcalloc(1, sizeof(*s));
	int nfrom;
	struct conn_peer peer;

	s->srv = srv;
	s->kind = kind;
	s->stream_fd = -1;
	str_random_hex(s->id, 8);
	s->lb.max = POP3D_CMD_LINE_MAX - 2;
	s->bev = conn_accept(srv->base, kind == CONF_LISTEN_POP3S ? srv->tls : NULL, fd, sa,
	    &peer);
	if (s->bev == NULL) {
		free(s);
		return;
	}
	str_copy(s->peer_ip, peer.ip, sizeof(s->peer_ip));
	s->loopback = peer.loopback;
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	worker_session_begin(srv->worker);
	nfrom = conn_counts_add(srv->per_ip, s->peer_ip);
	bufferevent_setwatermark(s->bev, EV_WRITE, POP3D_OUT_LOW, 0);
	bufferevent_setwatermark(s->bev, EV_READ, 0, POP3D_IN_MAX);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	pop3d_set_timeout(s, POP3D_TIMEOUT);
	log_info("session=%s event=connect listener=%s client=[%s]", s->id,
	    conf_listener_name(kind), s->peer_ip);
	if (worker_stopping(srv->worker) ||
	    worker_sessions(srv->worker) > srv->conf->max_sessions) {
		pop3d_reply(s, "-ERR [SYS/TEMP] Service not available, try again later");
		pop3d_session_end(s, "busy");
		return;
	}
	if (!s->loopback && nfrom > srv->conf->max_sessions_per_ip) {
		log_info("session=%s event=too-many-sessions client=[%s]", s->id, s->peer_ip);
		pop3d_reply(s, "-ERR [SYS/TEMP] Too many connections from your address");
		pop3d_session_end(s, "too-many-sessions");
		return;
	}
	pop3d_reply(s, "+OK %s POP3 server ready", srv->conf->hostname);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
pop3d_session_shutdown(struct pop3d_session *s)
{
	switch (s->state) {
	case POP3D_S_UPDATE:
	case POP3D_S_CLOSING:
	case POP3D_S_STLS:
		return;		/* finishes by itself */
	default:
		if (s->waiting || s->stream_fd != -1)
			return;	/* session_process comes back here when it is done */
		pop3d_reply(s, "-ERR [SYS/TEMP] Server shutting down, nothing was deleted");
		pop3d_session_end(s, "shutdown");
	}
}
