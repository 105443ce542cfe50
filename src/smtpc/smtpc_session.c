/*
 * smtpc_session - the SMTP client state machine.
 *
 * One connection at a time per job. Replies are read whole (multi-line,
 * bounded by SMTPC_REPLY_MAX) and handed to the handler of the current
 * state. With PIPELINING (RFC 2920) MAIL, every RCPT and DATA go out in
 * one write and the replies are matched in order (pipe_idx says which
 * recipient each RCPT reply belongs to), so per-recipient results are the
 * same as without it. Whatever happens, the job ends through finish(),
 * which defers done() to a fresh loop iteration.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "smtpc/smtpc_session.h"

enum smtpc_state {
	SMTPC_S_IDLE = 0,
	SMTPC_S_CONNECT,
	SMTPC_S_GREET,
	SMTPC_S_EHLO,
	SMTPC_S_HELO,
	SMTPC_S_STARTTLS,
	SMTPC_S_TLS,
	SMTPC_S_AUTH,		/* waiting for 235 */
	SMTPC_S_AUTH_USER,	/* LOGIN: waiting for the user name prompt */
	SMTPC_S_AUTH_PASS,	/* LOGIN: waiting for the password prompt */
	SMTPC_S_MAIL,
	SMTPC_S_RCPT,
	SMTPC_S_DATA,
	SMTPC_S_DOT,
	SMTPC_S_DOT_DROP,	/* pipelined DATA got 354 with no recipient: empty body */
	SMTPC_S_RSET,		/* after a transaction, before parking the connection */
	SMTPC_S_QUIT,
};

#define SMTPC_AUTH_PLAIN	0x1
#define SMTPC_AUTH_LOGIN	0x2
#define SMTPC_AUTH_OTHER	0x4

/* What a session learnt: kept with a connection that is reused. */
struct smtpc_caps {
	int			 has_starttls, has_size, has_8bitmime, has_smtputf8;
	int			 has_pipelining, has_dsn, auth_mechs;
	unsigned long long	 size_limit;	/* SIZE of EHLO, 0 = none given */
	int			 tls_on;
	int			 authed;	/* AUTH succeeded */
	char			 tls[SMTPC_TLS_MAX];	/* this session's TLS, "none" */
};

struct smtpc_job {
	struct smtpc_params	*p;
	struct smtpc_mx		 mx[SMTPC_MX_MAX];
	size_t			 nmx, imx;
	struct sockaddr_storage	 addrs[SMTPC_ADDR_MAX];
	size_t			 naddrs, iaddr;
	struct bufferevent	*bev;
	enum smtpc_state	 state;
	char			 peer[300];	/* "host[addr]" for messages */
	struct smtpc_caps	 caps;		/* what this session knows of the server */
	int			 no_tls;
	unsigned char		*in_tx;		/* per rcpt: 1 RCPT sent/accepted */
	size_t			 ircpt;
	size_t			 naccepted;
	/* PIPELINING: which recipient each outstanding RCPT reply is for */
	int			 pipelined;
	int			 uses;		/* transactions on this connection */
	int			 adopted;	/* reused, no reply on it yet */
	int			 mail_failed;	/* pipelined MAIL refused: drain the rest */
	size_t			*pipe_idx;
	size_t			 npipe, pipe_pos;
	/* the reply being read */
	int			 code;
	char			 text[SMTPC_DIAG_MAX];	/* last line, "550 5.1.1 ..." */
	size_t			 reply_bytes;
	unsigned		 gen;		/* bumped for every new bufferevent */
	/* connection pool: the destination whose count this connection is in */
	struct smtpc_dest	*dest;
	struct smtpc_dest	*wait_dest;	/* waiting there for a connection slot */
	TAILQ_ENTRY(smtpc_job)	 wait_entry;
	struct event		*wake_ev;
	/* life cycle */
	struct event		*finish_ev;
	int			 dns_pending;
	int			 cancelled;
	int			 finished;
};

/*
 * The pool: connections per destination (address and port), counted
 * whether busy or idle, at most max_per_dest; a job that finds the count
 * full waits for a slot. After a transaction a healthy connection is
 * reset (RSET) and parked; the next job for that address takes it instead
 * of connecting, until SMTPC_IDLE_SECS pass or SMTPC_REUSE_MAX uses.
 */
struct smtpc_conn {
	TAILQ_ENTRY(smtpc_conn)	 entry;
	struct smtpc_dest	*dest;
	struct bufferevent	*bev;
	struct event		*timer;
	struct smtpc_caps	 caps;
	int			 uses;
	int			 closing;	/* QUIT being written */
};

struct smtpc_dest {
	TAILQ_ENTRY(smtpc_dest)	 entry;
	struct smtpc_pool	*pool;
	struct sockaddr_storage	 addr;
	int			 open;		/* connections: busy, idle and closing */
	TAILQ_HEAD(, smtpc_conn) idle;		/* parked, and closing ones */
	TAILQ_HEAD(, smtpc_job)	 waiting;
};

struct smtpc_pool {
	struct event_base	*base;
	int			 max_per_dest;
	TAILQ_HEAD(, smtpc_dest) dests;
};

#define SMTPC_IDLE_SECS		5	/* a parked connection is closed after this */
#define SMTPC_REUSE_MAX		100	/* transactions on one connection */

static void next_address(struct smtpc_job *job);
static void drop_bev(struct smtpc_job *job);
static void unwait(struct smtpc_job *job);
static void tx_end(struct smtpc_job *job);
static void park(struct smtpc_job *job);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void next_host(struct smtpc_job *job);

static int
rcpt_open(const struct smtpc_rcpt *r)
{
	return r->code == 0 || (r->code >= 400 && r->code < 500);
}

static size_t
count_open(const struct smtpc_job *job)
{
	size_t n = 0;

	for (size_t i = 0; i < job->p->nrcpts; i++)
		n += rcpt_open(&job->p->rcpts[i]);
	return n;
}

static void
job_free(struct smtpc_job *job)
{
	if (job->wake_ev != NULL)
		event_free(job->wake_ev);
	free(job->in_tx);
	free(job->pipe_idx);
	free(job);
}

static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_job *job = arg;
	struct smtpc_params *p = job->p;

	event_free(job->finish_ev);
	job_free(job);
	p->done(p->arg);
}

