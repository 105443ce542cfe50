/*
 * imap_parse - the IMAP command parser (RFC 3501 section 9, RFC 9051
 * section 9, with LITERAL+/LITERAL-, UIDPLUS, CONDSTORE/QRESYNC, ESEARCH,
 * LIST-EXTENDED, SPECIAL-USE, QUOTA, ID, ENABLE, MOVE, IDLE).
 *
 * Pure code, no I/O: the session collects one whole command (the line,
 * and every literal with the line that follows it, exactly as the client
 * sent them, without the final CRLF) and hands it to imap_parse_command(),
 * which fills a struct imap_cmd or says precisely what is wrong.
 * Strings in the result are NUL-terminated copies owned by the command
 * (free with imap_cmd_free()); a string that contains NUL (possible only
 * in a literal) is refused except for APPEND's message literal.
 */
#ifndef TERN_IMAPD_IMAP_PARSE_H
#define TERN_IMAPD_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mail/mime_section.h"

#define IMAP_TAG_MAX		64	/* tag characters kept */
#define IMAP_SEQ_STAR		UINT32_MAX	/* "*" in a sequence set */
#define IMAP_FLAGS_MAX		64	/* flags in one flag list */
#define IMAP_FETCH_ITEMS_MAX	64	/* items in one FETCH */
#define IMAP_SEARCH_DEPTH_MAX	32	/* nesting of ( ), NOT, OR */
#define IMAP_SEARCH_KEYS_MAX	256	/* nodes in one search program */
#define IMAP_PATTERNS_MAX	16	/* mailbox patterns in one LIST */
#define IMAP_ID_PAIRS_MAX	30	/* RFC 2971: at most 30 field-value pairs */

/*
 * Does line (len bytes, CRLF already removed) end with a literal marker
 * "{N}", "{N+}" (LITERAL+ / LITERAL-) or "~{N}" (literal8)? 1 with *size
 * and *nonsync set, 0 when not, -1 when the marker is malformed (e.g.
 * "{12x}" or a number over UINT32_MAX).
 */
int	imap_literal_marker(const char *line, size_t len, uint64_t *size, int *nonsync);

/*
 * Extract the tag of a line for error replies when parsing fails early:
 * copies the tag (up to the first SP) into tag if it is a valid tag, else
 * "*". Never fails.
 */
void	imap_parse_tag(const char *line, size_t len, char *tag, size_t taglen);

/* One range of a sequence set; lo <= hi after parsing ("5:2" is 2:5). */
struct imap_range {
	uint32_t	lo, hi;		/* IMAP_SEQ_STAR for "*" */
};

struct imap_seqset {
	struct imap_range *ranges;
	size_t		   n;
	int		   saved;	/* "$": the saved search result (RFC 5182); n == 0 */
};

/* Does the set contain n, given what "*" means now (largest seq or UID)?
 * A saved-result set ("$") contains nothing: the caller substitutes it. */
int	imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star);

/* System flags as bits; keywords by name. */
#define IMAP_FLAG_SEEN		0x01
#define IMAP_FLAG_ANSWERED	0x02
#define IMAP_FLAG_FLAGGED	0x04
#define IMAP_FLAG_DELETED	0x08
#define IMAP_FLAG_DRAFT		0x10
#define IMAP_FLAG_RECENT	0x20	/* may appear in SEARCH only; refused in STORE/APPEND */

struct imap_flags {
	unsigned	 system;		/* IMAP_FLAG_* */
	char		*keywords[IMAP_FLAGS_MAX];	/* atoms, as given */
	size_t		 nkeywords;
};

enum imap_fetch_att {
	IMAP_FA_FLAGS, IMAP_FA_UID, IMAP_FA_INTERNALDATE, IMAP_FA_RFC822_SIZE,
	IMAP_FA_ENVELOPE, IMAP_FA_BODYSTRUCTURE, IMAP_FA_BODY /* no section */,
	IMAP_FA_RFC822, IMAP_FA_RFC822_HEADER, IMAP_FA_RFC822_TEXT,
	IMAP_FA_MODSEQ,
	IMAP_FA_BODY_SECTION,	/* BODY[...] or BODY.PEEK[...]: see peek, section */
	IMAP_FA_BINARY,		/* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FA_BINARY_SIZE,	/* BINARY.SIZE[...] */
};

struct imap_fetch_item {
	enum imap_fetch_att	 att;
	int			 peek;
	struct mime_section	*section;	/* BODY[..]/BINARY[..]: owned; else NULL */
	char			*name;		/* the section as the reply must echo it,
						   e.g. "BODY[HEADER.FIELDS (FROM TO)]<0>" */
};

