/*
 * tern - the administration tool of the tern mail server.
 *
 *	tern [-c FILE] COMMAND [ARGS...]
 *
 * -c names the config file and comes before the command; without it,
 * $TERN_CONF, then /etc/tern/tern.conf. Errors are one line on stderr
 * starting with "tern: ", with exit status 1, or 2 for a usage error.
 * Commands are quiet on success except for what they were asked to show.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "tern/cli.h"

static const char help_text[] =
    "usage: tern [-c FILE] COMMAND [ARGS...]\n"
    "\n"
    "  init DOMAIN [--dir DIR] [--hostname HOST] [--dev]\n"
    "                          write the config, data directory, certificate\n"
    "                          and postmaster@DOMAIN (password printed once)\n"
    "  domain add NAME [--relay] | del NAME | list\n"
    "  user add ADDR [--password-stdin] [--quota SIZE]\n"
    "  user del ADDR | passwd ADDR [--password-stdin] | list [DOMAIN]\n"
    "  user quota ADDR SIZE | enable ADDR | disable ADDR\n"
    "  alias add SRC DEST... | del SRC [DEST] | list [SRC]\n"
    "                          SRC @DOMAIN is a catch-all\n"
    "  queue list | show ID | flush | delete ID | bounce ID\n"
    "                          the outbound queue: list, one entry, retry all now,\n"
    "                          remove, fail what is pending with a bounce\n"
    "  sendmail [-t] [-i] [-f FROM] [-F NAME] [RCPT...]\n"
    "                          queue the message on stdin (-t: recipients from\n"
    "                          To:, Cc:, Bcc:; -i: a lone '.' does not end it)\n"
    "  check-config            check the config, data directory and certificate\n"
    "  dns-records             print the DNS records to publish\n"
    "\n"
    "FILE defaults to $TERN_CONF, then /etc/tern/tern.conf. Sizes take K, M, G.\n";

static int
cmd_help(struct cli *cli, int argc, char **argv)
{
	fputs(help_text, stdout);
	return CLI_OK;
}

static const struct cli_command commands[] = {
	{ "init", cmd_init, "init DOMAIN [--dir DIR] [--hostname HOST] [--dev]" },
	{ "domain", cmd_domain, "domain add|del|list ..." },
	{ "user", cmd_user, "user add|del|passwd|list|quota|enable|disable ..." },
	{ "alias", cmd_alias, "alias add|del|list ..." },
	{ "queue", cmd_queue, "queue list|show|flush|delete|bounce ..." },
	{ "sendmail", cmd_sendmail, "sendmail [-t] [-i] [-f FROM] [-F NAME] [RCPT...]" },
	{ "check-config", cmd_check_config, "check-config" },
	{ "dns-records", cmd_dns_records, "dns-records" },
	{ "help", cmd_help, "help" },
};

/*
 * Options before the command: the index of the command word, or -1 for a
 * usage error. -h sets *help.
 */
static int
parse_global(struct cli *cli, int argc, char **argv, int *help)
{
	int i = 1;

	*help = 0;
	while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			cli->conf_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0') {
			cli->conf_path = argv[i] + 2;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			*help = 1;
			return i + 1;
		} else
			return -1;
	}
	return i;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* A password printed into a full disk or closed pipe is a lost password. */
static int
finish_output(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error("writing the output: %s", strerror(errno));
		if (rc == CLI_OK)
			rc = CLI_ERROR;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli cli = { .conf_path = NULL, .usage = "[-c FILE] COMMAND [ARGS...]" };
	int i, help, rc;

	log_init("tern", 1, LOG_LEVEL_WARN);
	/* links named sendmail, mailq, newaliases behave like those commands */
	if (argc > 0 && cmd_classic(base_name(argv[0]), argc, argv, &rc))
		return finish_output(rc);
	if ((i = parse_global(&cli, argc, argv, &help)) == -1)
		rc = cli_usage(&cli);
	else if (help)
		rc = cmd_help(&cli, 0, NULL);
	else
		rc = cli_dispatch(&cli, commands, sizeof(commands) / sizeof(commands[0]),
		    "", argc - i, argv + i);
	return finish_output(rc);
}
