/*
 * dir_sqlite - the directory in one SQLite file, <data_dir>/directory.db.
 *
 * The CLI writes, the workers read (RCPT lookups, logins). WAL mode lets
 * readers go on while a writer works; busy_timeout covers the short moments
 * when a checkpoint or a second writer holds a lock. Every statement is
 * prepared once per handle and kept, so a lookup is bind, step, reset.
 *
 * Multi-step changes are single statements whose WHERE clause carries the
 * precondition ("INSERT ... WHERE the domain is local"); when nothing
 * changed, a second look finds the reason. That keeps each change atomic
 * without an internal transaction, so callers may wrap several in
 * dir_begin/dir_commit.
 *
 * The schema version lives in PRAGMA user_version. A new file gets the
 * version 1 schema and then every migration, so old and new files end up
 * the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "directory/dir_private.h"

#define DIR_SCHEMA_VERSION	2
#define DIR_BUSY_TIMEOUT_MS	5000

static const char dir_schema_v1[] =
	"CREATE TABLE domains ("
	"  name TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('local', 'relay'))"
	");"
	"CREATE TABLE users ("
	"  address TEXT PRIMARY KEY,"
	"  local TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  quota INTEGER NOT NULL DEFAULT 0,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX users_domain ON users (domain, local);"
	"CREATE TABLE aliases ("
	"  source TEXT NOT NULL,"
	"  dest TEXT NOT NULL,"
	"  PRIMARY KEY (source, dest)"
	");";

/*
 * dir_migrations[v] takes the schema from version v to v + 1.
 * 1 -> 2: SCRAM-SHA-256 keys next to the password hash.
 */
static const char *const dir_migrations[DIR_SCHEMA_VERSION] = {
	[1] = "ALTER TABLE users ADD COLUMN scram TEXT NOT NULL DEFAULT ''",
};

enum dir_sql {
	SQL_DOMAIN_KIND,
	SQL_DOMAIN_ADD,
	SQL_DOMAIN_DEL,
	SQL_DOMAIN_USAGE,
	SQL_DOMAIN_LIST,
	SQL_USER_GET,
	SQL_USER_ADD,
	SQL_USER_DEL,
	SQL_USER_PASSWORD,
	SQL_USER_SCRAM,
	SQL_USER_QUOTA,
	SQL_USER_ENABLED,
	SQL_USER_LIST,
	SQL_USER_LIST_DOMAIN,
	SQL_ALIAS_DESTS,
	SQL_ALIAS_ADD,
	SQL_ALIAS_DEL,
	SQL_ALIAS_DEL_ALL,
	SQL_ALIAS_LIST,
	SQL_COUNT
};

/* Aliases of a domain: source is "<local>@domain" or "@domain". */
#define ALIAS_OF_DOMAIN(p) \
	"substr(source, -(length(" p ") + 1)) = '@' || " p

