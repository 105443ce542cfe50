/*
 * imapd_session - one IMAP connection: reading whole commands (lines and
 * literals), the states of RFC 9051 section 3, running commands on the
 * pool, IDLE, STARTTLS and the end of the session.
 *
 * A command is read completely before it is parsed: each line ending in
 * a literal marker is followed by the literal's bytes (a synchronising
 * literal gets its "+" first) and the next line. Lines are bounded by
 * IMAPD_LINE_MAX, the literals of one command by IMAPD_LITERALS_MAX, an
 * APPEND's message literal by [smtp] max_message_size. A refused
 * non-synchronising literal is read and thrown away so that the client
 * stays in step. Commands run one at a time, pipelined ones in order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "imapd/imapd_private.h"
#include "net/conn.h"
#include "net/pool.h"
#include "net/tls.h"
#include "net/worker.h"

static void	session_read(struct bufferevent *bev, void *arg);
static void	session_write(struct bufferevent *bev, void *arg);
static void	session_event(struct bufferevent *bev, short what, void *arg);
static void	session_process(struct imapd_session *s);

void
imapd_send(struct imapd_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
imapd_tagged(struct imapd_session *s, int error, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	evbuffer_add_printf(out, "%s ", s->tag[0] != '\0' ? s->tag : "*");
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (error && ++s->errors >= s->srv->conf->max_errors) {
		log_info("session=%s event=too-many-errors errors=%d", s->id, s->errors);
		imapd_send(s, "* BYE Too many errors");
		imapd_session_end(s, "too-many-errors");
	}
}

int
imapd_plaintext_ok(struct imapd_session *s)
{
	return tls_active(s->bev) || (s->loopback && s->srv->conf->allow_plaintext_loopback);
}

void
imapd_set_timeout(struct imapd_session *s, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void
imapd_capabilities(struct imapd_session *s, struct buf *out)
{
	int tls = s->srv->tls != NULL && !tls_active(s->bev);

	buf_addstr(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE");
	if (s->state == IMAPD_S_NOTAUTH) {
		if (tls)
			buf_addstr(out, " STARTTLS");
		if (imapd_plaintext_ok(s))
			buf_addstr(out, " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256");
		else
			buf_addstr(out, " LOGINDISABLED");
		return;
	}
	buf_addstr(out, " NAMESPACE UNSELECT UIDPLUS CHILDREN MOVE LIST-EXTENDED LIST-STATUS"
	    " SPECIAL-USE CREATE-SPECIAL-USE CONDSTORE QRESYNC ESEARCH SEARCHRES BINARY"
	    " UTF8=ACCEPT STATUS=SIZE QUOTA QUOTA=RES-STORAGE");
}

/* --- the end of a session --- */

void
imapd_session_free(struct imapd_session *s)
{
	imap_cmd_free(&s->cmd);
	buf_free(&s->cmdbuf);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->out != NULL)
		evbuffer_free(s->out);
	sasl_free(&s->sasl);
	sasl_free(&s->login.sasl);
	store_close(&s->login.store);
	explicit_bzero(s->login.password, sizeof(s->login.password));
	imapd_progress_free(&s->progress);
	imapd_idle_free(s);
	imapd_saved_clear(s);
	store_mailbox_close(&s->mb);
	store_close(&s->store);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	imapd_server_session_gone(s->srv, s);
	free(s);
}

/* The connection is finished: free now, or once the pool job returns. */
static void
session_close(struct imapd_session *s, const char *reason)
{
	log_info("session=%s event=disconnect reason=%s user=%s", s->id, reason,
	    s->user[0] != '\0' ? s->user : "-");
	if (s->job_pending) {
		s->dead = 1;
		bufferevent_free(s->bev);
		s->bev = NULL;
		return;
	}
	imapd_session_free(s);
}

static void
close_when_flushed(struct bufferevent *bev, void *arg)
{
	struct imapd_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_close(s, s->end_reason);
}

