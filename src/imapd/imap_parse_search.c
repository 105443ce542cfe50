/*
 * imap_parse_search - SEARCH arguments (RFC 3501 6.4.4, RFC 9051 6.4.4,
 * RFC 4731 ESEARCH return options, RFC 7162 MODSEQ).
 *
 * The program is a tree: the top level and each "( )" are AND nodes, OR
 * has two children, NOT one. Recursion is bounded by
 * IMAP_SEARCH_DEPTH_MAX and the whole tree by IMAP_SEARCH_KEYS_MAX, since
 * "NOT NOT NOT ..." costs the client a few bytes per level.
 */
#include <string.h>

#include "imapd/imap_parse_private.h"

enum key_arg {
	ARG_NONE, ARG_STRING, ARG_HEADER, ARG_DATE, ARG_NUMBER, ARG_UIDSET,
	ARG_KEYWORD, ARG_NOT, ARG_OR, ARG_MODSEQ,
};

static const struct key_def {
	const char		*name;
	enum imap_search_op	 op;
	enum key_arg		 arg;
	unsigned		 flag;
	const char		*field;		/* FROM etc. as HEADER */
} key_defs[] = {
	{ "ALL", IMAP_SK_ALL, ARG_NONE, 0, NULL },
	{ "ANSWERED", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_ANSWERED, NULL },
	{ "BCC", IMAP_SK_HEADER, ARG_STRING, 0, "Bcc" },
	{ "BEFORE", IMAP_SK_BEFORE, ARG_DATE, 0, NULL },
	{ "BODY", IMAP_SK_BODY, ARG_STRING, 0, NULL },
	{ "CC", IMAP_SK_HEADER, ARG_STRING, 0, "Cc" },
	{ "DELETED", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_DELETED, NULL },
	{ "DRAFT", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_DRAFT, NULL },
	{ "FLAGGED", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_FLAGGED, NULL },
	{ "FROM", IMAP_SK_HEADER, ARG_STRING, 0, "From" },
	{ "HEADER", IMAP_SK_HEADER, ARG_HEADER, 0, NULL },
	{ "KEYWORD", IMAP_SK_KEYWORD, ARG_KEYWORD, 0, NULL },
	{ "LARGER", IMAP_SK_LARGER, ARG_NUMBER, 0, NULL },
	{ "MODSEQ", IMAP_SK_MODSEQ, ARG_MODSEQ, 0, NULL },
	{ "NEW", IMAP_SK_NEW, ARG_NONE, 0, NULL },
	{ "NOT", IMAP_SK_NOT, ARG_NOT, 0, NULL },
	{ "OLD", IMAP_SK_OLD, ARG_NONE, 0, NULL },
	{ "ON", IMAP_SK_ON, ARG_DATE, 0, NULL },
	{ "OR", IMAP_SK_OR, ARG_OR, 0, NULL },
	{ "RECENT", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_RECENT, NULL },
	{ "SEEN", IMAP_SK_FLAG, ARG_NONE, IMAP_FLAG_SEEN, NULL },
	{ "SENTBEFORE", IMAP_SK_SENTBEFORE, ARG_DATE, 0, NULL },
	{ "SENTON", IMAP_SK_SENTON, ARG_DATE, 0, NULL },
	{ "SENTSINCE", IMAP_SK_SENTSINCE, ARG_DATE, 0, NULL },
	{ "SINCE", IMAP_SK_SINCE, ARG_DATE, 0, NULL },
	{ "SMALLER", IMAP_SK_SMALLER, ARG_NUMBER, 0, NULL },
	{ "SUBJECT", IMAP_SK_HEADER, ARG_STRING, 0, "Subject" },
	{ "TEXT", IMAP_SK_TEXT, ARG_STRING, 0, NULL },
	{ "TO", IMAP_SK_HEADER, ARG_STRING, 0, "To" },
	{ "UID", IMAP_SK_UID, ARG_UIDSET, 0, NULL },
	{ "UNANSWERED", IMAP_SK_NOFLAG, ARG_NONE, IMAP_FLAG_ANSWERED, NULL },
	{ "UNDELETED", IMAP_SK_NOFLAG, ARG_NONE, IMAP_FLAG_DELETED, NULL },
	{ "UNDRAFT", IMAP_SK_NOFLAG, ARG_NONE, IMAP_FLAG_DRAFT, NULL },
	{ "UNFLAGGED", IMAP_SK_NOFLAG, ARG_NONE, IMAP_FLAG_FLAGGED, NULL },
	{ "UNKEYWORD", IMAP_SK_UNKEYWORD, ARG_KEYWORD, 0, NULL },
	{ "UNSEEN", IMAP_SK_NOFLAG, ARG_NONE, IMAP_FLAG_SEEN, NULL },
};

static int	search_key(struct imap_parser *p, unsigned depth,
		    struct imap_search_key **out);

