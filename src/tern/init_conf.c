/*
 * init_conf - render and write tern.conf.
 *
 * Every listener is written out, the ones left off as "key =", so the
 * file shows what can be turned on. LMTP stays off: it would accept mail
 * for local users from anyone who can reach the port.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "tern/init_conf.h"

static const struct listen_default {
	const char	*key;
	int		 dev_port;	/* 0 = off */
	int		 port;		/* 0 = off */
} listen_defaults[] = {
	{ "smtp", 2525, 25 },
	{ "submission", 2587, 587 },
	{ "submissions", 2465, 465 },
	{ "imap", 2143, 143 },
	{ "imaps", 2993, 993 },
	{ "pop3", 2110, 110 },
	{ "pop3s", 2995, 995 },
	{ "lmtp", 0, 0 },
	{ "http", 8080, 80 },
	{ "https", 0, 443 },
};

static void
render_listen(FILE *fp, int dev)
{
	const char *addr = dev ? "127.0.0.1" : "0.0.0.0";

	fputs("\n[listen]\n", fp);
	for (size_t i = 0; i < sizeof(listen_defaults) / sizeof(listen_defaults[0]); i++) {
		const struct listen_default *l = &listen_defaults[i];
		int port = dev ? l->dev_port : l->port;
		if (port == 0)
			fprintf(fp, "%s =\n", l->key);
		else
			fprintf(fp, "%s = %s:%d\n", l->key, addr, port);
	}
}

static void
render(FILE *fp, const struct init_conf *ic)
{
	char date[32];
	time_t now = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	fprintf(fp, "# tern configuration for %s, written by tern init on %s%s.\n"
	    "# Check it with: tern -c <this file> check-config\n",
	    ic->domain, date, ic->dev ? " (--dev)" : "");
	fprintf(fp, "\n[server]\nhostname = %s\ndata_dir = %s\nuser = %s\n",
	    ic->hostname, ic->data_dir, ic->user);
	render_listen(fp, ic->dev);
	fprintf(fp, "\n[tls]\ncert = %s/tls/cert.pem\nkey = %s/tls/key.pem\n",
	    ic->data_dir, ic->data_dir);
	fputs("\n[smtp]\nmynetworks = 127.0.0.0/8 ::1/128\nmax_message_size = 50M\n", fp);
	fprintf(fp, "\n[auth]\nallow_plaintext_loopback = %s\n", ic->dev ? "yes" : "no");
}

static int
write_new(const char *path, const char *text, size_t len, char *why, size_t whylen)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		snprintf(why, whylen, "%s %s", path,
		    errno == EEXIST ? "already exists" : strerror(errno));
		return -1;
	}
	if (fs_write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		fs_fsync_dir(dir);
	}
	return 0;
}

int
init_conf_write(const char *path, const struct init_conf *ic, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int rc;

	if (fp == NULL) {
		snprintf(why, whylen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	render(fp, ic);
	if (fclose(fp) != 0) {
		snprintf(why, whylen, "rendering the config: %s", strerror(errno));
		free(text);
		return -1;
	}
	rc = write_new(path, text, len, why, whylen);
	free(text);
	return rc;
}
