/*
 * imapd_search - SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH
 * return options (RFC 4731) and MODSEQ (RFC 7162). Pool handler: the
 * evaluation is imap_search.c's; this file feeds it each message, reading
 * the file only when the program needs the header or the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "mail/header.h"
#include "imapd/imap_search.h"
#include "imapd/imapd_private.h"

#define SEARCH_HEADER_READ	(64 * 1024)	/* header searches read this much */

/*
 * The fields kept in the index's header cache: what clients search for
 * (FROM, TO, CC, BCC, SUBJECT, SENT*, threading headers). A search whose
 * header keys all name these reads no message file.
 */
static const char *const cached_fields[] = {
	"Subject", "From", "To", "Cc", "Bcc", "Date", "Reply-To", "Sender",
	"Message-ID", "In-Reply-To", "References",
};

static int
is_cached_field(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(cached_fields) / sizeof(cached_fields[0]); i++)
		if (strlen(cached_fields[i]) == len && strncasecmp(cached_fields[i], name, len) == 0)
			return 1;
	return 0;
}

void
imapd_header_cache_block(const char *header, size_t len, struct buf *out)
{
	struct header_field f;
	size_t pos = 0;

	while (header_next(header, len, &pos, &f) == 1)
		if (f.name_len > 0 && is_cached_field(f.name, f.name_len))
			buf_add(out, header + f.off, f.len);
	buf_add(out, "\r\n", 2);
}

/* Do the program's header keys all name cached fields? */
static int
header_keys_cached(const struct imap_search_key *k)
{
	if (k->op == IMAP_SK_HEADER && !is_cached_field(k->field, strlen(k->field)))
		return 0;
	for (size_t i = 0; i < k->nkids; i++)
		if (!header_keys_cached(k->kids[i]))
			return 0;
	return 1;
}

/* The cached header blocks of the view, by index (NULL when not cached). */
struct header_scan {
	struct store_mailbox	*mb;
	char			**blocks;
};

static void
header_scan_note(void *arg, const struct store_cached *c)
{
	struct header_scan *hs = arg;
	long at;

	if (c->headers != NULL && (at = store_mailbox_find(hs->mb, c->uid)) >= 0)
		hs->blocks[at] = xstrdup(c->headers);
}

static unsigned
flag_bits(const char *letters)
{
	unsigned f = 0;

	for (; *letters != '\0'; letters++)
		switch (*letters) {
		case 'S': f |= IMAP_FLAG_SEEN; break;
		case 'R': f |= IMAP_FLAG_ANSWERED; break;
		case 'F': f |= IMAP_FLAG_FLAGGED; break;
		case 'T': f |= IMAP_FLAG_DELETED; break;
		case 'D': f |= IMAP_FLAG_DRAFT; break;
		default: break;
		}
	return f;
}

/* The header block of m (from its first SEARCH_HEADER_READ bytes), or all of it. */
static char *
read_msg(struct imapd_session *s, const struct store_msg *m, int header_only, size_t *len)
{
	char *data = imapd_msg_read(s, m, header_only ? SEARCH_HEADER_READ : SIZE_MAX, len);
	char *end, *lf;

	if (data == NULL || !header_only)
		return data;
	/* The header block ends at the first empty line. */
	end = strstr(data, "\r\n\r\n");
	lf = strstr(data, "\n\n");
	if (end == NULL || (lf != NULL && lf < end))
		end = lf != NULL ? lf + 2 : NULL;
	else
		end += 4;
	if (end != NULL)
		*len = (size_t)(end - data);
	return data;
}

/* The ranges substitute_saved() allocated, freed after the search. */
struct saved_sets {
	struct imap_range	**ranges;
	size_t			  n;
};

/* "$" in the program becomes the saved messages as a UID set (RFC 5182). */
static void
substitute_saved(struct imapd_session *s, struct imap_search_key *k, struct saved_sets *ss)
{
	if ((k->op == IMAP_SK_SEQSET || k->op == IMAP_SK_UID) && k->set.saved) {
		struct imap_range *r = xcalloc(s->nsaved + 1, sizeof(*r));
		for (size_t i = 0; i < s->nsaved; i++)
			r[i].lo = r[i].hi = s->saved_uids[i];
		ss->ranges = xreallocarray(ss->ranges, ss->n + 1, sizeof(*ss->ranges));
		ss->ranges[ss->n++] = r;
		k->op = IMAP_SK_UID;
		k->set.ranges = r;
		k->set.n = s->nsaved;
		k->set.saved = 0;
	}
	for (size_t i = 0; i < k->nkids; i++)
		substitute_saved(s, k->kids[i], ss);
}

/* RETURN (SAVE): remember the result by UID; only MIN/MAX when they are
 * asked without ALL or COUNT (RFC 5182 2.4). */
static void
save_result(struct imapd_session *s, const uint32_t *hits, size_t n)
{
	unsigned ret = s->cmd.search_return;
	int minmax = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
	    !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT));

	imapd_saved_clear(s);
	s->saved_uids = xcalloc(n + 1, sizeof(*s->saved_uids));
	for (size_t i = 0; i < n; i++) {
		if (minmax && !((i == 0 && (ret & IMAP_SEARCH_RET_MIN)) ||
		    (i == n - 1 && (ret & IMAP_SEARCH_RET_MAX))))
			continue;
		s->saved_uids[s->nsaved++] = s->cmd.uid ? hits[i] :
		    store_mailbox_msg(s->mb, hits[i] - 1)->uid;
	}
}

