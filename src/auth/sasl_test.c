/*
 * Unit tests of the SASL server: base64 (RFC 4648 section 10 vectors),
 * PLAIN and LOGIN edge cases, the SCRAM-SHA-256 example exchange of
 * RFC 7677 section 3 replayed byte for byte, SCRAM errors, and a SCRAM
 * exchange against a stored record with a client computed here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/base64.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/scram.h"

/* RFC 7677 section 3. */
#define RFC_SALT		"W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SERVER_NONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CLIENT_FIRST	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
				"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
				"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* The hash of "pencil" and the RFC's SCRAM record, made once. */
static char pencil_hash[PASSWORD_HASH_MAX];
static char rfc_record[SCRAM_RECORD_MAX];

static int
setup_group(void **state)
{
	unsigned char salt[32];
	size_t saltlen;

	if (password_hash("pencil", pencil_hash, sizeof(pencil_hash)) == -1 ||
	    base64_decode(RFC_SALT, strlen(RFC_SALT), salt, sizeof(salt), &saltlen) == -1 ||
	    scram_make_record_with("pencil", salt, saltlen, 4096, rfc_record,
	    sizeof(rfc_record)) == -1)
		return -1;
	return 0;
}

/* Base64 of len bytes of s into a static buffer (one at a time). */
static const char *
b64(const char *s, size_t len)
{
	static char out[SASL_LINE_MAX + 8];

	assert_int_equal(base64_encode(s, len, out, sizeof(out)), 0);
	return out;
}

#define B64(lit)	b64((lit), sizeof(lit) - 1)

/* Decode a challenge into a static string. */
static const char *
unb64(const char *s)
{
	static char out[SASL_CHALLENGE_MAX];
	size_t n;

	assert_int_equal(base64_decode(s, strlen(s), (unsigned char *)out,
	    sizeof(out) - 1, &n), 0);
	out[n] = '\0';
	return out;
}

static enum sasl_status
step(struct sasl *s, const char *line, char *out)
{
	return sasl_step(s, line, line != NULL ? strlen(line) : 0, out,
	    SASL_CHALLENGE_MAX);
}

/* base64 */

static void
test_base64_vectors(void **state)
{
	static const struct { const char *plain, *enc; } cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char enc[32];
	unsigned char dec[32];
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(base64_encode(cases[i].plain, strlen(cases[i].plain),
		    enc, sizeof(enc)), 0);
		assert_string_equal(enc, cases[i].enc);
		assert_int_equal(base64_decode(cases[i].enc, strlen(cases[i].enc), dec,
		    sizeof(dec), &n), 0);
		assert_int_equal(n, strlen(cases[i].plain));
		assert_memory_equal(dec, cases[i].plain, n);
	}
	/* Binary, all 64 characters. */
	unsigned char bin[] = { 0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83 };
	assert_int_equal(base64_encode(bin, sizeof(bin), enc, sizeof(enc)), 0);
	assert_string_equal(enc, "+/+/ABCD");
	/* Too small: the terminating NUL counts. */
	assert_int_equal(base64_encode("foo", 3, enc, 4), -1);
	assert_string_equal(enc, "");
	assert_int_equal(base64_encode("foo", 3, enc, 5), 0);
}

static void
test_base64_errors(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "====", "Zh==", "Zm9=", "Zm9v\n", "Zm 9v",
		"Zg==Zg==", "=Zg=", "Zg=a", "Zm9v!A==", "Zm9-", "Zm9_",
	};
	unsigned char dec[32];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n) != -1)
			fail_msg("accepted '%s'", bad[i]);
	/* Output too small. */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 5, &n), -1);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
}

/* Mechanism table. */

static void
test_mechanisms(void **state)
{
	struct sasl *s;

	assert_string_equal(sasl_mechanisms_list(), "PLAIN LOGIN SCRAM-SHA-256");
	assert_null(sasl_new("CRAM-MD5"));
	assert_null(sasl_new("PLAINX"));
	assert_null(sasl_new(""));
	assert_null(sasl_new(NULL));
	s = sasl_new("plain");
	assert_non_null(s);
	assert_string_equal(sasl_mechanism(s), "PLAIN");
	sasl_free(&s);
	assert_null(s);
	sasl_free(&s);
	s = sasl_new("Scram-Sha-256");
	assert_non_null(s);
	assert_string_equal(sasl_mechanism(s), "SCRAM-SHA-256");
	sasl_free(&s);
	s = sasl_new("login");
	assert_string_equal(sasl_mechanism(s), "LOGIN");
	sasl_free(&s);
}

