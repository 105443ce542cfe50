/*
 * worker - listeners, pool and graceful stop shared by the network workers.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/pool.h"
#include "net/worker.h"

struct worker_listener {
	struct worker		*w;
	struct evconnlistener	*l;
	int			 kind;
};

struct worker {
	struct event_base	*base;
	struct pool		*pool;
	struct worker_listener	*listeners;
	size_t			 nlisteners;
	const struct worker_ops	*ops;
	void			*ctx;
	struct event		*sigterm, *sigint, *deadline;
	int			 sessions;
	int			 stopping;
	int			 grace;
};

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct worker_listener *wl = arg;

	wl->w->ops->accept(wl->w->ctx, fd, sa, salen, wl->kind);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: log and keep serving the sessions we have. */
	log_warn("event=accept-error: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

static void
maybe_exit(struct worker *w)
{
	if (w->stopping && w->sessions == 0 && pool_pending(w->pool) == 0)
		event_base_loopbreak(w->base);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	log_warn("event=stop-deadline sessions=%d: closing what is left", w->sessions);
	event_base_loopbreak(w->base);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval grace = { w->grace, 0 };

	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("event=stopping sessions=%d", w->sessions);
	for (size_t i = 0; i < w->nlisteners; i++)
		evconnlistener_disable(w->listeners[i].l);
	w->ops->stop(w->ctx);
	w->deadline = evtimer_new(w->base, on_deadline, w);
	evtimer_add(w->deadline, &grace);
	maybe_exit(w);
}

struct worker *
worker_new(const struct listener_fd *fds, size_t nfds, int io_threads,
    const struct worker_ops *ops, void *ctx)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	w->base = event_base_new();
	if (w->base == NULL)
		fatalx("event_base_new failed");
	w->pool = pool_new(w->base, io_threads);
	w->ops = ops;
	w->ctx = ctx;
	w->grace = WORKER_STOP_GRACE;
	w->listeners = xcalloc(nfds > 0 ? nfds : 1, sizeof(*w->listeners));
	for (size_t i = 0; i < nfds; i++) {
		struct worker_listener *wl = &w->listeners[i];
		wl->w = w;
		wl->kind = fds[i].kind;
		wl->l = evconnlistener_new(w->base, on_accept, wl, LEV_OPT_CLOSE_ON_FREE, -1,
		    fds[i].fd);
		if (wl->l == NULL)
			fatalx("cannot listen on fd %d", fds[i].fd);
		evconnlistener_set_error_cb(wl->l, on_accept_error);
	}
	w->nlisteners = nfds;
	w->sigterm = evsignal_new(w->base, SIGTERM, on_stop_signal, w);
	w->sigint = evsignal_new(w->base, SIGINT, on_stop_signal, w);
	evsignal_add(w->sigterm, NULL);
	evsignal_add(w->sigint, NULL);
	return w;
}

void
worker_set_grace(struct worker *w, int seconds)
{
	w->grace = seconds;
}

struct event_base *
worker_base(struct worker *w)
{
	return w->base;
}

struct pool *
worker_pool(struct worker *w)
{
	return w->pool;
}

int
worker_stopping(const struct worker *w)
{
	return w->stopping;
}

int
worker_sessions(const struct worker *w)
{
	return w->sessions;
}

void
worker_session_begin(struct worker *w)
{
	w->sessions++;
}

void
worker_session_end(struct worker *w)
{
	w->sessions--;
	maybe_exit(w);
}

void
worker_run(struct worker *w)
{
	event_base_dispatch(w->base);
	log_info("event=stopped sessions=%d", w->sessions);
}

void
worker_free(struct worker **wp)
{
	struct worker *w = *wp;

	if (w == NULL)
		return;
	/* Jobs still queued finish here; sessions cut off by the deadline were
	 * never acknowledged to their clients. */
	pool_free(&w->pool);
	for (size_t i = 0; i < w->nlisteners; i++)
		evconnlistener_free(w->listeners[i].l);
	free(w->listeners);
	if (w->deadline != NULL)
		event_free(w->deadline);
	event_free(w->sigterm);
	event_free(w->sigint);
	event_base_free(w->base);
	free(w);
	*wp = NULL;
}
