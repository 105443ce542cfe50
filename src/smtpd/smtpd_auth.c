/*
 * smtpd_auth - SMTP AUTH (RFC 4954) and the submission rules (RFC 6409).
 *
 * The SASL exchange itself is src/auth/sasl.c; this file carries it over
 * SMTP: 334 challenges, the credential check on a pool thread (crypt is
 * slow on purpose), failure delays and refusals per client address and
 * per account (src/auth/throttle.c), and which senders an authenticated
 * user may use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/sasl.h"
#include "auth/throttle.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/str.h"
#include "directory/dir.h"
#include "net/pool.h"
#include "net/tls.h"
#include "smtpd/smtpd_private.h"

int
smtpd_auth_allowed(struct smtpd_session *s)
{
	if (tls_active(s->bev))
		return 1;
	return s->srv->conf->allow_plaintext_loopback &&
	    cidr_is_loopback((struct sockaddr *)&s->peer);
}

/* "user:<address>": the account's key in the throttle table. */
static void
account_key(const char *account, char *out, size_t outlen)
{
	snprintf(out, outlen, "user:%s", account);
}

static void
auth_done(struct smtpd_session *s)
{
	sasl_free(&s->sasl);
	s->lb.max = SMTPD_CMD_LINE_MAX;
	s->state = SMTPD_S_HELO;
	smtpd_set_timeout(s, s->srv->conf->timeout_command);
	bufferevent_enable(s->bev, EV_READ);
}

static void
auth_fail_reply(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	event_free(s->auth_timer);
	s->auth_timer = NULL;
	smtpd_reply_error(s, s->auth_reply);
	if (s->state == SMTPD_S_CLOSING)
		return;
	auth_done(s);
	smtpd_session_process(s);
}

/* Answer a failed exchange after the throttle's delay for this address. */
static void
auth_failed(struct smtpd_session *s)
{
	enum sasl_error err = sasl_error_code(s->sasl);
	const char *account = sasl_authcid(s->sasl);
	char key[THROTTLE_KEY_MAX];
	unsigned delay_ms = 0;
	time_t now = time(NULL);

	switch (err) {
	case SASL_ERR_MALFORMED:
		s->auth_reply = "501 5.5.2 Error: malformed authentication response";
		break;
	case SASL_ERR_TOO_LONG:
		s->auth_reply = "500 5.5.6 Error: authentication response too long";
		break;
	case SASL_ERR_CANCELLED:
		s->auth_reply = "501 5.0.0 Authentication cancelled";
		break;
	case SASL_ERR_INTERNAL:
		s->auth_reply = "454 4.7.0 Temporary authentication failure";
		break;
	default:
		s->auth_reply = "535 5.7.8 Error: authentication credentials invalid";
		break;
	}
	if (err == SASL_ERR_CREDENTIALS || err == SASL_ERR_AUTHZID ||
	    err == SASL_ERR_UNSUPPORTED) {
		char shown[200];
		str_printable(shown, sizeof(shown), account, strlen(account));
		log_info("session=%s event=auth-failed client=[%s] account=\"%s\" mechanism=%s "
		    "reason=\"%s\"", s->id, s->peer_ip, shown, sasl_mechanism(s->sasl),
		    sasl_error(s->sasl));
		if (throttle_fail(s->srv->throttle, s->peer_ip, now))
			log_warn("session=%s event=auth-refused client=[%s] failures exceeded",
			    s->id, s->peer_ip);
		if (account[0] != '\0') {
			account_key(account, key, sizeof(key));
			if (throttle_fail(s->srv->throttle, key, now))
				log_warn("session=%s event=auth-refused account=\"%s\" failures "
				    "exceeded", s->id, shown);
		}
		throttle_check(s->srv->throttle, s->peer_ip, now, &delay_ms, NULL);
	}
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	s->state = SMTPD_S_AUTH_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	s->auth_timer = evtimer_new(s->srv->base, auth_fail_reply, s);
	evtimer_add(s->auth_timer, &tv);
}

