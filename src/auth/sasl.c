/*
 * sasl - the mechanism table and what every exchange shares: base64 on the
 * wire, cancellation, size limits, identity checks, password checks.
 *
 * The mechanisms see decoded bytes only and never the wire syntax, so the
 * "*" and "=" conventions of RFC 4954 and RFC 4959 live here once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/password.h"
#include "auth/sasl_private.h"
#include "common/str.h"
#include "common/xalloc.h"

static const struct sasl_mech *const sasl_mechs[] = {
	&sasl_mech_plain,
	&sasl_mech_login,
	&sasl_mech_scram_sha256,
};

#define SASL_NMECHS	(sizeof(sasl_mechs) / sizeof(sasl_mechs[0]))
#define SASL_DECODE_BUF	BASE64_DECODED_MAX(SASL_LINE_MAX)

/*
 * A real hash of a throw-away password: checking against it when the user
 * is unknown costs what checking a real password costs, so the reply time
 * does not tell which accounts exist.
 */
static char sasl_dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t sasl_dummy_once = PTHREAD_ONCE_INIT;

static void
make_dummy_hash(void)
{
	if (password_hash("tern-no-such-user", sasl_dummy_hash,
	    sizeof(sasl_dummy_hash)) == -1)
		sasl_dummy_hash[0] = '\0';
}

