/*
 * queue_scheduler - the retry schedule (DESIGN.md section 3).
 */
#include "queue/queue_scheduler.h"

static const time_t backoff[] = { 60, 5 * 60, 15 * 60, 30 * 60 };

time_t
queue_scheduler_backoff(int attempts)
{
	if (attempts < 1)
		return 0;
	if ((size_t)attempts <= sizeof(backoff) / sizeof(backoff[0]))
		return backoff[attempts - 1];
	return 3600;
}

time_t
queue_scheduler_next(time_t created, time_t now, int attempts, time_t lifetime)
{
	time_t next = now + queue_scheduler_backoff(attempts);

	if (next > created + lifetime)
		next = created + lifetime;
	return next > now ? next : now;
}

int
queue_scheduler_expired(time_t created, time_t now, time_t lifetime)
{
	return now - created >= lifetime;
}

int
queue_scheduler_delay_due(time_t created, time_t now, time_t delay, int sent)
{
	return !sent && delay > 0 && now - created >= delay;
}

time_t
queue_scheduler_next_notice(time_t next, time_t created, time_t now, time_t delay, int sent)
{
	time_t at = created + delay;

	if (sent || delay <= 0 || at <= now || at >= next)
		return next;
	return at;
}
