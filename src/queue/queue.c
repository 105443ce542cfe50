/*
 * queue - the worker: entries in memory, one timer, runs.
 *
 * The files are the truth; memory holds only the id, when each entry is
 * due and whether it is being delivered. A run reads the entry again,
 * delivers, and writes the result before the entry becomes due again, so
 * a kill -9 at any point loses nothing: at worst a recipient that got the
 * message is tried once more (SMTP is at-least-once).
 *
 * Disk work (reading an entry, rewriting it, local delivery) is done on
 * the loop thread: this worker serves no clients, and an entry's disk work
 * is small next to its network round trips.
 */
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "deliver/deliver.h"
#include "deliver/maildir.h"
#include "directory/dir.h"
#include "net/worker.h"
#include "queue/queue.h"
#include "queue/queue_dsn.h"
#include "queue/queue_file.h"
#include "queue/queue_scheduler.h"
#include "smtpc/smtpc_session.h"

#define QUEUE_RESCAN_SECS	300	/* a full directory scan, in case an event was lost */
#define QUEUE_MAX_HOPS		50	/* Received: headers before a loop is declared */
#define QUEUE_SELF_MAX		64	/* our own addresses, to never connect to */

struct qentry {
	TAILQ_ENTRY(qentry)	 entry;
	char			 id[QUEUE_ID_MAX];
	time_t			 next_try;
	int			 running;
	int			 seen;		/* mark for the rescan */
};

struct qserver;

struct qdomain {
	struct qrun		*run;
	char			 domain[256];
	struct smtpc_params	 params;
	struct smtpc_rcpt	*rcpts;
	size_t			*idx;		/* envelope index of each rcpt */
	size_t			 n;
	struct smtpc_job	*job;
	int			 done;
};

struct qrun {
	struct qserver		*srv;
	struct qentry		*e;
	struct queue_envelope	 env;
	char			*msg;
	size_t			 msglen;
	struct qdomain		*doms;
	size_t			 ndoms;
	size_t			 pending;	/* domains not done */
	unsigned char		*failed_now;	/* per rcpt: failed in this run */
	unsigned char		*done_now;	/* per rcpt: QUEUE_DSN_DELIVERED/RELAYED */
	TAILQ_ENTRY(qrun)	 entry;
};

struct qserver {
	const struct conf	*conf;
	struct event_base	*base;
	struct smtpc_dns	*dns;
	struct smtpc_pool	*pool;		/* connection reuse, max_per_destination */
	SSL_CTX			*ssl;
	struct dir		*dir;
	char			*smarthost_pass;	/* NULL: none, or the file is unreadable */
	char			 smarthost_err[256];	/* why, when it is unreadable */
	struct sockaddr_storage	 self[QUEUE_SELF_MAX];	/* our listeners, with port */
	size_t			 nself;
	char			 queue_dir[PATH_MAX];
	char			 spool_dir[PATH_MAX];
	char			 corrupt_dir[PATH_MAX + 16];
	TAILQ_HEAD(, qentry)	 entries;
	TAILQ_HEAD(, qrun)	 runs;
	int			 nruns;
	struct worker		*worker;	/* loop and graceful stop; runs count as sessions */
	int			 inotify_fd;
	struct event		*inotify_ev;
	struct event		*timer;
	struct event		*rescan;
};

static void reschedule(struct qserver *srv);
static void kick(struct qserver *srv);
static void flush_all(struct qserver *srv);

/* --- entries --- */

