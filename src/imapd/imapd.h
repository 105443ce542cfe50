/*
 * imapd - the IMAP worker (RFC 3501, RFC 9051 and the extensions listed
 * in docs/ARCHITECTURE.md): serves the [listen] imap and imaps sockets the
 * master hands over.
 */
#ifndef TERN_IMAPD_IMAPD_H
#define TERN_IMAPD_IMAPD_H

#include <stddef.h>

#include "common/conf.h"
#include "net/listener.h"

/* Run the worker until SIGTERM; returns the exit status. */
int	imapd_main(const struct conf *conf, const struct listener_fd *listeners,
	    size_t nlisteners);

#endif
