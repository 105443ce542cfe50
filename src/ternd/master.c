/*
 * master - supervise the workers.
 *
 * The master is a plain loop around sigtimedwait(): every signal it cares
 * about is blocked and taken synchronously, so there is no handler code and
 * no race between a SIGCHLD and the bookkeeping it needs.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/listener.h"
#include "ternd/master.h"
#include "ternd/services.h"

#define RESTART_DELAY_MIN	1	/* seconds before restarting a dead worker */
#define RESTART_DELAY_MAX	60
#define RESTART_STABLE		60	/* a worker up this long resets the back-off */
#define STOP_TIMEOUT		40	/* then SIGKILL; workers' own grace is 30 s */
#define MAX_RETIRING		64

/* The sockets of one [listen] key, bound by the master. */
struct bound {
	char			*spec;		/* text they were bound from */
	struct listener_fd	 fds[LISTENER_MAX_ADDRS];
	size_t			 nfds;
};

struct worker {
	const struct service	*svc;
	pid_t			 pid;		/* 0 = not running */
	time_t			 started;
	time_t			 restart_at;	/* 0 = no restart scheduled */
	int			 delay;
};

static struct {
	struct conf	*conf;
	char		*conf_path;	/* own copy: conf is replaced on reload */
	struct bound	 bound[CONF_LISTEN_COUNT];
	struct worker	*workers;
	pid_t		 retiring[MAX_RETIRING];	/* old generation, draining */
	int		 stopping;
	char		**argv;
	size_t		 argv_space;
	sigset_t	 sigs;
	uid_t		 uid;
	gid_t		 gid;
	int		 drop;
} m;

void
master_set_argv(int argc, char **argv)
{
	m.argv = argv;
	if (argc > 0)
		m.argv_space = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
}

/* "ternd: smtpd" in ps and top (argv) and in /proc/PID/comm (prctl). */
static void
set_title(const char *name)
{
	char title[64];

	snprintf(title, sizeof(title), "ternd: %s", name);
	prctl(PR_SET_NAME, title, 0, 0, 0);
	if (m.argv != NULL && m.argv_space > 0) {
		memset(m.argv[0], 0, m.argv_space);
		snprintf(m.argv[0], m.argv_space, "%s", title);
		m.argv[1] = NULL;
	}
}

static int
service_wanted(const struct service *svc)
{
	if (svc->always)
		return 1;
	for (int k = 0; k < CONF_LISTEN_COUNT; k++)
		if ((svc->listeners & (1u << k)) && m.bound[k].nfds > 0)
			return 1;
	return 0;
}

static unsigned
served_listeners(void)
{
	unsigned mask = 0;

	for (size_t i = 0; i < nservices; i++)
		mask |= services[i].listeners;
	return mask;
}

static void
unbind(struct bound *b)
{
	for (size_t i = 0; i < b->nfds; i++)
		close(b->fds[i].fd);
	free(b->spec);
	memset(b, 0, sizeof(*b));
}

/*
 * Bind every listener of conf into out. Keys whose text is unchanged from
 * the current generation keep their sockets (a reload must not drop or
 * re-race a port). 0, or -1 with everything new closed again.
 */
static int
bind_all(const struct conf *conf, struct bound out[CONF_LISTEN_COUNT])
{
	unsigned served = served_listeners();
	struct listener_addr addrs[LISTENER_MAX_ADDRS];
	char why[256];

	memset(out, 0, sizeof(struct bound) * CONF_LISTEN_COUNT);
	for (int k = 0; k < CONF_LISTEN_COUNT; k++) {
		const char *spec = conf->listen[k];
		if (spec == NULL)
			continue;
		if (!(served & (1u << k))) {
			log_info("event=listener-unserved listener=%s: no worker serves it yet",
			    conf_listener_name((enum conf_listener)k));
			continue;
		}
		if (m.bound[k].spec != NULL && strcmp(m.bound[k].spec, spec) == 0) {
			out[k] = m.bound[k];
			out[k].spec = xstrdup(spec);
			continue;
		}
		int n = listener_parse(spec, addrs, LISTENER_MAX_ADDRS, why, sizeof(why));
		if (n < 0) {
			log_error("[listen] %s: %s", conf_listener_name((enum conf_listener)k), why);
			goto fail;
		}
		out[k].spec = xstrdup(spec);
		for (int i = 0; i < n; i++) {
			int fd = listener_bind(&addrs[i], why, sizeof(why));
			if (fd == -1) {
				log_error("[listen] %s: %s",
				    conf_listener_name((enum conf_listener)k), why);
				goto fail;
			}
			out[k].fds[out[k].nfds++] = (struct listener_fd){ .fd = fd, .kind = k };
			log_info("event=listening listener=%s address=%s",
			    conf_listener_name((enum conf_listener)k), addrs[i].text);
		}
	}
	return 0;
fail:
	for (int k = 0; k < CONF_LISTEN_COUNT; k++) {
		if (out[k].spec == NULL)
			continue;
		if (m.bound[k].spec != NULL && out[k].nfds > 0 &&
		    out[k].fds[0].fd == m.bound[k].fds[0].fd) {
			free(out[k].spec);	/* shared with the live generation */
			memset(&out[k], 0, sizeof(out[k]));
		} else
			unbind(&out[k]);
	}
	return -1;
}

