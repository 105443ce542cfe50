/*
 * store_copy - COPY and MOVE between mailboxes (and the message move of a
 * RENAME of INBOX).
 *
 * The file gets a new unique base in the destination (the same mailbox may
 * be the destination, and a base must be unique per mailbox); a copy is a
 * hard link, so it costs no data. Order for "never lose a message": links
 * and rows of the destination first, its cur/ fsynced, then (MOVE) the
 * source names unlinked, all inside one index transaction; if the commit
 * fails the source names are linked back and the new ones removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

void
store_copy_xfer_free(struct store_xfer *x)
{
	free(x->src);
	free(x->dst);
	free(x->src_uids);
	free(x->dst_uids);
	memset(x, 0, sizeof(*x));
}

static int
open_cur(const char *path)
{
	char cur[PATH_MAX];

	snprintf(cur, sizeof(cur), "%s/cur", path);
	return open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void
store_copy_undo(const char *srcpath, const char *dstpath, struct store_xfer *x)
{
	int sfd = open_cur(srcpath), dfd = open_cur(dstpath);

	if (sfd == -1 || dfd == -1)
		goto out;
	for (size_t i = 0; i < x->n; i++) {
		if (x->renamed) {
			renameat(dfd, x->dst[i], sfd, x->src[i]);
			continue;
		}
		if (x->src_unlinked)
			linkat(dfd, x->dst[i], sfd, x->src[i], 0);
		unlinkat(dfd, x->dst[i], 0);
	}
out:
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	x->n = 0;
}

/* map[bit of the source] = bit of the destination, for the bits msgs use. */
static int
map_keywords(struct store *st, int64_t src_id, int64_t dst_id, const struct store_msg *msgs,
    size_t n, int map[STORE_KEYWORDS_MAX], char *why, size_t whylen)
{
	char *names[STORE_KEYWORDS_MAX];
	size_t nnames = 0;
	uint64_t used = 0, bits;
	int rc;

	for (size_t i = 0; i < STORE_KEYWORDS_MAX; i++)
		map[i] = (int)i;
	for (size_t i = 0; i < n; i++)
		used |= msgs[i].keywords;
	if (used == 0 || src_id == dst_id)
		return 0;
	if ((rc = store_keywords_load(st, src_id, names, &nnames, why, whylen)) != 0)
		return rc;
	for (size_t b = 0; b < STORE_KEYWORDS_MAX && rc == 0; b++) {
		map[b] = -1;
		if (!(used & (uint64_t)1 << b) || b >= nnames)
			continue;
		rc = store_keywords_bits(st, dst_id, (const char *const *)&names[b], 1, 1, &bits,
		    why, whylen);
		for (int d = 0; d < STORE_KEYWORDS_MAX && rc == 0; d++)
			if (bits & (uint64_t)1 << d)
				map[b] = d;
	}
	store_keywords_free(names, &nnames);
	return rc;
}

static uint64_t
mapped(uint64_t kw, const int map[STORE_KEYWORDS_MAX])
{
	uint64_t out = 0;

	for (int b = 0; b < STORE_KEYWORDS_MAX; b++)
		if ((kw & (uint64_t)1 << b) && map[b] >= 0)
			out |= (uint64_t)1 << map[b];
	return out;
}

/* One message: file into dst's cur/, row into dst. 1 when its file is gone. */
static int
xfer_one(struct store *st, const struct store_msg *m, int sfd, int dfd, const char *srcpath,
    struct store_box *dst, int rename_files, const int *map, struct store_xfer *x,
    char *why, size_t whylen)
{
	char *srcname = x->src[x->n], *dstname = x->dst[x->n];
	struct store_file f;
	struct store_msg row;
	int rc;

	if (store_maildir_find(srcpath, m->base, m->flags, srcname, NAME_MAX + 1) == -1)
		return errno == ENOENT ? 1 : -1;
	if (store_maildir_parse_name(srcname, &f) == -1)
		return 1;
	if (dst->uidnext == 0 || dst->uidnext == UINT32_MAX) {
		snprintf(why, whylen, "UIDs exhausted in %s", dst->name);
		return -1;
	}
	memset(&row, 0, sizeof(row));
	store_maildir_unique_base(row.base, sizeof(row.base), m->internaldate, m->size);
	str_copy(row.flags, f.flags, sizeof(row.flags));
	snprintf(dstname, NAME_MAX + 1, "%s:2,%s", row.base, row.flags);
	rc = rename_files ? renameat(sfd, srcname, dfd, dstname) :
	    linkat(sfd, srcname, dfd, dstname, 0);
	if (rc == -1) {
		if (errno == ENOENT)
			return 1;	/* expunged or renamed by another program meanwhile */
		snprintf(why, whylen, "%s %s: %s", rename_files ? "rename" : "link", srcname,
		    strerror(errno));
		return -1;
	}
	x->src_uids[x->n] = m->uid;
	x->n++;		/* from here on, undo knows the file */
	row.uid = dst->uidnext++;
	row.size = m->size;
	row.modseq = ++dst->highestmodseq;
	row.internaldate = m->internaldate;
	row.keywords = mapped(m->keywords, map);
	if ((rc = store_index_msg_insert(st, dst->id, &row, why, whylen)) != 0)
		return rc;
	x->dst_uids[x->n - 1] = row.uid;
	return 0;
}

