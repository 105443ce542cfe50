/*
 * imapd_select - the selected state: SELECT/EXAMINE (with CONDSTORE and
 * QRESYNC), CLOSE, UNSELECT, EXPUNGE, NOOP/CHECK, IDLE's polls, and how
 * changes made elsewhere reach this client (RFC 9051 7.4, RFC 7162).
 *
 * All handlers run on a pool thread (imapd_session_run()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "imapd/imapd_private.h"

/* --- sets --- */

int
imapd_resolve_set(struct imapd_session *s, const struct imap_seqset *set, int uid,
    uint32_t **out, size_t *nout, const char **err)
{
	size_t count = store_mailbox_count(s->mb), n = 0;
	uint32_t *uids;

	*out = NULL;
	*nout = 0;
	if (set->saved) {
		/* "$": the saved messages still here, in UID (= sequence) order. */
		uids = xcalloc(s->nsaved + 1, sizeof(*uids));
		for (size_t i = 0; i < s->nsaved; i++)
			if (store_mailbox_find(s->mb, s->saved_uids[i]) >= 0)
				uids[n++] = s->saved_uids[i];
		*out = uids;
		*nout = n;
		return 0;
	}
	if (!uid) {
		for (size_t r = 0; r < set->n; r++) {
			uint32_t lo = set->ranges[r].lo, hi = set->ranges[r].hi;
			if ((lo != IMAP_SEQ_STAR && lo > count) ||
			    (hi != IMAP_SEQ_STAR && hi > count) || count == 0) {
				*err = "Invalid message sequence number";
				return -1;
			}
		}
	}
	if (count == 0)
		return 0;
	uint32_t star = uid ? store_mailbox_msg(s->mb, count - 1)->uid : (uint32_t)count;
	if (set->n == 1 && !uid) {
		/* One range of sequence numbers: no need to look at every message. */
		uint32_t lo = set->ranges[0].lo == IMAP_SEQ_STAR ? star : set->ranges[0].lo;
		uint32_t hi = set->ranges[0].hi == IMAP_SEQ_STAR ? star : set->ranges[0].hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		uids = xcalloc(hi - lo + 1, sizeof(*uids));
		for (uint32_t seq = lo; seq <= hi; seq++)
			uids[n++] = store_mailbox_msg(s->mb, seq - 1)->uid;
		*out = uids;
		*nout = n;
		return 0;
	}
	if (set->n == 1 && uid && set->ranges[0].lo == set->ranges[0].hi &&
	    set->ranges[0].lo != IMAP_SEQ_STAR) {
		/* One UID, the common UID FETCH/STORE: a binary search. */
		uids = xcalloc(1, sizeof(*uids));
		if (store_mailbox_find(s->mb, set->ranges[0].lo) >= 0)
			uids[n++] = set->ranges[0].lo;
		*out = uids;
		*nout = n;
		return 0;
	}
	uids = xcalloc(count, sizeof(*uids));
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		if (imap_seqset_contains(set, uid ? m->uid : (uint32_t)(i + 1), star))
			uids[n++] = m->uid;
	}
	*out = uids;
	*nout = n;
	return 0;
}

void
imapd_out_expunged(struct imapd_session *s, const uint32_t *seqs, const uint32_t *uids,
    size_t n)
{
	if (n == 0)
		return;
	if (s->qresync) {
		imapd_out(s, "* VANISHED ");
		imapd_out_set(s, uids, n);
		imapd_out(s, "\r\n");
		return;
	}
	/* Descending: each EXPUNGE renumbers only the messages after it. */
	for (size_t i = n; i-- > 0; )
		imapd_out(s, "* %u EXPUNGE\r\n", seqs[i]);
}

