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

static void
store_free(struct store *st)
{
	free(st->maildir);
	free(st->index_path);
	free(st);
}

struct store *
store_open(const char *maildir, char *why, size_t whylen)
{
	static const char *subdirs[] = { "cur", "new", "tmp" };
	struct store *st;
	char sub[PATH_MAX];

	/* Every path below the root must fit PATH_MAX with room for names. */
	if (strlen(maildir) + sizeof(STORE_INDEX_NAME) + 1 >= PATH_MAX / 2) {
		snprintf(why, whylen, "%s: path too long", maildir);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->maildir = xstrdup(maildir);
	st->index_path = xmalloc(strlen(maildir) + sizeof(STORE_INDEX_NAME) + 1);
	sprintf(st->index_path, "%s/%s", maildir, STORE_INDEX_NAME);
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", maildir, subdirs[i]);
		if (fs_mkdir_p(sub, 0700) == -1) {
			snprintf(why, whylen, "%s: %s", sub, strerror(errno));
			store_free(st);
			return NULL;
		}
	}
	if (store_index_open(st, why, whylen) == -1) {
		store_free(st);
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
	store_free(*storep);
	*storep = NULL;
}
