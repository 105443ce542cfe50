/*
 * sasl_scram - SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without
 * channel binding (we do not offer -PLUS).
 *
 *	C: n,[a=authzid],n=user,r=cnonce[,ext]		client-first
 *	S: r=cnonce+snonce,s=salt,i=iterations		server-first
 *	C: c=biws,r=cnonce+snonce[,ext],p=proof		client-final
 *	S: v=ServerSignature				server-final
 *	C: (empty)
 *
 * The proof is checked with the stored StoredKey and ServerKey only
 * (scram.h); the password is never seen. A user that does not exist or
 * has no SCRAM keys still gets a server-first message, with a salt derived
 * from the name under a per-process secret so it is stable across tries,
 * and fails at the proof (RFC 5802 section 9: no user enumeration).
 *
 * User names are taken as sent (after "=2C"/"=3D" unescaping); SASLprep
 * (RFC 4013) is not applied, which only matters for non-ASCII names and
 * passwords that normalisation would change.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth/base64.h"
#include "auth/sasl_private.h"
#include "auth/scram.h"
#include "common/str.h"
#include "common/xalloc.h"

#define SCRAM_CLIENT_NONCE_MAX	256
#define SCRAM_SERVER_NONCE_RAW	18	/* bytes: 24 base64 characters */

enum scram_round {
	SCRAM_ROUND_FIRST,	/* waiting for client-first */
	SCRAM_ROUND_FINAL,	/* server-first sent, waiting for client-final */
	SCRAM_ROUND_ACK,	/* server-final sent, waiting for the empty response */
};

struct sasl_scram {
	char			*gs2_header;	/* "n,," or "n,a=...," as sent */
	char			*client_first_bare;
	char			*server_first;
	char			*nonce;		/* client nonce + server nonce */
	size_t			 client_nonce_len;
	int			 fake;		/* no such user or no keys: fail at the proof */
	struct scram_record	 rec;
};

static unsigned char scram_fake_secret[SCRAM_KEY_LEN];
static pthread_once_t scram_fake_once = PTHREAD_ONCE_INIT;

static void
make_fake_secret(void)
{
	if (RAND_bytes(scram_fake_secret, sizeof(scram_fake_secret)) != 1)
		memset(scram_fake_secret, 0, sizeof(scram_fake_secret));
}

static void
free_wiped(char *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, strlen(p));
	free(p);
}

static void
scram_cleanup(struct sasl *s)
{
	struct sasl_scram *sc = s->scram;

	if (sc == NULL)
		return;
	free_wiped(sc->gs2_header);
	free_wiped(sc->client_first_bare);
	free_wiped(sc->server_first);
	free_wiped(sc->nonce);
	explicit_bzero(sc, sizeof(*sc));
	free(sc);
	s->scram = NULL;
}

/* The message as a C string; NULL when it holds a NUL. */
static char *
message_string(const unsigned char *data, size_t len)
{
	if (memchr(data, '\0', len) != NULL)
		return NULL;
	return xstrndup((const char *)data, len);
}

/*
 * Undo the saslname escaping ("=2C" is ',', "=3D" is '=') of [p, end) in
 * place into p; the new length, or -1 on a stray '='.
 */
static ssize_t
unescape_name(char *p, const char *end)
{
	char *o = p;

	for (const char *i = p; i < end; i++) {
		if (*i != '=')
			*o++ = *i;
		else if (end - i >= 3 && strncmp(i, "=2C", 3) == 0) {
			*o++ = ',';
			i += 2;
		} else if (end - i >= 3 && strncmp(i, "=3D", 3) == 0) {
			*o++ = '=';
			i += 2;
		} else
			return -1;
	}
	return o - p;
}

/* End of the attribute value starting at p: the next ',' or the NUL. */
static char *
value_end(char *p)
{
	return p + strcspn(p, ",");
}

