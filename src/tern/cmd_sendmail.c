/*
 * cmd_sendmail - tern sendmail [-t] [-i] [-oi] [-f FROM] [-F NAME] [RCPT...],
 * and the classic commands behind links named sendmail, mailq, newaliases.
 *
 * The message comes on stdin with LF or CRLF line ends and is stored with
 * CRLF; without -i a line holding a lone "." ends it. It gets the header
 * fields it lacks (a Received: trace field always, Date:, Message-ID:,
 * From: when missing; -t takes the recipients from To:, Cc: and Bcc: and
 * drops Bcc:), then goes into the queue through queue_enqueue(): the queue
 * worker delivers local recipients itself and sends the rest on, so the
 * CLI is one more writer of the one way in to the queue.
 *
 * Run as root, the command becomes [server] user before it touches the
 * data directory, so the new entry belongs to the server. An ordinary user
 * needs write access to the queue directory (the owner of a --dev setup).
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "mail/addr.h"
#include "queue/queue.h"
#include "queue/queue_file.h"
#include "tern/cli.h"
#include "tern/owner.h"

#define SENDMAIL_NAME_MAX	256	/* -F / the full name from the password file */

/* A growing byte buffer. */
struct sendmail {
	struct conf		 conf;
	struct dir		*dir;
	int			 from_headers;	/* -t */
	int			 dot_ends;	/* no -i / -oi */
	const char		*from;		/* -f, NULL = the invoking user */
	const char		*fullname;	/* -F */
	char			 domain[DIR_DOMAIN_MAX + 1];	/* for unqualified names */
	char			 login[64];
	unsigned long		 uid;		/* who ran us, before owner_become() */
	char			 gecos[SENDMAIL_NAME_MAX];
	struct queue_envelope	 env;
};

/* The first local domain, else [server] hostname. */
static void
first_local(void *arg, const char *domain, enum dir_domain_kind kind)
{
	struct sendmail *sm = arg;

	if (sm->domain[0] == '\0' && kind == DIR_DOMAIN_LOCAL)
		str_copy(sm->domain, domain, sizeof(sm->domain));
}

/*
 * addr as an envelope address in out: unqualified names get our domain;
 * "" and "<>" are the null sender when null_ok. 0, or -1 with why.
 */
static int
qualify(struct sendmail *sm, const char *addr, int null_ok, char *out, size_t outlen,
    const char **why)
{
	char path[ADDR_PATH_MAX + 8];
	struct addr a;
	const char *end;
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr++;
		len -= 2;
	}
	if (len == 0) {
		*why = "empty address";
		if (!null_ok)
			return -1;
		out[0] = '\0';
		return 0;
	}
	if (snprintf(path, sizeof(path), "<%.*s%s%s>", (int)len, addr,
	    memchr(addr, '@', len) != NULL ? "" : "@",
	    memchr(addr, '@', len) != NULL ? "" : sm->domain) >= (int)sizeof(path)) {
		*why = "address too long";
		return -1;
	}
	if (addr_parse_path(path, strlen(path), ADDR_ALLOW_UTF8, &a, &end, why) == -1)
		return -1;
	if ((size_t)(end - path) != strlen(path) || a.is_null) {
		*why = "bad address";
		return -1;
	}
	if (addr_format(&a, out, outlen) == -1) {
		*why = "address too long";
		return -1;
	}
	return 0;
}

static int
add_rcpt(struct sendmail *sm, const char *addr)
{
	char q[ADDR_PATH_MAX + 1], shown[ADDR_PATH_MAX * 4];
	const char *why = "";

	if (qualify(sm, addr, 0, q, sizeof(q), &why) == -1) {
		str_printable(shown, sizeof(shown), addr, strlen(addr));
		cli_error("bad recipient address '%s': %s", shown, why);
		return -1;
	}
	for (size_t i = 0; i < sm->env.nrcpts; i++)
		if (strcasecmp(sm->env.rcpts[i].address, q) == 0)
			return 0;
	if (sm->env.nrcpts >= QUEUE_RCPT_MAX || queue_envelope_add_rcpt(&sm->env, q) == -1) {
		cli_error("too many recipients");
		return -1;
	}
	return 0;
}

/*
 * The addresses of an address list (RFC 5322 3.4): "Name <a@b>, c@d,
 * group: e@f;". Display names, quoted strings and comments are skipped.
 */