static struct qentry *
entry_find(struct qserver *srv, const char *id)
{
	struct qentry *e;

	TAILQ_FOREACH(e, &srv->entries, entry)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void
entry_drop(struct qserver *srv, struct qentry *e)
{
	TAILQ_REMOVE(&srv->entries, e, entry);
	free(e);
}

/* A damaged file is kept for a human, out of the way. */
static void
quarantine(struct qserver *srv, const char *id, const char *why)
{
	char from[PATH_MAX + 64], to[PATH_MAX + 96];

	log_error("event=queue-corrupt id=%s reason=\"%s\": moved to %s", id, why,
	    srv->corrupt_dir);
	fs_mkdir_p(srv->corrupt_dir, 0700);
	snprintf(from, sizeof(from), "%s/%s", srv->queue_dir, id);
	snprintf(to, sizeof(to), "%s/%s", srv->corrupt_dir, id);
	if (rename(from, to) == -1)
		log_error("event=queue-corrupt id=%s: cannot move: %s", id, strerror(errno));
}

/* Learn about queue/<id> (new, or changed by us or the CLI). */
static void
entry_load(struct qserver *srv, const char *id)
{
	struct queue_envelope env;
	struct qentry *e;
	const char *err = "";

	if (!queue_file_id_ok(id))
		return;
	e = entry_find(srv, id);
	if (e != NULL && e->running)
		return;
	if (queue_file_load(srv->queue_dir, id, &env, &err) == -1) {
		if (errno == EINVAL)
			quarantine(srv, id, err);
		if (e != NULL)
			entry_drop(srv, e);
		return;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		str_copy(e->id, id, sizeof(e->id));
		TAILQ_INSERT_TAIL(&srv->entries, e, entry);
		log_debug("event=queue-new id=%s nrcpt=%zu", id, env.nrcpts);
	}
	e->next_try = env.next_try;
	e->seen = 1;
	queue_envelope_free(&env);
}

static void
scan(struct qserver *srv)
{
	struct qentry *e, *next;
	struct dirent *de;
	int flush = 0;
	DIR *d;

	if ((d = opendir(srv->queue_dir)) == NULL) {
		log_error("event=queue-scan-failed dir=%s: %s", srv->queue_dir, strerror(errno));
		return;
	}
	TAILQ_FOREACH(e, &srv->entries, entry)
		e->seen = e->running;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			/* an enqueue that never committed (crash): never acknowledged */
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
			    st.st_mtime < time(NULL) - 3600)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (strcmp(de->d_name, QUEUE_FLUSH_NAME) == 0) {
			/* asked for while no worker watched (restart): honour it */
			flush = 1;
			continue;
		}
		entry_load(srv, de->d_name);
	}
	closedir(d);
	for (e = TAILQ_FIRST(&srv->entries); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (!e->seen)
			entry_drop(srv, e);
	}
	if (flush)
		flush_all(srv);
}

static void
flush_all(struct qserver *srv)
{
	struct qentry *e;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", srv->queue_dir, QUEUE_FLUSH_NAME);
	unlink(path);
	int n = 0;

	TAILQ_FOREACH(e, &srv->entries, entry) {
		e->next_try = 0;
		n++;
	}
	log_info("event=queue-flush entries=%d", n);
}

/* --- local delivery (bounces to local senders, local recipients of a run) --- */

/* Put msg into the mailboxes of res; 0, or -1 with status/diag set. */
static int
local_mailboxes(struct qserver *srv, struct qrun *run, struct queue_rcpt *r,
    const struct dir_resolution *res)
{
	struct deliver_target *targets;
	struct deliver_job job;
	char name[PATH_MAX + 64], rp[ADDR_PATH_MAX + 32];
	int fd, rp_len, rc = -1;
	static unsigned seq;

	targets = xcalloc(res->nmailboxes, sizeof(*targets));
	for (size_t i = 0; i < res->nmailboxes; i++) {
		if (maildir_path(targets[i].path, sizeof(targets[i].path), srv->conf->data_dir,
		    res->mailboxes[i].domain, res->mailboxes[i].local) == -1)
			goto out;
		targets[i].quota = res->mailboxes[i].quota;
	}
	snprintf(name, sizeof(name), "%s/%ld-q%s-%u", srv->spool_dir, (long)getpid(),
	    run->env.id, seq++);
	/* the final hop records the envelope sender (RFC 5321 4.4) */
	rp_len = snprintf(rp, sizeof(rp), "Return-Path: <%s>\r\n", run->env.from);
	fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || rp_len < 0 || (size_t)rp_len >= sizeof(rp) ||
	    fs_write_all(fd, rp, (size_t)rp_len) == -1 ||
	    fs_write_all(fd, run->msg, run->msglen) == -1) {
		if (fd != -1) {
			close(fd);
			unlink(name);
		}
		snprintf(r->diag, sizeof(r->diag), "cannot write spool file: %s",
		    strerror(errno));
		goto out;
	}
	memset(&job, 0, sizeof(job));
	job.spool_fd = fd;
	str_copy(job.spool_path, name, sizeof(job.spool_path));
	job.size = run->msglen + (size_t)rp_len;
	job.targets = targets;
	job.ntargets = res->nmailboxes;
	deliver_commit(&job);
	close(fd);
	if (job.status == DELIVER_OK)
		rc = 0;
	else
		snprintf(r->diag, sizeof(r->diag), "local delivery failed: %s", job.why);
out:
	free(targets);
	return rc;
}

/*
 * Alias destinations off this host: a new entry, same sender (one way in),
 * keeping what the sender asked to be told (RFC 3461 NOTIFY, ORCPT).
 */