static const char *const dir_sql_text[SQL_COUNT] = {
	[SQL_DOMAIN_KIND] = "SELECT kind FROM domains WHERE name = ?1",
	[SQL_DOMAIN_ADD] = "INSERT INTO domains (name, kind) VALUES (?1, ?2)",
	[SQL_DOMAIN_DEL] = "DELETE FROM domains WHERE name = ?1"
	    " AND NOT EXISTS (SELECT 1 FROM users WHERE domain = ?1)"
	    " AND NOT EXISTS (SELECT 1 FROM aliases WHERE " ALIAS_OF_DOMAIN("?1") ")",
	[SQL_DOMAIN_USAGE] = "SELECT (SELECT count(*) FROM users WHERE domain = ?1),"
	    " (SELECT count(*) FROM aliases WHERE " ALIAS_OF_DOMAIN("?1") ")",
	[SQL_DOMAIN_LIST] = "SELECT name, kind FROM domains ORDER BY name",
	[SQL_USER_GET] = "SELECT address, password_hash, quota, enabled, scram"
	    " FROM users WHERE address = ?1",
	[SQL_USER_ADD] = "INSERT INTO users"
	    " (address, local, domain, password_hash, quota, enabled, created)"
	    " SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6 WHERE EXISTS"
	    " (SELECT 1 FROM domains WHERE name = ?3 AND kind = 'local')",
	[SQL_USER_DEL] = "DELETE FROM users WHERE address = ?1",
	[SQL_USER_PASSWORD] = "UPDATE users SET password_hash = ?2, scram = ''"
	    " WHERE address = ?1",
	[SQL_USER_SCRAM] = "UPDATE users SET scram = ?2 WHERE address = ?1",
	[SQL_USER_QUOTA] = "UPDATE users SET quota = ?2 WHERE address = ?1",
	[SQL_USER_ENABLED] = "UPDATE users SET enabled = ?2 WHERE address = ?1",
	[SQL_USER_LIST] = "SELECT address, password_hash, quota, enabled, scram"
	    " FROM users ORDER BY domain, local",
	[SQL_USER_LIST_DOMAIN] = "SELECT address, password_hash, quota, enabled, scram"
	    " FROM users WHERE domain = ?1 ORDER BY local",
	[SQL_ALIAS_DESTS] = "SELECT dest FROM aliases WHERE source = ?1 ORDER BY dest",
	[SQL_ALIAS_ADD] = "INSERT INTO aliases (source, dest) SELECT ?1, ?2"
	    " WHERE EXISTS (SELECT 1 FROM domains WHERE name = ?3)",
	[SQL_ALIAS_DEL] = "DELETE FROM aliases WHERE source = ?1 AND dest = ?2",
	[SQL_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE source = ?1",
	[SQL_ALIAS_LIST] = "SELECT source, dest FROM aliases"
	    " WHERE ?1 IS NULL OR source = ?1 ORDER BY source, dest",
};

struct dir {
	sqlite3			*db;
	enum dir_open_mode	 mode;
	sqlite3_stmt		*stmt[SQL_COUNT];
};

/* Result of running a change statement. */
enum dir_change {
	CHANGE_DONE,		/* one or more rows changed */
	CHANGE_NONE,		/* precondition false or no such row */
	CHANGE_EXISTS,		/* primary key already taken */
	CHANGE_ERROR,		/* why is set */
};

static void
db_why(struct dir *d, char *why, size_t whylen, const char *what)
{
	dir_why(why, whylen, "directory: %s: %s", what, sqlite3_errmsg(d->db));
}

/* The cached statement for which, reset and ready to bind; NULL with why. */
static sqlite3_stmt *
stmt_get(struct dir *d, enum dir_sql which, char *why, size_t whylen)
{
	if (d->stmt[which] == NULL && sqlite3_prepare_v3(d->db, dir_sql_text[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &d->stmt[which], NULL) != SQLITE_OK) {
		db_why(d, why, whylen, "prepare");
		return NULL;
	}
	return d->stmt[which];
}

static void
stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static const char *
column_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s == NULL ? "" : (const char *)s;
}

static enum dir_change
stmt_change(struct dir *d, sqlite3_stmt *st, char *why, size_t whylen)
{
	int rc = sqlite3_step(st);
	enum dir_change result;

	if (rc == SQLITE_DONE)
		result = sqlite3_changes(d->db) > 0 ? CHANGE_DONE : CHANGE_NONE;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		result = CHANGE_EXISTS;
	else {
		db_why(d, why, whylen, "update");
		result = CHANGE_ERROR;
	}
	stmt_done(st);
	return result;
}

static int
check_writable(struct dir *d, char *why, size_t whylen)
{
	if (d->mode != DIR_OPEN_READ)
		return 0;
	dir_why(why, whylen, "directory: opened read-only");
	return -1;
}

static int
exec_sql(struct dir *d, const char *sql, char *why, size_t whylen)
{
	char *err = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	dir_why(why, whylen, "directory: %s", err != NULL ? err : sqlite3_errmsg(d->db));
	sqlite3_free(err);
	return -1;
}

static int
user_version(struct dir *d, int *version, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		db_why(d, why, whylen, "schema");
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	else
		db_why(d, why, whylen, "schema");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Create the schema in an empty file, under the write lock. */
static int
schema_create(struct dir *d, char *why, size_t whylen)
{
	char sql[32];
	int version;

	if (exec_sql(d, "BEGIN IMMEDIATE", why, whylen) == -1)
		return -1;
	/* Another tern init may have won the race. */
	if (user_version(d, &version, why, whylen) == -1)
		goto fail;
	if (version == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", 1);
		if (exec_sql(d, dir_schema_v1, why, whylen) == -1 ||
		    exec_sql(d, sql, why, whylen) == -1)
			goto fail;
	}
	if (exec_sql(d, "COMMIT", why, whylen) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * One migration step from version from, under the write lock. Another
 * process may have done it meanwhile: the version is read again inside.
 */
static int
schema_migrate(struct dir *d, int from, char *why, size_t whylen)
{
	char sql[32];
	int version;

	if (exec_sql(d, "BEGIN IMMEDIATE", why, whylen) == -1)
		return -1;
	if (user_version(d, &version, why, whylen) == -1)
		goto fail;
	if (version == from) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", from + 1);
		if (exec_sql(d, dir_migrations[from], why, whylen) == -1 ||
		    exec_sql(d, sql, why, whylen) == -1)
			goto fail;
	}
	if (exec_sql(d, "COMMIT", why, whylen) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Bring the file to the current schema: create it (tern init), then run
 * the migrations from its version on, each in its own transaction. Any
 * opener migrates, readers included (they open read-write and set
 * query_only only afterwards), so a worker started after an upgrade does
 * not need the CLI to run first.
 */
static int
schema_check(struct dir *d, const char *path, char *why, size_t whylen)
{
	int version;

	if (user_version(d, &version, why, whylen) == -1)
		return -1;
	if (version == 0 && d->mode == DIR_OPEN_CREATE) {
		if (schema_create(d, why, whylen) == -1 ||
		    user_version(d, &version, why, whylen) == -1)
			return -1;
	}
	if (version == 0) {
		dir_why(why, whylen, "%s: not a tern directory (no schema; see tern init)",
		    path);
		return -1;
	}
	while (version > 0 && version < DIR_SCHEMA_VERSION) {
		if (schema_migrate(d, version, why, whylen) == -1 ||
		    user_version(d, &version, why, whylen) == -1)
			return -1;
	}
	if (version != DIR_SCHEMA_VERSION) {
		dir_why(why, whylen, "%s: schema version %d, this program knows %d",
		    path, version, DIR_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* The file holds password hashes: create it private before SQLite opens it. */
static int
create_file(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1) {
		dir_why(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int
dir_setup(struct dir *d, const char *path, char *why, size_t whylen)
{
	sqlite3_busy_timeout(d->db, DIR_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(d->db, 1);
	/* WAL is a property of the file; writers make sure it is set. */
	if (d->mode != DIR_OPEN_READ &&
	    exec_sql(d, "PRAGMA journal_mode = WAL", why, whylen) == -1)
		return -1;
	if (schema_check(d, path, why, whylen) == -1)
		return -1;
	if (d->mode == DIR_OPEN_READ &&
	    exec_sql(d, "PRAGMA query_only = 1", why, whylen) == -1)
		return -1;
	return 0;
}

struct dir *
dir_open(const char *path, enum dir_open_mode mode, char *why, size_t whylen)
{
	struct dir *d;
	struct stat st;

	if (mode == DIR_OPEN_CREATE) {
		if (create_file(path, why, whylen) == -1)
			return NULL;
	} else if (stat(path, &st) == -1) {
		dir_why(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->mode = mode;
	/*
	 * Readers open read-write too (and set query_only): a WAL reader must
	 * be able to take its place in the -shm index. SQLite falls back to
	 * read-only by itself when the file is not writable.
	 */
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		dir_why(why, whylen, "%s: %s", path,
		    d->db != NULL ? sqlite3_errmsg(d->db) : "out of memory");
		dir_close(&d);
		return NULL;
	}
	if (dir_setup(d, path, why, whylen) == -1) {
		dir_close(&d);
		return NULL;
	}
	return d;
}

void
dir_close(struct dir **dirp)
{
	struct dir *d;

	if (dirp == NULL || *dirp == NULL)
		return;
	d = *dirp;
	for (size_t i = 0; i < SQL_COUNT; i++)
		sqlite3_finalize(d->stmt[i]);
	sqlite3_close(d->db);
	free(d);
	*dirp = NULL;
}

int
dir_begin(struct dir *d, char *why, size_t whylen)
{
	if (check_writable(d, why, whylen) == -1)
		return -1;
	return exec_sql(d, "BEGIN IMMEDIATE", why, whylen);
}

int
dir_commit(struct dir *d, char *why, size_t whylen)
{
	return exec_sql(d, "COMMIT", why, whylen);
}

void
dir_rollback(struct dir *d)
{
	if (!sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Domains. */

int
dir_lookup_kind(struct dir *d, const char *domain)
{
	sqlite3_stmt *st = stmt_get(d, SQL_DOMAIN_KIND, NULL, 0);
	int rc, kind = DIR_DOMAIN_NONE;

	if (st == NULL)
		return -1;
	bind_text(st, 1, domain);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		kind = strcmp(column_text(st, 0), "relay") == 0 ?
		    DIR_DOMAIN_RELAY : DIR_DOMAIN_LOCAL;
	else if (rc != SQLITE_DONE)
		kind = -1;
	stmt_done(st);
	return kind;
}

/* Lower-case domain into out (DIR_DOMAIN_MAX + 1 bytes); -1 if implausible. */
static int
domain_canonical(const char *domain, char *out, char *why, size_t whylen)
{
	char local[DIR_LOCAL_MAX + 1], address[DIR_ADDRESS_MAX + 2], shown[128];

	if (domain == NULL)
		domain = "";
	if (strchr(domain, '@') != NULL) {
		str_printable(shown, sizeof(shown), domain, strlen(domain));
		dir_why(why, whylen, "invalid domain '%s'", shown);
		return -1;
	}
	snprintf(address, sizeof(address), "@%s", domain);
	return dir_split(address, 1, local, out, why, whylen);
}

enum dir_domain_kind
dir_domain_kind(struct dir *d, const char *domain)
{
	char canon[DIR_DOMAIN_MAX + 1];
	int kind;

	if (domain_canonical(domain, canon, NULL, 0) == -1)
		return DIR_DOMAIN_NONE;
	kind = dir_lookup_kind(d, canon);
	return kind < 0 ? DIR_DOMAIN_NONE : (enum dir_domain_kind)kind;
}

int
dir_domain_add(struct dir *d, const char *domain, enum dir_domain_kind kind,
    char *why, size_t whylen)
{
	char canon[DIR_DOMAIN_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    domain_canonical(domain, canon, why, whylen) == -1)
		return -1;
	if (!dir_domain_name_ok(canon)) {
		dir_why(why, whylen, "invalid domain name '%s'", canon);
		return -1;
	}
	if (kind != DIR_DOMAIN_LOCAL && kind != DIR_DOMAIN_RELAY) {
		dir_why(why, whylen, "domain kind must be local or relay");
		return -1;
	}
	if ((st = stmt_get(d, SQL_DOMAIN_ADD, why, whylen)) == NULL)
		return -1;
	bind_text(st, 1, canon);
	bind_text(st, 2, dir_domain_kind_name(kind));
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_EXISTS:
		dir_why(why, whylen, "domain %s already exists", canon);
		return -1;
	default:
		return -1;
	}
}

/* Why a domain could not be deleted: unknown, or still in use. */
static void
domain_del_reason(struct dir *d, const char *domain, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int users = 0, aliases = 0;

	if (dir_lookup_kind(d, domain) == DIR_DOMAIN_NONE) {
		dir_why(why, whylen, "unknown domain %s", domain);
		return;
	}
	if ((st = stmt_get(d, SQL_DOMAIN_USAGE, why, whylen)) == NULL)
		return;
	bind_text(st, 1, domain);
	if (sqlite3_step(st) == SQLITE_ROW) {
		users = sqlite3_column_int(st, 0);
		aliases = sqlite3_column_int(st, 1);
	}
	stmt_done(st);
	dir_why(why, whylen, "domain %s still has %d user%s and %d alias%s; "
	    "delete them first", domain, users, users == 1 ? "" : "s",
	    aliases, aliases == 1 ? "" : "es");
}

int
dir_domain_del(struct dir *d, const char *domain, char *why, size_t whylen)
{
	char canon[DIR_DOMAIN_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    domain_canonical(domain, canon, why, whylen) == -1 ||
	    (st = stmt_get(d, SQL_DOMAIN_DEL, why, whylen)) == NULL)
		return -1;
	bind_text(st, 1, canon);
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_ERROR:
		return -1;
	default:
		domain_del_reason(d, canon, why, whylen);
		return -1;
	}
}

int
dir_domain_list(struct dir *d, void (*fn)(void *arg, const char *domain,
    enum dir_domain_kind kind), void *arg, char *why, size_t whylen)
{
	sqlite3_stmt *st = stmt_get(d, SQL_DOMAIN_LIST, why, whylen);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, column_text(st, 0), strcmp(column_text(st, 1), "relay") == 0 ?
		    DIR_DOMAIN_RELAY : DIR_DOMAIN_LOCAL);
	if (rc != SQLITE_DONE)
		db_why(d, why, whylen, "list domains");
	stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Users. */

static void
user_from_row(sqlite3_stmt *st, struct dir_user *u)
{
	sqlite3_int64 quota = sqlite3_column_int64(st, 2);

	memset(u, 0, sizeof(*u));
	str_copy(u->address, column_text(st, 0), sizeof(u->address));
	str_copy(u->password_hash, column_text(st, 1), sizeof(u->password_hash));
	u->quota = quota > 0 ? (uint64_t)quota : 0;
	u->enabled = sqlite3_column_int(st, 3) != 0;
	str_copy(u->scram, column_text(st, 4), sizeof(u->scram));
}

int
dir_lookup_user(struct dir *d, const char *address, struct dir_user *out)
{
	sqlite3_stmt *st = stmt_get(d, SQL_USER_GET, NULL, 0);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, address);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out != NULL)
		user_from_row(st, out);
	stmt_done(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
dir_user_get(struct dir *d, const char *address, struct dir_user *out,
    char *why, size_t whylen)
{
	char canon[DIR_ADDRESS_MAX + 1];
	int rc;

	if (dir_canonical(address, canon, why, whylen) == -1)
		return -1;
	rc = dir_lookup_user(d, canon, out);
	if (rc == -1)
		db_why(d, why, whylen, "user lookup");
	return rc;
}

/* Why a user could not be added although the address was free. */
static void
user_add_reason(struct dir *d, const char *domain, char *why, size_t whylen)
{
	switch (dir_lookup_kind(d, domain)) {
	case DIR_DOMAIN_NONE:
		dir_why(why, whylen, "unknown domain %s", domain);
		break;
	case DIR_DOMAIN_RELAY:
		dir_why(why, whylen, "domain %s is a relay domain, not local", domain);
		break;
	default:
		db_why(d, why, whylen, "add user");
		break;
	}
}

int
dir_user_add(struct dir *d, const char *address, const char *password_hash,
    uint64_t quota, char *why, size_t whylen)
{
	char local[DIR_LOCAL_MAX + 1], domain[DIR_DOMAIN_MAX + 1];
	char canon[DIR_ADDRESS_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    dir_split(address, 0, local, domain, why, whylen) == -1)
		return -1;
	snprintf(canon, sizeof(canon), "%s@%s", local, domain);
	if (!dir_local_part_ok(local)) {
		dir_why(why, whylen, "invalid address '%s': local part must not "
		    "start with '.' or contain '/'", canon);
		return -1;
	}
	if (quota > INT64_MAX) {
		dir_why(why, whylen, "quota too large");
		return -1;
	}
	if ((st = stmt_get(d, SQL_USER_ADD, why, whylen)) == NULL)
		return -1;
	bind_text(st, 1, canon);
	bind_text(st, 2, local);
	bind_text(st, 3, domain);
	bind_text(st, 4, password_hash != NULL ? password_hash : "");
	sqlite3_bind_int64(st, 5, (sqlite3_int64)quota);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_EXISTS:
		dir_why(why, whylen, "user %s already exists", canon);
		return -1;
	case CHANGE_NONE:
		user_add_reason(d, domain, why, whylen);
		return -1;
	default:
		return -1;
	}
}

/* Run one of the per-user statements with an optional second parameter. */
static int
user_change(struct dir *d, enum dir_sql which, const char *address,
    const char *text, sqlite3_int64 number, char *why, size_t whylen)
{
	char canon[DIR_ADDRESS_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    dir_canonical(address, canon, why, whylen) == -1 ||
	    (st = stmt_get(d, which, why, whylen)) == NULL)
		return -1;
	bind_text(st, 1, canon);
	if (text != NULL)
		bind_text(st, 2, text);
	else if (which != SQL_USER_DEL)
		sqlite3_bind_int64(st, 2, number);
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_ERROR:
		return -1;
	default:
		dir_why(why, whylen, "no such user %s", canon);
		return -1;
	}
}

int
dir_user_del(struct dir *d, const char *address, char *why, size_t whylen)
{
	return user_change(d, SQL_USER_DEL, address, NULL, 0, why, whylen);
}

int
dir_user_set_password(struct dir *d, const char *address, const char *password_hash,
    char *why, size_t whylen)
{
	return user_change(d, SQL_USER_PASSWORD, address,
	    password_hash != NULL ? password_hash : "", 0, why, whylen);
}

int
dir_user_set_scram(struct dir *d, const char *address, const char *record,
    char *why, size_t whylen)
{
	return user_change(d, SQL_USER_SCRAM, address, record != NULL ? record : "", 0,
	    why, whylen);
}

int
dir_user_set_quota(struct dir *d, const char *address, uint64_t quota,
    char *why, size_t whylen)
{
	if (quota > INT64_MAX) {
		dir_why(why, whylen, "quota too large");
		return -1;
	}
	return user_change(d, SQL_USER_QUOTA, address, NULL, (sqlite3_int64)quota,
	    why, whylen);
}

int
dir_user_set_enabled(struct dir *d, const char *address, int enabled,
    char *why, size_t whylen)
{
	return user_change(d, SQL_USER_ENABLED, address, NULL, enabled != 0,
	    why, whylen);
}

int
dir_user_list(struct dir *d, const char *domain_or_null,
    void (*fn)(void *arg, const struct dir_user *user), void *arg,
    char *why, size_t whylen)
{
	char canon[DIR_DOMAIN_MAX + 1];
	struct dir_user u;
	sqlite3_stmt *st;
	int rc;

	if (domain_or_null != NULL) {
		if (domain_canonical(domain_or_null, canon, why, whylen) == -1 ||
		    (st = stmt_get(d, SQL_USER_LIST_DOMAIN, why, whylen)) == NULL)
			return -1;
		bind_text(st, 1, canon);
	} else if ((st = stmt_get(d, SQL_USER_LIST, why, whylen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		user_from_row(st, &u);
		fn(arg, &u);
	}
	if (rc != SQLITE_DONE)
		db_why(d, why, whylen, "list users");
	stmt_done(st);
	explicit_bzero(&u, sizeof(u));
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Aliases. */

int
dir_lookup_aliases(struct dir *d, const char *source, char ***dests_out,
    size_t *ndests_out)
{
	sqlite3_stmt *st = stmt_get(d, SQL_ALIAS_DESTS, NULL, 0);
	char **dests = NULL;
	size_t n = 0;
	int rc;

	*dests_out = NULL;
	*ndests_out = 0;
	if (st == NULL)
		return -1;
	bind_text(st, 1, source);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dests = xreallocarray(dests, n + 1, sizeof(*dests));
		dests[n++] = xstrdup(column_text(st, 0));
	}
	stmt_done(st);
	if (rc != SQLITE_DONE) {
		dir_free_list(dests, n);
		return -1;
	}
	*dests_out = dests;
	*ndests_out = n;
	return 0;
}

void
dir_free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Canonical alias source ("local@domain" or "@domain") into out. */
static int
source_canonical(const char *source, char *out, char *domain, char *why, size_t whylen)
{
	char local[DIR_LOCAL_MAX + 1];

	if (dir_split(source, 1, local, domain, why, whylen) == -1)
		return -1;
	snprintf(out, DIR_ADDRESS_MAX + 1, "%s@%s", local, domain);
	return 0;
}

int
dir_alias_add(struct dir *d, const char *source, const char *dest,
    char *why, size_t whylen)
{
	char src[DIR_ADDRESS_MAX + 1], dst[DIR_ADDRESS_MAX + 1];
	char domain[DIR_DOMAIN_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    source_canonical(source, src, domain, why, whylen) == -1 ||
	    dir_canonical(dest, dst, why, whylen) == -1)
		return -1;
	if ((st = stmt_get(d, SQL_ALIAS_ADD, why, whylen)) == NULL)
		return -1;
	bind_text(st, 1, src);
	bind_text(st, 2, dst);
	bind_text(st, 3, domain);
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_EXISTS:
		dir_why(why, whylen, "alias %s -> %s already exists", src, dst);
		return -1;
	case CHANGE_NONE:
		dir_why(why, whylen, "unknown domain %s", domain);
		return -1;
	default:
		return -1;
	}
}

int
dir_alias_del(struct dir *d, const char *source, const char *dest,
    char *why, size_t whylen)
{
	char src[DIR_ADDRESS_MAX + 1], dst[DIR_ADDRESS_MAX + 1];
	char domain[DIR_DOMAIN_MAX + 1];
	sqlite3_stmt *st;

	if (check_writable(d, why, whylen) == -1 ||
	    source_canonical(source, src, domain, why, whylen) == -1 ||
	    (dest != NULL && dir_canonical(dest, dst, why, whylen) == -1))
		return -1;
	st = stmt_get(d, dest != NULL ? SQL_ALIAS_DEL : SQL_ALIAS_DEL_ALL, why, whylen);
	if (st == NULL)
		return -1;
	bind_text(st, 1, src);
	if (dest != NULL)
		bind_text(st, 2, dst);
	switch (stmt_change(d, st, why, whylen)) {
	case CHANGE_DONE:
		return 0;
	case CHANGE_ERROR:
		return -1;
	default:
		if (dest != NULL)
			dir_why(why, whylen, "no such alias %s -> %s", src, dst);
		else
			dir_why(why, whylen, "no such alias %s", src);
		return -1;
	}
}

int
dir_alias_list(struct dir *d, const char *source_or_null,
    void (*fn)(void *arg, const char *source, const char *dest), void *arg,
    char *why, size_t whylen)
{
	char src[DIR_ADDRESS_MAX + 1], domain[DIR_DOMAIN_MAX + 1];
	sqlite3_stmt *st;
	int rc;

	if (source_or_null != NULL &&
	    source_canonical(source_or_null, src, domain, why, whylen) == -1)
		return -1;
	if ((st = stmt_get(d, SQL_ALIAS_LIST, why, whylen)) == NULL)
		return -1;
	if (source_or_null != NULL)
		bind_text(st, 1, src);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, column_text(st, 0), column_text(st, 1));
	if (rc != SQLITE_DONE)
		db_why(d, why, whylen, "list aliases");
	stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