/* PLAIN */

struct plain_case {
	const char	*name;
	const char	*msg;		/* decoded message */
	size_t		 len;
	int		 allow_authzid;
	enum sasl_status want;		/* after credentials when NEED */
	enum sasl_error	 err;
	const char	*authzid;	/* want sasl_authzid() on success */
};

#define M(lit)	(lit), sizeof(lit) - 1

static const struct plain_case plain_cases[] = {
	{ "empty authzid", M("\0user\0pencil"), 0, SASL_OK, SASL_ERR_NONE, "user" },
	{ "authzid = authcid", M("user\0user\0pencil"), 0, SASL_OK, SASL_ERR_NONE, "user" },
	{ "authzid other case", M("USER\0user\0pencil"), 0, SASL_OK, SASL_ERR_NONE, "user" },
	{ "authzid refused", M("admin\0user\0pencil"), 0, SASL_FAIL, SASL_ERR_AUTHZID, NULL },
	{ "authzid allowed", M("admin\0user\0pencil"), 1, SASL_OK, SASL_ERR_NONE, "admin" },
	{ "one NUL", M("user\0pencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "no NUL", M("userpencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "empty message", M(""), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "empty authcid", M("\0\0pencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "empty password", M("\0user\0"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "three NULs", M("\0user\0pen\0cil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "control in authcid", M("\0us\ner\0pencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "bad UTF-8 authcid", M("\0\xff\0pencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "overlong UTF-8", M("\0\xc0\xafx\0pencil"), 0, SASL_FAIL, SASL_ERR_MALFORMED, NULL },
	{ "UTF-8 authcid", M("\0us\xc3\xa9r\0pencil"), 0, SASL_OK, SASL_ERR_NONE,
	    "us\xc3\xa9r" },
	{ "wrong password", M("\0user\0pencik"), 0, SASL_FAIL, SASL_ERR_CREDENTIALS, NULL },
	{ "password prefix", M("\0user\0penci"), 0, SASL_FAIL, SASL_ERR_CREDENTIALS, NULL },
};

static void
test_plain_table(void **state)
{
	char out[SASL_CHALLENGE_MAX];

	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct plain_case *c = &plain_cases[i];
		struct sasl *s = sasl_new("PLAIN");
		const char *line = b64(c->msg, c->len);
		enum sasl_status st;

		sasl_allow_authzid(s, c->allow_authzid);
		/* An empty message only exists as "=" on the wire. */
		st = step(s, c->len == 0 ? "=" : line, out);
		if (st == SASL_NEED_CREDENTIALS) {
			assert_string_equal(out, "");
			st = sasl_credentials(s, pencil_hash, NULL, out, sizeof(out));
		}
		if (st != c->want || sasl_error_code(s) != c->err)
			fail_msg("%s: status %d error %d (%s)", c->name, st,
			    sasl_error_code(s), sasl_error(s));
		if (c->authzid != NULL)
			assert_string_equal(sasl_authzid(s), c->authzid);
		/* Nothing more after the end. */
		assert_int_equal(step(s, line, out), SASL_FAIL);
		sasl_free(&s);
	}
}

static void
test_plain_exchange(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s;

	/* No initial response: an empty challenge, then the message. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
	assert_string_equal(out, "");
	assert_int_equal(step(s, B64("\0user\0pencil"), out), SASL_NEED_CREDENTIALS);
	assert_string_equal(sasl_authcid(s), "user");
	/* A response while credentials are pending is a bug of the caller. */
	assert_int_equal(step(s, "", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_INTERNAL);
	sasl_free(&s);

	/* "" as the first call is no initial response, like NULL. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, "", out), SASL_CONTINUE);
	assert_int_equal(step(s, B64("\0user\0pencil"), out), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_verify_password(s, pencil_hash), 1);
	assert_int_equal(sasl_credentials(s, pencil_hash, NULL, out, sizeof(out)),
	    SASL_FAIL);
	sasl_free(&s);

	/* Cancel. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
	assert_int_equal(step(s, "*", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_CANCELLED);
	assert_string_equal(sasl_error(s), "cancelled");
	sasl_free(&s);

	/* "*" as an initial response cancels too. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, "*", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_CANCELLED);
	sasl_free(&s);

	/* "=" after the first step is not base64. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
	assert_int_equal(step(s, "=", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);

	/* Bad base64. */
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, "ab!c", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	assert_string_equal(sasl_error(s), "bad base64");
	sasl_free(&s);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, "AHVzZXIAcGVuY2ls\r", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);

	/* Unknown user (and locked or empty hashes): same failure. */
	static const char *const hashes[] = { NULL, "", "!", "*" };
	for (size_t i = 0; i < 4; i++) {
		s = sasl_new("PLAIN");
		assert_int_equal(step(s, B64("\0nobody\0pencil"), out),
		    SASL_NEED_CREDENTIALS);
		assert_int_equal(sasl_credentials(s, hashes[i], NULL, out, sizeof(out)),
		    SASL_FAIL);
		assert_int_equal(sasl_error_code(s), SASL_ERR_CREDENTIALS);
		sasl_free(&s);
	}
}

static void
test_plain_limits(void **state)
{
	char out[SASL_CHALLENGE_MAX], *msg, *line;
	size_t linesize = SASL_LINE_MAX + 8;
	struct sasl *s;

	msg = calloc(1, SASL_RESPONSE_MAX + 4);
	line = malloc(linesize);
	assert_non_null(msg);
	assert_non_null(line);

	/* Longest line: decodes, but the password is too long. */
	memset(msg, 'a', SASL_RESPONSE_MAX);
	msg[0] = '\0';
	msg[SASL_NAME_MAX + 1] = '\0';
	assert_int_equal(base64_encode(msg, SASL_RESPONSE_MAX, line, linesize), 0);
	assert_int_equal(strlen(line), SASL_LINE_MAX);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, line, out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);

	/* One group more: too long before decoding. */
	assert_int_equal(base64_encode(msg, SASL_RESPONSE_MAX + 1, line, linesize), 0);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, line, out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_TOO_LONG);
	sasl_free(&s);

	/* Names of SASL_NAME_MAX bytes pass, one more does not. */
	memset(msg, 'a', SASL_RESPONSE_MAX);
	msg[0] = '\0';
	msg[1 + SASL_NAME_MAX] = '\0';
	memcpy(msg + 2 + SASL_NAME_MAX, "pw", 2);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, b64(msg, 4 + SASL_NAME_MAX), out), SASL_NEED_CREDENTIALS);
	assert_int_equal(strlen(sasl_authcid(s)), SASL_NAME_MAX);
	sasl_free(&s);
	msg[1 + SASL_NAME_MAX] = 'a';
	msg[2 + SASL_NAME_MAX] = '\0';
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, b64(msg, 5 + SASL_NAME_MAX), out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);

	/* Password of SASL_PASSWORD_MAX bytes passes, one more does not. */
	memset(msg, 'p', SASL_RESPONSE_MAX);
	memcpy(msg, "\0u\0", 3);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, b64(msg, 3 + SASL_PASSWORD_MAX), out),
	    SASL_NEED_CREDENTIALS);
	sasl_free(&s);
	s = sasl_new("PLAIN");
	assert_int_equal(step(s, b64(msg, 4 + SASL_PASSWORD_MAX), out), SASL_FAIL);
	sasl_free(&s);

	/* A challenge that does not fit the caller's buffer. */
	s = sasl_new("LOGIN");
	assert_int_equal(sasl_step(s, NULL, 0, out, 4), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_INTERNAL);
	sasl_free(&s);
	free(msg);
	free(line);
}