/* Search keys (RFC 3501 6.4.4, RFC 9051 6.4.4, CONDSTORE MODSEQ). */
enum imap_search_op {
	IMAP_SK_ALL, IMAP_SK_AND /* a parenthesised list or the top level */,
	IMAP_SK_OR, IMAP_SK_NOT,
	IMAP_SK_SEQSET, IMAP_SK_UID,
	IMAP_SK_FLAG /* flag set: ANSWERED DELETED DRAFT FLAGGED SEEN RECENT */,
	IMAP_SK_NOFLAG /* UNANSWERED ... */, IMAP_SK_KEYWORD, IMAP_SK_UNKEYWORD,
	IMAP_SK_NEW /* RECENT UNSEEN */, IMAP_SK_OLD /* NOT RECENT */,
	IMAP_SK_BEFORE, IMAP_SK_ON, IMAP_SK_SINCE,		/* internal date (day) */
	IMAP_SK_SENTBEFORE, IMAP_SK_SENTON, IMAP_SK_SENTSINCE,	/* Date: header (day) */
	IMAP_SK_LARGER, IMAP_SK_SMALLER,
	IMAP_SK_HEADER /* field + substring */, IMAP_SK_BODY, IMAP_SK_TEXT,
	IMAP_SK_MODSEQ,
};

struct imap_search_key {
	enum imap_search_op	 op;
	/* AND: children; OR: exactly 2; NOT: exactly 1 */
	struct imap_search_key	**kids;
	size_t			 nkids;
	struct imap_seqset	 set;		/* SEQSET, UID */
	unsigned		 flag;		/* FLAG, NOFLAG: one IMAP_FLAG_* */
	char			*field;		/* HEADER: field name; FROM/TO/CC/BCC/SUBJECT
						   are parsed as HEADER with that field */
	char			*value;		/* HEADER/BODY/TEXT substring, KEYWORD name */
	time_t			 day;		/* BEFORE..SENTSINCE: 00:00 UTC of that date */
	uint64_t		 number;	/* LARGER, SMALLER, MODSEQ */
};

/* ESEARCH return options (RFC 4731); none given = classic SEARCH reply. */
#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10

/* LIST selection and return options (RFC 5258, RFC 6154, RFC 5819). */
#define IMAP_LIST_SEL_SUBSCRIBED	0x01
#define IMAP_LIST_SEL_REMOTE		0x02
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04
#define IMAP_LIST_SEL_SPECIAL_USE	0x08
#define IMAP_LIST_RET_SUBSCRIBED	0x01
#define IMAP_LIST_RET_CHILDREN		0x02
#define IMAP_LIST_RET_SPECIAL_USE	0x04
#define IMAP_LIST_RET_STATUS		0x08

/* STATUS items (also LIST RETURN (STATUS (...))). */
#define IMAP_STATUS_MESSAGES		0x01
#define IMAP_STATUS_RECENT		0x02
#define IMAP_STATUS_UIDNEXT		0x04
#define IMAP_STATUS_UIDVALIDITY		0x08
#define IMAP_STATUS_UNSEEN		0x10
#define IMAP_STATUS_HIGHESTMODSEQ	0x20
#define IMAP_STATUS_SIZE		0x40
#define IMAP_STATUS_DELETED		0x80

/* SPECIAL-USE attributes (RFC 6154) for CREATE ... (USE (...)). */
#define IMAP_USE_ALL		0x01
#define IMAP_USE_ARCHIVE	0x02
#define IMAP_USE_DRAFTS		0x04
#define IMAP_USE_FLAGGED	0x08
#define IMAP_USE_JUNK		0x10
#define IMAP_USE_SENT		0x20
#define IMAP_USE_TRASH		0x40

enum imap_verb {
	IMAP_CAPABILITY, IMAP_NOOP, IMAP_LOGOUT, IMAP_STARTTLS, IMAP_AUTHENTICATE,
	IMAP_LOGIN, IMAP_ID, IMAP_ENABLE, IMAP_NAMESPACE, IMAP_SELECT, IMAP_EXAMINE,
	IMAP_CREATE, IMAP_DELETE, IMAP_RENAME, IMAP_SUBSCRIBE, IMAP_UNSUBSCRIBE,
	IMAP_LIST, IMAP_LSUB, IMAP_STATUS, IMAP_APPEND, IMAP_CHECK, IMAP_CLOSE,
	IMAP_UNSELECT, IMAP_EXPUNGE, IMAP_SEARCH, IMAP_FETCH, IMAP_STORE, IMAP_COPY,
	IMAP_MOVE, IMAP_IDLE, IMAP_GETQUOTA, IMAP_GETQUOTAROOT, IMAP_SETQUOTA,
};