static struct imap_search_key *
new_key(struct imap_parser *p, enum imap_search_op op)
{
	struct imap_search_key *k;

	if (++p->nkeys > IMAP_SEARCH_KEYS_MAX) {
		ip_fail(p, "Too many search keys (at most %d)", IMAP_SEARCH_KEYS_MAX);
		return NULL;
	}
	k = ip_alloc(p, sizeof(*k));
	k->op = op;
	return k;
}

/* Append kid to an AND node; the array doubles in the arena. */
static void
add_kid(struct imap_parser *p, struct imap_search_key *and, size_t *cap,
    struct imap_search_key *kid)
{
	struct imap_search_key **kids;

	if (and->nkids == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		kids = ip_alloc(p, *cap * sizeof(*kids));
		if (and->nkids > 0)
			memcpy(kids, and->kids, and->nkids * sizeof(*kids));
		and->kids = kids;
	}
	and->kids[and->nkids++] = kid;
}

static int
header_field_name(struct imap_parser *p, char **out)
{
	size_t n, i;

	if (ip_astring(p, "header field name", out, &n) == -1)
		return -1;
	if (n == 0)
		return ip_fail(p, "Empty header field name");
	for (i = 0; i < n; i++)
		if ((unsigned char)(*out)[i] <= ' ' || (unsigned char)(*out)[i] >= 0x7f ||
		    (*out)[i] == ':')
			return ip_fail(p, "Invalid header field name");
	return 0;
}

/* MODSEQ ["/flags/\\seen" priv|shared|all] n (RFC 7162 3.1.5); the entry is skipped. */
static int
modseq_arg(struct imap_parser *p, struct imap_search_key *k)
{
	const char *s;
	char *entry;
	size_t n;

	if (ip_peek(p) == '"') {
		if (ip_string(p, "MODSEQ entry name", &entry, &n) == -1)
			return -1;
		if (strncmp(entry, "/flags/", 7) != 0 || n == 7)
			return ip_fail(p, "Invalid MODSEQ entry name");
		if (ip_sp(p, "MODSEQ entry type") == -1 ||
		    ip_atom(p, "MODSEQ entry type", &s, &n) == -1)
			return -1;
		if (!ip_word_is(s, n, "PRIV") && !ip_word_is(s, n, "SHARED") &&
		    !ip_word_is(s, n, "ALL"))
			return ip_fail(p, "Invalid MODSEQ entry type");
		if (ip_sp(p, "mod-sequence") == -1)
			return -1;
	}
	p->cmd->search_modseq = 1;
	return ip_number(p, "mod-sequence", IP_MODSEQ_MAX, &k->number);
}

static int
key_arg(struct imap_parser *p, const struct key_def *def, unsigned depth,
    struct imap_search_key *k)
{
	const char *s;
	size_t n;

	switch (def->arg) {
	case ARG_STRING:
		k->field = def->field != NULL ? ip_strndup(p, def->field, strlen(def->field)) : NULL;
		return ip_astring(p, "search string", &k->value, NULL);
	case ARG_HEADER:
		if (header_field_name(p, &k->field) == -1 || ip_sp(p, "search string") == -1)
			return -1;
		return ip_astring(p, "search string", &k->value, NULL);
	case ARG_DATE:
		return ip_date(p, &k->day);
	case ARG_NUMBER:
		return ip_number(p, "number", IP_MODSEQ_MAX, &k->number);
	case ARG_UIDSET:
		return ip_seqset(p, &k->set);
	case ARG_KEYWORD:
		if (ip_atom(p, "keyword", &s, &n) == -1)
			return -1;
		k->value = ip_strndup(p, s, n);
		return 0;
	case ARG_MODSEQ:
		return modseq_arg(p, k);
	case ARG_NOT:
		k->kids = ip_alloc(p, sizeof(*k->kids));
		k->nkids = 1;
		return search_key(p, depth + 1, &k->kids[0]);
	case ARG_OR:
		k->kids = ip_alloc(p, 2 * sizeof(*k->kids));
		k->nkids = 2;
		if (search_key(p, depth + 1, &k->kids[0]) == -1 ||
		    ip_sp(p, "second OR key") == -1)
			return -1;
		return search_key(p, depth + 1, &k->kids[1]);
	default:
		return 0;
	}
}