int
store_copy_xfer(struct store *st, int64_t src_id, const char *srcpath,
    const struct store_msg *msgs, size_t n, struct store_box *dst, const char *dstpath,
    int rename_files, struct store_xfer *x, char *why, size_t whylen)
{
	char cur[PATH_MAX];
	int map[STORE_KEYWORDS_MAX];
	int sfd, dfd, rc = 0;

	memset(x, 0, sizeof(*x));
	x->renamed = rename_files;
	x->src = xcalloc(n + 1, sizeof(*x->src));
	x->dst = xcalloc(n + 1, sizeof(*x->dst));
	x->src_uids = xcalloc(n + 1, sizeof(*x->src_uids));
	x->dst_uids = xcalloc(n + 1, sizeof(*x->dst_uids));
	if ((rc = map_keywords(st, src_id, dst->id, msgs, n, map, why, whylen)) != 0)
		return rc;
	sfd = open_cur(srcpath);
	dfd = open_cur(dstpath);
	if (sfd == -1 || dfd == -1) {
		snprintf(why, whylen, "open cur/: %s", strerror(errno));
		rc = -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = xfer_one(st, &msgs[i], sfd, dfd, srcpath, dst, rename_files, map, x, why,
		    whylen);
		if (rc == 1)
			rc = 0;
	}
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	snprintf(cur, sizeof(cur), "%s/cur", dstpath);
	if (rc == 0 && x->n > 0 && fs_fsync_dir(cur) == -1) {
		snprintf(why, whylen, "fsync %s: %s", cur, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		store_copy_undo(srcpath, dstpath, x);
	return rc;
}

/* MOVE: the source names go once the destination holds the files. */
static int
unlink_sources(const char *srcpath, struct store_xfer *x, char *why, size_t whylen)
{
	int sfd = open_cur(srcpath);

	if (sfd == -1) {
		snprintf(why, whylen, "open cur/: %s", strerror(errno));
		return -1;
	}
	x->src_unlinked = 1;
	for (size_t i = 0; i < x->n; i++)
		unlinkat(sfd, x->src[i], 0);	/* ENOENT: gone anyway */
	close(sfd);
	return 0;
}

/* The rows of the uids in the view, as the index has them now (in that order). */
static int
current_rows(struct store_mailbox *mb, const uint32_t *uids, size_t n,
    struct store_msg **out, size_t *nout, char *why, size_t whylen)
{
	int rc;

	*out = xcalloc(n + 1, sizeof(**out));
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		if (store_maildir_view_find(mb, uids[i]) < 0)
			continue;
		rc = store_index_msg(mb->store, mb->id, uids[i], &(*out)[*nout], why, whylen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			(*nout)++;
	}
	return 0;
}

enum store_status
store_copy(struct store_mailbox *mb, const uint32_t *uids, size_t n, const char *dest,
    int move, uint32_t *dest_uidvalidity_out, uint32_t **src_uids_out,
    uint32_t **dest_uids_out, size_t *ncopied_out, char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct store_box srcrow, dstrow, *src = &srcrow;
	char dstpath[PATH_MAX];
	struct store_msg *msgs = NULL;
	struct store_xfer x;
	enum store_status status;
	size_t nmsgs = 0;
	int rc, same, clean_src = 0, clean_dst;

	memset(&x, 0, sizeof(x));
	memset(&srcrow, 0, sizeof(srcrow));
	*src_uids_out = *dest_uids_out = NULL;
	*ncopied_out = 0;
	*dest_uidvalidity_out = 0;
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	if ((status = store_maildir_locate(st, dest, &dstrow, dstpath, sizeof(dstpath), why,
	    whylen)) != STORE_OK) {
		store_index_rollback(st);
		return status;
	}
	if ((rc = store_index_box_by_id(st, mb->id, &srcrow, why, whylen)) == 1) {
		snprintf(why, whylen, "mailbox %s vanished", mb->name);
		rc = -1;
	}
	same = srcrow.id == dstrow.id;
	if (same)
		src = &dstrow;
	if (rc == 0)
		rc = current_rows(mb, uids, n, &msgs, &nmsgs, why, whylen);
	clean_dst = store_maildir_cur_before(dstpath, &dstrow);
	if (!same)
		clean_src = store_maildir_cur_before(mb->path, &srcrow);
	if (rc == 0)
		rc = store_copy_xfer(st, mb->id, mb->path, msgs, nmsgs, &dstrow, dstpath, 0, &x,
		    why, whylen);
	if (rc == 0 && move && x.n > 0) {
		rc = unlink_sources(mb->path, &x, why, whylen);
		if (rc == 0)
			rc = store_index_delete(st, src, x.src_uids, x.n, why, whylen);
	}
	free(msgs);
	store_maildir_cur_after(dstpath, clean_dst, &dstrow);
	if (rc == 0 && !same && move) {
		store_maildir_cur_after(mb->path, clean_src, &srcrow);
		rc = store_index_box_update(st, &srcrow, why, whylen);
	}
	if (rc == 0)
		rc = store_index_box_update(st, &dstrow, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	if (rc != 0) {
		store_copy_undo(mb->path, dstpath, &x);
		store_index_rollback(st);
		store_copy_xfer_free(&x);
		return store_status_of(rc);
	}
	if (move)
		store_maildir_view_remove(mb, x.src_uids, x.n);
	*dest_uidvalidity_out = dstrow.uidvalidity;
	*ncopied_out = x.n;
	*src_uids_out = x.src_uids;
	*dest_uids_out = x.dst_uids;
	x.src_uids = x.dst_uids = NULL;
	store_copy_xfer_free(&x);
	return STORE_OK;
}
