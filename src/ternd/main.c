/*
 * ternd - the tern mail server.
 *
 *	ternd [-c FILE] [-f]
 *
 * -c names the config file (default: $TERN_CONF, then /etc/tern/tern.conf);
 * -f keeps ternd in the foreground with the log on stderr. Without -f ternd
 * detaches, logs to syslog (facility mail) and writes
 * <data_dir>/state/ternd.pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "ternd/master.h"

static void
usage(void)
{
	fprintf(stderr, "usage: ternd [-c FILE] [-f]\n");
	exit(2);
}

static void
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	pid = fork();
	if (pid == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		fatal("chdir /");
	fd = open("/dev/null", O_RDWR);
	if (fd == -1)
		fatal("/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static void
write_pidfile(const struct conf *conf)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], text[32];
	int n;

	snprintf(dir, sizeof(dir), "%s/state", conf->data_dir);
	snprintf(path, sizeof(path), "%s/ternd.pid", dir);
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fs_mkdir_p(dir, 0755) == -1 || fs_write_atomic(path, text, (size_t)n, 0644) == -1)
		log_warn("cannot write %s: %s", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct conf *conf;
	char why[512];
	int foreground = 0, ch, rc;

	while ((ch = getopt(argc, argv, "c:fh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	path = conf_default_path(path);

	conf = xcalloc(1, sizeof(*conf));
	if (conf_load(conf, path, why, sizeof(why)) == -1) {
		fprintf(stderr, "ternd: %s\n", why);
		return 1;
	}
	if (access(conf->data_dir, F_OK) == -1) {
		fprintf(stderr, "ternd: data_dir %s: %s (run tern init first)\n", conf->data_dir,
		    strerror(errno));
		return 1;
	}
	umask(027);
	if (!foreground)
		daemonize();
	log_init("ternd", foreground, (enum log_level)conf->log_level);
	if (!foreground)
		write_pidfile(conf);
	master_set_argv(argc, argv);
	rc = master_run(conf, conf->path, foreground);
	return rc;
}
