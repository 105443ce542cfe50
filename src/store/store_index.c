/*
 * store_index - the per-user SQLite index beside the Maildir.
 *
 * The index is a cache: Maildir holds the mail, so the index runs with
 * synchronous=OFF (a crash may lose its last changes, never a message) and
 * a damaged file is simply replaced. What must survive is the UID of each
 * message, which a rebuild cannot keep: a rebuild therefore takes a new
 * UIDVALIDITY (the current time, as the old one is unknown), which tells
 * IMAP and POP3 clients (UIDL carries it) to forget what they knew.
 *
 * Concurrency: WAL mode lets readers go on; every change (sync, expunge)
 * runs in BEGIN IMMEDIATE, so the processes that sync the same mailbox
 * take turns and never hand out a UID twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

#define INDEX_SCHEMA_VERSION	1
#define INDEX_BUSY_TIMEOUT_MS	15000

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS mailboxes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" mailbox INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL,"
	" base TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '',"
	" modseq INTEGER NOT NULL,"
	" internaldate INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox, uid),"
	" UNIQUE (mailbox, base));";

static int
is_damage(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

static int
db_error(struct store *st, const char *what, char *why, size_t whylen)
{
	int rc = sqlite3_extended_errcode(st->db);

	snprintf(why, whylen, "%s: %s: %s", st->index_path, what, sqlite3_errmsg(st->db));
	return is_damage(rc) ? -2 : -1;
}

static int
exec_sql(struct store *st, const char *sql, char *why, size_t whylen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st, sql, why, whylen);
	return 0;
}

static int
user_version(struct store *st, int *out)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(q);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* One attempt: -2 when the file is damaged or not ours. */
static int
index_try_open(struct store *st, char *why, size_t whylen)
{
	char sql[64];
	int version, rc, fd;

	/* The index names every message: as private as the mail (SQLite gives
	 * its -wal and -shm files the same mode). */
	if ((fd = open(st->index_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) != -1)
		close(fd);
	if (sqlite3_open_v2(st->index_path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = db_error(st, "open", why, whylen);
		return rc;
	}
	sqlite3_busy_timeout(st->db, INDEX_BUSY_TIMEOUT_MS);
	if ((rc = exec_sql(st, "PRAGMA journal_mode = WAL", why, whylen)) != 0 ||
	    (rc = exec_sql(st, "PRAGMA synchronous = OFF", why, whylen)) != 0)
		return rc;
	if (user_version(st, &version) == -1)
		return db_error(st, "user_version", why, whylen) == -2 ? -2 : -1;
	if (version == INDEX_SCHEMA_VERSION)
		return 0;
	if (version != 0) {
		snprintf(why, whylen, "%s: schema version %d is not ours", st->index_path,
		    version);
		return -2;
	}
	if ((rc = exec_sql(st, "BEGIN IMMEDIATE", why, whylen)) != 0)
		return rc;
	if (user_version(st, &version) == 0 && version == 0) {
		/* Still new after taking the write lock: create it. */
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", INDEX_SCHEMA_VERSION);
		if ((rc = exec_sql(st, schema_sql, why, whylen)) != 0 ||
		    (rc = exec_sql(st, sql, why, whylen)) != 0) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return exec_sql(st, "COMMIT", why, whylen);
}

static void
unlink_index_files(const char *path)
{
	char p[PATH_MAX + 8];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

void
store_index_close(struct store *st)
{
	if (st->db != NULL) {
		sqlite3_close_v2(st->db);
		st->db = NULL;
	}
}

int
store_index_rebuild(struct store *st, char *why, size_t whylen)
{
	store_index_close(st);
	unlink_index_files(st->index_path);
	if (index_try_open(st, why, whylen) != 0) {
		store_index_close(st);
		return -1;
	}
	return 0;
}

int
store_index_open(struct store *st, char *why, size_t whylen)
{
	int rc = index_try_open(st, why, whylen);

	if (rc == 0)
		return 0;
	store_index_close(st);
	if (rc == -1)
		return -1;
	return store_index_rebuild(st, why, whylen);
}

int
store_index_begin(struct store *st, char *why, size_t whylen)
{
	return exec_sql(st, "BEGIN IMMEDIATE", why, whylen);
}

int
store_index_commit(struct store *st, char *why, size_t whylen)
{
	int rc = exec_sql(st, "COMMIT", why, whylen);

	if (rc != 0)
		store_index_rollback(st);
	return rc;
}

void
store_index_rollback(struct store *st)
{
	if (st->db != NULL && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- the mailbox row --- */

struct mailbox_row {
	int64_t		id;
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	uint64_t	highestmodseq;
};

/* A UIDVALIDITY that differs from any earlier one of this file's life. */
static uint32_t
new_uidvalidity(void)
{
	time_t now = time(NULL);

	return now > 0 && (uint64_t)now <= UINT32_MAX ? (uint32_t)now : 1;
}

static int
mailbox_row(struct store *st, const char *name, struct mailbox_row *out, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (sqlite3_prepare_v2(st->db, "SELECT id, uidvalidity, uidnext, highestmodseq"
		    " FROM mailboxes WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
			return db_error(st, "select mailbox", why, whylen);
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			out->id = sqlite3_column_int64(q, 0);
			out->uidvalidity = (uint32_t)sqlite3_column_int64(q, 1);
			out->uidnext = (uint32_t)sqlite3_column_int64(q, 2);
			out->highestmodseq = (uint64_t)sqlite3_column_int64(q, 3);
			sqlite3_finalize(q);
			return 0;
		}
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return db_error(st, "select mailbox", why, whylen);
		if (sqlite3_prepare_v2(st->db, "INSERT INTO mailboxes (name, uidvalidity,"
		    " uidnext, highestmodseq) VALUES (?, ?, 1, 1)", -1, &q, NULL) != SQLITE_OK)
			return db_error(st, "insert mailbox", why, whylen);
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, new_uidvalidity());
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return db_error(st, "insert mailbox", why, whylen);
	}
	snprintf(why, whylen, "%s: mailbox row vanished", st->index_path);
	return -1;
}

static int
mailbox_row_update(struct store *st, const struct mailbox_row *row, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?"
	    " WHERE id = ?", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "update mailbox", why, whylen);
	sqlite3_bind_int64(q, 1, row->uidnext);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)row->highestmodseq);
	sqlite3_bind_int64(q, 3, row->id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, "update mailbox", why, whylen);
}

/* --- sync --- */

static int
file_base_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_file *)a)->base, ((const struct store_file *)b)->base);
}

