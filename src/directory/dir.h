/*
 * dir - the directory of domains, users and aliases.
 *
 * One interface, one back end for now (SQLite, dir_sqlite.c, in
 * <data_dir>/directory.db, WAL mode). PostgreSQL/MySQL/LDAP back ends will
 * implement the same calls. Addresses are compared case-insensitively:
 * every address is stored and looked up in canonical form (ASCII letters
 * lower-cased in both parts; UTF-8 bytes kept as they are).
 *
 * Errors: calls that can fail return 0 on success and -1 with a one-line
 * reason written into why (whylen bytes), suitable for the CLI to print.
 */
#ifndef TERN_DIRECTORY_DIR_H
#define TERN_DIRECTORY_DIR_H

#include <stddef.h>
#include <stdint.h>

#define DIR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define DIR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define DIR_ADDRESS_MAX	(DIR_LOCAL_MAX + 1 + DIR_DOMAIN_MAX)
#define DIR_ALIAS_DEPTH	10	/* nesting of alias expansion */
#define DIR_EXPAND_MAX	1000	/* final destinations of one address */

struct dir;

enum dir_domain_kind {
	DIR_DOMAIN_NONE = 0,	/* not ours */
	DIR_DOMAIN_LOCAL,	/* we host its mailboxes */
	DIR_DOMAIN_RELAY,	/* we are a backup MX: accept and queue */
};

enum dir_open_mode {
	DIR_OPEN_READ = 0,	/* workers: lookups only */
	DIR_OPEN_WRITE,		/* the CLI: may change entries */
	DIR_OPEN_CREATE,	/* tern init: create the file and schema */
};

struct dir_user {
	char		address[DIR_ADDRESS_MAX + 1];	/* canonical local@domain */
	char		password_hash[256];		/* crypt(3) string, "" = none */
	char		scram[256];			/* SCRAM-SHA-256 keys, "" = none */
	uint64_t	quota;				/* bytes, 0 = unlimited */
	int		enabled;
};

/* A final local mailbox an address resolved to. */
struct dir_mailbox {
	char		local[DIR_LOCAL_MAX + 1];	/* canonical, no +tag */
	char		domain[DIR_DOMAIN_MAX + 1];	/* canonical */
	uint64_t	quota;				/* bytes, 0 = unlimited */
};

enum dir_resolve_status {
	DIR_RESOLVE_OK = 0,	/* mailboxes and/or remote addresses below */
	DIR_RESOLVE_UNKNOWN,	/* local or relay domain, no such user: 550 5.1.1 */
	DIR_RESOLVE_NOT_LOCAL,	/* domain is not ours: relay decision is the caller's */
	DIR_RESOLVE_RELAY,	/* domain is a relay domain: queue as given */
	DIR_RESOLVE_LOOP,	/* alias loop or expansion too deep/wide: 554 5.4.6 */
	DIR_RESOLVE_DISABLED,	/* user exists but is disabled: 550 5.2.1 */
	DIR_RESOLVE_TEMPFAIL,	/* database error: 451 4.3.0 */
};

struct dir_resolution {
	enum dir_resolve_status	 status;
	struct dir_mailbox	*mailboxes;	/* distinct final mailboxes */
	size_t			 nmailboxes;
	char			**remote;	/* distinct non-local addresses aliases point to */
	size_t			 nremote;
};

/* Open (or create) the directory database at path. NULL with why on error. */
struct dir	*dir_open(const char *path, enum dir_open_mode mode, char *why, size_t whylen);
/* Close and set *dirp to NULL; accepts NULL. */
void		 dir_close(struct dir **dirp);

/*
 * Canonical form of an address: ASCII lower-cased, "local@domain" split at the
 * last '@'. Returns 0, or -1 when it is not a plausible address (empty part,
 * too long, control characters, spaces). out has DIR_ADDRESS_MAX + 1 bytes.
 */
int		 dir_canonical(const char *address, char *out, char *why, size_t whylen);

int		 dir_domain_add(struct dir *, const char *domain, enum dir_domain_kind kind,
		    char *why, size_t whylen);
