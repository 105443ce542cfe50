/*
 * imap_search - evaluate a SEARCH program against one message.
 *
 * Work that several keys share is done once per message and cached in a
 * context: the Date: header's day, and the lower-cased searchable text
 * (header block; decoded text parts). Substring matching lower-cases both
 * sides and uses memmem(), so the cost stays linear in the message size
 * whatever the client sends.
 *
 * Header strings match the value as written or with its RFC 2047
 * encoded-words decoded (RFC 3501/9051 6.4.4: clients search for what
 * the user sees, "Grüße", not "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?="). Keeping the
 * raw match too means no search that worked before stops working.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "imapd/imap_parse_private.h"
#include "imapd/imap_search.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"
#include "mail/transfer.h"

struct ctx {
	const struct imap_search_msg *msg;
	uint32_t	 max_seq, max_uid;
	int		 date_state;	/* 0 not looked at, 1 valid, -1 none */
	int64_t		 sent_day;
	int		 have_text;
	char		*header;	/* lower-cased header block, then the
					   decoded values, NUL-separated */
	size_t		 header_len;
	char		*body;		/* lower-cased decoded text parts */
	size_t		 body_len;
};

enum imap_search_need
imap_search_needs(const struct imap_search_key *key)
{
	enum imap_search_need need = IMAP_SEARCH_NEED_INDEX, kid;
	size_t i;

	switch (key->op) {
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return IMAP_SEARCH_NEED_MESSAGE;
	case IMAP_SK_HEADER:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		need = IMAP_SEARCH_NEED_HEADER;
		break;
	default:
		break;
	}
	for (i = 0; i < key->nkids; i++) {
		kid = imap_search_needs(key->kids[i]);
		if (kid > need)
			need = kid;
	}
	return need;
}

/*
 * Lower-case ASCII letters and the UTF-8 capitals of Latin-1 (U+00C0 to
 * U+00DE but U+00D7, "\xc3\x80" to "\xc3\x9e", 0x20 below their small
 * letters), in place: the lengths do not change.
 */
static void
fold(char *s, size_t n)
{
	unsigned char c, next;

	for (size_t i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			s[i] = (char)(c - 'A' + 'a');
		else if (c == 0xc3 && i + 1 < n) {
			next = (unsigned char)s[i + 1];
			if (next >= 0x80 && next <= 0x9e && next != 0x97)
				s[i + 1] = (char)(next + 0x20);
			i++;
		}
	}
}

/* needle is already lower-case; hay is folded here (it is ours). */
static int
contains(char *hay, size_t n, const char *needle, size_t nlen)
{
	fold(hay, n);
	return nlen == 0 || memmem(hay, n, needle, nlen) != NULL;
}

static char *
folded_needle(const char *value)
{
	char *s = xstrdup(value != NULL ? value : "");

	fold(s, strlen(s));
	return s;
}

