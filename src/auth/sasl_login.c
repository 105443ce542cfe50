/*
 * sasl_login - LOGIN (draft-murchison-sasl-login-00): the server asks
 * "Username:" and "Password:", the client answers each. A client may send
 * the user name as initial response (RFC 4954 style) and skip the first
 * question. No authzid.
 */
#include <string.h>

#include "auth/sasl_private.h"

#define LOGIN_ASK_USER		"Username:"
#define LOGIN_ASK_PASSWORD	"Password:"

enum login_round {
	LOGIN_START,		/* nothing seen: the initial response, if any */
	LOGIN_USER,		/* "Username:" sent */
	LOGIN_PASSWORD,		/* "Password:" sent */
	LOGIN_DONE,
};

static enum sasl_status
login_user(struct sasl *s, const unsigned char *data, size_t len, char *out,
    size_t outlen)
{
	enum sasl_status st;

	if (len == 0 || memchr(data, '\0', len) != NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, "bad user name");
	if ((st = sasl_set_identity(s, "", 0, (const char *)data, len)) != SASL_CONTINUE)
		return st;
	s->round = LOGIN_PASSWORD;
	return sasl_challenge(s, LOGIN_ASK_PASSWORD, strlen(LOGIN_ASK_PASSWORD), out,
	    outlen);
}

static enum sasl_status
login_step(struct sasl *s, const unsigned char *data, size_t len, char *out,
    size_t outlen)
{
	enum sasl_status st;

	switch (s->round) {
	case LOGIN_START:
		if (data == NULL) {
			s->round = LOGIN_USER;
			return sasl_challenge(s, LOGIN_ASK_USER, strlen(LOGIN_ASK_USER),
			    out, outlen);
		}
		return login_user(s, data, len, out, outlen);
	case LOGIN_USER:
		return login_user(s, data, len, out, outlen);
	case LOGIN_PASSWORD:
		st = sasl_set_password(s, (const char *)data, len);
		if (st != SASL_CONTINUE)
			return st;
		s->round = LOGIN_DONE;
		return SASL_NEED_CREDENTIALS;
	default:
		return sasl_fail(s, SASL_ERR_INTERNAL, "LOGIN is over");
	}
}

const struct sasl_mech sasl_mech_login = {
	.name = "LOGIN",
	.step = login_step,
	.credentials = sasl_password_credentials,
};