enum imap_store_mode { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

struct imap_cmd {
	char		 tag[IMAP_TAG_MAX + 1];
	enum imap_verb	 verb;
	int		 uid;		/* "UID FETCH" etc. (FETCH STORE SEARCH COPY MOVE EXPUNGE) */

	/* mailbox names as sent (astring; still modified UTF-7 or UTF-8) */
	char		*mailbox;	/* SELECT EXAMINE CREATE DELETE SUBSCRIBE UNSUBSCRIBE
					   STATUS APPEND COPY MOVE GETQUOTAROOT; RENAME: from;
					   GETQUOTA/SETQUOTA: the quota root */
	char		*mailbox2;	/* RENAME: to */

	/* LOGIN */
	char		*user, *password;
	/* AUTHENTICATE */
	char		*mechanism;	/* upper-cased */
	char		*initial;	/* SASL-IR, as sent ("=" for empty); NULL: none */

	/* ID: field/value pairs (value NULL for NIL); id_nil for "ID NIL" */
	char		*id_fields[IMAP_ID_PAIRS_MAX], *id_values[IMAP_ID_PAIRS_MAX];
	size_t		 id_npairs;
	/* ENABLE: capability names, upper-cased */
	char		**enable;
	size_t		 nenable;

	/* SELECT/EXAMINE */
	int		 condstore;	/* (CONDSTORE) */
	int		 qresync;	/* (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) */
	uint32_t	 qr_uidvalidity;
	uint64_t	 qr_modseq;
	struct imap_seqset qr_known_uids;	/* n == 0: not given */
	struct imap_seqset qr_seq_match, qr_uid_match;	/* n == 0: not given */

	/* CREATE (USE (...)) */
	unsigned	 use;		/* IMAP_USE_* */

	/* LIST / LSUB */
	unsigned	 list_select;	/* IMAP_LIST_SEL_* */
	unsigned	 list_return;	/* IMAP_LIST_RET_* */
	unsigned	 list_status;	/* IMAP_STATUS_* with IMAP_LIST_RET_STATUS */
	char		*reference;
	char		*patterns[IMAP_PATTERNS_MAX];	/* list-mailbox, as sent */
	size_t		 npatterns;
	int		 list_extended;	/* selection options, several patterns or RETURN given */

	/* STATUS */
	unsigned	 status_items;	/* IMAP_STATUS_* */

	/* APPEND */
	struct imap_flags append_flags;
	int		 has_date;
	time_t		 append_date;	/* date-time, converted to UTC */
	const char	*message;	/* the literal: points into the command buffer */
	size_t		 message_len;
	int		 message_binary;	/* literal8 (~{N}) */

	/* FETCH, STORE, COPY, MOVE, UID EXPUNGE */
	struct imap_seqset set;

	/* FETCH */
	struct imap_fetch_item items[IMAP_FETCH_ITEMS_MAX];
	size_t		 nitems;
	int		 has_changedsince;
	uint64_t	 changedsince;
	int		 vanished;	/* (CHANGEDSINCE n VANISHED), UID FETCH only */

	/* STORE */
	enum imap_store_mode store_mode;
	int		 silent;
	struct imap_flags store_flags;
	int		 has_unchangedsince;
	uint64_t	 unchangedsince;

	/* SEARCH */
	unsigned	 search_return;	/* IMAP_SEARCH_RET_*; RETURN () means ALL */
	int		 esearch;	/* RETURN (...) was given */
	char		*charset;	/* NULL, or upper-cased */
	struct imap_search_key *search;	/* the program: an AND node */
	int		 search_modseq;	/* a MODSEQ key is in it (reply adds (MODSEQ n)) */

	/* GETQUOTA etc. need nothing more; SETQUOTA's list is not parsed */

	void		*arena;		/* private: what the strings live in */
};

/*
 * Parse one whole command (see above). Returns 0, or -1 with a one-line
 * reason for a tagged BAD in err (the tag, when it could be read, is in
 * cmd->tag; otherwise "*" for an untagged BAD). cmd is reset first; call
 * imap_cmd_free() in both cases. utf8 says whether mailbox names may hold
 * UTF-8 (after ENABLE UTF8=ACCEPT or IMAP4rev2), else 8-bit names are
 * refused. Command names and keywords are case-insensitive.
 */
int	imap_parse_command(const char *buf, size_t len, int utf8, struct imap_cmd *cmd,
	    char *err, size_t errlen);
void	imap_cmd_free(struct imap_cmd *cmd);

/*
 * AUTHENTICATE continuation lines are not commands: "*" cancels (1),
 * otherwise the line is returned as is (0).
 */
int	imap_is_auth_cancel(const char *line, size_t len);

#endif
