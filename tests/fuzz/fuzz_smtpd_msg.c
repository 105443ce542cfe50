/*
 * fuzz_smtpd_msg - libFuzzer target for the DATA/BDAT spool writer.
 *
 * The first byte picks where the input is cut in two, so that line ends
 * split across BDAT chunks are exercised. What lands in the spool file must
 * be CRLF-terminated lines of at most 998 octets with no bare LF, and the
 * result must not depend on where the chunks were cut.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd/smtpd_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	dir[PATH_MAX];

static size_t
store(const uint8_t *data, size_t size, size_t cut, char *out, size_t outlen, int *ok)
{
	struct smtpd_msg msg;
	size_t len;
	FILE *f;

	if (smtpd_msg_open(&msg, dir, "m", 1 << 20) == -1)
		abort();
	smtpd_msg_feed(&msg, (const char *)data, cut);
	smtpd_msg_feed(&msg, (const char *)data + cut, size - cut);
	smtpd_msg_finish(&msg);
	*ok = smtpd_msg_ok(&msg);
	f = fopen(msg.path, "rb");
	if (f == NULL)
		abort();
	len = fread(out, 1, outlen, f);
	fclose(f);
	if (len != msg.file_size && len < outlen)
		abort();
	smtpd_msg_discard(&msg);
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[1 << 16], b[1 << 16];
	size_t cut, alen, blen;
	int aok, bok;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_smtpd_msg.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	if (size == 0 || size > sizeof(a) / 2)
		return 0;
	cut = data[0] % size;
	data++;
	size--;
	if (cut > size)
		cut = size;

	alen = store(data, size, cut, a, sizeof(a), &aok);
	blen = store(data, size, 0, b, sizeof(b), &bok);
	if (aok != bok || (aok && (alen != blen || memcmp(a, b, alen) != 0)))
		abort();
	if (!aok)
		return 0;
	/* Every line ends in CRLF, is at most 998 octets, holds no LF. */
	size_t start = 0;
	for (size_t i = 0; i < alen; i++) {
		if (a[i] != '\n')
			continue;
		if (i == 0 || a[i - 1] != '\r' || i - 1 - start > 998)
			abort();
		start = i + 1;
	}
	if (start != alen)
		abort();
	return 0;
}
