/*
 * imapd_login - LOGIN and AUTHENTICATE (RFC 9051 6.2, SASL-IR RFC 4959).
 *
 * The directory lookup, the password or SCRAM check and opening the
 * user's store run on the pool. A failure is answered after the delay the
 * throttle sets for the client address; too many failures from an address
 * or for an account are refused for a while. Passwords are wiped as soon
 * as they are checked and never logged.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/password.h"
#include "auth/throttle.h"
#include "common/log.h"
#include "common/str.h"
#include "deliver/maildir.h"
#include "imapd/imapd_private.h"
#include "net/pool.h"
#include "net/tls.h"

enum login_mode {
	LOGIN_PASSWORD,		/* LOGIN user password */
	LOGIN_SASL,		/* sasl_credentials(), then the store when done */
	LOGIN_OPEN,		/* SASL succeeded on the loop (SCRAM): open the store */
};

enum login_result { LOGIN_OK, LOGIN_BAD, LOGIN_TEMP, LOGIN_CONTINUE };

static enum login_mode	login_mode_of(const struct imapd_session *s);

static void
account_key(const char *account, char *out, size_t outlen)
{
	snprintf(out, outlen, "user:%s", account);
}

/* --- on the pool --- */

static int
open_store(struct imapd_server *srv, struct imapd_login *job)
{
	char local[DIR_LOCAL_MAX + 1], path[PATH_MAX];
	const char *at = strrchr(job->address, '@');

	if (at == NULL || (size_t)(at - job->address) >= sizeof(local)) {
		snprintf(job->why, sizeof(job->why), "bad address");
		return -1;
	}
	memcpy(local, job->address, (size_t)(at - job->address));
	local[at - job->address] = '\0';
	if (maildir_path(path, sizeof(path), srv->conf->data_dir, at + 1, local) == -1) {
		snprintf(job->why, sizeof(job->why), "bad mailbox path");
		return -1;
	}
	job->store = store_open(path, job->why, sizeof(job->why));
	if (job->store == NULL)
		return -1;
	/* Opening read the schema and more: most sessions idle for long. */
	store_release_memory(job->store);
	return 0;
}

static void
login_work(void *arg)
{
	struct imapd_session *s = arg;
	struct imapd_server *srv = s->srv;
	struct imapd_login *job = &s->login;
	enum login_mode mode = login_mode_of(s);
	struct dir_user user;
	char why[256];
	int found, ok;

	found = login_lookup(&srv->login, mode == LOGIN_PASSWORD ? job->address :
	    mode == LOGIN_SASL ? sasl_authcid(job->sasl) : sasl_authzid(job->sasl), &user, why,
	    sizeof(why));
	if (found == -1) {
		job->result = LOGIN_TEMP;
		snprintf(job->why, sizeof(job->why), "directory: %s", why);
		return;
	}
	if (mode == LOGIN_PASSWORD)
		ok = login_check_password(&srv->login, &user, job->password);
	else if (mode == LOGIN_SASL) {
		char challenge[SASL_CHALLENGE_MAX];
		enum sasl_status st = sasl_credentials(job->sasl, user.password_hash, user.scram,
		    challenge, sizeof(challenge));
		if (st == SASL_CONTINUE) {
			job->result = LOGIN_CONTINUE;
			str_copy(job->why, challenge, sizeof(job->why));
			explicit_bzero(&user, sizeof(user));
			return;
		}
		ok = st == SASL_OK;
	} else
		ok = found == 1;
	explicit_bzero(job->password, sizeof(job->password));
	explicit_bzero(user.password_hash, sizeof(user.password_hash));
	explicit_bzero(user.scram, sizeof(user.scram));
	if (!ok) {
		job->result = LOGIN_BAD;
		snprintf(job->why, sizeof(job->why), "%s", found != 1 ? "unknown user" :
		    "wrong password");
		return;
	}
	str_copy(job->address, user.address, sizeof(job->address));
	job->quota = user.quota;
	job->result = open_store(srv, job) == 0 ? LOGIN_OK : LOGIN_TEMP;
}

/* --- back on the loop --- */

static void
fail_reply(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;

	imapd_tagged(s, 1, "NO [AUTHENTICATIONFAILED] Authentication failed");
	imapd_command_done(s);
}