static void
out_esearch(struct imapd_session *s, const uint32_t *hits, size_t n, uint64_t modseq)
{
	unsigned ret = s->cmd.search_return;

	if (ret == 0)
		ret = IMAP_SEARCH_RET_ALL;
	imapd_out(s, "* ESEARCH (TAG \"%s\")%s", s->tag, s->cmd.uid ? " UID" : "");
	if ((ret & IMAP_SEARCH_RET_MIN) && n > 0)
		imapd_out(s, " MIN %u", hits[0]);
	if ((ret & IMAP_SEARCH_RET_MAX) && n > 0)
		imapd_out(s, " MAX %u", hits[n - 1]);
	if (ret & IMAP_SEARCH_RET_COUNT)
		imapd_out(s, " COUNT %zu", n);
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		imapd_out(s, " ALL ");
		imapd_out_set(s, hits, n);
	}
	if (s->cmd.search_modseq && n > 0)
		imapd_out(s, " MODSEQ %llu", (unsigned long long)modseq);
	imapd_out(s, "\r\n");
}

enum imapd_run
imapd_run_search(struct imapd_session *s)
{
	const struct imap_cmd *c = &s->cmd;
	size_t count = store_mailbox_count(s->mb), nhits = 0;
	enum imap_search_need need = imap_search_needs(c->search);
	uint32_t *hits = xcalloc(count + 1, sizeof(*hits));
	uint32_t maxuid = count > 0 ? store_mailbox_msg(s->mb, count - 1)->uid : 0;
	const char *const *names;
	size_t nkw = store_mailbox_keywords(s->mb, &names);
	const char *kw[STORE_KEYWORDS_MAX];
	uint64_t modseq = 0;

	struct header_scan hs = { s->mb, NULL };
	struct saved_sets saved = { NULL, 0 };

	if (c->search_modseq)
		s->condstore = 1;	/* RFC 7162 3.1 */
	substitute_saved(s, c->search, &saved);
	if (need == IMAP_SEARCH_NEED_HEADER && header_keys_cached(c->search) && count > 0) {
		hs.blocks = xcalloc(count, sizeof(*hs.blocks));
		if (store_cache_scan(s->mb, 1, UINT32_MAX, header_scan_note, &hs) == -1)
			log_debug("session=%s event=cache-scan-failed", s->id);
	}
	for (size_t i = 0; i < count; i++) {
		const struct store_msg *m = store_mailbox_msg(s->mb, i);
		struct imap_search_msg sm;
		char *data = NULL;
		size_t len = 0, n = 0;

		for (size_t k = 0; k < nkw && k < STORE_KEYWORDS_MAX; k++)
			if (m->keywords & ((uint64_t)1 << k))
				kw[n++] = names[k];
		memset(&sm, 0, sizeof(sm));
		sm.seq = (uint32_t)(i + 1);
		sm.uid = m->uid;
		sm.flags = flag_bits(m->flags);
		sm.keywords = kw;
		sm.nkeywords = n;
		sm.size = m->size;
		sm.modseq = m->modseq;
		sm.internaldate = m->internaldate;
		if (hs.blocks != NULL && hs.blocks[i] == NULL &&
		    (data = read_msg(s, m, 1, &len)) != NULL) {
			/* Fill the cache for the next search. */
			struct buf block = BUF_INIT;
			imapd_header_cache_block(data, len, &block);
			store_cache_put(s->mb, m->uid, NULL, NULL, block.p);
			free(data);
			data = NULL;
			hs.blocks[i] = buf_take(&block);
		}
		if (hs.blocks != NULL) {
			if (hs.blocks[i] == NULL)
				continue;	/* expunged meanwhile: matches nothing */
			sm.data = hs.blocks[i];
			sm.len = strlen(hs.blocks[i]);
		} else if (need != IMAP_SEARCH_NEED_INDEX) {
			data = read_msg(s, m, need == IMAP_SEARCH_NEED_HEADER, &len);
			if (data == NULL)
				continue;	/* expunged meanwhile: matches nothing */
			sm.data = data;
			sm.len = len;
		}
		if (imap_search_match(c->search, &sm, (uint32_t)count, maxuid)) {
			hits[nhits++] = c->uid ? m->uid : (uint32_t)(i + 1);
			if (m->modseq > modseq)
				modseq = m->modseq;
		}
		free(data);
	}
	if (c->search_return & IMAP_SEARCH_RET_SAVE)
		save_result(s, hits, nhits);
	if (c->search_return == IMAP_SEARCH_RET_SAVE)
		;	/* SAVE alone: no ESEARCH response (RFC 5182 2.1) */
	else if (c->esearch || s->rev2)	/* IMAP4rev2 answers SEARCH with ESEARCH only */
		out_esearch(s, hits, nhits, modseq);
	else {
		imapd_out(s, "* SEARCH");
		for (size_t i = 0; i < nhits; i++)
			imapd_out(s, " %u", hits[i]);
		if (c->search_modseq && nhits > 0)
			imapd_out(s, " (MODSEQ %llu)", (unsigned long long)modseq);
		imapd_out(s, "\r\n");
	}
	free(hits);
	for (size_t i = 0; i < saved.n; i++)
		free(saved.ranges[i]);
	free(saved.ranges);
	if (hs.blocks != NULL) {
		for (size_t i = 0; i < count; i++)
			free(hs.blocks[i]);
		free(hs.blocks);
	}
	imapd_report_changes(s, c->uid);
	imapd_out_tagged(s, "OK SEARCH completed");
	return IMAPD_RUN_DONE;
}