static int
file_ptr_arrival_cmp(const void *a, const void *b)
{
	return store_maildir_arrival_cmp(*(const struct store_file *const *)a,
	    *(const struct store_file *const *)b);
}

/* The rows of the mailbox in UID order, appended to mb->msgs. */
static int
load_rows(struct store_mailbox *mb, char *why, size_t whylen)
{
	struct store *st = mb->store;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT uid, base, size, flags, modseq, internaldate"
	    " FROM messages WHERE mailbox = ? ORDER BY uid", -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "select messages", why, whylen);
	sqlite3_bind_int64(q, 1, mb->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_msg *m;
		const char *base = (const char *)sqlite3_column_text(q, 1);
		const char *flags = (const char *)sqlite3_column_text(q, 3);
		if (mb->nmsgs == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			mb->msgs = xreallocarray(mb->msgs, cap, sizeof(*mb->msgs));
		}
		m = &mb->msgs[mb->nmsgs++];
		memset(m, 0, sizeof(*m));
		m->uid = (uint32_t)sqlite3_column_int64(q, 0);
		str_copy(m->base, base != NULL ? base : "", sizeof(m->base));
		m->size = (uint64_t)sqlite3_column_int64(q, 2);
		str_copy(m->flags, flags != NULL ? flags : "", sizeof(m->flags));
		m->modseq = (uint64_t)sqlite3_column_int64(q, 4);
		m->internaldate = (time_t)sqlite3_column_int64(q, 5);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, "select messages", why, whylen);
}

static int
exec_row(struct store *st, sqlite3_stmt *q, const char *what, char *why, size_t whylen)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, what, why, whylen);
}

struct sync_stmts {
	sqlite3_stmt	*del;
	sqlite3_stmt	*ins;
	sqlite3_stmt	*flags;
};

static void
sync_stmts_free(struct sync_stmts *s)
{
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->flags);
}

static int
sync_stmts_prepare(struct store *st, struct sync_stmts *s, char *why, size_t whylen)
{
	memset(s, 0, sizeof(*s));
	if (sqlite3_prepare_v2(st->db, "DELETE FROM messages WHERE mailbox = ? AND uid = ?",
	    -1, &s->del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "INSERT INTO messages (mailbox, uid, base, size,"
	    " flags, modseq, internaldate) VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &s->ins,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "UPDATE messages SET flags = ?, modseq = ?"
	    " WHERE mailbox = ? AND uid = ?", -1, &s->flags, NULL) != SQLITE_OK) {
		sync_stmts_free(s);
		return db_error(st, "prepare sync", why, whylen);
	}
	return 0;
}

/* Rows whose file is gone are dropped; changed flags are taken. */
static int
sync_known(struct store_mailbox *mb, struct sync_stmts *q, struct mailbox_row *row,
    struct store_file *files, size_t nfiles, unsigned char *seen, char *why,
    size_t whylen)
{
	struct store *st = mb->store;
	size_t kept = 0;
	int rc;

	for (size_t i = 0; i < mb->nmsgs; i++) {
		struct store_msg *m = &mb->msgs[i];
		struct store_file key, *f;
		str_copy(key.base, m->base, sizeof(key.base));
		f = bsearch(&key, files, nfiles, sizeof(*files), file_base_cmp);
		if (f == NULL) {
			row->highestmodseq++;
			sqlite3_bind_int64(q->del, 1, mb->id);
			sqlite3_bind_int64(q->del, 2, m->uid);
			if ((rc = exec_row(st, q->del, "delete message", why, whylen)) != 0)
				return rc;
			continue;
		}
		seen[f - files] = 1;
		if (strcmp(f->flags, m->flags) != 0) {
			str_copy(m->flags, f->flags, sizeof(m->flags));
			m->modseq = ++row->highestmodseq;
			sqlite3_bind_text(q->flags, 1, m->flags, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q->flags, 2, (sqlite3_int64)m->modseq);
			sqlite3_bind_int64(q->flags, 3, mb->id);
			sqlite3_bind_int64(q->flags, 4, m->uid);
			if ((rc = exec_row(st, q->flags, "update flags", why, whylen)) != 0)
				return rc;
		}
		mb->msgs[kept++] = *m;
	}
	mb->nmsgs = kept;
	return 0;
}