static int
local_forward(struct qserver *srv, struct qrun *run, const struct queue_rcpt *r,
    const struct dir_resolution *res)
{
	struct queue_envelope fwd;
	const char *err;
	int rc = 0;

	memset(&fwd, 0, sizeof(fwd));
	queue_file_new_id(fwd.id, sizeof(fwd.id));
	str_copy(fwd.from, run->env.from, sizeof(fwd.from));
	fwd.created = fwd.next_try = time(NULL);
	fwd.ret = run->env.ret;
	str_copy(fwd.envid, run->env.envid, sizeof(fwd.envid));
	for (size_t i = 0; i < res->nremote; i++) {
		struct queue_rcpt *f;
		if (queue_envelope_add_rcpt(&fwd, res->remote[i]) == -1)
			continue;
		f = &fwd.rcpts[fwd.nrcpts - 1];
		f->notify = r->notify;
		if (r->orcpt[0] != '\0')
			str_copy(f->orcpt, r->orcpt, sizeof(f->orcpt));
		else
			snprintf(f->orcpt, sizeof(f->orcpt), "rfc822;%s", r->address);
	}
	if (queue_enqueue(srv->queue_dir, &fwd, -1, 0, run->msg, run->msglen, &err) == -1) {
		log_error("event=queue-forward-failed id=%s: %s", run->env.id, err);
		rc = -1;
	}
	queue_envelope_free(&fwd);
	return rc;
}

static void
rcpt_set(struct queue_rcpt *r, enum queue_rcpt_state state, const char *status,
    const char *diag)
{
	r->state = state;
	str_copy(r->status, status, sizeof(r->status));
	if (diag != NULL)
		str_copy(r->diag, diag, sizeof(r->diag));
}

static void
local_deliver(struct qserver *srv, struct qrun *run, size_t i)
{
	struct queue_rcpt *r = &run->env.rcpts[i];
	struct dir_resolution res;

	dir_resolve(srv->dir, r->address, srv->conf->recipient_delimiter, &res);
	switch (res.status) {
	case DIR_RESOLVE_OK:
		if (res.nmailboxes > 0 && local_mailboxes(srv, run, r, &res) == -1) {
			rcpt_set(r, QUEUE_RCPT_PENDING, "4.3.0", NULL);
			break;
		}
		if (res.nremote > 0 && local_forward(srv, run, r, &res) == -1) {
			rcpt_set(r, QUEUE_RCPT_PENDING, "4.3.0", "cannot queue forward");
			break;
		}
		rcpt_set(r, QUEUE_RCPT_DONE, "2.0.0", "delivered locally");
		if (res.nmailboxes > 0)
			run->done_now[i] = QUEUE_DSN_DELIVERED;
		log_info("event=queue-delivered id=%s to=<%s> local=1", run->env.id, r->address);
		break;
	case DIR_RESOLVE_UNKNOWN:
		rcpt_set(r, QUEUE_RCPT_FAILED, "5.1.1", "550 5.1.1 user unknown");
		break;
	case DIR_RESOLVE_DISABLED:
		rcpt_set(r, QUEUE_RCPT_FAILED, "5.2.1", "550 5.2.1 mailbox disabled");
		break;
	case DIR_RESOLVE_LOOP:
		rcpt_set(r, QUEUE_RCPT_FAILED, "5.4.6", "554 5.4.6 alias loop");
		break;
	default:
		rcpt_set(r, QUEUE_RCPT_PENDING, "4.3.0", "directory unavailable");
		break;
	}
	if (r->state == QUEUE_RCPT_FAILED) {
		run->failed_now[i] = 1;
		log_info("event=queue-failed id=%s to=<%s> local=1 reason=\"%s\"", run->env.id,
		    r->address, r->diag);
	} else if (r->state == QUEUE_RCPT_PENDING)
		log_info("event=queue-deferred id=%s to=<%s> local=1 reason=\"%s\"", run->env.id,
		    r->address, r->diag);
	dir_resolution_free(&res);
}

/* --- runs --- */