/* Compare ASCII letters without case, every other byte exactly. */
static int
equal_ascii_ci(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

const char *
sasl_mechanisms_list(void)
{
	return "PLAIN LOGIN SCRAM-SHA-256";
}

struct sasl *
sasl_new(const char *mechanism)
{
	struct sasl *s;

	if (mechanism == NULL)
		return NULL;
	for (size_t i = 0; i < SASL_NMECHS; i++) {
		if (!equal_ascii_ci(mechanism, sasl_mechs[i]->name))
			continue;
		s = xcalloc(1, sizeof(*s));
		s->mech = sasl_mechs[i];
		s->state = SASL_STATE_START;
		return s;
	}
	return NULL;
}

void
sasl_free(struct sasl **sp)
{
	struct sasl *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	if (s->mech->cleanup != NULL)
		s->mech->cleanup(s);
	explicit_bzero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

const char *
sasl_mechanism(const struct sasl *s)
{
	return s->mech->name;
}

void
sasl_allow_authzid(struct sasl *s, int allow)
{
	s->allow_authzid = allow != 0;
}

void
sasl_test_scram_nonce(struct sasl *s, const char *nonce)
{
	str_copy(s->test_nonce, nonce, sizeof(s->test_nonce));
}

const char *
sasl_authcid(const struct sasl *s)
{
	return s->authcid;
}

const char *
sasl_authzid(const struct sasl *s)
{
	return s->authzid[0] != '\0' ? s->authzid : s->authcid;
}

enum sasl_error
sasl_error_code(const struct sasl *s)
{
	return s->error;
}

static const char *
error_word(enum sasl_error err)
{
	switch (err) {
	case SASL_ERR_NONE:
		return "none";
	case SASL_ERR_MALFORMED:
		return "malformed";
	case SASL_ERR_TOO_LONG:
		return "response too long";
	case SASL_ERR_CANCELLED:
		return "cancelled";
	case SASL_ERR_AUTHZID:
		return "authzid not allowed";
	case SASL_ERR_UNSUPPORTED:
		return "unsupported";
	case SASL_ERR_CREDENTIALS:
		return "invalid credentials";
	case SASL_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

const char *
sasl_error(const struct sasl *s)
{
	return s->reason != NULL ? s->reason : error_word(s->error);
}

enum sasl_status
sasl_fail(struct sasl *s, enum sasl_error err, const char *reason)
{
	s->state = SASL_STATE_DONE;
	s->error = err;
	s->reason = reason != NULL ? reason : error_word(err);
	explicit_bzero(s->password, sizeof(s->password));
	return SASL_FAIL;
}

enum sasl_status
sasl_challenge(struct sasl *s, const void *data, size_t len, char *out, size_t outlen)
{
	if (base64_encode(data, len, out, outlen) == -1)
		return sasl_fail(s, SASL_ERR_INTERNAL, "challenge buffer too small");
	return SASL_CONTINUE;
}

/* Length of the UTF-8 sequence at p (at most n bytes), or 0 if invalid. */
static size_t
utf8_sequence(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* 1 when name (len bytes) is UTF-8 without control characters. */
static int
name_ok(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if ((n = utf8_sequence(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

enum sasl_status
sasl_set_identity(struct sasl *s, const char *authzid, size_t azlen,
    const char *authcid, size_t aclen)
{
	if (aclen == 0 || aclen > SASL_NAME_MAX || azlen > SASL_NAME_MAX ||
	    !name_ok(authcid, aclen) || !name_ok(authzid, azlen))
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	memcpy(s->authcid, authcid, aclen);
	s->authcid[aclen] = '\0';
	memcpy(s->authzid, authzid, azlen);
	s->authzid[azlen] = '\0';
	/* Acting as oneself under another spelling is no proxy login. */
	if (s->authzid[0] != '\0' && equal_ascii_ci(s->authzid, s->authcid))
		s->authzid[0] = '\0';
	if (s->authzid[0] != '\0' && !s->allow_authzid)
		return sasl_fail(s, SASL_ERR_AUTHZID, NULL);
	return SASL_CONTINUE;
}

enum sasl_status
sasl_set_password(struct sasl *s, const char *password, size_t len)
{
	if (len == 0 || len > SASL_PASSWORD_MAX || memchr(password, '\0', len) != NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	memcpy(s->password, password, len);
	s->password[len] = '\0';
	return SASL_CONTINUE;
}

enum sasl_status
sasl_password_credentials(struct sasl *s, const char *password_hash,
    const char *scram, char *out, size_t outlen)
{
	int usable, match;

	/* Unknown, disabled or locked: spend the same time, then fail. */
	usable = password_hash != NULL && password_hash[0] != '\0' &&
	    password_hash[0] != '!' && password_hash[0] != '*';
	if (!usable) {
		pthread_once(&sasl_dummy_once, make_dummy_hash);
		(void)password_verify(s->password, sasl_dummy_hash);
	}
	match = usable && password_verify(s->password, password_hash);
	explicit_bzero(s->password, sizeof(s->password));
	if (!match)
		return sasl_fail(s, SASL_ERR_CREDENTIALS, NULL);
	return SASL_OK;
}

/*
 * Decode one wire response into buf (SASL_DECODE_BUF bytes). Returns
 * 1 with *data and *datalen set, 0 when the exchange ended (cancel, bad input).
 */
static int
decode_response(struct sasl *s, int first, const char *b64, size_t len,
    unsigned char *buf, const unsigned char **data, size_t *datalen)
{
	*datalen = 0;
	*data = buf;
	if (first && (b64 == NULL || len == 0)) {
		*data = NULL;		/* no initial response */
		return 1;
	}
	if (b64 == NULL || len == 0)
		return 1;		/* an empty response */
	if (len == 1 && b64[0] == '*') {
		sasl_fail(s, SASL_ERR_CANCELLED, NULL);
		return 0;
	}
	if (first && len == 1 && b64[0] == '=')
		return 1;		/* an empty initial response */
	if (len > SASL_LINE_MAX) {
		sasl_fail(s, SASL_ERR_TOO_LONG, NULL);
		return 0;
	}
	/* buf has room for every line of SASL_LINE_MAX: cap the bytes after. */
	if (base64_decode(b64, len, buf, SASL_DECODE_BUF, datalen) == -1) {
		sasl_fail(s, SASL_ERR_MALFORMED, "bad base64");
		return 0;
	}
	if (*datalen > SASL_RESPONSE_MAX) {
		sasl_fail(s, SASL_ERR_TOO_LONG, NULL);
		return 0;
	}
	return 1;
}

enum sasl_status
sasl_step(struct sasl *s, const char *b64, size_t len, char *out, size_t outlen)
{
	unsigned char buf[SASL_DECODE_BUF];
	const unsigned char *data;
	enum sasl_status st;
	size_t datalen;
	int first = s->state == SASL_STATE_START;

	if (outlen > 0)
		out[0] = '\0';
	if (s->state == SASL_STATE_DONE)
		return SASL_FAIL;
	if (s->state == SASL_STATE_CREDENTIALS)
		return sasl_fail(s, SASL_ERR_INTERNAL, "response while credentials pending");
	s->state = SASL_STATE_STEP;
	if (decode_response(s, first, b64, len, buf, &data, &datalen))
		st = s->mech->step(s, data, datalen, out, outlen);
	else
		st = SASL_FAIL;
	/* It may hold a password, whole or in part. */
	explicit_bzero(buf, sizeof(buf));
	if (st == SASL_NEED_CREDENTIALS)
		s->state = SASL_STATE_CREDENTIALS;
	else if (st == SASL_OK || st == SASL_FAIL)
		s->state = SASL_STATE_DONE;
	return st;
}

enum sasl_status
sasl_credentials(struct sasl *s, const char *password_hash, const char *scram,
    char *out, size_t outlen)
{
	enum sasl_status st;

	if (outlen > 0)
		out[0] = '\0';
	if (s->state != SASL_STATE_CREDENTIALS) {
		if (s->state == SASL_STATE_DONE)
			return SASL_FAIL;
		return sasl_fail(s, SASL_ERR_INTERNAL, "credentials not asked for");
	}
	s->state = SASL_STATE_STEP;
	st = s->mech->credentials(s, password_hash, scram, out, outlen);
	if (st == SASL_OK || st == SASL_FAIL)
		s->state = SASL_STATE_DONE;
	return st;
}

int
sasl_verify_password(struct sasl *s, const char *password_hash)
{
	char out[1];

	if (s->mech == &sasl_mech_scram_sha256) {
		if (s->state != SASL_STATE_DONE)
			sasl_fail(s, SASL_ERR_INTERNAL, "SCRAM has no password to check");
		return 0;
	}
	return sasl_credentials(s, password_hash, NULL, out, sizeof(out)) == SASL_OK;
}