static void
finish(struct smtpc_job *job)
{
	struct timeval now = { 0, 0 };

	if (job->finished)
		return;
	job->finished = 1;
	unwait(job);
	drop_bev(job);
	job->finish_ev = evtimer_new(job->p->base, on_finish, job);
	evtimer_add(job->finish_ev, &now);
}

/* --- the pool --- */

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return smtpc_addr_is_self(a, b, 1);
}

static struct smtpc_dest *
dest_get(struct smtpc_pool *pool, const struct sockaddr_storage *ss)
{
	struct smtpc_dest *d;

	TAILQ_FOREACH(d, &pool->dests, entry)
		if (same_addr(&d->addr, ss))
			return d;
	d = xcalloc(1, sizeof(*d));
	d->pool = pool;
	memcpy(&d->addr, ss, sizeof(d->addr));
	TAILQ_INIT(&d->idle);
	TAILQ_INIT(&d->waiting);
	TAILQ_INSERT_TAIL(&pool->dests, d, entry);
	return d;
}

/* Forget a destination nobody uses. */
static void
dest_gc(struct smtpc_dest *d)
{
	if (d->open == 0 && TAILQ_EMPTY(&d->idle) && TAILQ_EMPTY(&d->waiting)) {
		TAILQ_REMOVE(&d->pool->dests, d, entry);
		free(d);
	}
}

/* A slot or an idle connection is free: the first waiting job tries again. */
static void
dest_wake(struct smtpc_dest *d)
{
	struct smtpc_job *job = TAILQ_FIRST(&d->waiting);
	struct timeval now = { 0, 0 };

	if (job == NULL)
		return;
	TAILQ_REMOVE(&d->waiting, job, wait_entry);
	job->wait_dest = NULL;
	evtimer_add(job->wake_ev, &now);
}

/* One connection of d is gone. */
static void
dest_closed(struct smtpc_dest *d)
{
	d->open--;
	dest_wake(d);
	dest_gc(d);
}

static void
conn_free(struct smtpc_conn *c)
{
	struct smtpc_dest *d = c->dest;

	TAILQ_REMOVE(&d->idle, c, entry);
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
	dest_closed(d);
}

static void
conn_quit_written(struct bufferevent *bev, void *arg)
{
	conn_free(arg);
}

static void
conn_quit_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

