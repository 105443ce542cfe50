/*
 * store_private - what the files of src/store share: the handles, the
 * mailbox row of the index, and the calls between the index (SQLite) and
 * the Maildir halves.
 *
 * Files: store_index.c (schema, transactions, rows, the scan merge),
 * store_keywords.c (keyword bits), store_name.c (names and folder paths),
 * store_maildir.c (files, scans, syncs), store_mailbox.c (open, view,
 * expunge), store_mailboxes.c (defaults, list, create, delete, subscribe),
 * store_rename.c, store_sync.c (refresh, status, vanished), store_flags.c,
 * store_append.c, store_copy.c, store_cache.c; store.c opens the user.
 */
#ifndef TERN_STORE_STORE_PRIVATE_H
#define TERN_STORE_STORE_PRIVATE_H

#include <limits.h>
#include <stdint.h>

#include "store/store.h"

struct sqlite3;

/* Bytes of the index read through a mapping while a mailbox is open. */
#define STORE_INDEX_MMAP	"268435456"

struct sqlite3_stmt;

struct store {
	char		*maildir;	/* owned; sized to fit (a thousand sessions keep one) */
	char		*index_path;
	struct sqlite3	*db;
	int		 mapped;	/* the index is read through mmap (a mailbox is open) */
};

struct store_mailbox {
	struct store	*store;
	char		 name[STORE_NAME_MAX];	/* canonical: "INBOX", "A/B" */
	char		 path[PATH_MAX];	/* the folder's Maildir (root for INBOX) */
	int64_t		 id;			/* mailboxes.id */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;		/* as of the view */
	uint64_t	 known_modseq;		/* the view holds every change up to this */
	int		 lock_fd;		/* -1 unless exclusive */
	struct store_msg *msgs;			/* the view, in UID order */
	size_t		 nmsgs;
	char		*kwnames[STORE_KEYWORDS_MAX];	/* bit i is kwnames[i] */
	size_t		 nkw;
};

/* One row of the mailboxes table. */
struct store_box {
	int64_t		id;
	char		name[STORE_NAME_MAX];
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	uint64_t	highestmodseq;
	unsigned	special_use;
	int64_t		cur_mtime_ns;	/* cur/'s mtime after tern's last look or change */
	int64_t		cur_checked_ns;	/* the wall clock when it was recorded (for logs) */
};

/* A message file found in cur/ by a scan. */
struct store_file {
	int		size_guessed;	/* no ,S=/,W= in the name: size from stat */
	char		base[STORE_BASE_MAX];
	char		flags[STORE_FLAGS_MAX];
	uint64_t	size;
	time_t		sec;		/* from the name: delivery time */
	long		usec;		/* from the name's M<usec>, 0 when none */
};

/* Return codes of the private calls: 0, -1 (with why), -2 (index damaged). */

/* store_index.c */
/* Open (or create) the index; a damaged or foreign file is rebuilt. 0 or -1. */
int	store_index_open(struct store *, char *why, size_t whylen);
void	store_index_close(struct store *);
/* Throw the index away and start a new one (new UIDVALIDITY). 0 or -1. */
int	store_index_rebuild(struct store *, char *why, size_t whylen);
/* BEGIN IMMEDIATE: writers of all processes take turns. */
int	store_index_begin(struct store *, char *why, size_t whylen);
/* BEGIN (deferred): a consistent snapshot for reading. */
int	store_index_begin_read(struct store *, char *why, size_t whylen);
int	store_index_commit(struct store *, char *why, size_t whylen);
void	store_index_rollback(struct store *);
/* Fill why with the last SQLite error; -2 when the file is damaged, else -1. */
int	store_index_error(struct store *, const char *what, char *why, size_t whylen);
/* Step a prepared statement that returns no rows, then reset it. 0, -1, -2. */
int	store_index_exec_row(struct store *, struct sqlite3_stmt *, const char *what,
	    char *why, size_t whylen);
/* The row of mailbox name or id: 0, 1 when there is none, -1/-2. */
int	store_index_box_by_name(struct store *, const char *name, struct store_box *out,
	    char *why, size_t whylen);
int	store_index_box_by_id(struct store *, int64_t id, struct store_box *out,
	    char *why, size_t whylen);
