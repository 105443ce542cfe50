/*
 * store_mailboxes - the user's mailboxes: the defaults of a new user,
 * rediscovery after an index rebuild, LIST, CREATE, DELETE and subscriptions.
 *
 * RENAME is in store_rename.c.
 *
 * The index names the mailboxes, the Maildir++ folders hold them; every
 * change to both runs inside one index write transaction, which also
 * serialises the rewrites of the subscriptions file. A rebuilt index finds
 * the folders again from their directory names, so mailboxes outlive it
 * (with new UIDVALIDITYs); the subscriptions file outlives it as it is.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

#define SUBSCRIPTIONS_NAME	"subscriptions"
#define SUBSCRIPTIONS_MAX	(1024 * 1024)	/* bytes of the file we read */
#define TREE_DEPTH_MAX		3	/* folder/cur/file */

static const char *const default_folders[] = { "Sent", "Drafts", "Trash", "Junk", "Archive" };

/* --- folders on disk --- */

/* path/{cur,new,tmp} and path/maildirfolder (Maildir++), 0700. 0 or -1. */
static int
make_folder(const char *path, char *why, size_t whylen)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	char sub[PATH_MAX + 16];
	int fd;

	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subdirs[i]);
		if (fs_mkdir_p(sub, 0700) == -1)
			goto fail;
	}
	snprintf(sub, sizeof(sub), "%s/maildirfolder", path);
	if ((fd = open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto fail;
	close(fd);
	return 0;
fail:
	snprintf(why, whylen, "%s: %s", sub, strerror(errno));
	return -1;
}

/* rm -r of a trashed folder, no deeper than TREE_DEPTH_MAX. */
static void
remove_tree(int parentfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (depth > TREE_DEPTH_MAX ||
	    (fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode))
			remove_tree(fd, de->d_name, depth + 1);
		else
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	unlinkat(parentfd, name, AT_REMOVEDIR);
}

/* Insert the rows (and folders) of the missing parents of name (private API). */
int
store_mailboxes_make_parents(struct store *st, const char *name, char *why, size_t whylen)
{
	char parent[STORE_NAME_MAX], path[PATH_MAX];
	struct store_box box;
	int rc;

	for (const char *p = strchr(name, STORE_DELIM); p != NULL;
	    p = strchr(p + 1, STORE_DELIM)) {
		memcpy(parent, name, (size_t)(p - name));
		parent[p - name] = '\0';
		if (strcmp(parent, "INBOX") == 0)
			continue;
		if ((rc = store_index_box_by_name(st, parent, &box, why, whylen)) <= 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		if (store_name_path(st, parent, path, sizeof(path)) == -1 ||
		    make_folder(path, why, whylen) == -1)
			return -1;
		if ((rc = store_index_box_insert(st, parent, 0, &box, why, whylen)) != 0)
			return rc;
	}
	return 0;
}

/* The folder of a new mailbox and its row (parents first). */
int
store_mailboxes_add(struct store *st, const char *name, unsigned special_use,
    struct store_box *box, char *why, size_t whylen)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = store_mailboxes_make_parents(st, name, why, whylen)) != 0)
		return rc;
	if (store_name_path(st, name, path, sizeof(path)) == -1) {
		snprintf(why, whylen, "mailbox path too long");
		return -1;
	}
	if (make_folder(path, why, whylen) == -1)
		return -1;
	return store_index_box_insert(st, name, special_use, box, why, whylen);
}

/* --- subscriptions --- */

struct names {
	char	**v;
	size_t	  n;
};

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