static void
login_failed(struct imapd_session *s, const char *account)
{
	char key[THROTTLE_KEY_MAX];
	unsigned delay_ms = 0;
	time_t now = time(NULL);

	if (throttle_fail(s->srv->login.throttle, s->peer_ip, now))
		log_warn("session=%s event=login-refusing client=[%s] failures exceeded", s->id,
		    s->peer_ip);
	if (account[0] != '\0') {
		account_key(account, key, sizeof(key));
		if (throttle_fail(s->srv->login.throttle, key, now))
			log_warn("session=%s event=login-refusing account=\"%s\" failures exceeded",
			    s->id, account);
	}
	throttle_check(s->srv->login.throttle, s->peer_ip, now, &delay_ms, NULL);
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	if (s->timer == NULL)
		s->timer = evtimer_new(s->srv->base, fail_reply, s);
	else {
		event_del(s->timer);
		event_assign(s->timer, s->srv->base, -1, 0, fail_reply, s);
	}
	s->waiting = 1;
	evtimer_add(s->timer, &tv);
}

static void
login_succeeded(struct imapd_session *s, const char *method)
{
	struct imapd_login *job = &s->login;
	char key[THROTTLE_KEY_MAX];
	struct buf caps = BUF_INIT;

	s->store = job->store;
	job->store = NULL;
	str_copy(s->user, job->address, sizeof(s->user));
	s->quota = job->quota;
	throttle_success(s->srv->login.throttle, s->peer_ip);
	account_key(s->user, key, sizeof(key));
	throttle_success(s->srv->login.throttle, key);
	s->state = IMAPD_S_AUTH;
	imapd_set_timeout(s, IMAPD_TIMEOUT);
	log_info("session=%s event=login user=%s method=%s tls=%s", s->id, s->user, method,
	    tls_active(s->bev) ? "yes" : "no");
	imapd_capabilities(s, &caps);
	imapd_tagged(s, 0, "OK [CAPABILITY %s] Logged in", caps.p);
	buf_free(&caps);
	imapd_command_done(s);
}

static void	sasl_result(struct imapd_session *s, enum sasl_status st, const char *challenge);

static void
login_done(void *arg)
{
	struct imapd_session *s = arg;
	struct imapd_login *job = &s->login;
	char shown[DIR_ADDRESS_MAX * 4 + 1];
	const char *name;

	s->job_pending = 0;
	if (s->dead) {
		imapd_session_free(s);	/* with job->store and job->sasl */
		return;
	}
	name = job->sasl != NULL ? sasl_authcid(job->sasl) : job->address;
	str_printable(shown, sizeof(shown), name, strlen(name));
	switch (job->result) {
	case LOGIN_CONTINUE:
		s->sasl = job->sasl;
		job->sasl = NULL;
		s->waiting = 0;
		sasl_result(s, SASL_CONTINUE, job->why);
		bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
		return;
	case LOGIN_OK:
		login_succeeded(s, job->sasl != NULL ? sasl_mechanism(job->sasl) : "LOGIN");
		sasl_free(&job->sasl);
		return;
	case LOGIN_BAD:
		log_info("session=%s event=login-failed client=[%s] user=\"%s\" reason=\"%s\"",
		    s->id, s->peer_ip, shown, job->why);
		sasl_free(&job->sasl);
		login_failed(s, shown);
		return;
	default:
		log_error("session=%s event=login-error user=\"%s\" reason=\"%s\"", s->id, shown,
		    job->why);
		sasl_free(&job->sasl);
		imapd_tagged(s, 0, "NO [UNAVAILABLE] Mailbox unavailable, try again later");
		imapd_command_done(s);
		return;
	}
}

static enum login_mode
login_mode_of(const struct imapd_session *s)
{
	return (enum login_mode)s->login.mode;
}

/* Hand the login to the pool. */
static void
login_start(struct imapd_session *s, enum login_mode mode)
{
	s->login.mode = (int)mode;
	s->login.result = LOGIN_TEMP;
	s->login.why[0] = '\0';
	s->waiting = 1;
	s->job_pending = 1;
	pool_submit(s->srv->pool, login_work, login_done, s);
}