/* 1 when [p, p + len) is a non-empty nonce: printable ASCII but ','. */
static int
nonce_ok(const char *p, size_t len)
{
	if (len == 0 || len > SCRAM_CLIENT_NONCE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

/* gs2-header: "n," or "y," then "a=authzid," or ","; *p moves past it. */
static enum sasl_status
parse_gs2_header(struct sasl *s, char **p, char **authzid, ssize_t *azlen)
{
	char *q = *p, *end;

	if (q[0] == 'p')
		return sasl_fail(s, SASL_ERR_UNSUPPORTED, "channel binding not supported");
	if ((q[0] != 'n' && q[0] != 'y') || q[1] != ',')
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	q += 2;
	*authzid = q;
	*azlen = 0;
	if (q[0] == 'a' && q[1] == '=') {
		end = value_end(q + 2);
		*authzid = q + 2;
		if (*end != ',' ||
		    (*azlen = unescape_name(q + 2, end)) < 0)
			return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
		q = end;
	}
	if (*q != ',')
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	*p = q + 1;
	return SASL_CONTINUE;
}

/* client-first-message-bare: "n=user,r=nonce[,ext...]" in a copy. */
static enum sasl_status
parse_first_bare(struct sasl *s, char *bare, char *authzid, size_t azlen)
{
	struct sasl_scram *sc = s->scram;
	char *user, *user_end, *nonce, *nonce_end;
	ssize_t ulen;

	if (strncmp(bare, "m=", 2) == 0)
		return sasl_fail(s, SASL_ERR_UNSUPPORTED, "SCRAM extension not supported");
	if (strncmp(bare, "n=", 2) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	user = bare + 2;
	user_end = value_end(user);
	if (strncmp(user_end, ",r=", 3) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	nonce = user_end + 3;
	nonce_end = value_end(nonce);
	if (!nonce_ok(nonce, (size_t)(nonce_end - nonce)))
		return sasl_fail(s, SASL_ERR_MALFORMED, "bad nonce");
	sc->nonce = xstrndup(nonce, (size_t)(nonce_end - nonce));
	sc->client_nonce_len = (size_t)(nonce_end - nonce);
	if ((ulen = unescape_name(user, user_end)) < 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, "bad user name encoding");
	return sasl_set_identity(s, authzid, azlen, user, (size_t)ulen);
}

static enum sasl_status
scram_client_first(struct sasl *s, const unsigned char *data, size_t len)
{
	struct sasl_scram *sc;
	char *msg, *work, *p, *authzid = NULL;
	enum sasl_status st;
	ssize_t azlen = 0;
	size_t off;

	if ((msg = message_string(data, len)) == NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	/* Names are unescaped in place in work; msg stays as sent. */
	work = xstrdup(msg);
	sc = s->scram = xcalloc(1, sizeof(*s->scram));
	p = work;
	st = parse_gs2_header(s, &p, &authzid, &azlen);
	if (st == SASL_CONTINUE) {
		off = (size_t)(p - work);
		sc->gs2_header = xstrndup(msg, off);
		sc->client_first_bare = xstrdup(msg + off);
		st = parse_first_bare(s, p, authzid, (size_t)azlen);
	}
	free_wiped(msg);
	free_wiped(work);
	if (st != SASL_CONTINUE)
		return st;
	s->round = SCRAM_ROUND_FINAL;
	return SASL_NEED_CREDENTIALS;
}

/* The server nonce: the test hook's, or 24 random base64 characters. */
static int
server_nonce(struct sasl *s, char *out, size_t outlen)
{
	unsigned char raw[SCRAM_SERVER_NONCE_RAW];

	if (s->test_nonce[0] != '\0')
		return snprintf(out, outlen, "%s", s->test_nonce) < (int)outlen ? 0 : -1;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	return base64_encode(raw, sizeof(raw), out, outlen);
}

/*
 * A stable, secret-keyed salt for a user we do not have keys for. The
 * name is lower-cased first: the directory finds "Alice" and "alice" alike,
 * so their salts must not differ either.
 */
static int
fake_record(struct sasl *s, struct scram_record *rec)
{
	unsigned char mac[SCRAM_KEY_LEN];
	char name[SASL_NAME_MAX + 1];
	int rc;

	pthread_once(&scram_fake_once, make_fake_secret);
	memset(rec, 0, sizeof(*rec));
	str_copy(name, s->authcid, sizeof(name));
	str_lower_ascii(name);
	rc = scram_hmac(scram_fake_secret, sizeof(scram_fake_secret), name,
	    strlen(name), mac);
	explicit_bzero(name, sizeof(name));
	if (rc == -1)
		return -1;
	memcpy(rec->salt, mac, SCRAM_SALT_LEN);
	rec->saltlen = SCRAM_SALT_LEN;
	rec->iterations = SCRAM_ITERATIONS;
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

static enum sasl_status
scram_credentials(struct sasl *s, const char *password_hash, const char *scram,
    char *out, size_t outlen)
{
	struct sasl_scram *sc = s->scram;
	char snonce[SASL_NONCE_MAX + 1], salt[BASE64_ENCODED_LEN(SCRAM_SALT_MAX) + 1];
	char *nonce;

	if (scram == NULL || scram_parse_record(scram, &sc->rec) == -1) {
		sc->fake = 1;
		if (fake_record(s, &sc->rec) == -1)
			return sasl_fail(s, SASL_ERR_INTERNAL, "crypto failure");
	}
	if (server_nonce(s, snonce, sizeof(snonce)) == -1 ||
	    base64_encode(sc->rec.salt, sc->rec.saltlen, salt, sizeof(salt)) == -1)
		return sasl_fail(s, SASL_ERR_INTERNAL, "no random nonce");
	nonce = xasprintf("%s%s", sc->nonce, snonce);
	free_wiped(sc->nonce);
	sc->nonce = nonce;
	sc->server_first = xasprintf("r=%s,s=%s,i=%u", sc->nonce, salt,
	    sc->rec.iterations);
	return sasl_challenge(s, sc->server_first, strlen(sc->server_first), out, outlen);
}

/*
 * Check the proof over auth_message; on success write the server
 * signature to server_sig. 1 good, 0 bad, -1 crypto failure.
 */
static int
check_proof(struct sasl_scram *sc, const char *auth_message,
    const unsigned char *proof, unsigned char *server_sig)
{
	unsigned char client_sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned char stored[SCRAM_KEY_LEN];
	size_t len = strlen(auth_message);
	int rc = -1;

	if (scram_hmac(sc->rec.stored_key, SCRAM_KEY_LEN, auth_message, len,
	    client_sig) == -1)
		goto done;
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ client_sig[i];
	if (scram_hash(client_key, sizeof(client_key), stored) == -1 ||
	    scram_hmac(sc->rec.server_key, SCRAM_KEY_LEN, auth_message, len,
	    server_sig) == -1)
		goto done;
	rc = CRYPTO_memcmp(stored, sc->rec.stored_key, SCRAM_KEY_LEN) == 0 && !sc->fake;
done:
	explicit_bzero(client_sig, sizeof(client_sig));
	explicit_bzero(client_key, sizeof(client_key));
	explicit_bzero(stored, sizeof(stored));
	return rc;
}

/*
 * client-final-message: "c=" base64(gs2-header) ",r=" nonce [",ext"]
 * ",p=" proof. Splits msg at the proof; *proof_out gets its 32 bytes.
 */
static enum sasl_status
parse_client_final(struct sasl *s, char *msg, unsigned char *proof)
{
	struct sasl_scram *sc = s->scram;
	unsigned char cbind[SASL_RESPONSE_MAX];
	char *p, *cb_end, *nonce, *nonce_end;
	size_t n;

	if ((p = strstr(msg, ",p=")) == NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, "no proof");
	/* The proof is the last attribute; a later ",p=" would be in it. */
	while (strstr(p + 3, ",p=") != NULL)
		p = strstr(p + 3, ",p=");
	*p = '\0';
	if (base64_decode(p + 3, strlen(p + 3), proof, SCRAM_KEY_LEN, &n) == -1 ||
	    n != SCRAM_KEY_LEN)
		return sasl_fail(s, SASL_ERR_MALFORMED, "bad proof");
	if (strncmp(msg, "c=", 2) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	cb_end = value_end(msg + 2);
	if (base64_decode(msg + 2, (size_t)(cb_end - msg - 2), cbind, sizeof(cbind),
	    &n) == -1 || n != strlen(sc->gs2_header) ||
	    memcmp(cbind, sc->gs2_header, n) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, "channel binding mismatch");
	if (strncmp(cb_end, ",r=", 3) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	nonce = cb_end + 3;
	nonce_end = value_end(nonce);
	if ((size_t)(nonce_end - nonce) != strlen(sc->nonce) ||
	    strncmp(nonce, sc->nonce, (size_t)(nonce_end - nonce)) != 0)
		return sasl_fail(s, SASL_ERR_MALFORMED, "nonce mismatch");
	return SASL_CONTINUE;
}

static enum sasl_status
scram_client_final(struct sasl *s, const unsigned char *data, size_t len,
    char *out, size_t outlen)
{
	struct sasl_scram *sc = s->scram;
	unsigned char proof[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN];
	char sig[BASE64_ENCODED_LEN(SCRAM_KEY_LEN) + 3];
	char *msg, *auth_message = NULL;
	enum sasl_status st;
	int good;

	if ((msg = message_string(data, len)) == NULL)
		return sasl_fail(s, SASL_ERR_MALFORMED, NULL);
	st = parse_client_final(s, msg, proof);
	if (st == SASL_CONTINUE) {
		/* msg now ends before ",p=": client-final-message-without-proof. */
		auth_message = xasprintf("%s,%s,%s", sc->client_first_bare,
		    sc->server_first, msg);
		good = check_proof(sc, auth_message, proof, server_sig);
		if (good == -1)
			st = sasl_fail(s, SASL_ERR_INTERNAL, "crypto failure");
		else if (good == 0)
			st = sasl_fail(s, SASL_ERR_CREDENTIALS,
			    sc->fake ? "no SCRAM keys for user" : NULL);
		else {
			memcpy(sig, "v=", 2);
			base64_encode(server_sig, sizeof(server_sig), sig + 2,
			    sizeof(sig) - 2);
			s->round = SCRAM_ROUND_ACK;
			st = sasl_challenge(s, sig, strlen(sig), out, outlen);
		}
	}
	/* msg was cut at the proof: wipe all len bytes. */
	explicit_bzero(msg, len);
	free(msg);
	free_wiped(auth_message);
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(server_sig, sizeof(server_sig));
	return st;
}

static enum sasl_status
scram_step(struct sasl *s, const unsigned char *data, size_t len, char *out,
    size_t outlen)
{
	switch (s->round) {
	case SCRAM_ROUND_FIRST:
		if (data == NULL)
			return sasl_challenge(s, "", 0, out, outlen);
		return scram_client_first(s, data, len);
	case SCRAM_ROUND_FINAL:
		return scram_client_final(s, data, len, out, outlen);
	case SCRAM_ROUND_ACK:
		if (len != 0)
			return sasl_fail(s, SASL_ERR_MALFORMED, "expected empty response");
		return SASL_OK;
	default:
		return sasl_fail(s, SASL_ERR_INTERNAL, NULL);
	}
}

const struct sasl_mech sasl_mech_scram_sha256 = {
	.name = "SCRAM-SHA-256",
	.step = scram_step,
	.credentials = scram_credentials,
	.cleanup = scram_cleanup,
};
