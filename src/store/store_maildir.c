/*
 * store_maildir - the Maildir back end of store.h.
 *
 * A sync (at mailbox open) runs inside one index write transaction: move
 * new/ to cur/, read cur/, merge into the index. Deliveries hard-link into
 * new/ at any moment; a file that lands after the move is simply taken by
 * the next sync. Expunges of other processes also run inside the write
 * transaction, so a sync never re-adds a file that is being removed.
 *
 * File names are "<base>:2,<flags>" in cur/ ("<base>" in new/), where base
 * is "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>" for tern's own
 * deliveries; other Maildir writers' names work too (size from stat).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

#define FLAGS_SEP	":2,"

struct store *
store_open(const char *maildir, char *why, size_t whylen)
{
	static const char *subdirs[] = { "cur", "new", "tmp" };
	struct store *st = xcalloc(1, sizeof(*st));
	char sub[PATH_MAX];

	if (str_copy(st->maildir, maildir, sizeof(st->maildir)) == -1 ||
	    snprintf(st->index_path, sizeof(st->index_path), "%s/%s", maildir,
	    STORE_INDEX_NAME) >= (int)sizeof(st->index_path)) {
		snprintf(why, whylen, "%s: path too long", maildir);
		free(st);
		return NULL;
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", maildir, subdirs[i]);
		if (fs_mkdir_p(sub, 0700) == -1) {
			snprintf(why, whylen, "%s: %s", sub, strerror(errno));
			free(st);
			return NULL;
		}
	}
	if (store_index_open(st, why, whylen) == -1) {
		free(st);
		return NULL;
	}
	return st;
}

void
store_close(struct store **storep)
{
	if (*storep == NULL)
		return;
	store_index_close(*storep);
	free(*storep);
	*storep = NULL;
}

/* --- names --- */

int
store_maildir_parse_name(const char *name, struct store_file *f)
{
	const char *sep, *s;
	size_t baselen;
	char *end;

	memset(f, 0, sizeof(*f));
	if (name[0] == '.' || name[0] == '\0')
		return -1;
	sep = strstr(name, FLAGS_SEP);
	baselen = sep != NULL ? (size_t)(sep - name) : strlen(name);
	if (baselen == 0 || baselen >= sizeof(f->base))
		return -1;
	memcpy(f->base, name, baselen);
	f->base[baselen] = '\0';
	if (sep != NULL && str_copy(f->flags, sep + strlen(FLAGS_SEP), sizeof(f->flags)) == -1)
		return -1;
	f->sec = (time_t)strtoll(f->base, &end, 10);
	if (end[0] == '.' && end[1] == 'M')
		f->usec = strtol(end + 2, NULL, 10);
	s = strstr(f->base, ",S=");
	if (s != NULL)
		f->size = strtoull(s + 3, NULL, 10);
	else
		f->size = UINT64_MAX;	/* the caller stats */
	return 0;
}

int
store_maildir_arrival_cmp(const struct store_file *a, const struct store_file *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	return strcmp(a->base, b->base);
}

/* --- scan --- */

/* new/X -> cur/X:2, for every message in new/ (another syncer may race us). */
static int
move_new(const char *path, char *why, size_t whylen)
{
	char dir[PATH_MAX], cur[PATH_MAX], to[NAME_MAX + 8];
	struct dirent *de;
	DIR *d;
	int curfd;

	snprintf(dir, sizeof(dir), "%s/new", path);
	snprintf(cur, sizeof(cur), "%s/cur", path);
	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((curfd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: %s", cur, strerror(errno));
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, ':') != NULL)
			continue;
		if (snprintf(to, sizeof(to), "%s" FLAGS_SEP, de->d_name) >= (int)sizeof(to))
			continue;
		/* ENOENT: someone else moved it first; it is in cur/ now. */
		renameat(dirfd(d), de->d_name, curfd, to);
	}
	close(curfd);
	closedir(d);
	return 0;
}

static int
scan_cur(const char *path, struct store_file **files_out, size_t *n_out, char *why,
    size_t whylen)
{
	char dir[PATH_MAX];
	struct store_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/cur", path);
	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			files = xreallocarray(files, cap, sizeof(*files));
		}
		if (store_maildir_parse_name(de->d_name, &files[n]) == -1)
			continue;
		if (files[n].size == UINT64_MAX) {
			if (fstatat(dirfd(d), de->d_name, &sb, 0) == -1 || !S_ISREG(sb.st_mode))
				continue;
			files[n].size = (uint64_t)sb.st_size;
			if (files[n].sec <= 0)
				files[n].sec = sb.st_mtime;
		}
		n++;
	}
	closedir(d);
	*files_out = files;
	*n_out = n;
	return 0;
}

/* --- mailboxes --- */

static int
take_lock(struct store_mailbox *mb, enum store_status *status_out, char *why,
    size_t whylen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", mb->path, STORE_LOCK_NAME);
	mb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (mb->lock_fd == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		*status_out = STORE_TEMP;
		return -1;
	}
	if (flock(mb->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			snprintf(why, whylen, "mailbox is locked by another session");
			*status_out = STORE_IN_USE;
		} else {
			snprintf(why, whylen, "%s: flock: %s", path, strerror(errno));
			*status_out = STORE_TEMP;
		}
		close(mb->lock_fd);
		mb->lock_fd = -1;
		return -1;
	}
	return 0;
}

