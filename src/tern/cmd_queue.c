/*
 * cmd_queue - tern queue list | show ID | flush | delete ID | bounce ID
 *
 * The CLI reads queue files but never rewrites them (only the queue
 * worker does, so the two never race on recipient states): flush drops a
 * ".flush" file the worker watches for, delete removes the entry (the
 * worker forgets it, and a delivery in progress does not write it back),
 * bounce enqueues a DSN for the recipients still pending (through the one
 * enqueue API) and then removes the entry like delete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "queue/queue.h"
#include "queue/queue_file.h"
#include "queue/queue_dsn.h"
#include "tern/cli.h"
#include "tern/owner.h"

static int
queue_dir(const struct cli *cli, char *out, size_t outlen)
{
	struct conf conf;
	char why[1024];

	if (conf_load(&conf, conf_default_path(cli->conf_path), why, sizeof(why)) == -1) {
		cli_error("%s", why);
		return -1;
	}
	snprintf(out, outlen, "%s/%s", conf.data_dir, QUEUE_DIR_NAME);
	conf_free(&conf);
	return 0;
}

/* "45s", "12m", "3h", "2d" */
static void
age_text(time_t secs, char *out, size_t outlen)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(out, outlen, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(out, outlen, "%lldm", (long long)secs / 60);
	else if (secs < 2 * 86400)
		snprintf(out, outlen, "%lldh", (long long)secs / 3600);
	else
		snprintf(out, outlen, "%lldd", (long long)secs / 86400);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entry ids in dir, sorted (ids start with the time: oldest first). */
static size_t
list_ids(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0;

	*out = NULL;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!queue_file_id_ok(de->d_name))
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), by_name);
	*out = ids;
	return n;
}

static void
print_entry(const struct queue_envelope *env, time_t now)
{
	char age[32], rcpts[2048] = "", err[QUEUE_DIAG_MAX * 2];
	size_t len = 0;

	age_text(now - env->created, age, sizeof(age));
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		int w = snprintf(rcpts + len, sizeof(rcpts) - len, "%s%s", len > 0 ? "," : "",
		    env->rcpts[i].address);
		if (w < 0 || (size_t)w >= sizeof(rcpts) - len)
			break;
		len += (size_t)w;
	}
	str_printable(err, sizeof(err), env->last_error, strlen(env->last_error));
	printf("%s\t%s\t%llu\t<%s>\t%s\t%s\n", env->id, age,
	    (unsigned long long)env->msg_size, env->from, rcpts, err[0] != '\0' ? err : "-");
}

static int
queue_list(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], **ids;
	struct queue_envelope env;
	const char *err;
	time_t now = time(NULL);
	size_t n;

	if (cli_parse(argc, argv, NULL, NULL, 0) != 0)
		return cli_usage(cli);
	if (queue_dir(cli, dir, sizeof(dir)) == -1)
		return CLI_ERROR;
	n = list_ids(dir, &ids);
	if (n == 0)
		printf("queue is empty\n");
	for (size_t i = 0; i < n; i++) {
		if (queue_file_load(dir, ids[i], &env, &err) == 0) {
			print_entry(&env, now);
			queue_envelope_free(&env);
		} else if (errno != ENOENT)
			printf("%s\t(damaged: %s)\n", ids[i], err);
		free(ids[i]);
	}
	free(ids);
	return CLI_OK;
}

static void
print_time(const char *label, time_t t)
{
	char buf[64];
	struct tm tm;

	if (t == 0) {
		printf("%s: -\n", label);
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
	printf("%s: %s\n", label, buf);
}

/* Ids are upper-case hex; accept what a person types. */
static void
id_upper(char *id)
{
	for (; *id != '\0'; id++)
		if (*id >= 'a' && *id <= 'f')
			*id = (char)(*id - 'a' + 'A');
}

static int
queue_show(struct cli *cli, int argc, char **argv)
{
	static const char *states[] = { "pending", "delivered", "failed" };
	char dir[PATH_MAX], *pos[1], *msg, safe[QUEUE_DIAG_MAX * 4];
	struct queue_envelope env;
	const char *err;
	size_t len, hlen;

	if (cli_parse(argc, argv, NULL, pos, 1) != 1)
		return cli_usage(cli);
	if (queue_dir(cli, dir, sizeof(dir)) == -1)
		return CLI_ERROR;
	id_upper(pos[0]);
	if (queue_file_load(dir, pos[0], &env, &err) == -1)
		return errno == ENOENT ? cli_error("no queue entry %s", pos[0]) :
		    cli_error("queue entry %s: %s", pos[0], err);
	printf("id: %s\nsender: <%s>\n", env.id, env.from);
	print_time("created", env.created);
	print_time("last attempt", env.last_try);
	print_time("next attempt", env.next_try);
	printf("attempts: %d\nsize: %llu\n", env.attempts, (unsigned long long)env.msg_size);
	if (env.envid[0] != '\0')
		printf("envid: %s\n", env.envid);
	str_printable(safe, sizeof(safe), env.last_error, strlen(env.last_error));
	printf("last error: %s\n", safe[0] != '\0' ? safe : "-");
	for (size_t i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *r = &env.rcpts[i];
		str_printable(safe, sizeof(safe), r->diag, strlen(r->diag));
		printf("recipient: <%s> %s%s%s%s%s\n", r->address, states[r->state % 3],
		    r->status[0] != '\0' ? " " : "", r->status, safe[0] != '\0' ? " " : "",
		    safe);
	}
	if (queue_file_read_message(dir, &env, &msg, &len) == 0) {
		const char *end = strstr(msg, "\r\n\r\n");
		hlen = end != NULL ? (size_t)(end - msg) + 2 : len;
		printf("\n");
		fwrite(msg, 1, hlen, stdout);
		free(msg);
	}
	queue_envelope_free(&env);
	return CLI_OK;
}

static int
queue_flush(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int fd;

	if (cli_parse(argc, argv, NULL, NULL, 0) != 0)
		return cli_usage(cli);
	if (queue_dir(cli, dir, sizeof(dir)) == -1)
		return CLI_ERROR;
	snprintf(path, sizeof(path), "%s/%s", dir, QUEUE_FLUSH_NAME);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return cli_error("%s: %s", path, strerror(errno));
	close(fd);
	return CLI_OK;
}

static int
queue_delete(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], *pos[1];

	if (cli_parse(argc, argv, NULL, pos, 1) != 1)
		return cli_usage(cli);
	if (queue_dir(cli, dir, sizeof(dir)) == -1)
		return CLI_ERROR;
	id_upper(pos[0]);
	if (queue_file_remove(dir, pos[0]) == -1)
		return errno == ENOENT ? cli_error("no queue entry %s", pos[0]) :
		    cli_error("cannot delete %s: %s", pos[0], strerror(errno));
	return CLI_OK;
}