/* Idle too long (or at shutdown): say goodbye, close once it is written. */
static void
conn_close(struct smtpc_conn *c)
{
	struct timeval tv = { 5, 0 };

	if (c->closing)
		return;
	c->closing = 1;
	evtimer_del(c->timer);
	bufferevent_setcb(c->bev, NULL, conn_quit_written, conn_quit_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add(bufferevent_get_output(c->bev), "QUIT\r\n", 6);
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_conn *c = arg;

	if (c->closing)
		conn_free(c);
	else
		conn_close(c);
}

/* A parked connection heard something (a 421, EOF): it is done. */
static void
conn_idle_read(struct bufferevent *bev, void *arg)
{
	conn_free(arg);
}

static void
conn_idle_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

struct smtpc_pool *
smtpc_pool_new(struct event_base *base, int max_per_dest)
{
	struct smtpc_pool *pool = xcalloc(1, sizeof(*pool));

	pool->base = base;
	pool->max_per_dest = max_per_dest > 0 ? max_per_dest : 1;
	TAILQ_INIT(&pool->dests);
	return pool;
}

void
smtpc_pool_free(struct smtpc_pool **poolp)
{
	struct smtpc_pool *pool = *poolp;
	struct smtpc_dest *d;

	if (pool == NULL)
		return;
	while ((d = TAILQ_FIRST(&pool->dests)) != NULL) {
		struct smtpc_conn *c;
		TAILQ_REMOVE(&pool->dests, d, entry);
		while ((c = TAILQ_FIRST(&d->idle)) != NULL) {
			TAILQ_REMOVE(&d->idle, c, entry);
			bufferevent_free(c->bev);
			event_free(c->timer);
			free(c);
		}
		free(d);
	}
	free(pool);
	*poolp = NULL;
}

/* Free the job's connection and its slot. */
static void
drop_bev(struct smtpc_job *job)
{
	if (job->bev != NULL) {
		bufferevent_free(job->bev);
		job->bev = NULL;
	}
	if (job->dest != NULL) {
		struct smtpc_dest *d = job->dest;
		job->dest = NULL;
		dest_closed(d);
	}
}

/* Stop waiting for a slot (the job is cancelled). */
static void
unwait(struct smtpc_job *job)
{
	if (job->wait_dest != NULL) {
		TAILQ_REMOVE(&job->wait_dest->waiting, job, wait_entry);
		dest_gc(job->wait_dest);
		job->wait_dest = NULL;
	}
}

/* An idle connection of d this job may use: same AUTH need. */
static struct smtpc_conn *
conn_find(struct smtpc_job *job, struct smtpc_dest *d)
{
	struct smtpc_conn *c;

	TAILQ_FOREACH(c, &d->idle, entry)
		if (!c->closing && c->caps.authed == (job->p->auth_user != NULL))
			return c;
	return NULL;
}

/* Every open recipient gets this result (our own error, no reply). */
static void
set_open(struct smtpc_job *job, int code, const char *status, const char *diag)
{
	for (size_t i = 0; i < job->p->nrcpts; i++) {
		struct smtpc_rcpt *r = &job->p->rcpts[i];
		if (!rcpt_open(r))
			continue;
		r->code = code;
		str_copy(r->status, status, sizeof(r->status));
		str_copy(r->diag, diag, sizeof(r->diag));
	}
}

/* The enhanced status of the reply just read, or one made from its code. */
static void
reply_status(struct smtpc_job *job, char *out, size_t outlen)
{
	const char *t = job->text + 4;
	size_t n = 0;

	if (strlen(job->text) > 4 && t[0] == job->text[0] && t[1] == '.') {
		while (t[n] != '\0' && t[n] != ' ' && n < outlen - 1 &&
		    (isdigit((unsigned char)t[n]) || t[n] == '.'))
			n++;
		memcpy(out, t, n);
		out[n] = '\0';
		return;
	}
	snprintf(out, outlen, "%c.0.0", job->text[0] >= '2' && job->text[0] <= '5' ?
	    job->text[0] : '4');
}

static void
rcpt_result(struct smtpc_job *job, struct smtpc_rcpt *r)
{
	char printable[SMTPC_DIAG_MAX], tail[sizeof(job->peer) + SMTPC_TLS_MAX + 16];
	size_t room = sizeof(r->diag) - 1, keep;
	int tl;

	r->code = job->code;
	reply_status(job, r->status, sizeof(r->status));
	str_printable(printable, sizeof(printable), job->text, strlen(job->text));
	/* the peer and its TLS go last, so a long reply cuts neither of them */
	tl = snprintf(tail, sizeof(tail), " (from %s, TLS: %s)", job->peer, job->caps.tls);
	keep = tl > 0 && (size_t)tl < room ? room - (size_t)tl : 0;
	snprintf(r->diag, sizeof(r->diag), "%.*s%s", (int)keep, printable, tail);
	str_copy(r->tls, job->caps.tls, sizeof(r->tls));
	r->next_hop_dsn = job->caps.has_dsn;
}

static void
send_line(struct smtpc_job *job, enum smtpc_state next, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
send_line(struct smtpc_job *job, enum smtpc_state next, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(job->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(job->bev), "\r\n", 2);
	job->state = next;
}

/* The connection is over; go on with what is left. */
static void
session_end(struct smtpc_job *job)
{
	drop_bev(job);
	memset(job->in_tx, 0, job->p->nrcpts);
	job->naccepted = 0;
	job->state = SMTPC_S_IDLE;
	if (count_open(job) == 0) {
		finish(job);
		return;
	}
	job->iaddr++;
	next_address(job);
}

/* This host cannot take the message now: note why, try the next address. */
static void
host_fail_status(struct smtpc_job *job, const char *status, const char *why)
{
	char diag[SMTPC_DIAG_MAX];

	log_info("event=smtpc-host-failed domain=%s host=%s reason=\"%s\"", job->p->domain,
	    job->peer, why);
	snprintf(diag, sizeof(diag), "%s (%s)", why, job->peer);
	for (size_t i = 0; i < job->p->nrcpts; i++) {
		struct smtpc_rcpt *r = &job->p->rcpts[i];
		/* accepted at RCPT, but the message never got through: open again */
		if (job->in_tx[i] && r->code >= 200 && r->code < 300)
			r->code = 0;
		if (r->code == 0) {
			str_copy(r->diag, diag, sizeof(r->diag));
			str_copy(r->status, status, sizeof(r->status));
		}
	}
	/* a broken connection cannot take QUIT */
	drop_bev(job);
	session_end(job);
}

static void
host_fail(struct smtpc_job *job, const char *why)
{
	host_fail_status(job, "4.4.1", why);
}

static void
quit(struct smtpc_job *job)
{
	send_line(job, SMTPC_S_QUIT, "QUIT");
}

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* Non-ASCII addresses need SMTPUTF8 (RFC 6531 3.2); -1 when it cannot be used. */
static int
needs_smtputf8(struct smtpc_job *job)
{
	int need = has_8bit(job->p->from);

	for (size_t i = 0; i < job->p->nrcpts && !need; i++)
		need = has_8bit(job->p->rcpts[i].address);
	if (!need)
		return 0;
	return job->caps.has_smtputf8 ? 1 : -1;
}

int
smtpc_xtext(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		if (*p >= 33 && *p <= 126 && *p != '+' && *p != '=') {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = (char)*p;
		} else {
			if (n + 3 >= outlen)
				return -1;
			out[n++] = '+';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xf];
		}
	}
	if (outlen == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* " NOTIFY=... ORCPT=..." for a DSN-capable server (RFC 3461 4.1, 4.2). */
static void
rcpt_dsn_params(struct smtpc_job *job, const struct smtpc_rcpt *r, char *out, size_t outlen)
{
	char orcpt[SMTPC_DIAG_MAX * 3], addr[SMTPC_DIAG_MAX * 3];
	const char *semi;
	size_t n = 0;

	out[0] = '\0';
	if (!job->caps.has_dsn)
		return;
	if (r->notify & SMTPC_NOTIFY_NEVER)
		n = (size_t)snprintf(out, outlen, " NOTIFY=NEVER");
	else if (r->notify != 0)
		n = (size_t)snprintf(out, outlen, " NOTIFY=%s%s%s%s%s",
		    r->notify & SMTPC_NOTIFY_SUCCESS ? "SUCCESS" : "",
		    (r->notify & SMTPC_NOTIFY_SUCCESS) && (r->notify & 0xc) ? "," : "",
		    r->notify & SMTPC_NOTIFY_FAILURE ? "FAILURE" : "",
		    (r->notify & SMTPC_NOTIFY_FAILURE) && (r->notify & SMTPC_NOTIFY_DELAY) ?
		    "," : "",
		    r->notify & SMTPC_NOTIFY_DELAY ? "DELAY" : "");
	if (n >= outlen || r->orcpt == NULL || (semi = strchr(r->orcpt, ';')) == NULL)
		return;
	/* "type;address": the type stays as it is, the address is xtext */
	if (smtpc_xtext(semi + 1, addr, sizeof(addr)) == -1)
		return;
	snprintf(orcpt, sizeof(orcpt), "%.*s;%s", (int)(semi - r->orcpt), r->orcpt, addr);
	if (strlen(orcpt) < 500)
		snprintf(out + n, outlen - n, " ORCPT=%s", orcpt);
}

static void
send_rcpt(struct smtpc_job *job, size_t i, enum smtpc_state next)
{
	char dsn[SMTPC_DIAG_MAX + 64];

	job->in_tx[i] = 1;
	rcpt_dsn_params(job, &job->p->rcpts[i], dsn, sizeof(dsn));
	send_line(job, next, "RCPT TO:<%s>%s", job->p->rcpts[i].address, dsn);
}

static void
start_mail(struct smtpc_job *job)
{
	char size[40] = "", dsn[SMTPC_DIAG_MAX] = "", envid[101 * 3 + 1];
	int eight = 0, utf8;

	if ((utf8 = needs_smtputf8(job)) == -1) {
		set_open(job, 553, "5.6.7", "the receiving server does not support SMTPUTF8 "
		    "(non-ASCII address)");
		tx_end(job);
		return;
	}
	if (job->caps.has_size && job->caps.size_limit > 0 && job->p->msglen > job->caps.size_limit) {
		char diag[SMTPC_DIAG_MAX];
		snprintf(diag, sizeof(diag), "message of %zu bytes is larger than the %llu "
		    "bytes %s accepts (SIZE)", job->p->msglen, job->caps.size_limit, job->peer);
		set_open(job, 552, "5.3.4", diag);
		log_info("event=smtpc-too-large domain=%s host=%s size=%zu limit=%llu",
		    job->p->domain, job->peer, job->p->msglen, job->caps.size_limit);
		tx_end(job);
		return;
	}
	if (job->caps.has_size)
		snprintf(size, sizeof(size), " SIZE=%zu", job->p->msglen);
	if (job->caps.has_8bitmime)
		for (size_t i = 0; i < job->p->msglen && !eight; i++)
			eight = (unsigned char)job->p->msg[i] >= 0x80;
	if (job->caps.has_dsn) {
		size_t n = 0;
		if (job->p->ret != SMTPC_RET_NONE)
			n = (size_t)snprintf(dsn, sizeof(dsn), " RET=%s",
			    job->p->ret == SMTPC_RET_FULL ? "FULL" : "HDRS");
		if (job->p->envid != NULL && job->p->envid[0] != '\0' &&
		    smtpc_xtext(job->p->envid, envid, sizeof(envid)) == 0)
			snprintf(dsn + n, sizeof(dsn) - n, " ENVID=%s", envid);
	}
	job->mail_failed = 0;
	job->pipelined = job->caps.has_pipelining;
	send_line(job, SMTPC_S_MAIL, "MAIL FROM:<%s>%s%s%s%s", job->p->from, size,
	    eight ? " BODY=8BITMIME" : "", utf8 ? " SMTPUTF8" : "", dsn);
	if (!job->pipelined)
		return;
	/* RFC 2920 3.1: MAIL, every RCPT and DATA in one go */
	job->npipe = job->pipe_pos = 0;
	for (size_t i = 0; i < job->p->nrcpts; i++)
		if (rcpt_open(&job->p->rcpts[i])) {
			job->pipe_idx[job->npipe++] = i;
			send_rcpt(job, i, SMTPC_S_MAIL);
		}
	send_line(job, SMTPC_S_MAIL, "DATA");
}

/* The next open recipient not yet in this transaction, or DATA/QUIT. */
static void
next_rcpt(struct smtpc_job *job)
{
	for (; job->ircpt < job->p->nrcpts; job->ircpt++) {
		struct smtpc_rcpt *r = &job->p->rcpts[job->ircpt];
		if (rcpt_open(r) && !job->in_tx[job->ircpt]) {
			send_rcpt(job, job->ircpt, SMTPC_S_RCPT);
			return;
		}
	}
	if (job->naccepted > 0)
		send_line(job, SMTPC_S_DATA, "DATA");
	else
		tx_end(job);
}

/* The message with dot-stuffing (RFC 5321 4.5.2) and the final dot. */
static void
send_body(struct smtpc_job *job)
{
	struct evbuffer *out = bufferevent_get_output(job->bev);
	const char *p = job->p->msg, *end = p + job->p->msglen;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (*p == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, p, n);
		p += n;
	}
	struct timeval tv = { SMTPC_TIMEOUT_DOT, 0 };

	if (job->p->msglen > 0 && end[-1] != '\n')
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	job->state = SMTPC_S_DOT;
	bufferevent_set_timeouts(job->bev, &tv, &tv);
}

/* DATA or the final dot answered: every accepted recipient gets the reply. */
static void
data_result(struct smtpc_job *job)
{
	for (size_t i = 0; i < job->p->nrcpts; i++)
		if (job->in_tx[i] && job->p->rcpts[i].code >= 200 &&
		    job->p->rcpts[i].code < 300)
			rcpt_result(job, &job->p->rcpts[i]);
}

/* The host the certificate must name: the MX host, or the literal's address. */
static void
tls_expect_name(struct smtpc_job *job, SSL *ssl)
{
	const char *host = job->mx[job->imx].host;
	char ip[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(host);

	if (host[0] == '[' && len > 2 && len - 2 < sizeof(ip)) {
		memcpy(ip, host + 1, len - 2);
		ip[len - 2] = '\0';
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    strncasecmp(ip, "IPv6:", 5) == 0 ? ip + 5 : ip);
		return;
	}
	if (strchr(host, ':') != NULL || strspn(host, "0123456789.") == len) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		return;
	}
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
}