static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/* Received: fields in the header block, for loop protection. */
static int
count_hops(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	int n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (l == 0 || (l == 1 && p[0] == '\r'))
			break;
		if (l >= 9 && str_prefix_ci(p, "received:"))
			n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

static void
run_free(struct qrun *run)
{
	for (size_t i = 0; i < run->ndoms; i++) {
		free(run->doms[i].rcpts);
		free(run->doms[i].idx);
	}
	free(run->doms);
	free(run->msg);
	free(run->failed_now);
	free(run->done_now);
	queue_envelope_free(&run->env);
	free(run);
}

/*
 * Still open after [queue] delay_notice: tell the sender once (RFC 3464
 * Action: delayed). The mark is written back with the entry; should that
 * fail, the notice may go out twice, never not at all.
 */
static void
delay_notice(struct qrun *run, time_t now, time_t lifetime)
{
	struct qserver *srv = run->srv;
	struct queue_envelope *env = &run->env;
	unsigned char *which;
	char id[QUEUE_ID_MAX];
	const char *err = "";

	if (!queue_scheduler_delay_due(env->created, now, (time_t)srv->conf->queue_delay_notice,
	    env->delay_notified))
		return;
	which = xcalloc(env->nrcpts + 1, 1);
	for (size_t i = 0; i < env->nrcpts; i++)
		which[i] = env->rcpts[i].state == QUEUE_RCPT_PENDING;
	if (queue_dsn_enqueue_delay(srv->queue_dir, env, which, srv->conf->hostname, run->msg,
	    run->msglen, now, env->created + lifetime, id, &err) == -1)
		log_error("event=queue-delay-notice-failed id=%s: %s", env->id, err);
	else {
		env->delay_notified = 1;
		if (id[0] != '\0')
			log_info("event=queue-delay-notice id=%s notice=%s to=<%s>", env->id, id,
			    env->from);
	}
	free(which);
}

static void
run_finish(struct qrun *run)
{
	struct qserver *srv = run->srv;
	struct queue_envelope *env = &run->env;
	time_t now = time(NULL);
	time_t lifetime = (time_t)srv->conf->queue_lifetime;
	const char *err = "";
	char bounce_id[QUEUE_ID_MAX];
	size_t npending;

	/* results of the remote domains */
	for (size_t d = 0; d < run->ndoms; d++) {
		struct qdomain *dom = &run->doms[d];
		for (size_t k = 0; k < dom->n; k++) {
			struct smtpc_rcpt *sr = &dom->rcpts[k];
			struct queue_rcpt *r = &env->rcpts[dom->idx[k]];
			if (sr->code >= 200 && sr->code < 300) {
				rcpt_set(r, QUEUE_RCPT_DONE, sr->status, sr->diag);
				/* a next hop that takes DSN reports success itself */
				if (!sr->next_hop_dsn)
					run->done_now[dom->idx[k]] = QUEUE_DSN_RELAYED;
				log_info("event=queue-delivered id=%s to=<%s> tls=\"%s\" dsn=%s "
				    "reply=\"%s\"", env->id, r->address, sr->tls,
				    sr->next_hop_dsn ? "passed" : "no", sr->diag);
			} else if (sr->code >= 500) {
				rcpt_set(r, QUEUE_RCPT_FAILED, sr->status, sr->diag);
				run->failed_now[dom->idx[k]] = 1;
				log_info("event=queue-failed id=%s to=<%s> reason=\"%s\"", env->id,
				    r->address, sr->diag);
			} else {
				rcpt_set(r, QUEUE_RCPT_PENDING, sr->status[0] != '\0' ?
				    sr->status : "4.0.0", sr->diag);
				log_info("event=queue-deferred id=%s to=<%s> reason=\"%s\"", env->id,
				    r->address, sr->diag);
			}
		}
	}
	env->attempts++;
	env->last_try = now;
	/* what is still open after its lifetime fails for good */
	if (queue_scheduler_expired(env->created, now, lifetime))
		for (size_t i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].state == QUEUE_RCPT_PENDING) {
				char diag[QUEUE_DIAG_MAX];
				snprintf(diag, sizeof(diag), "delivery time expired; last error: %s",
				    env->rcpts[i].diag);
				rcpt_set(&env->rcpts[i], QUEUE_RCPT_FAILED, "4.4.7", diag);
				run->failed_now[i] = 1;
			}
	/* NOTIFY=SUCCESS: best effort, the deliveries stand whatever happens here */
	if (queue_dsn_enqueue_success(srv->queue_dir, env, run->done_now, srv->conf->hostname,
	    run->msg, run->msglen, now, bounce_id, &err) == -1)
		log_error("event=queue-success-dsn-failed id=%s: %s", env->id, err);
	else if (bounce_id[0] != '\0')
		log_info("event=queue-success-dsn id=%s dsn=%s to=<%s>", env->id, bounce_id,
		    env->from);
	if (queue_dsn_enqueue(srv->queue_dir, env, run->failed_now, srv->conf->hostname,
	    run->msg, run->msglen, now, bounce_id, &err) == -1) {
		/* the entry stays as it was on disk: tried again later, bounce then */
		log_error("event=queue-bounce-failed id=%s: %s", env->id, err);
		run->e->next_try = now + queue_scheduler_backoff(1);
	} else {
		if (bounce_id[0] != '\0')
			log_info("event=queue-bounce id=%s bounce=%s to=<%s>", env->id, bounce_id,
			    env->from);
		npending = queue_envelope_count(env, QUEUE_RCPT_PENDING);
		if (npending == 0) {
			if (queue_file_remove(srv->queue_dir, env->id) == -1 && errno != ENOENT)
				log_error("event=queue-remove-failed id=%s: %s", env->id,
				    strerror(errno));
			log_info("event=queue-done id=%s", env->id);
			entry_drop(srv, run->e);
			run->e = NULL;
		} else {
			for (size_t i = 0; i < env->nrcpts; i++)
				if (env->rcpts[i].state == QUEUE_RCPT_PENDING) {
					str_copy(env->last_error, env->rcpts[i].diag,
					    sizeof(env->last_error));
					break;
				}
			delay_notice(run, now, lifetime);
			env->next_try = queue_scheduler_next(env->created, now, env->attempts,
			    lifetime);
			env->next_try = queue_scheduler_next_notice(env->next_try, env->created,
			    now, (time_t)srv->conf->queue_delay_notice, env->delay_notified);
			if (queue_file_rewrite(srv->queue_dir, env, &err) == -1) {
				if (errno == ENOENT) {
					entry_drop(srv, run->e);
					run->e = NULL;
				} else
					log_error("event=queue-rewrite-failed id=%s: %s", env->id,
					    err);
			}
			if (run->e != NULL)
				run->e->next_try = env->next_try;
			log_info("event=queue-retry id=%s pending=%zu next=%+llds", env->id,
			    npending, (long long)(env->next_try - now));
		}
	}
	if (run->e != NULL) {
		run->e->running = 0;
		if (run->e->next_try <= now)
			run->e->next_try = now + queue_scheduler_backoff(1);
	}
	TAILQ_REMOVE(&srv->runs, run, entry);
	srv->nruns--;
	run_free(run);
	worker_session_end(srv->worker);
	kick(srv);
}

