/*
 * store_index - the per-user SQLite index beside the Maildir.
 *
 * The index is a cache: Maildir holds the mail, so the index runs with
 * synchronous=OFF (a crash may lose its last changes, never a message) and
 * a damaged file is simply replaced. What must survive is the UID of each
 * message, which a rebuild cannot keep: a rebuild therefore takes a new
 * UIDVALIDITY (the current time, as the old one is unknown), which tells
 * IMAP and POP3 clients (UIDL carries it) to forget what they knew. An
 * index of an older schema version is rebuilt the same way.
 *
 * Concurrency: WAL mode lets readers go on; every change (sync, expunge,
 * flags, append, copy, mailbox changes) runs in BEGIN IMMEDIATE, so the
 * processes and threads of one user take turns and never hand out a UID
 * twice.
 *
 * Memory: a server keeps many idle sessions, each with its own connection,
 * so the connection gets no lookaside allocator and a small page cache.
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

#define INDEX_SCHEMA_VERSION	3
#define INDEX_BUSY_TIMEOUT_MS	15000

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS mailboxes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" special_use INTEGER NOT NULL DEFAULT 0,"
	" cur_mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" cur_checked_ns INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" mailbox INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL,"
	" base TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '',"
	" keywords INTEGER NOT NULL DEFAULT 0,"
	" modseq INTEGER NOT NULL,"
	" internaldate INTEGER NOT NULL,"
	" envelope TEXT NULL,"
	" bodystructure TEXT NULL,"
	" headers TEXT NULL,"
	" PRIMARY KEY (mailbox, uid),"
	" UNIQUE (mailbox, base));"
	"CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox, modseq);"
	"CREATE TABLE IF NOT EXISTS keywords ("
	" mailbox INTEGER NOT NULL,"
	" bit INTEGER NOT NULL,"
	" name TEXT NOT NULL COLLATE NOCASE,"
	" PRIMARY KEY (mailbox, bit),"
	" UNIQUE (mailbox, name));"
	"CREATE TABLE IF NOT EXISTS expunged ("
	" mailbox INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (mailbox, modseq);";

static int
is_damage(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

int
store_index_error(struct store *st, const char *what, char *why, size_t whylen)
{
	int rc = sqlite3_extended_errcode(st->db);

	snprintf(why, whylen, "%s: %s: %s", st->index_path, what, sqlite3_errmsg(st->db));
	return is_damage(rc) ? -2 : -1;
}

static int
exec_sql(struct store *st, const char *sql, char *why, size_t whylen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_index_error(st, sql, why, whylen);
	return 0;
}

int
store_index_exec_row(struct store *st, sqlite3_stmt *q, const char *what, char *why,
    size_t whylen)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : store_index_error(st, what, why, whylen);
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
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return store_index_error(st, "open", why, whylen);
	/* Before first use: lookaside would cost ~100 KiB per idle session. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
	sqlite3_busy_timeout(st->db, INDEX_BUSY_TIMEOUT_MS);
	/* synchronous first: the switch to WAL of a new file syncs otherwise. */
	/*
	 * Pages are read through a shared mapping rather than copied into
	 * each connection's cache: sessions of one user share them, and a
	 * SEARCH over every row's cached headers costs no read(2) per page.
	 */
	if ((rc = exec_sql(st, "PRAGMA cache_size = -256", why, whylen)) != 0 ||
	    (rc = exec_sql(st, "PRAGMA mmap_size = " STORE_INDEX_MMAP, why, whylen)) != 0 ||
	    (rc = exec_sql(st, "PRAGMA synchronous = OFF", why, whylen)) != 0 ||
	    (rc = exec_sql(st, "PRAGMA journal_mode = WAL", why, whylen)) != 0)
		return rc;
	if (user_version(st, &version) == -1)
		return store_index_error(st, "user_version", why, whylen) == -2 ? -2 : -1;
	if (version == INDEX_SCHEMA_VERSION)
		return 0;
	if (version != 0) {
		/* Version 1 (INBOX only) or a stranger: a cache, so start over. */
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
store_index_begin_read(struct store *st, char *why, size_t whylen)
{
	return exec_sql(st, "BEGIN", why, whylen);
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

/* --- mailbox rows --- */

#define BOX_COLUMNS	"id, name, uidvalidity, uidnext, highestmodseq, special_use," \
			" cur_mtime_ns, cur_checked_ns"

static int
box_select(struct store *st, sqlite3_stmt *q, struct store_box *out, char *why,
    size_t whylen)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 1);
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		str_copy(out->name, name != NULL ? name : "", sizeof(out->name));
		out->uidvalidity = (uint32_t)sqlite3_column_int64(q, 2);
		out->uidnext = (uint32_t)sqlite3_column_int64(q, 3);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(q, 4);
		out->special_use = (unsigned)sqlite3_column_int64(q, 5);
		out->cur_mtime_ns = sqlite3_column_int64(q, 6);
		out->cur_checked_ns = sqlite3_column_int64(q, 7);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		rc = store_index_error(st, "select mailbox", why, whylen);
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_index_box_by_name(struct store *st, const char *name, struct store_box *out,
    char *why, size_t whylen)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "SELECT " BOX_COLUMNS " FROM mailboxes WHERE name = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select mailbox", why, whylen);
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	return box_select(st, q, out, why, whylen);
}

