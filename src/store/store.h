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
 * time; every session opens its own struct store.
 *
 * Mailbox names are UTF-8, levels separated by STORE_DELIM, "INBOX" (any
 * case, top level only) is the Maildir root; "A/B" lives in the Maildir++
 * folder "<root>/.A.B" (each level percent-escapes '.', '%', '/' and
 * control characters, so no name can leave the root). Subscriptions are
 * kept in the Maildir++ file "<root>/subscriptions", one name per line.
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
#define STORE_NAME_MAX		512	/* mailbox name in UTF-8, NUL included */
#define STORE_DELIM		'/'
#define STORE_KEYWORDS_MAX	64	/* keywords per mailbox: bits of store_msg.keywords */
#define STORE_KEYWORD_MAX	128	/* length of one keyword, NUL included */

/* SPECIAL-USE (RFC 6154) of a mailbox; the same bits as IMAP_USE_*. */
#define STORE_USE_ALL		0x01
#define STORE_USE_ARCHIVE	0x02
#define STORE_USE_DRAFTS	0x04
#define STORE_USE_FLAGGED	0x08
#define STORE_USE_JUNK		0x10
#define STORE_USE_SENT		0x20
#define STORE_USE_TRASH		0x40

struct store;		/* one user's mail */
struct store_mailbox;	/* one open mailbox: its messages as of the last sync */

enum store_status {
	STORE_OK = 0,
	STORE_IN_USE,		/* STORE_OPEN_EXCLUSIVE and another holder has it */
	STORE_NOT_FOUND,	/* no such mailbox */
	STORE_TEMP,		/* disk or database error: try again later */
	STORE_EXISTS,		/* create or rename onto a name that exists */
	STORE_BAD_NAME,		/* empty level, control character, too long, ... */
	STORE_HAS_CHILDREN,	/* delete of a mailbox that has inferiors */
	STORE_NOT_ALLOWED,	/* delete INBOX, rename onto INBOX, ... */
	STORE_LIMIT,		/* more than STORE_KEYWORDS_MAX keywords */
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
	uint64_t	keywords;	/* bit i: keyword i of store_mailbox_keywords() */
};

/*
 * Call once at process start, before anything in the process uses SQLite
 * (the directory too): sets SQLite up for many small connections (no bulk
 * page-cache allocation per connection: a server keeps thousands of idle
 * sessions). Later calls, or calls after SQLite started, change nothing.
 */
void		 store_configure(void);

/*
 * Open the mail of one user whose Maildir++ root is maildir (created with
 * cur/ new/ tmp/ when missing); opens or rebuilds the index. NULL with why.
 * Free with store_close().
 */
struct store	*store_open(const char *maildir, char *why, size_t whylen);
/* Close mailboxes first. Sets *storep to NULL; accepts NULL. */
void		 store_close(struct store **storep);

/*
 * Open mailbox name (see store_name_normalise()) and sync its index with the
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
 * their rows (remembering each UID with a new MODSEQ for QRESYNC) and
 * take them out of the view, in one index transaction (other syncs wait
 * for it). A file
 * already gone counts as removed. Returns 0, or -1 with why when some
 * could not be removed (they stay in the index and the Maildir); the
 * number removed is in *removed_out either way (may be NULL).
 */
int		 store_expunge(struct store_mailbox *, const uint32_t *uids, size_t n,
		    size_t *removed_out, char *why, size_t whylen);

/* --- mailboxes (IMAP) --- */

/*
 * Every mailbox the user has was created with store_open() the first time
 * (INBOX, and Sent, Drafts, Trash, Junk, Archive with their special use,
 * all subscribed); a rebuilt index finds the folders again on disk.
 */
struct store_mailbox_info {
	char		name[STORE_NAME_MAX];
	unsigned	special_use;	/* STORE_USE_* */
	int		subscribed;
	int		nonexistent;	/* subscribed, but there is no such mailbox */
};

