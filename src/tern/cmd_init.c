/*
 * cmd_init - tern init DOMAIN [--dir DIR] [--hostname HOST] [--dev]
 *
 * Sets up a working server in one step: config, data directory, a
 * self-signed certificate, the directory with DOMAIN and its postmaster.
 *
 * Where things go: with --dir, DIR/tern.conf and DIR/data. Without it, the
 * config goes to -c FILE, $TERN_CONF or /etc/tern/tern.conf, and the data
 * next to it in data/, except for the system config /etc/tern/tern.conf,
 * whose data lives in /var/lib/tern as usual.
 *
 * Run as root, it creates the system user tern if missing and gives it the
 * data directory (with --dev too: workers never run as root).
 *
 * The config file is written last and never overwritten, so its presence
 * means a finished init. A data directory left from an earlier run is
 * reused: an existing certificate and postmaster are kept.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/scram.h"
#include "common/fs.h"
#include "common/str.h"
#include "tern/certs.h"
#include "tern/cli.h"
#include "tern/init_conf.h"
#include "tern/owner.h"
#include "tern/records.h"

#define INIT_SYSTEM_CONF	"/etc/tern/tern.conf"
#define INIT_SYSTEM_DATA	"/var/lib/tern"
#define INIT_SERVER_USER	"tern"

static const char *const init_subdirs[] = { "mail", "queue", "spool", "tls", "state" };

struct init {
	char	domain[DIR_DOMAIN_MAX + 1];
	char	hostname[DIR_DOMAIN_MAX + 1];
	char	conf_path[PATH_MAX];
	char	data_dir[PATH_MAX];
	char	cert[PATH_MAX];
	char	key[PATH_MAX];
	char	user[256];
	int	dev;
	int	system_user;		/* root without --dev: user tern owns the data */
	int	cert_created;
	int	postmaster_created;
	char	password[PASSWORD_GENERATED_LEN + 1];
};

static int
init_names(struct init *in, const char *domain, const char *hostname)
{
	char postmaster[DIR_ADDRESS_MAX + 1], canon[DIR_ADDRESS_MAX + 1], why[256];

	if (str_copy(in->domain, domain, sizeof(in->domain)) == -1)
		return cli_error("domain name too long");
	str_lower_ascii(in->domain);
	if (!dir_domain_name_ok(in->domain))
		return cli_error("invalid domain name '%s'", in->domain);
	snprintf(postmaster, sizeof(postmaster), "postmaster@%s", in->domain);
	if (dir_canonical(postmaster, canon, why, sizeof(why)) == -1)
		return cli_error("%s", why);

	if (hostname == NULL)
		snprintf(in->hostname, sizeof(in->hostname), "mail.%s", in->domain);
	else if (str_copy(in->hostname, hostname, sizeof(in->hostname)) == -1)
		return cli_error("hostname too long");
	str_lower_ascii(in->hostname);
	if (!dir_domain_name_ok(in->hostname))
		return cli_error("invalid hostname '%s'", in->hostname);
	/* It goes into the certificate, where names are ASCII. */
	for (const unsigned char *p = (const unsigned char *)in->hostname; *p; p++)
		if (*p >= 0x80)
			return cli_error("hostname must be ASCII (the xn-- form)");
	return CLI_OK;
}

/* mkdir -p dir, then its absolute path into abs (PATH_MAX bytes). */
static int
absolute_dir(const char *dir, char *abs)
{
	if (fs_mkdir_p(dir, 0755) == -1)
		return cli_error("%s: %s", dir, strerror(errno));
	if (realpath(dir, abs) == NULL)
		return cli_error("%s: %s", dir, strerror(errno));
	return CLI_OK;
}

static int
join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return cli_error("path too long: %s/%s", dir, name);
	return CLI_OK;
}

