/*
 * queue_scheduler - when an entry is tried again, and when it gives up.
 *
 * Pure functions, so the schedule can be tested without a clock: about
 * 1m, 5m, 15m, 30m after the first tries, then hourly, until the
 * lifetime ([queue] lifetime, 5 days by default) has passed.
 */
#ifndef TERN_QUEUE_QUEUE_SCHEDULER_H
#define TERN_QUEUE_QUEUE_SCHEDULER_H

#include <time.h>

#define QUEUE_LIFETIME_DEFAULT	(5 * 24 * 3600)
#define QUEUE_DELAY_NOTICE_DEFAULT	(4 * 3600)

/* Seconds to wait after the attempts-th failed try (attempts >= 1). */
time_t	queue_scheduler_backoff(int attempts);
/*
 * The next try after a failed one at now for an entry created at created:
 * now + back-off, but never later than the moment it expires (so expiry
 * is noticed on time).
 */
time_t	queue_scheduler_next(time_t created, time_t now, int attempts, time_t lifetime);
/* 1 when an entry created at created has outlived lifetime at now. */
int	queue_scheduler_expired(time_t created, time_t now, time_t lifetime);
/*
 * Delay notices ([queue] delay_notice, 4 hours by default, 0 = never):
 * 1 when an entry still open at now and not yet reported (sent == 0) is
 * due for its one notice.
 */
int	queue_scheduler_delay_due(time_t created, time_t now, time_t delay, int sent);
/* The next try, moved earlier so that a notice still to come is on time. */
time_t	queue_scheduler_next_notice(time_t next, time_t created, time_t now, time_t delay,
	    int sent);

#endif
