/*
 * store_flags - STORE: system flags in the Maildir file name, keywords in
 * the index, a new MODSEQ for every message that changed.
 *
 * The flags are computed from the row as the index has it now (another
 * session may have changed them since this view was refreshed), or from
 * the file's name when another program renamed it meanwhile: the Maildir
 * is the truth. Letters tern does not manage ('P', Dovecot's lower-case
 * keyword letters) are kept as they are.
 */
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

#define SYSTEM_LETTERS	"DFRST"	/* \Draft \Flagged \Answered \Seen \Deleted */

static void
new_flags(enum store_flags_mode mode, const char *cur, const char *chg, char *out,
    size_t outlen)
{
	size_t o = 0;

	for (const char *p = cur; *p != '\0' && o + 1 < outlen; p++) {
		int ours = strchr(SYSTEM_LETTERS, *p) != NULL;
		if ((mode == STORE_FLAGS_SET && ours) ||
		    (mode == STORE_FLAGS_REMOVE && strchr(chg, *p) != NULL))
			continue;
		out[o++] = *p;
	}
	if (mode != STORE_FLAGS_REMOVE)
		for (const char *p = chg; *p != '\0' && o + 1 < outlen; p++)
			out[o++] = *p;
	out[o] = '\0';
	store_maildir_sort_flags(out);
}

static uint64_t
new_keywords(enum store_flags_mode mode, uint64_t cur, uint64_t bits)
{
	switch (mode) {
	case STORE_FLAGS_SET:
		return bits;
	case STORE_FLAGS_ADD:
		return cur | bits;
	case STORE_FLAGS_REMOVE:
		return cur & ~bits;
	}
	return cur;
}

/* A change for one message, applied to the view after the commit. */
struct pending {
	struct store_msg	*v;
	size_t			 n;
	uint32_t		*failed;
	size_t			 nfailed;
};

/*
 * The file of row (named by its present flags) gets the name for flags;
 * when another program renamed it meanwhile, flags are computed again from
 * the file's own. 1 when the file is gone.
 */
static int
rename_file(const char *path, const struct store_flag_change *chg, const char *letters,
    const struct store_msg *row, char *flags, size_t flagslen, char *why, size_t whylen)
{
	char name[NAME_MAX + 1], to[NAME_MAX + 1], curdir[PATH_MAX];
	struct store_file f;
	int dfd, rc = 0;

	if (store_maildir_find(path, row->base, row->flags, name, sizeof(name)) == -1)
		return errno == ENOENT ? 1 : -1;
	if (store_maildir_parse_name(name, &f) == -1)
		return 1;
	if (strcmp(f.flags, row->flags) != 0)
		new_flags(chg->mode, f.flags, letters, flags, flagslen);
	snprintf(to, sizeof(to), "%s:2,%s", row->base, flags);
	if (strcmp(to, name) == 0)
		return 0;
	snprintf(curdir, sizeof(curdir), "%s/cur", path);
	if ((dfd = open(curdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    renameat(dfd, name, dfd, to) == -1) {
		rc = errno == ENOENT ? 1 : -1;
		if (rc == -1)
			snprintf(why, whylen, "rename %s: %s", name, strerror(errno));
	}
	if (dfd != -1)
		close(dfd);
	return rc;
}

static int
update_row(struct store *st, int64_t id, const struct store_msg *m, char *why, size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE messages SET flags = ?, keywords = ?, modseq = ?"
	    " WHERE mailbox = ? AND uid = ?", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "update flags", why, whylen);
	sqlite3_bind_text(q, 1, m->flags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)m->keywords);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)m->modseq);
	sqlite3_bind_int64(q, 4, id);
	sqlite3_bind_int64(q, 5, m->uid);
	rc = store_index_exec_row(st, q, "update flags", why, whylen);
	sqlite3_finalize(q);
	return rc;
}

/* One message, inside the transaction. */
static int
set_one(struct store_mailbox *mb, struct store_box *box, uint32_t uid,
    const struct store_flag_change *chg, const char *letters, uint64_t bits,
    struct pending *p, char *why, size_t whylen)
{
	struct store *st = mb->store;
	struct store_msg row;
	char flags[STORE_FLAGS_MAX];
	uint64_t kw;
	int rc;