/* LOGIN */

static void
test_login(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s;

	s = sasl_new("LOGIN");
	assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
	assert_string_equal(out, "VXNlcm5hbWU6");	/* "Username:" */
	assert_int_equal(step(s, B64("user"), out), SASL_CONTINUE);
	assert_string_equal(out, "UGFzc3dvcmQ6");	/* "Password:" */
	assert_int_equal(step(s, B64("pencil"), out), SASL_NEED_CREDENTIALS);
	assert_string_equal(sasl_authcid(s), "user");
	assert_string_equal(sasl_authzid(s), "user");
	assert_int_equal(sasl_credentials(s, pencil_hash, NULL, out, sizeof(out)),
	    SASL_OK);
	sasl_free(&s);

	/* User name as initial response. */
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, B64("user"), out), SASL_CONTINUE);
	assert_string_equal(unb64(out), "Password:");
	assert_int_equal(step(s, B64("pencik"), out), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_verify_password(s, pencil_hash), 0);
	assert_int_equal(sasl_error_code(s), SASL_ERR_CREDENTIALS);
	sasl_free(&s);

	/* Cancel at the password. */
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, B64("user"), out), SASL_CONTINUE);
	assert_int_equal(step(s, "*", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_CANCELLED);
	sasl_free(&s);

	/* Empty user name, empty password, NUL inside, bad base64. */
	static const char *const bad_user[] = { "", "=", "AA==", "dXNlcgBh" };
	for (size_t i = 0; i < 4; i++) {
		s = sasl_new("LOGIN");
		assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
		if (step(s, bad_user[i], out) != SASL_FAIL ||
		    sasl_error_code(s) != SASL_ERR_MALFORMED)
			fail_msg("user '%s' accepted", bad_user[i]);
		sasl_free(&s);
	}
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, "=", out), SASL_FAIL);	/* empty initial user */
	sasl_free(&s);
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, B64("user"), out), SASL_CONTINUE);
	assert_int_equal(step(s, "", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, B64("user"), out), SASL_CONTINUE);
	assert_int_equal(step(s, B64("pen\0cil"), out), SASL_FAIL);
	sasl_free(&s);
	/* LOGIN's user name is a name: no control characters. */
	s = sasl_new("LOGIN");
	assert_int_equal(step(s, B64("us\r\ner"), out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);
}

