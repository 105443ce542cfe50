/*
 * imapd_fetch - FETCH and UID FETCH (RFC 9051 6.4.5, RFC 3516 BINARY,
 * RFC 7162 CHANGEDSINCE/VANISHED). Pool handler.
 *
 * The messages are resolved once; then the handler writes responses until
 * the output passes IMAPD_OUT_HIGH and returns IMAPD_RUN_MORE, so a FETCH
 * of a whole large mailbox never sits in memory. A message file is read
 * only when an item needs its bytes; ENVELOPE and BODYSTRUCTURE come from
 * the index cache when they can.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "imapd/imapd_private.h"
#include "mail/imap_format.h"
#include "mail/mime.h"
#include "mail/mime_section.h"
#include "mail/transfer.h"

/* One message being answered: what has been loaded so far. */
struct fetch_msg {
	const struct store_msg	*m;
	size_t			 seq;
	char			*data;		/* the file, when needed */
	size_t			 len;
	struct mime_message	*mime;
	int			 gone;		/* the file was expunged meanwhile */
};

static int
needs_data(enum imap_fetch_att att)
{
	switch (att) {
	case IMAP_FA_BODY_SECTION:
	case IMAP_FA_BINARY:
	case IMAP_FA_BINARY_SIZE:
	case IMAP_FA_RFC822:
	case IMAP_FA_RFC822_HEADER:
	case IMAP_FA_RFC822_TEXT:
		return 1;
	default:
		return 0;
	}
}

static int
sets_seen(const struct imap_fetch_item *it)
{
	return (it->att == IMAP_FA_BODY_SECTION || it->att == IMAP_FA_BINARY) ? !it->peek :
	    it->att == IMAP_FA_RFC822 || it->att == IMAP_FA_RFC822_TEXT;
}

/*
 * Files other programs wrote may end lines with a bare LF; IMAP serves
 * RFC 5322 text, CRLF everywhere (the store counted their size that way).
 */
static void
to_crlf(struct fetch_msg *f)
{
	size_t bare = 0, o = 0;
	char *crlf;

	for (size_t i = 0; i < f->len; i++)
		if (f->data[i] == '\n' && (i == 0 || f->data[i - 1] != '\r'))
			bare++;
	if (bare == 0)
		return;
	crlf = xmalloc(f->len + bare + 1);
	for (size_t i = 0; i < f->len; i++) {
		if (f->data[i] == '\n' && (i == 0 || f->data[i - 1] != '\r'))
			crlf[o++] = '\r';
		crlf[o++] = f->data[i];
	}
	crlf[o] = '\0';
	free(f->data);
	f->data = crlf;
	f->len = o;
}

