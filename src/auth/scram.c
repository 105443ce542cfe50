/*
 * scram - deriving and storing SCRAM-SHA-256 keys.
 *
 * RFC 5802 section 3:
 *	SaltedPassword = Hi(password, salt, i)		(PBKDF2-HMAC-SHA-256)
 *	ClientKey = HMAC(SaltedPassword, "Client Key")
 *	StoredKey = H(ClientKey)
 *	ServerKey = HMAC(SaltedPassword, "Server Key")
 * Only StoredKey and ServerKey are kept; every intermediate is wiped.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/base64.h"
#include "auth/scram.h"

#define SCRAM_PREFIX	"SCRAM-SHA-256$"

int
scram_hmac(const unsigned char *key, size_t keylen, const void *data, size_t len,
    unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int outlen = 0;

	if (keylen > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL ||
	    outlen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int
scram_hash(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int outlen = 0;

	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

/* StoredKey and ServerKey of password into rec (salt and count already set). */
static int
derive_keys(const char *password, struct scram_record *rec)
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	size_t len = strlen(password);
	int rc = -1;

	if (len > INT_MAX || rec->saltlen > INT_MAX || rec->iterations > INT_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, rec->salt, (int)rec->saltlen,
	    (int)rec->iterations, EVP_sha256(), sizeof(salted), salted) != 1)
		goto done;
	if (scram_hmac(salted, sizeof(salted), "Client Key", 10, client_key) == -1 ||
	    scram_hash(client_key, sizeof(client_key), rec->stored_key) == -1 ||
	    scram_hmac(salted, sizeof(salted), "Server Key", 10, rec->server_key) == -1)
		goto done;
	rc = 0;
done:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return rc;
}

/* The text form of rec into out; 0 or -1 when out is too small. */
static int
format_record(const struct scram_record *rec, char *out, size_t outlen)
{
	char salt[BASE64_ENCODED_LEN(SCRAM_SALT_MAX) + 1];
	char stored[BASE64_ENCODED_LEN(SCRAM_KEY_LEN) + 1];
	char server[BASE64_ENCODED_LEN(SCRAM_KEY_LEN) + 1];
	int n;

	if (base64_encode(rec->salt, rec->saltlen, salt, sizeof(salt)) == -1 ||
	    base64_encode(rec->stored_key, SCRAM_KEY_LEN, stored, sizeof(stored)) == -1 ||
	    base64_encode(rec->server_key, SCRAM_KEY_LEN, server, sizeof(server)) == -1)
		return -1;
	n = snprintf(out, outlen, SCRAM_PREFIX "%u:%s$%s:%s", rec->iterations, salt,
	    stored, server);
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
scram_make_record_with(const char *password, const unsigned char *salt,
    size_t saltlen, unsigned iterations, char *out, size_t outlen)
{
	struct scram_record rec;
	int rc = -1;

	if (saltlen == 0 || saltlen > SCRAM_SALT_MAX ||
	    iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX)
		return -1;
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.salt, salt, saltlen);
	rec.saltlen = saltlen;
	rec.iterations = iterations;
	if (derive_keys(password, &rec) == 0)
		rc = format_record(&rec, out, outlen);
	explicit_bzero(&rec, sizeof(rec));
	return rc;
}

int
scram_make_record(const char *password, char *out, size_t outlen)
{
	unsigned char salt[SCRAM_SALT_LEN];

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	return scram_make_record_with(password, salt, sizeof(salt), SCRAM_ITERATIONS,
	    out, outlen);
}

/* Decode the base64 field [p, end) into out (at most max bytes). */
static int
decode_field(const char *p, const char *end, unsigned char *out, size_t max,
    size_t *len_out)
{
	return base64_decode(p, (size_t)(end - p), out, max, len_out);
}

/* "<iterations>:" at *p; advances *p past the colon. */
static int
parse_iterations(const char **p, unsigned *out)
{
	unsigned long v;
	char *end;

	if (**p < '1' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno != 0 || *end != ':' || v < SCRAM_ITERATIONS_MIN ||
	    v > SCRAM_ITERATIONS_MAX)
		return -1;
	*out = (unsigned)v;
	*p = end + 1;
	return 0;
}

int
scram_parse_record(const char *text, struct scram_record *out)
{
	const char *p, *dollar, *colon, *end;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (text == NULL || strncmp(text, SCRAM_PREFIX, sizeof(SCRAM_PREFIX) - 1) != 0)
		return -1;
	p = text + sizeof(SCRAM_PREFIX) - 1;
	if (parse_iterations(&p, &out->iterations) == -1 ||
	    (dollar = strchr(p, '$')) == NULL ||
	    decode_field(p, dollar, out->salt, sizeof(out->salt), &out->saltlen) == -1 ||
	    out->saltlen == 0)
		goto fail;
	p = dollar + 1;
	end = p + strlen(p);
	if ((colon = strchr(p, ':')) == NULL ||
	    decode_field(p, colon, out->stored_key, SCRAM_KEY_LEN, &len) == -1 ||
	    len != SCRAM_KEY_LEN ||
	    decode_field(colon + 1, end, out->server_key, SCRAM_KEY_LEN, &len) == -1 ||
	    len != SCRAM_KEY_LEN)
		goto fail;
	return 0;
fail:
	explicit_bzero(out, sizeof(*out));
	return -1;
}