static int
resolve_user(const struct conf *conf)
{
	struct passwd *pw;

	m.drop = geteuid() == 0;
	if (!m.drop)
		return 0;
	pw = getpwnam(conf->user);
	if (pw == NULL) {
		log_error("[server] user '%s' does not exist (tern init creates it)", conf->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error("[server] user '%s' is root: workers must not run as root", conf->user);
		return -1;
	}
	m.uid = pw->pw_uid;
	m.gid = pw->pw_gid;
	return 0;
}

static void
drop_privileges(void)
{
	if (!m.drop)
		return;
	if (setgroups(1, &m.gid) == -1 || setgid(m.gid) == -1 || setuid(m.uid) == -1)
		fatal("cannot drop privileges to %s", m.conf->user);
	if (setuid(0) != -1)
		fatalx("privileges could be regained after dropping them");
}

static void
worker_child(const struct service *svc)
{
	struct listener_fd fds[CONF_LISTEN_COUNT * LISTENER_MAX_ADDRS];
	size_t nfds = 0;
	char ident[32];

	sigprocmask(SIG_UNBLOCK, &m.sigs, NULL);
	set_title(svc->name);
	snprintf(ident, sizeof(ident), "ternd/%s", svc->name);
	log_init(ident, log_is_stderr(), (enum log_level)m.conf->log_level);
	for (int k = 0; k < CONF_LISTEN_COUNT; k++) {
		for (size_t i = 0; i < m.bound[k].nfds; i++) {
			if (svc->listeners & (1u << k))
				fds[nfds++] = m.bound[k].fds[i];
			else
				close(m.bound[k].fds[i].fd);
		}
	}
	drop_privileges();
	_exit(svc->main(m.conf, fds, nfds));
}

static void
worker_start(struct worker *w)
{
	pid_t pid = fork();

	if (pid == -1) {
		log_error("event=fork-failed service=%s: %s", w->svc->name, strerror(errno));
		w->restart_at = time(NULL) + w->delay;
		return;
	}
	if (pid == 0)
		worker_child(w->svc);
	w->pid = pid;
	w->started = time(NULL);
	w->restart_at = 0;
	log_info("event=worker-started service=%s pid=%ld", w->svc->name, (long)pid);
}

static void
retire(pid_t pid)
{
	for (int i = 0; i < MAX_RETIRING; i++) {
		if (m.retiring[i] == 0) {
			m.retiring[i] = pid;
			kill(pid, SIGTERM);
			return;
		}
	}
	/* More old generations than slots: they had 30 s each; cut this one short. */
	kill(pid, SIGKILL);
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_RETIRING; i++)
			if (m.retiring[i] == pid)
				m.retiring[i] = 0;
		for (size_t i = 0; i < nservices; i++) {
			struct worker *w = &m.workers[i];
			if (w->pid != pid)
				continue;
			w->pid = 0;
			if (m.stopping)
				break;
			time_t now = time(NULL);
			if (now - w->started >= RESTART_STABLE)
				w->delay = RESTART_DELAY_MIN;
			if (WIFSIGNALED(status))
				log_error("event=worker-died service=%s pid=%ld signal=%d restart_in=%d",
				    w->svc->name, (long)pid, WTERMSIG(status), w->delay);
			else
				log_error("event=worker-exited service=%s pid=%ld status=%d "
				    "restart_in=%d", w->svc->name, (long)pid, WEXITSTATUS(status),
				    w->delay);
			w->restart_at = now + w->delay;
			w->delay = w->delay * 2 > RESTART_DELAY_MAX ? RESTART_DELAY_MAX :
			    w->delay * 2;
		}
	}
}

