/*
 * queue - the outbound queue worker ("ternd: queue").
 *
 * Watches data_dir/queue/ (inotify: a new entry is tried at once, a
 * ".flush" file makes every entry due now, a removed entry is forgotten),
 * tries each entry when it is due, delivers recipients of local domains
 * into their Maildirs and the others through smtpc, writes the new
 * recipient states back, bounces what failed, and removes finished
 * entries. It runs without listeners (services.c: always = 1).
 */
#ifndef TERN_QUEUE_QUEUE_H
#define TERN_QUEUE_QUEUE_H

#include <stddef.h>

#include "common/conf.h"
#include "net/listener.h"

#define QUEUE_DIR_NAME		"queue"
#define QUEUE_FLUSH_NAME	".flush"	/* created by `tern queue flush` */
#define QUEUE_RUNS_MAX		32		/* entries being delivered at once */
#define QUEUE_STOP_GRACE	5		/* seconds for deliveries at SIGTERM */

int	queue_main(const struct conf *conf, const struct listener_fd *fds, size_t nfds);

#endif
