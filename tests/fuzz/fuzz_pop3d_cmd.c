/*
 * fuzz_pop3d_cmd - libFuzzer target for the POP3 command parser.
 *
 * The parser cuts the line in place, so each input is copied into a buffer
 * of exactly its size plus the NUL the session guarantees. On success the
 * pointers it returns must lie inside that buffer and be terminated there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/pop3d_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_inside(const char *p, const char *buf, size_t size)
{
	if (p == NULL)
		return;
	if (p < buf || p > buf + size || memchr(p, '\0', (size_t)(buf + size + 1 - p)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3d_cmd cmd;
	const char *err = NULL;
	char *line;

	if (size > 4096)
		return 0;
	line = malloc(size + 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (pop3d_cmd_parse(line, size, &cmd, &err) == 0) {
		check_inside(cmd.arg, line, size);
		check_inside(cmd.initial, line, size);
		if (pop3d_cmd_name(cmd.verb) == NULL)
			abort();
	} else if (err == NULL || strncmp(err, "-ERR", 4) != 0) {
		abort();
	}
	free(line);
	return 0;
}
