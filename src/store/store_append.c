/*
 * store_append - APPEND: a message from a client into a mailbox.
 *
 * The data goes to tmp/ and is fsynced outside the index lock (the slow
 * part); the link into cur/ and the row are made inside one write
 * transaction, so that no other session's scan can take the file first
 * and give it a UID of its own. The base name starts with INTERNALDATE and
 * the file's mtime is set to it, so a rebuilt index (and other Maildir
 * readers) keep the date.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
#include "store/store_private.h"

/* tmp/<base> with the data, fsynced, mtime = date. 0 or -1. */
static int
write_tmp(const char *tmppath, const char *data, size_t len, time_t date, char *why,
    size_t whylen)
{
	struct timespec times[2] = { { date, 0 }, { date, 0 } };
	int fd;

	fd = open(tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(why, whylen, "%s: %s", tmppath, strerror(errno));
		return -1;
	}
	if (fs_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		snprintf(why, whylen, "%s: %s", tmppath, strerror(errno));
		close(fd);
		unlink(tmppath);
		return -1;
	}
	futimens(fd, times);
	if (close(fd) == -1) {
		snprintf(why, whylen, "%s: %s", tmppath, strerror(errno));
		unlink(tmppath);
		return -1;
	}
	return 0;
}

/* Inside the transaction: cur/ gets the file, the index its row. */
static int
commit_file(struct store *st, struct store_box *box, const char *path, const char *tmppath,
    const char *curpath, struct store_msg *m, const char *const *keywords,
    size_t nkeywords, char *why, size_t whylen)
{
	char curdir[PATH_MAX];
	int rc, clean;

	if ((rc = store_keywords_bits(st, box->id, keywords, nkeywords, 1, &m->keywords, why,
	    whylen)) != 0)
		return rc;
	if (box->uidnext == 0 || box->uidnext == UINT32_MAX) {
		snprintf(why, whylen, "UIDs exhausted in %s", box->name);
		return -1;
	}
	clean = store_maildir_cur_before(path, box);
	if (link(tmppath, curpath) == -1) {
		snprintf(why, whylen, "link %s: %s", curpath, strerror(errno));
		return -1;
	}
	unlink(tmppath);
	snprintf(curdir, sizeof(curdir), "%s/cur", path);
	if (fs_fsync_dir(curdir) == -1) {
		snprintf(why, whylen, "fsync %s: %s", curdir, strerror(errno));
		return -4;	/* linked: the caller removes it */
	}
	m->uid = box->uidnext++;
	m->modseq = ++box->highestmodseq;
	store_maildir_cur_after(path, clean, box);
	if ((rc = store_index_msg_insert(st, box->id, m, why, whylen)) != 0 ||
	    (rc = store_index_box_update(st, box, why, whylen)) != 0 ||
	    (rc = store_index_commit(st, why, whylen)) != 0)
		return rc == -2 ? -5 : -4;
	return 0;
}

enum store_status
store_append(struct store *st, const char *name, const char *data, size_t len,
    const char *flags, const char *const *keywords, size_t nkeywords, time_t internaldate,
    uint32_t *uidvalidity_out, uint32_t *uid_out, char *why, size_t whylen)
{
	char path[PATH_MAX], tmppath[PATH_MAX + STORE_BASE_MAX + 8];
	char curpath[PATH_MAX + STORE_BASE_MAX + STORE_FLAGS_MAX + 8];
	struct store_box box;
	struct store_msg m;
	enum store_status status;
	int64_t id;
	int rc;

	*uidvalidity_out = *uid_out = 0;
	if ((status = store_maildir_locate(st, name, &box, path, sizeof(path), why,
	    whylen)) != STORE_OK)
		return status;
	id = box.id;
	memset(&m, 0, sizeof(m));
	m.internaldate = internaldate != 0 ? internaldate : time(NULL);
	m.size = len;
	str_copy(m.flags, flags != NULL ? flags : "", sizeof(m.flags));
	store_maildir_sort_flags(m.flags);
	store_maildir_unique_base(m.base, sizeof(m.base), m.internaldate, len);
	snprintf(tmppath, sizeof(tmppath), "%s/tmp/%s", path, m.base);
	snprintf(curpath, sizeof(curpath), "%s/cur/%s:2,%s", path, m.base, m.flags);
	if (write_tmp(tmppath, data, len, m.internaldate, why, whylen) == -1)
		return STORE_TEMP;
	if (store_index_begin(st, why, whylen) != 0) {
		unlink(tmppath);
		return STORE_TEMP;
	}
	if ((rc = store_index_box_by_id(st, id, &box, why, whylen)) == 1) {
		snprintf(why, whylen, "no mailbox %s", name);
		store_index_rollback(st);
		unlink(tmppath);
		return STORE_NOT_FOUND;
	}
	if (rc == 0)
		rc = commit_file(st, &box, path, tmppath, curpath, &m, keywords, nkeywords, why,
		    whylen);
	if (rc != 0) {
		/* Not acknowledged: the message goes, wherever it got to. */
		store_index_rollback(st);
		unlink(tmppath);
		if (rc <= -4)
			unlink(curpath);
		return rc == -3 ? STORE_LIMIT : STORE_TEMP;
	}
	*uidvalidity_out = box.uidvalidity;
	*uid_out = m.uid;
	return STORE_OK;
}