static int64_t
day_of(time_t t)
{
	int64_t v = (int64_t)t;

	return v >= 0 ? v / 86400 : -((-v + 86399) / 86400);
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1..max digits at s[*pos]; -1 when none. */
static int
read_digits(const char *s, size_t n, size_t *pos, size_t max, int *out, size_t *count)
{
	size_t start = *pos;
	int v = 0;

	while (*pos < n && *pos - start < max && is_digit(s[*pos]))
		v = v * 10 + (s[(*pos)++] - '0');
	*count = *pos - start;
	*out = v;
	return *count == 0 ? -1 : 0;
}

/*
 * The date of a Date: value, as written (RFC 3501: time and zone are
 * disregarded). RFC 5322 3.3 plus obsolete forms: no weekday, a weekday
 * without comma, comments, 2- and 3-digit years, full month names.
 */
static int
parse_sent_date(const char *s, size_t n, int64_t *day)
{
	size_t pos = header_skip_cfws(s, n, 0), cnt;
	int d, m, y;

	/* The weekday says nothing the date does not; skip it. */
	if (pos < n && is_alpha(s[pos])) {
		while (pos < n && is_alpha(s[pos]))
			pos++;
		pos = header_skip_cfws(s, n, pos);
		if (pos < n && s[pos] == ',')
			pos = header_skip_cfws(s, n, pos + 1);
	}
	if (read_digits(s, n, &pos, 2, &d, &cnt) == -1)
		return -1;
	pos = header_skip_cfws(s, n, pos);
	if (pos < n && s[pos] == '-')
		pos++;
	if (n - pos < 3 || (m = ip_month(s + pos)) == 0)
		return -1;
	while (pos < n && is_alpha(s[pos]))
		pos++;
	pos = header_skip_cfws(s, n, pos);
	if (pos < n && s[pos] == '-')
		pos++;
	if (read_digits(s, n, &pos, 4, &y, &cnt) == -1 || cnt == 1 ||
	    (pos < n && is_digit(s[pos])))
		return -1;
	if (cnt == 2)
		y += y < 50 ? 2000 : 1900;	/* RFC 5322 4.3 */
	else if (cnt == 3)
		y += 1900;
	if (d < 1 || d > ip_days_in_month(y, m))
		return -1;
	*day = ip_days_from_civil(y, m, d);
	return 0;
}

static int
sent_day(struct ctx *c, int64_t *day)
{
	struct header_field f;
	char value[256];
	size_t n;

	if (c->date_state == 0) {
		c->date_state = -1;
		if (c->msg->data != NULL &&
		    header_find(c->msg->data, c->msg->len, "Date", &f)) {
			n = header_unfold(f.value, f.value_len, value, sizeof(value));
			if (parse_sent_date(value, n, &c->sent_day) == 0)
				c->date_state = 1;
		}
	}
	*day = c->sent_day;
	return c->date_state == 1 ? 0 : -1;
}

static int
has_keyword(const struct imap_search_msg *msg, const char *kw)
{
	for (size_t i = 0; i < msg->nkeywords; i++)
		if (msg->keywords[i] != NULL && strcasecmp(msg->keywords[i], kw) == 0)
			return 1;
	return 0;
}


static int
header_match(struct ctx *c, const struct imap_search_key *k)
{
	struct header_field f;
	struct buf d = BUF_INIT;
	size_t pos = 0, nlen, n;
	char *needle, *v;
	int found = 0;

	if (c->msg->data == NULL || k->field == NULL)
		return 0;
	needle = folded_needle(k->value);
	nlen = strlen(needle);
	while (!found && header_next(c->msg->data, c->msg->len, &pos, &f)) {
		if (f.name_len == 0 || !header_name_is(&f, k->field))
			continue;
		v = header_unfold_dup(f.value, f.value_len, MIME_FIELD_MAX);
		n = strlen(v);
		/* Decode before contains() folds v: case matters in base64. */
		if (rfc2047_has_words(v, n))
			rfc2047_decode_buf(&d, v, n);
		found = contains(v, n, needle, nlen) ||
		    (d.p != NULL && contains(d.p, d.len, needle, nlen));
		free(v);
		buf_free(&d);
	}
	free(needle);
	return found;
}

static void
add_text_part(struct buf *out, const char *data, const struct mime_part *part)
{
	const char *s = data + part->body_off;
	size_t n = part->body_len, o;
	char *tmp;

	if (part->encoding != NULL && strcasecmp(part->encoding, "quoted-printable") == 0) {
		tmp = xmalloc(n + 1);
		o = transfer_qp_decode(s, n, tmp);
		buf_add(out, tmp, o);
		free(tmp);
	} else if (part->encoding != NULL && strcasecmp(part->encoding, "base64") == 0) {
		tmp = xmalloc(n + 1);
		o = transfer_base64_decode(s, n, tmp);
		buf_add(out, tmp, o);
		free(tmp);
	} else
		buf_add(out, s, n);
	/* A NUL between parts keeps a match from spanning two of them. */
	buf_addch(out, '\0');
}

/*
 * The searchable body: text parts decoded, the headers of attached
 * messages as they are; other leaves (images, archives) are skipped.
 * The parser bounds the depth (MIME_DEPTH_MAX).
 */
static void
collect(struct buf *out, const char *data, const struct mime_part *part)
{
	const struct mime_part *kid;

	if (part->flags & MIME_PART_MULTIPART) {
		for (kid = part->children; kid != NULL; kid = kid->next)
			collect(out, data, kid);
	} else if ((part->flags & MIME_PART_MESSAGE) && part->message != NULL) {
		buf_add(out, data + part->message->header_off, part->message->header_len);
		buf_addch(out, '\0');
		collect(out, data, part->message);
	} else if (part->type == NULL || strcmp(part->type, "text") == 0)
		add_text_part(out, data, part);
}

/*
 * The header block as written, then each value that has encoded-words
 * decoded, each after a NUL so a match cannot span two of them.
 */
static void
add_header(struct buf *out, const char *data, size_t len)
{
	struct header_field f;
	size_t pos = 0, n;
	char *v;

	while (header_next(data, len, &pos, &f))
		;
	buf_add(out, data, pos);
	pos = 0;
	while (header_next(data, len, &pos, &f)) {
		if (f.name_len == 0 || !rfc2047_has_words(f.value, f.value_len))
			continue;
		v = header_unfold_dup(f.value, f.value_len, MIME_FIELD_MAX);
		n = strlen(v);
		buf_addch(out, '\0');
		rfc2047_decode_buf(out, v, n);
		free(v);
	}
}

static void
load_text(struct ctx *c)
{
	struct buf b = BUF_INIT;
	struct mime_message *m;

	if (c->have_text)
		return;
	c->have_text = 1;
	add_header(&b, c->msg->data, c->msg->len);
	c->header_len = b.len;
	c->header = buf_take(&b);
	fold(c->header, c->header_len);
	m = mime_parse(c->msg->data, c->msg->len);
	collect(&b, c->msg->data, m->root);
	mime_free(&m);
	c->body_len = b.len;
	c->body = buf_take(&b);
	fold(c->body, c->body_len);
}

static int
text_match(struct ctx *c, const struct imap_search_key *k)
{
	char *needle;
	size_t n;
	int found = 0;

	if (c->msg->data == NULL)
		return 0;
	load_text(c);
	needle = folded_needle(k->value);
	n = strlen(needle);
	if (n == 0)
		found = 1;
	else if (k->op == IMAP_SK_TEXT && memmem(c->header, c->header_len, needle, n) != NULL)
		found = 1;
	else if (memmem(c->body, c->body_len, needle, n) != NULL)
		found = 1;
	free(needle);
	return found;
}

static int	match(struct ctx *c, const struct imap_search_key *k);

static int
date_match(struct ctx *c, const struct imap_search_key *k)
{
	int64_t want = day_of(k->day), have;

	if (k->op == IMAP_SK_BEFORE || k->op == IMAP_SK_ON || k->op == IMAP_SK_SINCE)
		have = day_of(c->msg->internaldate);
	else if (sent_day(c, &have) == -1)
		return 0;
	switch (k->op) {
	case IMAP_SK_BEFORE:
	case IMAP_SK_SENTBEFORE:
		return have < want;
	case IMAP_SK_ON:
	case IMAP_SK_SENTON:
		return have == want;
	default:
		return have >= want;
	}
}

static int
match_kids(struct ctx *c, const struct imap_search_key *k)
{
	for (size_t i = 0; i < k->nkids; i++)
		if (!match(c, k->kids[i]))
			return 0;
	return 1;
}

static int
match(struct ctx *c, const struct imap_search_key *k)
{
	const struct imap_search_msg *msg = c->msg;

	switch (k->op) {
	case IMAP_SK_ALL:
		return 1;
	case IMAP_SK_AND:
		return match_kids(c, k);
	case IMAP_SK_OR:
		return k->nkids == 2 && (match(c, k->kids[0]) || match(c, k->kids[1]));
	case IMAP_SK_NOT:
		return k->nkids == 1 && !match(c, k->kids[0]);
	case IMAP_SK_SEQSET:
		return imap_seqset_contains(&k->set, msg->seq, c->max_seq);
	case IMAP_SK_UID:
		return imap_seqset_contains(&k->set, msg->uid, c->max_uid);
	case IMAP_SK_FLAG:
		return (msg->flags & k->flag) != 0;
	case IMAP_SK_NOFLAG:
		return (msg->flags & k->flag) == 0;
	case IMAP_SK_KEYWORD:
		return has_keyword(msg, k->value);
	case IMAP_SK_UNKEYWORD:
		return !has_keyword(msg, k->value);
	case IMAP_SK_NEW:
		return (msg->flags & IMAP_FLAG_RECENT) && !(msg->flags & IMAP_FLAG_SEEN);
	case IMAP_SK_OLD:
		return !(msg->flags & IMAP_FLAG_RECENT);
	case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE: case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
		return date_match(c, k);
	case IMAP_SK_LARGER:
		return msg->size > k->number;
	case IMAP_SK_SMALLER:
		return msg->size < k->number;
	case IMAP_SK_HEADER:
		return header_match(c, k);
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return text_match(c, k);
	case IMAP_SK_MODSEQ:
		return msg->modseq >= k->number;
	}
	return 0;
}

int
imap_search_match(const struct imap_search_key *key, const struct imap_search_msg *msg,
    uint32_t max_seq, uint32_t max_uid)
{
	struct ctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.msg = msg;
	c.max_seq = max_seq;
	c.max_uid = max_uid;
	r = match(&c, key);
	free(c.header);
	free(c.body);
	return r;
}