static void
domain_done(void *arg)
{
	struct qdomain *dom = arg;

	dom->done = 1;
	dom->job = NULL;
	if (--dom->run->pending == 0)
		run_finish(dom->run);
}

/*
 * The smarthost password: [queue] smarthost_password, or the first line of
 * smarthost_password_file, read as the worker's user (so the file must be
 * readable by [server] user). Read again at each run while it fails.
 */
static int
smarthost_password(struct qserver *srv)
{
	const struct conf *conf = srv->conf;
	char line[1024];
	FILE *f;

	if (conf->queue_smarthost_user == NULL || srv->smarthost_pass != NULL)
		return 0;
	if (conf->queue_smarthost_password != NULL) {
		srv->smarthost_pass = xstrdup(conf->queue_smarthost_password);
		return 0;
	}
	if ((f = fopen(conf->queue_smarthost_password_file, "re")) == NULL) {
		snprintf(srv->smarthost_err, sizeof(srv->smarthost_err),
		    "cannot read [queue] smarthost_password_file %s: %s",
		    conf->queue_smarthost_password_file, strerror(errno));
		log_error("event=queue-smarthost-password %s", srv->smarthost_err);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0') {
		snprintf(srv->smarthost_err, sizeof(srv->smarthost_err),
		    "[queue] smarthost_password_file %s is empty",
		    conf->queue_smarthost_password_file);
		log_error("event=queue-smarthost-password %s", srv->smarthost_err);
		return -1;
	}
	srv->smarthost_pass = xstrdup(line);
	explicit_bzero(line, sizeof(line));
	srv->smarthost_err[0] = '\0';
	return 0;
}

/*
 * Group the open remote recipients by domain (with a smarthost: all in one
 * group, one transaction); deliver the local ones now.
 */
static void
run_plan(struct qserver *srv, struct qrun *run)
{
	struct queue_envelope *env = &run->env;
	const char *relay = srv->conf->queue_smarthost;
	int relay_ok = relay == NULL || smarthost_password(srv) == 0;

	for (size_t i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		char domain[256];
		struct qdomain *dom = NULL;

		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		str_copy(domain, domain_of(r->address), sizeof(domain));
		str_lower_ascii(domain);
		if (dir_domain_kind(srv->dir, domain) == DIR_DOMAIN_LOCAL) {
			local_deliver(srv, run, i);
			continue;
		}
		if (!relay_ok) {
			rcpt_set(r, QUEUE_RCPT_PENDING, "4.3.5", srv->smarthost_err);
			log_info("event=queue-deferred id=%s to=<%s> reason=\"%s\"", env->id,
			    r->address, srv->smarthost_err);
			continue;
		}
		if (relay != NULL)
			str_copy(domain, relay, sizeof(domain));
		for (size_t d = 0; d < run->ndoms; d++)
			if (strcmp(run->doms[d].domain, domain) == 0)
				dom = &run->doms[d];
		if (dom == NULL) {
			run->doms = xreallocarray(run->doms, run->ndoms + 1, sizeof(*run->doms));
			dom = &run->doms[run->ndoms++];
			memset(dom, 0, sizeof(*dom));
			str_copy(dom->domain, domain, sizeof(dom->domain));
		}
		dom->rcpts = xreallocarray(dom->rcpts, dom->n + 1, sizeof(*dom->rcpts));
		dom->idx = xreallocarray(dom->idx, dom->n + 1, sizeof(*dom->idx));
		memset(&dom->rcpts[dom->n], 0, sizeof(dom->rcpts[dom->n]));
		dom->rcpts[dom->n].address = r->address;
		dom->rcpts[dom->n].notify = r->notify;
		dom->rcpts[dom->n].orcpt = r->orcpt;
		dom->idx[dom->n] = i;
		dom->n++;
	}
}

