/*
 * mime - MIME structure of a message in memory.
 *
 * How it works: parse_entity() reads one header block, then its body. A
 * multipart pushes its boundary on a stack and reads its children one by
 * one; every leaf body runs to the next line that is a delimiter of any
 * boundary on the stack (RFC 2046 5.1.2: an inner part cannot hide an
 * outer boundary), so a missing close delimiter ends the inner multipart
 * where the outer continues. A message/rfc822 body is parsed as a message
 * of its own, ending where the enclosing body ends. Each byte is looked at
 * by one leaf scan only, and a delimiter test costs at most the boundary
 * stack times the line, so time is linear in the message size.
 *
 * Recursion follows the MIME nesting and stops at MIME_DEPTH_MAX, so the
 * C stack is bounded too.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "mail/header.h"
#include "mail/mime.h"

struct parser {
	const char	*s;
	size_t		 len;
	struct mime_message *msg;
	/* Boundaries of the open multiparts, innermost last. */
	const char	*bnd[MIME_DEPTH_MAX + 1];
	size_t		 bnd_len[MIME_DEPTH_MAX + 1];
	size_t		 nbnd;
};

static struct mime_part *parse_entity(struct parser *, size_t, unsigned,
    struct mime_part *, size_t *);

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
eq_ci(const char *a, const char *b)
{
	if (a == NULL)
		return 0;
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower((unsigned char)*a) != lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

static size_t
line_end(const struct parser *ps, size_t pos)
{
	const char *lf;

	lf = memchr(ps->s + pos, '\n', ps->len - pos);
	return lf == NULL ? ps->len : (size_t)(lf - ps->s) + 1;
}

/*
 * Is the line at pos a delimiter "--boundary" or close delimiter
 * "--boundary--" (trailing white space allowed) of an open multipart?
 * Innermost first, so that a boundary that extends an outer one wins.
 */
static int
match_boundary(const struct parser *ps, size_t pos, size_t *level_out,
    int *close_out)
{
	size_t end, n, i, j, k;
	const char *l = ps->s + pos;

	if (ps->nbnd == 0 || ps->len - pos < 3 || l[0] != '-' || l[1] != '-')
		return 0;
	end = line_end(ps, pos);
	n = end - pos;
	for (i = ps->nbnd; i-- > 0;) {
		if (n < 2 + ps->bnd_len[i] ||
		    memcmp(l + 2, ps->bnd[i], ps->bnd_len[i]) != 0)
			continue;
		j = 2 + ps->bnd_len[i];
		*close_out = 0;
		if (j + 1 < n && l[j] == '-' && l[j + 1] == '-') {
			*close_out = 1;
			j += 2;
		}
		for (k = j; k < n; k++)
			if (l[k] != ' ' && l[k] != '\t' && l[k] != '\r' &&
			    l[k] != '\n')
				break;
		if (k < n)
			continue;
		*level_out = i;
		return 1;
	}
	return 0;
}

/* Start of the next delimiter line from pos, or len. */
static size_t
find_boundary(const struct parser *ps, size_t pos)
{
	size_t level;
	int close;

	if (ps->nbnd == 0)
		return ps->len;
	while (pos < ps->len) {
		if (match_boundary(ps, pos, &level, &close))
			return pos;
		pos = line_end(ps, pos);
	}
	return ps->len;
}

/* The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1). */
static size_t
body_end(const struct parser *ps, size_t start, size_t bline)
{
	if (bline >= ps->len)
		return ps->len;
	if (bline > start && ps->s[bline - 1] == '\n')
		bline--;
	if (bline > start && ps->s[bline - 1] == '\r')
		bline--;
	return bline;
}

static size_t
count_lines(const char *s, size_t len)
{
	const char *p = s, *end = s + len, *lf;
	size_t n = 0;

	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = lf + 1;
	}
	if (p < end)
		n++;
	return n;
}

static char *
dup_lower(const char *s, size_t n)
{
	char *d = xstrndup(s, n);
	size_t i;

	for (i = 0; i < n && d[i] != '\0'; i++)
		d[i] = (char)lower((unsigned char)d[i]);
	return d;
}

