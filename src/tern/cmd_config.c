/*
 * cmd_config - tern check-config
 *
 * Everything ternd needs before it can start, checked the way ternd will
 * use it: the file parses with no unknown key, the data directory exists,
 * the directory database opens, the certificate and key load and match.
 * Prints "ok", or the first problem on one line.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tern/certs.h"
#include "tern/cli.h"
#include "tern/owner.h"

static int
check_data(const struct conf *conf, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat st;
	struct dir *d;

	if (stat(conf->data_dir, &st) == -1) {
		snprintf(why, whylen, "data_dir %s: %s", conf->data_dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "data_dir %s: not a directory", conf->data_dir);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/directory.db", conf->data_dir) >=
	    (int)sizeof(path)) {
		snprintf(why, whylen, "data_dir %s: path too long", conf->data_dir);
		return -1;
	}
	if ((d = dir_open(path, DIR_OPEN_READ, why, whylen)) == NULL)
		return -1;
	owner_db_files(path, conf->user);
	dir_close(&d);
	return 0;
}

static int
check_tls(const struct conf *conf, char *why, size_t whylen)
{
	if (conf->tls_cert == NULL && conf->tls_key == NULL)
		return 0;
	if (conf->tls_cert == NULL || conf->tls_key == NULL) {
		snprintf(why, whylen, "%s: [tls] needs both cert and key", conf->path);
		return -1;
	}
	return certs_check(conf->tls_cert, conf->tls_key, why, whylen);
}

int
cmd_check_config(struct cli *cli, int argc, char **argv)
{
	struct conf conf;
	char why[1024];
	int rc;

	if (cli_parse(argc, argv, NULL, NULL, 0) != 0)
		return cli_usage(cli);
	rc = conf_load(&conf, conf_default_path(cli->conf_path), why, sizeof(why));
	if (rc == 0)
		rc = check_data(&conf, why, sizeof(why));
	if (rc == 0)
		rc = check_tls(&conf, why, sizeof(why));
	conf_free(&conf);
	if (rc == -1)
		return cli_error("%s", why);
	printf("ok\n");
	return CLI_OK;
}
