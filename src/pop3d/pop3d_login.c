/*
 * pop3d_login - USER/PASS and AUTH (RFC 1939, RFC 5034): the directory
 * lookup, the password check and the mailbox open run on the pool; a
 * failure is answered after the throttle's delay for the client address.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/password.h"
#include "auth/throttle.h"
#include "common/log.h"
#include "common/str.h"
#include "deliver/maildir.h"
#include "net/pool.h"
#include "net/tls.h"
#include "pop3d/pop3d_private.h"

int
pop3d_plaintext_ok(struct pop3d_session *s)
{
	return tls_active(s->bev) || (s->loopback && s->srv->conf->allow_plaintext_loopback);
}

/* --- login: directory, password and mailbox on the pool --- */

static void
login_open_mailbox(struct pop3d_server *srv, struct pop3d_login *job)
{
	char local[DIR_LOCAL_MAX + 1], path[PATH_MAX];
	const char *at = strrchr(job->address, '@');
	enum store_status status;

	if (at == NULL || (size_t)(at - job->address) >= sizeof(local)) {
		job->result = POP3D_LOGIN_TEMP;
		snprintf(job->why, sizeof(job->why), "bad address");
		return;
	}
	memcpy(local, job->address, (size_t)(at - job->address));
	local[at - job->address] = '\0';
	if (maildir_path(path, sizeof(path), srv->conf->data_dir, at + 1, local) == -1) {
		job->result = POP3D_LOGIN_TEMP;
		snprintf(job->why, sizeof(job->why), "bad mailbox name");
		return;
	}
	job->store = store_open(path, job->why, sizeof(job->why));
	if (job->store == NULL) {
		job->result = POP3D_LOGIN_TEMP;
		return;
	}
	job->mb = store_mailbox_open(job->store, "INBOX", STORE_OPEN_EXCLUSIVE, &status,
	    job->why, sizeof(job->why));
	if (job->mb == NULL) {
		job->result = status == STORE_IN_USE ? POP3D_LOGIN_IN_USE : POP3D_LOGIN_TEMP;
		store_close(&job->store);
		return;
	}
	job->result = POP3D_LOGIN_OK;
}

static void
login_work(void *arg)
{
	struct pop3d_session *s = arg;
	struct pop3d_server *srv = s->srv;
	struct pop3d_login *job = &s->login;
	struct dir_user user;
	char why[256];
	int found, ok;

	found = login_lookup(&srv->login, job->sasl == NULL ? job->address : job->open_only ?
	    sasl_authzid(job->sasl) : sasl_authcid(job->sasl), &user, why, sizeof(why));
	if (found == -1) {
		job->result = POP3D_LOGIN_TEMP;
		snprintf(job->why, sizeof(job->why), "directory: %s", why);
		return;
	}
	if (job->open_only)
		ok = found == 1;
	else if (job->sasl != NULL) {
		enum sasl_status st = sasl_credentials(job->sasl, user.password_hash, user.scram,
		    job->challenge, sizeof(job->challenge));
		if (st == SASL_CONTINUE) {
			/* SCRAM: the proof comes in the next client line. */
			explicit_bzero(&user, sizeof(user));
			job->result = POP3D_LOGIN_CONTINUE;
			return;
		}
		ok = st == SASL_OK;
	} else
		ok = login_check_password(&srv->login, &user, job->password);
	explicit_bzero(job->password, sizeof(job->password));
	explicit_bzero(&user.password_hash, sizeof(user.password_hash));
	explicit_bzero(&user.scram, sizeof(user.scram));
	if (!ok) {
		job->result = POP3D_LOGIN_BAD;
		snprintf(job->why, sizeof(job->why), "%s", found != 1 ?
		    "unknown or disabled user" : "wrong password");
		return;
	}
	str_copy(job->address, user.address, sizeof(job->address));
	login_open_mailbox(srv, job);
}

/* The failure answer, after the delay the throttle asked for. */
static void
login_fail_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct pop3d_session *s = arg;

	s->waiting = 0;
	pop3d_reply_error(s, "-ERR [AUTH] Authentication failed");
	pop3d_session_process(s);
}