static void
auth_succeeded(struct smtpd_session *s)
{
	char canon[DIR_ADDRESS_MAX + 1], why[128], key[THROTTLE_KEY_MAX];

	if (dir_canonical(sasl_authzid(s->sasl), canon, why, sizeof(why)) == -1) {
		s->auth_reply = "535 5.7.8 Error: authentication credentials invalid";
		auth_done(s);
		smtpd_reply_error(s, s->auth_reply);
		return;
	}
	str_copy(s->auth_user, canon, sizeof(s->auth_user));
	throttle_success(s->srv->throttle, s->peer_ip);
	account_key(canon, key, sizeof(key));
	throttle_success(s->srv->throttle, key);
	log_info("session=%s event=auth user=%s mechanism=%s", s->id, s->auth_user,
	    sasl_mechanism(s->sasl));
	auth_done(s);
	smtpd_reply(s, "235 2.7.0 Authentication successful");
}

static void	auth_status(struct smtpd_session *s, enum sasl_status st);

static void
auth_verify_work(void *arg)
{
	struct smtpd_session *s = arg;

	s->auth_status = sasl_credentials(s->sasl, s->auth_cred.password_hash,
	    s->auth_cred.scram, s->auth_challenge, sizeof(s->auth_challenge));
	explicit_bzero(&s->auth_cred, sizeof(s->auth_cred));
}

static void
auth_verify_done(void *arg)
{
	struct smtpd_session *s = arg;

	s->commit_pending = 0;
	if (s->dead) {
		smtpd_session_free(s);
		return;
	}
	auth_status(s, s->auth_status);
	if (s->state == SMTPD_S_HELO)
		smtpd_session_process(s);
}

/* The mechanism knows who the client claims to be: fetch the credentials. */
static void
auth_need_credentials(struct smtpd_session *s)
{
	char canon[DIR_ADDRESS_MAX + 1], why[128];
	int found = 0;

	memset(&s->auth_cred, 0, sizeof(s->auth_cred));
	if (dir_canonical(sasl_authcid(s->sasl), canon, why, sizeof(why)) == 0)
		found = dir_user_get(s->srv->dir, canon, &s->auth_cred, why, sizeof(why));
	if (found == -1) {
		log_error("session=%s event=auth-lookup-failed: %s", s->id, why);
		s->auth_reply = "454 4.7.0 Temporary authentication failure";
		auth_done(s);
		smtpd_reply(s, "%s", s->auth_reply);
		return;
	}
	if (found != 1 || !s->auth_cred.enabled)
		memset(&s->auth_cred, 0, sizeof(s->auth_cred));	/* fails like a bad password */
	s->state = SMTPD_S_AUTH_WAIT;
	s->commit_pending = 1;
	bufferevent_disable(s->bev, EV_READ);
	pool_submit(s->srv->pool, auth_verify_work, auth_verify_done, s);
}

static void
auth_status(struct smtpd_session *s, enum sasl_status st)
{
	switch (st) {
	case SASL_CONTINUE:
		s->state = SMTPD_S_AUTH;
		s->lb.max = SASL_LINE_MAX;
		bufferevent_enable(s->bev, EV_READ);
		smtpd_reply(s, "334 %s", s->auth_challenge);
		break;
	case SASL_NEED_CREDENTIALS:
		auth_need_credentials(s);
		break;
	case SASL_OK:
		auth_succeeded(s);
		break;
	case SASL_FAIL:
	default:
		auth_failed(s);
		break;
	}
}

void
smtpd_auth_response(struct smtpd_session *s, const char *line, size_t len)
{
	auth_status(s, sasl_step(s->sasl, line, len, s->auth_challenge,
	    sizeof(s->auth_challenge)));
}