/* Inside a write transaction: insert mailbox name with a new UIDVALIDITY. */
int	store_index_box_insert(struct store *, const char *name, unsigned special_use,
	    struct store_box *out, char *why, size_t whylen);
/* Write uidnext, highestmodseq, cur_mtime_ns and cur_checked_ns of box. */
int	store_index_box_update(struct store *, const struct store_box *, char *why,
	    size_t whylen);
/* Number of mailbox rows, or -1. */
long	store_index_box_count(struct store *, char *why, size_t whylen);
/*
 * Inside a write transaction: merge the files of a cur/ scan (any order;
 * sorted in place) into the rows of box: rows without a file are dropped
 * (tombstones), changed flags get a new MODSEQ, unknown files the next UIDs
 * in arrival order. box is updated in memory only (the caller writes it).
 */
int	store_index_merge(struct store *, struct store_box *, const char *path,
	    struct store_file *files, size_t nfiles, char *why, size_t whylen);
/* Append the rows of mailbox id with modseq > since to *msgs (UID order). */
int	store_index_load(struct store *, int64_t id, uint64_t since, struct store_msg **msgs,
	    size_t *n, char *why, size_t whylen);
/* One row by UID: 0, 1 when there is none, -1/-2. */
int	store_index_msg(struct store *, int64_t id, uint32_t uid, struct store_msg *out,
	    char *why, size_t whylen);
/* Insert msg into mailbox id (its uid, modseq, ... set by the caller). */
int	store_index_msg_insert(struct store *, int64_t id, const struct store_msg *msg,
	    char *why, size_t whylen);
/*
 * Inside a write transaction: drop the rows of uids from box, leaving
 * tombstones with one new MODSEQ (box->highestmodseq, in memory).
 */
int	store_index_delete(struct store *, struct store_box *, const uint32_t *uids, size_t n,
	    char *why, size_t whylen);
/* Remove every row of mailbox id (messages, keywords, tombstones, itself). */
int	store_index_box_drop(struct store *, int64_t id, char *why, size_t whylen);

/* store_keywords.c */
/* The keyword names of mailbox id into names[bit] (xstrdup'd), *n set. */
int	store_keywords_load(struct store *, int64_t id, char **names, size_t *n,
	    char *why, size_t whylen);
void	store_keywords_free(char **names, size_t *n);
/*
 * The bits of keyword names in mailbox id; with create, missing names get
 * the next free bits (inside a write transaction). 0, -1/-2, or -3 when
 * more than STORE_KEYWORDS_MAX would be needed or a name is not an atom.
 */
int	store_keywords_bits(struct store *, int64_t id, const char *const *names, size_t n,
	    int create, uint64_t *bits_out, char *why, size_t whylen);

/* store_name.c */
/* The folder directory of a canonical name (root for INBOX). 0 or -1. */
int	store_name_path(const struct store *, const char *name, char *out, size_t outlen);
/* The canonical name of a folder directory entry ".A.B"; 0 or -1. */
int	store_name_from_dir(const char *entry, char *out, size_t outlen);
/* Special use of a top-level well-known name, else 0. */
unsigned store_name_special_use(const char *name);

/* store_maildir.c */
/* Parse a cur/ file name into f; -1 for names that are not messages. */
int	store_maildir_parse_name(const char *name, struct store_file *f);
/*
 * The size of f (in path's cur/) as IMAP counts it, with every bare LF
 * counted as CRLF: for files other programs wrote without a size in the
 * name. Falls back to f->size when the file cannot be read.
 */
uint64_t store_maildir_crlf_size(const char *path, const struct store_file *f);
/* Arrival order: delivery second, then microsecond, then name. */
int	store_maildir_arrival_cmp(const struct store_file *a, const struct store_file *b);
/* A new unique base "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>". */
void	store_maildir_unique_base(char *out, size_t outlen, time_t sec, uint64_t size);
/* Sort Maildir flag letters and drop duplicates and non-letters, in place. */
void	store_maildir_sort_flags(char *flags);
/* 1 when path/new holds a message, 0 when not, -1. */
int	store_maildir_new_pending(const char *path, char *why, size_t whylen);
/* cur/'s mtime in ns; 0 or -1 with why. */
int	store_maildir_cur_mtime(const char *path, int64_t *ns_out, char *why, size_t whylen);
/* The wall clock in ns. */
int64_t	store_maildir_now_ns(void);
/* The current name of base in path/cur/ (expected flags tried first). 0 or -1 (ENOENT). */
int	store_maildir_find(const char *path, const char *base, const char *flags, char *name,
	    size_t namelen);
