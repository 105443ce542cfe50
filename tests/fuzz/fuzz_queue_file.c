/*
 * fuzz_queue_file - libFuzzer target for the queue envelope parser.
 *
 * A queue file may be damaged (disk, a crash of an older version, a
 * hand edit): the parser must refuse it cleanly. A file it accepts must
 * come back the same through format and parse again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_file.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_envelope env, again;
	const char *err;
	char *text;
	size_t len;

	if (queue_envelope_parse((const char *)data, size, &env, &err) == -1)
		return 0;
	if (env.msg_offset + env.msg_size != size)
		abort();
	if (queue_envelope_format(&env, &text, &len) == 0) {
		if (queue_envelope_parse(text, len, &again, &err) == -1)
			abort();
		if (again.nrcpts != env.nrcpts || strcmp(again.id, env.id) != 0 ||
		    strcmp(again.from, env.from) != 0)
			abort();
		for (size_t i = 0; i < env.nrcpts; i++)
			if (strcmp(again.rcpts[i].address, env.rcpts[i].address) != 0 ||
			    again.rcpts[i].state != env.rcpts[i].state)
				abort();
		queue_envelope_free(&again);
		free(text);
	}
	queue_envelope_free(&env);
	return 0;
}
