/*
 * sasl - the server side of SASL (RFC 4422) for SMTP AUTH (RFC 4954),
 * IMAP AUTHENTICATE (RFC 9051, SASL-IR RFC 4959) and POP3 AUTH (RFC 5034):
 * PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256
 * (RFC 5802, RFC 7677), as a protocol-independent state machine.
 *
 * Nothing here blocks except sasl_credentials(): the session feeds the
 * client's base64 lines to sasl_step() on its event loop; when the
 * mechanism has a user name, sasl_step() returns SASL_NEED_CREDENTIALS and
 * the session looks the user up and calls sasl_credentials() on a pool
 * thread (crypt(3) takes tens of milliseconds), then goes on on the loop:
 *
 *	s = sasl_new(mech);			NULL: unknown mechanism
 *	st = sasl_step(s, ir, irlen, out, sizeof(out));	ir NULL: none given
 *	while (st == SASL_CONTINUE) {
 *		send challenge out ("334 out", "+ out"), read a line;
 *		st = sasl_step(s, line, len, out, sizeof(out));
 *	}
 *	if (st == SASL_NEED_CREDENTIALS) {	on a pool thread:
 *		lookup sasl_authcid(s);
 *		st = sasl_credentials(s, hash, scram, out, sizeof(out));
 *	}					back on the loop:
 *	SASL_CONTINUE again (SCRAM), SASL_OK or SASL_FAIL (sasl_error(s)).
 *
 * A struct sasl belongs to one session; it is never used by two threads at
 * once. It holds passwords and keys while it lives; sasl_free() wipes it.
 */
#ifndef TERN_AUTH_SASL_H
#define TERN_AUTH_SASL_H

#include <stddef.h>

#define SASL_RESPONSE_MAX	4096	/* decoded bytes of one client response */
#define SASL_LINE_MAX		(((SASL_RESPONSE_MAX + 2) / 3) * 4) /* base64 of that */
#define SASL_NAME_MAX		512	/* authcid, authzid (bytes) */
#define SASL_PASSWORD_MAX	511	/* what password_hash() accepts */
#define SASL_CHALLENGE_MAX	1024	/* out buffer that fits every challenge */

struct sasl;

enum sasl_status {
	SASL_CONTINUE,		/* send the base64 challenge in out ("" = empty) */
	SASL_NEED_CREDENTIALS,	/* look up sasl_authcid(), call sasl_credentials() */
	SASL_OK,		/* authenticated as sasl_authzid() */
	SASL_FAIL,		/* done, reason in sasl_error() */
};

/* Why an exchange failed; sessions map these to replies and counters. */
enum sasl_error {
	SASL_ERR_NONE = 0,
	SASL_ERR_MALFORMED,	/* bad base64 or mechanism syntax: 501 5.5.2 */
	SASL_ERR_TOO_LONG,	/* response above SASL_RESPONSE_MAX: 500 5.5.6 */
	SASL_ERR_CANCELLED,	/* client sent "*": 501 5.0.0 */
	SASL_ERR_AUTHZID,	/* authzid other than authcid: 535 5.7.8 */
	SASL_ERR_UNSUPPORTED,	/* channel binding or SCRAM "m=" asked: 535 5.7.8 */
	SASL_ERR_CREDENTIALS,	/* unknown user, no password, wrong password: 535 5.7.8 */
	SASL_ERR_INTERNAL,	/* our side (crypto, random, misuse): 454 4.7.0 */
};

/*
 * Start an exchange for mechanism (case-insensitive); NULL when we do not
 * offer it. Free with sasl_free().
 */
struct sasl	*sasl_new(const char *mechanism);
/* Wipe and free *sp, set it to NULL; accepts NULL. */
void		 sasl_free(struct sasl **sp);
/* "PLAIN LOGIN SCRAM-SHA-256": for EHLO, CAPABILITY and CAPA. Static. */
const char	*sasl_mechanisms_list(void);
/* The mechanism's canonical (upper-case) name. Static. */
const char	*sasl_mechanism(const struct sasl *);

/*
 * Let the client name an authorization identity other than its
 * authentication identity (proxy login); the session must then decide
 * whether authcid may act as authzid. Off by default: a differing authzid
 * fails with SASL_ERR_AUTHZID.
 */
void		 sasl_allow_authzid(struct sasl *, int allow);

/*
 * Feed one client response: b64/len as received (without CRLF). The first
 * call is the initial response: b64 NULL or len 0 means none was sent, and
 * "=" means an empty one (RFC 4954, RFC 4959). Later calls: "" is an empty
 * response, "*" cancels. A challenge is written to out (outlen bytes,
 * SASL_CHALLENGE_MAX is enough) as base64 text, terminated, "" when empty.
 * After SASL_OK or SASL_FAIL every call returns SASL_FAIL.
 *
 * SCRAM ends with one more round trip: its server-final message
 * ("v=...") comes as a SASL_CONTINUE challenge, and the client's empty
 * response to it gives SASL_OK. That works alike in SMTP, IMAP and POP3.
 */
enum sasl_status sasl_step(struct sasl *, const char *b64, size_t len, char *out,
		    size_t outlen);

/*
 * After SASL_NEED_CREDENTIALS: the user's stored credentials, NULL (or "")
 * when the user is unknown, disabled or has none. password_hash is the
 * crypt(3) string (PLAIN, LOGIN), scram the record of scram.h
 * (SCRAM-SHA-256); pass both, each mechanism takes what it needs.
 * BLOCKING for PLAIN and LOGIN (crypt; unknown users cost the same time):
 * run it on a pool thread. Returns SASL_OK, SASL_FAIL, or for SCRAM
 * SASL_CONTINUE with the server-first challenge in out (an unknown user
 * gets a plausible challenge too and fails at the end, RFC 5802 section 9).
 */
enum sasl_status sasl_credentials(struct sasl *, const char *password_hash,
		    const char *scram, char *out, size_t outlen);
/*
 * PLAIN and LOGIN only: sasl_credentials(s, password_hash, NULL, ...);
 * 1 when the password matches (the exchange is then SASL_OK), else 0.
 */
int		 sasl_verify_password(struct sasl *, const char *password_hash);

/*
 * The authentication identity the client gave (NUL-terminated, UTF-8,
 * without control characters), "" before it is known. Valid until
 * sasl_free(). Look it up with dir_user_get(); log it escaped.
 */
const char	*sasl_authcid(const struct sasl *);
/* The identity to act as: the authzid if one was given, else authcid. */
const char	*sasl_authzid(const struct sasl *);
enum sasl_error	 sasl_error_code(const struct sasl *);
/* A static word for logs: "malformed", "cancelled", "authzid not allowed"... */
const char	*sasl_error(const struct sasl *);

/*
 * Test hook: use nonce (printable ASCII without ',', at most 64 bytes) as
 * the SCRAM server nonce instead of a random one, so a transcript can be
 * replayed. Never call it outside tests and fuzzers.
 */
void		 sasl_test_scram_nonce(struct sasl *, const char *nonce);

#endif
