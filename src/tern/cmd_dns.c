/*
 * cmd_dns - tern dns-records: what to publish in DNS for every domain of
 * the directory, with [server] hostname as the MX host.
 */
#include <stdio.h>

#include "tern/cli.h"
#include "tern/records.h"

static void
print_domain(void *arg, const char *domain, enum dir_domain_kind kind)
{
	const char *hostname = arg;

	records_print_domain(stdout, domain, kind, hostname);
	putchar('\n');
}

int
cmd_dns_records(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char why[512];
	int rc;

	if (cli_parse(argc, argv, NULL, NULL, 0) != 0)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_READ) == -1)
		return CLI_ERROR;
	rc = dir_domain_list(cd.dir, print_domain, cd.conf.hostname, why, sizeof(why));
	if (rc == 0)
		records_print_host(stdout, cd.conf.hostname);
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}
