/*
 * queue_dsn - build RFC 3464 reports: bounces, delay notices and success
 * reports (NOTIFY=SUCCESS: Action: delivered into a mailbox here, or
 * relayed to a next hop that does not take DSN).
 *
 * The report names each failed recipient with its final status and the
 * reply of the host that refused it (Diagnostic-Code: smtp; ...), or our
 * own reason (DNS, expiry) as X-tern text. The original header block is
 * copied as it was received; a RET=FULL copy is capped so that a bounce
 * of a huge message stays small.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "queue/queue_dsn.h"

static void
rfc5322_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Header block of msg: up to and including the empty line (or all of it). */
static size_t
header_len(const char *msg, size_t msglen)
{
	const char *end;

	if (msglen >= 2 && memcmp(msg, "\r\n", 2) == 0)
		return 0;
	end = memmem(msg, msglen, "\r\n\r\n", 4);
	return end != NULL ? (size_t)(end - msg) + 2 : msglen;
}

/* A status "5.1.1" when s looks like one; else the fallback for the code class. */
static const char *
status_of(const struct queue_rcpt *r)
{
	const char *s = r->status;

	if ((s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.')
		return s;
	return "5.0.0";
}

/* A success is reported with a 2.x.x status. */
static const char *
success_status_of(const struct queue_rcpt *r)
{
	const char *s = r->status;

	if (s[0] == '2' && s[1] == '.')
		return s;
	return "2.0.0";
}

/* A delay is reported with a 4.x.x status (RFC 3464 2.3.4). */
static const char *
delay_status_of(const struct queue_rcpt *r)
{
	const char *s = r->status;

	if (s[0] == '4' && s[1] == '.')
		return s;
	return "4.0.0";
}

enum dsn_kind {
	DSN_FAILED = 0,
	DSN_DELAYED,
	DSN_SUCCESS,
};

static void
recipient_block(struct buf *b, const struct queue_rcpt *r, enum dsn_kind kind,
    unsigned char mark, time_t now, time_t retry_until)
{
	char date[64], diag[QUEUE_DIAG_MAX];
	const char *d = r->diag;

	rfc5322_date(now, date, sizeof(date));
	buf_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n", r->address);
	if (r->orcpt[0] != '\0')
		buf_printf(b, "Original-Recipient: %s\r\n", r->orcpt);
	if (kind == DSN_DELAYED)
		buf_printf(b, "Action: delayed\r\nStatus: %s\r\n", delay_status_of(r));
	else if (kind == DSN_SUCCESS)
		buf_printf(b, "Action: %s\r\nStatus: %s\r\n",
		    mark == QUEUE_DSN_RELAYED ? "relayed" : "delivered", success_status_of(r));
	else
		buf_printf(b, "Action: failed\r\nStatus: %s\r\n", status_of(r));
	str_printable(diag, sizeof(diag), d, strlen(d));
	if (d[0] >= '2' && d[0] <= '5' && d[1] >= '0' && d[1] <= '9' && d[2] >= '0' &&
	    d[2] <= '9')
		buf_printf(b, "Diagnostic-Code: smtp; %s\r\n", diag);
	else if (d[0] != '\0')
		buf_printf(b, "Diagnostic-Code: X-tern; %s\r\n", diag);
	buf_printf(b, "Last-Attempt-Date: %s\r\n", date);
	if (kind == DSN_DELAYED) {
		rfc5322_date(retry_until, date, sizeof(date));
		buf_printf(b, "Will-Retry-Until: %s\r\n", date);
	}
}

static const char *subjects[] = {
	"Undelivered Mail Returned to Sender",
	"Delayed Mail (still being retried)",
	"Successful Mail Delivery Report",
};

/* What the readable part says about one recipient without a diagnostic. */
static const char *
plain_reason(enum dsn_kind kind, unsigned char mark)
{
	if (kind == DSN_SUCCESS)
		return mark == QUEUE_DSN_RELAYED ? "relayed" : "delivered";
	return kind == DSN_DELAYED ? "delivery delayed" : "delivery failed";
}

/* The readable part's introduction. */
static void
intro(struct buf *b, enum dsn_kind kind, const char *hostname, time_t retry_until)
{
	char date[64];

	buf_printf(b, "This is the mail system at host %s.\r\n\r\n", hostname);
	switch (kind) {
	case DSN_DELAYED:
		rfc5322_date(retry_until, date, sizeof(date));
		buf_printf(b, "Your message could not be delivered to one or more recipients yet.\r\n"
		    "It is still queued and will be tried again until %s.\r\n"
		    "You do not need to send it again.\r\n\r\n", date);
		break;
	case DSN_SUCCESS:
		buf_printf(b, "Your message was successfully delivered to the destinations "
		    "listed below.\r\nWhere it was relayed to a system that does not report "
		    "delivery, you\r\nmay still hear of errors from other systems.\r\n\r\n");
		break;
	default:
		buf_printf(b, "Your message could not be delivered to one or more recipients.\r\n"
		    "It is attached below.\r\n\r\n");
		break;
	}
}

/* A bounce, a delay notice (retry_until) or a success report. */
static void
build(const struct queue_envelope *env, const unsigned char *which, enum dsn_kind kind,
    const char *hostname, const char *msg, size_t msglen, time_t now,
    time_t retry_until, char **out, size_t *len_out)
{
	struct buf b = BUF_INIT;
	char date[64], boundary[64], rnd[17], diag[QUEUE_DIAG_MAX];
	size_t hlen;
	int delay = kind == DSN_DELAYED;
	/* RFC 3461 4.3: RET=FULL is for failures; other reports carry the headers */
	int full = kind == DSN_FAILED && env->ret == QUEUE_RET_FULL;

	str_random_hex(rnd, 8);
	snprintf(boundary, sizeof(boundary), "%s/%s", rnd, hostname);
	rfc5322_date(now, date, sizeof(date));
	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
	buf_printf(&b, "To: <%s>\r\n", env->from);
	buf_printf(&b, "Subject: %s\r\n", subjects[kind]);
	buf_printf(&b, "Date: %s\r\n", date);
	buf_printf(&b, "Message-ID: <%s.%s@%s>\r\n", env->id, rnd, hostname);
	buf_printf(&b, "Auto-Submitted: auto-replied\r\n");
	buf_printf(&b, "MIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n", boundary);
	buf_printf(&b, "This is a MIME-encapsulated message.\r\n\r\n");

	/* 1: for people */
	buf_printf(&b, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	intro(&b, kind, hostname, retry_until);
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (!which[i])
			continue;
		str_printable(diag, sizeof(diag), env->rcpts[i].diag,
		    strlen(env->rcpts[i].diag));
		if (kind == DSN_SUCCESS)
			buf_printf(&b, "<%s>: %s%s%s\r\n", env->rcpts[i].address,
			    plain_reason(kind, which[i]), diag[0] != '\0' ? ": " : "", diag);
		else
			buf_printf(&b, "<%s>: %s\r\n", env->rcpts[i].address,
			    diag[0] != '\0' ? diag : plain_reason(kind, which[i]));
	}

	/* 2: for programs (RFC 3464 section 2) */
	buf_printf(&b, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", boundary);
	buf_printf(&b, "Reporting-MTA: dns; %s\r\n", hostname);
	if (env->envid[0] != '\0')
		buf_printf(&b, "Original-Envelope-Id: %s\r\n", env->envid);
	rfc5322_date(env->created, date, sizeof(date));
	buf_printf(&b, "Arrival-Date: %s\r\n", date);
	for (size_t i = 0; i < env->nrcpts; i++)
		if (which[i])
			recipient_block(&b, &env->rcpts[i], kind, which[i], now, retry_until);

	/* 3: the original */
	hlen = header_len(msg, msglen);
	if (full) {
		size_t n = msglen < QUEUE_DSN_FULL_MAX ? msglen : QUEUE_DSN_FULL_MAX;
		buf_printf(&b, "\r\n--%s\r\nContent-Description: Undelivered Message\r\n"
		    "Content-Type: message/rfc822\r\n\r\n", boundary);
		buf_add(&b, msg, n);
		if (n < 2 || memcmp(msg + n - 2, "\r\n", 2) != 0)
			buf_add(&b, "\r\n", 2);
	} else {
		buf_printf(&b, "\r\n--%s\r\nContent-Description: %s Message Headers\r\n"
		    "Content-Type: text/rfc822-headers\r\n\r\n", boundary,
		    delay ? "Delayed" : kind == DSN_SUCCESS ? "Delivered" : "Undelivered");
		buf_add(&b, msg, hlen);
		if (hlen < 2 || memcmp(msg + hlen - 2, "\r\n", 2) != 0)
			buf_add(&b, "\r\n", 2);
	}
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	*out = b.p;
	*len_out = b.len;
}

void
queue_dsn_build(const struct queue_envelope *env, const unsigned char *which,
    const char *hostname, const char *msg, size_t msglen, time_t now,
    char **out, size_t *len_out)
{
	build(env, which, DSN_FAILED, hostname, msg, msglen, now, 0, out, len_out);
}

void
queue_dsn_build_success(const struct queue_envelope *env, const unsigned char *which,
    const char *hostname, const char *msg, size_t msglen, time_t now,
    char **out, size_t *len_out)
{
	build(env, which, DSN_SUCCESS, hostname, msg, msglen, now, 0, out, len_out);
}

void
queue_dsn_build_delay(const struct queue_envelope *env, const unsigned char *which,
    const char *hostname, const char *msg, size_t msglen, time_t now,
    time_t retry_until, char **out, size_t *len_out)
{
	build(env, which, DSN_DELAYED, hostname, msg, msglen, now,
	    retry_until != 0 ? retry_until : 1, out, len_out);
}

/*
 * Enqueue a report for the marked recipients that want it: NOTIFY has the
 * kind's bit, or (failures and delays) no NOTIFY was given.
 */
static int
report(const char *queue_dir, const struct queue_envelope *env,
    const unsigned char *which, enum dsn_kind kind, const char *hostname, const char *msg,
    size_t msglen, time_t now, time_t retry_until, char *id_out, const char **errstr_out)
{
	static const unsigned wants[] = { QUEUE_NOTIFY_FAILURE, QUEUE_NOTIFY_DELAY,
	    QUEUE_NOTIFY_SUCCESS };
	unsigned want = wants[kind];
	struct queue_envelope bounce;
	unsigned char *mark;
	size_t n = 0, len;
	char *text;
	int rc;

	id_out[0] = '\0';
	if (env->from[0] == '\0')
		return 0;	/* never a bounce to the null sender */
	mark = xcalloc(env->nrcpts + 1, 1);
	for (size_t i = 0; i < env->nrcpts; i++) {
		unsigned notify = env->rcpts[i].notify;
		if (which[i] && ((notify == 0 && kind != DSN_SUCCESS) || (notify & want))) {
			mark[i] = which[i];
			n++;
		}
	}
	if (n == 0) {
		free(mark);
		return 0;
	}
	memset(&bounce, 0, sizeof(bounce));
	queue_file_new_id(bounce.id, sizeof(bounce.id));
	bounce.created = bounce.next_try = now;
	if (queue_envelope_add_rcpt(&bounce, env->from) == -1) {
		free(mark);
		*errstr_out = "bad sender address";
		return -1;
	}
	build(env, mark, kind, hostname, msg, msglen, now, retry_until, &text, &len);
	rc = queue_enqueue(queue_dir, &bounce, -1, 0, text, len, errstr_out);
	if (rc == 0)
		str_copy(id_out, bounce.id, QUEUE_ID_MAX);
	free(text);
	free(mark);
	queue_envelope_free(&bounce);
	return rc;
}

int
queue_dsn_enqueue(const char *queue_dir, const struct queue_envelope *env,
    const unsigned char *which, const char *hostname, const char *msg,
    size_t msglen, time_t now, char *id_out, const char **errstr_out)
{
	return report(queue_dir, env, which, DSN_FAILED, hostname, msg, msglen,
	    now, 0, id_out, errstr_out);
}

int
queue_dsn_enqueue_success(const char *queue_dir, const struct queue_envelope *env,
    const unsigned char *which, const char *hostname, const char *msg,
    size_t msglen, time_t now, char *id_out, const char **errstr_out)
{
	return report(queue_dir, env, which, DSN_SUCCESS, hostname, msg, msglen,
	    now, 0, id_out, errstr_out);
}

int
queue_dsn_enqueue_delay(const char *queue_dir, const struct queue_envelope *env,
    const unsigned char *which, const char *hostname, const char *msg,
    size_t msglen, time_t now, time_t retry_until, char *id_out,
    const char **errstr_out)
{
	return report(queue_dir, env, which, DSN_DELAYED, hostname, msg, msglen,
	    now, retry_until != 0 ? retry_until : 1, id_out, errstr_out);
}