/* "* 3 FETCH (UID 7 FLAGS (...) MODSEQ (9))" for message index i. */
static void
out_flags_fetch(struct imapd_session *s, size_t i, int with_uid)
{
	const struct store_msg *m = store_mailbox_msg(s->mb, i);

	imapd_out(s, "* %zu FETCH (", i + 1);
	if (with_uid || s->qresync)
		imapd_out(s, "UID %u ", m->uid);
	imapd_out(s, "FLAGS ");
	imapd_out_flags(s, m);
	if (s->condstore)
		imapd_out(s, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	imapd_out(s, ")\r\n");
}

void
imapd_report_changes(struct imapd_session *s, int allow_expunge)
{
	struct store_changes ch;
	char why[256];

	if (s->mb == NULL || !allow_expunge)
		return;	/* FETCH, STORE, SEARCH: no EXPUNGE may be sent (RFC 9051 7.5.1) */
	switch (store_mailbox_refresh(s->mb, &ch, why, sizeof(why))) {
	case 0:
		break;
	case 1:
		/* Another session deleted it: nothing we could say would be true. */
		log_info("session=%s event=mailbox-gone user=%s mailbox=\"%s\"", s->id, s->user,
		    s->mbname);
		imapd_out(s, "* BYE The selected mailbox was deleted\r\n");
		s->end_pending = 1;
		return;
	default:
		log_error("session=%s event=refresh-failed user=%s: %s", s->id, s->user, why);
		return;
	}
	imapd_out_expunged(s, ch.expunged_seqs, ch.expunged_uids, ch.nexpunged);
	if (ch.nnew > 0)
		imapd_out(s, "* %zu EXISTS\r\n", store_mailbox_count(s->mb));
	for (size_t i = 0; i < ch.nchanged; i++) {
		long at = store_mailbox_find(s->mb, ch.changed_uids[i]);
		if (at >= 0)
			out_flags_fetch(s, (size_t)at, s->cmd_parsed && s->cmd.uid);
	}
	store_changes_free(&ch);
}

/* --- SELECT / EXAMINE --- */

static void
out_flag_lists(struct imapd_session *s)
{
	const char *const *names;
	size_t nkw = store_mailbox_keywords(s->mb, &names);
	struct buf kw = BUF_INIT;

	for (size_t i = 0; i < nkw; i++)
		buf_printf(&kw, " %s", names[i]);
	imapd_out(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s)\r\n",
	    kw.p != NULL ? kw.p : "");
	if (s->readonly)
		imapd_out(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		/* \\* only while new keywords can still be made (RFC 9051 7.1). */
		imapd_out(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s"
		    "%s)] Flags permitted\r\n", kw.p != NULL ? kw.p : "",
		    nkw < STORE_KEYWORDS_MAX ? " \\*" : "");
	buf_free(&kw);
}

/* QRESYNC (RFC 7162 3.2.5): what changed since the client's modseq. */
static void
out_qresync(struct imapd_session *s)
{
	uint32_t *gone = NULL;
	size_t ngone = 0, count = store_mailbox_count(s->mb);
	char why[256];

	if (s->cmd.qr_uidvalidity != store_mailbox_uidvalidity(s->mb))
		return;		/* the client must resync everything anyway */
	if (store_mailbox_vanished(s->mb, s->cmd.qr_modseq, &gone, &ngone, why,
	    sizeof(why)) == 0 && ngone > 0) {
		size_t k = 0;
		/* Only what the client said it knows, when it said. */
		for (size_t i = 0; i < ngone; i++)
			if (s->cmd.qr_known_uids.n == 0 ||
			    imap_seqset_contains(&s->cmd.qr_known_uids, gone[i], UINT32_MAX))
				gone[k++] = gone[i];
		if (k > 0) {
			imapd_out(s, "* VANISHED (EARLIER) ");
			imapd_out_set(s, gone, k);
			imapd_out(s, "\r\n");
		}
	}
	free(gone);
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		if (m->modseq > s->cmd.qr_modseq)
			out_flags_fetch(s, i, 1);
	}
}

void
imapd_saved_clear(struct imapd_session *s)
{
	free(s->saved_uids);
	s->saved_uids = NULL;
	s->nsaved = 0;
}

static void
close_selected(struct imapd_session *s)
{
	imapd_saved_clear(s);	/* RFC 5182 2.1 */
	store_mailbox_close(&s->mb);
	s->mbname[0] = '\0';
	s->readonly = 0;
	if (s->state == IMAPD_S_SELECTED)
		s->state = IMAPD_S_AUTH;
}