static void
reload(void)
{
	struct conf *fresh = xcalloc(1, sizeof(*fresh));
	struct bound nb[CONF_LISTEN_COUNT];
	char why[512];

	if (conf_load(fresh, m.conf_path, why, sizeof(why)) == -1) {
		log_error("event=reload-failed: %s (keeping the running configuration)", why);
		conf_free(fresh);
		free(fresh);
		return;
	}
	if (bind_all(fresh, nb) == -1 || resolve_user(fresh) == -1) {
		log_error("event=reload-failed: listeners (keeping the running configuration)");
		conf_free(fresh);
		free(fresh);
		return;
	}
	/* Old workers drain their sessions while the new generation serves. */
	for (size_t i = 0; i < nservices; i++)
		if (m.workers[i].pid != 0)
			retire(m.workers[i].pid);
	for (int k = 0; k < CONF_LISTEN_COUNT; k++) {
		if (nb[k].nfds > 0 && m.bound[k].nfds > 0 &&
		    nb[k].fds[0].fd == m.bound[k].fds[0].fd) {
			free(m.bound[k].spec);	/* sockets carried over */
			memset(&m.bound[k], 0, sizeof(m.bound[k]));
		} else
			unbind(&m.bound[k]);
	}
	memcpy(m.bound, nb, sizeof(nb));
	conf_free(m.conf);
	free(m.conf);
	m.conf = fresh;
	log_set_level((enum log_level)fresh->log_level);
	for (size_t i = 0; i < nservices; i++) {
		struct worker *w = &m.workers[i];
		w->pid = 0;
		w->delay = RESTART_DELAY_MIN;
		if (service_wanted(w->svc))
			worker_start(w);
	}
	log_info("event=reloaded config=%s", m.conf_path);
}

static int
children_left(void)
{
	for (size_t i = 0; i < nservices; i++)
		if (m.workers[i].pid != 0)
			return 1;
	for (int i = 0; i < MAX_RETIRING; i++)
		if (m.retiring[i] != 0)
			return 1;
	return 0;
}

static void
signal_children(int sig)
{
	for (size_t i = 0; i < nservices; i++)
		if (m.workers[i].pid != 0)
			kill(m.workers[i].pid, sig);
	for (int i = 0; i < MAX_RETIRING; i++)
		if (m.retiring[i] != 0)
			kill(m.retiring[i], sig);
}

static void
stop(void)
{
	struct timespec tick = { 1, 0 };
	time_t deadline = time(NULL) + STOP_TIMEOUT;

	m.stopping = 1;
	log_info("event=stopping");
	signal_children(SIGTERM);
	while (children_left()) {
		if (time(NULL) >= deadline) {
			log_warn("event=stop-timeout: killing the remaining workers");
			signal_children(SIGKILL);
			deadline = time(NULL) + 5;
		}
		sigtimedwait(&m.sigs, NULL, &tick);
		reap();
	}
	log_info("event=stopped");
}

int
master_run(struct conf *conf, const char *conf_path, int foreground)
{
	struct timespec tick = { 1, 0 };

	m.conf = conf;
	m.conf_path = xstrdup(conf_path);
	if (resolve_user(conf) == -1)
		return 1;
	if (bind_all(conf, m.bound) == -1)
		return 1;

	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGCHLD);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	m.workers = xcalloc(nservices, sizeof(*m.workers));
	for (size_t i = 0; i < nservices; i++) {
		m.workers[i].svc = &services[i];
		m.workers[i].delay = RESTART_DELAY_MIN;
		if (service_wanted(&services[i]))
			worker_start(&m.workers[i]);
	}
	log_info("event=started config=%s foreground=%d", conf_path, foreground);

	for (;;) {
		int sig = sigtimedwait(&m.sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload();
		reap();
		time_t now = time(NULL);
		for (size_t i = 0; i < nservices; i++) {
			struct worker *w = &m.workers[i];
			if (w->pid == 0 && w->restart_at != 0 && now >= w->restart_at)
				worker_start(w);
		}
	}
	stop();
	for (int k = 0; k < CONF_LISTEN_COUNT; k++)
		unbind(&m.bound[k]);
	free(m.workers);
	free(m.conf_path);
	return 0;
}
