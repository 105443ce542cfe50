/*
 * sasl_private - what sasl.c shares with the mechanisms (sasl_plain.c,
 * sasl_login.c, sasl_scram.c): the session state and the helpers every
 * mechanism needs.
 */
#ifndef TERN_AUTH_SASL_PRIVATE_H
#define TERN_AUTH_SASL_PRIVATE_H

#include <stddef.h>

#include "auth/sasl.h"

#define SASL_NONCE_MAX	64	/* server nonce (test hook included) */

struct sasl_scram;

struct sasl_mech {
	const char	*name;
	/*
	 * One decoded response. data NULL: the client sent no initial
	 * response. Returns SASL_CONTINUE (challenge in out),
	 * SASL_NEED_CREDENTIALS or, through sasl_fail(), SASL_FAIL.
	 */
	enum sasl_status (*step)(struct sasl *, const unsigned char *data, size_t len,
			    char *out, size_t outlen);
	enum sasl_status (*credentials)(struct sasl *, const char *password_hash,
			    const char *scram, char *out, size_t outlen);
	/* Wipe and free the mechanism's own state; may be NULL. */
	void		 (*cleanup)(struct sasl *);
};

enum sasl_state {
	SASL_STATE_START,	/* no response fed yet */
	SASL_STATE_STEP,	/* waiting for the next response */
	SASL_STATE_CREDENTIALS,	/* waiting for sasl_credentials() */
	SASL_STATE_DONE,	/* SASL_OK or SASL_FAIL given */
};

struct sasl {
	const struct sasl_mech	*mech;
	enum sasl_state		 state;
	enum sasl_error		 error;
	const char		*reason;	/* static, for sasl_error() */
	int			 allow_authzid;
	int			 round;		/* the mechanism's own phase */
	char			 authcid[SASL_NAME_MAX + 1];
	char			 authzid[SASL_NAME_MAX + 1];
	char			 password[SASL_PASSWORD_MAX + 1];
	struct sasl_scram	*scram;
	char			 test_nonce[SASL_NONCE_MAX + 1];
};

extern const struct sasl_mech sasl_mech_plain;
extern const struct sasl_mech sasl_mech_login;
extern const struct sasl_mech sasl_mech_scram_sha256;

/* End the exchange with err and a static reason (NULL: the default word). */
enum sasl_status sasl_fail(struct sasl *, enum sasl_error err, const char *reason);
/* Base64 of data (len bytes) into out: SASL_CONTINUE, or SASL_FAIL. */
enum sasl_status sasl_challenge(struct sasl *, const void *data, size_t len,
		    char *out, size_t outlen);
/*
 * Check and keep the identities (authzid may be empty). Names must be
 * UTF-8 without control characters, 1..SASL_NAME_MAX bytes. SASL_CONTINUE
 * when they are fine, else SASL_FAIL through sasl_fail().
 */
enum sasl_status sasl_set_identity(struct sasl *, const char *authzid, size_t azlen,
		    const char *authcid, size_t aclen);
/* Keep the password (1..SASL_PASSWORD_MAX bytes, no NUL); as above. */
enum sasl_status sasl_set_password(struct sasl *, const char *password, size_t len);
/* Check s->password against password_hash for PLAIN and LOGIN (blocking). */
enum sasl_status sasl_password_credentials(struct sasl *, const char *password_hash,
		    const char *scram, char *out, size_t outlen);

#endif