static void
run_start(struct qserver *srv, struct qentry *e)
{
	struct qrun *run;
	const char *err = "";
	time_t now = time(NULL);

	run = xcalloc(1, sizeof(*run));
	run->srv = srv;
	run->e = e;
	if (queue_file_load(srv->queue_dir, e->id, &run->env, &err) == -1) {
		if (errno == EINVAL)
			quarantine(srv, e->id, err);
		else if (errno != ENOENT)
			log_error("event=queue-load-failed id=%s: %s", e->id, strerror(errno));
		entry_drop(srv, e);
		free(run);
		return;
	}
	if (queue_file_read_message(srv->queue_dir, &run->env, &run->msg, &run->msglen) == -1) {
		log_error("event=queue-load-failed id=%s: %s", e->id, strerror(errno));
		e->next_try = now + 60;
		queue_envelope_free(&run->env);
		free(run);
		return;
	}
	e->running = 1;
	TAILQ_INSERT_TAIL(&srv->runs, run, entry);
	srv->nruns++;
	worker_session_begin(srv->worker);
	run->failed_now = xcalloc(run->env.nrcpts + 1, 1);
	run->done_now = xcalloc(run->env.nrcpts + 1, 1);
	log_debug("event=queue-run id=%s attempts=%d", e->id, run->env.attempts);

	if (count_hops(run->msg, run->msglen) > QUEUE_MAX_HOPS) {
		for (size_t i = 0; i < run->env.nrcpts; i++)
			if (run->env.rcpts[i].state == QUEUE_RCPT_PENDING) {
				rcpt_set(&run->env.rcpts[i], QUEUE_RCPT_FAILED, "5.4.6",
				    "554 5.4.6 too many hops (mail loop?)");
				run->failed_now[i] = 1;
			}
	} else
		run_plan(srv, run);

	run->pending = run->ndoms;
	if (run->pending == 0) {
		run_finish(run);
		return;
	}
	for (size_t d = 0; d < run->ndoms; d++) {
		struct qdomain *dom = &run->doms[d];
		struct smtpc_params *p = &dom->params;
		dom->run = run;
		p->base = srv->base;
		p->dns = srv->dns;
		p->pool = srv->pool;
		p->ssl = srv->ssl;
		p->helo = srv->conf->hostname;
		p->port = srv->conf->queue_remote_port;
		p->domain = dom->domain;
		if (srv->conf->queue_smarthost != NULL) {
			p->relay_host = srv->conf->queue_smarthost;
			p->relay_mx = srv->conf->queue_smarthost_mx;
			p->port = srv->conf->queue_smarthost_port;
			p->auth_user = srv->conf->queue_smarthost_user;
			p->auth_pass = srv->smarthost_pass;
		}
		p->ret = run->env.ret == QUEUE_RET_FULL ? SMTPC_RET_FULL :
		    run->env.ret == QUEUE_RET_HDRS ? SMTPC_RET_HDRS : SMTPC_RET_NONE;
		p->envid = run->env.envid;
		p->self_name = srv->conf->hostname;
		p->self_addrs = srv->self;
		p->nself = srv->nself;
		p->from = run->env.from;
		p->msg = run->msg;
		p->msglen = run->msglen;
		p->rcpts = dom->rcpts;
		p->nrcpts = dom->n;
		p->done = domain_done;
		p->arg = dom;
	}
	/* started after all params are set: doms[] no longer moves */
	for (size_t d = 0; d < run->ndoms; d++)
		run->doms[d].job = smtpc_start(&run->doms[d].params);
}

/* --- ourselves --- */

static void
self_add(struct qserver *srv, const struct sockaddr *sa, in_port_t port)
{
	struct sockaddr_storage *ss;

	if (srv->nself == QUEUE_SELF_MAX)
		return;
	ss = &srv->self[srv->nself];
	memset(ss, 0, sizeof(*ss));
	if (sa->sa_family == AF_INET) {
		memcpy(ss, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)ss)->sin_port = port;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(ss, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)ss)->sin6_port = port;
	} else
		return;
	srv->nself++;
}

static int
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

/*
 * Where we listen, so that the SMTP client never connects to us (a backup
 * MX must not relay to itself): every [listen] address; a wildcard stands
 * for each address of this machine's interfaces, with its port.
 */
