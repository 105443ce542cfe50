/*
 * store_private - what the files of src/store share: the handles and the
 * index calls the Maildir back end makes.
 */
#ifndef TERN_STORE_STORE_PRIVATE_H
#define TERN_STORE_STORE_PRIVATE_H

#include <limits.h>
#include <stdint.h>

#include "store/store.h"

struct sqlite3;

struct store {
	char		 maildir[PATH_MAX];
	char		 index_path[PATH_MAX];
	struct sqlite3	*db;
};

struct store_mailbox {
	struct store	*store;
	char		 name[64];		/* canonical: "INBOX" */
	char		 path[PATH_MAX];	/* the folder's Maildir (root for INBOX) */
	int64_t		 id;			/* mailboxes.id */
	uint32_t	 uidvalidity;
	int		 lock_fd;		/* -1 unless exclusive */
	struct store_msg *msgs;
	size_t		 nmsgs;
};

/* A message file found in cur/ by a scan. */
struct store_file {
	char		base[STORE_BASE_MAX];
	char		flags[STORE_FLAGS_MAX];
	uint64_t	size;
	time_t		sec;		/* from the name: delivery time */
	long		usec;		/* from the name's M<usec>, 0 when none */
};

/* store_index.c */
/* Open (or create) the index; a damaged or foreign file is rebuilt. 0 or -1. */
int	store_index_open(struct store *, char *why, size_t whylen);
void	store_index_close(struct store *);
/* Throw the index away and start a new one (new UIDVALIDITY). 0 or -1. */
int	store_index_rebuild(struct store *, char *why, size_t whylen);
/* BEGIN IMMEDIATE: syncs and expunges of all processes take turns. */
int	store_index_begin(struct store *, char *why, size_t whylen);
int	store_index_commit(struct store *, char *why, size_t whylen);
void	store_index_rollback(struct store *);
/*
 * Inside a transaction: merge the files of cur/ (any order; sorted in
 * place) into the index of mb and fill mb->msgs. Returns 0, -1 with why,
 * or -2 when the index is damaged (rebuild and retry).
 */
int	store_index_sync(struct store_mailbox *mb, struct store_file *files, size_t nfiles,
	    char *why, size_t whylen);
/* Inside a transaction: drop the rows of uids and bump HIGHESTMODSEQ. 0 or -1. */
int	store_index_delete(struct store_mailbox *mb, const uint32_t *uids, size_t n,
	    char *why, size_t whylen);

/* store_maildir.c */
/* Parse a cur/ file name into f; -1 for names that are not messages. */
int	store_maildir_parse_name(const char *name, struct store_file *f);
/* Arrival order: delivery second, then microsecond, then name. */
int	store_maildir_arrival_cmp(const struct store_file *a, const struct store_file *b);

#endif
