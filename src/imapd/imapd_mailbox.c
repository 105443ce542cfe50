/*
 * imapd_mailbox - commands on mailboxes as a whole: LIST (RFC 5258
 * LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, APPEND (RFC 4315
 * APPENDUID) and QUOTA (RFC 9208). Pool handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/str.h"
#include "imapd/imapd_private.h"
#include "imapd/mutf7.h"

/* --- LIST --- */

/* Does name match pattern ('*' anything, '%' anything but the delimiter)? */
static int
pattern_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			for (const char *n = name; ; n++) {
				if (pattern_match(pat + 1, n))
					return 1;
				if (*n == '\0' || (*pat == '%' && *n == STORE_DELIM))
					return 0;
			}
		}
		if (*name != *pat)
			return 0;
	}
	return *name == '\0';
}

/* reference + pattern, decoded, with a leading INBOX in canonical case. */
static int
full_pattern(struct imapd_session *s, const char *ref, const char *pat, char *out,
    size_t outlen)
{
	char joined[STORE_NAME_MAX * 2], dec[STORE_NAME_MAX * 2];

	if (snprintf(joined, sizeof(joined), "%s%s", ref, pat) >= (int)sizeof(joined))
		return -1;
	if (!s->utf8) {
		if (mutf7_decode(joined, dec, sizeof(dec)) == -1)
			return -1;
	} else
		str_copy(dec, joined, sizeof(dec));
	if (strncasecmp(dec, "INBOX", 5) == 0 && (dec[5] == '\0' || dec[5] == STORE_DELIM))
		memcpy(dec, "INBOX", 5);
	return str_copy(out, dec, outlen);
}

static const struct {
	unsigned	 bit;
	const char	*name;
} uses[] = {
	{ STORE_USE_ALL, "\\All" }, { STORE_USE_ARCHIVE, "\\Archive" },
	{ STORE_USE_DRAFTS, "\\Drafts" }, { STORE_USE_FLAGGED, "\\Flagged" },
	{ STORE_USE_JUNK, "\\Junk" }, { STORE_USE_SENT, "\\Sent" },
	{ STORE_USE_TRASH, "\\Trash" },
};

static int
has_children(const struct store_mailbox_info *all, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (!all[i].nonexistent && strncmp(all[i].name, name, len) == 0 &&
		    all[i].name[len] == STORE_DELIM)
			return 1;
	return 0;
}

/* RECURSIVEMATCH (RFC 5258 3.5): a subscribed mailbox below name? */
static int
has_subscribed_child(const struct store_mailbox_info *all, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (all[i].subscribed && strncmp(all[i].name, name, len) == 0 &&
		    all[i].name[len] == STORE_DELIM)
			return 1;
	return 0;
}

static void
out_status(struct imapd_session *s, const char *name, unsigned items)
{
	struct store_status_info info;
	char why[256];
	enum store_status st;
	const char *sep = "";

	st = store_status(s->store, name, &info, why, sizeof(why));
	if (st != STORE_OK)
		return;
	imapd_out(s, "* STATUS ");
	imapd_out_mailbox(s, name);
	imapd_out(s, " (");
#define ITEM(bit, fmt, val) \
	if (items & (bit)) { imapd_out(s, "%s" fmt, sep, val); sep = " "; }
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", info.messages)
	ITEM(IMAP_STATUS_RECENT, "RECENT %u", 0u)
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", info.uidnext)
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", info.uidvalidity)
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", info.unseen)
	ITEM(IMAP_STATUS_DELETED, "DELETED %u", info.deleted)
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)info.size)
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)info.highestmodseq)
#undef ITEM
	imapd_out(s, ")\r\n");
}