/* SCRAM-SHA-256 */

static void
test_scram_record(void **state)
{
	struct scram_record rec;
	char text[SCRAM_RECORD_MAX], again[SCRAM_RECORD_MAX];

	assert_int_equal(strncmp(rfc_record, "SCRAM-SHA-256$4096:" RFC_SALT "$", 44), 0);
	assert_int_equal(scram_parse_record(rfc_record, &rec), 0);
	assert_int_equal(rec.iterations, 4096);
	assert_int_equal(rec.saltlen, 16);

	assert_int_equal(scram_make_record("pencil", text, sizeof(text)), 0);
	assert_int_equal(scram_parse_record(text, &rec), 0);
	assert_int_equal(rec.iterations, SCRAM_ITERATIONS);
	assert_int_equal(rec.saltlen, SCRAM_SALT_LEN);
	assert_int_equal(scram_make_record("pencil", again, sizeof(again)), 0);
	assert_string_not_equal(text, again);	/* fresh salt */
	assert_int_equal(scram_make_record("pencil", text, 40), -1);

	static const char *const bad[] = {
		"", "!", "SCRAM-SHA-1$4096:" RFC_SALT "$AAAA:AAAA",
		"SCRAM-SHA-256$4096:" RFC_SALT "$",
		"SCRAM-SHA-256$4095:" RFC_SALT "$" RFC_SALT ":" RFC_SALT,
		"SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_SALT ":" RFC_SALT,	/* 16-byte keys */
		"SCRAM-SHA-256$x:" RFC_SALT "$a:b",
		"SCRAM-SHA-256$04096:" RFC_SALT "$a:b",
		"SCRAM-SHA-256$4096:$AAAA:AAAA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scram_parse_record(bad[i], &rec) != -1)
			fail_msg("accepted record '%s'", bad[i]);
	assert_int_equal(scram_parse_record(NULL, &rec), -1);
	/* Truncating a good record breaks it. */
	memcpy(text, rfc_record, strlen(rfc_record) + 1);
	text[strlen(text) - 1] = '\0';
	assert_int_equal(scram_parse_record(text, &rec), -1);
}

/* The exchange of RFC 7677 section 3, byte for byte. */
static void
test_scram_rfc7677(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s = sasl_new("SCRAM-SHA-256");

	sasl_test_scram_nonce(s, RFC_SERVER_NONCE);
	assert_int_equal(step(s, B64(RFC_CLIENT_FIRST), out), SASL_NEED_CREDENTIALS);
	assert_string_equal(sasl_authcid(s), "user");
	assert_int_equal(sasl_credentials(s, pencil_hash, rfc_record, out, sizeof(out)),
	    SASL_CONTINUE);
	assert_string_equal(unb64(out), RFC_SERVER_FIRST);
	assert_int_equal(step(s, B64(RFC_CLIENT_FINAL), out), SASL_CONTINUE);
	assert_string_equal(unb64(out), RFC_SERVER_FINAL);
	assert_int_equal(step(s, "", out), SASL_OK);
	assert_string_equal(out, "");
	assert_string_equal(sasl_authzid(s), "user");
	assert_int_equal(sasl_error_code(s), SASL_ERR_NONE);
	sasl_free(&s);

	/* Without initial response (IMAP without SASL-IR): an empty challenge first. */
	s = sasl_new("SCRAM-SHA-256");
	sasl_test_scram_nonce(s, RFC_SERVER_NONCE);
	assert_int_equal(step(s, NULL, out), SASL_CONTINUE);
	assert_string_equal(out, "");
	assert_int_equal(step(s, B64(RFC_CLIENT_FIRST), out), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_credentials(s, NULL, rfc_record, out, sizeof(out)),
	    SASL_CONTINUE);
	assert_int_equal(step(s, B64(RFC_CLIENT_FINAL), out), SASL_CONTINUE);
	assert_int_equal(step(s, "=", out), SASL_FAIL);	/* not empty: malformed */
	sasl_free(&s);
}

/* Run the RFC exchange up to client-final with the given changes. */
static enum sasl_status
scram_run(const char *first, const char *final, const char *record,
    struct sasl **sp)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s = sasl_new("SCRAM-SHA-256");
	enum sasl_status st;

	*sp = s;
	sasl_test_scram_nonce(s, RFC_SERVER_NONCE);
	/* An empty client-first only exists as "=" on the wire. */
	st = step(s, *first == '\0' ? "=" : b64(first, strlen(first)), out);
	if (st != SASL_NEED_CREDENTIALS)
		return st;
	st = sasl_credentials(s, NULL, record, out, sizeof(out));
	if (st != SASL_CONTINUE || final == NULL)
		return st;
	return step(s, b64(final, strlen(final)), out);
}

