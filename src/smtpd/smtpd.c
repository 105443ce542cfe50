/*
 * smtpd - the SMTP worker: event loop, listeners, graceful stop.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "auth/throttle.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "directory/dir.h"
#include "net/pool.h"
#include "net/tls.h"
#include "smtpd/smtpd.h"
#include "smtpd/smtpd_private.h"

#define SMTPD_STOP_GRACE	30	/* seconds for transactions in flight at SIGTERM */

struct accept_ctx {
	struct smtpd_server	*srv;
	enum conf_listener	 kind;
};

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct accept_ctx *ctx = arg;

	smtpd_session_start(ctx->srv, fd, sa, salen, ctx->kind);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: log and keep serving the sessions we have. */
	log_warn("event=accept-error: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

static void
maybe_exit(struct smtpd_server *srv)
{
	if (srv->stopping && srv->nsessions == 0 && pool_pending(srv->pool) == 0)
		event_base_loopbreak(srv->base);
}

void
smtpd_server_session_gone(struct smtpd_server *srv, struct smtpd_session *s)
{
	TAILQ_REMOVE(&srv->sessions, s, entry);
	srv->nsessions--;
	maybe_exit(srv);
}

static void
on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_server *srv = arg;

	log_warn("event=stop-deadline sessions=%d: closing what is left", srv->nsessions);
	event_base_loopbreak(srv->base);
}

static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct smtpd_server *srv = arg;
	struct smtpd_session *s, *next;
	struct timeval grace = { SMTPD_STOP_GRACE, 0 };

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_info("event=stopping sessions=%d", srv->nsessions);
	for (size_t i = 0; i < srv->nlisteners; i++)
		evconnlistener_disable(srv->listeners[i]);
	/* glibc's sys/queue.h has no TAILQ_FOREACH_SAFE. */
	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		smtpd_session_shutdown(s);
	}
	srv->stop_deadline = evtimer_new(srv->base, on_stop_deadline, srv);
	evtimer_add(srv->stop_deadline, &grace);
	maybe_exit(srv);
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
	struct smtpd_server srv;
	struct accept_ctx *ctxs;
	struct event *sigterm, *sigint;
	char dbpath[PATH_MAX], why[512];

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	TAILQ_INIT(&srv.sessions);
	signal(SIGPIPE, SIG_IGN);

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

	evthread_use_pthreads();
	srv.base = event_base_new();
	if (srv.base == NULL)
		fatalx("event_base_new failed");
	srv.pool = pool_new(srv.base, conf->io_threads);
	struct throttle_params tp;
	throttle_params_from_conf(&tp, conf);
	srv.throttle = throttle_new(&tp);

	srv.listeners = xcalloc(nlisteners, sizeof(*srv.listeners));
	ctxs = xcalloc(nlisteners, sizeof(*ctxs));
	for (size_t i = 0; i < nlisteners; i++) {
		ctxs[i] = (struct accept_ctx){ .srv = &srv,
		    .kind = (enum conf_listener)listeners[i].kind };
		srv.listeners[i] = evconnlistener_new(srv.base, on_accept, &ctxs[i],
		    LEV_OPT_CLOSE_ON_FREE, -1, listeners[i].fd);
		if (srv.listeners[i] == NULL)
			fatalx("cannot listen on fd %d", listeners[i].fd);
		evconnlistener_set_error_cb(srv.listeners[i], on_accept_error);
	}
	srv.nlisteners = nlisteners;

	sigterm = evsignal_new(srv.base, SIGTERM, on_sigterm, &srv);
	sigint = evsignal_new(srv.base, SIGINT, on_sigterm, &srv);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("event=started listeners=%zu io_threads=%d", nlisteners, conf->io_threads);

	event_base_dispatch(srv.base);

	log_info("event=stopped sessions=%d", srv.nsessions);
	/* Sessions cut off by the deadline: their messages were never acknowledged. */
	pool_free(&srv.pool);
	for (size_t i = 0; i < srv.nlisteners; i++)
		evconnlistener_free(srv.listeners[i]);
	free(srv.listeners);
	free(ctxs);
	if (srv.stop_deadline != NULL)
		event_free(srv.stop_deadline);
	event_free(sigterm);
	event_free(sigint);
	dir_close(&srv.dir);
	tls_server_free(&srv.tls);
	throttle_free(&srv.throttle);
	clean_spool(srv.spool_dir);
	return 0;
}
