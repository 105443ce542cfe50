/*
 * store_sync - keeping a view up to date: refresh (IMAP NOOP, IDLE, after
 * each command), STATUS, QRESYNC's vanished UIDs, and usage.
 *
 * Changes reach the index three ways: tern sessions write them (with a new
 * MODSEQ each), deliveries land in new/, and other programs rename or
 * unlink files in cur/. A refresh first takes the last two into the index
 * (only when new/ holds mail or cur/'s mtime moved, see store_maildir.c),
 * then reads what has a MODSEQ above the view's: rows that changed or are
 * new, and tombstones of expunged messages. Only the first part writes, so
 * a refresh that has nothing to take in runs in a read transaction and
 * never waits for writers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

/*
 * Open a transaction on box (re-read by id) with the Maildir taken in:
 * BEGIN IMMEDIATE and a sync when something changed on disk, else a read
 * transaction. 0 with the transaction open, 1 when the row is gone, -1, -2.
 */
static int
begin_synced(struct store *st, const char *path, struct store_box *box, char *why,
    size_t whylen)
{
	int64_t id = box->id;
	int need, rc;

	if ((need = store_maildir_need_sync(path, box, why, whylen)) < 0)
		return -1;
	rc = need ? store_index_begin(st, why, whylen) : store_index_begin_read(st, why, whylen);
	if (rc != 0)
		return rc;
	if ((rc = store_index_box_by_id(st, id, box, why, whylen)) != 0) {
		store_index_rollback(st);
		return rc;
	}
	/* Another session may have taken it in while we waited for the lock. */
	if (need && (need = store_maildir_need_sync(path, box, why, whylen)) > 0)
		rc = store_maildir_sync(st, path, box, why, whylen);
	if (rc != 0 || need < 0) {
		store_index_rollback(st);
		return rc != 0 ? rc : -1;
	}
	return 0;
}

