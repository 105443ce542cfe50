/*
 * store_mailbox - an open mailbox: its view (the messages as of the last
 * sync or refresh), message files, and expunge.
 *
 * The view holds every change up to known_modseq; store_mailbox_refresh()
 * (store_sync.c) brings it forward. Changes this handle makes (flags,
 * expunge, move) go into the view at once with their new MODSEQ, which is
 * how a refresh tells them from other sessions' changes.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

enum store_status
store_status_of(int rc)
{
	return rc == 0 ? STORE_OK : rc == -3 ? STORE_LIMIT : STORE_TEMP;
}

enum store_status
store_maildir_locate(struct store *st, const char *name, struct store_box *box, char *path,
    size_t pathlen, char *why, size_t whylen)
{
	char canon[STORE_NAME_MAX], cur[PATH_MAX + 8];
	struct stat sb;
	int rc;

	if (store_name_normalise(name, canon, sizeof(canon)) == -1) {
		snprintf(why, whylen, "bad mailbox name");
		return STORE_BAD_NAME;
	}
	rc = store_index_box_by_name(st, canon, box, why, whylen);
	if (rc == 1 && strcmp(canon, "INBOX") == 0) {
		/* INBOX always exists; its row too, unless the index was just lost. */
		int outer = !sqlite3_get_autocommit(st->db);
		if (outer || (rc = store_index_begin(st, why, whylen)) == 0) {
			rc = store_index_box_by_name(st, canon, box, why, whylen);
			if (rc == 1)
				rc = store_index_box_insert(st, canon, 0, box, why, whylen);
			if (!outer) {
				rc = rc == 0 ? store_index_commit(st, why, whylen) : rc;
				if (rc != 0)
					store_index_rollback(st);
			}
		}
	}
	if (rc < 0)
		return STORE_TEMP;
	if (rc == 1) {
		snprintf(why, whylen, "no mailbox %s", canon);
		return STORE_NOT_FOUND;
	}
	if (store_name_path(st, canon, path, pathlen) == -1) {
		snprintf(why, whylen, "mailbox path too long");
		return STORE_BAD_NAME;
	}
	snprintf(cur, sizeof(cur), "%s/cur", path);
	if (stat(cur, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(why, whylen, "no mailbox %s (no folder on disk)", canon);
		return STORE_NOT_FOUND;
	}
	return STORE_OK;
}

