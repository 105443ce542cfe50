/*
 * cli - command tables, options, errors, and the directory of the config.
 *
 * Options are parsed by hand rather than with getopt_long: subcommands take
 * only long options, arguments may come before or after them ("user add
 * ADDR --quota 1G"), and the result must not depend on POSIXLY_CORRECT.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "common/str.h"
#include "tern/cli.h"
#include "tern/owner.h"

int
cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERROR;
}

int
cli_usage(const struct cli *cli)
{
	fprintf(stderr, "tern: usage: tern %s\n", cli->usage);
	return CLI_USAGE;
}

/* "user add|del|list" from the words of a group's table. */
static int
group_usage(const struct cli_command *table, size_t n, const char *group)
{
	fprintf(stderr, "tern: usage: tern %s%s", group, *group != '\0' ? " " : "");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i > 0 ? "|" : "", table[i].name);
	fputs(" ...\n", stderr);
	return CLI_USAGE;
}

int
cli_dispatch(struct cli *cli, const struct cli_command *table, size_t n,
    const char *group, int argc, char **argv)
{
	char shown[64];

	if (argc < 1)
		return group_usage(table, n, group);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[0], table[i].name) == 0) {
			cli->usage = table[i].usage;
			return table[i].run(cli, argc - 1, argv + 1);
		}
	}
	str_printable(shown, sizeof(shown), argv[0], strlen(argv[0]));
	fprintf(stderr, "tern: unknown command '%s%s%s' (see tern help)\n", group,
	    *group != '\0' ? " " : "", shown);
	return CLI_USAGE;
}

static struct cli_opt *
find_opt(struct cli_opt *opts, const char *name, size_t len)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

/* One "--name[=value]" at argv[*i]; 0, or -1 for a usage error. */
static int
parse_long(int argc, char **argv, int *i, struct cli_opt *opts)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	struct cli_opt *o;

	o = find_opt(opts, name, eq != NULL ? (size_t)(eq - name) : strlen(name));
	if (o == NULL || (!o->has_arg && eq != NULL))
		return -1;
	o->seen = 1;
	if (!o->has_arg)
		return 0;
	if (eq != NULL)
		o->value = eq + 1;
	else if (*i + 1 < argc)
		o->value = argv[++*i];
	else
		return -1;
	return 0;
}

int
cli_parse(int argc, char **argv, struct cli_opt *opts, char **pos, size_t maxpos)
{
	size_t npos = 0;
	int options_done = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!options_done && strcmp(a, "--") == 0) {
			options_done = 1;
			continue;
		}
		if (!options_done && a[0] == '-' && a[1] != '\0') {
			if (a[1] != '-' || parse_long(argc, argv, &i, opts) == -1)
				return -1;
			continue;
		}
		if (npos == maxpos)
			return -1;
		pos[npos++] = argv[i];
	}
	return (int)npos;
}

int
cli_dir_open(const struct cli *cli, struct cli_dir *cd, enum dir_open_mode mode)
{
	char why[512];

	memset(cd, 0, sizeof(*cd));
	if (conf_load(&cd->conf, conf_default_path(cli->conf_path), why, sizeof(why)) == -1) {
		conf_free(&cd->conf);
		cli_error("%s", why);
		return -1;
	}
	if (snprintf(cd->path, sizeof(cd->path), "%s/directory.db", cd->conf.data_dir) >=
	    (int)sizeof(cd->path)) {
		conf_free(&cd->conf);
		cli_error("data_dir too long");
		return -1;
	}
	cd->dir = dir_open(cd->path, mode, why, sizeof(why));
	if (cd->dir == NULL) {
		conf_free(&cd->conf);
		cli_error("%s", why);
		return -1;
	}
	/* Files SQLite just created as root must stay usable by the server. */
	owner_db_files(cd->path, cd->conf.user);
	return 0;
}

void
cli_dir_close(struct cli_dir *cd)
{
	if (cd->dir != NULL)
		owner_db_files(cd->path, cd->conf.user);
	dir_close(&cd->dir);
	conf_free(&cd->conf);
}

/* One line from stdin, without the line end, read with read(2) so that no
 * stdio buffer keeps a copy of the password. */
static int
read_password_line(char *plain)
{
	size_t len = 0;
	ssize_t n;
	char c;

	for (;;) {
		n = read(STDIN_FILENO, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cli_error("reading the password: %s", strerror(errno));
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (len == CLI_PASSWORD_MAX) {
			explicit_bzero(plain, len);
			cli_error("password longer than %d bytes", CLI_PASSWORD_MAX);
			return -1;
		}
		plain[len++] = c;
	}
	if (len > 0 && plain[len - 1] == '\r')
		len--;
	plain[len] = '\0';
	if (len == 0) {
		cli_error("empty password on stdin");
		return -1;
	}
	return 0;
}

int
cli_password(int from_stdin, char *plain, int *generated)
{
	*generated = !from_stdin;
	if (from_stdin)
		return read_password_line(plain);
	password_generate(plain, CLI_PASSWORD_MAX + 1);
	return 0;
}

int
cli_password_hash(const char *plain, char *hash, size_t hashlen)
{
	if (password_hash(plain, hash, hashlen) == -1) {
		cli_error("cannot hash the password");
		return -1;
	}
	return 0;
}

void
cli_format_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char units[] = "GMK";

	if (bytes == 0) {
		snprintf(out, outlen, "unlimited");
		return;
	}
	for (int i = 0; i < 3; i++) {
		uint64_t scale = 1ULL << (10 * (3 - i));
		if (bytes % scale == 0) {
			snprintf(out, outlen, "%llu%c",
			    (unsigned long long)(bytes / scale), units[i]);
			return;
		}
	}
	snprintf(out, outlen, "%llu", (unsigned long long)bytes);
}
