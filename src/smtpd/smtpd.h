/*
 * smtpd - the SMTP worker process: listeners 25 (smtp), 587 and 465.
 *
 * The master forks the worker with its listening sockets already bound;
 * smtpd_main() runs one libevent loop until SIGTERM, then stops accepting,
 * lets transactions in progress finish (up to a grace period) and returns.
 */
#ifndef TERN_SMTPD_SMTPD_H
#define TERN_SMTPD_SMTPD_H

#include <stddef.h>

#include "common/conf.h"
#include "net/listener.h"

/* Runs the worker; returns the process exit status. */
int	smtpd_main(const struct conf *conf, const struct listener_fd *listeners,
	    size_t nlisteners);

#endif
