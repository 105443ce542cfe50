/*
 * services - the table of worker processes the master forks.
 *
 * A service is a name (the process calls itself "ternd: <name>"), the set
 * of [listen] keys it serves and its main function. Adding imapd, pop3d,
 * queue or web is one more row.
 */
#ifndef TERN_TERND_SERVICES_H
#define TERN_TERND_SERVICES_H

#include <stddef.h>

#include "common/conf.h"
#include "net/listener.h"

struct service {
	const char	*name;
	unsigned	 listeners;	/* bit (1 << enum conf_listener) per key served */
	int		 always;	/* runs even without a listener (queue) */
	int		 (*main)(const struct conf *conf, const struct listener_fd *fds,
			    size_t nfds);
};

extern const struct service	services[];
extern const size_t		nservices;

#endif