void
imapd_session_end(struct imapd_session *s, const char *reason)
{
	if (s->state == IMAPD_S_LOGOUT)
		return;
	s->end_reason = reason;
	s->state = IMAPD_S_LOGOUT;
	if (s->timer != NULL)
		event_del(s->timer);
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(s->bev, NULL, close_when_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	/* Never free here: callers still use the session after this returns. */
	bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* --- running commands on the pool --- */

static void
run_work(void *arg)
{
	struct imapd_session *s = arg;

	if (s->out == NULL)
		s->out = evbuffer_new();
	if (s->run(s) == IMAPD_RUN_DONE)
		s->run = NULL;
}

/*
 * Back on the loop after any pool job: queue what it wrote. 0 when the
 * session is gone or ending and the caller must stop here.
 */
static int
job_returned(struct imapd_session *s)
{
	s->job_pending = 0;
	if (s->dead) {
		imapd_session_free(s);
		return 0;
	}
	evbuffer_add_buffer(bufferevent_get_output(s->bev), s->out);
	if (s->end_pending) {
		imapd_session_end(s, "mailbox-gone");
		return 0;
	}
	return 1;
}

static void
run_done(void *arg)
{
	struct imapd_session *s = arg;

	if (!job_returned(s))
		return;
	if (s->run != NULL) {
		/* More output to come: session_write resumes below the low mark. */
		return;
	}
	imapd_progress_free(&s->progress);
	imapd_command_done(s);
}

void
imapd_session_run(struct imapd_session *s, enum imapd_run (*run)(struct imapd_session *))
{
	s->run = run;
	s->waiting = 1;
	s->job_pending = 1;
	pool_submit(s->srv->pool, run_work, run_done, s);
}

/* Output drained below the low mark: a long command goes on. */
static void
run_resume(struct imapd_session *s)
{
	if (s->run == NULL || s->job_pending)
		return;
	s->job_pending = 1;
	pool_submit(s->srv->pool, run_work, run_done, s);
}

void
imapd_command_done(struct imapd_session *s)
{
	imap_cmd_free(&s->cmd);
	s->cmd_parsed = 0;
	buf_free(&s->cmdbuf);
	s->lit_total = 0;
	s->tag[0] = '\0';
	s->waiting = 0;
	if (s->state == IMAPD_S_LOGOUT || s->bev == NULL)
		return;
	/* Run from a deferred callback: never recurse into the caller. */
	bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* --- STARTTLS --- */

static void
starttls_flushed(struct bufferevent *bev, void *arg)
{
	struct imapd_session *s = arg;
	struct bufferevent *tls_bev;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	/* Input that came with STARTTLS was plaintext: tls_starttls drops it. */
	tls_bev = tls_starttls(s->srv->tls, s->bev);
	s->bev = NULL;
	if (tls_bev == NULL) {
		session_close(s, "tls-setup-failed");
		return;
	}
	s->bev = tls_bev;
	bufferevent_setwatermark(s->bev, EV_WRITE, IMAPD_OUT_LOW, 0);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IMAPD_IN_MAX);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	imapd_set_timeout(s, IMAPD_TIMEOUT_AUTH);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	imapd_command_done(s);
}

static void
cmd_starttls(struct imapd_session *s)
{
	if (s->srv->tls == NULL) {
		imapd_tagged(s, 1, "NO TLS is not available");
		imapd_command_done(s);
		return;
	}
	if (tls_active(s->bev)) {
		imapd_tagged(s, 1, "BAD TLS is already active");
		imapd_command_done(s);
		return;
	}
	imapd_tagged(s, 0, "OK Begin TLS negotiation now");
	s->waiting = 1;
	/* Drop pipelined plaintext now (CVE-2011-0411): it never reaches TLS. */
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setcb(s->bev, NULL, starttls_flushed, session_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* --- commands on the loop thread --- */

static void
cmd_capability(struct imapd_session *s)
{
	struct buf caps = BUF_INIT;

	imapd_capabilities(s, &caps);
	imapd_send(s, "* CAPABILITY %s", caps.p);
	buf_free(&caps);
	imapd_tagged(s, 0, "OK CAPABILITY completed");
}

static void
cmd_id(struct imapd_session *s)
{
	char shown[256];
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < s->cmd.id_npairs; i++) {
		const char *v = s->cmd.id_values[i] != NULL ? s->cmd.id_values[i] : "NIL";
		str_printable(shown, sizeof(shown), v, strlen(v));
		buf_printf(&b, "%s%s=\"%s\"", i > 0 ? " " : "", s->cmd.id_fields[i], shown);
	}
	if (b.len > 0)
		log_info("session=%s event=client-id %s", s->id, b.p);
	buf_free(&b);
	imapd_send(s, "* ID (\"name\" \"tern\")");
	imapd_tagged(s, 0, "OK ID completed");
}

static void
cmd_enable(struct imapd_session *s)
{
	struct buf on = BUF_INIT;

	for (size_t i = 0; i < s->cmd.nenable; i++) {
		const char *c = s->cmd.enable[i];
		int *flag = NULL;
		if (strcmp(c, "CONDSTORE") == 0)
			flag = &s->condstore;
		else if (strcmp(c, "QRESYNC") == 0) {
			s->condstore = 1;	/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE */
			flag = &s->qresync;
		} else if (strcmp(c, "UTF8=ACCEPT") == 0)
			flag = &s->utf8;
		else if (strcmp(c, "IMAP4REV2") == 0) {
			s->utf8 = 1;
			flag = &s->rev2;
		}
		if (flag == NULL || *flag)
			continue;	/* unknown or already on: not listed (RFC 5161) */
		*flag = 1;
		buf_printf(&on, " %s", c);
	}
	imapd_send(s, "* ENABLED%s", on.p != NULL ? on.p : "");
	buf_free(&on);
	imapd_tagged(s, 0, "OK ENABLE completed");
}

static void
cmd_logout(struct imapd_session *s)
{
	imapd_send(s, "* BYE Logging out");
	imapd_tagged(s, 0, "OK LOGOUT completed");
	imapd_session_end(s, "logout");
}

/* --- IDLE (RFC 2177) --- */

static void idle_poll(evutil_socket_t fd, short what, void *arg);

static void
idle_arm(struct imapd_session *s)
{
	struct timeval tv = { 0, IMAPD_IDLE_POLL_MS * 1000 };

	if (s->timer == NULL)
		s->timer = evtimer_new(s->srv->base, idle_poll, s);
	else {
		/* The timer may have served a failed-login delay before. */
		event_del(s->timer);
		event_assign(s->timer, s->srv->base, -1, 0, idle_poll, s);
	}
	evtimer_add(s->timer, &tv);
}

static void
idle_poll_work(void *arg)
{
	struct imapd_session *s = arg;

	if (s->out == NULL)
		s->out = evbuffer_new();
	imapd_run_idle_poll(s);
}

static void
idle_poll_done(void *arg)
{
	struct imapd_session *s = arg;

	if (!job_returned(s))
		return;
	session_process(s);	/* DONE may have come while polling */
	if (s->idling && s->bev != NULL)
		idle_arm(s);
}

static void
idle_poll(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;

	if (!s->idling || s->job_pending)
		return;
	s->job_pending = 1;
	pool_submit(s->srv->pool, idle_poll_work, idle_poll_done, s);
}

static void
cmd_idle(struct imapd_session *s)
{
	imapd_send(s, "+ idling");
	s->idling = 1;
	/* The first poll, at once, reports what is pending and closes the mailbox. */
	if (s->state == IMAPD_S_SELECTED)
		idle_poll(-1, 0, s);
}

static void
idle_line(struct imapd_session *s, const char *line, size_t len)
{
	s->idling = 0;
	if (s->timer != NULL)
		event_del(s->timer);
	log_debug("session=%s event=idle-end line=\"%.*s\"", s->id, (int)(len < 16 ? len : 16),
	    line);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		if (s->state == IMAPD_S_SELECTED) {
			imapd_session_run(s, imapd_run_noop);
			return;
		}
		imapd_tagged(s, 0, "OK IDLE terminated");
	} else
		imapd_tagged(s, 1, "BAD Expected DONE");
	imapd_command_done(s);	/* frees cmdbuf, where line was */
}

/* --- dispatch --- */

enum { ANY = 1, NOTAUTH = 2, AUTH = 4, SELECTED = 8 };

static int
allowed(struct imapd_session *s, int states)
{
	switch (s->state) {
	case IMAPD_S_NOTAUTH:
		return states & (ANY | NOTAUTH);
	case IMAPD_S_AUTH:
		return states & (ANY | AUTH);
	case IMAPD_S_SELECTED:
		return states & (ANY | AUTH | SELECTED);
	default:
		return 0;
	}
}

static const struct {
	enum imap_verb	verb;
	int		states;
	enum imapd_run	(*run)(struct imapd_session *);	/* NULL: on the loop thread */
} commands[] = {
	{ IMAP_CAPABILITY, ANY, NULL },
	{ IMAP_NOOP, ANY, NULL },
	{ IMAP_LOGOUT, ANY, NULL },
	{ IMAP_ID, ANY, NULL },
	{ IMAP_STARTTLS, NOTAUTH, NULL },
	{ IMAP_LOGIN, NOTAUTH, NULL },
	{ IMAP_AUTHENTICATE, NOTAUTH, NULL },
	{ IMAP_ENABLE, AUTH, NULL },
	{ IMAP_NAMESPACE, AUTH, NULL },
	{ IMAP_IDLE, AUTH, NULL },
	{ IMAP_SELECT, AUTH, imapd_run_select },
	{ IMAP_EXAMINE, AUTH, imapd_run_select },
	{ IMAP_CREATE, AUTH, imapd_run_create },
	{ IMAP_DELETE, AUTH, imapd_run_delete },
	{ IMAP_RENAME, AUTH, imapd_run_rename },
	{ IMAP_SUBSCRIBE, AUTH, imapd_run_subscribe },
	{ IMAP_UNSUBSCRIBE, AUTH, imapd_run_subscribe },
	{ IMAP_LIST, AUTH, imapd_run_list },
	{ IMAP_LSUB, AUTH, imapd_run_list },
	{ IMAP_STATUS, AUTH, imapd_run_status },
	{ IMAP_APPEND, AUTH, imapd_run_append },
	{ IMAP_GETQUOTA, AUTH, imapd_run_quota },
	{ IMAP_GETQUOTAROOT, AUTH, imapd_run_quota },
	{ IMAP_SETQUOTA, AUTH, imapd_run_quota },
	{ IMAP_CHECK, SELECTED, imapd_run_noop },
	{ IMAP_CLOSE, SELECTED, imapd_run_close },
	{ IMAP_UNSELECT, SELECTED, imapd_run_close },
	{ IMAP_EXPUNGE, SELECTED, imapd_run_expunge },
	{ IMAP_SEARCH, SELECTED, imapd_run_search },
	{ IMAP_FETCH, SELECTED, imapd_run_fetch },
	{ IMAP_STORE, SELECTED, imapd_run_store },
	{ IMAP_COPY, SELECTED, imapd_run_copy },
	{ IMAP_MOVE, SELECTED, imapd_run_copy },
};

static void
cmd_namespace(struct imapd_session *s)
{
	imapd_send(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imapd_tagged(s, 0, "OK NAMESPACE completed");
}

static void
run_on_loop(struct imapd_session *s)
{
	switch (s->cmd.verb) {
	case IMAP_CAPABILITY:
		cmd_capability(s);
		break;
	case IMAP_NOOP:
		if (s->state == IMAPD_S_SELECTED) {
			imapd_session_run(s, imapd_run_noop);
			return;
		}
		imapd_tagged(s, 0, "OK NOOP completed");
		break;
	case IMAP_LOGOUT:
		cmd_logout(s);
		return;
	case IMAP_ID:
		cmd_id(s);
		break;
	case IMAP_STARTTLS:
		cmd_starttls(s);
		return;
	case IMAP_LOGIN:
		imapd_cmd_login(s);
		return;
	case IMAP_AUTHENTICATE:
		imapd_cmd_authenticate(s);
		return;
	case IMAP_ENABLE:
		cmd_enable(s);
		break;
	case IMAP_NAMESPACE:
		cmd_namespace(s);
		break;
	case IMAP_IDLE:
		cmd_idle(s);
		return;
	default:
		imapd_tagged(s, 1, "BAD Command not implemented");
		break;
	}
	imapd_command_done(s);
}

static void
command(struct imapd_session *s)
{
	char err[256];
	size_t i;

	imap_cmd_free(&s->cmd);
	if (imap_parse_command(s->cmdbuf.p, s->cmdbuf.len, s->utf8, &s->cmd, err,
	    sizeof(err)) == -1) {
		if (s->cmd.tag[0] != '\0')
			str_copy(s->tag, s->cmd.tag, sizeof(s->tag));
		log_debug("session=%s event=bad-command reason=\"%s\"", s->id, err);
		if (strncmp(err, "[BADCHARSET]", 12) == 0)
			imapd_tagged(s, 1, "NO [BADCHARSET (US-ASCII UTF-8)] %s",
			    err[12] == ' ' ? err + 13 : err + 12);
		else
			imapd_tagged(s, 1, "BAD %s", err);
		imapd_command_done(s);
		return;
	}
	s->cmd_parsed = 1;
	str_copy(s->tag, s->cmd.tag, sizeof(s->tag));
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb == s->cmd.verb)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		imapd_tagged(s, 1, "BAD Command not implemented");
		imapd_command_done(s);
		return;
	}
	if (!allowed(s, commands[i].states)) {
		imapd_tagged(s, 1, "BAD %s", s->state == IMAPD_S_NOTAUTH ? "Log in first" :
		    s->state == IMAPD_S_AUTH && (commands[i].states & SELECTED) ?
		    "No mailbox selected" : "Command not valid in this state");
		imapd_command_done(s);
		return;
	}
	if (s->readonly && s->state == IMAPD_S_SELECTED &&
	    (s->cmd.verb == IMAP_EXPUNGE || s->cmd.verb == IMAP_STORE ||
	    s->cmd.verb == IMAP_MOVE)) {
		imapd_tagged(s, 1, "NO [READ-ONLY] Mailbox is read-only");
		imapd_command_done(s);
		return;
	}
	if (commands[i].run != NULL)
		imapd_session_run(s, commands[i].run);
	else
		run_on_loop(s);
}

/* --- reading commands --- */

enum line_status { LINE_OK, LINE_MORE, LINE_TOO_LONG };

/* The next line, appended to cmdbuf (without CRLF); its start and length. */
static enum line_status
next_line(struct imapd_session *s, struct evbuffer *in, size_t *start, size_t *len)
{
	struct evbuffer_ptr p;
	size_t eol_len, n;
	char head[IMAP_TAG_MAX + 2];

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (p.pos == -1) {
		n = evbuffer_get_length(in);
		if (n <= IMAPD_LINE_MAX)
			return LINE_MORE;
		if (!s->skipping && s->cmdbuf.len == 0) {
			/* Keep the tag for the answer. */
			size_t h = evbuffer_copyout(in, head, sizeof(head) - 1);
			imap_parse_tag(head, h, s->tag, sizeof(s->tag));
		}
		s->skipping = 1;
		evbuffer_drain(in, n);
		return LINE_MORE;
	}
	if (s->skipping || (size_t)p.pos > IMAPD_LINE_MAX) {
		if (!s->skipping && s->cmdbuf.len == 0) {
			size_t h = evbuffer_copyout(in, head, sizeof(head) - 1);
			imap_parse_tag(head, h, s->tag, sizeof(s->tag));
		}
		s->skipping = 0;
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		return LINE_TOO_LONG;
	}
	n = (size_t)p.pos;
	*start = s->cmdbuf.len;
	buf_add(&s->cmdbuf, evbuffer_pullup(in, (ev_ssize_t)n), n);
	evbuffer_drain(in, n + eol_len);
	if (s->cmdbuf.len > *start && s->cmdbuf.p[s->cmdbuf.len - 1] == '\r')
		s->cmdbuf.p[--s->cmdbuf.len] = '\0';
	*len = s->cmdbuf.len - *start;
	return LINE_OK;
}

/* "tag APPEND ...": the first line of the command names APPEND. */
static int
is_append(const struct imapd_session *s)
{
	const char *sp = memchr(s->cmdbuf.p, ' ', s->cmdbuf.len);

	return sp != NULL && (size_t)(sp - s->cmdbuf.p) + 8 <= s->cmdbuf.len &&
	    strncasecmp(sp + 1, "APPEND ", 7) == 0;
}

static void
reset_command(struct imapd_session *s)
{
	buf_free(&s->cmdbuf);
	s->lit_total = 0;
	s->cmd_refused = 0;
	s->lit_discard = 0;
}

/* A literal marker ended the line: take the literal, or refuse it. */
static void
literal_start(struct imapd_session *s, uint64_t size, int nonsync)
{
	int append = is_append(s);
	uint64_t max = append ? s->srv->conf->max_message_size :
	    IMAPD_LITERALS_MAX - s->lit_total;

	if (s->state == IMAPD_S_NOTAUTH && append)
		max = 0;	/* nobody stores a message before logging in */
	if (size > max && !s->cmd_refused) {
		if (max == 0 && append)
			str_copy(s->refuse_text, "BAD Log in first", sizeof(s->refuse_text));
		else
			snprintf(s->refuse_text, sizeof(s->refuse_text), append ?
			    "NO [TOOBIG] Message is larger than %llu octets" :
			    "BAD [TOOBIG] Literals are limited to %llu octets in all",
			    (unsigned long long)max);
		if (!nonsync) {
			/* The client waits for "+": it never sends the literal. */
			imapd_tagged(s, 1, "%s", s->refuse_text);
			reset_command(s);
			s->tag[0] = '\0';
			return;
		}
		s->cmd_refused = 1;
	}
	if (s->cmd_refused) {
		s->lit_discard = 1;
		s->lit_need = size;
		return;
	}
	buf_add(&s->cmdbuf, "\r\n", 2);
	s->lit_need = size;
	s->lit_total += (size_t)size;
	if (!nonsync)
		imapd_send(s, "+ Ready for literal data");
}

/* Move literal bytes from the input; 0 when more are needed. */
static int
literal_take(struct imapd_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t n = avail < s->lit_need ? avail : (size_t)s->lit_need;

	if (n == 0)
		return 0;
	if (s->lit_discard)
		evbuffer_drain(in, n);
	else {
		buf_add(&s->cmdbuf, evbuffer_pullup(in, (ev_ssize_t)n), n);
		evbuffer_drain(in, n);
	}
	s->lit_need -= n;
	return 1;
}

static void
session_process(struct imapd_session *s)
{
	struct evbuffer *in;
	size_t start = 0, len = 0;
	uint64_t size;
	int nonsync;

	while (s->bev != NULL && s->state != IMAPD_S_LOGOUT && !s->waiting && !s->job_pending) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) >= IMAPD_OUT_HIGH)
			return;
		if (worker_stopping(s->srv->worker) && !s->idling && s->cmdbuf.len == 0) {
			imapd_session_shutdown(s);
			return;
		}
		in = bufferevent_get_input(s->bev);
		if (s->lit_need > 0) {
			if (!literal_take(s, in))
				return;
			continue;
		}
		switch (next_line(s, in, &start, &len)) {
		case LINE_MORE:
			return;
		case LINE_TOO_LONG:
			if (s->sasl != NULL)
				sasl_free(&s->sasl);
			imapd_tagged(s, 1, "BAD [TOOBIG] Command line too long");
			reset_command(s);
			s->tag[0] = '\0';
			continue;
		case LINE_OK:
			break;
		}
		if (s->sasl != NULL) {
			imapd_sasl_line(s, s->cmdbuf.p + start, len);
			continue;
		}
		if (s->idling) {
			idle_line(s, s->cmdbuf.p + start, len);
			continue;
		}
		if (start == 0)
			imap_parse_tag(s->cmdbuf.p, len, s->tag, sizeof(s->tag));
		switch (imap_literal_marker(s->cmdbuf.p + start, len, &size, &nonsync)) {
		case 1:
			literal_start(s, size, nonsync);
			continue;
		default:
			break;	/* a bad marker is the parser's to report */
		}
		if (s->cmd_refused) {
			imapd_tagged(s, 1, "%s", s->refuse_text);
			reset_command(s);
			s->tag[0] = '\0';
			continue;
		}
		command(s);
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	session_process(arg);
}

