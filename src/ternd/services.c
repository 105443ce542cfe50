/*
 * services - which workers exist and which listeners each one serves.
 */
#include "imapd/imapd.h"
#include "pop3d/pop3d.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"
#include "ternd/services.h"

#define L(x)	(1u << (x))

const struct service services[] = {
	{ "smtpd", L(CONF_LISTEN_SMTP) | L(CONF_LISTEN_SUBMISSION) | L(CONF_LISTEN_SUBMISSIONS), 0,
	    smtpd_main },
	{ "pop3d", L(CONF_LISTEN_POP3) | L(CONF_LISTEN_POP3S), 0, pop3d_main },
	{ "imapd", L(CONF_LISTEN_IMAP) | L(CONF_LISTEN_IMAPS), 0, imapd_main },
	{ "queue", 0, 1, queue_main },
};

const size_t nservices = sizeof(services) / sizeof(services[0]);