static void
login_failed(struct pop3d_session *s)
{
	unsigned delay_ms = 0;
	time_t now = time(NULL);

	if (throttle_fail(s->srv->login.throttle, s->peer_ip, now))
		log_warn("session=%s event=login-refusing client=[%s] user=%s", s->id,
		    s->peer_ip, s->login_name);
	throttle_check(s->srv->login.throttle, s->peer_ip, now, &delay_ms, NULL);
	if (delay_ms == 0) {
		pop3d_reply_error(s, "-ERR [AUTH] Authentication failed");
		return;
	}
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	if (s->delay == NULL)
		s->delay = evtimer_new(s->srv->base, login_fail_delayed, s);
	s->waiting = 1;
	evtimer_add(s->delay, &tv);
}

static void
login_success(struct pop3d_session *s, const char *method)
{
	struct pop3d_login *job = &s->login;
	size_t n, count;
	uint64_t bytes;

	s->store = job->store;
	s->mb = job->mb;
	job->store = NULL;
	job->mb = NULL;
	str_copy(s->login_name, job->address, sizeof(s->login_name));
	n = store_mailbox_count(s->mb);
	pop3d_drop_init(&s->drop, n);
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		pop3d_drop_set(&s->drop, i, m->uid, m->size);
	}
	throttle_success(s->srv->login.throttle, s->peer_ip);
	s->state = POP3D_S_TRANSACTION;
	pop3d_drop_stat(&s->drop, &count, &bytes);
	log_info("session=%s event=login user=%s method=%s messages=%zu octets=%llu", s->id,
	    s->login_name, method, count, (unsigned long long)bytes);
	pop3d_reply(s, "+OK Logged in, %zu messages (%llu octets)", count, (unsigned long long)bytes);
}

static void
login_done(void *arg)
{
	struct pop3d_session *s = arg;
	struct pop3d_login *job = &s->login;
	char shown[DIR_ADDRESS_MAX * 4 + 1];
	const char *method;

	s->job_pending = 0;
	s->waiting = 0;
	if (s->dead || s->state != POP3D_S_AUTHORIZATION) {
		/* Gone, or timed out meanwhile: drop what the job opened. */
		store_mailbox_close(&job->mb);
		store_close(&job->store);
		sasl_free(&job->sasl);
		if (s->dead)
			pop3d_session_free(s);
		return;
	}
	if (job->result == POP3D_LOGIN_CONTINUE) {
		s->sasl = job->sasl;
		job->sasl = NULL;
		s->lb.max = SASL_LINE_MAX;
		pop3d_reply(s, "+ %s", job->challenge);
		explicit_bzero(job->challenge, sizeof(job->challenge));
		pop3d_session_process(s);
		return;
	}
	method = job->sasl != NULL ? sasl_mechanism(job->sasl) : "USER";
	if (job->sasl != NULL && job->result != POP3D_LOGIN_OK)
		str_printable(shown, sizeof(shown), sasl_authcid(job->sasl),
		    strlen(sasl_authcid(job->sasl)));
	else
		str_printable(shown, sizeof(shown), job->address, strlen(job->address));
	str_copy(s->login_name, shown, sizeof(s->login_name));
	sasl_free(&job->sasl);
	switch (job->result) {
	case POP3D_LOGIN_OK:
		login_success(s, method);
		break;
	case POP3D_LOGIN_BAD:
		log_info("session=%s event=login-failed client=[%s] user=%s reason=\"%s\"",
		    s->id, s->peer_ip, shown, job->why);
		login_failed(s);
		break;
	case POP3D_LOGIN_IN_USE:
		log_info("session=%s event=login-in-use user=%s", s->id, shown);
		pop3d_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		break;
	default:
		log_error("session=%s event=login-error user=%s reason=\"%s\"", s->id, shown,
		    job->why);
		pop3d_reply(s, "-ERR [SYS/TEMP] Mailbox unavailable, try again later");
		break;
	}
	if (s->state != POP3D_S_CLOSING && !s->waiting)
		pop3d_session_process(s);
}

/* Check the throttle, then hand the login to the pool. */
static void
login_start(struct pop3d_session *s)
{
	time_t until;

	if (throttle_check(s->srv->login.throttle, s->peer_ip, time(NULL), NULL, &until) == -1) {
		explicit_bzero(s->login.password, sizeof(s->login.password));
		sasl_free(&s->login.sasl);
		pop3d_reply_error(s, "-ERR [SYS/TEMP] Too many failed logins from your address, "
		    "try again later");
		return;
	}
	s->login.result = POP3D_LOGIN_TEMP;
	s->login.why[0] = '\0';
	s->job_pending = 1;
	s->waiting = 1;
	pool_submit(s->srv->pool, login_work, login_done, s);
}