static void
out_list_entry(struct imapd_session *s, const struct store_mailbox_info *all, size_t n,
    const struct store_mailbox_info *mb, int lsub, int childinfo)
{
	const struct imap_cmd *c = &s->cmd;
	const char *sep = "";

	imapd_out(s, "* %s (", lsub ? "LSUB" : "LIST");
	if (mb->nonexistent) {
		imapd_out(s, lsub ? "\\Noselect" : "\\NonExistent");
		sep = " ";
	}
	if (!lsub && !mb->nonexistent) {
		imapd_out(s, "%s", has_children(all, n, mb->name) ? "\\HasChildren" :
		    "\\HasNoChildren");
		sep = " ";
	}
	if (!lsub && mb->subscribed && ((c->list_return & IMAP_LIST_RET_SUBSCRIBED) ||
	    (c->list_select & IMAP_LIST_SEL_SUBSCRIBED))) {
		imapd_out(s, "%s\\Subscribed", sep);
		sep = " ";
	}
	if (!lsub)
		for (size_t u = 0; u < sizeof(uses) / sizeof(uses[0]); u++)
			if (mb->special_use & uses[u].bit) {
				imapd_out(s, "%s%s", sep, uses[u].name);
				sep = " ";
			}
	imapd_out(s, ") \"/\" ");
	imapd_out_mailbox(s, mb->name);
	if (childinfo)
		imapd_out(s, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imapd_out(s, "\r\n");
	if (!lsub && !mb->nonexistent && (c->list_return & IMAP_LIST_RET_STATUS))
		out_status(s, mb->name, c->list_status);
}

/*
 * 0: not listed; 1: listed; 2: listed for its subscribed children only, 3:
 * subscribed and with subscribed children (both with CHILDINFO, RFC 5258).
 */
static int
listed(struct imapd_session *s, const struct store_mailbox_info *all, size_t n,
    const struct store_mailbox_info *mb, char pats[][STORE_NAME_MAX], size_t npats, int lsub)
{
	const struct imap_cmd *c = &s->cmd;
	int match = 0;

	for (size_t p = 0; p < npats && !match; p++)
		match = pattern_match(pats[p], mb->name);
	if (!match)
		return 0;
	if (lsub)
		return mb->subscribed;
	if (c->list_select & IMAP_LIST_SEL_SUBSCRIBED) {
		if ((c->list_select & IMAP_LIST_SEL_RECURSIVEMATCH) &&
		    has_subscribed_child(all, n, mb->name))
			return mb->subscribed ? 3 : 2;
		return mb->subscribed;
	}
	if (mb->nonexistent)
		return 0;
	if (c->list_select & IMAP_LIST_SEL_SPECIAL_USE)
		return mb->special_use != 0;
	return 1;
}

enum imapd_run
imapd_run_list(struct imapd_session *s)
{
	struct store_mailbox_info *all = NULL;
	size_t n = 0, npats = 0;
	int lsub = s->cmd.verb == IMAP_LSUB;
	char why[256];

	char (*p)[STORE_NAME_MAX] = calloc(IMAP_PATTERNS_MAX, STORE_NAME_MAX);
	if (p == NULL) {
		imapd_out_tagged(s, "NO [SERVERBUG] Out of memory");
		return IMAPD_RUN_DONE;
	}
	if (s->cmd.npatterns == 1 && s->cmd.patterns[0][0] == '\0' && !lsub) {
		/* The hierarchy delimiter and root (RFC 9051 6.3.9). */
		imapd_out(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imapd_out_tagged(s, "OK LIST completed");
		free(p);
		return IMAPD_RUN_DONE;
	}
	for (size_t i = 0; i < s->cmd.npatterns; i++)
		if (full_pattern(s, s->cmd.reference != NULL ? s->cmd.reference : "",
		    s->cmd.patterns[i], p[npats], STORE_NAME_MAX) == 0)
			npats++;
	if (store_list(s->store, &all, &n, why, sizeof(why)) == -1) {
		log_error("session=%s event=list-failed user=%s: %s", s->id, s->user, why);
		imapd_out_tagged(s, "NO [SERVERBUG] Cannot list mailboxes, try again later");
		free(p);
		return IMAPD_RUN_DONE;
	}
	for (size_t i = 0; i < n; i++) {
		int how = listed(s, all, n, &all[i], p, npats, lsub);
		if (how != 0)
			out_list_entry(s, all, n, &all[i], lsub, how >= 2);
	}
	free(all);
	free(p);
	imapd_report_changes(s, 1);
	imapd_out_tagged(s, "OK %s completed", lsub ? "LSUB" : "LIST");
	return IMAPD_RUN_DONE;
}

/* --- CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS --- */

/* The command's mailbox argument as a store name; answers and returns -1 if bad. */
static int
name_arg(struct imapd_session *s, const char *arg, char *out, size_t outlen)
{
	const char *err;

	if (imapd_mailbox_arg(s, arg, out, outlen, &err) == -1) {
		imapd_out_tagged(s, "NO [CANNOT] %s", err);
		return -1;
	}
	return 0;
}

static void
answer(struct imapd_session *s, enum store_status st, const char *what, const char *why)
{
	if (st == STORE_TEMP)
		log_error("session=%s event=%s-failed user=%s: %s", s->id, what, s->user, why);
	imapd_report_changes(s, 1);
	if (st == STORE_OK)
		imapd_out_tagged(s, "OK %s completed", what);
	else
		imapd_out_tagged(s, "%s", imapd_store_code(st));
}

enum imapd_run
imapd_run_create(struct imapd_session *s)
{
	char name[STORE_NAME_MAX], why[256] = "";

	if (name_arg(s, s->cmd.mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	if (strpbrk(name, "%*") != NULL) {
		imapd_out_tagged(s, "NO [CANNOT] Mailbox names cannot contain %% or *");
		return IMAPD_RUN_DONE;
	}
	answer(s, store_create(s->store, name, s->cmd.use, why, sizeof(why)), "CREATE", why);
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_delete(struct imapd_session *s)
{
	char name[STORE_NAME_MAX], why[256] = "";

	if (name_arg(s, s->cmd.mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	if (s->mb != NULL && strcmp(name, s->mbname) == 0) {
		imapd_saved_clear(s);
		store_mailbox_close(&s->mb);
		s->mbname[0] = '\0';
		s->state = IMAPD_S_AUTH;
	}
	answer(s, store_delete(s->store, name, why, sizeof(why)), "DELETE", why);
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_rename(struct imapd_session *s)
{
	char from[STORE_NAME_MAX], to[STORE_NAME_MAX], why[256] = "";

	if (name_arg(s, s->cmd.mailbox, from, sizeof(from)) == -1 ||
	    name_arg(s, s->cmd.mailbox2, to, sizeof(to)) == -1)
		return IMAPD_RUN_DONE;
	if (strpbrk(to, "%*") != NULL) {
		imapd_out_tagged(s, "NO [CANNOT] Mailbox names cannot contain %% or *");
		return IMAPD_RUN_DONE;
	}
	answer(s, store_rename(s->store, from, to, why, sizeof(why)), "RENAME", why);
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_subscribe(struct imapd_session *s)
{
	char name[STORE_NAME_MAX], why[256] = "";
	int on = s->cmd.verb == IMAP_SUBSCRIBE;

	if (name_arg(s, s->cmd.mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	answer(s, store_subscribe(s->store, name, on, why, sizeof(why)),
	    on ? "SUBSCRIBE" : "UNSUBSCRIBE", why);
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_status(struct imapd_session *s)
{
	struct store_status_info info;
	char name[STORE_NAME_MAX], why[256] = "";
	enum store_status st;

	if (name_arg(s, s->cmd.mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	st = store_status(s->store, name, &info, why, sizeof(why));
	if (st != STORE_OK) {
		answer(s, st, "STATUS", why);
		return IMAPD_RUN_DONE;
	}
	out_status(s, name, s->cmd.status_items);
	imapd_report_changes(s, 1);
	imapd_out_tagged(s, "OK STATUS completed");
	return IMAPD_RUN_DONE;
}

/* --- APPEND --- */

/* System flags as Maildir letters, in Maildir's (ASCII) order. */
void
imapd_maildir_letters(unsigned system, char *out)
{
	size_t n = 0;

	if (system & IMAP_FLAG_DRAFT)
		out[n++] = 'D';
	if (system & IMAP_FLAG_FLAGGED)
		out[n++] = 'F';
	if (system & IMAP_FLAG_ANSWERED)
		out[n++] = 'R';
	if (system & IMAP_FLAG_SEEN)
		out[n++] = 'S';
	if (system & IMAP_FLAG_DELETED)
		out[n++] = 'T';
	out[n] = '\0';
}

enum imapd_run
imapd_run_append(struct imapd_session *s)
{
	const struct imap_cmd *c = &s->cmd;
	char name[STORE_NAME_MAX], why[256] = "", letters[8];
	uint32_t uidvalidity = 0, uid = 0;
	uint64_t used, nmsgs;
	enum store_status st;

	if (name_arg(s, c->mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	if (c->message_len == 0) {
		imapd_out_tagged(s, "NO Cannot append an empty message");
		return IMAPD_RUN_DONE;
	}
	if (s->quota > 0 && store_usage(s->store, &used, &nmsgs, why, sizeof(why)) == 0 &&
	    used + c->message_len > s->quota) {
		imapd_out_tagged(s, "NO [OVERQUOTA] Quota exceeded");
		return IMAPD_RUN_DONE;
	}
	imapd_maildir_letters(c->append_flags.system, letters);
	st = store_append(s->store, name, c->message, c->message_len, letters,
	    (const char *const *)c->append_flags.keywords, c->append_flags.nkeywords,
	    c->has_date ? c->append_date : 0, &uidvalidity, &uid, why, sizeof(why));
	if (st == STORE_NOT_FOUND) {
		imapd_out_tagged(s, "NO [TRYCREATE] No such mailbox");
		return IMAPD_RUN_DONE;
	}
	if (st != STORE_OK) {
		answer(s, st, "APPEND", why);
		return IMAPD_RUN_DONE;
	}
	log_info("session=%s event=append user=%s mailbox=\"%s\" uid=%u size=%zu", s->id,
	    s->user, name, uid, c->message_len);
	imapd_report_changes(s, 1);
	imapd_out_tagged(s, "OK [APPENDUID %u %u] APPEND completed", uidvalidity, uid);
	return IMAPD_RUN_DONE;
}

/* --- QUOTA (RFC 9208): one root "" over all mailboxes, from the user's quota --- */

static void
out_quota(struct imapd_session *s)
{
	uint64_t used = 0, nmsgs = 0;
	char why[256];

	if (store_usage(s->store, &used, &nmsgs, why, sizeof(why)) == -1)
		log_error("session=%s event=usage-failed user=%s: %s", s->id, s->user, why);
	imapd_out(s, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
	    (unsigned long long)((used + 1023) / 1024), (unsigned long long)(s->quota / 1024));
}

enum imapd_run
imapd_run_quota(struct imapd_session *s)
{
	char name[STORE_NAME_MAX];
	struct store_status_info info;
	char why[256];

	switch (s->cmd.verb) {
	case IMAP_SETQUOTA:
		imapd_out_tagged(s, "NO [NOPERM] Quotas are set by the administrator");
		return IMAPD_RUN_DONE;
	case IMAP_GETQUOTA:
		if (s->quota == 0 || s->cmd.mailbox[0] != '\0') {
			imapd_out_tagged(s, "NO [NONEXISTENT] No such quota root");
			return IMAPD_RUN_DONE;
		}
		out_quota(s);
		imapd_out_tagged(s, "OK GETQUOTA completed");
		return IMAPD_RUN_DONE;
	default:
		break;
	}
	if (name_arg(s, s->cmd.mailbox, name, sizeof(name)) == -1)
		return IMAPD_RUN_DONE;
	if (store_status(s->store, name, &info, why, sizeof(why)) != STORE_OK) {
		imapd_out_tagged(s, "NO [NONEXISTENT] No such mailbox");
		return IMAPD_RUN_DONE;
	}
	imapd_out(s, "* QUOTAROOT ");
	imapd_out_mailbox(s, name);
	imapd_out(s, "%s\r\n", s->quota > 0 ? " \"\"" : "");
	if (s->quota > 0)
		out_quota(s);
	imapd_out_tagged(s, "OK GETQUOTAROOT completed");
	return IMAPD_RUN_DONE;
}
