/*
 * store_cache - what the IMAP server computes from a message once and
 * keeps in its index row: the ENVELOPE, the BODYSTRUCTURE, and the header
 * fields SEARCH looks at most (see imapd_search.c). A cache: a failed put
 * is forgotten, and no MODSEQ changes (the message did not).
 */
#include <stdlib.h>

#include <sqlite3.h>

#include "store/store_private.h"

int
store_cache_scan(struct store_mailbox *mb, uint32_t lo, uint32_t hi,
    void (*fn)(void *arg, const struct store_cached *c), void *arg)
{
	struct store_cached c;
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(mb->store->db, "SELECT uid, envelope, bodystructure, headers"
	    " FROM messages WHERE mailbox = ? AND uid BETWEEN ? AND ? AND (envelope IS NOT NULL"
	    " OR headers IS NOT NULL) ORDER BY uid", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, mb->id);
	sqlite3_bind_int64(q, 2, lo);
	sqlite3_bind_int64(q, 3, hi);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		c.uid = (uint32_t)sqlite3_column_int64(q, 0);
		c.envelope = (const char *)sqlite3_column_text(q, 1);
		c.bodystructure = (const char *)sqlite3_column_text(q, 2);
		c.headers = (const char *)sqlite3_column_text(q, 3);
		if (c.envelope == NULL || c.bodystructure == NULL)
			c.envelope = c.bodystructure = NULL;
		fn(arg, &c);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
store_cache_put(struct store_mailbox *mb, uint32_t uid, const char *envelope,
    const char *bodystructure, const char *headers)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(mb->store->db, "UPDATE messages SET"
	    " envelope = COALESCE(?, envelope), bodystructure = COALESCE(?, bodystructure),"
	    " headers = COALESCE(?, headers) WHERE mailbox = ? AND uid = ?", -1, &q,
	    NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(q, 1, envelope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, bodystructure, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, headers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, mb->id);
	sqlite3_bind_int64(q, 5, uid);
	sqlite3_step(q);
	sqlite3_finalize(q);
}
