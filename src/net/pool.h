/*
 * pool - a small thread pool for work that blocks (fsync, hashing).
 *
 * A worker's libevent loop hands a job to the pool; the job's work function
 * runs on a pool thread, then its done function runs back on the loop
 * thread. The loop never waits for a disk or a slow hash.
 *
 * The event base must be created after evthread_use_pthreads(). Pending
 * jobs do not keep the loop running: the owner waits for pool_pending()
 * to reach 0 before it leaves its loop.
 */
#ifndef TERN_NET_POOL_H
#define TERN_NET_POOL_H

struct event_base;
struct pool;

typedef void (*pool_fn)(void *arg);

/* Start nthreads threads serving base. */
struct pool	*pool_new(struct event_base *base, int nthreads);
/*
 * Queue a job: work(arg) on a pool thread, then done(arg) on the loop
 * thread. arg is owned by the caller and must stay valid until done runs.
 */
void		 pool_submit(struct pool *pool, pool_fn work, pool_fn done, void *arg);
/* Jobs queued or running. */
int		 pool_pending(struct pool *pool);
/* Finish queued jobs, stop the threads, free; sets *poolp to NULL. */
void		 pool_free(struct pool **poolp);

#endif
