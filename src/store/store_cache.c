/*
 * store_cache - the IMAP ENVELOPE and BODYSTRUCTURE of a message, computed
 * by the server on the first FETCH and kept in its index row. A cache: a
 * failed put is forgotten, and no MODSEQ changes (the message did not).
 */
#include <stdlib.h>

#include <sqlite3.h>

#include "common/xalloc.h"
#include "store/store_private.h"

int
store_cache_get(struct store_mailbox *mb, uint32_t uid, char **envelope_out,
    char **bodystructure_out)
{
	sqlite3_stmt *q;
	int rc;

	*envelope_out = *bodystructure_out = NULL;
	if (sqlite3_prepare_v2(mb->store->db, "SELECT envelope, bodystructure FROM messages"
	    " WHERE mailbox = ? AND uid = ?", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, mb->id);
	sqlite3_bind_int64(q, 2, uid);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *env = (const char *)sqlite3_column_text(q, 0);
		const char *body = (const char *)sqlite3_column_text(q, 1);
		rc = 0;
		if (env != NULL && body != NULL) {
			*envelope_out = xstrdup(env);
			*bodystructure_out = xstrdup(body);
			rc = 1;
		}
	} else {
		rc = rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(q);
	return rc;
}

void
store_cache_put(struct store_mailbox *mb, uint32_t uid, const char *envelope,
    const char *bodystructure)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(mb->store->db, "UPDATE messages SET envelope = ?,"
	    " bodystructure = ? WHERE mailbox = ? AND uid = ?", -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(q, 1, envelope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, bodystructure, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, mb->id);
	sqlite3_bind_int64(q, 4, uid);
	sqlite3_step(q);
	sqlite3_finalize(q);
}
