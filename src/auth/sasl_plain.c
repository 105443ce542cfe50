/*
 * sasl_plain - PLAIN (RFC 4616 section 2): one message
 *
 *	[authzid] NUL authcid NUL passwd
 *
 * authcid and passwd must not be empty; exactly two NULs. Without an
 * initial response the server first sends an empty challenge.
 */
#include <string.h>

#include "auth/sasl_private.h"

static enum sasl_status
plain_step(struct sasl *s, const unsigned char *data, size_t len, char *out,
    size_t outlen)
{
	const char *msg = (const char *)data, *nul1, *nul2, *authcid, *passwd;
	enum sasl_status st;

	/* No initial response (only the first call can say so): ask for it. */
	if (data == NULL)
		return sasl_challenge(s, "", 0, out, outlen);
	if ((nul1 = memchr(msg, '\0', len)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg))) == NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, "missing NUL");
	authcid = nul1 + 1;
	passwd = nul2 + 1;
	st = sasl_set_identity(s, msg, (size_t)(nul1 - msg), authcid,
	    (size_t)(nul2 - authcid));
	if (st != SASL_CONTINUE)
		return st;
	/* A third NUL would make it into the password: sasl_set_password refuses. */
	st = sasl_set_password(s, passwd, len - (size_t)(passwd - msg));
	if (st != SASL_CONTINUE)
		return st;
	return SASL_NEED_CREDENTIALS;
}

const struct sasl_mech sasl_mech_plain = {
	.name = "PLAIN",
	.step = plain_step,
	.credentials = sasl_password_credentials,
};