int
store_index_box_by_id(struct store *st, int64_t id, struct store_box *out, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "SELECT " BOX_COLUMNS " FROM mailboxes WHERE id = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select mailbox", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	return box_select(st, q, out, why, whylen);
}

long
store_index_box_count(struct store *st, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	long n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM mailboxes", -1, &q, NULL) !=
	    SQLITE_OK) {
		store_index_error(st, "count mailboxes", why, whylen);
		return -1;
	}
	if (sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	else
		store_index_error(st, "count mailboxes", why, whylen);
	sqlite3_finalize(q);
	return n;
}

/*
 * A UIDVALIDITY above every earlier one of this index (meta 'uidvalidity'),
 * and at least the current time, so that a mailbox deleted and created
 * again, or an index rebuilt, never repeats a value with other UIDs.
 */
static int
next_uidvalidity(struct store *st, uint32_t *out, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	uint64_t last = 0, now = (uint64_t)time(NULL), v;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'uidvalidity'", -1,
	    &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select meta", why, whylen);
	if (sqlite3_step(q) == SQLITE_ROW)
		last = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	v = now > last ? now : last + 1;
	if (v == 0 || v > UINT32_MAX)
		v = 1;	/* after 2106 */
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta (key, value)"
	    " VALUES ('uidvalidity', ?)", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "update meta", why, whylen);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)v);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return store_index_error(st, "update meta", why, whylen);
	*out = (uint32_t)v;
	return 0;
}

int
store_index_box_insert(struct store *st, const char *name, unsigned special_use,
    struct store_box *out, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	uint32_t uidvalidity = 0;
	int rc;

	if ((rc = next_uidvalidity(st, &uidvalidity, why, whylen)) != 0)
		return rc;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO mailboxes (name, uidvalidity, uidnext,"
	    " highestmodseq, special_use) VALUES (?, ?, 1, 1, ?)", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "insert mailbox", why, whylen);
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, uidvalidity);
	sqlite3_bind_int64(q, 3, special_use);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return store_index_error(st, "insert mailbox", why, whylen);
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_last_insert_rowid(st->db);
	str_copy(out->name, name, sizeof(out->name));
	out->uidvalidity = uidvalidity;
	out->uidnext = 1;
	out->highestmodseq = 1;
	out->special_use = special_use;
	return 0;
}

int
store_index_box_update(struct store *st, const struct store_box *box, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?,"
	    " cur_mtime_ns = ?, cur_checked_ns = ? WHERE id = ?", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "update mailbox", why, whylen);
	sqlite3_bind_int64(q, 1, box->uidnext);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)box->highestmodseq);
	sqlite3_bind_int64(q, 3, box->cur_mtime_ns);
	sqlite3_bind_int64(q, 4, box->cur_checked_ns);
	sqlite3_bind_int64(q, 5, box->id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : store_index_error(st, "update mailbox", why, whylen);
}

int
store_index_box_drop(struct store *st, int64_t id, char *why, size_t whylen)
{
	static const char *const sql[] = {
		"DELETE FROM messages WHERE mailbox = ?",
		"DELETE FROM keywords WHERE mailbox = ?",
		"DELETE FROM expunged WHERE mailbox = ?",
		"DELETE FROM mailboxes WHERE id = ?",
	};
	sqlite3_stmt *q;
	int rc;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if (sqlite3_prepare_v2(st->db, sql[i], -1, &q, NULL) != SQLITE_OK)
			return store_index_error(st, sql[i], why, whylen);
		sqlite3_bind_int64(q, 1, id);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return store_index_error(st, sql[i], why, whylen);
	}
	return 0;
}

