/*
 * cli - what the commands of the tern admin tool share: the command
 * tables, option parsing, the one-line error convention (exit 1, or 2 for
 * a usage error), and opening the config and the directory.
 */
#ifndef TERN_TERN_CLI_H
#define TERN_TERN_CLI_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "directory/dir.h"

#define CLI_OK		0
#define CLI_ERROR	1
#define CLI_USAGE	2

struct cli {
	const char	*conf_path;	/* -c FILE, else NULL */
	const char	*usage;		/* synopsis of the running command */
};

/* One word of a command table; run gets the arguments after the word. */
struct cli_command {
	const char	*name;
	int		(*run)(struct cli *, int argc, char **argv);
	const char	*usage;		/* "user add ADDR [--quota SIZE]" */
};

/*
 * Find argv[0] in table and run it. With nothing to run, print the
 * group's usage (a usage error); group is "" at the top level.
 */
int	cli_dispatch(struct cli *, const struct cli_command *table, size_t n,
	    const char *group, int argc, char **argv);

/* An option "--name" or "--name VALUE" / "--name=VALUE" of a command. */
struct cli_opt {
	const char	*name;		/* NULL ends the table */
	int		 has_arg;
	int		 seen;		/* out */
	const char	*value;		/* out */
};

/*
 * Sort argv into the options of opts and positional arguments (stored in
 * pos, at most maxpos). "--" ends the options. Returns the number of
 * positional arguments, or -1 for an unknown option, a missing value or
 * too many arguments.
 */
int	cli_parse(int argc, char **argv, struct cli_opt *opts, char **pos, size_t maxpos);

/* Print "tern: <message>" on stderr; returns CLI_ERROR. */
int	cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "tern: usage: tern <usage of the running command>"; returns CLI_USAGE. */
int	cli_usage(const struct cli *);

/* The config and the directory it names, for one command. */
struct cli_dir {
	struct conf	 conf;
	struct dir	*dir;
	char		 path[PATH_MAX];	/* <data_dir>/directory.db */
};

/* Load the config and open its directory; 0, or -1 with the error printed. */
int	cli_dir_open(const struct cli *, struct cli_dir *, enum dir_open_mode mode);
/* Hand the database files to [server] user (when root) and close. */
void	cli_dir_close(struct cli_dir *);

/*
 * The password for a new user or a new password: one line from stdin
 * when from_stdin, else a generated one (*generated set). 0, or -1 with
 * the error printed. plain has CLI_PASSWORD_MAX + 1 bytes; wipe it after use.
 */
#define CLI_PASSWORD_MAX	511
int	cli_password(int from_stdin, char *plain, int *generated);
/* Hash plain into hash (PASSWORD_HASH_MAX bytes); 0, or -1 printed. */
int	cli_password_hash(const char *plain, char *hash, size_t hashlen);

/* "unlimited", "50M", "1536K" or plain bytes, whichever is exact. */
void	cli_format_size(uint64_t bytes, char *out, size_t outlen);

/* Commands (one file each). */
int	cmd_init(struct cli *, int argc, char **argv);
int	cmd_domain(struct cli *, int argc, char **argv);
int	cmd_user(struct cli *, int argc, char **argv);
int	cmd_alias(struct cli *, int argc, char **argv);
int	cmd_check_config(struct cli *, int argc, char **argv);
int	cmd_dns_records(struct cli *, int argc, char **argv);
int	cmd_queue(struct cli *, int argc, char **argv);
int	cmd_sendmail(struct cli *, int argc, char **argv);
/*
 * When name (argv[0]'s last component) is sendmail, mailq or newaliases,
 * run that classic command with argv and return 1 (*rc its status); else 0.
 */
int	cmd_classic(const char *name, int argc, char **argv, int *rc);

#endif