/*
 * Inside a write transaction: new/ to cur/, scan cur/, merge into the index
 * and record cur/'s mtime in box (written to the index). 0, -1, -2.
 */
int	store_maildir_sync(struct store *, const char *path, struct store_box *box,
	    char *why, size_t whylen);
/*
 * Does box need a full scan? 1 when new/ has mail, cur/'s mtime differs
 * from the one recorded, or was recorded too close to its stat to trust.
 */
int	store_maildir_need_sync(const char *path, const struct store_box *box, char *why,
	    size_t whylen);
/*
 * Around a change tern makes to cur/ inside a write transaction: before
 * it, note whether cur/ is as the index last saw it; after it, record the
 * new mtime in box only then (else the next refresh rescans, which takes
 * in what another program did meanwhile).
 */
int	store_maildir_cur_before(const char *path, const struct store_box *box);
void	store_maildir_cur_after(const char *path, int clean, struct store_box *box);
/* Binary search of the view: index or -1. */
long	store_maildir_view_find(const struct store_mailbox *, uint32_t uid);
/* Drop the messages of uids (any order) from the view. */
void	store_maildir_view_remove(struct store_mailbox *, const uint32_t *uids, size_t n);
/* Open a mailbox row by name into mb (no sync). STORE_OK or the failure. */
enum store_status store_maildir_locate(struct store *, const char *name, struct store_box *box,
	    char *path, size_t pathlen, char *why, size_t whylen);
/* Map a private return code to a status. */
enum store_status store_status_of(int rc);

/* store_mailboxes.c */
/*
 * On an index without mailbox rows: INBOX, then the folders found on disk,
 * or for a brand-new Maildir (no folders, no subscriptions file) the
 * default folders, subscribed. 0, -1, -2.
 */
int	store_mailboxes_init(struct store *, char *why, size_t whylen);
/* Inside a write transaction: folders and rows of the missing parents of name. */
int	store_mailboxes_make_parents(struct store *, const char *name, char *why, size_t whylen);
/* Inside a write transaction: a new mailbox (parents first). 0, -1, -2. */
int	store_mailboxes_add(struct store *, const char *name, unsigned special_use,
	    struct store_box *box, char *why, size_t whylen);
/* 1 when some mailbox lives under name, 0, or -1/-2. */
int	store_mailboxes_has_children(struct store *, const char *name, char *why, size_t whylen);
/* store_name_normalise() into canon (STORE_NAME_MAX) or -1 with why. */
int	store_mailboxes_canon(const char *name, char *canon, char *why, size_t whylen);

/* store_copy.c */
/* Files linked (or renamed) from one mailbox into another, for undoing. */
struct store_xfer {
	size_t		  n;
	int		  renamed;	/* files were renamed, not linked */
	int		  src_unlinked;	/* a move removed the source names */
	char		(*src)[NAME_MAX + 1];	/* names in the source cur/ */
	char		(*dst)[NAME_MAX + 1];	/* names in the destination cur/ */
	uint32_t	 *src_uids;
	uint32_t	 *dst_uids;
};
/*
 * Inside a write transaction: put the files of msgs (rows of mailbox src_id,
 * in that order) into dst's cur/ under new unique names, by link or rename,
 * and insert their rows into dst with the next UIDs (flags kept, keywords
 * mapped to dst's bits). Messages whose file is gone are skipped. On
 * failure nothing is left behind. 0, -1, -2, -3 (too many keywords).
 */
int	store_copy_xfer(struct store *, int64_t src_id, const char *srcpath,
	    const struct store_msg *msgs, size_t n, struct store_box *dst, const char *dstpath,
	    int rename_files, struct store_xfer *x, char *why, size_t whylen);
/* Put the files back as they were (after a failure past store_copy_xfer). */
void	store_copy_undo(const char *srcpath, const char *dstpath, struct store_xfer *x);
void	store_copy_xfer_free(struct store_xfer *x);

#endif