/* All mailboxes (and subscribed names that do not exist), INBOX first, then by
 * name. *out is the caller's (free()). 0, or -1 with why. */
int		 store_list(struct store *, struct store_mailbox_info **out, size_t *nout,
		    char *why, size_t whylen);
/*
 * Normalise a mailbox name: "inbox" and "InBoX/x" become "INBOX", "INBOX/x";
 * a trailing STORE_DELIM is dropped (RFC 3501 CREATE). 0, or -1 when the
 * name is invalid (empty level, control character, not UTF-8, too long).
 */
int		 store_name_normalise(const char *name, char *out, size_t outlen);
/* Create name and any missing parents (RFC 3501 6.3.3). */
enum store_status store_create(struct store *, const char *name, unsigned special_use,
		    char *why, size_t whylen);
/* Delete an empty-of-children mailbox with its messages; never INBOX. */
enum store_status store_delete(struct store *, const char *name, char *why, size_t whylen);
/*
 * Rename from (and its children) to to, creating to's missing parents.
 * Renaming INBOX moves all its messages into the new mailbox and leaves
 * INBOX empty (RFC 3501 6.3.5); INBOX's children are not moved.
 */
enum store_status store_rename(struct store *, const char *from, const char *to,
		    char *why, size_t whylen);
/* Add or remove name in the subscriptions (name need not exist). */
enum store_status store_subscribe(struct store *, const char *name, int subscribe,
		    char *why, size_t whylen);

struct store_status_info {
	uint32_t	messages, unseen, deleted, uidnext, uidvalidity;
	uint64_t	highestmodseq, size;
};

/* STATUS of a mailbox, after a sync with the Maildir (it need not be open). */
enum store_status store_status(struct store *, const char *name, struct store_status_info *,
		    char *why, size_t whylen);
/* Octets and messages in all mailboxes, as the index knows them (QUOTA). */
int		 store_usage(struct store *, uint64_t *bytes_out, uint64_t *messages_out,
		    char *why, size_t whylen);

/*
 * Add a message to mailbox name: written to tmp/, fsynced, linked into
 * cur/ with flags (Maildir letters), given the next UID in the index with
 * the keywords (created in that mailbox as needed), internaldate (0: now).
 * The UIDVALIDITY and UID are returned (APPENDUID).
 */
enum store_status store_append(struct store *, const char *name, const char *data, size_t len,
		    const char *flags, const char *const *keywords, size_t nkeywords,
		    time_t internaldate, uint32_t *uidvalidity_out, uint32_t *uid_out,
		    char *why, size_t whylen);

/* --- an open mailbox (IMAP) --- */

const char	*store_mailbox_name(const struct store_mailbox *);
uint32_t	 store_mailbox_uidnext(const struct store_mailbox *);
uint64_t	 store_mailbox_highestmodseq(const struct store_mailbox *);
/* Keyword names of the mailbox: bit i of store_msg.keywords is names[i]. */
size_t		 store_mailbox_keywords(const struct store_mailbox *, const char *const **names_out);
/* Index (0-based) of uid in the view, or -1. Binary search. */
long		 store_mailbox_find(const struct store_mailbox *, uint32_t uid);

/* What store_mailbox_refresh() found changed since the view was last brought up to date. */
struct store_changes {
	uint32_t	*expunged_seqs;	/* 1-based positions in the view before the
					   refresh, ascending (send EXPUNGE descending) */
	uint32_t	*expunged_uids;	/* the same messages' UIDs */
	size_t		 nexpunged;
	size_t		 nnew;		/* messages added at the end of the view */
	uint32_t	*changed_uids;	/* UIDs still in the view whose flags or
					   keywords another session or program changed */
	size_t		 nchanged;
};

/*
 * Bring the view up to date: deliveries in new/, changes made by other
 * sessions (through the index), and changes other programs made to cur/
 * (noticed by cur/'s mtime). Cheap when nothing changed. Changes this
 * handle made itself are not reported. 0; 1 when the mailbox was deleted
 * (or renamed away and its row is gone) meanwhile; -1 with why on an error
 * (the view stays as it was in both cases). Free *out with
 * store_changes_free().
 */