/* --- AUTHORIZATION commands --- */

void
pop3d_login_user(struct pop3d_session *s, const struct pop3d_cmd *cmd)
{
	if (!pop3d_plaintext_ok(s)) {
		pop3d_reply_error(s, "-ERR [AUTH] Plaintext authentication is not allowed without "
		    "TLS, use STLS first");
		return;
	}
	str_copy(s->user, cmd->arg, sizeof(s->user));
	/* Never tell whether the user exists (RFC 1939 section 13). */
	pop3d_reply(s, "+OK Send your password");
}

void
pop3d_login_pass(struct pop3d_session *s, const struct pop3d_cmd *cmd)
{
	char why[128];

	if (s->user[0] == '\0') {
		pop3d_reply_error(s, "-ERR Send USER first");
		return;
	}
	if (!pop3d_plaintext_ok(s)) {
		pop3d_reply_error(s, "-ERR [AUTH] Plaintext authentication is not allowed without TLS");
		return;
	}
	memset(&s->login, 0, sizeof(s->login));
	if (dir_canonical(s->user, s->login.address, why, sizeof(why)) == -1)
		s->login.address[0] = '\0';
	if (str_copy(s->login.password, cmd->arg, sizeof(s->login.password)) == -1)
		s->login.address[0] = '\0';	/* too long to be anyone's: fails */
	explicit_bzero(s->line, sizeof(s->line));
	s->user[0] = '\0';
	login_start(s);
}

/* Feed one SASL response (initial or continuation) and act on the result. */
void
pop3d_login_sasl_step(struct pop3d_session *s, const char *b64, size_t len)
{
	char out[SASL_CHALLENGE_MAX];
	enum sasl_status st = sasl_step(s->sasl, b64, len, out, sizeof(out));

	explicit_bzero(s->line, sizeof(s->line));
	switch (st) {
	case SASL_CONTINUE:
		s->lb.max = SASL_LINE_MAX;
		pop3d_reply(s, "+ %s", out);
		return;
	case SASL_NEED_CREDENTIALS:
	case SASL_OK:		/* SCRAM's last step: the proof was good */
		s->lb.max = POP3D_CMD_LINE_MAX - 2;
		memset(&s->login, 0, sizeof(s->login));
		s->login.sasl = s->sasl;
		s->login.open_only = st == SASL_OK;
		s->sasl = NULL;
		login_start(s);
		return;
	default:
		break;
	}
	s->lb.max = POP3D_CMD_LINE_MAX - 2;
	switch (sasl_error_code(s->sasl)) {
	case SASL_ERR_CANCELLED:
		pop3d_reply_error(s, "-ERR Authentication cancelled");
		break;
	case SASL_ERR_MALFORMED:
	case SASL_ERR_TOO_LONG:
		pop3d_reply_error(s, "-ERR Malformed authentication response");
		break;
	case SASL_ERR_INTERNAL:
		pop3d_reply(s, "-ERR [SYS/TEMP] Authentication unavailable");
		break;
	default:
		sasl_free(&s->sasl);
		str_copy(s->login_name, "-", sizeof(s->login_name));
		login_failed(s);
		return;
	}
	sasl_free(&s->sasl);
}

void
pop3d_login_auth(struct pop3d_session *s, const struct pop3d_cmd *cmd)
{
	if (cmd->arg == NULL) {
		/* The RFC 1734 listing form, still sent by some clients. */
		pop3d_reply(s, "+OK Mechanisms follow");
		if (pop3d_plaintext_ok(s)) {
			pop3d_reply(s, "PLAIN");
			pop3d_reply(s, "LOGIN");
			pop3d_reply(s, "SCRAM-SHA-256");
		}
		pop3d_reply(s, ".");
		return;
	}
	if (!pop3d_plaintext_ok(s)) {
		pop3d_reply_error(s, "-ERR [AUTH] Plaintext authentication is not allowed without "
		    "TLS, use STLS first");
		return;
	}
	s->sasl = sasl_new(cmd->arg);
	if (s->sasl == NULL) {
		pop3d_reply_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	pop3d_login_sasl_step(s, cmd->initial, cmd->initial != NULL ? strlen(cmd->initial) : 0);
}