/* Directory and file name of the config path (-c, $TERN_CONF or default). */
static int
split_conf_path(const struct cli *cli, char *parent, const char **base)
{
	const char *conf = conf_default_path(cli->conf_path);
	const char *slash = strrchr(conf, '/');

	if (slash == NULL)
		str_copy(parent, ".", PATH_MAX);
	else if (slash == conf)
		str_copy(parent, "/", PATH_MAX);
	else
		snprintf(parent, PATH_MAX, "%.*s", (int)(slash - conf), conf);
	*base = slash == NULL ? conf : slash + 1;
	if (**base == '\0' || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
		return cli_error("%s: not a file name", conf);
	return CLI_OK;
}

static int
init_paths(struct init *in, const struct cli *cli, const char *dir)
{
	char abs[PATH_MAX], parent[PATH_MAX];
	const char *base;

	if (dir != NULL) {
		if (absolute_dir(dir, abs) != CLI_OK ||
		    join(in->conf_path, abs, "tern.conf") != CLI_OK ||
		    join(in->data_dir, abs, "data") != CLI_OK)
			return CLI_ERROR;
	} else {
		if (split_conf_path(cli, parent, &base) != CLI_OK ||
		    absolute_dir(parent, abs) != CLI_OK ||
		    join(in->conf_path, abs, base) != CLI_OK)
			return CLI_ERROR;
		if (strcmp(in->conf_path, INIT_SYSTEM_CONF) == 0)
			str_copy(in->data_dir, INIT_SYSTEM_DATA, sizeof(in->data_dir));
		else if (join(in->data_dir, abs, "data") != CLI_OK)
			return CLI_ERROR;
	}
	if (join(in->cert, in->data_dir, "tls/cert.pem") != CLI_OK ||
	    join(in->key, in->data_dir, "tls/key.pem") != CLI_OK)
		return CLI_ERROR;
	return CLI_OK;
}

/*
 * Who the workers run as. Root runs them as the system user tern (ternd
 * refuses to run workers as root), created here when missing; with --dev
 * an ordinary user writes its own name, since ternd started by that user
 * stays that user anyway.
 */
static int
init_user(struct init *in)
{
	struct passwd *pw;
	char why[256];

	if (geteuid() == 0 || !in->dev) {
		str_copy(in->user, INIT_SERVER_USER, sizeof(in->user));
		in->system_user = geteuid() == 0;
		if (in->system_user &&
		    owner_ensure_system_user(in->user, why, sizeof(why)) == -1)
			return cli_error("%s", why);
		return CLI_OK;
	}
	if ((pw = getpwuid(geteuid())) == NULL)
		return cli_error("no user name for uid %u", (unsigned)geteuid());
	if (str_copy(in->user, pw->pw_name, sizeof(in->user)) == -1)
		return cli_error("user name too long");
	return CLI_OK;
}

static int
make_data_dirs(struct init *in)
{
	char path[PATH_MAX];

	if (fs_mkdir_p(in->data_dir, 0750) == -1)
		return cli_error("%s: %s", in->data_dir, strerror(errno));
	for (size_t i = 0; i < sizeof(init_subdirs) / sizeof(init_subdirs[0]); i++) {
		if (join(path, in->data_dir, init_subdirs[i]) != CLI_OK)
			return CLI_ERROR;
		if (fs_mkdir_p(path, 0750) == -1)
			return cli_error("%s: %s", path, strerror(errno));
	}
	return CLI_OK;
}

static int
make_cert(struct init *in)
{
	char why[512];

	if (access(in->cert, F_OK) == 0 && access(in->key, F_OK) == 0)
		return CLI_OK;
	if (certs_create_selfsigned(in->hostname, in->cert, in->key, why, sizeof(why)) == -1)
		return cli_error("%s", why);
	in->cert_created = 1;
	return CLI_OK;
}

static int
add_postmaster(struct init *in, struct dir *d, char *why, size_t whylen)
{
	char address[DIR_ADDRESS_MAX + 1], hash[PASSWORD_HASH_MAX];
	char scram[SCRAM_RECORD_MAX];
	int rc;

	snprintf(address, sizeof(address), "postmaster@%s", in->domain);
	if ((rc = dir_user_get(d, address, NULL, why, whylen)) != 0)
		return rc == 1 ? 0 : -1;
	password_generate(in->password, sizeof(in->password));
	if (password_hash(in->password, hash, sizeof(hash)) == -1 ||
	    scram_make_record(in->password, scram, sizeof(scram)) == -1) {
		snprintf(why, whylen, "cannot hash the password");
		return -1;
	}
	/* The user and its SCRAM keys land together. */
	rc = dir_begin(d, why, whylen);
	if (rc == 0)
		rc = dir_user_add(d, address, hash, 0, why, whylen);
	if (rc == 0)
		rc = dir_user_set_scram(d, address, scram, why, whylen);
	if (rc == 0)
		rc = dir_commit(d, why, whylen);
	if (rc == -1)
		dir_rollback(d);
	explicit_bzero(scram, sizeof(scram));
	if (rc == -1)
		return -1;
	in->postmaster_created = 1;
	return 0;
}

static int
make_directory(struct init *in)
{
	char path[PATH_MAX], why[512];
	struct dir *d;
	int rc = 0;

	if (join(path, in->data_dir, "directory.db") != CLI_OK)
		return CLI_ERROR;
	if ((d = dir_open(path, DIR_OPEN_CREATE, why, sizeof(why))) == NULL)
		return cli_error("%s", why);
	if (dir_domain_kind(d, in->domain) == DIR_DOMAIN_NONE)
		rc = dir_domain_add(d, in->domain, DIR_DOMAIN_LOCAL, why, sizeof(why));
	if (rc == 0)
		rc = add_postmaster(in, d, why, sizeof(why));
	dir_close(&d);
	return rc == 0 ? CLI_OK : cli_error("%s", why);
}

static int
write_conf(struct init *in)
{
	struct init_conf ic = {
		.domain = in->domain, .hostname = in->hostname,
		.data_dir = in->data_dir, .user = in->user, .dev = in->dev,
	};
	char why[512];

	if (in->system_user &&
	    owner_chown_tree(in->data_dir, in->user, why, sizeof(why)) == -1)
		return cli_error("%s", why);
	if (init_conf_write(in->conf_path, &ic, why, sizeof(why)) == -1)
		return cli_error("%s", why);
	return CLI_OK;
}

static void
print_summary(const struct init *in)
{
	printf("tern is set up for %s.\n\n", in->domain);
	printf("  config       %s\n", in->conf_path);
	printf("  data         %s\n", in->data_dir);
	printf("  certificate  %s (%s)\n", in->cert, in->cert_created ?
	    "self-signed; replace it with one from a CA" : "kept");
	if (in->postmaster_created) {
		printf("  postmaster   postmaster@%s password: %s\n", in->domain, in->password);
		printf("               (shown only now; change it with: tern -c %s "
		    "user passwd postmaster@%s)\n", in->conf_path, in->domain);
	} else
		printf("  postmaster   postmaster@%s (kept, password unchanged)\n", in->domain);
	printf("\nDNS records to publish:\n\n");
	records_print_domain(stdout, in->domain, DIR_DOMAIN_LOCAL, in->hostname);
	records_print_host(stdout, in->hostname);
	printf("\nStart the server with: ternd -c %s\n", in->conf_path);
}

static int
run_init(struct init *in, const struct cli *cli, struct cli_opt *opts, const char *domain)
{
	struct stat st;

	in->dev = opts[2].seen;
	if (init_names(in, domain, opts[1].value) != CLI_OK ||
	    init_paths(in, cli, opts[0].value) != CLI_OK)
		return CLI_ERROR;
	if (lstat(in->conf_path, &st) == 0)
		return cli_error("%s already exists", in->conf_path);
	if (init_user(in) != CLI_OK || make_data_dirs(in) != CLI_OK ||
	    make_cert(in) != CLI_OK || make_directory(in) != CLI_OK ||
	    write_conf(in) != CLI_OK)
		return CLI_ERROR;
	print_summary(in);
	return CLI_OK;
}

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ .name = "dir", .has_arg = 1 },
		{ .name = "hostname", .has_arg = 1 },
		{ .name = "dev" },
		{ .name = NULL },
	};
	struct init in;
	char *pos[1];
	int rc;

	if (cli_parse(argc, argv, opts, pos, 1) != 1)
		return cli_usage(cli);
	memset(&in, 0, sizeof(in));
	rc = run_init(&in, cli, opts, pos[0]);
	explicit_bzero(in.password, sizeof(in.password));
	return rc;
}