static int
is_token_char(unsigned char c)
{
	return c > ' ' && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static size_t
token_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_token_char((unsigned char)s[i]))
		i++;
	return i;
}

static void
parse_params(const char *v, size_t n, size_t pos, struct mime_param **out,
    size_t *nout)
{
	struct header_param hp;
	struct mime_param *list = NULL;
	size_t count = 0;
	char *val;

	while (count < MIME_PARAMS_MAX && header_param_next(v, n, &pos, &hp)) {
		list = xreallocarray(list, count + 1, sizeof(*list));
		list[count].name = xstrndup(hp.name, hp.name_len);
		val = xmalloc(hp.value_len + 1);
		if (hp.quoted)
			header_unquote(hp.value, hp.value_len, val,
			    hp.value_len + 1);
		else {
			memcpy(val, hp.value, hp.value_len);
			val[hp.value_len] = '\0';
		}
		list[count].value = val;
		count++;
	}
	*out = list;
	*nout = count;
}

static void
free_params(struct mime_param **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((*list)[i].name);
		free((*list)[i].value);
	}
	free(*list);
	*list = NULL;
}

/* "type/subtype; params". Leaves the type unset when it is not valid. */
static void
apply_content_type(struct mime_part *p, const char *v, size_t n)
{
	const char *lead;
	size_t lead_len, pos = 0, t, st;

	header_leading(v, n, &pos, &lead, &lead_len);
	t = token_len(lead, lead_len);
	if (t == 0 || t >= lead_len)
		return;
	st = t;
	while (st < lead_len && (lead[st] == ' ' || lead[st] == '\t'))
		st++;
	if (st >= lead_len || lead[st] != '/')
		return;
	st++;
	while (st < lead_len && (lead[st] == ' ' || lead[st] == '\t'))
		st++;
	if (token_len(lead + st, lead_len - st) == 0)
		return;
	p->type = dup_lower(lead, t);
	p->subtype = dup_lower(lead + st, token_len(lead + st, lead_len - st));
	parse_params(v, n, pos, &p->params, &p->nparams);
}

static void
apply_disposition(struct mime_part *p, const char *v, size_t n)
{
	const char *lead;
	size_t lead_len, pos = 0;

	header_leading(v, n, &pos, &lead, &lead_len);
	if (lead_len == 0)
		return;
	p->disposition = xstrndup(lead, lead_len);
	parse_params(v, n, pos, &p->disp_params, &p->ndisp_params);
}

/* A simple unfolded field, kept once (the first occurrence wins). */
static void
set_once(char **dst, const struct header_field *f)
{
	if (*dst == NULL)
		*dst = header_unfold_dup(f->value, f->value_len, MIME_FIELD_MAX);
}

static void
apply_field(struct mime_part *p, const struct header_field *f, int *seen_ct)
{
	char *v;
	size_t n;

	if (f->name_len < 8 || lower((unsigned char)f->name[0]) != 'c')
		return;
	if (header_name_is(f, "Content-Type")) {
		if (*seen_ct)
			return;
		*seen_ct = 1;
		v = header_unfold_dup(f->value, f->value_len, MIME_FIELD_MAX);
		n = strlen(v);
		apply_content_type(p, v, n);
		free(v);
	} else if (header_name_is(f, "Content-Disposition")) {
		if (p->disposition != NULL)
			return;
		v = header_unfold_dup(f->value, f->value_len, MIME_FIELD_MAX);
		apply_disposition(p, v, strlen(v));
		free(v);
	} else if (header_name_is(f, "Content-Transfer-Encoding")) {
		if (p->encoding == NULL) {
			v = header_unfold_dup(f->value, f->value_len,
			    MIME_FIELD_MAX);
			n = 0;
			while (v[n] != '\0' && v[n] != ' ' && v[n] != '\t' &&
			    v[n] != ';' && v[n] != '(')
				n++;
			if (n > 0)
				p->encoding = xstrndup(v, n);
			free(v);
		}
	} else if (header_name_is(f, "Content-ID"))
		set_once(&p->id, f);
	else if (header_name_is(f, "Content-Description"))
		set_once(&p->description, f);
	else if (header_name_is(f, "Content-MD5"))
		set_once(&p->md5, f);
	else if (header_name_is(f, "Content-Language"))
		set_once(&p->language, f);
	else if (header_name_is(f, "Content-Location"))
		set_once(&p->location, f);
}

