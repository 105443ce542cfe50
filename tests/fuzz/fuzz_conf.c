/*
 * fuzz_conf - libFuzzer target for tern.conf loading.
 *
 * conf_load() reads a file, so each input is written to one temporary
 * file, created on the first run and reused: opening a new file per input
 * would spend the time in the file system instead of the parser.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	conf_path[PATH_MAX];
static int	conf_fd = -1;

static void
remove_conf(void)
{
	if (conf_fd != -1)
		unlink(conf_path);
}

static void
open_conf(void)
{
	const char *dir = getenv("TMPDIR");

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (snprintf(conf_path, sizeof(conf_path), "%s/fuzz_conf.XXXXXX", dir) >=
	    (int)sizeof(conf_path))
		abort();
	conf_fd = mkstemp(conf_path);
	if (conf_fd == -1)
		abort();
	atexit(remove_conf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf conf;
	char why[512];

	if (conf_fd == -1)
		open_conf();
	if (ftruncate(conf_fd, 0) == -1 ||
	    pwrite(conf_fd, data, size, 0) != (ssize_t)size)
		abort();
	(void)conf_load(&conf, conf_path, why, sizeof(why));
	conf_free(&conf);
	return 0;
}