/* --- message rows --- */

#define MSG_COLUMNS	"uid, base, size, flags, modseq, internaldate, keywords"

static void
msg_from_row(sqlite3_stmt *q, struct store_msg *m)
{
	const char *base = (const char *)sqlite3_column_text(q, 1);
	const char *flags = (const char *)sqlite3_column_text(q, 3);

	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)sqlite3_column_int64(q, 0);
	str_copy(m->base, base != NULL ? base : "", sizeof(m->base));
	m->size = (uint64_t)sqlite3_column_int64(q, 2);
	str_copy(m->flags, flags != NULL ? flags : "", sizeof(m->flags));
	m->modseq = (uint64_t)sqlite3_column_int64(q, 4);
	m->internaldate = (time_t)sqlite3_column_int64(q, 5);
	m->keywords = (uint64_t)sqlite3_column_int64(q, 6);
}

int
store_index_load(struct store *st, int64_t id, uint64_t since, struct store_msg **msgs,
    size_t *n, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	size_t cap = *n;
	int rc;

	if (sqlite3_prepare_v2(st->db, since == 0 ?
	    "SELECT " MSG_COLUMNS " FROM messages WHERE mailbox = ?1 ORDER BY uid" :
	    "SELECT " MSG_COLUMNS " FROM messages WHERE mailbox = ?1 AND modseq > ?2"
	    " ORDER BY uid", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select messages", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	if (since != 0)
		sqlite3_bind_int64(q, 2, (sqlite3_int64)since);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap < 64 ? 64 : cap * 2;
			*msgs = xreallocarray(*msgs, cap, sizeof(**msgs));
		}
		msg_from_row(q, &(*msgs)[(*n)++]);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : store_index_error(st, "select messages", why, whylen);
}

int
store_index_msg(struct store *st, int64_t id, uint32_t uid, struct store_msg *out,
    char *why, size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " MSG_COLUMNS " FROM messages"
	    " WHERE mailbox = ? AND uid = ?", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select message", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, uid);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		msg_from_row(q, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 1 : store_index_error(st, "select message", why, whylen);
	}
	sqlite3_finalize(q);
	return rc;
}

static void
bind_msg(sqlite3_stmt *q, int64_t id, const struct store_msg *m)
{
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, m->uid);
	sqlite3_bind_text(q, 3, m->base, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)m->size);
	sqlite3_bind_text(q, 5, m->flags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)m->modseq);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)m->internaldate);
	sqlite3_bind_int64(q, 8, (sqlite3_int64)m->keywords);
}

#define INSERT_MSG_SQL	"INSERT INTO messages (mailbox, uid, base, size, flags, modseq," \
			" internaldate, keywords) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

int
store_index_msg_insert(struct store *st, int64_t id, const struct store_msg *msg,
    char *why, size_t whylen)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, INSERT_MSG_SQL, -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "insert message", why, whylen);
	bind_msg(q, id, msg);
	int rc = store_index_exec_row(st, q, "insert message", why, whylen);
	sqlite3_finalize(q);
	return rc;
}

int
store_index_delete(struct store *st, struct store_box *box, const uint32_t *uids, size_t n,
    char *why, size_t whylen)
{
	sqlite3_stmt *del = NULL, *tomb = NULL;
	int rc = 0;

	if (n == 0)
		return 0;
	box->highestmodseq++;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM messages WHERE mailbox = ? AND uid = ?",
	    -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "INSERT INTO expunged (mailbox, uid, modseq)"
	    " VALUES (?, ?, ?)", -1, &tomb, NULL) != SQLITE_OK)
		rc = store_index_error(st, "prepare delete", why, whylen);
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_int64(del, 1, box->id);
		sqlite3_bind_int64(del, 2, uids[i]);
		rc = store_index_exec_row(st, del, "delete message", why, whylen);
		if (rc != 0 || sqlite3_changes(st->db) == 0)
			continue;	/* not there: no tombstone either */
		sqlite3_bind_int64(tomb, 1, box->id);
		sqlite3_bind_int64(tomb, 2, uids[i]);
		sqlite3_bind_int64(tomb, 3, (sqlite3_int64)box->highestmodseq);
		rc = store_index_exec_row(st, tomb, "insert tombstone", why, whylen);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(tomb);
	return rc;
}

/* --- the scan merge --- */

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