char *
imapd_msg_read(struct imapd_session *s, const struct store_msg *m, size_t max,
    size_t *len_out)
{
	struct stat sb;
	size_t got = 0, want;
	char *data;
	ssize_t n;
	int fd;

	if ((fd = store_msg_open(s->mb, m)) == -1) {
		if (errno != ENOENT)
			log_error("session=%s event=read-error uid=%u: %s", s->id, m->uid,
			    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return NULL;
	}
	want = (size_t)sb.st_size < max ? (size_t)sb.st_size : max;
	data = xmalloc(want + 1);
	while (got < want) {
		n = read(fd, data + got, want - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	*len_out = got;
	return data;
}

/* Read the whole file, with CRLF line ends; -1 (gone set) when it is gone. */
static int
load(struct imapd_session *s, struct fetch_msg *f)
{
	if (f->data != NULL || f->gone)
		return f->gone ? -1 : 0;
	if ((f->data = imapd_msg_read(s, f->m, SIZE_MAX, &f->len)) == NULL) {
		f->gone = 1;
		return -1;
	}
	to_crlf(f);
	return 0;
}

static struct mime_message *
parsed(struct imapd_session *s, struct fetch_msg *f)
{
	if (f->mime == NULL && load(s, f) == 0)
		f->mime = mime_parse(f->data, f->len);
	return f->mime;
}

static void
out_literal(struct imapd_session *s, const char *p, size_t n, int binary)
{
	imapd_out(s, "%s{%zu}\r\n", binary ? "~" : "", n);
	imapd_out_bytes(s, p, n);
}

static void
out_format_buf(struct imapd_session *s, struct imap_format_buf *b)
{
	imapd_out_bytes(s, b->data, b->len);
	imap_format_buf_free(b);
}

/* --- the index cache, read ahead a chunk of messages at a time --- */

#define FETCH_CACHE_CHUNK	256

void
imapd_progress_free(struct imapd_progress *p)
{
	for (size_t i = 0; i < p->ncache; i++) {
		free(p->cache[i].envelope);
		free(p->cache[i].bodystructure);
	}
	free(p->cache);
	free(p->uids);
	memset(p, 0, sizeof(*p));
}

static void
cache_note(void *arg, const struct store_cached *c)
{
	struct imapd_progress *p = arg;

	if (c->envelope == NULL)
		return;
	p->cache = xreallocarray(p->cache, p->ncache + 1, sizeof(*p->cache));
	p->cache[p->ncache].uid = c->uid;
	p->cache[p->ncache].envelope = xstrdup(c->envelope);
	p->cache[p->ncache].bodystructure = xstrdup(c->bodystructure);
	p->ncache++;
}

/* Make sure the cache holds what there is for uids[next] and the following ones. */
static void
cache_ahead(struct imapd_session *s)
{
	struct imapd_progress *p = &s->progress;
	size_t end;

	if (p->next < p->cache_end || p->next >= p->n)
		return;
	for (size_t i = 0; i < p->ncache; i++) {
		free(p->cache[i].envelope);
		free(p->cache[i].bodystructure);
	}
	p->ncache = 0;
	end = p->next + FETCH_CACHE_CHUNK < p->n ? p->next + FETCH_CACHE_CHUNK : p->n;
	(void)store_cache_scan(s->mb, p->uids[p->next], p->uids[end - 1], cache_note, p);
	p->cache_end = end;
}

static const struct imapd_cached *
cache_find(const struct imapd_progress *p, uint32_t uid)
{
	size_t lo = 0, hi = p->ncache;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->cache[mid].uid == uid)
			return &p->cache[mid];
		if (p->cache[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ENVELOPE or BODYSTRUCTURE, from the cache or computed (and cached). */
static void
out_structure(struct imapd_session *s, struct fetch_msg *f, enum imap_fetch_att att)
{
	struct imap_format_buf eb = { 0 }, bb = { 0 };
	const struct imapd_cached *c;
	struct mime_message *mm;

	if (att != IMAP_FA_BODY && (c = cache_find(&s->progress, f->m->uid)) != NULL) {
		imapd_out(s, "%s", att == IMAP_FA_ENVELOPE ? c->envelope : c->bodystructure);
		return;
	}
	if ((mm = parsed(s, f)) == NULL) {
		/* Expunged by another session: RFC 9051 allows empty values. */
		imapd_out(s, att == IMAP_FA_ENVELOPE ? "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" :
		    "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
		return;
	}
	imap_format_envelope(&eb, mm->data + mm->root->header_off, mm->root->header_len);
	imap_format_body(&bb, mm, mm->root, att != IMAP_FA_BODY);
	if (att == IMAP_FA_BODY) {
		out_format_buf(s, &bb);
		imap_format_buf_free(&eb);
		return;
	}
	imap_format_buf_append(&eb, "", 1);
	imap_format_buf_append(&bb, "", 1);
	struct buf hb = BUF_INIT;
	imapd_header_cache_block(mm->data + mm->root->header_off, mm->root->header_len, &hb);
	store_cache_put(s->mb, f->m->uid, eb.data, bb.data, hb.p);
	buf_free(&hb);
	imapd_out(s, "%s", att == IMAP_FA_ENVELOPE ? eb.data : bb.data);
	imap_format_buf_free(&eb);
	imap_format_buf_free(&bb);
}

/* BODY[section]<partial> and the RFC822 forms. */
static void
out_section(struct imapd_session *s, struct fetch_msg *f, const struct mime_section *sec)
{
	struct imap_format_buf b = { 0 };
	const char *err;
	struct mime_message *mm = parsed(s, f);

	if (mm == NULL || mime_section_fetch(mm, sec, &b, &err) == -1) {
		imap_format_buf_free(&b);
		imapd_out(s, "NIL");
		return;
	}
	out_literal(s, b.data != NULL ? b.data : "", b.len, 0);
	imap_format_buf_free(&b);
}

/* --- BINARY (RFC 3516) --- */

static const struct mime_part *
section_part(const struct mime_message *mm, const struct mime_section *sec)
{
	const struct mime_part *p = mm->root;

	for (size_t i = 0; i < sec->nparts && p != NULL; i++) {
		if (p->flags & MIME_PART_MESSAGE && p->message != NULL)
			p = p->message;
		if (p->flags & MIME_PART_MULTIPART)
			p = mime_part_child(p, sec->parts[i]);
		else if (sec->parts[i] != 1)
			p = NULL;
	}
	return p;
}

/* Decoded content of the section: 0 with *out (caller frees), -1 unknown CTE. */
static int
binary_content(struct fetch_msg *f, const struct mime_section *sec, char **out,
    size_t *outlen, int *missing)
{
	const struct mime_part *p;
	const char *enc, *body;
	size_t n;

	*missing = 0;
	p = f->mime != NULL ? section_part(f->mime, sec) : NULL;
	if (p == NULL || (p->flags & MIME_PART_MULTIPART)) {
		*missing = 1;
		return 0;
	}
	enc = p->encoding != NULL ? p->encoding : "7bit";
	body = f->data + p->body_off;
	n = p->body_len;
	*out = xmalloc(n + 1);
	if (strcasecmp(enc, "base64") == 0)
		*outlen = transfer_base64_decode(body, n, *out);
	else if (strcasecmp(enc, "quoted-printable") == 0)
		*outlen = transfer_qp_decode(body, n, *out);
	else if (strcasecmp(enc, "7bit") == 0 || strcasecmp(enc, "8bit") == 0 ||
	    strcasecmp(enc, "binary") == 0) {
		memcpy(*out, body, n);
		*outlen = n;
	} else {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* 0, or -1 when the CTE is unknown (the command then ends with NO [UNKNOWN-CTE]). */
static int
out_binary(struct imapd_session *s, struct fetch_msg *f, const struct imap_fetch_item *it)
{
	char *data = NULL;
	size_t len = 0;
	int missing;

	if (parsed(s, f) == NULL) {
		imapd_out(s, "NIL");
		return 0;
	}
	if (binary_content(f, it->section, &data, &len, &missing) == -1)
		return -1;
	if (missing) {
		imapd_out(s, "NIL");
		return 0;
	}
	if (it->att == IMAP_FA_BINARY_SIZE)
		imapd_out(s, "%zu", len);
	else {
		size_t off = 0, n = len;
		if (it->section->partial) {
			off = it->section->partial_off < len ? it->section->partial_off : len;
			n = len - off < it->section->partial_len ? len - off :
			    it->section->partial_len;
		}
		out_literal(s, data + off, n, memchr(data + off, '\0', n) != NULL);
	}
	free(data);
	return 0;
}

/* --- one message --- */

static void
internaldate(time_t t, char *out, size_t outlen)
{
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outlen, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* \Seen for a non-PEEK body fetch; 1 when FLAGS must be sent for it. */
static int
mark_seen(struct imapd_session *s, struct fetch_msg *f)
{
	static const char seen[] = "S";
	struct store_flag_change ch = { STORE_FLAGS_ADD, seen, NULL, 0, 0 };
	char why[256];
	uint32_t uid = f->m->uid;
	long at;

	if (s->readonly || strchr(f->m->flags, 'S') != NULL)
		return 0;
	if (store_set_flags(s->mb, &uid, 1, &ch, NULL, NULL, why, sizeof(why)) != STORE_OK) {
		log_error("session=%s event=seen-failed uid=%u: %s", s->id, uid, why);
		return 0;
	}
	if ((at = store_mailbox_find(s->mb, uid)) >= 0)
		f->m = store_mailbox_msg(s->mb, (size_t)at);
	return 1;
}

/* One FETCH response; -1 for an unknown transfer encoding in BINARY. */
static int
fetch_one(struct imapd_session *s, struct fetch_msg *f)
{
	const struct imap_cmd *c = &s->cmd;
	int flags_asked = 0, uid_asked = 0, modseq_asked = 0, seen = 0, rc = 0;
	const char *sep = "";
	char date[48];

	for (size_t i = 0; i < c->nitems; i++) {
		flags_asked |= c->items[i].att == IMAP_FA_FLAGS;
		uid_asked |= c->items[i].att == IMAP_FA_UID;
		modseq_asked |= c->items[i].att == IMAP_FA_MODSEQ;
		if (sets_seen(&c->items[i]))
			seen = 1;
		if (needs_data(c->items[i].att))
			(void)load(s, f);
	}
	if (seen && !mark_seen(s, f))
		seen = 0;
	imapd_out(s, "* %zu FETCH (", f->seq);
	if (c->uid && !uid_asked) {
		imapd_out(s, "UID %u", f->m->uid);
		sep = " ";
	}
	if (seen && !flags_asked) {
		imapd_out(s, "%sFLAGS ", sep);
		imapd_out_flags(s, f->m);
		sep = " ";
	}
	if (c->has_changedsince && !modseq_asked) {
		imapd_out(s, "%sMODSEQ (%llu)", sep, (unsigned long long)f->m->modseq);
		sep = " ";
	}
	for (size_t i = 0; i < c->nitems; i++) {
		const struct imap_fetch_item *it = &c->items[i];
		imapd_out(s, "%s", sep);
		sep = " ";
		switch (it->att) {
		case IMAP_FA_FLAGS:
			imapd_out(s, "FLAGS ");
			imapd_out_flags(s, f->m);
			break;
		case IMAP_FA_UID:
			imapd_out(s, "UID %u", f->m->uid);
			break;
		case IMAP_FA_INTERNALDATE:
			internaldate(f->m->internaldate, date, sizeof(date));
			imapd_out(s, "INTERNALDATE %s", date);
			break;
		case IMAP_FA_RFC822_SIZE:
			imapd_out(s, "RFC822.SIZE %llu", (unsigned long long)f->m->size);
			break;
		case IMAP_FA_MODSEQ:
			imapd_out(s, "MODSEQ (%llu)", (unsigned long long)f->m->modseq);
			break;
		case IMAP_FA_ENVELOPE:
			imapd_out(s, "ENVELOPE ");
			out_structure(s, f, it->att);
			break;
		case IMAP_FA_BODYSTRUCTURE:
			imapd_out(s, "BODYSTRUCTURE ");
			out_structure(s, f, it->att);
			break;
		case IMAP_FA_BODY:
			imapd_out(s, "BODY ");
			out_structure(s, f, it->att);
			break;
		case IMAP_FA_RFC822:
		case IMAP_FA_RFC822_HEADER:
		case IMAP_FA_RFC822_TEXT: {
			struct mime_section sec;
			memset(&sec, 0, sizeof(sec));
			sec.text = it->att == IMAP_FA_RFC822 ? MIME_SECTION_ALL :
			    it->att == IMAP_FA_RFC822_HEADER ? MIME_SECTION_HEADER : MIME_SECTION_TEXT;
			imapd_out(s, "%s ", it->att == IMAP_FA_RFC822 ? "RFC822" :
			    it->att == IMAP_FA_RFC822_HEADER ? "RFC822.HEADER" : "RFC822.TEXT");
			out_section(s, f, &sec);
			break;
		}
		case IMAP_FA_BODY_SECTION:
			imapd_out(s, "%s ", it->name);
			out_section(s, f, it->section);
			break;
		case IMAP_FA_BINARY:
		case IMAP_FA_BINARY_SIZE:
			imapd_out(s, "%s ", it->name);
			if (out_binary(s, f, it) == -1) {
				imapd_out(s, "NIL");
				rc = -1;
			}
			break;
		}
	}
	imapd_out(s, ")\r\n");
	return rc;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): what left the set since m. */
static void
out_vanished(struct imapd_session *s)
{
	uint32_t *gone = NULL;
	size_t ngone = 0, k = 0;
	char why[256];

	if (store_mailbox_vanished(s->mb, s->cmd.changedsince, &gone, &ngone, why,
	    sizeof(why)) == -1)
		return;
	for (size_t i = 0; i < ngone; i++)
		if (imap_seqset_contains(&s->cmd.set, gone[i], UINT32_MAX))
			gone[k++] = gone[i];
	if (k > 0) {
		imapd_out(s, "* VANISHED (EARLIER) ");
		for (size_t i = 0; i < k; i++)
			imapd_out(s, "%s%u", i > 0 ? "," : "", gone[i]);
		imapd_out(s, "\r\n");
	}
	free(gone);
}

enum imapd_run
imapd_run_fetch(struct imapd_session *s)
{
	struct imapd_progress *p = &s->progress;
	const char *err;

	if (!p->started) {
		p->started = 1;
		if (imapd_resolve_set(s, &s->cmd.set, s->cmd.uid, &p->uids, &p->n, &err) == -1) {
			imapd_out_tagged(s, "BAD %s", err);
			return IMAPD_RUN_DONE;
		}
		if (s->cmd.has_changedsince)
			s->condstore = 1;	/* RFC 7162 3.1: CHANGEDSINCE enables CONDSTORE */
		if (s->cmd.vanished && s->qresync)
			out_vanished(s);
		p->next = 0;
		p->started = 2;
	}
	int needs_structure = 0;
	for (size_t i = 0; i < s->cmd.nitems; i++)
		needs_structure |= s->cmd.items[i].att == IMAP_FA_ENVELOPE ||
		    s->cmd.items[i].att == IMAP_FA_BODYSTRUCTURE;
	while (p->next < p->n) {
		struct fetch_msg f;
		if (needs_structure)
			cache_ahead(s);
		long at = store_mailbox_find(s->mb, p->uids[p->next++]);
		if (at < 0)
			continue;
		memset(&f, 0, sizeof(f));
		f.m = store_mailbox_msg(s->mb, (size_t)at);
		f.seq = (size_t)at + 1;
		if (s->cmd.has_changedsince && f.m->modseq <= s->cmd.changedsince)
			continue;
		if (fetch_one(s, &f) == -1)
			p->started = 3;		/* remember: an unknown CTE was met */
		mime_free(&f.mime);
		free(f.data);
		if (evbuffer_get_length(s->out) >= IMAPD_OUT_HIGH && p->next < p->n)
			return IMAPD_RUN_MORE;
	}
	imapd_report_changes(s, s->cmd.uid);
	if (p->started == 3)
		imapd_out_tagged(s, "NO [UNKNOWN-CTE] Some parts have an unknown "
		    "Content-Transfer-Encoding");
	else
		imapd_out_tagged(s, "OK FETCH completed");
	return IMAPD_RUN_DONE;
}
