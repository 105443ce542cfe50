/*
 * pool - fixed threads, one job queue, completions posted back to the loop.
 *
 * Completed jobs go on a second list; one event made active from the pool
 * thread (libevent is thread-aware through evthread_use_pthreads) drains
 * that list on the loop thread, so done callbacks never race with sessions.
 */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/pool.h"

struct pool_job {
	pool_fn			 work;
	pool_fn			 done;
	void			*arg;
	struct pool_job		*next;
};

struct pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct pool_job		*todo_head, *todo_tail;
	struct pool_job		*done_head, *done_tail;
	struct event		*done_ev;
	pthread_t		*threads;
	int			 nthreads;
	int			 pending;
	int			 stopping;
};

static void
job_append(struct pool_job **head, struct pool_job **tail, struct pool_job *job)
{
	job->next = NULL;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void *
pool_thread(void *arg)
{
	struct pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->todo_head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		struct pool_job *job = pool->todo_head;
		if (job == NULL)
			break;
		pool->todo_head = job->next;
		if (pool->todo_head == NULL)
			pool->todo_tail = NULL;
		pthread_mutex_unlock(&pool->lock);

		job->work(job->arg);

		pthread_mutex_lock(&pool->lock);
		job_append(&pool->done_head, &pool->done_tail, job);
		event_active(pool->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void
pool_drain_done(evutil_socket_t fd, short what, void *arg)
{
	struct pool *pool = arg;
	struct pool_job *list;

	pthread_mutex_lock(&pool->lock);
	list = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);

	while (list != NULL) {
		struct pool_job *job = list;
		list = job->next;
		pool->pending--;
		job->done(job->arg);
		free(job);
	}
}

struct pool *
pool_new(struct event_base *base, int nthreads)
{
	struct pool *pool = xcalloc(1, sizeof(*pool));

	if (nthreads < 1)
		nthreads = 1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->done_ev = event_new(base, -1, 0, pool_drain_done, pool);
	if (pool->done_ev == NULL)
		fatalx("pool: event_new failed");
	pool->threads = xcalloc((size_t)nthreads, sizeof(*pool->threads));
	pool->nthreads = nthreads;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&pool->threads[i], NULL, pool_thread, pool) != 0)
			fatalx("pool: cannot start thread %d", i);
	return pool;
}

void
pool_submit(struct pool *pool, pool_fn work, pool_fn done, void *arg)
{
	struct pool_job *job = xmalloc(sizeof(*job));

	job->work = work;
	job->done = done;
	job->arg = arg;
	pool->pending++;
	pthread_mutex_lock(&pool->lock);
	job_append(&pool->todo_head, &pool->todo_tail, job);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

int
pool_pending(struct pool *pool)
{
	return pool->pending;
}

void
pool_free(struct pool **poolp)
{
	struct pool *pool = *poolp;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	/* Run the completions of jobs that finished meanwhile. */
	pool_drain_done(-1, 0, pool);
	event_free(pool->done_ev);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->wake);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
