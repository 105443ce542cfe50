/*
 * cmd_user - tern user add ADDR [--password-stdin] [--quota SIZE]
 *            | del ADDR | passwd ADDR [--password-stdin] | list [DOMAIN]
 *            | quota ADDR SIZE | enable ADDR | disable ADDR
 *
 * Without --password-stdin a random password is generated and printed,
 * alone on its line, so scripts can capture it. Plaintext is wiped as soon
 * as it is hashed; only the hash and the SCRAM-SHA-256 keys derived from
 * it (auth/scram.h) reach the directory, together in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "auth/password.h"
#include "auth/scram.h"
#include "common/str.h"
#include "tern/cli.h"

static int
parse_quota(const char *text, uint64_t *quota)
{
	if (str_parse_size(text, quota) == -1)
		return cli_error("invalid size '%s' (a number, optionally with K, M or G)",
		    text);
	return CLI_OK;
}

/* Check the address before a password is read for it. */
static int
check_address(const char *address)
{
	char canon[DIR_ADDRESS_MAX + 1], why[256];

	if (dir_canonical(address, canon, why, sizeof(why)) == -1)
		return cli_error("%s", why);
	return CLI_OK;
}

/*
 * Hash a password from stdin or a generated one into hash, and derive its
 * SCRAM record (SCRAM_RECORD_MAX bytes) into scram.
 */
static int
new_password(int from_stdin, char *hash, char *scram, char *shown)
{
	char plain[CLI_PASSWORD_MAX + 1];
	int generated, rc;

	shown[0] = '\0';
	if (cli_password(from_stdin, plain, &generated) == -1)
		return CLI_ERROR;
	rc = cli_password_hash(plain, hash, PASSWORD_HASH_MAX) == 0 ? CLI_OK : CLI_ERROR;
	if (rc == CLI_OK && scram_make_record(plain, scram, SCRAM_RECORD_MAX) == -1)
		rc = cli_error("cannot derive the SCRAM keys");
	if (rc == CLI_OK && generated)
		str_copy(shown, plain, PASSWORD_GENERATED_LEN + 1);
	explicit_bzero(plain, sizeof(plain));
	return rc;
}

/* Add the user (add) or set its password, with its SCRAM keys: all or nothing. */
static int
store_password(struct dir *d, const char *address, const char *hash,
    const char *scram, int add, uint64_t quota, char *why, size_t whylen)
{
	int rc;

	if (dir_begin(d, why, whylen) == -1)
		return -1;
	if (add)
		rc = dir_user_add(d, address, hash, quota, why, whylen);
	else
		rc = dir_user_set_password(d, address, hash, why, whylen);
	if (rc == 0)
		rc = dir_user_set_scram(d, address, scram, why, whylen);
	if (rc == 0)
		rc = dir_commit(d, why, whylen);
	if (rc == -1)
		dir_rollback(d);
	return rc;
}

static int
finish(int rc, const char *why, char *shown)
{
	if (rc == 0 && shown[0] != '\0')
		printf("%s\n", shown);
	explicit_bzero(shown, PASSWORD_GENERATED_LEN + 1);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static int
user_add(struct cli *cli, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ .name = "password-stdin" }, { .name = "quota", .has_arg = 1 },
		{ .name = NULL },
	};
	char hash[PASSWORD_HASH_MAX], shown[PASSWORD_GENERATED_LEN + 1], why[512];
	char scram[SCRAM_RECORD_MAX];
	struct cli_dir cd;
	uint64_t quota = 0;
	char *pos[1];
	int rc;

	if (cli_parse(argc, argv, opts, pos, 1) != 1)
		return cli_usage(cli);
	if ((opts[1].seen && parse_quota(opts[1].value, &quota) != CLI_OK) ||
	    check_address(pos[0]) != CLI_OK ||
	    new_password(opts[0].seen, hash, scram, shown) != CLI_OK)
		return CLI_ERROR;
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1) {
		explicit_bzero(scram, sizeof(scram));
		return CLI_ERROR;
	}
	rc = store_password(cd.dir, pos[0], hash, scram, 1, quota, why, sizeof(why));
	cli_dir_close(&cd);
	explicit_bzero(scram, sizeof(scram));
	return finish(rc, why, shown);
}

