/*
 * smtpc_session - the SMTP client state machine.
 *
 * One connection at a time per job. Replies are read whole (multi-line,
 * bounded by SMTPC_REPLY_MAX) and handed to the handler of the current
 * state. No PIPELINING: one command, one reply, which keeps per-recipient
 * results exact and the code short; the queue runs many jobs at once.
 * Whatever happens, the job ends through finish(), which defers done()
 * to a fresh loop iteration.
 */
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
#include <openssl/ssl.h>

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
	SMTPC_S_MAIL,
	SMTPC_S_RCPT,
	SMTPC_S_DATA,
	SMTPC_S_DOT,
	SMTPC_S_QUIT,
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
	int			 has_starttls, has_size, has_8bitmime, has_smtputf8;
	int			 tls_on, no_tls;
	unsigned char		*in_tx;		/* per rcpt: 1 RCPT sent/accepted */
	size_t			 ircpt;
	size_t			 naccepted;
	/* the reply being read */
	int			 code;
	char			 text[SMTPC_DIAG_MAX];	/* last line, "550 5.1.1 ..." */
	size_t			 reply_bytes;
	unsigned		 gen;		/* bumped for every new bufferevent */
	/* life cycle */
	struct event		*finish_ev;
	int			 dns_pending;
	int			 cancelled;
	int			 finished;
};

static void next_address(struct smtpc_job *job);
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
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_job *job = arg;
	struct smtpc_params *p = job->p;

	event_free(job->finish_ev);
	free(job->in_tx);
	free(job);
	p->done(p->arg);
}

static void
finish(struct smtpc_job *job)
{
	struct timeval now = { 0, 0 };

	if (job->finished)
		return;
	job->finished = 1;
	if (job->bev != NULL) {
		bufferevent_free(job->bev);
		job->bev = NULL;
	}
	job->finish_ev = evtimer_new(job->p->base, on_finish, job);
	evtimer_add(job->finish_ev, &now);
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
	char printable[SMTPC_DIAG_MAX];

	r->code = job->code;
	reply_status(job, r->status, sizeof(r->status));
	str_printable(printable, sizeof(printable), job->text, strlen(job->text));
	snprintf(r->diag, sizeof(r->diag), "%s (from %s)", printable, job->peer);
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
	if (job->bev != NULL) {
		bufferevent_free(job->bev);
		job->bev = NULL;
	}
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
host_fail(struct smtpc_job *job, const char *why)
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
			str_copy(r->status, "4.4.1", sizeof(r->status));
		}
	}
	if (job->bev != NULL) {
		/* a broken connection cannot take QUIT */
		bufferevent_free(job->bev);
		job->bev = NULL;
	}
	session_end(job);
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
	return job->has_smtputf8 ? 1 : -1;
}

static void
start_mail(struct smtpc_job *job)
{
	char size[40] = "";
	int eight = 0, utf8;

	if ((utf8 = needs_smtputf8(job)) == -1) {
		set_open(job, 553, "5.6.7", "the receiving server does not support SMTPUTF8 "
		    "(non-ASCII address)");
		quit(job);
		return;
	}
	if (job->has_size)
		snprintf(size, sizeof(size), " SIZE=%zu", job->p->msglen);
	if (job->has_8bitmime)
		for (size_t i = 0; i < job->p->msglen && !eight; i++)
			eight = (unsigned char)job->p->msg[i] >= 0x80;
	send_line(job, SMTPC_S_MAIL, "MAIL FROM:<%s>%s%s%s", job->p->from, size,
	    eight ? " BODY=8BITMIME" : "", utf8 ? " SMTPUTF8" : "");
}

