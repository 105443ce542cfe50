/*
 * store_keywords - IMAP keywords of a mailbox as bits of store_msg.keywords.
 *
 * Each mailbox numbers its keywords 0..63 in order of first use; names
 * compare without regard to ASCII case (the first spelling is kept). The
 * bits live only in the index: Maildir file names carry the system flags,
 * so a rebuilt index forgets keywords (as it forgets UIDs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/xalloc.h"
#include "store/store_private.h"

void
store_keywords_free(char **names, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free(names[i]);
		names[i] = NULL;
	}
	*n = 0;
}

int
store_keywords_load(struct store *st, int64_t id, char **names, size_t *n, char *why,
    size_t whylen)
{
	sqlite3_stmt *q;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT bit, name FROM keywords WHERE mailbox = ?"
	    " ORDER BY bit", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select keywords", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t bit = sqlite3_column_int64(q, 0);
		const char *name = (const char *)sqlite3_column_text(q, 1);
		if (bit != (int64_t)*n || bit >= STORE_KEYWORDS_MAX || name == NULL)
			continue;	/* bits are dense from 0; anything else is not ours */
		names[(*n)++] = xstrdup(name);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store_keywords_free(names, n);
		return store_index_error(st, "select keywords", why, whylen);
	}
	return 0;
}

/* An IMAP atom (RFC 3501 flag-keyword) that fits. */
static int
keyword_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= STORE_KEYWORD_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return 0;
	return 1;
}

static int
keyword_bit(struct store *st, int64_t id, const char *name, int create, int *bit_out,
    char *why, size_t whylen)
{
	sqlite3_stmt *q;
	int rc, next = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT bit FROM keywords WHERE mailbox = ? AND name = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select keyword", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	*bit_out = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_index_error(st, "select keyword", why, whylen);
	if (rc == SQLITE_ROW || !create)
		return 0;
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(bit) + 1, 0) FROM keywords"
	    " WHERE mailbox = ?", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "select keyword", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW)
		next = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (next >= STORE_KEYWORDS_MAX) {
		snprintf(why, whylen, "too many keywords (at most %d per mailbox)",
		    STORE_KEYWORDS_MAX);
		return -3;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT INTO keywords (mailbox, bit, name)"
	    " VALUES (?, ?, ?)", -1, &q, NULL) != SQLITE_OK)
		return store_index_error(st, "insert keyword", why, whylen);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, next);
	sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
	rc = store_index_exec_row(st, q, "insert keyword", why, whylen);
	sqlite3_finalize(q);
	*bit_out = next;
	return rc;
}

int
store_keywords_bits(struct store *st, int64_t id, const char *const *names, size_t n,
    int create, uint64_t *bits_out, char *why, size_t whylen)
{
	int bit = -1, rc;

	*bits_out = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keyword_ok(names[i])) {
			snprintf(why, whylen, "bad keyword");
			return -3;
		}
		if ((rc = keyword_bit(st, id, names[i], create, &bit, why, whylen)) != 0)
			return rc;
		if (bit >= 0 && bit < STORE_KEYWORDS_MAX)
			*bits_out |= (uint64_t)1 << bit;
	}
	return 0;
}