static void
self_collect(struct qserver *srv)
{
	struct listener_addr addrs[LISTENER_MAX_ADDRS];
	struct ifaddrs *ifa = NULL;
	char why[256];
	int n;

	for (int k = 0; k < CONF_LISTEN_COUNT; k++) {
		n = listener_parse(srv->conf->listen[k], addrs, LISTENER_MAX_ADDRS, why,
		    sizeof(why));
		for (int i = 0; i < n; i++) {
			const struct sockaddr_storage *ss = &addrs[i].ss;
			in_port_t port = ss->ss_family == AF_INET6 ?
			    ((const struct sockaddr_in6 *)ss)->sin6_port :
			    ((const struct sockaddr_in *)ss)->sin_port;
			if (!is_wildcard(ss)) {
				self_add(srv, (const struct sockaddr *)ss, port);
				continue;
			}
			if (ifa == NULL && getifaddrs(&ifa) == -1) {
				log_warn("event=queue-self getifaddrs: %s", strerror(errno));
				ifa = NULL;
				continue;
			}
			for (struct ifaddrs *p = ifa; p != NULL; p = p->ifa_next)
				if (p->ifa_addr != NULL && p->ifa_addr->sa_family == ss->ss_family)
					self_add(srv, p->ifa_addr, port);
		}
	}
	if (ifa != NULL)
		freeifaddrs(ifa);
}

/* --- scheduling --- */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	reschedule(arg);
}

/*
 * Reschedule from a fresh loop iteration. A run can end inside
 * run_start() (nothing remote to wait for), that is inside reschedule()'s
 * walk over the entries, which must not be changed under it.
 */
static void
kick(struct qserver *srv)
{
	struct timeval now = { 0, 0 };

	evtimer_del(srv->timer);
	evtimer_add(srv->timer, &now);
}

static void
reschedule(struct qserver *srv)
{
	struct qentry *e, *next;
	time_t now = time(NULL), soonest = 0;
	struct timeval tv;
	int have = 0;

	if (worker_stopping(srv->worker))
		return;
	for (e = TAILQ_FIRST(&srv->entries); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (!e->running && e->next_try <= now && srv->nruns < QUEUE_RUNS_MAX)
			run_start(srv, e);	/* may drop e */
	}
	/* after the runs started: a run that ended at once has its new time */
	TAILQ_FOREACH(e, &srv->entries, entry)
		if (!e->running && (!have || e->next_try < soonest)) {
			soonest = e->next_try;
			have = 1;
		}
	evtimer_del(srv->timer);
	if (have) {
		tv.tv_sec = soonest > now ? soonest - now : 1;
		tv.tv_usec = 0;
		evtimer_add(srv->timer, &tv);
	}
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct qserver *srv = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				scan(srv);
				changed = 1;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (strcmp(ev->name, QUEUE_FLUSH_NAME) == 0) {
				if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
					flush_all(srv);
					changed = 1;
				}
				continue;
			}
			if (ev->name[0] == '.')
				continue;
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
				struct qentry *e = entry_find(srv, ev->name);
				if (e != NULL && !e->running) {
					entry_drop(srv, e);
					log_info("event=queue-removed id=%s", ev->name);
				}
			} else if (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) {
				entry_load(srv, ev->name);
				changed = 1;
			}
		}
	}
	if (changed)
		reschedule(srv);
}

static void
on_rescan(evutil_socket_t fd, short what, void *arg)
{
	struct qserver *srv = arg;

	scan(srv);
	reschedule(srv);
}

/* The queue has no listeners; the worker's accept is never called. */
static void
on_accept(void *ctx, int fd, struct sockaddr *sa, int salen, int kind)
{
	close(fd);
}

/*
 * SIGTERM: nothing to close; kick() starts no new run once the worker is
 * stopping, and runs in flight finish or are cut at QUEUE_STOP_GRACE (their
 * entries are tried again from disk at the next start).
 */
static void
on_stop(void *ctx)
{
}

/*
 * Opportunistic TLS (RFC 3207 4.1 leaves the policy to us): a certificate
 * that does not verify is used anyway. The chain is still checked against
 * the CAs ([queue] tls_ca_file, else the system's) and the host name, so
 * the result can be logged and reported.
 */
static SSL_CTX *
client_tls(const struct conf *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (conf->queue_tls_ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, conf->queue_tls_ca_file, NULL) != 1)
			log_error("event=queue-tls-ca file=%s: cannot load; no certificate will "
			    "verify", conf->queue_tls_ca_file);
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		log_warn("event=queue-tls-ca: the system CA store cannot be loaded");
	return ctx;
}