/* The next open recipient not yet in this transaction, or DATA/QUIT. */
static void
next_rcpt(struct smtpc_job *job)
{
	for (; job->ircpt < job->p->nrcpts; job->ircpt++) {
		struct smtpc_rcpt *r = &job->p->rcpts[job->ircpt];
		if (rcpt_open(r) && !job->in_tx[job->ircpt]) {
			job->in_tx[job->ircpt] = 1;
			send_line(job, SMTPC_S_RCPT, "RCPT TO:<%s>", r->address);
			return;
		}
	}
	if (job->naccepted > 0)
		send_line(job, SMTPC_S_DATA, "DATA");
	else
		quit(job);
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

static void
start_tls(struct smtpc_job *job)
{
	SSL *ssl = SSL_new(job->p->ssl);
	struct bufferevent *tls;

	if (ssl == NULL) {
		job->no_tls = 1;
		start_mail(job);
		return;
	}
	SSL_set_tlsext_host_name(ssl, job->mx[job->imx].host);
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

static void
ehlo_keywords(struct smtpc_job *job, const char *line)
{
	if (strncasecmp(line, "STARTTLS", 8) == 0 && (line[8] == '\0' || line[8] == ' '))
		job->has_starttls = 1;
	else if (strncasecmp(line, "SIZE", 4) == 0 && (line[4] == '\0' || line[4] == ' '))
		job->has_size = 1;
	else if (strncasecmp(line, "8BITMIME", 8) == 0)
		job->has_8bitmime = 1;
	else if (strncasecmp(line, "SMTPUTF8", 8) == 0)
		job->has_smtputf8 = 1;
}

static void
handle_reply(struct smtpc_job *job)
{
	int c = job->code / 100;
	char why[SMTPC_DIAG_MAX + 64], printable[SMTPC_DIAG_MAX];

	str_printable(printable, sizeof(printable), job->text, strlen(job->text));
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
			if (job->has_starttls && !job->tls_on && !job->no_tls && job->p->ssl != NULL)
				send_line(job, SMTPC_S_STARTTLS, "STARTTLS");
			else
				start_mail(job);
		} else if (c == 5)
			send_line(job, SMTPC_S_HELO, "HELO %s", job->p->helo);
		else {
			snprintf(why, sizeof(why), "EHLO: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_HELO:
		if (c == 2)
			start_mail(job);
		else {
			snprintf(why, sizeof(why), "HELO: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_STARTTLS:
		if (c == 2)
			start_tls(job);
		else
			start_mail(job);
		break;
	case SMTPC_S_MAIL:
		if (c == 2) {
			job->ircpt = 0;
			next_rcpt(job);
		} else if (c == 5) {
			for (size_t i = 0; i < job->p->nrcpts; i++)
				if (rcpt_open(&job->p->rcpts[i]))
					rcpt_result(job, &job->p->rcpts[i]);
			quit(job);
		} else {
			snprintf(why, sizeof(why), "MAIL FROM: %s", printable);
			host_fail(job, why);
		}
		break;
	case SMTPC_S_RCPT:
		rcpt_result(job, &job->p->rcpts[job->ircpt]);
		if (c == 2)
			job->naccepted++;
		else
			log_info("event=smtpc-rcpt-refused domain=%s host=%s to=<%s> reply=\"%s\"",
			    job->p->domain, job->peer, job->p->rcpts[job->ircpt].address,
			    printable);
		job->ircpt++;
		next_rcpt(job);
		break;
	case SMTPC_S_DATA:
		if (job->code == 354) {
			send_body(job);
			break;
		}
		data_result(job);
		quit(job);
		break;
	case SMTPC_S_DOT:
		data_result(job);
		log_info("event=smtpc-sent domain=%s host=%s reply=\"%s\"", job->p->domain,
		    job->peer, printable);
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
			job->tls_on = 1;
			job->has_starttls = job->has_size = job->has_8bitmime = 0;
			job->has_smtputf8 = 0;
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
		/* opportunistic: the same address again, in the clear */
		log_info("event=smtpc-tls-failed host=%s", job->peer);
		bufferevent_free(job->bev);
		job->bev = NULL;
		job->no_tls = 1;
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
	job->bev = bufferevent_socket_new(job->p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	job->gen++;
	job->tls_on = job->has_starttls = job->has_size = job->has_8bitmime = 0;
	job->has_smtputf8 = 0;
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

	snprintf(diag, sizeof(diag), "we are the best MX for %s: no better host to relay to",
	    job->p->domain);
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
		free(job->in_tx);
		free(job);
		return;
	}
	if (status != SMTPC_DNS_OK) {
		if (job->mx[job->imx].pref == (unsigned)-1 && status != SMTPC_DNS_TEMP) {
			/* implicit MX without an address: nowhere to deliver (RFC 5321 5.1) */
			snprintf(diag, sizeof(diag), "domain %s has no MX and no address",
			    job->p->domain);
			set_open(job, 550, "5.1.2", diag);
			finish(job);
			return;
		}
		snprintf(diag, sizeof(diag), "cannot resolve %s: %s", job->mx[job->imx].host, err);
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

static void
on_mx(void *arg, enum smtpc_dns_status status, const struct smtpc_mx *mx, size_t n,
    const char *err)
{
	struct smtpc_job *job = arg;
	char diag[SMTPC_DIAG_MAX];

	job->dns_pending = 0;
	if (job->cancelled) {
		free(job->in_tx);
		free(job);
		return;
	}
	switch (status) {
	case SMTPC_DNS_OK:
		if (smtpc_mx_is_null(mx, n)) {
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
		str_copy(job->mx[0].host, job->p->domain, sizeof(job->mx[0].host));
		job->mx[0].pref = (unsigned)-1;
		job->nmx = 1;
		break;
	case SMTPC_DNS_NXDOMAIN:
		snprintf(diag, sizeof(diag), "domain %s does not exist", job->p->domain);
		set_open(job, 550, "5.1.2", diag);
		finish(job);
		return;
	default:
		snprintf(diag, sizeof(diag), "MX lookup for %s failed: %s", job->p->domain, err);
		set_open(job, 0, "4.4.3", diag);
		finish(job);
		return;
	}
	job->imx = 0;
	next_host(job);
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) into addrs[0]; 0 or -1. */
static int
parse_literal(struct smtpc_job *job, const char *domain)
{
	char text[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(domain);
	struct sockaddr_in *sin = (struct sockaddr_in *)&job->addrs[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&job->addrs[0];

	if (len < 3 || domain[len - 1] != ']' || len - 2 >= sizeof(text))
		return -1;
	memcpy(text, domain + 1, len - 2);
	text[len - 2] = '\0';
	memset(&job->addrs[0], 0, sizeof(job->addrs[0]));
	if (strncasecmp(text, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, text + 5, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)job->p->port);
	} else {
		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)job->p->port);
	}
	str_copy(job->mx[0].host, domain, sizeof(job->mx[0].host));
	job->nmx = 1;
	job->naddrs = 1;
	return 0;
}

struct smtpc_job *
smtpc_start(struct smtpc_params *p)
{
	struct smtpc_job *job = xcalloc(1, sizeof(*job));

	job->p = p;
	job->in_tx = xcalloc(p->nrcpts + 1, 1);
	for (size_t i = 0; i < p->nrcpts; i++)
		p->rcpts[i].code = 0;
	if (p->domain[0] == '[') {
		/* an address literal: no DNS; finish() keeps done deferred */
		if (parse_literal(job, p->domain) == -1) {
			set_open(job, 553, "5.1.3", "bad address literal");
			finish(job);
		} else if (addrs_self(job, job->addrs, 1))
			best_mx(job);
		else
			next_address(job);
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
		free(job->in_tx);
		free(job);
		return;
	}
	if (job->bev != NULL)
		bufferevent_free(job->bev);
	job->bev = NULL;
	if (job->dns_pending) {
		job->cancelled = 1;	/* the resolver callback frees it */
		return;
	}
	free(job->in_tx);
	free(job);
}