	if (store_maildir_view_find(mb, uid) < 0)
		return 0;
	if ((rc = store_index_msg(st, mb->id, uid, &row, why, whylen)) != 0)
		return rc == 1 ? 0 : rc;	/* expunged by another session */
	if (chg->unchangedsince != 0 && row.modseq > chg->unchangedsince) {
		p->failed[p->nfailed++] = uid;
		return 0;
	}
	new_flags(chg->mode, row.flags, letters, flags, sizeof(flags));
	kw = new_keywords(chg->mode, row.keywords, bits);
	if (strcmp(flags, row.flags) == 0 && kw == row.keywords)
		return 0;	/* no change, no MODSEQ */
	if (strcmp(flags, row.flags) != 0) {
		rc = rename_file(mb->path, chg, letters, &row, flags, sizeof(flags), why, whylen);
		if (rc != 0)
			return rc == 1 ? 0 : rc;
		str_copy(row.flags, flags, sizeof(row.flags));
	}
	row.keywords = kw;
	row.modseq = ++box->highestmodseq;
	if ((rc = update_row(st, mb->id, &row, why, whylen)) != 0)
		return rc;
	p->v[p->n++] = row;
	return 0;
}

static void
apply_pending(struct store_mailbox *mb, const struct pending *p, char **kw, size_t nkw)
{
	for (size_t i = 0; i < p->n; i++) {
		long at = store_maildir_view_find(mb, p->v[i].uid);
		if (at >= 0)
			mb->msgs[at] = p->v[i];
	}
	for (size_t i = mb->nkw; i < nkw; i++) {
		mb->kwnames[i] = kw[i];
		kw[i] = NULL;
	}
	if (nkw > mb->nkw)
		mb->nkw = nkw;
}

enum store_status
store_set_flags(struct store_mailbox *mb, const uint32_t *uids, size_t n,
    const struct store_flag_change *change, uint32_t **failed_out, size_t *nfailed_out,
    char *why, size_t whylen)
{
	struct store *st = mb->store;
	char letters[STORE_FLAGS_MAX] = "", *kw[STORE_KEYWORDS_MAX];
	struct store_box box;
	struct pending p;
	uint64_t bits = 0;
	size_t nkw = 0;
	int rc, clean;

	if (failed_out != NULL)
		*failed_out = NULL;
	if (nfailed_out != NULL)
		*nfailed_out = 0;
	for (const char *s = change->flags != NULL ? change->flags : ""; *s != '\0'; s++) {
		size_t l = strlen(letters);
		if (*s >= 'A' && *s <= 'Z' && l + 1 < sizeof(letters)) {
			letters[l] = *s;
			letters[l + 1] = '\0';
		}
	}
	store_maildir_sort_flags(letters);
	if (store_index_begin(st, why, whylen) != 0)
		return STORE_TEMP;
	if ((rc = store_index_box_by_id(st, mb->id, &box, why, whylen)) == 1) {
		snprintf(why, whylen, "mailbox %s vanished", mb->name);
		rc = -1;
	}
	if (rc == 0)
		rc = store_keywords_bits(st, mb->id, change->keywords, change->nkeywords,
		    change->mode != STORE_FLAGS_REMOVE, &bits, why, whylen);
	if (rc != 0) {
		store_index_rollback(st);
		return store_status_of(rc);
	}
	memset(&p, 0, sizeof(p));
	p.v = xcalloc(n + 1, sizeof(*p.v));
	p.failed = xcalloc(n + 1, sizeof(*p.failed));
	clean = store_maildir_cur_before(mb->path, &box);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = set_one(mb, &box, uids[i], change, letters, bits, &p, why, whylen);
	/* Stamp cur/ only with a row update that records the stamp. */
	if (p.n > 0)
		store_maildir_cur_after(mb->path, clean, &box);
	if (rc == 0 && p.n > 0)
		rc = store_index_box_update(st, &box, why, whylen);
	if (rc == 0)
		rc = store_keywords_load(st, mb->id, kw, &nkw, why, whylen);
	if (rc == 0)
		rc = store_index_commit(st, why, whylen);
	else
		store_index_rollback(st);
	/* On failure renamed files stay renamed: the next refresh rescans cur/
	 * (its mtime was not recorded) and takes them as another program's. */
	if (rc == 0)
		apply_pending(mb, &p, kw, nkw);
	store_keywords_free(kw, &nkw);
	if (rc == 0 && nfailed_out != NULL)
		*nfailed_out = p.nfailed;
	if (rc == 0 && failed_out != NULL && p.nfailed > 0) {
		*failed_out = p.failed;
		p.failed = NULL;
	}
	free(p.failed);
	free(p.v);
	return store_status_of(rc);
}