/* One sync; -2 asks for an index rebuild. */
static int
sync_once(struct store_mailbox *mb, char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct store_file *files = NULL;
	size_t nfiles = 0;
	int rc;

	if ((rc = store_index_begin(st, why, whylen)) != 0)
		return rc;
	if (move_new(mb->path, why, whylen) == -1 ||
	    scan_cur(mb->path, &files, &nfiles, why, whylen) == -1) {
		store_index_rollback(st);
		return -1;
	}
	rc = store_index_sync(mb, files, nfiles, why, whylen);
	free(files);
	if (rc != 0) {
		store_index_rollback(st);
		return rc;
	}
	return store_index_commit(st, why, whylen);
}

struct store_mailbox *
store_mailbox_open(struct store *st, const char *name, int flags,
    enum store_status *status_out, char *why, size_t whylen)
{
	struct store_mailbox *mb;
	int rc;

	if (strcasecmp(name, "INBOX") != 0) {
		snprintf(why, whylen, "no mailbox %s", name);
		*status_out = STORE_NOT_FOUND;
		return NULL;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->store = st;
	mb->lock_fd = -1;
	str_copy(mb->name, "INBOX", sizeof(mb->name));
	str_copy(mb->path, st->maildir, sizeof(mb->path));
	if ((flags & STORE_OPEN_EXCLUSIVE) && take_lock(mb, status_out, why, whylen) == -1) {
		free(mb);
		return NULL;
	}
	rc = sync_once(mb, why, whylen);
	if (rc == -2 && store_index_rebuild(st, why, whylen) == 0)
		rc = sync_once(mb, why, whylen);
	if (rc != 0) {
		*status_out = STORE_TEMP;
		store_mailbox_close(&mb);
		return NULL;
	}
	*status_out = STORE_OK;
	return mb;
}

void
store_mailbox_close(struct store_mailbox **mbp)
{
	struct store_mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	if (mb->lock_fd != -1)
		close(mb->lock_fd);	/* releases the flock */
	free(mb->msgs);
	free(mb);
	*mbp = NULL;
}

uint32_t
store_mailbox_uidvalidity(const struct store_mailbox *mb)
{
	return mb->uidvalidity;
}

size_t
store_mailbox_count(const struct store_mailbox *mb)
{
	return mb->nmsgs;
}

const struct store_msg *
store_mailbox_msg(const struct store_mailbox *mb, size_t i)
{
	return i < mb->nmsgs ? &mb->msgs[i] : NULL;
}

/* --- message files --- */

/* Find the current name of base in cur/ (flags may have changed). */
static int
find_by_base(const char *curdir, const char *base, char *name, size_t namelen)
{
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;
	int found = -1;

	if ((d = opendir(curdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) == 0 &&
		    (de->d_name[blen] == '\0' || de->d_name[blen] == ':')) {
			found = str_copy(name, de->d_name, namelen);
			break;
		}
	}
	closedir(d);
	if (found == -1)
		errno = ENOENT;
	return found;
}

/* The name in cur/ of msg: the expected one, else found by a scan. */
static int
open_or_find(const char *path, const struct store_msg *msg, int (*fn)(int dirfd,
    const char *name, void *arg), void *arg)
{
	char curdir[PATH_MAX], name[NAME_MAX + 1];
	int dfd, rc;

	snprintf(curdir, sizeof(curdir), "%s/cur", path);
	if ((dfd = open(curdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s" FLAGS_SEP "%s", msg->base, msg->flags);
	rc = fn(dfd, name, arg);
	if (rc == -1 && errno == ENOENT) {
		if (find_by_base(curdir, msg->base, name, sizeof(name)) == 0)
			rc = fn(dfd, name, arg);
		else
			errno = ENOENT;
	}
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

static int
do_open(int dfd, const char *name, void *arg)
{
	return openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int
do_unlink(int dfd, const char *name, void *arg)
{
	return unlinkat(dfd, name, 0);
}

int
store_msg_open(struct store_mailbox *mb, const struct store_msg *msg)
{
	return open_or_find(mb->path, msg, do_open, NULL);
}

static const struct store_msg *
msg_by_uid(const struct store_mailbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->nmsgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return &mb->msgs[mid];
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
store_expunge(struct store_mailbox *mb, const uint32_t *uids, size_t n,
    size_t *removed_out, char *why, size_t whylen)
{
	struct store *st = mb->store;
	uint32_t *gone = xcalloc(n > 0 ? n : 1, sizeof(*gone));
	size_t ngone = 0, failed = 0;
	int rc;

	if (removed_out != NULL)
		*removed_out = 0;
	if (n == 0) {
		free(gone);
		return 0;
	}
	if (store_index_begin(st, why, whylen) != 0) {
		free(gone);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = msg_by_uid(mb, uids[i]);
		if (m == NULL)
			continue;
		if (open_or_find(mb->path, m, do_unlink, NULL) == 0 || errno == ENOENT)
			gone[ngone++] = uids[i];
		else if (failed++ == 0)
			snprintf(why, whylen, "unlink %s: %s", m->base, strerror(errno));
	}
	rc = store_index_delete(mb, gone, ngone, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	/* The files are gone whatever the index says; the next sync drops the rows. */
	if (removed_out != NULL)
		*removed_out = ngone;
	free(gone);
	return failed > 0 || rc != 0 ? -1 : 0;
}