struct scram_case {
	const char	*name;
	const char	*first;
	const char	*final;		/* NULL: stop after the credentials */
	enum sasl_status want;
	enum sasl_error	 err;
};

#define NONCE	"rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE
#define PROOF	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

static const struct scram_case scram_cases[] = {
	{ "rfc", RFC_CLIENT_FIRST, RFC_CLIENT_FINAL, SASL_CONTINUE, SASL_ERR_NONE },
	{ "wrong proof", RFC_CLIENT_FIRST,
	    "c=biws,r=" NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
	    SASL_FAIL, SASL_ERR_CREDENTIALS },
	{ "short proof", RFC_CLIENT_FIRST, "c=biws,r=" NONCE ",p=dHzbZapW",
	    SASL_FAIL, SASL_ERR_MALFORMED },
	{ "no proof", RFC_CLIENT_FIRST, "c=biws,r=" NONCE, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "nonce changed", RFC_CLIENT_FIRST, "c=biws,r=" NONCE "x," PROOF,
	    SASL_FAIL, SASL_ERR_MALFORMED },
	{ "nonce cut", RFC_CLIENT_FIRST, "c=biws,r=rOprNGfwEbeRWgbNEkqO," PROOF,
	    SASL_FAIL, SASL_ERR_MALFORMED },
	{ "binding y", RFC_CLIENT_FIRST, "c=eSws,r=" NONCE "," PROOF,
	    SASL_FAIL, SASL_ERR_MALFORMED },
	{ "binding bad base64", RFC_CLIENT_FIRST, "c=biw,r=" NONCE "," PROOF,
	    SASL_FAIL, SASL_ERR_MALFORMED },
	{ "order", RFC_CLIENT_FIRST, "r=" NONCE ",c=biws," PROOF,
	    SASL_FAIL, SASL_ERR_MALFORMED },
	/* An extension changes AuthMessage: parsed, then the proof fails. */
	{ "extension in final", RFC_CLIENT_FIRST, "c=biws,r=" NONCE ",x=1," PROOF,
	    SASL_FAIL, SASL_ERR_CREDENTIALS },
	{ "channel binding p", "p=tls-unique,,n=user,r=abc", NULL,
	    SASL_FAIL, SASL_ERR_UNSUPPORTED },
	{ "mandatory extension", "n,,m=x,n=user,r=abc", NULL,
	    SASL_FAIL, SASL_ERR_UNSUPPORTED },
	{ "flag y", "y,,n=user,r=abc", NULL, SASL_CONTINUE, SASL_ERR_NONE },
	{ "bad flag", "x,,n=user,r=abc", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "no gs2 header", "n=user,r=abc", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "authzid same", "n,a=user,n=user,r=abc", NULL, SASL_CONTINUE, SASL_ERR_NONE },
	{ "authzid other", "n,a=admin,n=user,r=abc", NULL, SASL_FAIL, SASL_ERR_AUTHZID },
	{ "authzid unterminated", "n,a=user", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "empty user", "n,,n=,r=abc", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "bad escape", "n,,n=us=41er,r=abc", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "cut escape", "n,,n=user=2,r=abc", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "no nonce", "n,,n=user", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "empty nonce", "n,,n=user,r=", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "nonce with space", "n,,n=user,r=a b", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
	{ "client extension", "n,,n=user,r=abc,x=y", NULL, SASL_CONTINUE, SASL_ERR_NONE },
	{ "empty", "", NULL, SASL_FAIL, SASL_ERR_MALFORMED },
};

static void
test_scram_table(void **state)
{
	for (size_t i = 0; i < sizeof(scram_cases) / sizeof(scram_cases[0]); i++) {
		const struct scram_case *c = &scram_cases[i];
		struct sasl *s;
		enum sasl_status st = scram_run(c->first, c->final, rfc_record, &s);

		if (st != c->want || sasl_error_code(s) != c->err)
			fail_msg("%s: status %d error %d (%s)", c->name, st,
			    sasl_error_code(s), sasl_error(s));
		sasl_free(&s);
	}
}

static void
test_scram_names(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s;

	/* Escaped names come out unescaped; the message is kept as sent. */
	assert_int_equal(scram_run("n,a=u=2Cs=3Dr,n=u=2Cs=3DR,r=abc", NULL, rfc_record, &s),
	    SASL_CONTINUE);
	assert_string_equal(sasl_authcid(s), "u,s=R");
	assert_string_equal(sasl_authzid(s), "u,s=R");
	sasl_free(&s);

	/* A NUL inside the message. */
	s = sasl_new("SCRAM-SHA-256");
	assert_int_equal(step(s, B64("n,,n=us\0er,r=abc"), out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_MALFORMED);
	sasl_free(&s);

	/* Cancel after server-first. */
	assert_int_equal(scram_run(RFC_CLIENT_FIRST, NULL, rfc_record, &s), SASL_CONTINUE);
	assert_int_equal(step(s, "*", out), SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_CANCELLED);
	sasl_free(&s);

	/* Not for SCRAM. */
	assert_int_equal(scram_run(RFC_CLIENT_FIRST, NULL, NULL, &s), SASL_CONTINUE);
	assert_int_equal(sasl_verify_password(s, pencil_hash), 0);
	sasl_free(&s);
}

/*
 * A user without a record (unknown, or keys never stored) gets a
 * plausible challenge whose salt does not change between tries, and the
 * right proof for another salt fails.
 */
static void
test_scram_unknown_user(void **state)
{
	char first1[SASL_CHALLENGE_MAX], first2[SASL_CHALLENGE_MAX];
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s;

	for (int i = 0; i < 2; i++) {
		s = sasl_new("SCRAM-SHA-256");
		sasl_test_scram_nonce(s, RFC_SERVER_NONCE);
		/* Names differing in case get the same salt, as real users do. */
		assert_int_equal(step(s, i == 0 ? B64(RFC_CLIENT_FIRST) :
		    B64("n,,n=USER,r=rOprNGfwEbeRWgbNEkqO"), out), SASL_NEED_CREDENTIALS);
		assert_int_equal(sasl_credentials(s, pencil_hash, i == 0 ? NULL : "",
		    out, sizeof(out)), SASL_CONTINUE);
		memcpy(i == 0 ? first1 : first2, unb64(out), SASL_CHALLENGE_MAX);
		assert_int_equal(step(s, B64(RFC_CLIENT_FINAL), out), SASL_FAIL);
		assert_int_equal(sasl_error_code(s), SASL_ERR_CREDENTIALS);
		sasl_free(&s);
	}
	assert_string_equal(first1, first2);
	assert_string_not_equal(first1, RFC_SERVER_FIRST);
	assert_non_null(strstr(first1, ",i=10000"));
}

/* The client side of RFC 5802, enough to answer a server-first message. */
static void
client_final(const char *password, const char *client_first_bare,
    const char *server_first, char *final, size_t finallen, char *verifier,
    size_t verifierlen)
{
	unsigned char salt[SCRAM_SALT_MAX], salted[32], client_key[32], stored[32];
	unsigned char sig[32], server_key[32];
	char nonce[256], salt64[128], buf[1024], proof64[64], sig64[64];
	unsigned iterations;
	size_t saltlen;

	assert_int_equal(sscanf(server_first, "r=%255[^,],s=%127[^,],i=%u", nonce,
	    salt64, &iterations), 3);
	assert_int_equal(base64_decode(salt64, strlen(salt64), salt, sizeof(salt),
	    &saltlen), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
	    (int)saltlen, (int)iterations, EVP_sha256(), 32, salted), 1);
	assert_int_equal(scram_hmac(salted, 32, "Client Key", 10, client_key), 0);
	assert_int_equal(scram_hash(client_key, 32, stored), 0);
	snprintf(final, finallen, "c=biws,r=%s", nonce);
	snprintf(buf, sizeof(buf), "%s,%s,%s", client_first_bare, server_first, final);
	assert_int_equal(scram_hmac(stored, 32, buf, strlen(buf), sig), 0);
	for (int i = 0; i < 32; i++)
		client_key[i] ^= sig[i];
	assert_int_equal(base64_encode(client_key, 32, proof64, sizeof(proof64)), 0);
	snprintf(final + strlen(final), finallen - strlen(final), ",p=%s", proof64);
	assert_int_equal(scram_hmac(salted, 32, "Server Key", 10, server_key), 0);
	assert_int_equal(scram_hmac(server_key, 32, buf, strlen(buf), sig), 0);
	assert_int_equal(base64_encode(sig, 32, sig64, sizeof(sig64)), 0);
	snprintf(verifier, verifierlen, "v=%s", sig64);
}

static void
test_scram_stored_record(void **state)
{
	char record[SCRAM_RECORD_MAX], out[SASL_CHALLENGE_MAX];
	char server_first[SASL_CHALLENGE_MAX], final[512], verifier[128];
	const char *password = "correct horse \xc3\xa4";
	struct sasl *s;

	assert_int_equal(scram_make_record(password, record, sizeof(record)), 0);
	for (int round = 0; round < 2; round++) {
		s = sasl_new("SCRAM-SHA-256");
		assert_int_equal(step(s, B64("n,,n=alice@example.test,r=clientnonce"), out),
		    SASL_NEED_CREDENTIALS);
		assert_string_equal(sasl_authcid(s), "alice@example.test");
		assert_int_equal(sasl_credentials(s, NULL, record, out, sizeof(out)),
		    SASL_CONTINUE);
		memcpy(server_first, unb64(out), sizeof(server_first));
		assert_int_equal(strncmp(server_first, "r=clientnonce", 13), 0);
		/* 24 characters of random server nonce. */
		assert_int_equal(strchr(server_first, ',') - server_first, 2 + 11 + 24);
		client_final(round == 0 ? password : "correct horse",
		    "n=alice@example.test,r=clientnonce", server_first, final,
		    sizeof(final), verifier, sizeof(verifier));
		if (round == 0) {
			assert_int_equal(step(s, b64(final, strlen(final)), out),
			    SASL_CONTINUE);
			assert_string_equal(unb64(out), verifier);
			assert_int_equal(step(s, NULL, out), SASL_OK);
		} else {
			assert_int_equal(step(s, b64(final, strlen(final)), out), SASL_FAIL);
			assert_int_equal(sasl_error_code(s), SASL_ERR_CREDENTIALS);
		}
		sasl_free(&s);
	}
}

/* Calls out of order are refused, not crashes. */
static void
test_misuse(void **state)
{
	char out[SASL_CHALLENGE_MAX];
	struct sasl *s = sasl_new("PLAIN");

	assert_int_equal(sasl_credentials(s, pencil_hash, NULL, out, sizeof(out)),
	    SASL_FAIL);
	assert_int_equal(sasl_error_code(s), SASL_ERR_INTERNAL);
	assert_int_equal(step(s, B64("\0user\0pencil"), out), SASL_FAIL);
	sasl_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_errors),
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_plain_table),
		cmocka_unit_test(test_plain_exchange),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_scram_record),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_table),
		cmocka_unit_test(test_scram_names),
		cmocka_unit_test(test_scram_unknown_user),
		cmocka_unit_test(test_scram_stored_record),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
