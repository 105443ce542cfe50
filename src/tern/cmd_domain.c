/*
 * cmd_domain - tern domain add NAME [--relay] | del NAME | list
 *
 * A local domain has mailboxes here; a relay domain is one this server is
 * a backup MX for: its mail is accepted and queued for the better MX hosts.
 */
#include <stdio.h>

#include "tern/cli.h"

static int
domain_add(struct cli *cli, int argc, char **argv)
{
	struct cli_opt opts[] = { { .name = "relay" }, { .name = NULL } };
	struct cli_dir cd;
	char *pos[1], why[512];
	int rc;

	if (cli_parse(argc, argv, opts, pos, 1) != 1)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1)
		return CLI_ERROR;
	rc = dir_domain_add(cd.dir, pos[0], opts[0].seen ? DIR_DOMAIN_RELAY :
	    DIR_DOMAIN_LOCAL, why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static int
domain_del(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char *pos[1], why[512];
	int rc;

	if (cli_parse(argc, argv, NULL, pos, 1) != 1)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1)
		return CLI_ERROR;
	rc = dir_domain_del(cd.dir, pos[0], why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static void
print_domain(void *arg, const char *domain, enum dir_domain_kind kind)
{
	printf("%s\t%s\n", domain, dir_domain_kind_name(kind));
}

static int
domain_list(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char why[512];
	int rc;

	if (cli_parse(argc, argv, NULL, NULL, 0) != 0)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_READ) == -1)
		return CLI_ERROR;
	rc = dir_domain_list(cd.dir, print_domain, NULL, why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static const struct cli_command domain_commands[] = {
	{ "add", domain_add, "domain add NAME [--relay]" },
	{ "del", domain_del, "domain del NAME" },
	{ "list", domain_list, "domain list" },
};

int
cmd_domain(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, domain_commands,
	    sizeof(domain_commands) / sizeof(domain_commands[0]), "domain", argc, argv);
}
