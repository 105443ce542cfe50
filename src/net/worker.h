/*
 * worker - the event loop every network worker runs: its listeners, its
 * thread pool, and the graceful stop on SIGTERM.
 *
 * The service (smtpd, pop3d, ...) supplies two callbacks: accept a new
 * connection, and "stop now" (close idle sessions; busy ones end by
 * themselves). It reports each session's start and end, and the loop ends
 * once a stop was asked and no session and no pool job is left, or after
 * WORKER_STOP_GRACE seconds.
 */
#ifndef TERN_NET_WORKER_H
#define TERN_NET_WORKER_H

#include <stddef.h>
#include <sys/socket.h>

#include "net/listener.h"

#define WORKER_STOP_GRACE	30	/* default seconds for sessions in flight at SIGTERM */

struct event_base;
struct pool;
struct worker;

struct worker_ops {
	/* A connection on a listener of kind (enum conf_listener); fd is the caller's. */
	void	(*accept)(void *ctx, int fd, struct sockaddr *sa, int salen, int kind);
	/* SIGTERM or SIGINT: the listeners are closed; end idle sessions now. */
	void	(*stop)(void *ctx);
};

/* Event base (threads enabled), pool of io_threads threads, listeners armed. */
struct worker		*worker_new(const struct listener_fd *fds, size_t nfds, int io_threads,
			    const struct worker_ops *ops, void *ctx);
/* Seconds the sessions in flight get after SIGTERM (WORKER_STOP_GRACE). */
void			 worker_set_grace(struct worker *w, int seconds);
struct event_base	*worker_base(struct worker *w);
struct pool		*worker_pool(struct worker *w);
/* 1 once a stop was asked. */
int			 worker_stopping(const struct worker *w);
/* Sessions open now. */
int			 worker_sessions(const struct worker *w);
void			 worker_session_begin(struct worker *w);
/* A session ended: during a stop, the last one ends the loop. */
void			 worker_session_end(struct worker *w);
/* Run until stopped (see above). */
void			 worker_run(struct worker *w);
/* Finish pool jobs, free everything; sets *wp to NULL. */
void			 worker_free(struct worker **wp);

#endif