static void
start_tls(struct smtpc_job *job)
{
	SSL *ssl = SSL_new(job->p->ssl);
	struct bufferevent *tls;

	if (ssl == NULL) {
		job->no_tls = 1;
		if (job->p->auth_user != NULL)
			host_fail_status(job, "4.7.0", "cannot start TLS: credentials are "
			    "never sent in the clear");
		else
			start_mail(job);
		return;
	}
	tls_expect_name(job, ssl);
	tls = bufferevent_openssl_filter_new(job->p->base, job->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		host_fail(job, "cannot start TLS");
		return;
	}
	job->bev = tls;
	job->gen++;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, on_read, NULL, on_event, job);
	job->state = SMTPC_S_TLS;
	job->code = 0;
	job->reply_bytes = 0;
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

/* The handshake is done: what we got, and whether the certificate verified. */
static void
tls_describe(struct smtpc_job *job)
{
	SSL *ssl = bufferevent_openssl_get_ssl(job->bev);
	long vr;

	if (ssl == NULL) {
		str_copy(job->caps.tls, "unknown", sizeof(job->caps.tls));
		return;
	}
	vr = SSL_get_verify_result(ssl);
	if (SSL_get0_peer_certificate(ssl) == NULL)
		snprintf(job->caps.tls, sizeof(job->caps.tls), "%s %s, no certificate",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	else if (vr == X509_V_OK)
		snprintf(job->caps.tls, sizeof(job->caps.tls), "%s %s, certificate verified",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	else
		snprintf(job->caps.tls, sizeof(job->caps.tls), "%s %s, certificate not verified: %s",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		    X509_verify_cert_error_string(vr));
	log_info("event=smtpc-tls domain=%s host=%s version=%s cipher=%s verified=%s%s%s%s",
	    job->p->domain, job->peer, SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	    SSL_get0_peer_certificate(ssl) != NULL && vr == X509_V_OK ? "yes" : "no",
	    vr != X509_V_OK ? " reason=\"" : "",
	    vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "",
	    vr != X509_V_OK ? "\"" : "");
}

static void
ehlo_auth(struct smtpc_job *job, const char *mechs)
{
	while (*mechs != '\0') {
		size_t n;
		while (*mechs == ' ')
			mechs++;
		n = strcspn(mechs, " ");
		if (n == 5 && strncasecmp(mechs, "PLAIN", 5) == 0)
			job->caps.auth_mechs |= SMTPC_AUTH_PLAIN;
		else if (n == 5 && strncasecmp(mechs, "LOGIN", 5) == 0)
			job->caps.auth_mechs |= SMTPC_AUTH_LOGIN;
		else if (n > 0)
			job->caps.auth_mechs |= SMTPC_AUTH_OTHER;
		mechs += n;
	}
}

static int
keyword(const char *line, const char *kw)
{
	size_t n = strlen(kw);

	return strncasecmp(line, kw, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

static void
ehlo_keywords(struct smtpc_job *job, const char *line)
{
	if (keyword(line, "STARTTLS"))
		job->caps.has_starttls = 1;
	else if (keyword(line, "SIZE")) {
		job->caps.has_size = 1;
		job->caps.size_limit = line[4] == ' ' ? strtoull(line + 5, NULL, 10) : 0;
	} else if (keyword(line, "8BITMIME"))
		job->caps.has_8bitmime = 1;
	else if (keyword(line, "SMTPUTF8"))
		job->caps.has_smtputf8 = 1;
	else if (keyword(line, "PIPELINING"))
		job->caps.has_pipelining = 1;
	else if (keyword(line, "DSN"))
		job->caps.has_dsn = 1;
	else if (keyword(line, "AUTH") && line[4] == ' ')
		ehlo_auth(job, line + 5);
	else if (strncasecmp(line, "AUTH=", 5) == 0)
		ehlo_auth(job, line + 5);
}

static void
clear_keywords(struct smtpc_job *job)
{
	job->caps.has_starttls = job->caps.has_size = job->caps.has_8bitmime = job->caps.has_smtputf8 = 0;
	job->caps.has_pipelining = job->caps.has_dsn = job->caps.auth_mechs = 0;
	job->caps.size_limit = 0;
}

/* base64 of in into a new string (the caller wipes and frees it). */
static char *
b64(const unsigned char *in, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static void
send_secret(struct smtpc_job *job, enum smtpc_state next, const char *prefix,
    const unsigned char *in, size_t len)
{
	char *enc = b64(in, len);

	send_line(job, next, "%s%s", prefix, enc);
	explicit_bzero(enc, strlen(enc));
	free(enc);
}

/*
 * RFC 4954 with the smarthost's credentials: PLAIN when offered, else
 * LOGIN. Only ever called with TLS up.
 */
static void
start_auth(struct smtpc_job *job)
{
	const char *user = job->p->auth_user, *pass = job->p->auth_pass;
	size_t ul = strlen(user), pl = strlen(pass);

	if (job->caps.auth_mechs & SMTPC_AUTH_PLAIN) {
		unsigned char *plain = xmalloc(ul + pl + 2);
		plain[0] = '\0';
		memcpy(plain + 1, user, ul);
		plain[ul + 1] = '\0';
		memcpy(plain + ul + 2, pass, pl);
		send_secret(job, SMTPC_S_AUTH, "AUTH PLAIN ", plain, ul + pl + 2);
		explicit_bzero(plain, ul + pl + 2);
		free(plain);
	} else
		send_line(job, SMTPC_S_AUTH_USER, "AUTH LOGIN");
}

/* EHLO (or HELO) is done, and TLS is up or not to be had: AUTH or MAIL. */
static void
after_hello(struct smtpc_job *job)
{
	if (job->p->auth_user == NULL) {
		start_mail(job);
		return;
	}
	if (!job->caps.tls_on) {
		host_fail_status(job, "4.7.0", "no TLS with the smarthost (STARTTLS not "
		    "offered or failed): credentials are never sent in the clear");
		return;
	}
	if (job->caps.auth_mechs & (SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN)) {
		start_auth(job);
		return;
	}
	if (job->caps.auth_mechs != 0) {
		host_fail_status(job, "4.7.0", "the smarthost offers no AUTH mechanism we "
		    "have (PLAIN, LOGIN)");
		return;
	}
	/* as Postfix does: a server that asks for no login is given none */
	log_info("event=smtpc-no-auth domain=%s host=%s: AUTH not offered, sending without",
	    job->p->domain, job->peer);
	start_mail(job);
}

static void
handle_auth(struct smtpc_job *job, const char *printable)
{
	char why[SMTPC_DIAG_MAX + 64];

	if (job->state == SMTPC_S_AUTH && job->code == 235) {
		job->caps.authed = 1;
		log_info("event=smtpc-auth domain=%s host=%s user=%s", job->p->domain, job->peer,
		    job->p->auth_user);
		start_mail(job);
		return;
	}
	if (job->state == SMTPC_S_AUTH_USER && job->code == 334) {
		send_secret(job, SMTPC_S_AUTH_PASS, "", (const unsigned char *)job->p->auth_user,
		    strlen(job->p->auth_user));
		return;
	}
	if (job->state == SMTPC_S_AUTH_PASS && job->code == 334) {
		send_secret(job, SMTPC_S_AUTH, "", (const unsigned char *)job->p->auth_pass,
		    strlen(job->p->auth_pass));
		return;
	}
	/* a refused login is the sender's setup, never the message: try later */
	snprintf(why, sizeof(why), "authentication failed: %s", printable);
	host_fail_status(job, "4.7.0", why);
}

static void
handle_reply(struct smtpc_job *job)
{
	int c = job->code / 100;
	char why[SMTPC_DIAG_MAX + 64], printable[SMTPC_DIAG_MAX];

	str_printable(printable, sizeof(printable), job->text, strlen(job->text));
	job->adopted = 0;
	switch (job->state) {
	case SMTPC_S_GREET:
		if (c != 2) {
			snprintf(why, sizeof(why), "greeting: %s", printable);
			host_fail(job, why);
			return;
		}
		send_line(job, SMTPC_S_EHLO, "EHLO %s", job->p->helo);
		break;
	case SMTPC_S_EHLO:
		if (c == 2) {
			if (job->caps.has_starttls && !job->caps.tls_on && !job->no_tls && job->p->ssl != NULL)
				send_line(job, SMTPC_S_STARTTLS, "STARTTLS");
			else
				after_hello(job);
		} else if (c == 5) {
			clear_keywords(job);
			send_line(job, SMTPC_S_HELO, "HELO %s", job->p->helo);
		} else {
			snprintf(why, sizeof(why), "EHLO: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_HELO:
		if (c == 2)
			after_hello(job);
		else {
			snprintf(why, sizeof(why), "HELO: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_STARTTLS:
		if (c == 2)
			start_tls(job);
		else
			after_hello(job);
		break;
	case SMTPC_S_AUTH:
	case SMTPC_S_AUTH_USER:
	case SMTPC_S_AUTH_PASS:
		handle_auth(job, printable);
		break;
	case SMTPC_S_MAIL:
		if (c == 2) {
			if (job->pipelined)
				job->state = job->npipe > 0 ? SMTPC_S_RCPT : SMTPC_S_DATA;
			else {
				job->ircpt = 0;
				next_rcpt(job);
			}
		} else if (c == 5) {
			for (size_t i = 0; i < job->p->nrcpts; i++)
				if (rcpt_open(&job->p->rcpts[i]))
					rcpt_result(job, &job->p->rcpts[i]);
			if (job->pipelined) {
				/* the RCPT and DATA replies still come: read them */
				job->mail_failed = 1;
				job->state = job->npipe > 0 ? SMTPC_S_RCPT : SMTPC_S_DATA;
			} else
				tx_end(job);
		} else {
			snprintf(why, sizeof(why), "MAIL FROM: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_RCPT: {
		size_t i = job->pipelined ? job->pipe_idx[job->pipe_pos++] : job->ircpt;
		if (!job->mail_failed) {
			rcpt_result(job, &job->p->rcpts[i]);
			if (c == 2)
				job->naccepted++;
			else
				log_info("event=smtpc-rcpt-refused domain=%s host=%s to=<%s> "
				    "reply=\"%s\"", job->p->domain, job->peer,
				    job->p->rcpts[i].address, printable);
		}
		if (job->pipelined) {
			if (job->pipe_pos == job->npipe)
				job->state = SMTPC_S_DATA;
			break;
		}
		job->ircpt++;
		next_rcpt(job);
		break;
	}
	case SMTPC_S_DATA:
		if (job->code == 354) {
			if (job->naccepted == 0 || job->mail_failed) {
				/* RFC 2920 3.1: nobody to send to, end the data at once */
				evbuffer_add(bufferevent_get_output(job->bev), ".\r\n", 3);
				job->state = SMTPC_S_DOT_DROP;
			} else
				send_body(job);
			break;
		}
		data_result(job);
		tx_end(job);
		break;
	case SMTPC_S_DOT:
		data_result(job);
		log_info("event=smtpc-sent domain=%s host=%s tls=\"%s\" reply=\"%s\"",
		    job->p->domain, job->peer, job->caps.tls, printable);
		tx_end(job);
		break;
	case SMTPC_S_DOT_DROP:
		tx_end(job);
		break;
	case SMTPC_S_RSET:
		if (c == 2)
			park(job);
		else
			quit(job);
		break;
	case SMTPC_S_QUIT:
		session_end(job);
		break;
	default:
		break;
	}
}

/* Read complete replies; stop when a handler replaced or dropped the connection. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct smtpc_job *job = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned gen = job->gen;
	char *line;
	size_t len;

	while (job->gen == gen && job->bev == bev &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		int more;
		job->reply_bytes += len + 2;
		if (len < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
		    (len > 3 && line[3] != ' ' && line[3] != '-') ||
		    job->reply_bytes > SMTPC_REPLY_MAX) {
			free(line);
			host_fail(job, "malformed or overlong reply");
			return;
		}
		more = len > 3 && line[3] == '-';
		job->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (job->state == SMTPC_S_EHLO && len > 4)
			ehlo_keywords(job, line + 4);
		str_copy(job->text, line, sizeof(job->text));
		explicit_bzero(line, len);
		free(line);
		if (more)
			continue;
		job->reply_bytes = 0;
		handle_reply(job);
	}
	if (job->gen == gen && job->bev == bev && evbuffer_get_length(in) > SMTPC_REPLY_MAX)
		host_fail(job, "overlong reply line");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc_job *job = arg;
	struct timeval tv = { SMTPC_TIMEOUT_REPLY, 0 };
	char why[128];

	if (what & BEV_EVENT_CONNECTED) {
		if (job->state == SMTPC_S_TLS) {
			job->caps.tls_on = 1;
			tls_describe(job);
			clear_keywords(job);
			send_line(job, SMTPC_S_EHLO, "EHLO %s", job->p->helo);
		} else
			job->state = SMTPC_S_GREET;
		bufferevent_set_timeouts(bev, &tv, &tv);
		return;
	}
	if (job->state == SMTPC_S_QUIT) {
		session_end(job);
		return;
	}
	if (job->state == SMTPC_S_TLS) {
		log_info("event=smtpc-tls-failed host=%s", job->peer);
		if (job->p->auth_user != NULL) {
			host_fail_status(job, "4.7.0", "TLS handshake failed: credentials are "
			    "never sent in the clear");
			return;
		}
		/* opportunistic: the same address again, in the clear */
		drop_bev(job);
		job->no_tls = 1;
		next_address(job);
		return;
	}
	if (job->adopted && !(what & BEV_EVENT_TIMEOUT)) {
		/* the server closed the parked connection as we took it: a new one */
		log_debug("event=smtpc-reuse-stale host=%s", job->peer);
		job->adopted = 0;
		drop_bev(job);
		memset(job->in_tx, 0, job->p->nrcpts);
		job->naccepted = 0;
		next_address(job);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout in state %d", (int)job->state);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed by the server");
	else
		snprintf(why, sizeof(why), "connection failed: %s",
		    strerror(EVUTIL_SOCKET_ERROR() != 0 ? EVUTIL_SOCKET_ERROR() : ECONNRESET));
	host_fail(job, why);
}

static void
describe(struct smtpc_job *job, const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip,
		    sizeof(ip));
	snprintf(job->peer, sizeof(job->peer), "%s[%s]", job->mx[job->imx].host, ip);
}

/* Use a parked connection: the server knows us already, start with MAIL. */
static void
adopt(struct smtpc_job *job, struct smtpc_conn *c)
{
	struct timeval tv = { SMTPC_TIMEOUT_REPLY, 0 };
	struct smtpc_dest *d = c->dest;

	TAILQ_REMOVE(&d->idle, c, entry);
	event_free(c->timer);
	job->bev = c->bev;
	job->dest = d;
	job->caps = c->caps;
	job->uses = c->uses;
	job->adopted = 1;
	free(c);
	job->gen++;
	job->code = 0;
	job->reply_bytes = 0;
	bufferevent_setcb(job->bev, on_read, NULL, on_event, job);
	bufferevent_set_timeouts(job->bev, &tv, &tv);
	bufferevent_enable(job->bev, EV_READ | EV_WRITE);
	log_info("event=smtpc-reuse domain=%s host=%s uses=%d", job->p->domain, job->peer,
	    job->uses);
	start_mail(job);
}

/* After RSET: hand the connection to the pool, go on with what is left. */
static void
park(struct smtpc_job *job)
{
	struct smtpc_dest *d = job->dest;
	struct smtpc_conn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = { SMTPC_IDLE_SECS, 0 };

	c->dest = d;
	c->bev = job->bev;
	c->caps = job->caps;
	c->uses = job->uses;
	c->timer = evtimer_new(job->p->base, conn_on_timer, c);
	job->bev = NULL;
	job->dest = NULL;	/* the slot goes with the connection */
	bufferevent_setcb(c->bev, conn_idle_read, NULL, conn_idle_event, c);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	TAILQ_INSERT_TAIL(&d->idle, c, entry);
	evtimer_add(c->timer, &tv);
	dest_wake(d);
	session_end(job);
}

/*
 * The transaction is over (sent, or refused): with a pool, RSET and park
 * the connection for the next message to this host; otherwise QUIT.
 */
static void
tx_end(struct smtpc_job *job)
{
	if (job->p->pool != NULL && job->dest != NULL && ++job->uses < SMTPC_REUSE_MAX)
		send_line(job, SMTPC_S_RSET, "RSET");
	else
		quit(job);
}

/* Connect to addrs[iaddr], or go on to the next host. */
static void
next_address(struct smtpc_job *job)
{
	struct timeval tv = { SMTPC_TIMEOUT_CONNECT, 0 };
	const struct sockaddr_storage *ss;
	socklen_t len;

	if (job->iaddr >= job->naddrs) {
		job->imx++;
		next_host(job);
		return;
	}
	ss = &job->addrs[job->iaddr];
	len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	describe(job, ss);
	if (job->p->pool != NULL) {
		struct smtpc_dest *d = dest_get(job->p->pool, ss);
		struct smtpc_conn *c = conn_find(job, d);
		if (c != NULL) {
			adopt(job, c);
			return;
		}
		if (d->open >= d->pool->max_per_dest) {
			log_debug("event=smtpc-wait domain=%s host=%s open=%d", job->p->domain,
			    job->peer, d->open);
			job->wait_dest = d;
			TAILQ_INSERT_TAIL(&d->waiting, job, wait_entry);
			return;
		}
		d->open++;
		job->dest = d;
	}
	job->bev = bufferevent_socket_new(job->p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	job->gen++;
	job->caps.tls_on = 0;
	job->caps.authed = 0;
	clear_keywords(job);
	str_copy(job->caps.tls, "none", sizeof(job->caps.tls));
	job->code = 0;
	job->reply_bytes = 0;
	job->state = SMTPC_S_CONNECT;
	bufferevent_setcb(job->bev, on_read, NULL, on_event, job);
	bufferevent_set_timeouts(job->bev, &tv, &tv);
	bufferevent_enable(job->bev, EV_READ | EV_WRITE);
	log_debug("event=smtpc-connect domain=%s host=%s", job->p->domain, job->peer);
	if (bufferevent_socket_connect(job->bev, (const struct sockaddr *)ss, (int)len) == -1)
		host_fail(job, "cannot connect");
}

/* Mail for the domain would come back to us: nowhere better to send it. */
static void
best_mx(struct smtpc_job *job)
{
	char diag[SMTPC_DIAG_MAX];

	if (job->p->relay_host != NULL)
		snprintf(diag, sizeof(diag), "the smarthost %s is this server",
		    job->p->relay_host);
	else
		snprintf(diag, sizeof(diag), "we are the best MX for %s: no better host to "
		    "relay to", job->p->domain);
	log_info("event=smtpc-best-mx domain=%s", job->p->domain);
	set_open(job, 0, "4.4.6", diag);
	finish(job);
}

/* 1 when one of the addresses of the host being resolved is ours. */
static int
addrs_self(const struct smtpc_job *job, const struct sockaddr_storage *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (smtpc_addr_is_self(&addrs[i], job->p->self_addrs, job->p->nself))
			return 1;
	return 0;
}

static void
on_addrs(void *arg, enum smtpc_dns_status status, const struct sockaddr_storage *addrs,
    size_t n, const char *err)
{
	struct smtpc_job *job = arg;
	char diag[SMTPC_DIAG_MAX];

	job->dns_pending = 0;
	if (job->cancelled) {
		job_free(job);
		return;
	}
	if (status != SMTPC_DNS_OK) {
		if (job->mx[job->imx].pref == (unsigned)-1 && status != SMTPC_DNS_TEMP &&
		    job->p->relay_host == NULL) {
			/* implicit MX without an address: nowhere to deliver (RFC 5321 5.1) */
			snprintf(diag, sizeof(diag), "domain %s has no MX and no address",
			    job->p->domain);
			set_open(job, 550, "5.1.2", diag);
			finish(job);
			return;
		}
		snprintf(diag, sizeof(diag), "cannot resolve %s%s: %s",
		    job->p->relay_host != NULL ? "the smarthost " : "", job->mx[job->imx].host,
		    err);
		for (size_t i = 0; i < job->p->nrcpts; i++)
			if (rcpt_open(&job->p->rcpts[i])) {
				str_copy(job->p->rcpts[i].diag, diag, sizeof(job->p->rcpts[i].diag));
				str_copy(job->p->rcpts[i].status, "4.4.3",
				    sizeof(job->p->rcpts[i].status));
			}
		job->imx++;
		next_host(job);
		return;
	}
	if (addrs_self(job, addrs, n)) {
		/* this host is us: it and everything not better than it go */
		unsigned pref = job->mx[job->imx].pref;
		size_t better = 0;

		while (better < job->imx && job->mx[better].pref < pref)
			better++;
		log_info("event=smtpc-self domain=%s host=%s", job->p->domain,
		    job->mx[job->imx].host);
		job->nmx = job->imx;
		if (better == 0) {
			best_mx(job);
			return;
		}
		next_host(job);
		return;
	}
	memcpy(job->addrs, addrs, n * sizeof(*addrs));
	job->naddrs = n;
	job->iaddr = 0;
	job->no_tls = 0;
	next_address(job);
}

static void
next_host(struct smtpc_job *job)
{
	if (job->imx >= job->nmx || count_open(job) == 0) {
		finish(job);
		return;
	}
	job->dns_pending = 1;
	smtpc_dns_addr(job->p->dns, job->mx[job->imx].host, job->p->port, on_addrs, job);
}

/* The smarthost's name does not lead anywhere: our setup, not the message. */
static void
relay_dns_fail(struct smtpc_job *job, const char *what)
{
	char diag[SMTPC_DIAG_MAX];

	snprintf(diag, sizeof(diag), "smarthost %s: %s", job->p->relay_host, what);
	log_warn("event=smtpc-smarthost-dns host=%s reason=\"%s\"", job->p->relay_host, what);
	set_open(job, 0, "4.4.4", diag);
	finish(job);
}

static void
on_mx(void *arg, enum smtpc_dns_status status, const struct smtpc_mx *mx, size_t n,
    const char *err)
{
	struct smtpc_job *job = arg;
	const char *name = job->p->relay_host != NULL ? job->p->relay_host : job->p->domain;
	char diag[SMTPC_DIAG_MAX];

	job->dns_pending = 0;
	if (job->cancelled) {
		job_free(job);
		return;
	}
	switch (status) {
	case SMTPC_DNS_OK:
		if (smtpc_mx_is_null(mx, n)) {
			if (job->p->relay_host != NULL) {
				relay_dns_fail(job, "null MX");
				return;
			}
			snprintf(diag, sizeof(diag), "domain %s does not accept mail (null MX)",
			    job->p->domain);
			set_open(job, 556, "5.1.10", diag);
			finish(job);
			return;
		}
		memcpy(job->mx, mx, n * sizeof(*mx));
		job->nmx = smtpc_mx_cut_self(mx, n, job->p->self_name);
		if (job->nmx < n)
			log_info("event=smtpc-self domain=%s host=%s kept=%zu", job->p->domain,
			    job->p->self_name, job->nmx);
		if (job->nmx == 0) {
			best_mx(job);
			return;
		}
		break;
	case SMTPC_DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the implicit MX */
		str_copy(job->mx[0].host, name, sizeof(job->mx[0].host));
		job->mx[0].pref = (unsigned)-1;
		job->nmx = 1;
		break;
	case SMTPC_DNS_NXDOMAIN:
		if (job->p->relay_host != NULL) {
			relay_dns_fail(job, "no such domain");
			return;
		}
		snprintf(diag, sizeof(diag), "domain %s does not exist", job->p->domain);
		set_open(job, 550, "5.1.2", diag);
		finish(job);
		return;
	default:
		snprintf(diag, sizeof(diag), "MX lookup for %s failed: %s", name, err);
		set_open(job, 0, "4.4.3", diag);
		finish(job);
		return;
	}
	job->imx = 0;
	next_host(job);
}

/* An IPv4 or IPv6 address (no brackets) into addrs[0]; 0 or -1. */
static int
parse_address(struct smtpc_job *job, const char *text)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&job->addrs[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&job->addrs[0];

	memset(&job->addrs[0], 0, sizeof(job->addrs[0]));
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)job->p->port);
	} else if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)job->p->port);
	} else
		return -1;
	job->nmx = 1;
	job->naddrs = 1;
	return 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) into addrs[0]; 0 or -1. */
static int
parse_literal(struct smtpc_job *job, const char *domain)
{
	char text[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(domain);

	if (len < 3 || domain[len - 1] != ']' || len - 2 >= sizeof(text))
		return -1;
	memcpy(text, domain + 1, len - 2);
	text[len - 2] = '\0';
	if (strncasecmp(text, "IPv6:", 5) == 0) {
		if (strchr(text + 5, ':') == NULL || parse_address(job, text + 5) == -1)
			return -1;
	} else if (strchr(text, ':') != NULL || parse_address(job, text) == -1)
		return -1;
	str_copy(job->mx[0].host, domain, sizeof(job->mx[0].host));
	return 0;
}

/* Connect to addrs[0] unless it is us. */
static void
start_address(struct smtpc_job *job)
{
	if (addrs_self(job, job->addrs, 1))
		best_mx(job);
	else
		next_address(job);
}

/* A smarthost: its MX hosts, its addresses, or the address given. */
static void
start_relay(struct smtpc_job *job)
{
	const char *host = job->p->relay_host;

	if (!job->p->relay_mx && parse_address(job, host) == 0) {
		str_copy(job->mx[0].host, host, sizeof(job->mx[0].host));
		start_address(job);
		return;
	}
	if (!job->p->relay_mx) {
		str_copy(job->mx[0].host, host, sizeof(job->mx[0].host));
		job->mx[0].pref = 0;
		job->nmx = 1;
		job->imx = 0;
		next_host(job);
		return;
	}
	job->dns_pending = 1;
	smtpc_dns_mx(job->p->dns, host, on_mx, job);
}

/* A slot or a parked connection became free: try the address again. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	next_address(arg);
}

struct smtpc_job *
smtpc_start(struct smtpc_params *p)
{
	struct smtpc_job *job = xcalloc(1, sizeof(*job));

	job->p = p;
	job->wake_ev = evtimer_new(p->base, on_wake, job);
	job->in_tx = xcalloc(p->nrcpts + 1, 1);
	job->pipe_idx = xcalloc(p->nrcpts + 1, sizeof(*job->pipe_idx));
	for (size_t i = 0; i < p->nrcpts; i++) {
		p->rcpts[i].code = 0;
		p->rcpts[i].next_hop_dsn = 0;
		str_copy(p->rcpts[i].tls, "none", sizeof(p->rcpts[i].tls));
	}
	/* finish() keeps done deferred whatever happens below */
	if (p->relay_host != NULL) {
		start_relay(job);
		return job;
	}
	if (p->domain[0] == '[') {
		/* an address literal: no DNS */
		if (parse_literal(job, p->domain) == -1) {
			set_open(job, 553, "5.1.3", "bad address literal");
			finish(job);
		} else
			start_address(job);
		return job;
	}
	job->dns_pending = 1;
	/* c-ares may answer at once (cached error): done stays deferred by finish() */
	smtpc_dns_mx(p->dns, p->domain, on_mx, job);
	return job;
}

void
smtpc_cancel(struct smtpc_job *job)
{
	if (job->finished) {
		/* done is queued: drop it */
		event_free(job->finish_ev);
		job_free(job);
		return;
	}
	unwait(job);
	drop_bev(job);
	if (job->dns_pending) {
		job->cancelled = 1;	/* the resolver callback frees it */
		return;
	}
	job_free(job);
}