static int
user_passwd(struct cli *cli, int argc, char **argv)
{
	struct cli_opt opts[] = { { .name = "password-stdin" }, { .name = NULL } };
	char hash[PASSWORD_HASH_MAX], shown[PASSWORD_GENERATED_LEN + 1], why[512];
	char scram[SCRAM_RECORD_MAX];
	struct cli_dir cd;
	char *pos[1];
	int rc;

	if (cli_parse(argc, argv, opts, pos, 1) != 1)
		return cli_usage(cli);
	if (check_address(pos[0]) != CLI_OK ||
	    new_password(opts[0].seen, hash, scram, shown) != CLI_OK)
		return CLI_ERROR;
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1) {
		explicit_bzero(scram, sizeof(scram));
		return CLI_ERROR;
	}
	rc = store_password(cd.dir, pos[0], hash, scram, 0, 0, why, sizeof(why));
	cli_dir_close(&cd);
	explicit_bzero(scram, sizeof(scram));
	return finish(rc, why, shown);
}

/* The commands that change one user with at most one more argument. */
enum user_change { CHANGE_DEL, CHANGE_QUOTA, CHANGE_ENABLE, CHANGE_DISABLE };

static int
user_change(struct cli *cli, int argc, char **argv, enum user_change what)
{
	size_t want = what == CHANGE_QUOTA ? 2 : 1;
	struct cli_dir cd;
	uint64_t quota = 0;
	char *pos[2], why[512];
	int rc;

	if (cli_parse(argc, argv, NULL, pos, want) != (int)want)
		return cli_usage(cli);
	if (what == CHANGE_QUOTA && parse_quota(pos[1], &quota) != CLI_OK)
		return CLI_ERROR;
	if (cli_dir_open(cli, &cd, DIR_OPEN_WRITE) == -1)
		return CLI_ERROR;
	if (what == CHANGE_DEL)
		rc = dir_user_del(cd.dir, pos[0], why, sizeof(why));
	else if (what == CHANGE_QUOTA)
		rc = dir_user_set_quota(cd.dir, pos[0], quota, why, sizeof(why));
	else
		rc = dir_user_set_enabled(cd.dir, pos[0], what == CHANGE_ENABLE,
		    why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static int
user_del(struct cli *cli, int argc, char **argv)
{
	return user_change(cli, argc, argv, CHANGE_DEL);
}

static int
user_quota(struct cli *cli, int argc, char **argv)
{
	return user_change(cli, argc, argv, CHANGE_QUOTA);
}

static int
user_enable(struct cli *cli, int argc, char **argv)
{
	return user_change(cli, argc, argv, CHANGE_ENABLE);
}

static int
user_disable(struct cli *cli, int argc, char **argv)
{
	return user_change(cli, argc, argv, CHANGE_DISABLE);
}

static void
print_user(void *arg, const struct dir_user *u)
{
	char quota[32];

	cli_format_size(u->quota, quota, sizeof(quota));
	printf("%s\t%s\t%s\n", u->address, quota, u->enabled ? "enabled" : "disabled");
}

static int
user_list(struct cli *cli, int argc, char **argv)
{
	struct cli_dir cd;
	char *pos[1], why[512];
	int n, rc;

	if ((n = cli_parse(argc, argv, NULL, pos, 1)) < 0)
		return cli_usage(cli);
	if (cli_dir_open(cli, &cd, DIR_OPEN_READ) == -1)
		return CLI_ERROR;
	if (n == 1 && dir_domain_kind(cd.dir, pos[0]) == DIR_DOMAIN_NONE) {
		snprintf(why, sizeof(why), "unknown domain %s", pos[0]);
		rc = -1;
	} else
		rc = dir_user_list(cd.dir, n == 1 ? pos[0] : NULL, print_user, NULL,
		    why, sizeof(why));
	cli_dir_close(&cd);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static const struct cli_command user_commands[] = {
	{ "add", user_add, "user add ADDR [--password-stdin] [--quota SIZE]" },
	{ "del", user_del, "user del ADDR" },
	{ "passwd", user_passwd, "user passwd ADDR [--password-stdin]" },
	{ "list", user_list, "user list [DOMAIN]" },
	{ "quota", user_quota, "user quota ADDR SIZE" },
	{ "enable", user_enable, "user enable ADDR" },
	{ "disable", user_disable, "user disable ADDR" },
};

int
cmd_user(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, user_commands,
	    sizeof(user_commands) / sizeof(user_commands[0]), "user", argc, argv);
}