/* The throttle refuses this address for now: 1 after answering. */
static int
refused(struct imapd_session *s)
{
	time_t until;

	if (throttle_check(s->srv->login.throttle, s->peer_ip, time(NULL), NULL, &until) == 0)
		return 0;
	imapd_tagged(s, 1, "NO [UNAVAILABLE] Too many failed logins from your address, "
	    "try again later");
	imapd_command_done(s);
	return 1;
}

void
imapd_cmd_login(struct imapd_session *s)
{
	char why[128];

	if (!imapd_plaintext_ok(s)) {
		imapd_tagged(s, 1, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		imapd_command_done(s);
		return;
	}
	if (refused(s))
		return;
	memset(&s->login, 0, sizeof(s->login));
	if (dir_canonical(s->cmd.user, s->login.address, why, sizeof(why)) == -1)
		str_copy(s->login.address, "-", sizeof(s->login.address));
	if (str_copy(s->login.password, s->cmd.password, sizeof(s->login.password)) == -1)
		str_copy(s->login.address, "-", sizeof(s->login.address));
	explicit_bzero(s->cmd.password, strlen(s->cmd.password));
	explicit_bzero(s->cmdbuf.p, s->cmdbuf.len);
	login_start(s, LOGIN_PASSWORD);
}

static void
sasl_result(struct imapd_session *s, enum sasl_status st, const char *challenge)
{
	switch (st) {
	case SASL_CONTINUE:
		imapd_send(s, "+ %s", challenge);
		return;		/* the next line goes to imapd_sasl_line() */
	case SASL_NEED_CREDENTIALS:
		memset(&s->login, 0, sizeof(s->login));
		s->login.sasl = s->sasl;
		s->sasl = NULL;
		login_start(s, LOGIN_SASL);
		return;
	case SASL_OK:
		memset(&s->login, 0, sizeof(s->login));
		s->login.sasl = s->sasl;
		s->sasl = NULL;
		login_start(s, LOGIN_OPEN);
		return;
	default:
		break;
	}
	switch (sasl_error_code(s->sasl)) {
	case SASL_ERR_CANCELLED:
		imapd_tagged(s, 1, "BAD Authentication cancelled");
		break;
	case SASL_ERR_MALFORMED:
	case SASL_ERR_TOO_LONG:
		imapd_tagged(s, 1, "BAD Malformed authentication response");
		break;
	case SASL_ERR_INTERNAL:
		imapd_tagged(s, 0, "NO [UNAVAILABLE] Authentication unavailable");
		break;
	default: {
		char shown[DIR_ADDRESS_MAX * 4 + 1];
		const char *a = sasl_authcid(s->sasl);
		str_printable(shown, sizeof(shown), a, strlen(a));
		log_info("session=%s event=login-failed client=[%s] user=\"%s\" reason=\"%s\"",
		    s->id, s->peer_ip, shown, sasl_error(s->sasl));
		sasl_free(&s->sasl);
		login_failed(s, shown);
		return;
	}
	}
	sasl_free(&s->sasl);
	imapd_command_done(s);
}

void
imapd_sasl_line(struct imapd_session *s, const char *line, size_t len)
{
	char out[SASL_CHALLENGE_MAX];
	enum sasl_status st;

	st = sasl_step(s->sasl, line, len, out, sizeof(out));
	explicit_bzero(s->cmdbuf.p, s->cmdbuf.len);
	buf_free(&s->cmdbuf);
	sasl_result(s, st, out);
}

void
imapd_cmd_authenticate(struct imapd_session *s)
{
	char out[SASL_CHALLENGE_MAX];
	const char *ir = s->cmd.initial;
	enum sasl_status st;

	if (!imapd_plaintext_ok(s)) {
		imapd_tagged(s, 1, "NO [PRIVACYREQUIRED] Use STARTTLS first");
		imapd_command_done(s);
		return;
	}
	if (refused(s))
		return;
	s->sasl = sasl_new(s->cmd.mechanism);
	if (s->sasl == NULL) {
		imapd_tagged(s, 1, "NO [CANNOT] Unsupported authentication mechanism");
		imapd_command_done(s);
		return;
	}
	st = sasl_step(s->sasl, ir, ir != NULL ? strlen(ir) : 0, out, sizeof(out));
	if (ir != NULL)
		explicit_bzero(s->cmd.initial, strlen(s->cmd.initial));
	buf_free(&s->cmdbuf);
	sasl_result(s, st, out);
}
