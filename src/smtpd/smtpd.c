/*
 * smtpd - the SMTP worker: its state (directory, TLS, throttle, spool) on
 * the shared worker loop (net/worker.c).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/throttle.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "directory/dir.h"
#include "net/conn.h"
#include "net/pool.h"
#include "net/worker.h"
#include "net/tls.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_private.h"

static void
on_accept(void *ctx, int fd, struct sockaddr *sa, int salen, int kind)
{
	smtpd_session_start(ctx, fd, sa, salen, (enum conf_listener)kind);
}

/* SIGTERM: idle sessions get 421 now, transactions in flight finish first. */
static void
on_stop(void *ctx)
{
	struct smtpd_server *srv = ctx;
	struct smtpd_session *s, *next;

	/* glibc's sys/queue.h has no TAILQ_FOREACH_SAFE. */
	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		smtpd_session_shutdown(s);
	}
}

void
smtpd_server_session_gone(struct smtpd_server *srv, struct smtpd_session *s)
{
	TAILQ_REMOVE(&srv->sessions, s, entry);
	conn_counts_remove(srv->per_ip, s->peer_ip);
	worker_session_end(srv->worker);
}

/* Spool files of a worker that died (kill -9) were never acknowledged: drop them. */
static void
clean_spool(const char *spool_dir)
{
	DIR *d = opendir(spool_dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end != '-')
			continue;
		if (pid == (long)getpid() || (kill((pid_t)pid, 0) == -1 && errno == ESRCH))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int
smtpd_main(const struct conf *conf, const struct listener_fd *listeners,
    size_t nlisteners)
{
	static const struct worker_ops ops = { on_accept, on_stop };
	struct smtpd_server srv;
	char dbpath[PATH_MAX], why[512];

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	TAILQ_INIT(&srv.sessions);

	snprintf(srv.spool_dir, sizeof(srv.spool_dir), "%s/spool", conf->data_dir);
	if (fs_mkdir_p(srv.spool_dir, 0700) == -1)
		fatal("cannot create %s", srv.spool_dir);
	clean_spool(srv.spool_dir);
	snprintf(srv.queue_dir, sizeof(srv.queue_dir), "%s/queue", conf->data_dir);
	if (fs_mkdir_p(srv.queue_dir, 0700) == -1)
		fatal("cannot create %s", srv.queue_dir);
	snprintf(dbpath, sizeof(dbpath), "%s/directory.db", conf->data_dir);
	srv.dir = dir_open(dbpath, DIR_OPEN_READ, why, sizeof(why));
	if (srv.dir == NULL)
		fatalx("%s", why);

	if (conf->tls_cert != NULL || conf->tls_key != NULL) {
		/* Configured but unusable is an error, not a silent plaintext server. */
		srv.tls = tls_server_new(conf->tls_cert, conf->tls_key, why, sizeof(why));
		if (srv.tls == NULL)
			fatalx("[tls] %s", why);
	}
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].kind == CONF_LISTEN_SUBMISSIONS && srv.tls == NULL)
			fatalx("[listen] submissions needs [tls] cert and key");

	struct throttle_params tp;
	throttle_params_from_conf(&tp, conf);
	srv.throttle = throttle_new(&tp);
	srv.per_ip = conn_counts_new();
	srv.worker = worker_new(listeners, nlisteners, conf->io_threads, &ops, &srv);
	srv.base = worker_base(srv.worker);
	srv.pool = worker_pool(srv.worker);
	log_info("event=started listeners=%zu io_threads=%d", nlisteners, conf->io_threads);

	worker_run(srv.worker);

	/* Sessions cut off by the deadline: their messages were never acknowledged. */
	worker_free(&srv.worker);
	conn_counts_free(&srv.per_ip);
	dir_close(&srv.dir);
	tls_server_free(&srv.tls);
	throttle_free(&srv.throttle);
	clean_spool(srv.spool_dir);
	return 0;
}
