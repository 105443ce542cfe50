/*
 * conf - tern.conf parsing.
 *
 * libinih does the INI syntax; this file maps (section, key) to fields with a
 * table of setters, so each key's parsing and error message sits in one row.
 */
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"

static const char *listener_names[CONF_LISTEN_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps",
	"pop3", "pop3s", "lmtp", "http", "https",
};

const char *
conf_listener_name(enum conf_listener which)
{
	return listener_names[which];
}

const char *
conf_default_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("TERN_CONF");
	if (env != NULL && *env != '\0')
		return env;
	return "/etc/tern/tern.conf";
}

void
conf_defaults(struct conf *conf)
{
	char host[256];

	memset(conf, 0, sizeof(*conf));
	if (gethostname(host, sizeof(host)) == -1)
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	conf->hostname = xstrdup(host);
	conf->data_dir = xstrdup("/var/lib/tern");
	conf->user = xstrdup("tern");
	conf->log_level = LOG_LEVEL_INFO;
	conf->io_threads = 16;
	conf->max_message_size = 50ULL * 1024 * 1024;
	conf->max_recipients = 100;
	conf->max_errors = 10;
	conf->max_sessions = 1000;
	conf->max_sessions_per_ip = 50;
	conf->imap_max_sessions = 10000;
	conf->imap_max_sessions_per_ip = 50;
	conf->recipient_delimiter = '+';
	conf->timeout_command = 300;
	conf->timeout_data_block = 180;
	conf->timeout_data_init = 120;
	conf->queue_remote_port = 25;
	conf->queue_lifetime = 5 * 24 * 3600;
	conf->queue_delay_notice = 4 * 3600;
	conf->queue_smarthost_port = 25;
	conf->queue_max_per_destination = 10;
	conf->auth_max_failures = 10;
	conf->auth_failure_window = 300;
	conf->auth_lockout = 900;
	conf->auth_delay_max = 5;
	cidr_list_parse(&conf->mynetworks, "127.0.0.0/8 ::1/128", NULL);
}

void
conf_free(struct conf *conf)
{
	free(conf->path);
	free(conf->hostname);
	free(conf->data_dir);
	free(conf->user);
	for (int i = 0; i < CONF_LISTEN_COUNT; i++)
		free(conf->listen[i]);
	free(conf->tls_cert);
	free(conf->tls_key);
	cidr_list_clear(&conf->mynetworks);
	free(conf->dns_servers);
	free(conf->queue_smarthost);
	free(conf->queue_smarthost_user);
	if (conf->queue_smarthost_password != NULL) {
		explicit_bzero(conf->queue_smarthost_password,
		    strlen(conf->queue_smarthost_password));
		free(conf->queue_smarthost_password);
	}
	free(conf->queue_smarthost_password_file);
	free(conf->queue_tls_ca_file);
	memset(conf, 0, sizeof(*conf));
}

struct conf_ctx {
	struct conf	*conf;
	char		*dir;		/* directory of the file, for relative paths */
	char		*why;
	size_t		 whylen;
	int		 failed;
};

/* Each setter returns NULL on success or a static reason. */
typedef const char *(*conf_setter)(struct conf_ctx *, void *field, const char *value);

static const char *
set_string(struct conf_ctx *ctx, void *field, const char *value)
{
	char **dst = field;

	free(*dst);
	*dst = *value == '\0' ? NULL : xstrdup(value);
	return NULL;
}

static const char *
set_path(struct conf_ctx *ctx, void *field, const char *value)
{
	char **dst = field;

	free(*dst);
	if (*value == '\0')
		*dst = NULL;
	else if (value[0] == '/')
		*dst = xstrdup(value);
	else
		*dst = xasprintf("%s/%s", ctx->dir, value);
	return NULL;
}

static const char *
set_size(struct conf_ctx *ctx, void *field, const char *value)
{
	return str_parse_size(value, field) == -1 ? "expected a size like 50M" : NULL;
}

static const char *
set_duration(struct conf_ctx *ctx, void *field, const char *value)
{
	return str_parse_duration(value, field) == -1 ?
	    "expected a duration like 300s or 5m" : NULL;
}

static const char *
set_int(struct conf_ctx *ctx, void *field, const char *value)
{
	char *end;
	long v = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || v < 0 || v > INT_MAX)
		return "expected a non-negative number";
	*(int *)field = (int)v;
	return NULL;
}

static const char *
set_port(struct conf_ctx *ctx, void *field, const char *value)
{
	if (set_int(ctx, field, value) != NULL || *(int *)field < 1 || *(int *)field > 65535)
		return "expected a port number 1-65535";
	return NULL;
}

static const char *
set_bool(struct conf_ctx *ctx, void *field, const char *value)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*(int *)field = 1;
			return NULL;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*(int *)field = 0;
			return NULL;
		}
	}
	return "expected yes or no";
}