void
smtpd_auth_start(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
	char mech[32];
	const char *sp, *ir = NULL;
	size_t mlen;
	time_t until;

	if (!smtpd_auth_allowed(s)) {
		smtpd_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->auth_user[0] != '\0') {
		smtpd_reply_error(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->state == SMTPD_S_CONNECTED || !s->esmtp) {
		smtpd_reply_error(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->state != SMTPD_S_HELO) {
		smtpd_reply_error(s, "503 5.5.1 Error: AUTH not allowed in a mail transaction");
		return;
	}
	if (throttle_check(s->srv->throttle, s->peer_ip, time(NULL), NULL, &until) == -1) {
		smtpd_reply(s, "454 4.7.0 Error: too many failed authentications from your address, "
		    "try again later");
		return;
	}
	sp = strchr(cmd->arg, ' ');
	mlen = sp != NULL ? (size_t)(sp - cmd->arg) : strlen(cmd->arg);
	if (mlen == 0 || mlen >= sizeof(mech)) {
		smtpd_reply_error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, cmd->arg, mlen);
	mech[mlen] = '\0';
	if (sp != NULL)
		ir = sp + 1;
	s->sasl = sasl_new(mech);
	if (s->sasl == NULL) {
		smtpd_reply_error(s, "504 5.5.4 Error: unrecognized authentication mechanism");
		return;
	}
	auth_status(s, sasl_step(s->sasl, ir, ir != NULL ? strlen(ir) : 0,
	    s->auth_challenge, sizeof(s->auth_challenge)));
}

/* --- submission: what an authenticated user may send as --- */

int
smtpd_auth_owns(struct smtpd_session *s, const char *address)
{
	struct dir_resolution res;
	char canon[DIR_ADDRESS_MAX + 1], why[128];
	int owned = 0;

	if (dir_canonical(address, canon, why, sizeof(why)) == -1)
		return 0;
	if (strcmp(canon, s->auth_user) == 0)
		return 1;
	/* A +tag of the user, or an alias that delivers to the user alone. */
	dir_resolve(s->srv->dir, canon, s->srv->conf->recipient_delimiter, &res);
	if (res.status == DIR_RESOLVE_OK && res.nremote == 0 && res.nmailboxes == 1) {
		char mine[DIR_ADDRESS_MAX + 1];
		snprintf(mine, sizeof(mine), "%s@%s", res.mailboxes[0].local,
		    res.mailboxes[0].domain);
		owned = strcmp(mine, s->auth_user) == 0;
	}
	dir_resolution_free(&res);
	return owned;
}

/*
 * Take the next mailbox of a From: value (RFC 5322 3.4 mailbox-list) into
 * out: the <addr-spec> when there is one, else the bare text outside quotes
 * and comments. Returns where the next mailbox starts.
 */
static const char *
next_from_address(const char *p, char *out, size_t outlen)
{
	size_t bare = 0, angle = 0;
	int quoted = 0, comment = 0, in_angle = 0, had_angle = 0;
	char bare_text[DIR_ADDRESS_MAX + 64];

	for (; *p != '\0'; p++) {
		char c = *p;
		if (comment > 0) {
			comment += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (quoted) {
			if (c == '\\' && p[1] != '\0')
				p++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (c == ',' && !in_angle)
			break;
		if (c == '(')
			comment = 1;
		else if (c == '"')
			quoted = 1;
		else if (c == '<' && !had_angle)
			in_angle = had_angle = 1;
		else if (c == '>' && in_angle)
			in_angle = 0;
		else if (in_angle && angle + 1 < outlen)
			out[angle++] = c;
		else if (!in_angle && c != ' ' && c != '\t' && bare + 1 < sizeof(bare_text))
			bare_text[bare++] = c;
	}
	if (had_angle)
		out[angle] = '\0';
	else {
		bare_text[bare] = '\0';
		str_copy(out, bare_text, outlen);
	}
	return *p == ',' ? p + 1 : p;
}

int
smtpd_auth_from_ok(struct smtpd_session *s, const char *value)
{
	char address[DIR_ADDRESS_MAX + 64];
	const char *p = value;
	int count = 0;

	while (*p != '\0') {
		p = next_from_address(p, address, sizeof(address));
		if (address[0] == '\0')
			continue;
		if (!smtpd_auth_owns(s, address))
			return 0;
		count++;
	}
	return count > 0;
}