/* Files the index does not know get the next UIDs, in arrival order. */
static int
sync_new(struct store_mailbox *mb, struct sync_stmts *q, struct mailbox_row *row,
    struct store_file *files, size_t nfiles, const unsigned char *seen, char *why,
    size_t whylen)
{
	struct store *st = mb->store;
	struct store_file **fresh;
	size_t nfresh = 0;
	int rc = 0;

	fresh = xcalloc(nfiles > 0 ? nfiles : 1, sizeof(*fresh));
	for (size_t i = 0; i < nfiles; i++)
		if (!seen[i])
			fresh[nfresh++] = &files[i];
	qsort(fresh, nfresh, sizeof(*fresh), file_ptr_arrival_cmp);
	mb->msgs = xreallocarray(mb->msgs, mb->nmsgs + nfresh + 1, sizeof(*mb->msgs));
	for (size_t i = 0; i < nfresh; i++) {
		struct store_msg *m = &mb->msgs[mb->nmsgs];
		if (row->uidnext == 0 || row->uidnext == UINT32_MAX) {
			snprintf(why, whylen, "%s: UIDs exhausted", st->index_path);
			rc = -2;	/* a rebuild starts over with a new UIDVALIDITY */
			break;
		}
		memset(m, 0, sizeof(*m));
		m->uid = row->uidnext++;
		str_copy(m->base, fresh[i]->base, sizeof(m->base));
		str_copy(m->flags, fresh[i]->flags, sizeof(m->flags));
		m->size = fresh[i]->size;
		m->modseq = ++row->highestmodseq;
		m->internaldate = fresh[i]->sec;
		sqlite3_bind_int64(q->ins, 1, mb->id);
		sqlite3_bind_int64(q->ins, 2, m->uid);
		sqlite3_bind_text(q->ins, 3, m->base, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q->ins, 4, (sqlite3_int64)m->size);
		sqlite3_bind_text(q->ins, 5, m->flags, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q->ins, 6, (sqlite3_int64)m->modseq);
		sqlite3_bind_int64(q->ins, 7, (sqlite3_int64)m->internaldate);
		if ((rc = exec_row(st, q->ins, "insert message", why, whylen)) != 0)
			break;
		mb->nmsgs++;
	}
	free(fresh);
	return rc;
}

int
store_index_sync(struct store_mailbox *mb, struct store_file *files, size_t nfiles,
    char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct mailbox_row row;
	struct sync_stmts q;
	unsigned char *seen;
	uint64_t modseq_before;
	uint32_t uidnext_before;
	int rc;

	mb->nmsgs = 0;
	if ((rc = mailbox_row(st, mb->name, &row, why, whylen)) != 0)
		return rc;
	mb->id = row.id;
	mb->uidvalidity = row.uidvalidity;
	modseq_before = row.highestmodseq;
	uidnext_before = row.uidnext;
	if ((rc = load_rows(mb, why, whylen)) != 0)
		return rc;
	qsort(files, nfiles, sizeof(*files), file_base_cmp);
	if ((rc = sync_stmts_prepare(st, &q, why, whylen)) != 0)
		return rc;
	seen = xcalloc(nfiles > 0 ? nfiles : 1, 1);
	rc = sync_known(mb, &q, &row, files, nfiles, seen, why, whylen);
	if (rc == 0)
		rc = sync_new(mb, &q, &row, files, nfiles, seen, why, whylen);
	free(seen);
	sync_stmts_free(&q);
	if (rc == 0 && (row.highestmodseq != modseq_before || row.uidnext != uidnext_before))
		rc = mailbox_row_update(st, &row, why, whylen);
	return rc;
}

int
store_index_delete(struct store_mailbox *mb, const uint32_t *uids, size_t n, char *why,
    size_t whylen)
{
	struct store *st = mb->store;
	struct mailbox_row row;
	sqlite3_stmt *q;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = mailbox_row(st, mb->name, &row, why, whylen)) != 0)
		return rc;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM messages WHERE mailbox = ? AND uid = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return db_error(st, "prepare delete", why, whylen);
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_int64(q, 1, mb->id);
		sqlite3_bind_int64(q, 2, uids[i]);
		rc = exec_row(st, q, "delete message", why, whylen);
	}
	sqlite3_finalize(q);
	if (rc != 0)
		return rc;
	row.highestmodseq++;
	return mailbox_row_update(st, &row, why, whylen);
}
