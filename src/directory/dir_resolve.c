/*
 * dir_resolve - expand one recipient into final mailboxes and remote
 * addresses (the rules are in dir.h, above dir_resolve).
 *
 * Expansion is a depth-first walk over aliases. Two sets keep it finite
 * and linear: the chain of alias sources being expanded right now (seeing
 * one again is a loop), and the sources already expanded completely (seeing
 * one again adds nothing new, since results are de-duplicated, so it is
 * skipped; "a -> b, c; b -> d; c -> d" is not a loop). A step budget bounds
 * the work on top of DIR_ALIAS_DEPTH and DIR_EXPAND_MAX.
 *
 * An alias destination that is unknown or disabled is skipped and logged,
 * so one stale entry in a list alias does not refuse mail for everyone
 * else; the address fails only when nothing at all is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "directory/dir_private.h"

#define RESOLVE_STEPS_MAX	(4 * DIR_EXPAND_MAX)

struct resolve {
	struct dir		*dir;
	char			 delimiter;
	const char		*top;		/* the address asked for, for the log */
	struct dir_resolution	*out;
	size_t			 mailboxes_cap;
	size_t			 remote_cap;
	const char		*chain[DIR_ALIAS_DEPTH];
	size_t			 depth;
	char			**done;
	size_t			 ndone;
	size_t			 steps;
	enum dir_resolve_status	 soft;		/* first UNKNOWN/DISABLED seen */
	enum dir_resolve_status	 hard;		/* LOOP or TEMPFAIL: stop at once */
	int			 relay;		/* top address in a relay domain, no alias */
};

static void	resolve_address(struct resolve *, const char *addr, int kind,
		    int via_alias);

static void
fail_hard(struct resolve *r, enum dir_resolve_status status, const char *what)
{
	if (r->hard != DIR_RESOLVE_OK)
		return;
	r->hard = status;
	if (status == DIR_RESOLVE_LOOP)
		log_warn("directory: resolving %s: %s", r->top, what);
	else
		log_error("directory: resolving %s: database error", r->top);
}

static void
fail_soft(struct resolve *r, enum dir_resolve_status status, const char *addr)
{
	if (r->soft == DIR_RESOLVE_OK)
		r->soft = status;
	if (r->depth > 0)
		log_warn("directory: resolving %s: alias destination %s is %s, skipped",
		    r->top, addr, status == DIR_RESOLVE_DISABLED ? "disabled" : "unknown");
}

static int
room_for_one_more(struct resolve *r)
{
	if (r->out->nmailboxes + r->out->nremote < DIR_EXPAND_MAX)
		return 1;
	fail_hard(r, DIR_RESOLVE_LOOP, "too many destinations");
	return 0;
}

static void
add_mailbox(struct resolve *r, const char *address, uint64_t quota)
{
	struct dir_resolution *out = r->out;
	const char *at = strrchr(address, '@');
	struct dir_mailbox mb;

	memset(&mb, 0, sizeof(mb));
	memcpy(mb.local, address, (size_t)(at - address));
	str_copy(mb.domain, at + 1, sizeof(mb.domain));
	mb.quota = quota;
	for (size_t i = 0; i < out->nmailboxes; i++)
		if (strcmp(out->mailboxes[i].local, mb.local) == 0 &&
		    strcmp(out->mailboxes[i].domain, mb.domain) == 0)
			return;
	if (!room_for_one_more(r))
		return;
	if (out->nmailboxes == r->mailboxes_cap) {
		r->mailboxes_cap = r->mailboxes_cap == 0 ? 4 : 2 * r->mailboxes_cap;
		out->mailboxes = xreallocarray(out->mailboxes, r->mailboxes_cap,
		    sizeof(*out->mailboxes));
	}
	out->mailboxes[out->nmailboxes++] = mb;
}

static void
add_remote(struct resolve *r, const char *address)
{
	struct dir_resolution *out = r->out;

	for (size_t i = 0; i < out->nremote; i++)
		if (strcmp(out->remote[i], address) == 0)
			return;
	if (!room_for_one_more(r))
		return;
	if (out->nremote == r->remote_cap) {
		r->remote_cap = r->remote_cap == 0 ? 4 : 2 * r->remote_cap;
		out->remote = xreallocarray(out->remote, r->remote_cap,
		    sizeof(*out->remote));
	}
	out->remote[out->nremote++] = xstrdup(address);
}

/* "user+tag@d" -> "user@d" in out; 1 when there was a tag. */
static int
strip_tag(const char *addr, char delimiter, char *out)
{
	const char *at = strrchr(addr, '@');
	const char *tag;

	if (delimiter == '\0')
		return 0;
	tag = memchr(addr, delimiter, (size_t)(at - addr));
	if (tag == NULL || tag == addr)
		return 0;
	snprintf(out, DIR_ADDRESS_MAX + 1, "%.*s%s", (int)(tag - addr), addr, at);
	return 1;
}

/* A user named addr (or its untagged form) ends the walk here: 1, else 0. */
static int
try_user(struct resolve *r, const char *addr, const char *untagged, int tagged)
{
	struct dir_user u;
	int rc;

	rc = dir_lookup_user(r->dir, addr, &u);
	if (rc == 0 && tagged)
		rc = dir_lookup_user(r->dir, untagged, &u);
	if (rc == 0)
		return 0;
	if (rc < 0)
		fail_hard(r, DIR_RESOLVE_TEMPFAIL, NULL);
	else if (!u.enabled)
		fail_soft(r, DIR_RESOLVE_DISABLED, u.address);
	else
		add_mailbox(r, u.address, u.quota);
	explicit_bzero(u.password_hash, sizeof(u.password_hash));
	explicit_bzero(u.scram, sizeof(u.scram));
	return 1;
}