static const char *
set_log_level(struct conf_ctx *ctx, void *field, const char *value)
{
	int level = log_level_parse(value);

	if (level < 0)
		return "expected error, warn, info or debug";
	*(int *)field = level;
	return NULL;
}

static const char *
set_cidr_list(struct conf_ctx *ctx, void *field, const char *value)
{
	const char *bad;

	return cidr_list_parse(field, value, &bad) == -1 ?
	    "expected networks like 127.0.0.0/8 ::1/128" : NULL;
}

static const char *
set_delimiter(struct conf_ctx *ctx, void *field, const char *value)
{
	if (strlen(value) > 1 || (value[0] != '\0' && strchr("+-_.=", value[0]) == NULL))
		return "expected one of + - _ . = or empty";
	*(char *)field = value[0];
	return NULL;
}

static const char *
set_listen(struct conf_ctx *ctx, void *field, const char *value)
{
	/* Syntax is checked when the listeners are bound; keep the text. */
	return set_string(ctx, field, value);
}

/*
 * [queue] smarthost, as Postfix's relayhost: "host[:port]" goes to the MX
 * hosts of host, "[host][:port]" to host itself (no MX lookup), and an
 * address ("192.0.2.1:587", "[2001:db8::1]:587") is used as it is. The
 * port is 25 unless given.
 */
static const char *
set_smarthost(struct conf_ctx *ctx, void *field, const char *value)
{
	struct conf *conf = ctx->conf;
	char host[256];
	const char *p = value, *end;
	size_t len;
	int port = 25, bracket = 0, ip = 0;

	free(conf->queue_smarthost);
	conf->queue_smarthost = NULL;
	if (*value == '\0')
		return NULL;
	if (*p == '[') {
		bracket = 1;
		p++;
		if ((end = strchr(p, ']')) == NULL)
			return "expected host:port or [host]:port";
	} else
		for (end = p; *end != '\0' && *end != ':'; end++)
			;
	len = (size_t)(end - p);
	if (len == 0 || len >= sizeof(host))
		return "expected host:port or [host]:port";
	memcpy(host, p, len);
	host[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		char c = host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || (bracket && c == ':')))
			return "expected host:port or [host]:port";
	}
	p = end + bracket;
	if (*p == ':') {
		char *e;
		long v = strtol(p + 1, &e, 10);
		if (p[1] == '\0' || *e != '\0' || v < 1 || v > 65535)
			return "expected a port number 1-65535 after ':'";
		port = (int)v;
	} else if (*p != '\0')
		return "expected host:port or [host]:port";
	/* a dotted quad or an IPv6 address has no MX records */
	ip = strchr(host, ':') != NULL || strspn(host, "0123456789.") == len;
	conf->queue_smarthost = xstrdup(host);
	conf->queue_smarthost_port = port;
	conf->queue_smarthost_mx = !bracket && !ip;
	return NULL;
}

static const char *
set_secret(struct conf_ctx *ctx, void *field, const char *value)
{
	char **dst = field;

	if (*dst != NULL) {
		explicit_bzero(*dst, strlen(*dst));
		free(*dst);
	}
	*dst = *value == '\0' ? NULL : xstrdup(value);
	return NULL;
}

static const char *
set_positive(struct conf_ctx *ctx, void *field, const char *value)
{
	if (set_int(ctx, field, value) != NULL || *(int *)field < 1)
		return "expected a number of at least 1";
	return NULL;
}

#define F(member) offsetof(struct conf, member)