/* Refuses while users or aliases of the domain exist. */
int		 dir_domain_del(struct dir *, const char *domain, char *why, size_t whylen);
enum dir_domain_kind dir_domain_kind(struct dir *, const char *domain);
/* Calls fn once per domain in name order; returns 0 or -1 with why. */
int		 dir_domain_list(struct dir *, void (*fn)(void *arg, const char *domain,
		    enum dir_domain_kind kind), void *arg, char *why, size_t whylen);

/* The domain must exist and be local; a duplicate address is an error. */
int		 dir_user_add(struct dir *, const char *address, const char *password_hash,
		    uint64_t quota, char *why, size_t whylen);
int		 dir_user_del(struct dir *, const char *address, char *why, size_t whylen);
int		 dir_user_set_password(struct dir *, const char *address,
		    const char *password_hash, char *why, size_t whylen);
int		 dir_user_set_quota(struct dir *, const char *address, uint64_t quota,
		    char *why, size_t whylen);
/* 1 found (out filled), 0 not found, -1 error with why. */
int		 dir_user_get(struct dir *, const char *address, struct dir_user *out,
		    char *why, size_t whylen);
int		 dir_user_list(struct dir *, const char *domain_or_null,
		    void (*fn)(void *arg, const struct dir_user *user), void *arg,
		    char *why, size_t whylen);

/*
 * source is "local@domain" or "@domain" (catch-all) of a local or relay
 * domain; dest is any address. Adding an existing pair is an error.
 */
int		 dir_alias_add(struct dir *, const char *source, const char *dest,
		    char *why, size_t whylen);
/* dest NULL removes every destination of source. */
int		 dir_alias_del(struct dir *, const char *source, const char *dest,
		    char *why, size_t whylen);
int		 dir_alias_list(struct dir *, const char *source_or_null,
		    void (*fn)(void *arg, const char *source, const char *dest), void *arg,
		    char *why, size_t whylen);

/*
 * Resolve a recipient address (as given in RCPT TO, any case) to final
 * mailboxes. delimiter ('+', or '\0' for none) separates the tag:
 * "user+tag@d" -> "user@d". Order of lookups for each address, first hit wins:
 *   1. alias of the exact address (with tag),
 *   2. alias of the address without tag,
 *   3. user (without tag),
 *   4. catch-all alias "@domain",
 * Alias destinations are resolved again the same way (a destination that is
 * a user is final even when an alias of the same name would match, once the
 * user has been reached through an alias); remote destinations are
 * collected in remote[]. Loops and depth > DIR_ALIAS_DEPTH give
 * DIR_RESOLVE_LOOP. out is always initialised; free it with
 * dir_resolution_free().
 */
void		 dir_resolve(struct dir *, const char *address, char delimiter,
		    struct dir_resolution *out);
void		 dir_resolution_free(struct dir_resolution *res);

/*
 * Additions to the interface above.
 *
 * A struct dir keeps prepared statements: use one handle from one thread at
 * a time (each pool thread opens its own).
 */

/* A disabled user resolves to DIR_RESOLVE_DISABLED and cannot log in. */
int		 dir_user_set_enabled(struct dir *, const char *address, int enabled,
		    char *why, size_t whylen);

/*
 * Group several changes so that all or none of them land. dir_begin takes
 * the write lock at once (waiting up to the busy timeout); no nesting.
 * dir_rollback accepts a handle without an open transaction.
 */
int		 dir_begin(struct dir *, char *why, size_t whylen);
int		 dir_commit(struct dir *, char *why, size_t whylen);
void		 dir_rollback(struct dir *);

/*
 * 1 when domain (lower-case) is a plausible name to serve mail for:
 * dot-separated labels of letters, digits, '-' or UTF-8 bytes, 1-63 octets
 * each, 253 in all. dir_domain_add refuses anything else.
 */
int		 dir_domain_name_ok(const char *domain);

/*
 * Store the SCRAM-SHA-256 record of a user (auth/scram.h; "" or NULL
 * removes it). dir_user_set_password clears the record, because keys
 * derived from the old password must not outlive it: set the password
 * first, then its record (in one dir_begin/dir_commit when both must land).
 */
int		 dir_user_set_scram(struct dir *, const char *address, const char *record,
		    char *why, size_t whylen);

/* "local", "relay" or "none". */
const char	*dir_domain_kind_name(enum dir_domain_kind kind);

#endif