static int
take_lock(struct store_mailbox *mb, enum store_status *status_out, char *why,
    size_t whylen)
{
	char path[PATH_MAX + 32];

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

/* The full sync of an open: the whole view from the index. -2: rebuild. */
static int
sync_once(struct store_mailbox *mb, char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct store_box box;
	int rc;

	if ((rc = store_index_begin(st, why, whylen)) != 0)
		return rc;
	rc = store_index_box_by_id(st, mb->id, &box, why, whylen);
	if (rc == 1) {
		snprintf(why, whylen, "mailbox %s vanished", mb->name);
		rc = -1;
	}
	if (rc == 0)
		rc = store_maildir_sync(st, mb->path, &box, why, whylen);
	mb->nmsgs = 0;
	store_keywords_free(mb->kwnames, &mb->nkw);
	if (rc == 0)
		rc = store_index_load(st, mb->id, 0, &mb->msgs, &mb->nmsgs, why, whylen);
	if (rc == 0)
		rc = store_keywords_load(st, mb->id, mb->kwnames, &mb->nkw, why, whylen);
	if (rc != 0) {
		store_index_rollback(st);
		return rc;
	}
	mb->uidvalidity = box.uidvalidity;
	mb->uidnext = box.uidnext;
	mb->known_modseq = box.highestmodseq;
	return store_index_commit(st, why, whylen);
}

static enum store_status
mailbox_init(struct store_mailbox *mb, const char *name, char *why, size_t whylen)
{
	struct store_box box;
	enum store_status status;

	status = store_maildir_locate(mb->store, name, &box, mb->path, sizeof(mb->path), why,
	    whylen);
	if (status == STORE_OK) {
		mb->id = box.id;
		str_copy(mb->name, box.name, sizeof(mb->name));
	}
	return status;
}

struct store_mailbox *
store_mailbox_open(struct store *st, const char *name, int flags,
    enum store_status *status_out, char *why, size_t whylen)
{
	struct store_mailbox *mb;
	int rc;

	if (!st->mapped) {
		sqlite3_exec(st->db, "PRAGMA mmap_size = " STORE_INDEX_MMAP, NULL, NULL, NULL);
		st->mapped = 1;
	}
	mb = xcalloc(1, sizeof(*mb));
	mb->store = st;
	mb->lock_fd = -1;
	if ((*status_out = mailbox_init(mb, name, why, whylen)) != STORE_OK) {
		free(mb);
		return NULL;
	}
	if ((flags & STORE_OPEN_EXCLUSIVE) && take_lock(mb, status_out, why, whylen) == -1) {
		free(mb);
		return NULL;
	}
	rc = sync_once(mb, why, whylen);
	if (rc == -2 && store_index_rebuild(st, why, whylen) == 0 &&
	    store_mailboxes_init(st, why, whylen) == 0) {
		/* Rows have new ids in the new index. */
		if ((*status_out = mailbox_init(mb, name, why, whylen)) != STORE_OK) {
			store_mailbox_close(&mb);
			return NULL;
		}
		rc = sync_once(mb, why, whylen);
	}
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
	store_keywords_free(mb->kwnames, &mb->nkw);
	free(mb->msgs);
	free(mb);
	*mbp = NULL;
}

/* --- accessors --- */

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

const char *
store_mailbox_name(const struct store_mailbox *mb)
{
	return mb->name;
}

uint32_t
store_mailbox_uidnext(const struct store_mailbox *mb)
{
	return mb->uidnext;
}

/* The view's: a later MODSEQ could hide changes the view has not taken yet. */
uint64_t
store_mailbox_highestmodseq(const struct store_mailbox *mb)
{
	return mb->known_modseq;
}

size_t
store_mailbox_keywords(const struct store_mailbox *mb, const char *const **names_out)
{
	*names_out = (const char *const *)mb->kwnames;
	return mb->nkw;
}

long
store_maildir_view_find(const struct store_mailbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->nmsgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return (long)mid;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

long
store_mailbox_find(const struct store_mailbox *mb, uint32_t uid)
{
	return store_maildir_view_find(mb, uid);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
store_maildir_view_remove(struct store_mailbox *mb, const uint32_t *uids, size_t n)
{
	uint32_t *sorted;
	size_t kept = 0;

	if (n == 0)
		return;
	sorted = xreallocarray(NULL, n, sizeof(*sorted));
	memcpy(sorted, uids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), uid_cmp);
	for (size_t i = 0; i < mb->nmsgs; i++)
		if (bsearch(&mb->msgs[i].uid, sorted, n, sizeof(*sorted), uid_cmp) == NULL)
			mb->msgs[kept++] = mb->msgs[i];
	mb->nmsgs = kept;
	free(sorted);
}

/* --- message files --- */

int
store_msg_open(struct store_mailbox *mb, const struct store_msg *msg)
{
	char curdir[PATH_MAX], name[NAME_MAX + 1];
	int dfd, fd = -1, saved;

	snprintf(curdir, sizeof(curdir), "%s/cur", mb->path);
	if ((dfd = open(curdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	/* A program may rename it between the look-up and the open: try again. */
	for (int attempt = 0; attempt < 3 && fd == -1; attempt++) {
		if (store_maildir_find(mb->path, msg->base, attempt == 0 ? msg->flags : NULL,
		    name, sizeof(name)) == -1)
			break;
		fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 && errno != ENOENT)
			break;
	}
	saved = errno;
	close(dfd);
	errno = fd == -1 ? saved : 0;
	return fd;
}

/* Unlink the file of m from cur/: 0 when it is gone (or was), -1. */
static int
unlink_msg(const char *path, const struct store_msg *m)
{
	char name[NAME_MAX + 1], full[PATH_MAX + NAME_MAX + 8];

	for (int attempt = 0; attempt < 3; attempt++) {
		if (store_maildir_find(path, m->base, attempt == 0 ? m->flags : NULL, name,
		    sizeof(name)) == -1)
			return errno == ENOENT ? 0 : -1;
		snprintf(full, sizeof(full), "%s/cur/%s", path, name);
		if (unlink(full) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
	}
	return 0;
}

int
store_expunge(struct store_mailbox *mb, const uint32_t *uids, size_t n,
    size_t *removed_out, char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct store_box box;
	uint32_t *gone;
	size_t ngone = 0, failed = 0;
	int rc, clean;

	if (removed_out != NULL)
		*removed_out = 0;
	if (n == 0)
		return 0;
	if (store_index_begin(st, why, whylen) != 0)
		return -1;
	if ((rc = store_index_box_by_id(st, mb->id, &box, why, whylen)) != 0) {
		if (rc == 1)
			snprintf(why, whylen, "mailbox %s vanished", mb->name);
		store_index_rollback(st);
		return -1;
	}
	gone = xcalloc(n, sizeof(*gone));
	clean = store_maildir_cur_before(mb->path, &box);
	for (size_t i = 0; i < n; i++) {
		long at = store_maildir_view_find(mb, uids[i]);
		if (at < 0)
			continue;
		if (unlink_msg(mb->path, &mb->msgs[at]) == 0)
			gone[ngone++] = uids[i];
		else if (failed++ == 0)
			snprintf(why, whylen, "unlink %s: %s", mb->msgs[at].base, strerror(errno));
	}
	store_maildir_cur_after(mb->path, clean, &box);
	rc = store_index_delete(st, &box, gone, ngone, why, whylen);
	if (rc == 0)
		rc = store_index_box_update(st, &box, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	/* The files are gone whatever the index says; the next sync drops the rows. */
	store_maildir_view_remove(mb, gone, ngone);
	if (removed_out != NULL)
		*removed_out = ngone;
	free(gone);
	return failed > 0 || rc != 0 ? -1 : 0;
}
