/*
 * store - the mailbox store: Maildir files plus a per-user SQLite index.
 *
 * Services (pop3d now, imapd and web later) reach mailboxes only through
 * this header, so that another back end can keep them elsewhere. The
 * Maildir is the source of truth; <maildir>/index.db (UIDVALIDITY, UIDs,
 * flags, MODSEQ) is a cache that is rebuilt, with a new UIDVALIDITY, when
 * it is missing or damaged.
 *
 * Every call here may block (disk, SQLite): servers call them on a pool
 * thread. A struct store and its mailboxes are used by one thread at a
 * time. Only INBOX exists so far.
 */
#ifndef TERN_STORE_STORE_H
#define TERN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STORE_BASE_MAX		256	/* Maildir base name (before ":2,"), NUL included */
#define STORE_FLAGS_MAX		32	/* Maildir info letters (after ":2,"), NUL included */
#define STORE_INDEX_NAME	"index.db"
#define STORE_LOCK_NAME		"tern-exclusive.lock"

struct store;		/* one user's mail */
struct store_mailbox;	/* one open mailbox: its messages as of the last sync */

enum store_status {
	STORE_OK = 0,
	STORE_IN_USE,		/* STORE_OPEN_EXCLUSIVE and another holder has it */
	STORE_NOT_FOUND,	/* no such mailbox */
	STORE_TEMP,		/* disk or database error: try again later */
};

/* Flags of store_mailbox_open(). */
#define STORE_OPEN_EXCLUSIVE	0x1	/* one holder at a time (POP3), never blocks */

/* One message, as the index knows it. Plain data. */
struct store_msg {
	uint32_t	uid;
	uint64_t	size;		/* octets of the stored file (the ,S= value) */
	uint64_t	modseq;
	time_t		internaldate;	/* delivery time */
	char		base[STORE_BASE_MAX];	/* the unique part of the file name */
	char		flags[STORE_FLAGS_MAX];	/* Maildir flags, "" or "S", "FS", ... */
};

/*
 * Open the mail of one user whose Maildir++ root is maildir (created with
 * cur/ new/ tmp/ when missing); opens or rebuilds the index. NULL with why.
 * Free with store_close().
 */
struct store	*store_open(const char *maildir, char *why, size_t whylen);
/* Close mailboxes first. Sets *storep to NULL; accepts NULL. */
void		 store_close(struct store **storep);

/*
 * Open mailbox name ("INBOX", any case) and sync its index with the
 * Maildir: files in new/ move to cur/ (":2," added) and get the next UIDs in
 * arrival order; files that vanished are dropped; flags changed by other
 * programs are taken. Safe while other processes deliver or sync. NULL with
 * *status_out (never STORE_OK) and why. With STORE_OPEN_EXCLUSIVE the
 * mailbox stays locked until store_mailbox_close(), and a second
 * exclusive open (any process) gets STORE_IN_USE; plain opens are never
 * refused.
 */
struct store_mailbox *store_mailbox_open(struct store *, const char *name, int flags,
		    enum store_status *status_out, char *why, size_t whylen);
/* Release the lock and free. Sets *mbp to NULL; accepts NULL. */
void		 store_mailbox_close(struct store_mailbox **mbp);

uint32_t	 store_mailbox_uidvalidity(const struct store_mailbox *);
/* Messages as of the last sync, in UID order. */
size_t		 store_mailbox_count(const struct store_mailbox *);
/* Message i (0-based, < count); valid until the mailbox is closed. */
const struct store_msg *store_mailbox_msg(const struct store_mailbox *, size_t i);

/*
 * Open the file of msg read-only; the fd is the caller's. When another
 * program renamed it (a flag change) the file is looked up again by base
 * name. -1 with errno ENOENT when it has been expunged meanwhile.
 */
int		 store_msg_open(struct store_mailbox *, const struct store_msg *msg);

/*
 * Remove the messages with the given UIDs: unlink their files, then drop
 * their rows, in one index transaction (other syncs wait for it). A file
 * already gone counts as removed. Returns 0, or -1 with why when some
 * could not be removed (they stay in the index and the Maildir); the
 * number removed is in *removed_out either way (may be NULL).
 */
int		 store_expunge(struct store_mailbox *, const uint32_t *uids, size_t n,
		    size_t *removed_out, char *why, size_t whylen);

#endif