static void
session_write(struct bufferevent *bev, void *arg)
{
	struct imapd_session *s = arg;

	if (s->run != NULL)
		run_resume(s);
	else
		session_process(s);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct imapd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		char info[128];
		tls_describe(bev, info, sizeof(info));
		log_info("session=%s event=tls-established tls=\"%s\"", s->id, info);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->job_pending || s->state == IMAPD_S_LOGOUT)
			return;
		log_info("session=%s event=timeout", s->id);
		bufferevent_enable(bev, EV_WRITE);
		imapd_send(s, "* BYE Autologout: idle for too long");
		imapd_session_end(s, "timeout");
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
		session_close(s, s->state == IMAPD_S_LOGOUT ? "logout" : "eof");
}

/* --- start and shutdown --- */

void
imapd_session_start(struct imapd_server *srv, int fd, struct sockaddr *sa, int salen,
    enum conf_listener kind)
{
	struct imapd_session *s = xcalloc(1, sizeof(*s));
	int nfrom;
	struct conn_peer peer;

	s->srv = srv;
	s->kind = kind;
	str_random_hex(s->id, 8);
	s->bev = conn_accept(srv->base, kind == CONF_LISTEN_IMAPS ? srv->tls : NULL, fd, sa,
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
	bufferevent_setwatermark(s->bev, EV_WRITE, IMAPD_OUT_LOW, 0);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IMAPD_IN_MAX);
	bufferevent_setcb(s->bev, session_read, session_write, session_event, s);
	imapd_set_timeout(s, IMAPD_TIMEOUT_AUTH);
	log_info("session=%s event=connect listener=%s client=[%s]", s->id,
	    conf_listener_name(kind), s->peer_ip);
	if (worker_stopping(srv->worker) ||
	    worker_sessions(srv->worker) > srv->conf->imap_max_sessions) {
		imapd_send(s, "* BYE [UNAVAILABLE] Service not available, try again later");
		imapd_session_end(s, "busy");
		return;
	}
	if (!s->loopback && nfrom > srv->conf->imap_max_sessions_per_ip) {
		log_info("session=%s event=too-many-sessions client=[%s]", s->id, s->peer_ip);
		imapd_send(s, "* BYE [UNAVAILABLE] Too many connections from your address");
		imapd_session_end(s, "too-many-sessions");
		return;
	}
	struct buf caps = BUF_INIT;
	imapd_capabilities(s, &caps);
	imapd_send(s, "* OK [CAPABILITY %s] %s IMAP server ready", caps.p, srv->conf->hostname);
	buf_free(&caps);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
imapd_session_shutdown(struct imapd_session *s)
{
	if (s->state == IMAPD_S_LOGOUT || s->job_pending)
		return;		/* finishes by itself, or comes back here */
	if (s->waiting && !s->idling)
		return;
	imapd_send(s, "* BYE [UNAVAILABLE] Server shutting down");
	imapd_session_end(s, "shutdown");
}