/*
 * Find the end of the header block at p->header_off: after the empty
 * line, or at a delimiter line (then the part has no body), or at the end.
 * Returns 1 when it stopped at a delimiter.
 */
static int
scan_header(struct parser *ps, struct mime_part *p)
{
	size_t pos = p->header_off, level, next;
	int close;

	while (pos < ps->len) {
		if (match_boundary(ps, pos, &level, &close)) {
			p->header_len = pos - p->header_off;
			p->body_off = pos;
			return 1;
		}
		next = line_end(ps, pos);
		if (ps->s[pos] == '\n' ||
		    (ps->s[pos] == '\r' && next - pos <= 2)) {
			p->header_len = next - p->header_off;
			p->body_off = next;
			return 0;
		}
		pos = next;
	}
	p->header_len = ps->len - p->header_off;
	p->body_off = ps->len;
	return 0;
}

static void
read_fields(struct parser *ps, struct mime_part *p)
{
	struct header_field f;
	size_t pos = 0, len = p->header_len;
	int seen_ct = 0;

	if (len > MIME_HEADER_MAX) {
		len = MIME_HEADER_MAX;
		ps->msg->limited = 1;
	}
	while (header_next(ps->s + p->header_off, len, &pos, &f))
		apply_field(p, &f, &seen_ct);
}

static int
identity_encoding(const char *enc)
{
	return enc == NULL || eq_ci(enc, "7bit") || eq_ci(enc, "8bit") ||
	    eq_ci(enc, "binary");
}

/* Fill in default types and decide how the body is to be read. */
static void
settle_type(struct mime_part *p)
{
	const char *b;

	if (p->type == NULL) {
		p->flags |= MIME_PART_NO_TYPE;
		if (p->parent != NULL && eq_ci(p->parent->subtype, "digest") &&
		    (p->parent->flags & MIME_PART_MULTIPART)) {
			p->type = xstrdup("message");
			p->subtype = xstrdup("rfc822");
		} else {
			p->type = xstrdup("text");
			p->subtype = xstrdup("plain");
		}
	}
	if (strcmp(p->type, "multipart") == 0) {
		b = mime_part_param(p, "boundary");
		if (b == NULL || b[0] == '\0' || strlen(b) > MIME_BOUNDARY_MAX) {
			/* Unusable: as if Content-Type were invalid. */
			free(p->type);
			free(p->subtype);
			free_params(&p->params, p->nparams);
			p->nparams = 0;
			p->type = xstrdup("text");
			p->subtype = xstrdup("plain");
			p->flags |= MIME_PART_NO_TYPE;
			return;
		}
		p->flags |= MIME_PART_MULTIPART;
	} else if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0)) {
		if (identity_encoding(p->encoding))
			p->flags |= MIME_PART_MESSAGE;
		else
			p->flags |= MIME_PART_OPAQUE;
	}
}

static struct mime_part *
new_part(struct parser *ps, struct mime_part *parent, unsigned depth,
    size_t off)
{
	struct mime_part *p;

	p = xcalloc(1, sizeof(*p));
	p->parent = parent;
	p->depth = depth;
	p->header_off = off;
	ps->msg->nparts++;
	return p;
}

static void
add_child(struct mime_part *parent, struct mime_part *child,
    struct mime_part **last)
{
	if (*last == NULL)
		parent->children = child;
	else
		(*last)->next = child;
	*last = child;
	parent->nchildren++;
}

/*
 * Read the children of multipart p. Returns where p ends: the start of a
 * delimiter line of an enclosing multipart, or len.
 */