static void
setup_watch(struct qserver *srv)
{
	srv->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (srv->inotify_fd == -1)
		fatal("inotify_init1");
	if (inotify_add_watch(srv->inotify_fd, srv->queue_dir, IN_MOVED_TO | IN_CLOSE_WRITE |
	    IN_DELETE | IN_MOVED_FROM) == -1)
		fatal("inotify_add_watch %s", srv->queue_dir);
	srv->inotify_ev = event_new(srv->base, srv->inotify_fd, EV_READ | EV_PERSIST,
	    on_inotify, srv);
	event_add(srv->inotify_ev, NULL);
}

int
queue_main(const struct conf *conf, const struct listener_fd *fds, size_t nfds)
{
	static const struct worker_ops ops = { on_accept, on_stop };
	struct qserver srv;
	struct timeval rescan = { QUEUE_RESCAN_SECS, 0 };
	char dbpath[PATH_MAX], why[512];

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	TAILQ_INIT(&srv.entries);
	TAILQ_INIT(&srv.runs);
	snprintf(srv.queue_dir, sizeof(srv.queue_dir), "%s/%s", conf->data_dir, QUEUE_DIR_NAME);
	snprintf(srv.spool_dir, sizeof(srv.spool_dir), "%s/spool", conf->data_dir);
	snprintf(srv.corrupt_dir, sizeof(srv.corrupt_dir), "%s/corrupt", srv.queue_dir);
	if (fs_mkdir_p(srv.queue_dir, 0700) == -1 || fs_mkdir_p(srv.spool_dir, 0700) == -1)
		fatal("cannot create %s", srv.queue_dir);
	snprintf(dbpath, sizeof(dbpath), "%s/directory.db", conf->data_dir);
	srv.dir = dir_open(dbpath, DIR_OPEN_READ, why, sizeof(why));
	if (srv.dir == NULL)
		fatalx("%s", why);
	self_collect(&srv);
	srv.worker = worker_new(fds, nfds, 1, &ops, &srv);
	worker_set_grace(srv.worker, QUEUE_STOP_GRACE);
	srv.base = worker_base(srv.worker);
	srv.dns = smtpc_dns_new(srv.base, conf->dns_servers, why, sizeof(why));
	if (srv.dns == NULL)
		fatalx("%s", why);
	srv.ssl = client_tls(conf);
	srv.pool = smtpc_pool_new(srv.base, conf->queue_max_per_destination);
	if (conf->queue_smarthost != NULL)
		smarthost_password(&srv);
	srv.timer = evtimer_new(srv.base, on_timer, &srv);
	srv.rescan = event_new(srv.base, -1, EV_PERSIST, on_rescan, &srv);
	evtimer_add(srv.rescan, &rescan);
	setup_watch(&srv);	/* before the scan: nothing slips between the two */
	scan(&srv);

	int nentries = 0;
	struct qentry *e;
	TAILQ_FOREACH(e, &srv.entries, entry)
		nentries++;
	log_info("event=started entries=%d dns=%s port=%d smarthost=%s%s%s:%d auth=%s", nentries,
	    conf->dns_servers != NULL && conf->dns_servers[0] != '\0' ? conf->dns_servers :
	    "system", conf->queue_remote_port,
	    conf->queue_smarthost != NULL && !conf->queue_smarthost_mx ? "[" : "",
	    conf->queue_smarthost != NULL ? conf->queue_smarthost : "none",
	    conf->queue_smarthost != NULL && !conf->queue_smarthost_mx ? "]" : "",
	    conf->queue_smarthost_port, conf->queue_smarthost_user != NULL ? "yes" : "no");
	reschedule(&srv);

	worker_run(srv.worker);

	/* runs cut off here are tried again from their files at the next start */
	while (!TAILQ_EMPTY(&srv.runs)) {
		struct qrun *run = TAILQ_FIRST(&srv.runs);
		TAILQ_REMOVE(&srv.runs, run, entry);
		for (size_t d = 0; d < run->ndoms; d++)
			if (run->doms[d].job != NULL)
				smtpc_cancel(run->doms[d].job);
		run_free(run);
	}
	while (!TAILQ_EMPTY(&srv.entries))
		entry_drop(&srv, TAILQ_FIRST(&srv.entries));
	smtpc_pool_free(&srv.pool);
	smtpc_dns_free(&srv.dns);
	if (srv.ssl != NULL)
		SSL_CTX_free(srv.ssl);
	event_free(srv.timer);
	event_free(srv.rescan);
	event_free(srv.inotify_ev);
	close(srv.inotify_fd);
	dir_close(&srv.dir);
	worker_free(&srv.worker);
	if (srv.smarthost_pass != NULL) {
		explicit_bzero(srv.smarthost_pass, strlen(srv.smarthost_pass));
		free(srv.smarthost_pass);
	}
	return 0;
}
