/*
 * pop3d - the POP3 worker (RFC 1939, RFC 2449, RFC 5034, STLS of RFC 2595):
 * serves the [listen] pop3 and pop3s sockets the master hands over.
 */
#ifndef TERN_POP3D_POP3D_H
#define TERN_POP3D_POP3D_H

#include <stddef.h>

#include "common/conf.h"
#include "net/listener.h"

/* Run the worker until SIGTERM; returns the exit status. */
int	pop3d_main(const struct conf *conf, const struct listener_fd *listeners,
	    size_t nlisteners);

#endif