static int
add_rcpt_list(struct sendmail *sm, const char *v, size_t len)
{
	char plain[ADDR_PATH_MAX + 1], angle[ADDR_PATH_MAX + 1];
	size_t np = 0, na = 0;
	int inquote = 0, comment = 0, inangle = 0, had_angle = 0, overflow = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? v[i] : ',';
		char *buf = inangle ? angle : plain;
		size_t *n = inangle ? &na : &np;

		if (c == '\r' || c == '\n')
			continue;	/* folding */
		if (comment > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		if (inquote) {
			if (c == '\\' && i + 1 < len && *n + 2 < ADDR_PATH_MAX) {
				buf[(*n)++] = c;
				c = v[++i];
			} else if (c == '"')
				inquote = 0;
		} else if (c == '"')
			inquote = 1;
		else if (c == '(') {
			comment = 1;
			continue;
		} else if (inangle && c == '>') {
			inangle = 0;
			continue;
		} else if (!inangle && c == '<') {
			inangle = had_angle = 1;
			na = 0;
			continue;
		} else if (!inangle && c == ':') {
			np = 0;		/* a group's display name */
			continue;
		} else if (!inangle && (c == ',' || c == ';')) {
			char *addr;

			plain[np] = '\0';
			angle[na] = '\0';
			if (overflow & (had_angle ? 2 : 1)) {
				cli_error("recipient address too long in a header field");
				return -1;
			}
			addr = str_trim(had_angle ? angle : plain);
			if (*addr != '\0' && add_rcpt(sm, addr) == -1)
				return -1;
			np = na = 0;
			had_angle = overflow = 0;
			continue;
		}
		if (*n + 1 < ADDR_PATH_MAX)
			buf[(*n)++] = c;
		else
			overflow |= inangle ? 2 : 1;	/* which buffer was cut */
	}
	return 0;
}

/* One header field: where it starts in the input and how long it is. */
struct field {
	size_t	off, len;
};

/* 1 when line (no line end) starts a header field: "name:" */
static int
field_start(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] > ' ' && line[i] < 127 && line[i] != ':')
		i++;
	return i > 0 && i < len && line[i] == ':';
}

static int
field_is(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name), i = n;

	if (len <= n || strncasecmp(text, name, n) != 0)
		return 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	return i < len && text[i] == ':';
}

/*
 * Read the message from stdin into msg with CRLF line ends. 0, or -1
 * printed.
 */
