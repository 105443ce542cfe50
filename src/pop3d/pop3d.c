/*
 * pop3d - the POP3 worker: event loop, listeners, graceful stop.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "auth/throttle.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "net/pool.h"
#include "net/tls.h"
#include "pop3d/pop3d.h"
#include "pop3d/pop3d_private.h"

struct accept_ctx {
	struct pop3d_server	*srv;
	enum conf_listener	 kind;
};

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct accept_ctx *ctx = arg;

	pop3d_session_start(ctx->srv, fd, sa, salen, ctx->kind);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	log_warn("event=accept-error: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

static void
maybe_exit(struct pop3d_server *srv)
{
	if (srv->stopping && srv->nsessions == 0 && pool_pending(srv->pool) == 0)
		event_base_loopbreak(srv->base);
}

void
pop3d_server_session_gone(struct pop3d_server *srv, struct pop3d_session *s)
{
	TAILQ_REMOVE(&srv->sessions, s, entry);
	srv->nsessions--;
	maybe_exit(srv);
}

static void
on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pop3d_server *srv = arg;

	log_warn("event=stop-deadline sessions=%d: closing what is left", srv->nsessions);
	event_base_loopbreak(srv->base);
}

static void
on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct pop3d_server *srv = arg;
	struct pop3d_session *s, *next;
	struct timeval grace = { POP3D_STOP_GRACE, 0 };

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_info("event=stopping sessions=%d", srv->nsessions);
	for (size_t i = 0; i < srv->nlisteners; i++)
		evconnlistener_disable(srv->listeners[i]);
	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		pop3d_session_shutdown(s);
	}
	srv->stop_deadline = evtimer_new(srv->base, on_stop_deadline, srv);
	evtimer_add(srv->stop_deadline, &grace);
	maybe_exit(srv);
}

static void
server_setup(struct pop3d_server *srv, const struct conf *conf,
    const struct listener_fd *listeners, size_t nlisteners)
{
	char dbpath[PATH_MAX], why[512];

	snprintf(dbpath, sizeof(dbpath), "%s/directory.db", conf->data_dir);
	srv->dir = dir_open(dbpath, DIR_OPEN_READ, why, sizeof(why));
	if (srv->dir == NULL)
		fatalx("%s", why);
	pthread_mutex_init(&srv->dir_lock, NULL);
	if (conf->tls_cert != NULL || conf->tls_key != NULL) {
		srv->tls = tls_server_new(conf->tls_cert, conf->tls_key, why, sizeof(why));
		if (srv->tls == NULL)
			fatalx("[tls] %s", why);
	}
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].kind == CONF_LISTEN_POP3S && srv->tls == NULL)
			fatalx("[listen] pop3s needs [tls] cert and key");
	struct throttle_params tp;
	throttle_params_from_conf(&tp, srv->conf);
	srv->throttle = throttle_new(&tp);
	/* Unknown users are checked against this, so they cost a real hash. */
	if (password_hash("tern-pop3d-no-such-user", srv->dummy_hash,
	    sizeof(srv->dummy_hash)) == -1)
		srv->dummy_hash[0] = '\0';
}

int
pop3d_main(const struct conf *conf, const struct listener_fd *listeners,
    size_t nlisteners)
{
	struct pop3d_server srv;
	struct accept_ctx *ctxs;
	struct event *sigterm, *sigint;

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	TAILQ_INIT(&srv.sessions);
	signal(SIGPIPE, SIG_IGN);
	server_setup(&srv, conf, listeners, nlisteners);

	evthread_use_pthreads();
	srv.base = event_base_new();
	if (srv.base == NULL)
		fatalx("event_base_new failed");
	srv.pool = pool_new(srv.base, conf->io_threads);

	srv.listeners = xcalloc(nlisteners > 0 ? nlisteners : 1, sizeof(*srv.listeners));
	ctxs = xcalloc(nlisteners > 0 ? nlisteners : 1, sizeof(*ctxs));
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
	log_info("event=started listeners=%zu io_threads=%d tls=%s", nlisteners,
	    conf->io_threads, srv.tls != NULL ? "yes" : "no");

	event_base_dispatch(srv.base);

	log_info("event=stopped sessions=%d", srv.nsessions);
	pool_free(&srv.pool);
	for (size_t i = 0; i < srv.nlisteners; i++)
		evconnlistener_free(srv.listeners[i]);
	free(srv.listeners);
	free(ctxs);
	if (srv.stop_deadline != NULL)
		event_free(srv.stop_deadline);
	event_free(sigterm);
	event_free(sigint);
	throttle_free(&srv.throttle);
	dir_close(&srv.dir);
	pthread_mutex_destroy(&srv.dir_lock);
	tls_server_free(&srv.tls);
	return 0;
}
