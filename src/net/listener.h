/*
 * listener - parse "addr:port[,addr:port...]" and bind listening sockets.
 *
 * The master binds (it may need root for ports below 1024) and the workers
 * inherit the descriptors across fork.
 */
#ifndef TERN_NET_LISTENER_H
#define TERN_NET_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

#define LISTENER_MAX_ADDRS	16	/* addresses of one [listen] key */

struct listener_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 text[80];	/* as "addr:port" / "[addr]:port" */
};

/* A bound listening socket handed to a worker, and which [listen] key it serves. */
struct listener_fd {
	int	fd;
	int	kind;		/* enum conf_listener */
};

/*
 * Parse a spec like "127.0.0.1:25, [::1]:25, 0.0.0.0:587" (addresses must be
 * numeric). Returns the count (0 for an empty spec) or -1 with why.
 */
int	listener_parse(const char *spec, struct listener_addr *out, size_t max,
	    char *why, size_t whylen);
/* Bind and listen (non-blocking, close-on-exec, SO_REUSEADDR); fd or -1 with why. */
int	listener_bind(const struct listener_addr *addr, char *why, size_t whylen);

#endif