/* Every pending recipient fails now, reported to the sender in one DSN. */
static int
queue_bounce(struct cli *cli, int argc, char **argv)
{
	char dir[PATH_MAX], *pos[1], *msg = NULL, bounce_id[QUEUE_ID_MAX], why[512];
	unsigned char *which;
	struct queue_envelope env;
	struct conf conf;
	const char *err = "";
	size_t len = 0, n = 0;
	int rc = CLI_OK;

	if (cli_parse(argc, argv, NULL, pos, 1) != 1)
		return cli_usage(cli);
	if (conf_load(&conf, conf_default_path(cli->conf_path), why, sizeof(why)) == -1)
		return cli_error("%s", why);
	snprintf(dir, sizeof(dir), "%s/%s", conf.data_dir, QUEUE_DIR_NAME);
	/* the bounce is a new entry: it must belong to the server */
	if (owner_become(conf.user, why, sizeof(why)) == -1) {
		conf_free(&conf);
		return cli_error("%s", why);
	}
	id_upper(pos[0]);
	if (queue_file_load(dir, pos[0], &env, &err) == -1) {
		rc = errno == ENOENT ? cli_error("no queue entry %s", pos[0]) :
		    cli_error("queue entry %s: %s", pos[0], err);
		conf_free(&conf);
		return rc;
	}
	if (queue_file_read_message(dir, &env, &msg, &len) == -1) {
		rc = cli_error("queue entry %s: cannot read the message: %s", pos[0],
		    strerror(errno));
		goto out;
	}
	which = xcalloc(env.nrcpts + 1, 1);
	for (size_t i = 0; i < env.nrcpts; i++) {
		struct queue_rcpt *r = &env.rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		r->state = QUEUE_RCPT_FAILED;
		/* RFC 3463 5.0.0: no better code for "the administrator said so" */
		str_copy(r->status, "5.0.0", sizeof(r->status));
		str_copy(r->diag, "message bounced by the administrator", sizeof(r->diag));
		which[i] = 1;
		n++;
	}
	if (queue_dsn_enqueue(dir, &env, which, conf.hostname, msg, len, time(NULL),
	    bounce_id, &err) == -1)
		rc = cli_error("cannot queue the bounce for %s: %s", env.id, err);
	else if (queue_file_remove(dir, env.id) == -1 && errno != ENOENT)
		rc = cli_error("bounce %s queued, but %s stays: %s", bounce_id, env.id,
		    strerror(errno));
	else if (bounce_id[0] != '\0')
		printf("%s: %zu recipient%s bounced, bounce queued as %s\n", env.id, n,
		    n == 1 ? "" : "s", bounce_id);
	else
		printf("%s: %zu recipient%s bounced, no bounce sent (null sender or "
		    "NOTIFY)\n", env.id, n, n == 1 ? "" : "s");
	free(which);
out:
	free(msg);
	queue_envelope_free(&env);
	conf_free(&conf);
	return rc;
}

static const struct cli_command queue_commands[] = {
	{ "list", queue_list, "queue list" },
	{ "show", queue_show, "queue show ID" },
	{ "flush", queue_flush, "queue flush" },
	{ "delete", queue_delete, "queue delete ID" },
	{ "bounce", queue_bounce, "queue bounce ID" },
};

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, queue_commands,
	    sizeof(queue_commands) / sizeof(queue_commands[0]), "queue", argc, argv);
}