void
store_changes_free(struct store_changes *c)
{
	free(c->expunged_seqs);
	free(c->expunged_uids);
	free(c->changed_uids);
	memset(c, 0, sizeof(*c));
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* UIDs of the tombstones of mailbox id above since, ascending, distinct. */
static int
load_vanished(struct store *st, int64_t id, uint64_t since, uint32_t **out, size_t *n,
    char *why, size_t whylen)
{
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT DISTINCT uid FROM expunged WHERE mailbox = ?"
	    " AND modseq > ? ORDER BY uid", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select expunged", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)since);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		(*out)[(*n)++] = (uint32_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : store_index_error(st, "select expunged", why, whylen);
}

/* What a refresh read from the index, to apply after the commit. */
struct delta {
	struct store_msg *rows;		/* modseq above the view's, UID order */
	size_t		  nrows;
	uint32_t	 *gone;		/* tombstones above the view's, ascending */
	size_t		  ngone;
	char		 *kw[STORE_KEYWORDS_MAX];
	size_t		  nkw;
};

static void
delta_free(struct delta *d)
{
	free(d->rows);
	free(d->gone);
	store_keywords_free(d->kw, &d->nkw);
}

static const struct store_msg *
delta_row(const struct delta *d, uint32_t uid)
{
	size_t lo = 0, hi = d->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->rows[mid].uid == uid)
			return &d->rows[mid];
		if (d->rows[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Keyword names only grow: keep the old strings, whose pointers callers hold. */
static void
take_keywords(struct store_mailbox *mb, struct delta *d)
{
	for (size_t i = mb->nkw; i < d->nkw; i++) {
		mb->kwnames[i] = d->kw[i];
		d->kw[i] = NULL;
	}
	if (d->nkw > mb->nkw)
		mb->nkw = d->nkw;
}

/*
 * Nothing expunged: update the changed messages where they are and append
 * the new ones, without copying the view (the common case: a flag change).
 */
static void
apply_delta_in_place(struct store_mailbox *mb, struct delta *d, struct store_changes *out)
{
	uint32_t last = mb->nmsgs > 0 ? mb->msgs[mb->nmsgs - 1].uid : 0;
	size_t nnew = 0;

	out->expunged_seqs = xcalloc(1, sizeof(uint32_t));
	out->expunged_uids = xcalloc(1, sizeof(uint32_t));
	out->changed_uids = xcalloc(d->nrows + 1, sizeof(uint32_t));
	for (size_t i = 0; i < d->nrows; i++)
		nnew += d->rows[i].uid > last;
	if (nnew > 0)
		mb->msgs = xreallocarray(mb->msgs, mb->nmsgs + nnew + 1, sizeof(*mb->msgs));
	for (size_t i = 0; i < d->nrows; i++) {
		const struct store_msg *r = &d->rows[i];
		long at;
		if (r->uid > last) {
			mb->msgs[mb->nmsgs++] = *r;
			out->nnew++;
			continue;
		}
		if ((at = store_maildir_view_find(mb, r->uid)) < 0)
			continue;	/* expunged here meanwhile */
		/* The same MODSEQ: this handle made the change and has it. */
		if (r->modseq != mb->msgs[at].modseq)
			out->changed_uids[out->nchanged++] = r->uid;
		mb->msgs[at] = *r;
	}
	take_keywords(mb, d);
}

/* The new view from the old one and the delta; fills out. */
static void
apply_delta(struct store_mailbox *mb, struct delta *d, struct store_changes *out)
{
	struct store_msg *view;
	uint32_t last = mb->nmsgs > 0 ? mb->msgs[mb->nmsgs - 1].uid : 0;
	size_t n = 0;

	if (d->ngone == 0) {
		apply_delta_in_place(mb, d, out);
		return;
	}
	view = xreallocarray(NULL, mb->nmsgs + d->nrows + 1, sizeof(*view));
	out->expunged_seqs = xcalloc(d->ngone + 1, sizeof(uint32_t));
	out->expunged_uids = xcalloc(d->ngone + 1, sizeof(uint32_t));
	out->changed_uids = xcalloc(d->nrows + 1, sizeof(uint32_t));
	for (size_t i = 0; i < mb->nmsgs; i++) {
		const struct store_msg *m = &mb->msgs[i], *r;
		if (d->ngone > 0 &&
		    bsearch(&m->uid, d->gone, d->ngone, sizeof(*d->gone), u32_cmp) != NULL) {
			out->expunged_seqs[out->nexpunged] = (uint32_t)(i + 1);
			out->expunged_uids[out->nexpunged++] = m->uid;
			continue;
		}
		if ((r = delta_row(d, m->uid)) == NULL) {
			view[n++] = *m;
			continue;
		}
		/* The same MODSEQ: this handle made the change and has it. */
		if (r->modseq != m->modseq)
			out->changed_uids[out->nchanged++] = m->uid;
		view[n++] = *r;
	}
	for (size_t i = 0; i < d->nrows; i++) {
		/* Below the last UID and not in the view: expunged here meanwhile. */
		if (d->rows[i].uid > last) {
			view[n++] = d->rows[i];
			out->nnew++;
		}
	}
	free(mb->msgs);
	mb->msgs = view;
	mb->nmsgs = n;
	take_keywords(mb, d);
}

/* A rename (here or elsewhere) moves the folder: follow it. */
static void
follow_name(struct store_mailbox *mb, const struct store_box *box)
{
	if (strcmp(mb->name, box->name) == 0)
		return;
	str_copy(mb->name, box->name, sizeof(mb->name));
	store_name_path(mb->store, mb->name, mb->path, sizeof(mb->path));
}

int
store_mailbox_refresh(struct store_mailbox *mb, struct store_changes *out, char *why,
    size_t whylen)
{
	struct store *st = mb->store;
	struct store_box box;
	struct delta d;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&d, 0, sizeof(d));
	if ((rc = store_index_box_by_id(st, mb->id, &box, why, whylen)) == 0) {
		follow_name(mb, &box);
		rc = begin_synced(st, mb->path, &box, why, whylen);
	}
	if (rc == 1) {
		snprintf(why, whylen, "mailbox %s was deleted", mb->name);
		return 1;
	}
	if (rc != 0)
		return -1;
	if (box.highestmodseq > mb->known_modseq) {
		rc = store_index_load(st, mb->id, mb->known_modseq, &d.rows, &d.nrows, why, whylen);
		if (rc == 0)
			rc = load_vanished(st, mb->id, mb->known_modseq, &d.gone, &d.ngone, why,
			    whylen);
		if (rc == 0)
			rc = store_keywords_load(st, mb->id, d.kw, &d.nkw, why, whylen);
	}
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	if (rc != 0) {
		delta_free(&d);
		return -1;
	}
	if (box.highestmodseq > mb->known_modseq)
		apply_delta(mb, &d, out);
	mb->uidnext = box.uidnext;
	mb->known_modseq = box.highestmodseq;
	delta_free(&d);
	return 0;
}

int
store_mailbox_vanished(struct store_mailbox *mb, uint64_t since, uint32_t **uids_out,
    size_t *n_out, char *why, size_t whylen)
{
	int rc = load_vanished(mb->store, mb->id, since, uids_out, n_out, why, whylen);

	if (rc != 0) {
		free(*uids_out);
		*uids_out = NULL;
		*n_out = 0;
		return -1;
	}
	return 0;
}

/* --- polls of a mailbox that is not open (IMAP IDLE) --- */

int
store_poll(struct store *st, const char *name, uint32_t *uidvalidity_out,
    uint64_t *modseq_out, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct store_box box;
	int rc;

	if (store_maildir_locate(st, name, &box, path, sizeof(path), why, whylen) != STORE_OK)
		return -1;
	if ((rc = begin_synced(st, path, &box, why, whylen)) != 0)
		return -1;
	if (store_index_commit(st, why, whylen) != 0)
		return -1;
	*uidvalidity_out = box.uidvalidity;
	*modseq_out = box.highestmodseq;
	return 0;
}

void
store_release_memory(struct store *st)
{
	if (st->db == NULL)
		return;
	sqlite3_db_release_memory(st->db);
	/*
	 * The mapping is shared page cache, but each connection's touched pages
	 * count in the process's RSS: unmap until a mailbox is opened again.
	 */
	sqlite3_exec(st->db, "PRAGMA mmap_size = 0", NULL, NULL, NULL);
	st->mapped = 0;
}

/* --- STATUS and usage --- */

static int
count_messages(struct store *st, int64_t id, struct store_status_info *info, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	/* instr(), not LIKE: 's' is a Dovecot keyword letter, 'S' \Seen. */
	if (sqlite3_prepare_v2(st->db, "SELECT count(*), coalesce(sum(instr(flags, 'S') = 0), 0),"
	    " coalesce(sum(instr(flags, 'T') > 0), 0), coalesce(sum(size), 0)"
	    " FROM messages WHERE mailbox = ?", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "count messages", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		info->messages = (uint32_t)sqlite3_column_int64(q, 0);
		info->unseen = (uint32_t)sqlite3_column_int64(q, 1);
		info->deleted = (uint32_t)sqlite3_column_int64(q, 2);
		info->size = (uint64_t)sqlite3_column_int64(q, 3);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : store_index_error(st, "count messages", why, whylen);
}

enum store_status
store_status(struct store *st, const char *name, struct store_status_info *info, char *why,
    size_t whylen)
{
	char path[PATH_MAX];
	struct store_box box;
	enum store_status status;
	int rc;

	memset(info, 0, sizeof(*info));
	status = store_maildir_locate(st, name, &box, path, sizeof(path), why, whylen);
	if (status != STORE_OK)
		return status;
	if ((rc = begin_synced(st, path, &box, why, whylen)) == 1) {
		snprintf(why, whylen, "no mailbox %s", name);
		return STORE_NOT_FOUND;
	}
	if (rc != 0)
		return STORE_TEMP;
	rc = count_messages(st, box.id, info, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	info->uidnext = box.uidnext;
	info->uidvalidity = box.uidvalidity;
	info->highestmodseq = box.highestmodseq;
	return rc == 0 ? STORE_OK : STORE_TEMP;
}

int
store_usage(struct store *st, uint64_t *bytes_out, uint64_t *messages_out, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	*bytes_out = *messages_out = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT count(*), coalesce(sum(size), 0) FROM messages",
	    -1, &q, NULL) != SQLITE_OK) {
		store_index_error(st, "usage", why, whylen);
		return -1;
	}
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*messages_out = (uint64_t)sqlite3_column_int64(q, 0);
		*bytes_out = (uint64_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW) {
		store_index_error(st, "usage", why, whylen);
		return -1;
	}
	return 0;
}
