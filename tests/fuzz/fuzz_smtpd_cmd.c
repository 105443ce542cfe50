/*
 * fuzz_smtpd_cmd - libFuzzer target for the SMTP command parser.
 *
 * Each input is parsed twice: as libFuzzer hands it over (no terminator,
 * so ASan sees any read past len) and as the session does, with a NUL at
 * line[len]. Results must agree, replies must look like replies, and the
 * pointers handed out must be strings inside the line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const char *reply)
{
	/* "5yz x.y.z text": a code, a space, an enhanced status code. */
	if (reply == NULL || strlen(reply) < 10 || (reply[0] != '5' &&
	    reply[0] != '4') || reply[3] != ' ' || reply[5] != '.')
		abort();
}

static void
check_within(const char *p, const char *line, size_t len)
{
	if (*p == '\0' && (p < line || p > line + len))
		return;		/* the static "" */
	if (p < line || p + strlen(p) != line + len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpd_cmd raw, cmd;
	const char *reply_raw = NULL, *reply = NULL;
	char *line;
	int rc_raw, rc;

	rc_raw = smtpd_cmd_parse((const char *)data, size, &raw, &reply_raw);

	line = malloc(size + 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	rc = smtpd_cmd_parse(line, size, &cmd, &reply);

	if (rc != rc_raw || cmd.verb != raw.verb)
		abort();
	if (rc == -1) {
		check_reply(reply);
		if (reply != reply_raw)
			abort();
	} else {
		check_within(cmd.arg, line, size);
		check_within(cmd.helo, line, size);
		if (cmd.verb == SMTPD_CMD_MAIL && cmd.path.has_utf8 && !cmd.smtputf8)
			abort();
		if (cmd.verb == SMTPD_CMD_BDAT &&
		    cmd.chunk_size >= 1000000000000000000ULL)
			abort();
		if (strnlen(cmd.envid, sizeof(cmd.envid)) > 100 ||
		    strnlen(cmd.auth, sizeof(cmd.auth)) >= sizeof(cmd.auth) ||
		    strnlen(cmd.orcpt, sizeof(cmd.orcpt)) >= sizeof(cmd.orcpt))
			abort();
	}
	free(line);
	return 0;
}
