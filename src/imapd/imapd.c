/*
 * imapd - the IMAP worker: event loop, listeners, graceful stop.
 */
#include <limits.h>
#include <malloc.h>
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
#include "imapd/imapd.h"
#include "imapd/imapd_private.h"

static void
on_accept(void *ctx, int fd, struct sockaddr *sa, int salen, int kind)
{
	imapd_session_start(ctx, fd, sa, salen, (enum conf_listener)kind);
}

static void
on_stop(void *ctx)
{
	struct imapd_server *srv = ctx;
	struct imapd_session *s, *next;

	for (s = TAILQ_FIRST(&srv->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		imapd_session_shutdown(s);
	}
}

void
imapd_server_session_gone(struct imapd_server *srv, struct imapd_session *s)
{
	TAILQ_REMOVE(&srv->sessions, s, entry);
	conn_counts_remove(srv->per_ip, s->peer_ip);
	worker_session_end(srv->worker);
}

static void
server_setup(struct imapd_server *srv, const struct conf *conf,
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
		if (listeners[i].kind == CONF_LISTEN_IMAPS && srv->tls == NULL)
			fatalx("[listen] imaps needs [tls] cert and key");
}

int
imapd_main(const struct conf *conf, const struct listener_fd *listeners,
    size_t nlisteners)
{
	static const struct worker_ops ops = { on_accept, on_stop };
	struct imapd_server srv;

	/*
	 * A selected mailbox's view is one large block, freed when the session
	 * idles (IDLE closes the mailbox). A fixed mmap threshold gives such
	 * blocks back to the system at once instead of leaving holes between
	 * the small long-lived allocations of a thousand idle sessions.
	 */
	mallopt(M_MMAP_THRESHOLD, IMAPD_MMAP_THRESHOLD);
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
