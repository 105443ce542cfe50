/*
 * fuzz_sasl - libFuzzer target for the SASL server state machine.
 *
 * Byte 0 picks the mechanism, byte 1 the options: bit 0 allows a
 * differing authzid, bit 1 gives SCRAM no stored record (the unknown-user
 * path), bit 2 feeds the pieces as wire text instead of base64-encoding
 * them first. The rest is split at '\n' into client responses. SCRAM runs
 * with the server nonce and record of the RFC 7677 example, so the seed
 * with that transcript reaches the end. PLAIN and LOGIN stop at the
 * credentials (crypt(3) would make each run take milliseconds).
 *
 * Checked beyond "no crash": every challenge is terminated base64 that
 * fits SASL_CHALLENGE_MAX, identities are bounded and free of control
 * characters, and a finished exchange stays finished.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "auth/scram.h"

#define FUZZ_RESPONSES_MAX	8

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_mechs[] = { "PLAIN", "LOGIN", "SCRAM-SHA-256" };
static char fuzz_record[SCRAM_RECORD_MAX];

static void
make_record(void)
{
	/* RFC 7677 section 3: "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==. */
	static const unsigned char salt[] = {
		0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
		0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
	};

	if (fuzz_record[0] == '\0' && scram_make_record_with("pencil", salt,
	    sizeof(salt), 4096, fuzz_record, sizeof(fuzz_record)) == -1)
		abort();
}

static void
check_challenge(const char *out)
{
	unsigned char buf[SASL_CHALLENGE_MAX];
	size_t len = strnlen(out, SASL_CHALLENGE_MAX), n;

	if (len >= SASL_CHALLENGE_MAX ||
	    base64_decode(out, len, buf, sizeof(buf), &n) == -1)
		abort();
}

static void
check_name(const char *name)
{
	size_t len = strnlen(name, SASL_NAME_MAX + 1);

	if (len > SASL_NAME_MAX)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			abort();
}

/* Feed one piece; returns the status. */
static enum sasl_status
feed(struct sasl *s, const uint8_t *p, size_t len, int raw, char *out)
{
	static char line[SASL_LINE_MAX + 8];

	if (raw || len > SASL_RESPONSE_MAX + 3)
		return sasl_step(s, (const char *)p, len, out, SASL_CHALLENGE_MAX);
	if (base64_encode(p, len, line, sizeof(line)) == -1)
		abort();
	return sasl_step(s, line, strlen(line), out, SASL_CHALLENGE_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SASL_CHALLENGE_MAX];
	const uint8_t *p, *end, *nl;
	enum sasl_status st = SASL_CONTINUE;
	struct sasl *s;
	int opts, n = 0;

	if (size < 2)
		return 0;
	make_record();
	s = sasl_new(fuzz_mechs[data[0] % 3]);
	opts = data[1];
	sasl_allow_authzid(s, opts & 1);
	sasl_test_scram_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	p = data + 2;
	end = data + size;
	while (st == SASL_CONTINUE && p <= end && n++ < FUZZ_RESPONSES_MAX) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		st = feed(s, p, (size_t)(nl - p), opts & 4, out);
		p = nl + 1;
		check_name(sasl_authcid(s));
		check_name(sasl_authzid(s));
		if (st == SASL_CONTINUE)
			check_challenge(out);
		if (st == SASL_NEED_CREDENTIALS) {
			if (data[0] % 3 != 2)
				break;
			st = sasl_credentials(s, NULL, (opts & 2) ? NULL : fuzz_record,
			    out, sizeof(out));
			if (st == SASL_CONTINUE)
				check_challenge(out);
		}
	}
	if ((st == SASL_OK || st == SASL_FAIL) &&
	    sasl_step(s, "", 0, out, sizeof(out)) != SASL_FAIL)
		abort();
	if (st == SASL_FAIL && sasl_error_code(s) == SASL_ERR_NONE)
		abort();
	sasl_free(&s);
	return 0;
}
