/*
 * conf - the tern.conf INI file (parsed with libinih) as one plain struct.
 *
 * conf_load() fills every field with its default first, so callers read the
 * struct without checking for presence. Relative paths are resolved against
 * the directory of the config file. Unknown sections or keys are errors:
 * a typo must not silently leave a default in place.
 */
#ifndef TERN_COMMON_CONF_H
#define TERN_COMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"

/* The listeners a config can name, in [listen]. */
enum conf_listener {
	CONF_LISTEN_SMTP = 0,
	CONF_LISTEN_SUBMISSION,
	CONF_LISTEN_SUBMISSIONS,
	CONF_LISTEN_IMAP,
	CONF_LISTEN_IMAPS,
	CONF_LISTEN_POP3,
	CONF_LISTEN_POP3S,
	CONF_LISTEN_LMTP,
	CONF_LISTEN_HTTP,
	CONF_LISTEN_HTTPS,
	CONF_LISTEN_COUNT
};

struct conf {
	char		*path;		/* absolute path of the file read */

	/* [server] */
	char		*hostname;
	char		*data_dir;
	char		*user;
	int		 log_level;	/* enum log_level */
	int		 io_threads;	/* blocking-work pool per worker */

	/* [listen]: "addr:port[,addr:port...]" or NULL when off */
	char		*listen[CONF_LISTEN_COUNT];

	/* [tls] */
	char		*tls_cert;
	char		*tls_key;

	/* [smtp] */
	struct cidr_list mynetworks;
	uint64_t	 max_message_size;
	int		 max_recipients;
	int		 max_errors;
	int		 max_sessions;
	int		 max_sessions_per_ip;
	char		 recipient_delimiter;	/* '\0' = none */
	uint64_t	 timeout_command;	/* seconds, RFC 5321 4.5.3.2 */
	uint64_t	 timeout_data_block;
	uint64_t	 timeout_data_init;
	uint64_t	 banner_delay_ms;

	/* [imap] */
	int		 imap_max_sessions;	/* IDLE clients keep connections open */
	int		 imap_max_sessions_per_ip;

	/* [dns] */
	char		*dns_servers;

	/* [queue] */
	int		 queue_remote_port;
	uint64_t	 queue_lifetime;	/* seconds before an entry bounces */
	uint64_t	 queue_delay_notice;	/* seconds before a delay DSN, 0 = never */
	/* smarthost: all non-local mail goes there; NULL = MX routing */
	char		*queue_smarthost;	/* host name or address, no brackets */
	int		 queue_smarthost_port;	/* 25 unless given */
	int		 queue_smarthost_mx;	/* 1: "host" (its MX records), 0: "[host]" */
	char		*queue_smarthost_user;	/* AUTH (only over TLS), NULL = none */
	char		*queue_smarthost_password;
	char		*queue_smarthost_password_file;	/* read by the queue worker */
	char		*queue_tls_ca_file;	/* CAs for the verification result, NULL = system */
	int		 queue_max_per_destination;	/* connections per host at once */

	/* [auth] */
	int		 allow_plaintext_loopback;
	int		 auth_max_failures;	/* per address/account within the window */
	uint64_t	 auth_failure_window;	/* seconds */
	uint64_t	 auth_lockout;		/* seconds refused after too many */
	uint64_t	 auth_delay_max;	/* seconds, cap of the growing delay */
};

/* Name of a listener as written in [listen] ("smtp", "submission", ...). */
const char *conf_listener_name(enum conf_listener which);

/*
 * Load path into conf (allocated fields owned by conf). Returns 0, or -1 with
 * a one-line reason ("tern.conf: unknown key 'foo' in [smtp]") in why.
 */
int	conf_load(struct conf *conf, const char *path, char *why, size_t whylen);
/* Fill conf with defaults only (no file). */
void	conf_defaults(struct conf *conf);
void	conf_free(struct conf *conf);
/* The config path to use: explicit, else $TERN_CONF, else /etc/tern/tern.conf. */
const char *conf_default_path(const char *explicit_path);

#endif