static void
names_add(struct names *ns, const char *name)
{
	ns->v = xreallocarray(ns->v, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(name);
}

static long
names_find(const struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return (long)i;
	return -1;
}

/* The subscribed names; 1 when there is no file, 0, or -1. */
static int
subs_read(struct store *st, struct names *ns, char *why, size_t whylen)
{
	char path[PATH_MAX + 32], *data, *line, *save = NULL;
	ssize_t len;
	int fd;

	memset(ns, 0, sizeof(*ns));
	snprintf(path, sizeof(path), "%s/%s", st->maildir, SUBSCRIPTIONS_NAME);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	data = xmalloc(SUBSCRIPTIONS_MAX + 1);
	len = read(fd, data, SUBSCRIPTIONS_MAX);
	close(fd);
	if (len < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		free(data);
		return -1;
	}
	data[len] = '\0';
	for (line = strtok_r(data, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		char canon[STORE_NAME_MAX];
		if (store_name_normalise(line, canon, sizeof(canon)) == 0 &&
		    names_find(ns, canon) < 0)
			names_add(ns, canon);
	}
	free(data);
	return 0;
}

static int
subs_write(struct store *st, const struct names *ns, char *why, size_t whylen)
{
	char path[PATH_MAX + 32];
	size_t len = 0, o = 0;
	char *data;
	int rc;

	for (size_t i = 0; i < ns->n; i++)
		len += strlen(ns->v[i]) + 1;
	data = xmalloc(len + 1);
	for (size_t i = 0; i < ns->n; i++) {
		size_t l = strlen(ns->v[i]);
		memcpy(data + o, ns->v[i], l);
		o += l;
		data[o++] = '\n';
	}
	snprintf(path, sizeof(path), "%s/%s", st->maildir, SUBSCRIPTIONS_NAME);
	rc = fs_write_atomic(path, data, o, 0600);
	if (rc == -1)
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	free(data);
	return rc;
}

enum store_status
store_subscribe(struct store *st, const char *name, int subscribe, char *why, size_t whylen)
{
	char canon[STORE_NAME_MAX];
	struct names ns;
	long at;
	int rc;

	if (store_name_normalise(name, canon, sizeof(canon)) == -1) {
		snprintf(why, whylen, "bad mailbox name");
		return STORE_BAD_NAME;
	}
	/* The write lock of the index keeps two rewrites apart. */
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	rc = subs_read(st, &ns, why, whylen);
	if (rc >= 0) {
		rc = 0;
		at = names_find(&ns, canon);
		if (subscribe && at < 0) {
			names_add(&ns, canon);
			rc = subs_write(st, &ns, why, whylen);
		} else if (!subscribe && at >= 0) {
			free(ns.v[at]);
			ns.v[at] = ns.v[--ns.n];
			rc = subs_write(st, &ns, why, whylen);
		}
	}
	names_free(&ns);
	store_index_rollback(st);	/* nothing written to the index */
	return rc == 0 ? STORE_OK : STORE_TEMP;
}

/* --- a new or rebuilt index --- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The canonical names of the folders "<root>/.<escaped>" that hold a cur/. */
static int
discover(struct store *st, struct names *found, char *why, size_t whylen)
{
	struct dirent *de;
	DIR *d;

	memset(found, 0, sizeof(*found));
	if ((d = opendir(st->maildir)) == NULL) {
		snprintf(why, whylen, "%s: %s", st->maildir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char name[STORE_NAME_MAX], cur[NAME_MAX + 8];
		struct stat sb;
		if (de->d_name[0] != '.' || store_name_from_dir(de->d_name, name, sizeof(name)) == -1)
			continue;
		snprintf(cur, sizeof(cur), "%s/cur", de->d_name);
		if (fstatat(dirfd(d), cur, &sb, 0) == 0 && S_ISDIR(sb.st_mode))
			names_add(found, name);
	}
	closedir(d);
	if (found->n > 1)
		qsort(found->v, found->n, sizeof(*found->v), name_cmp);
	return 0;
}

static int
add_defaults(struct store *st, char *why, size_t whylen)
{
	struct store_box box;
	struct names subs = { 0 };
	int rc = 0;

	names_add(&subs, "INBOX");
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(default_folders[0]); i++) {
		const char *name = default_folders[i];
		rc = store_mailboxes_add(st, name, store_name_special_use(name), &box, why,
		    whylen);
		if (rc != 0)
			break;
		names_add(&subs, default_folders[i]);
	}
	if (rc == 0)
		rc = subs_write(st, &subs, why, whylen);
	names_free(&subs);
	return rc;
}

static int
init_locked(struct store *st, char *why, size_t whylen)
{
	struct store_box box;
	struct names found, subs;
	int rc, nosubs;

	if ((rc = store_index_box_insert(st, "INBOX", 0, &box, why, whylen)) != 0)
		return rc;
	if ((rc = discover(st, &found, why, whylen)) != 0)
		return rc;
	for (size_t i = 0; i < found.n && rc == 0; i++) {
		/* Parents first (sorted), and parents that have no folder get one. */
		const char *name = found.v[i];
		if ((rc = store_index_box_by_name(st, name, &box, why, whylen)) == 1)
			rc = store_mailboxes_add(st, name, store_name_special_use(name), &box, why,
			    whylen);
	}
	if (rc == 0 && found.n == 0) {
		if ((nosubs = subs_read(st, &subs, why, whylen)) < 0)
			rc = -1;
		names_free(&subs);
		if (rc == 0 && nosubs == 1)
			rc = add_defaults(st, why, whylen);	/* a brand-new user */
	}
	names_free(&found);
	return rc;
}

int
store_mailboxes_init(struct store *st, char *why, size_t whylen)
{
	long n;
	int rc;

	if ((n = store_index_box_count(st, why, whylen)) != 0)
		return n > 0 ? 0 : -1;
	if ((rc = store_index_begin(st, why, whylen)) != 0)
		return rc;
	if ((n = store_index_box_count(st, why, whylen)) == 0)
		rc = init_locked(st, why, whylen);	/* still empty with the lock held */
	else if (n < 0)
		rc = -1;
	if (rc == 0)
		return store_index_commit(st, why, whylen);
	store_index_rollback(st);
	return rc;
}

/* --- LIST --- */

/*
 * Folders another program made (mutt, a migration) after the index was
 * built: found on disk at each LIST and given a row. Nothing is written
 * when there are none.
 */
static int
adopt_folders(struct store *st, char *why, size_t whylen)
{
	struct store_box box;
	struct names found, missing = { 0 };
	int rc = 0;

	if (discover(st, &found, why, whylen) != 0)
		return -1;
	for (size_t i = 0; i < found.n && rc >= 0; i++)
		if ((rc = store_index_box_by_name(st, found.v[i], &box, why, whylen)) == 1)
			names_add(&missing, found.v[i]);
	names_free(&found);
	if (rc < 0 || missing.n == 0) {
		names_free(&missing);
		return rc < 0 ? -1 : 0;
	}
	if ((rc = store_index_begin(st, why, whylen)) == 0) {
		/* Sorted: parents come first. Another session may have added one. */
		for (size_t i = 0; i < missing.n && rc == 0; i++)
			if ((rc = store_index_box_by_name(st, missing.v[i], &box, why, whylen)) == 1)
				rc = store_mailboxes_add(st, missing.v[i],
				    store_name_special_use(missing.v[i]), &box, why, whylen);
		if (rc == 0)
			rc = store_index_commit(st, why, whylen);
		else
			store_index_rollback(st);
	}
	names_free(&missing);
	return rc == 0 ? 0 : -1;
}

static int
info_cmp(const void *a, const void *b)
{
	const struct store_mailbox_info *x = a, *y = b;
	int xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return yi - xi;
	return strcmp(x->name, y->name);
}

int
store_list(struct store *st, struct store_mailbox_info **out, size_t *nout, char *why,
    size_t whylen)
{
	struct store_mailbox_info *v = NULL;
	struct names subs;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	*nout = 0;
	if (adopt_folders(st, why, whylen) == -1 || subs_read(st, &subs, why, whylen) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "SELECT name, special_use FROM mailboxes", -1, &q,
	    NULL) != SQLITE_OK) {
		names_free(&subs);
		store_index_error(st, "select mailboxes", why, whylen);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		if (name == NULL)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		str_copy(v[n].name, name, sizeof(v[n].name));
		v[n].special_use = (unsigned)sqlite3_column_int64(q, 1);
		v[n].subscribed = names_find(&subs, name) >= 0;
		n++;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store_index_error(st, "select mailboxes", why, whylen);
		names_free(&subs);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < subs.n; i++) {
		size_t j;
		for (j = 0; j < n && strcmp(v[j].name, subs.v[i]) != 0; j++)
			;
		if (j < n)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		str_copy(v[n].name, subs.v[i], sizeof(v[n].name));
		v[n].subscribed = 1;
		v[n].nonexistent = 1;
		n++;
	}
	names_free(&subs);
	if (n > 1)
		qsort(v, n, sizeof(*v), info_cmp);
	*out = v;
	*nout = n;
	return 0;
}

/* --- CREATE and DELETE --- */

int
store_mailboxes_canon(const char *name, char *canon, char *why, size_t whylen)
{
	if (store_name_normalise(name, canon, STORE_NAME_MAX) == 0)
		return 0;
	snprintf(why, whylen, "bad mailbox name");
	return -1;
}

enum store_status
store_create(struct store *st, const char *name, unsigned special_use, char *why,
    size_t whylen)
{
	char canon[STORE_NAME_MAX];
	struct store_box box;
	int rc;

	if (store_mailboxes_canon(name, canon, why, whylen) == -1)
		return STORE_BAD_NAME;
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	rc = store_index_box_by_name(st, canon, &box, why, whylen);
	if (rc == 0 || strcmp(canon, "INBOX") == 0) {
		store_index_rollback(st);
		snprintf(why, whylen, "mailbox %s exists", canon);
		return STORE_EXISTS;
	}
	if (rc == 1)
		rc = store_mailboxes_add(st, canon, special_use, &box, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	return store_status_of(rc);
}

/* 1 when some mailbox lives under name, 0, or -1. */
int
store_mailboxes_has_children(struct store *st, const char *name, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM mailboxes WHERE name >= ?1 || '/'"
	    " AND name < ?1 || '0' LIMIT 1", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select children", why, whylen);
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : store_index_error(st, "select children", why, whylen);
}

enum store_status
store_delete(struct store *st, const char *name, char *why, size_t whylen)
{
	char canon[STORE_NAME_MAX], path[PATH_MAX], trash[PATH_MAX];
	struct store_box box;
	int rc, moved = 0;

	if (store_mailboxes_canon(name, canon, why, whylen) == -1)
		return STORE_BAD_NAME;
	if (strcmp(canon, "INBOX") == 0) {
		snprintf(why, whylen, "INBOX cannot be deleted");
		return STORE_NOT_ALLOWED;
	}
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	if ((rc = store_index_box_by_name(st, canon, &box, why, whylen)) == 1) {
		store_index_rollback(st);
		snprintf(why, whylen, "no mailbox %s", canon);
		return STORE_NOT_FOUND;
	}
	if (rc == 0 && (rc = store_mailboxes_has_children(st, canon, why, whylen)) == 1) {
		store_index_rollback(st);
		snprintf(why, whylen, "mailbox %s has children", canon);
		return STORE_HAS_CHILDREN;
	}
	/* Out of sight at once (no '.' prefix: no Maildir++ reader takes it for a
	 * folder), then the rows, then the files at leisure. */
	store_name_path(st, canon, path, sizeof(path));
	snprintf(trash, sizeof(trash), "%s/tern-deleted.%lld.%ld.%lld", st->maildir,
	    (long long)box.id, (long)getpid(), (long long)store_maildir_now_ns());
	if (rc == 0) {
		if (rename(path, trash) == 0)
			moved = 1;
		else if (errno != ENOENT) {
			snprintf(why, whylen, "rename %s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	if (rc == 0)
		rc = store_index_box_drop(st, box.id, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	if (rc != 0) {
		store_index_rollback(st);
		if (moved)
			rename(trash, path);
		return STORE_TEMP;
	}
	if (moved)
		remove_tree(AT_FDCWD, trash, 1);
	return STORE_OK;
}