static int
is_done(struct resolve *r, const char *source)
{
	for (size_t i = 0; i < r->ndone; i++)
		if (strcmp(r->done[i], source) == 0)
			return 1;
	return 0;
}

static void
expand_dests(struct resolve *r, char **dests, size_t ndests)
{
	char canon[DIR_ADDRESS_MAX + 1];
	int kind;

	for (size_t i = 0; i < ndests && r->hard == DIR_RESOLVE_OK; i++) {
		/* Stored canonical; checked again in case of a hand-edited file. */
		if (dir_canonical(dests[i], canon, NULL, 0) == -1) {
			fail_soft(r, DIR_RESOLVE_UNKNOWN, "(invalid)");
			continue;
		}
		kind = dir_lookup_kind(r->dir, strrchr(canon, '@') + 1);
		if (kind < 0)
			fail_hard(r, DIR_RESOLVE_TEMPFAIL, NULL);
		else
			resolve_address(r, canon, kind, 1);
	}
}

/* Expand the alias source if there is one: 1, else 0. */
static int
try_alias(struct resolve *r, const char *source)
{
	char **dests;
	size_t ndests;

	for (size_t i = 0; i < r->depth; i++) {
		if (strcmp(r->chain[i], source) == 0) {
			fail_hard(r, DIR_RESOLVE_LOOP, "alias loop");
			return 1;
		}
	}
	if (is_done(r, source))
		return 1;
	if (dir_lookup_aliases(r->dir, source, &dests, &ndests) == -1) {
		fail_hard(r, DIR_RESOLVE_TEMPFAIL, NULL);
		return 1;
	}
	if (ndests == 0)
		return 0;
	if (r->depth == DIR_ALIAS_DEPTH)
		fail_hard(r, DIR_RESOLVE_LOOP, "aliases nested too deeply");
	else {
		r->chain[r->depth++] = source;
		expand_dests(r, dests, ndests);
		r->depth--;
		r->done = xreallocarray(r->done, r->ndone + 1, sizeof(*r->done));
		r->done[r->ndone++] = xstrdup(source);
	}
	dir_free_list(dests, ndests);
	return 1;
}

/*
 * One address (canonical) of a domain of the given kind. The lookup order
 * is the one in dir.h; through an alias a user comes first, so that
 * "alice -> alice, archive" delivers to the user alice instead of looping.
 */
static void
resolve_address(struct resolve *r, const char *addr, int kind, int via_alias)
{
	char untagged[DIR_ADDRESS_MAX + 1], catchall[DIR_DOMAIN_MAX + 2];
	int tagged;

	if (r->hard != DIR_RESOLVE_OK)
		return;
	if (++r->steps > RESOLVE_STEPS_MAX) {
		fail_hard(r, DIR_RESOLVE_LOOP, "alias expansion too large");
		return;
	}
	if (kind == DIR_DOMAIN_NONE) {
		add_remote(r, addr);
		return;
	}
	tagged = strip_tag(addr, r->delimiter, untagged);
	if (via_alias && kind == DIR_DOMAIN_LOCAL && try_user(r, addr, untagged, tagged))
		return;
	if (try_alias(r, addr) || (tagged && try_alias(r, untagged)))
		return;
	if (!via_alias && kind == DIR_DOMAIN_LOCAL && try_user(r, addr, untagged, tagged))
		return;
	snprintf(catchall, sizeof(catchall), "%s", strrchr(addr, '@'));
	if (try_alias(r, catchall))
		return;
	if (kind == DIR_DOMAIN_RELAY) {
		if (via_alias)
			add_remote(r, addr);
		else
			r->relay = 1;
		return;
	}
	fail_soft(r, DIR_RESOLVE_UNKNOWN, addr);
}

static enum dir_resolve_status
resolve_status(struct resolve *r)
{
	if (r->hard != DIR_RESOLVE_OK)
		return r->hard;
	if (r->out->nmailboxes > 0 || r->out->nremote > 0)
		return DIR_RESOLVE_OK;
	if (r->relay)
		return DIR_RESOLVE_RELAY;
	return r->soft != DIR_RESOLVE_OK ? r->soft : DIR_RESOLVE_UNKNOWN;
}

void
dir_resolve(struct dir *d, const char *address, char delimiter,
    struct dir_resolution *out)
{
	char canon[DIR_ADDRESS_MAX + 1];
	struct resolve r;
	int kind;

	memset(out, 0, sizeof(*out));
	if (dir_canonical(address, canon, NULL, 0) == -1) {
		out->status = DIR_RESOLVE_UNKNOWN;
		return;
	}
	kind = dir_lookup_kind(d, strrchr(canon, '@') + 1);
	if (kind <= DIR_DOMAIN_NONE) {
		out->status = kind < 0 ? DIR_RESOLVE_TEMPFAIL : DIR_RESOLVE_NOT_LOCAL;
		return;
	}
	memset(&r, 0, sizeof(r));
	r.dir = d;
	r.delimiter = delimiter;
	r.top = canon;
	r.out = out;
	resolve_address(&r, canon, kind, 0);
	dir_free_list(r.done, r.ndone);
	out->status = resolve_status(&r);
	if (out->status != DIR_RESOLVE_OK)
		dir_resolution_free(out);
}

void
dir_resolution_free(struct dir_resolution *res)
{
	if (res == NULL)
		return;
	free(res->mailboxes);
	dir_free_list(res->remote, res->nremote);
	res->mailboxes = NULL;
	res->nmailboxes = 0;
	res->remote = NULL;
	res->nremote = 0;
}
