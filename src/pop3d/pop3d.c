/*
 * pop3d - the POP3 worker: event loop, listeners, graceful stop.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/conn.h"
#include "net/pool.h"
#include "net/worker.h"
#include "store/store.h"
#include "net/tls.h"
#include "pop3d/pop3d.h"
#include "pop3d/pop3d_private.h"

static void
on_accept(void *ctx, int fd, struct sockaddr *sa, int salen, int kind)
{
	pop3d_session_start(ctx, fd, sa, salen, (enum conf_listener)kind);
}

static void
on_stop(void *ctx)
{
	struct pop3d_server *srv = ctx;
	struct pop3d_session *s, *next;

	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		pop3d_session_shutdown(s);
	}
}

void
pop3d_server_session_gone(struct pop3d_server *srv, struct pop3d_session *s)
{
	TAILQ_REMOVE(&srv->sessions, s, entry);
	conn_counts_remove(srv->per_ip, s->peer_ip);
	worker_session_end(srv->worker);
}

static void
server_setup(struct pop3d_server *srv, const struct conf *conf,
    const struct listener_fd *listeners, size_t nlisteners)
{
	char why[512];

	if (login_env_open(&srv->login, conf, why, sizeof(why)) == -1)
		fatalx("%s", why);
	if (conf->tls_cert != NULL || conf->tls_key != NULL) {
		srv->tls = tls_server_new(conf->tls_cert, conf->tls_key, why, sizeof(why));
		if (srv->tls == NULL)
			fatalx("[tls] %s", why);
	}
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].kind == CONF_LISTEN_POP3S && srv->tls == NULL)
			fatalx("[listen] pop3s needs [tls] cert and key");
}

int
pop3d_main(const struct conf *conf, const struct listener_fd *listeners,
    size_t nlisteners)
{
	static const struct worker_ops ops = { on_accept, on_stop };
	struct pop3d_server srv;

	store_configure();
	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	TAILQ_INIT(&srv.sessions);
	server_setup(&srv, conf, listeners, nlisteners);
	srv.per_ip = conn_counts_new();
	srv.worker = worker_new(listeners, nlisteners, conf->io_threads, &ops, &srv);
	srv.base = worker_base(srv.worker);
	srv.pool = worker_pool(srv.worker);
	log_info("event=started listeners=%zu io_threads=%d tls=%s", nlisteners,
	    conf->io_threads, srv.tls != NULL ? "yes" : "no");

	worker_run(srv.worker);

	worker_free(&srv.worker);
	conn_counts_free(&srv.per_ip);
	login_env_close(&srv.login);
	tls_server_free(&srv.tls);
	return 0;
}
