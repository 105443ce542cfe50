/*
 * imapd_update - commands that change messages: STORE (RFC 9051 6.4.6,
 * RFC 7162 UNCHANGEDSINCE), COPY (RFC 4315 COPYUID) and MOVE (RFC 6851),
 * with their UID forms. Pool handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "imapd/imapd_private.h"

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum imapd_run
imapd_run_store(struct imapd_session *s)
{
	const struct imap_cmd *c = &s->cmd;
	struct store_flag_change ch;
	uint32_t *uids = NULL, *failed = NULL;
	size_t n = 0, nfailed = 0;
	char letters[8], why[256];
	const char *err;
	enum store_status st = STORE_OK;

	if (imapd_resolve_set(s, &c->set, c->uid, &uids, &n, &err) == -1) {
		imapd_out_tagged(s, "BAD %s", err);
		return IMAPD_RUN_DONE;
	}
	if (c->has_unchangedsince)
		s->condstore = 1;	/* RFC 7162 3.1 */
	imapd_maildir_letters(c->store_flags.system, letters);
	memset(&ch, 0, sizeof(ch));
	ch.mode = c->store_mode == IMAP_STORE_ADD ? STORE_FLAGS_ADD :
	    c->store_mode == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE : STORE_FLAGS_SET;
	ch.flags = letters;
	ch.keywords = (const char *const *)c->store_flags.keywords;
	ch.nkeywords = c->store_flags.nkeywords;
	ch.unchangedsince = c->has_unchangedsince ? c->unchangedsince : 0;
	if (c->has_unchangedsince && c->unchangedsince == 0) {
		/* Every message has a MODSEQ above 0: nothing may change. */
		failed = uids;
		nfailed = n;
		uids = NULL;
		n = 0;
	} else if (n > 0)
		st = store_set_flags(s->mb, uids, n, &ch, &failed, &nfailed, why, sizeof(why));
	if (st != STORE_OK) {
		if (st == STORE_TEMP)
			log_error("session=%s event=store-failed user=%s: %s", s->id, s->user, why);
		imapd_out_tagged(s, "%s", imapd_store_code(st));
		goto done;
	}
	if (nfailed > 0)
		qsort(failed, nfailed, sizeof(*failed), uid_cmp);
	for (size_t i = 0; i < n && !c->silent; i++) {
		long at = store_mailbox_find(s->mb, uids[i]);
		if (at < 0 || (nfailed > 0 && bsearch(&uids[i], failed, nfailed, sizeof(*failed),
		    uid_cmp) != NULL))
			continue;
		const struct store_msg *m = store_mailbox_msg(s->mb, (size_t)at);
		imapd_out(s, "* %ld FETCH (", at + 1);
		if (c->uid)
			imapd_out(s, "UID %u ", m->uid);
		imapd_out(s, "FLAGS ");
		imapd_out_flags(s, m);
		if (s->condstore)
			imapd_out(s, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		imapd_out(s, ")\r\n");
	}
	imapd_report_changes(s, c->uid);
	if (nfailed > 0) {
		if (!c->uid)	/* MODIFIED lists sequence numbers for STORE */
			for (size_t i = 0; i < nfailed; i++) {
				long at = store_mailbox_find(s->mb, failed[i]);
				failed[i] = at >= 0 ? (uint32_t)(at + 1) : 0;
			}
		imapd_out(s, "%s OK [MODIFIED ", s->tag);
		imapd_out_set(s, failed, nfailed);
		imapd_out(s, "] Conditional STORE failed for some messages\r\n");
	} else
		imapd_out_tagged(s, "OK STORE completed");
done:
	free(uids);
	free(failed);
	return IMAPD_RUN_DONE;
}

/* Would copying these messages exceed the user's quota? */
static int
over_quota(struct imapd_session *s, const uint32_t *uids, size_t n)
{
	uint64_t used, nmsgs, add = 0;
	char why[256];

	if (s->quota == 0 || store_usage(s->store, &used, &nmsgs, why, sizeof(why)) == -1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		long at = store_mailbox_find(s->mb, uids[i]);
		if (at >= 0)
			add += store_mailbox_msg(s->mb, (size_t)at)->size;
	}
	return used + add > s->quota;
}

enum imapd_run
imapd_run_copy(struct imapd_session *s)
{
	const struct imap_cmd *c = &s->cmd;
	int move = c->verb == IMAP_MOVE;
	char dest[STORE_NAME_MAX], why[256] = "";
	uint32_t *uids = NULL, *seqs = NULL, *src = NULL, *dst = NULL, uidvalidity = 0;
	size_t n = 0, ncopied = 0, k = 0;
	const char *err;
	enum store_status st;

	if (imapd_resolve_set(s, &c->set, c->uid, &uids, &n, &err) == -1) {
		imapd_out_tagged(s, "BAD %s", err);
		return IMAPD_RUN_DONE;
	}
	if (imapd_mailbox_arg(s, c->mailbox, dest, sizeof(dest), &err) == -1) {
		imapd_out_tagged(s, "NO [CANNOT] %s", err);
		goto done;
	}
	if (n == 0) {
		imapd_report_changes(s, c->uid);
		imapd_out_tagged(s, "OK No messages matched");
		goto done;
	}
	if (!move && over_quota(s, uids, n)) {
		imapd_out_tagged(s, "NO [OVERQUOTA] Quota exceeded");
		goto done;
	}
	seqs = xcalloc(n, sizeof(*seqs));
	for (size_t i = 0; i < n; i++)
		seqs[i] = (uint32_t)(store_mailbox_find(s->mb, uids[i]) + 1);
	st = store_copy(s->mb, uids, n, dest, move, &uidvalidity, &src, &dst, &ncopied, why,
	    sizeof(why));
	if (st == STORE_NOT_FOUND) {
		imapd_out_tagged(s, "NO [TRYCREATE] No such mailbox");
		goto done;
	}
	if (st != STORE_OK) {
		if (st == STORE_TEMP)
			log_error("session=%s event=%s-failed user=%s: %s", s->id,
			    move ? "move" : "copy", s->user, why);
		imapd_out_tagged(s, "%s", imapd_store_code(st));
		goto done;
	}
	if (move) {
		if (ncopied > 0) {
			imapd_out(s, "* OK [COPYUID %u ", uidvalidity);
			imapd_out_set(s, src, ncopied);
			imapd_out(s, " ");
			imapd_out_set(s, dst, ncopied);
			imapd_out(s, "] Moved\r\n");
		}
		/* What left this mailbox, as EXPUNGE (or VANISHED) responses. */
		for (size_t i = 0; i < n; i++)
			if (store_mailbox_find(s->mb, uids[i]) < 0) {
				uids[k] = uids[i];
				seqs[k++] = seqs[i];
			}
		imapd_out_expunged(s, seqs, uids, k);
		imapd_report_changes(s, 1);
		imapd_out_tagged(s, "OK MOVE completed");
		goto done;
	}
	imapd_report_changes(s, c->uid);
	if (ncopied > 0) {
		imapd_out(s, "%s OK [COPYUID %u ", s->tag, uidvalidity);
		imapd_out_set(s, src, ncopied);
		imapd_out(s, " ");
		imapd_out_set(s, dst, ncopied);
		imapd_out(s, "] COPY completed\r\n");
	} else
		imapd_out_tagged(s, "OK COPY completed");
done:
	free(uids);
	free(seqs);
	free(src);
	free(dst);
	return IMAPD_RUN_DONE;
}
