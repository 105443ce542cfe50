/*
 * cmd_alias - tern alias add SRC DEST... | del SRC [DEST] | list [SRC]
 *
 * SRC is local@domain, or @domain for a catch-all. Several destinations
 * are added in one transaction: all of them, or none when one fails.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"
#include "tern/cli.h"

static int
add_all(struct dir *d, char **pos, int n, char *why, size_t whylen)
{
	if (dir_begin(d, why, whylen) == -1)
		return -1;
	for (int i = 1; i < n; i++) {
		if (dir_alias_add(d, pos[0], pos[i], why, whylen) == -1) {
			dir_rollback(d);
			return -1;
		}
	}
	return dir_commit(d, why, whylen);
}

static int
alias_add(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char **pos, why[512];
	int n, rc = CLI_ERROR;

	pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	if ((n = cli_parse(argc, argv, NULL, pos, (size_t)argc)) < 2)
		rc = cli_usage(cli);
	else if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == 0) {
		rc = add_all(cd.dir, pos, n, why, sizeof(why)) == 0 ? CLI_OK :
		    cli_error("%s", why);
		cli_dir_close(&cd);
	}
	free(pos);
	return rc;
}

static int
alias_del(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char *pos[2], why[512];
	int n, rc;

	if ((n = cli_parse(argc, argv, NULL, pos, 2)) < 1)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1)
		return CLI_ERROR;
	rc = dir_alias_del(cd.dir, pos[0], n == 2 ? pos[1] : NULL, why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static void
print_alias(void *arg, const char *source, const char *dest)
{
	printf("%s\t%s\n", source, dest);
}

static int
alias_list(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char *pos[1], why[512];
	int n, rc;

	if ((n = cli_parse(argc, argv, NULL, pos, 1)) < 0)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_READ) == -1)
		return CLI_ERROR;
	rc = dir_alias_list(cd.dir, n == 1 ? pos[0] : NULL, print_alias, NULL,
	    why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static const struct cli_command alias_commands[] = {
	{ "add", alias_add, "alias add SRC DEST..." },
	{ "del", alias_del, "alias del SRC [DEST]" },
	{ "list", alias_list, "alias list [SRC]" },
};

int
cmd_alias(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, alias_commands,
	    sizeof(alias_commands) / sizeof(alias_commands[0]), "alias", argc, argv);
}