static const struct conf_key {
	const char	*section;
	const char	*key;
	size_t		 offset;
	conf_setter	 set;
} conf_keys[] = {
	{ "server", "hostname", F(hostname), set_string },
	{ "server", "data_dir", F(data_dir), set_path },
	{ "server", "user", F(user), set_string },
	{ "server", "log_level", F(log_level), set_log_level },
	{ "server", "io_threads", F(io_threads), set_int },
	{ "listen", "smtp", F(listen[CONF_LISTEN_SMTP]), set_listen },
	{ "listen", "submission", F(listen[CONF_LISTEN_SUBMISSION]), set_listen },
	{ "listen", "submissions", F(listen[CONF_LISTEN_SUBMISSIONS]), set_listen },
	{ "listen", "imap", F(listen[CONF_LISTEN_IMAP]), set_listen },
	{ "listen", "imaps", F(listen[CONF_LISTEN_IMAPS]), set_listen },
	{ "listen", "pop3", F(listen[CONF_LISTEN_POP3]), set_listen },
	{ "listen", "pop3s", F(listen[CONF_LISTEN_POP3S]), set_listen },
	{ "listen", "lmtp", F(listen[CONF_LISTEN_LMTP]), set_listen },
	{ "listen", "http", F(listen[CONF_LISTEN_HTTP]), set_listen },
	{ "listen", "https", F(listen[CONF_LISTEN_HTTPS]), set_listen },
	{ "tls", "cert", F(tls_cert), set_path },
	{ "tls", "key", F(tls_key), set_path },
	{ "smtp", "mynetworks", F(mynetworks), set_cidr_list },
	{ "smtp", "max_message_size", F(max_message_size), set_size },
	{ "smtp", "max_recipients", F(max_recipients), set_int },
	{ "smtp", "max_errors", F(max_errors), set_int },
	{ "smtp", "max_sessions", F(max_sessions), set_int },
	{ "smtp", "max_sessions_per_ip", F(max_sessions_per_ip), set_int },
	{ "smtp", "recipient_delimiter", F(recipient_delimiter), set_delimiter },
	{ "smtp", "timeout_command", F(timeout_command), set_duration },
	{ "smtp", "timeout_data_block", F(timeout_data_block), set_duration },
	{ "smtp", "timeout_data_init", F(timeout_data_init), set_duration },
	{ "imap", "max_sessions", F(imap_max_sessions), set_int },
	{ "imap", "max_sessions_per_ip", F(imap_max_sessions_per_ip), set_int },
	{ "dns", "servers", F(dns_servers), set_string },
	{ "queue", "remote_port", F(queue_remote_port), set_port },
	{ "queue", "lifetime", F(queue_lifetime), set_duration },
	{ "queue", "delay_notice", F(queue_delay_notice), set_duration },
	{ "queue", "smarthost", F(queue_smarthost), set_smarthost },
	{ "queue", "smarthost_user", F(queue_smarthost_user), set_string },
	{ "queue", "smarthost_password", F(queue_smarthost_password), set_secret },
	{ "queue", "smarthost_password_file", F(queue_smarthost_password_file), set_path },
	{ "queue", "tls_ca_file", F(queue_tls_ca_file), set_path },
	{ "queue", "max_per_destination", F(queue_max_per_destination), set_positive },
	{ "auth", "allow_plaintext_loopback", F(allow_plaintext_loopback), set_bool },
	{ "auth", "max_failures", F(auth_max_failures), set_int },
	{ "auth", "failure_window", F(auth_failure_window), set_duration },
	{ "auth", "lockout", F(auth_lockout), set_duration },
	{ "auth", "failure_delay_max", F(auth_delay_max), set_duration },
};

static int
conf_handler(void *user, const char *section, const char *key, const char *value)
{
	struct conf_ctx *ctx = user;
	int known_section = 0;

	if (ctx->failed)
		return 0;
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(k->section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(k->key, key) != 0)
			continue;
		const char *err = k->set(ctx, (char *)ctx->conf + k->offset, value);
		if (err != NULL) {
			snprintf(ctx->why, ctx->whylen, "%s: [%s] %s = '%s': %s",
			    ctx->conf->path, section, key, value, err);
			ctx->failed = 1;
			return 0;
		}
		return 1;
	}
	if (known_section)
		snprintf(ctx->why, ctx->whylen, "%s: unknown key '%s' in [%s]",
		    ctx->conf->path, key, section);
	else
		snprintf(ctx->why, ctx->whylen, "%s: unknown section [%s]",
		    ctx->conf->path, section);
	ctx->failed = 1;
	return 0;
}

/* Keys that only make sense together. */
static int
conf_check(const struct conf *conf, char *why, size_t whylen)
{
	int has_pass = conf->queue_smarthost_password != NULL ||
	    conf->queue_smarthost_password_file != NULL;

	if (conf->queue_smarthost_password != NULL &&
	    conf->queue_smarthost_password_file != NULL) {
		snprintf(why, whylen, "%s: [queue] smarthost_password and "
		    "smarthost_password_file: set only one", conf->path);
		return -1;
	}
	if ((conf->queue_smarthost_user != NULL) != has_pass) {
		snprintf(why, whylen, "%s: [queue] smarthost_user needs a smarthost_password "
		    "or smarthost_password_file, and they need a user", conf->path);
		return -1;
	}
	if (conf->queue_smarthost_user != NULL && conf->queue_smarthost == NULL) {
		snprintf(why, whylen, "%s: [queue] smarthost_user is set without a smarthost",
		    conf->path);
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *conf, const char *path, char *why, size_t whylen)
{
	struct conf_ctx ctx = { .conf = conf, .why = why, .whylen = whylen };
	char abs[PATH_MAX];
	char *slash;
	int rc;

	conf_defaults(conf);
	if (realpath(path, abs) == NULL) {
		snprintf(why, whylen, "%s: cannot open config file: %m", path);
		return -1;
	}
	conf->path = xstrdup(abs);
	ctx.dir = xstrdup(abs);
	slash = strrchr(ctx.dir, '/');
	if (slash != NULL)
		*(slash == ctx.dir ? slash + 1 : slash) = '\0';

	rc = ini_parse(abs, conf_handler, &ctx);
	free(ctx.dir);
	if (ctx.failed)
		return -1;
	if (rc < 0) {
		snprintf(why, whylen, "%s: cannot read config file", abs);
		return -1;
	}
	if (rc > 0) {
		snprintf(why, whylen, "%s:%d: syntax error", abs, rc);
		return -1;
	}
	return conf_check(conf, why, whylen);
}