enum imapd_run
imapd_run_select(struct imapd_session *s)
{
	char name[STORE_NAME_MAX], why[256];
	const char *err;
	enum store_status st;
	size_t count, unseen = 0;
	int examine = s->cmd.verb == IMAP_EXAMINE;

	if (s->mb != NULL) {
		close_selected(s);
		if (s->qresync)
			imapd_out(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (s->cmd.qresync && !s->qresync) {
		imapd_out_tagged(s, "BAD QRESYNC is not enabled");
		return IMAPD_RUN_DONE;
	}
	if (imapd_mailbox_arg(s, s->cmd.mailbox, name, sizeof(name), &err) == -1) {
		imapd_out_tagged(s, "NO [NONEXISTENT] %s", err);
		return IMAPD_RUN_DONE;
	}
	s->mb = store_mailbox_open(s->store, name, 0, &st, why, sizeof(why));
	if (s->mb == NULL) {
		if (st != STORE_NOT_FOUND)
			log_error("session=%s event=select-failed user=%s mailbox=\"%s\": %s", s->id,
			    s->user, name, why);
		imapd_out_tagged(s, "%s", imapd_store_code(st));
		return IMAPD_RUN_DONE;
	}
	if (s->cmd.condstore)
		s->condstore = 1;
	s->readonly = examine;
	s->state = IMAPD_S_SELECTED;
	snprintf(s->mbname, sizeof(s->mbname), "%s", name);
	count = store_mailbox_count(s->mb);
	out_flag_lists(s);
	imapd_out(s, "* %zu EXISTS\r\n", count);
	if (!s->rev2) {
		imapd_out(s, "* 0 RECENT\r\n");
		for (size_t i = 0; i < count; i++)
			if (strchr(store_mailbox_msg(s->mb, i)->flags, 'S') == NULL) {
				unseen = i + 1;
				break;
			}
		if (unseen > 0)
			imapd_out(s, "* OK [UNSEEN %zu] First unseen message\r\n", unseen);
	}
	imapd_out(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", store_mailbox_uidvalidity(s->mb));
	imapd_out(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", store_mailbox_uidnext(s->mb));
	imapd_out(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)store_mailbox_highestmodseq(s->mb));
	if (s->cmd.qresync)
		out_qresync(s);
	imapd_out_tagged(s, "OK [%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
	    examine ? "EXAMINE" : "SELECT");
	return IMAPD_RUN_DONE;
}

/* --- EXPUNGE, CLOSE, UNSELECT --- */

/* Remove the \Deleted messages (of set, when given); 0 or -1 with why. */
static int
expunge_deleted(struct imapd_session *s, const struct imap_seqset *set, int report,
    char *why, size_t whylen)
{
	size_t count = store_mailbox_count(s->mb), n = 0, k = 0;
	uint32_t *uids = xcalloc(count + 1, sizeof(*uids));
	uint32_t *seqs = xcalloc(count + 1, sizeof(*seqs));
	uint32_t star = count > 0 ? store_mailbox_msg(s->mb, count - 1)->uid : 0;
	int rc;

	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		if (strchr(m->flags, 'T') == NULL)
			continue;
		if (set != NULL && !imap_seqset_contains(set, m->uid, star))
			continue;
		uids[n] = m->uid;
		seqs[n++] = (uint32_t)(i + 1);
	}
	rc = store_expunge(s->mb, uids, n, NULL, why, whylen);
	/* Report exactly what left the view (all of it unless the disk failed). */
	for (size_t i = 0; i < n; i++)
		if (store_mailbox_find(s->mb, uids[i]) < 0) {
			uids[k] = uids[i];
			seqs[k++] = seqs[i];
		}
	if (report)
		imapd_out_expunged(s, seqs, uids, k);
	free(uids);
	free(seqs);
	return rc;
}

enum imapd_run
imapd_run_expunge(struct imapd_session *s)
{
	char why[256];

	imapd_report_changes(s, 1);
	if (expunge_deleted(s, s->cmd.uid ? &s->cmd.set : NULL, 1, why, sizeof(why)) == -1) {
		log_error("session=%s event=expunge-failed user=%s: %s", s->id, s->user, why);
		imapd_out_tagged(s, "NO [SERVERBUG] Some messages could not be expunged");
		return IMAPD_RUN_DONE;
	}
	if (s->condstore)
		imapd_out_tagged(s, "OK [HIGHESTMODSEQ %llu] EXPUNGE completed",
		    (unsigned long long)store_mailbox_highestmodseq(s->mb));
	else
		imapd_out_tagged(s, "OK EXPUNGE completed");
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_close(struct imapd_session *s)
{
	char why[256];

	if (s->cmd.verb == IMAP_CLOSE && !s->readonly &&
	    expunge_deleted(s, NULL, 0, why, sizeof(why)) == -1)
		log_error("session=%s event=expunge-failed user=%s: %s", s->id, s->user, why);
	close_selected(s);
	imapd_out_tagged(s, "OK %s completed", s->cmd.verb == IMAP_CLOSE ? "CLOSE" : "UNSELECT");
	return IMAPD_RUN_DONE;
}

/* --- IDLE without the mailbox open --- */

void
imapd_idle_free(struct imapd_session *s)
{
	free(s->idle_uids);
	s->idle_uids = NULL;
	s->idle_n = 0;
	s->hibernating = 0;
}

static void
hibernate(struct imapd_session *s)
{
	size_t n = store_mailbox_count(s->mb);
	uint64_t modseq = store_mailbox_highestmodseq(s->mb);

	s->idle_uids = xcalloc(n + 1, sizeof(*s->idle_uids));
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		s->idle_uids[i] = m->uid;
		if (m->modseq > modseq)
			modseq = m->modseq;	/* this session's own changes */
	}
	s->idle_n = n;
	s->idle_modseq = modseq;
	s->idle_uidvalidity = store_mailbox_uidvalidity(s->mb);
	store_mailbox_close(&s->mb);
	store_release_memory(s->store);
	s->hibernating = 1;
}

int
imapd_wake(struct imapd_session *s)
{
	enum store_status st;
	char why[256];
	size_t i = 0, j = 0, k = 0, count;
	uint32_t *seqs, *uids;

	s->mb = store_mailbox_open(s->store, s->mbname, 0, &st, why, sizeof(why));
	if (s->mb == NULL || store_mailbox_uidvalidity(s->mb) != s->idle_uidvalidity) {
		log_info("session=%s event=mailbox-gone user=%s mailbox=\"%s\"", s->id, s->user,
		    s->mbname);
		store_mailbox_close(&s->mb);
		imapd_idle_free(s);
		imapd_out(s, "* BYE The selected mailbox was deleted or rebuilt\r\n");
		s->end_pending = 1;
		return -1;
	}
	/* What left, what changed, what came: both lists are in UID order. */
	count = store_mailbox_count(s->mb);
	seqs = xcalloc(s->idle_n + 1, sizeof(*seqs));
	uids = xcalloc(s->idle_n + 1, sizeof(*uids));
	while (i < s->idle_n) {
		const struct store_msg *m = j < count ? store_mailbox_msg(s->mb, j) : NULL;
		if (m != NULL && m->uid < s->idle_uids[i]) {
			j++;	/* cannot happen (UIDs only grow); skip */
			continue;
		}
		if (m == NULL || m->uid > s->idle_uids[i]) {
			seqs[k] = (uint32_t)(i + 1);
			uids[k++] = s->idle_uids[i++];
			continue;
		}
		i++;
		j++;
	}
	imapd_out_expunged(s, seqs, uids, k);
	free(seqs);
	free(uids);
	if (count > s->idle_n - k)
		imapd_out(s, "* %zu EXISTS\r\n", count);
	for (j = 0; j < count; j++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, j);
		if (m->modseq > s->idle_modseq && m->uid <= (s->idle_n > 0 ?
		    s->idle_uids[s->idle_n - 1] : 0))
			out_flags_fetch(s, j, 0);
	}
	imapd_idle_free(s);
	return 0;
}

enum imapd_run
imapd_run_idle_poll(struct imapd_session *s)
{
	uint32_t uidvalidity;
	uint64_t modseq;
	char why[256];

	if (!s->hibernating) {
		if (s->mb == NULL)
			return IMAPD_RUN_DONE;
		imapd_report_changes(s, 1);
		hibernate(s);
		return IMAPD_RUN_DONE;
	}
	if (store_poll(s->store, s->mbname, &uidvalidity, &modseq, why, sizeof(why)) == 0 &&
	    uidvalidity == s->idle_uidvalidity && modseq <= s->idle_modseq)
		return IMAPD_RUN_DONE;
	if (imapd_wake(s) == 0)
		hibernate(s);
	return IMAPD_RUN_DONE;
}

enum imapd_run
imapd_run_noop(struct imapd_session *s)
{
	if (s->hibernating && imapd_wake(s) == -1)
		return IMAPD_RUN_DONE;
	imapd_report_changes(s, 1);
	imapd_out_tagged(s, "OK %s completed", s->cmd.verb == IMAP_CHECK ? "CHECK" :
	    s->cmd.verb == IMAP_IDLE ? "IDLE" : "NOOP");
	return IMAPD_RUN_DONE;
}