/* Rows whose file is gone are dropped; changed flags are taken. */
static int
merge_known(struct store *st, struct store_box *box, struct store_msg *rows, size_t nrows,
    struct store_file *files, size_t nfiles, unsigned char *seen, char *why,
    size_t whylen)
{
	sqlite3_stmt *upd;
	uint32_t *gone = xcalloc(nrows + 1, sizeof(*gone));
	size_t ngone = 0;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "UPDATE messages SET flags = ?, modseq = ?"
	    " WHERE mailbox = ? AND uid = ?", -1, &upd, NULL) != SQLITE_OK) {
		free(gone);
		return store_index_error(st, "prepare update", why, whylen);
	}
	for (size_t i = 0; i < nrows && rc == 0; i++) {
		struct store_file key, *f;
		str_copy(key.base, rows[i].base, sizeof(key.base));
		f = nfiles == 0 ? NULL :
		    bsearch(&key, files, nfiles, sizeof(*files), file_base_cmp);
		if (f == NULL) {
			gone[ngone++] = rows[i].uid;
			continue;
		}
		seen[f - files] = 1;
		if (strcmp(f->flags, rows[i].flags) == 0)
			continue;
		sqlite3_bind_text(upd, 1, f->flags, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, (sqlite3_int64)++box->highestmodseq);
		sqlite3_bind_int64(upd, 3, box->id);
		sqlite3_bind_int64(upd, 4, rows[i].uid);
		rc = store_index_exec_row(st, upd, "update flags", why, whylen);
	}
	sqlite3_finalize(upd);
	if (rc == 0)
		rc = store_index_delete(st, box, gone, ngone, why, whylen);
	free(gone);
	return rc;
}

/* Files the index does not know get the next UIDs, in arrival order. */
static int
merge_new(struct store *st, struct store_box *box, const char *path, struct store_file *files,
    size_t nfiles, const unsigned char *seen, char *why, size_t whylen)
{
	struct store_file **fresh;
	struct store_msg m;
	sqlite3_stmt *ins;
	size_t nfresh = 0;
	int rc = 0;

	fresh = xcalloc(nfiles + 1, sizeof(*fresh));
	for (size_t i = 0; i < nfiles; i++)
		if (!seen[i])
			fresh[nfresh++] = &files[i];
	if (nfresh == 0) {
		free(fresh);
		return 0;
	}
	qsort(fresh, nfresh, sizeof(*fresh), file_ptr_arrival_cmp);
	if (sqlite3_prepare_v2(st->db, INSERT_MSG_SQL, -1, &ins, NULL) != SQLITE_OK) {
		free(fresh);
		return store_index_error(st, "prepare insert", why, whylen);
	}
	for (size_t i = 0; i < nfresh && rc == 0; i++) {
		if (box->uidnext == 0 || box->uidnext == UINT32_MAX) {
			snprintf(why, whylen, "%s: UIDs exhausted", st->index_path);
			rc = -2;	/* a rebuild starts over with a new UIDVALIDITY */
			break;
		}
		memset(&m, 0, sizeof(m));
		m.uid = box->uidnext++;
		str_copy(m.base, fresh[i]->base, sizeof(m.base));
		str_copy(m.flags, fresh[i]->flags, sizeof(m.flags));
		/* Read once, when the file is new to the index. */
		m.size = fresh[i]->size_guessed ? store_maildir_crlf_size(path, fresh[i]) :
		    fresh[i]->size;
		m.modseq = ++box->highestmodseq;
		m.internaldate = fresh[i]->sec;
		bind_msg(ins, box->id, &m);
		rc = store_index_exec_row(st, ins, "insert message", why, whylen);
	}
	sqlite3_finalize(ins);
	free(fresh);
	return rc;
}

int
store_index_merge(struct store *st, struct store_box *box, const char *path,
    struct store_file *files, size_t nfiles, char *why, size_t whylen)
{
	struct store_msg *rows = NULL;
	size_t nrows = 0;
	unsigned char *seen;
	int rc;

	if ((rc = store_index_load(st, box->id, 0, &rows, &nrows, why, whylen)) != 0) {
		free(rows);
		return rc;
	}
	if (nfiles > 1)
		qsort(files, nfiles, sizeof(*files), file_base_cmp);
	seen = xcalloc(nfiles + 1, 1);
	rc = merge_known(st, box, rows, nrows, files, nfiles, seen, why, whylen);
	if (rc == 0)
		rc = merge_new(st, box, path, files, nfiles, seen, why, whylen);
	free(seen);
	free(rows);
	return rc;
}
