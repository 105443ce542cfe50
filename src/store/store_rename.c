/*
 * store_rename - RENAME (RFC 3501 6.3.5): a folder and the folders under
 * it are renamed on disk (rename(2) of each Maildir++ directory) and in the
 * index in one write transaction, keeping their UIDVALIDITY and UIDs; a
 * failure puts the directories back. Renaming INBOX instead moves its
 * messages into a new mailbox and leaves INBOX empty (its children stay).
 * Subscriptions are left as they are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/xalloc.h"
#include "store/store_private.h"

struct renamed {
	int64_t	id;
	char	from[PATH_MAX];
	char	to[PATH_MAX];
	char	name[STORE_NAME_MAX];	/* the new name */
	int	moved;
};

/* from and every mailbox under it, with their new names and paths. */
static int
rename_plan(struct store *st, const char *from, const char *to, struct renamed **out,
    size_t *nout, char *why, size_t whylen)
{
	size_t flen = strlen(from), n = 0;
	struct renamed *v = NULL;
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT id, name FROM mailboxes WHERE name = ?1 OR"
	    " (name >= ?1 || '/' AND name < ?1 || '0')", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select mailboxes", why, whylen);
	sqlite3_bind_text(q, 1, from, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 1);
		struct renamed *r;
		v = xreallocarray(v, n + 1, sizeof(*v));
		r = &v[n++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(q, 0);
		if (name == NULL || strlen(to) + strlen(name + flen) >= sizeof(r->name) ||
		    snprintf(r->name, sizeof(r->name), "%s%s", to, name + flen) < 0 ||
		    store_name_path(st, name, r->from, sizeof(r->from)) == -1 ||
		    store_name_path(st, r->name, r->to, sizeof(r->to)) == -1) {
			rc = SQLITE_MISUSE;
			break;
		}
	}
	sqlite3_finalize(q);
	*out = v;
	*nout = n;
	if (rc == SQLITE_MISUSE) {
		snprintf(why, whylen, "new mailbox name too long");
		return -4;
	}
	return rc == SQLITE_DONE ? 0 : store_index_error(st, "select mailboxes", why, whylen);
}

static void
rename_undo(struct renamed *v, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (v[i].moved)
			rename(v[i].to, v[i].from);
}

static int
rename_rows(struct store *st, struct renamed *v, size_t n, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	int rc = 0;
	char check[STORE_NAME_MAX];

	if (sqlite3_prepare_v2(st->db, "UPDATE mailboxes SET name = ? WHERE id = ?", -1, &q,
	    NULL) != SQLITE_OK)
		return store_index_error(st, "rename mailbox", why, whylen);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (store_name_normalise(v[i].name, check, sizeof(check)) == -1) {
			snprintf(why, whylen, "new mailbox name too long");
			rc = -4;
			break;
		}
		if (rename(v[i].from, v[i].to) == 0)
			v[i].moved = 1;
		else if (errno != ENOENT) {
			snprintf(why, whylen, "rename %s: %s", v[i].from, strerror(errno));
			rc = -1;
			break;
		}
		sqlite3_bind_text(q, 1, v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, v[i].id);
		rc = store_index_exec_row(st, q, "rename mailbox", why, whylen);
	}
	sqlite3_finalize(q);
	return rc;
}

/* INBOX: a new mailbox to takes all of INBOX's messages; INBOX stays. */
static int
rename_inbox(struct store *st, struct store_box *inbox, const char *to, char *why,
    size_t whylen)
{
	char topath[PATH_MAX];
	struct store_box dst;
	struct store_msg *msgs = NULL;
	struct store_xfer x;
	size_t n = 0;
	int rc, clean;

	memset(&x, 0, sizeof(x));
	if ((rc = store_mailboxes_add(st, to, 0, &dst, why, whylen)) != 0)
		return rc;
	store_name_path(st, to, topath, sizeof(topath));
	/* Every file of INBOX gets a row first: new/ and unseen changes too. */
	if ((rc = store_maildir_sync(st, st->maildir, inbox, why, whylen)) != 0 ||
	    (rc = store_index_load(st, inbox->id, 0, &msgs, &n, why, whylen)) != 0) {
		free(msgs);
		return rc;
	}
	clean = store_maildir_cur_before(st->maildir, inbox);
	rc = store_copy_xfer(st, inbox->id, st->maildir, msgs, n, &dst, topath, 1, &x, why,
	    whylen);
	free(msgs);
	if (rc == 0)
		rc = store_index_delete(st, inbox, x.src_uids, x.n, why, whylen);
	store_maildir_cur_after(st->maildir, clean, inbox);
	store_maildir_cur_after(topath, 1, &dst);
	if (rc == 0)
		rc = store_index_box_update(st, inbox, why, whylen);
	if (rc == 0)
		rc = store_index_box_update(st, &dst, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	if (rc != 0)
		store_copy_undo(st->maildir, topath, &x);
	store_copy_xfer_free(&x);
	return rc;
}

static enum store_status
rename_check(struct store *st, const char *from, const char *to, struct store_box *src,
    char *why, size_t whylen)
{
	size_t flen = strlen(from);
	struct store_box box;
	int rc;

	if (strcmp(to, "INBOX") == 0) {
		snprintf(why, whylen, "cannot rename onto INBOX");
		return STORE_NOT_ALLOWED;
	}
	if (strncmp(to, from, flen) == 0 && to[flen] == STORE_DELIM &&
	    strcmp(from, "INBOX") != 0) {
		snprintf(why, whylen, "cannot rename a mailbox into itself");
		return STORE_NOT_ALLOWED;
	}
	if ((rc = store_index_box_by_name(st, from, src, why, whylen)) == 1) {
		snprintf(why, whylen, "no mailbox %s", from);
		return STORE_NOT_FOUND;
	}
	/* rc becomes 1 when to is taken: itself, or a mailbox under it. */
	if (rc == 0 && strcmp(from, to) == 0)
		rc = 1;
	else if (rc == 0)
		rc = store_index_box_by_name(st, to, &box, why, whylen) == 0 ? 1 :
		    store_mailboxes_has_children(st, to, why, whylen);
	if (rc < 0)
		return STORE_TEMP;
	if (rc == 1) {
		snprintf(why, whylen, "mailbox %s exists", to);
		return STORE_EXISTS;
	}
	return STORE_OK;
}

enum store_status
store_rename(struct store *st, const char *from, const char *to, char *why, size_t whylen)
{
	char cfrom[STORE_NAME_MAX], cto[STORE_NAME_MAX];
	struct store_box src;
	struct renamed *plan = NULL;
	enum store_status status;
	size_t n = 0;
	int rc;

	if (store_mailboxes_canon(from, cfrom, why, whylen) == -1 ||
	    store_mailboxes_canon(to, cto, why, whylen) == -1)
		return STORE_BAD_NAME;
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	if ((status = rename_check(st, cfrom, cto, &src, why, whylen)) != STORE_OK) {
		store_index_rollback(st);
		return status;
	}
	if (strcmp(cfrom, "INBOX") == 0) {
		rc = rename_inbox(st, &src, cto, why, whylen);
		if (rc != 0)
			store_index_rollback(st);
		return store_status_of(rc);
	}
	rc = store_mailboxes_make_parents(st, cto, why, whylen);
	if (rc == 0)
		rc = rename_plan(st, cfrom, cto, &plan, &n, why, whylen);
	if (rc == 0)
		rc = rename_rows(st, plan, n, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	if (rc != 0) {
		rename_undo(plan, n);
		store_index_rollback(st);
	}
	free(plan);
	return rc == -4 ? STORE_BAD_NAME : store_status_of(rc);
}