static int
named_key(struct imap_parser *p, unsigned depth, struct imap_search_key **out)
{
	const struct key_def *def = NULL;
	struct imap_search_key *k;
	const char *s;
	size_t n, i;
	char show[200];

	if (ip_atom(p, "search key", &s, &n) == -1)
		return -1;
	for (i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (ip_word_is(s, n, key_defs[i].name))
			def = &key_defs[i];
	if (def == NULL)
		return ip_fail(p, "Unknown search key %s", ip_show(show, sizeof(show), s, n));
	if ((k = new_key(p, def->op)) == NULL)
		return -1;
	k->flag = def->flag;
	*out = k;
	if (def->arg == ARG_NONE)
		return 0;
	if (ip_sp(p, def->arg == ARG_NOT || def->arg == ARG_OR ? "search key" :
	    "search key argument") == -1)
		return -1;
	return key_arg(p, def, depth, k);
}

/* "(" search-key *(SP search-key) ")" */
static int
key_list(struct imap_parser *p, unsigned depth, struct imap_search_key **out)
{
	struct imap_search_key *and, *kid;
	size_t cap = 0;

	p->pos++;
	if ((and = new_key(p, IMAP_SK_AND)) == NULL)
		return -1;
	*out = and;
	if (ip_peek(p) == ')')
		return ip_fail(p, "Empty search key list");
	for (;;) {
		if (search_key(p, depth + 1, &kid) == -1)
			return -1;
		add_kid(p, and, &cap, kid);
		if (ip_eat(p, ')'))
			return 0;
		if (ip_sp_list(p, "search key") == -1)
			return -1;
	}
}

static int
search_key(struct imap_parser *p, unsigned depth, struct imap_search_key **out)
{
	struct imap_search_key *k;
	int c = ip_peek(p);

	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return ip_fail(p, "Search program nested too deeply");
	if (c == '(')
		return key_list(p, depth, out);
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		if ((k = new_key(p, IMAP_SK_SEQSET)) == NULL)
			return -1;
		*out = k;
		return ip_seqset(p, &k->set);
	}
	return named_key(p, depth, out);
}

static const struct {
	const char	*name;
	unsigned	 bit;
} return_opts[] = {
	{ "MIN", IMAP_SEARCH_RET_MIN }, { "MAX", IMAP_SEARCH_RET_MAX },
	{ "ALL", IMAP_SEARCH_RET_ALL }, { "COUNT", IMAP_SEARCH_RET_COUNT },
	{ "SAVE", IMAP_SEARCH_RET_SAVE },
};

/* RETURN (opts): the "RETURN" atom has been read. */
static int
search_return(struct imap_parser *p)
{
	const char *s;
	size_t n, i;
	char show[200];

	p->cmd->esearch = 1;
	if (ip_sp(p, "RETURN options") == -1 ||
	    ip_expect(p, '(', "( before RETURN options") == -1)
		return -1;
	while (!ip_eat(p, ')')) {
		if (p->cmd->search_return != 0 && ip_sp_list(p, "RETURN option") == -1)
			return -1;
		if (ip_atom(p, "RETURN option", &s, &n) == -1)
			return -1;
		for (i = 0; i < sizeof(return_opts) / sizeof(return_opts[0]); i++)
			if (ip_word_is(s, n, return_opts[i].name))
				break;
		if (i == sizeof(return_opts) / sizeof(return_opts[0]))
			return ip_fail(p, "Unknown RETURN option %s",
			    ip_show(show, sizeof(show), s, n));
		p->cmd->search_return |= return_opts[i].bit;
	}
	/* RFC 4731 3.1: "RETURN ()" means ALL. */
	if (p->cmd->search_return == 0)
		p->cmd->search_return = IMAP_SEARCH_RET_ALL;
	return 0;
}

/* CHARSET name: US-ASCII and UTF-8 only; others get NO [BADCHARSET]. */
static int
search_charset(struct imap_parser *p)
{
	char *cs;
	size_t i;

	if (ip_sp(p, "charset") == -1 || ip_astring(p, "charset", &cs, NULL) == -1)
		return -1;
	for (i = 0; cs[i] != '\0'; i++)
		if (cs[i] >= 'a' && cs[i] <= 'z')
			cs[i] = (char)(cs[i] - 'a' + 'A');
	p->cmd->charset = cs;
	if (strcmp(cs, "US-ASCII") != 0 && strcmp(cs, "UTF-8") != 0)
		return ip_fail(p, "[BADCHARSET] Unsupported charset (use US-ASCII or UTF-8)");
	return 0;
}

/* An option word (RETURN, CHARSET) at the cursor? Consumes it if so. */
static int
option_word(struct imap_parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || !ip_word_is(p->buf + p->pos, n, word) ||
	    (p->pos + n < p->len && p->buf[p->pos + n] != ' '))
		return 0;
	p->pos += n;
	return 1;
}

int
imap_parse_search(struct imap_parser *p)
{
	struct imap_search_key *and, *kid;
	size_t cap = 0;

	if (ip_sp(p, "search key") == -1)
		return -1;
	if (option_word(p, "RETURN")) {
		if (search_return(p) == -1 || ip_sp(p, "search key") == -1)
			return -1;
	}
	if (option_word(p, "CHARSET")) {
		if (search_charset(p) == -1 || ip_sp(p, "search key") == -1)
			return -1;
	}
	if ((and = new_key(p, IMAP_SK_AND)) == NULL)
		return -1;
	p->cmd->search = and;
	for (;;) {
		if (search_key(p, 0, &kid) == -1)
			return -1;
		add_kid(p, and, &cap, kid);
		if (ip_at_end(p))
			return 0;
		if (ip_peek(p) == ')')
			return ip_fail(p, "Unbalanced ) in search program");
		if (ip_sp(p, "search key") == -1)
			return -1;
	}
}
