/*
 * store - one user's mail: the Maildir++ root and its index.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

void
store_configure(void)
{
	/* Each connection would otherwise malloc 20 cache pages up front and
	 * keep them after sqlite3_db_release_memory(). */
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

struct store *
store_open(const char *maildir, char *why, size_t whylen)
{
	static const char *subdirs[] = { "cur", "new", "tmp" };
	struct store *st = xcalloc(1, sizeof(*st));
	char sub[PATH_MAX];

	if (str_copy(st->maildir, maildir, sizeof(st->maildir)) == -1 ||
	    snprintf(st->index_path, sizeof(st->index_path), "%s/%s", maildir,
	    STORE_INDEX_NAME) >= (int)sizeof(st->index_path)) {
		snprintf(why, whylen, "%s: path too long", maildir);
		free(st);
		return NULL;
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", maildir, subdirs[i]);
		if (fs_mkdir_p(sub, 0700) == -1) {
			snprintf(why, whylen, "%s: %s", sub, strerror(errno));
			free(st);
			return NULL;
		}
	}
	if (store_index_open(st, why, whylen) == -1) {
		free(st);
		return NULL;
	}
	if (store_mailboxes_init(st, why, whylen) != 0) {
		store_close(&st);
		return NULL;
	}
	return st;
}

void
store_close(struct store **storep)
{
	if (*storep == NULL)
		return;
	store_index_close(*storep);
	free(*storep);
	*storep = NULL;
}
