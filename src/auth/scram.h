/*
 * scram - SCRAM-SHA-256 keys (RFC 5802, RFC 7677) and their stored form.
 *
 * When a password is set, the CLI stores next to its crypt(3) hash a
 * record from which the server can check a SCRAM exchange without ever
 * seeing the password again:
 *
 *	SCRAM-SHA-256$<iterations>:<salt_b64>$<StoredKey_b64>:<ServerKey_b64>
 *
 * (the layout PostgreSQL uses). StoredKey = SHA-256(ClientKey) and
 * ServerKey are as in RFC 5802 section 3; the password cannot be
 * recovered from them, but they let anyone who reads them impersonate the
 * server, so they are as secret as the hash.
 */
#ifndef TERN_AUTH_SCRAM_H
#define TERN_AUTH_SCRAM_H

#include <stddef.h>

#define SCRAM_KEY_LEN		32	/* SHA-256 output */
#define SCRAM_SALT_LEN		16	/* salt of new records */
#define SCRAM_SALT_MAX		64	/* longest salt a record may carry */
#define SCRAM_ITERATIONS	10000	/* PBKDF2 rounds of new records */
#define SCRAM_ITERATIONS_MIN	4096	/* RFC 7677 section 4 */
#define SCRAM_ITERATIONS_MAX	10000000 /* what a client is asked to compute */
#define SCRAM_RECORD_MAX	256	/* fits struct dir_user.scram */

/* A parsed record. Holds key material: wipe it after use. */
struct scram_record {
	unsigned	iterations;
	size_t		saltlen;
	unsigned char	salt[SCRAM_SALT_MAX];
	unsigned char	stored_key[SCRAM_KEY_LEN];
	unsigned char	server_key[SCRAM_KEY_LEN];
};

/*
 * A record for password (UTF-8, used as given: no SASLprep) with a fresh
 * random salt and SCRAM_ITERATIONS rounds, into out (outlen bytes,
 * SCRAM_RECORD_MAX is enough). 0, or -1 when out is too small or the
 * crypto library fails. Slow on purpose (PBKDF2): the CLI calls it.
 */
int	scram_make_record(const char *password, char *out, size_t outlen);
/*
 * The same with a given salt (1..SCRAM_SALT_MAX bytes) and iteration
 * count (SCRAM_ITERATIONS_MIN..SCRAM_ITERATIONS_MAX): for tests and
 * known-answer checks.
 */
int	scram_make_record_with(const char *password, const unsigned char *salt,
	    size_t saltlen, unsigned iterations, char *out, size_t outlen);
/*
 * Parse a stored record into out. 0, or -1 when text is not a
 * well-formed SCRAM-SHA-256 record (empty, locked, another method, bad
 * base64, wrong key length, iterations out of range).
 */
int	scram_parse_record(const char *text, struct scram_record *out);

/* HMAC-SHA-256 of data under key into out; 0 or -1. */
int	scram_hmac(const unsigned char *key, size_t keylen, const void *data,
	    size_t len, unsigned char out[SCRAM_KEY_LEN]);
/* SHA-256 of data into out; 0 or -1. */
int	scram_hash(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN]);

#endif