int		 store_mailbox_refresh(struct store_mailbox *, struct store_changes *out,
		    char *why, size_t whylen);
void		 store_changes_free(struct store_changes *);

/*
 * For a session that closed its mailbox to save memory (IMAP IDLE): take
 * deliveries and other programs' changes of mailbox name into the index
 * (as a refresh does) and give its UIDVALIDITY and highest MODSEQ, which
 * move with every change of any session. Cheap when nothing changed. 0 or
 * -1 (the mailbox is gone, or an error).
 */
int		 store_poll(struct store *, const char *name, uint32_t *uidvalidity_out,
		    uint64_t *modseq_out, char *why, size_t whylen);
/* Give back the memory the index connection keeps for speed (its page cache). */
void		 store_release_memory(struct store *);

/* UIDs expunged since modseq since (QRESYNC VANISHED (EARLIER)), ascending;
 * *uids_out is the caller's. 0 or -1. */
int		 store_mailbox_vanished(struct store_mailbox *, uint64_t since,
		    uint32_t **uids_out, size_t *n_out, char *why, size_t whylen);

enum store_flags_mode { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

struct store_flag_change {
	enum store_flags_mode	 mode;
	const char		*flags;		/* Maildir letters of system flags: "SRFTD" subset */
	const char *const	*keywords;
	size_t			 nkeywords;
	uint64_t		 unchangedsince;	/* 0: no UNCHANGEDSINCE */
};

/*
 * Change the flags of the messages uids (in the view; others are skipped):
 * files renamed, index rows given a new MODSEQ, the view updated. A
 * message whose MODSEQ is above unchangedsince is left alone and its UID
 * put in *failed_out (caller frees; may be NULL when unchangedsince is 0).
 * A message whose flags would not change keeps its MODSEQ. STORE_LIMIT when
 * a keyword cannot be created.
 */
enum store_status store_set_flags(struct store_mailbox *, const uint32_t *uids, size_t n,
		    const struct store_flag_change *change, uint32_t **failed_out,
		    size_t *nfailed_out, char *why, size_t whylen);

/*
 * Copy the messages uids (in the view, in that order) to mailbox dest (hard
 * links; flags and keywords kept; new UIDs in dest in the same order). With
 * move, they are then expunged here as by store_expunge(). *src_uids_out and
 * *dest_uids_out (caller frees) pair the UIDs copied (COPYUID).
 * STORE_NOT_FOUND when dest does not exist.
 */
enum store_status store_copy(struct store_mailbox *, const uint32_t *uids, size_t n,
		    const char *dest, int move, uint32_t *dest_uidvalidity_out,
		    uint32_t **src_uids_out, uint32_t **dest_uids_out, size_t *ncopied_out,
		    char *why, size_t whylen);

/*
 * What the IMAP server computes from a message once and keeps in the index
 * (a cache, forgotten with a rebuild): ENVELOPE, BODYSTRUCTURE and a header
 * block of the fields SEARCH uses most.
 */
struct store_cached {
	uint32_t	 uid;
	const char	*envelope;	/* with bodystructure, or both NULL */
	const char	*bodystructure;
	const char	*headers;	/* NULL when not cached */
};

/*
 * Everything cached for the messages with lo <= uid <= hi, in one query:
 * fn(arg, c) for each message that has something, in UID order (c and its
 * strings are valid during the call only). 0 or -1.
 */
int		 store_cache_scan(struct store_mailbox *, uint32_t lo, uint32_t hi,
		    void (*fn)(void *arg, const struct store_cached *c), void *arg);
/* Keep what was computed; NULL parts stay as they are. */
void		 store_cache_put(struct store_mailbox *, uint32_t uid, const char *envelope,
		    const char *bodystructure, const char *headers);

#endif
