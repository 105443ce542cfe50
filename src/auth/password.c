/*
 * password - crypt(3) hashing and checking.
 *
 * struct crypt_data is 32 KiB, too big for a pool thread's stack, so it is
 * allocated. It ends up holding the plaintext and intermediate state, so
 * it is wiped before it is freed.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/password.h"
#include "common/log.h"
#include "common/xalloc.h"

/* Letters and digits without 0 O 1 l I, which people misread. */
static const char password_alphabet[] =
    "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/* crypt_rn into fresh memory; the caller copies the result and wipes data. */
static const char *
run_crypt(const char *plain, const char *setting, struct crypt_data **datap)
{
	const char *out;

	*datap = xcalloc(1, sizeof(**datap));
	out = crypt_rn(plain, setting, *datap, (int)sizeof(**datap));
	if (out == NULL || out[0] == '*')
		return NULL;
	return out;
}

static void
wipe_crypt(struct crypt_data *data)
{
	explicit_bzero(data, sizeof(*data));
	free(data);
}

int
password_hash(const char *plain, char *out, size_t outlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hashed;
	size_t len;
	int rc = -1;

	/* rbytes NULL: libxcrypt takes the salt from the kernel's random source. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL)
		return -1;
	hashed = run_crypt(plain, setting, &data);
	if (hashed != NULL && (len = strlen(hashed)) < outlen) {
		memcpy(out, hashed, len + 1);
		rc = 0;
	}
	wipe_crypt(data);
	return rc;
}

/* Compare two strings in time that depends only on their lengths. */
static int
equal_constant_time(const char *a, const char *b)
{
	size_t len = strlen(a);
	volatile unsigned char diff = 0;

	/* The length of a crypt string follows from its method: not secret. */
	if (len != strlen(b))
		return 0;
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
password_verify(const char *plain, const char *hash)
{
	struct crypt_data *data;
	const char *computed;
	int match;

	/* No password, or locked the way passwd(5) locks ("!", "*"). */
	if (plain == NULL || hash == NULL || hash[0] == '\0' || hash[0] == '!' ||
	    hash[0] == '*')
		return 0;
	computed = run_crypt(plain, hash, &data);
	match = computed != NULL && equal_constant_time(computed, hash);
	wipe_crypt(data);
	return match;
}

void
password_generate(char *out, size_t outlen)
{
	const size_t n = sizeof(password_alphabet) - 1;
	/* Bytes at or above limit would favour the first letters: draw again. */
	const unsigned limit = 256 - 256 % n;
	unsigned char raw[64];
	size_t used = sizeof(raw), len = 0;

	if (outlen < PASSWORD_GENERATED_LEN + 1)
		fatalx("password_generate: buffer too small");
	while (len < PASSWORD_GENERATED_LEN) {
		if (used == sizeof(raw)) {
			if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
				fatal("getrandom");
			used = 0;
		}
		if (raw[used] < limit)
			out[len++] = password_alphabet[raw[used] % n];
		used++;
	}
	out[len] = '\0';
	explicit_bzero(raw, sizeof(raw));
}