static int
read_message(struct sendmail *sm, struct buf *msg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t max = sm->conf.max_message_size;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (sm->dot_ends && len == 1 && line[0] == '.')
			break;
		buf_add(msg, line, len);
		buf_add(msg, "\r\n", 2);
		if (max > 0 && msg->len > max) {
			free(line);
			cli_error("message too large (limit %llu bytes)", (unsigned long long)max);
			return -1;
		}
	}
	free(line);
	if (ferror(stdin)) {
		cli_error("reading the message: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* An RFC 5322 date-time for now. */
static void
date_now(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	if (strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outlen);
}

/* name as a display name: atoms as they are, anything else quoted. */
static void
display_name(const char *name, char *out, size_t outlen)
{
	size_t o = 0;
	int plain = 1;

	for (const char *p = name; *p != '\0'; p++)
		if (strchr("()<>[]:;@\\,.\"", *p) != NULL || (unsigned char)*p < ' ')
			plain = 0;
	if (plain) {
		str_copy(out, name, outlen);
		return;
	}
	if (outlen < 3) {
		out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (const char *p = name; *p != '\0' && o + 3 < outlen; p++) {
		if ((unsigned char)*p < ' ')
			continue;
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/*
 * The message to queue: our Received:, the header fields as given (Bcc:
 * dropped under -t), the missing ones, the body. Recipients of -t are
 * added on the way. 0, or -1 printed.
 */
static int
build_message(struct sendmail *sm, const struct buf *in, struct buf *out)
{
	struct field *fields = NULL;
	size_t nfields = 0, pos = 0, body;
	int has_from = 0, has_date = 0, has_msgid = 0, rc = -1;
	char date[64], name[SENDMAIL_NAME_MAX + 8], sender[ADDR_PATH_MAX + 1];
	char rnd[17];
	struct buf head = BUF_INIT;

	/* an mbox separator line ("From user date") is not part of the message */
	if (in->len >= 5 && memcmp(in->p, "From ", 5) == 0)
		pos = (size_t)((char *)memchr(in->p, '\n', in->len) - in->p) + 1;
	/* the header block: fields and their continuation lines */
	while (pos < in->len) {
		const char *line = in->p + pos, *nl = memchr(line, '\n', in->len - pos);
		size_t len = (size_t)(nl - line) - 1;	/* without CRLF */

		if (len == 0) {
			pos += 2;
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && nfields > 0)
			fields[nfields - 1].len += len + 2;
		else if (field_start(line, len)) {
			fields = xreallocarray(fields, nfields + 1, sizeof(*fields));
			fields[nfields].off = pos;
			fields[nfields].len = len + 2;
			nfields++;
		} else
			break;	/* no empty line: the body starts here */
		pos += len + 2;
	}
	body = pos;

	for (size_t i = 0; i < nfields; i++) {
		const char *t = in->p + fields[i].off;
		size_t len = fields[i].len;
		int bcc = field_is(t, len, "bcc");

		has_from |= field_is(t, len, "from");
		has_date |= field_is(t, len, "date");
		has_msgid |= field_is(t, len, "message-id");
		if (sm->from_headers && (bcc || field_is(t, len, "to") ||
		    field_is(t, len, "cc"))) {
			const char *colon = memchr(t, ':', len);
			if (add_rcpt_list(sm, colon + 1, len - (size_t)(colon + 1 - t)) == -1)
				goto out;
		}
		if (!(sm->from_headers && bcc))
			buf_add(&head, t, len);
	}
	if (sm->env.nrcpts == 0) {
		cli_error(sm->from_headers ? "no recipients in To:, Cc: or Bcc:" :
		    "no recipients given");
		goto out;
	}

	date_now(date, sizeof(date));
	buf_printf(out, "Received: by %s (tern sendmail, uid %lu)\r\n\tid %s%s%s%s;\r\n\t%s\r\n",
	    sm->conf.hostname, sm->uid, sm->env.id,
	    sm->env.nrcpts == 1 ? " for <" : "",
	    sm->env.nrcpts == 1 ? sm->env.rcpts[0].address : "",
	    sm->env.nrcpts == 1 ? ">" : "", date);
	if (head.len > 0)
		buf_add(out, head.p, head.len);
	if (!has_from) {
		const char *full = sm->fullname != NULL ? sm->fullname : sm->gecos;
		if (sm->env.from[0] != '\0')
			str_copy(sender, sm->env.from, sizeof(sender));
		else
			snprintf(sender, sizeof(sender), "%s@%s", sm->login, sm->domain);
		display_name(full, name, sizeof(name));
		if (name[0] != '\0')
			buf_printf(out, "From: %s <%s>\r\n", name, sender);
		else
			buf_printf(out, "From: %s\r\n", sender);
	}
	if (!has_date)
		buf_printf(out, "Date: %s\r\n", date);
	if (!has_msgid) {
		str_random_hex(rnd, 8);
		buf_printf(out, "Message-ID: <%s.%s@%s>\r\n", sm->env.id, rnd, sm->conf.hostname);
	}
	buf_add(out, "\r\n", 2);
	buf_add(out, in->p + body, in->len - body);
	rc = 0;
out:
	free(head.p);
	free(fields);
	return rc;
}

/* Who runs us: login name and full name (the first part of the GECOS field). */
static void
invoking_user(struct sendmail *sm)
{
	struct passwd *pw = getpwuid(getuid());

	sm->uid = (unsigned long)getuid();
	if (pw == NULL) {
		snprintf(sm->login, sizeof(sm->login), "uid%lu", (unsigned long)getuid());
		return;
	}
	str_copy(sm->login, pw->pw_name, sizeof(sm->login));
	if (pw->pw_gecos != NULL) {
		str_copy(sm->gecos, pw->pw_gecos, sizeof(sm->gecos));
		sm->gecos[strcspn(sm->gecos, ",")] = '\0';
	}
}

static int
usage_sendmail(void)
{
	fprintf(stderr, "tern: usage: sendmail [-t] [-i] [-oi] [-f FROM] [-F NAME] "
	    "[RCPT...]\n");
	return CLI_USAGE;
}

static int
newaliases(void)
{
	printf("newaliases: nothing to do: tern keeps aliases in its directory "
	    "(tern alias add|del|list)\n");
	return CLI_OK;
}

static int
mailq(struct cli *cli)
{
	char *argv[] = { "list", NULL };

	return cmd_queue(cli, 1, argv);
}

int
cmd_sendmail(struct cli *cli, int argc, char **argv)
{
	struct sendmail sm;
	struct buf in = BUF_INIT, out = BUF_INIT;
	char why[1024], dbpath[PATH_MAX], qdir[PATH_MAX], sender[ADDR_PATH_MAX + 1];
	const char *err = "";
	int i, rc = CLI_ERROR;

	memset(&sm, 0, sizeof(sm));
	sm.dot_ends = 1;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *val;

		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == 'o') {
			/* -oi; -oem, -odb and the other old options mean nothing here */
			if (strcmp(a, "-oi") == 0)
				sm.dot_ends = 0;
			continue;
		}
		if (strchr("fFrCBNRVX", a[1]) != NULL) {
			val = a[2] != '\0' ? a + 2 : i + 1 < argc ? argv[++i] : NULL;
			if (val == NULL)
				return usage_sendmail();
			if (a[1] == 'f' || a[1] == 'r')
				sm.from = val;
			else if (a[1] == 'F')
				sm.fullname = val;
			else if (a[1] == 'C')
				cli->conf_path = val;
			/* -B body type, -N, -R, -V (DSN), -X log: accepted, ignored */
			continue;
		}
		if (a[1] == 'b') {
			if (strcmp(a, "-bp") == 0)
				return mailq(cli);
			if (strcmp(a, "-bi") == 0)
				return newaliases();
			if (strcmp(a, "-bm") == 0)
				continue;
			return cli_error("sendmail: mode %s is not supported", a);
		}
		for (const char *p = a + 1; *p != '\0'; p++) {
			if (*p == 't')
				sm.from_headers = 1;
			else if (*p == 'i')
				sm.dot_ends = 0;
			else if (*p != 'm' && *p != 'v' && *p != 'U')
				return usage_sendmail();
		}
	}
	if (!sm.from_headers && i >= argc)
		return usage_sendmail();

	invoking_user(&sm);
	if (conf_load(&sm.conf, conf_default_path(cli->conf_path), why, sizeof(why)) == -1)
		return cli_error("%s", why);
	if (owner_become(sm.conf.user, why, sizeof(why)) == -1) {
		cli_error("%s", why);
		goto done;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/directory.db", sm.conf.data_dir);
	if ((sm.dir = dir_open(dbpath, DIR_OPEN_READ, why, sizeof(why))) == NULL) {
		cli_error("%s", why);
		goto done;
	}
	if (dir_domain_list(sm.dir, first_local, &sm, why, sizeof(why)) == -1 ||
	    sm.domain[0] == '\0')
		str_copy(sm.domain, sm.conf.hostname, sizeof(sm.domain));
	dir_close(&sm.dir);

	queue_file_new_id(sm.env.id, sizeof(sm.env.id));
	sm.env.created = sm.env.next_try = time(NULL);
	if (sm.from != NULL) {
		if (qualify(&sm, sm.from, 1, sender, sizeof(sender), &err) == -1) {
			cli_error("bad sender address '%s': %s", sm.from, err);
			goto done;
		}
	} else
		snprintf(sender, sizeof(sender), "%s@%s", sm.login, sm.domain);
	str_copy(sm.env.from, sender, sizeof(sm.env.from));
	for (; i < argc; i++)
		if (add_rcpt(&sm, argv[i]) == -1)
			goto done;
	if (read_message(&sm, &in) == -1 || build_message(&sm, &in, &out) == -1)
		goto done;

	snprintf(qdir, sizeof(qdir), "%s/%s", sm.conf.data_dir, QUEUE_DIR_NAME);
	if (fs_mkdir_p(qdir, 0700) == -1) {
		cli_error("cannot create %s: %s", qdir, strerror(errno));
		goto done;
	}
	if (queue_enqueue(qdir, &sm.env, -1, 0, out.p, out.len, &err) == -1) {
		cli_error("cannot queue the message: %s", err);
		goto done;
	}
	rc = CLI_OK;
done:
	if (sm.dir != NULL)
		dir_close(&sm.dir);
	free(in.p);
	free(out.p);
	queue_envelope_free(&sm.env);
	conf_free(&sm.conf);
	return rc;
}

/* Called as sendmail, mailq or newaliases (a link to tern): 0 when not. */
int
cmd_classic(const char *name, int argc, char **argv, int *rc)
{
	struct cli cli = { .conf_path = NULL, .usage = "" };

	if (strcmp(name, "sendmail") == 0) {
		cli.usage = "sendmail [-t] [-i] [-f FROM] [RCPT...]";
		*rc = cmd_sendmail(&cli, argc - 1, argv + 1);
		return 1;
	}
	if (strcmp(name, "mailq") == 0) {
		/* mailq [-v] [-C FILE]: the config as sendmail's -C names it */
		cli.usage = "queue list";
		for (int i = 1; i < argc; i++)
			if ((strcmp(argv[i], "-C") == 0 || strcmp(argv[i], "-c") == 0) &&
			    i + 1 < argc)
				cli.conf_path = argv[++i];
		*rc = mailq(&cli);
		return 1;
	}
	if (strcmp(name, "newaliases") == 0) {
		*rc = newaliases();
		return 1;
	}
	return 0;
}