static size_t
parse_multipart(struct parser *ps, struct mime_part *p)
{
	struct mime_part *last = NULL, *child;
	const char *b = mime_part_param(p, "boundary");
	size_t pos, level = 0, end;
	int close = 0;

	ps->bnd[ps->nbnd] = b;
	ps->bnd_len[ps->nbnd] = strlen(b);
	ps->nbnd++;
	pos = find_boundary(ps, p->body_off);
	for (;;) {
		if (pos >= ps->len || !match_boundary(ps, pos, &level, &close) ||
		    level != ps->nbnd - 1)
			break;		/* end of data or an outer delimiter */
		if (close) {
			/* The epilogue runs to an outer delimiter. */
			ps->nbnd--;
			return find_boundary(ps, line_end(ps, pos));
		}
		pos = line_end(ps, pos);
		if (ps->msg->nparts >= MIME_PARTS_MAX) {
			ps->msg->limited = 1;
			pos = find_boundary(ps, pos);
			continue;
		}
		child = parse_entity(ps, pos, p->depth + 1, p, &end);
		add_child(p, child, &last);
		pos = end;
	}
	ps->nbnd--;
	return pos;
}

/*
 * Parse the entity (header and body) at off. Sets *end_out to where it
 * ends: the start of the next delimiter line of an open multipart, or len.
 */
static struct mime_part *
parse_entity(struct parser *ps, size_t off, unsigned depth,
    struct mime_part *parent, size_t *end_out)
{
	struct mime_part *p;
	size_t end;
	int at_delim;

	p = new_part(ps, parent, depth, off);
	at_delim = scan_header(ps, p);
	read_fields(ps, p);
	settle_type(p);
	if ((p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0 &&
	    (at_delim || depth >= MIME_DEPTH_MAX ||
	    ps->msg->nparts >= MIME_PARTS_MAX)) {
		if (!at_delim)
			ps->msg->limited = 1;
		p->flags &= ~(MIME_PART_MULTIPART | MIME_PART_MESSAGE);
		p->flags |= MIME_PART_OPAQUE;
	}

	if (at_delim)
		end = p->body_off;
	else if (p->flags & MIME_PART_MULTIPART)
		end = parse_multipart(ps, p);
	else if (p->flags & MIME_PART_MESSAGE)
		p->message = parse_entity(ps, p->body_off, depth + 1, p, &end);
	else
		end = find_boundary(ps, p->body_off);

	p->body_len = body_end(ps, p->body_off, end) - p->body_off;
	if (strcmp(p->type, "text") == 0 || (p->flags & MIME_PART_MESSAGE))
		p->body_lines = count_lines(ps->s + p->body_off, p->body_len);
	*end_out = end;
	return p;
}

struct mime_message *
mime_parse(const char *data, size_t len)
{
	struct mime_message *msg;
	struct parser ps;
	size_t end;

	msg = xcalloc(1, sizeof(*msg));
	msg->data = data;
	msg->len = len;
	memset(&ps, 0, sizeof(ps));
	ps.s = data;
	ps.len = len;
	ps.msg = msg;
	msg->root = parse_entity(&ps, 0, 0, NULL, &end);
	return msg;
}

/* Free a part and what hangs below it; iterative over siblings. */
static void
free_part(struct mime_part *p)
{
	struct mime_part *next;

	while (p != NULL) {
		next = p->next;
		free_part(p->children);
		free_part(p->message);
		free(p->type);
		free(p->subtype);
		free_params(&p->params, p->nparams);
		free(p->id);
		free(p->description);
		free(p->encoding);
		free(p->md5);
		free(p->disposition);
		free_params(&p->disp_params, p->ndisp_params);
		free(p->language);
		free(p->location);
		free(p);
		p = next;
	}
}

void
mime_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	free_part((*msg)->root);
	free(*msg);
	*msg = NULL;
}

struct mime_part *
mime_part_child(const struct mime_part *p, size_t n)
{
	struct mime_part *c;

	if (n == 0)
		return NULL;
	for (c = p->children; c != NULL && n > 1; c = c->next)
		n--;
	return c;
}

const char *
mime_part_param(const struct mime_part *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nparams; i++)
		if (eq_ci(p->params[i].name, name))
			return p->params[i].value;
	return NULL;
}
