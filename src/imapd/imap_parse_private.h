/*
 * imap_parse_private - the lexer shared by imap_parse.c, imap_parse_fetch.c
 * and imap_parse_search.c (imap_search.c borrows the date helpers). Not
 * for use outside src/imapd.
 *
 * Every reader works on (buf, len, pos), never reads past len, and on
 * failure records the first error (later ones are dropped) and returns -1.
 * Strings it returns are NUL-terminated copies in the command's arena.
 */
#ifndef TERN_IMAPD_IMAP_PARSE_PRIVATE_H
#define TERN_IMAPD_IMAP_PARSE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "imapd/imap_parse.h"

#define IP_MODSEQ_MAX	INT64_MAX	/* RFC 7162: 63-bit mod-sequences */

struct imap_parser {
	const char	*buf;
	size_t		 len;
	size_t		 pos;
	int		 utf8;
	struct imap_cmd	*cmd;
	char		*err;
	size_t		 errlen;
	int		 failed;
	size_t		 nkeys;		/* search program nodes so far */
};

int	ip_fail(struct imap_parser *p, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Printable, bounded copy of a token for error messages. */
const char *ip_show(char *dst, size_t dstsize, const char *s, size_t n);

void	*ip_alloc(struct imap_parser *p, size_t size);	/* zeroed */
char	*ip_strndup(struct imap_parser *p, const char *s, size_t n);

int	ip_at_end(const struct imap_parser *p);
int	ip_peek(const struct imap_parser *p);		/* next byte or -1 */
int	ip_eat(struct imap_parser *p, char c);		/* 1 if consumed */
/* Exactly one SP, then something that is not SP or the end. */
int	ip_sp(struct imap_parser *p, const char *what);
/* ip_sp between list items: at the end, the ")" is what is missing. */
int	ip_sp_list(struct imap_parser *p, const char *what);
int	ip_expect(struct imap_parser *p, char c, const char *what);

int	ip_is_atom_char(unsigned char c);
/* A run of ATOM-CHARs (no copy); -1 with "Missing <what>" when empty. */
int	ip_atom(struct imap_parser *p, const char *what, const char **s, size_t *n);
/* Case-insensitive comparison of a token with an upper-case word. */
int	ip_word_is(const char *s, size_t n, const char *word);
/* ip_atom, then upper-cased into the arena. */
int	ip_atom_upper(struct imap_parser *p, const char *what, char **out);

/* string = quoted / literal; astring; nstring (NULL for NIL). */
int	ip_string(struct imap_parser *p, const char *what, char **out, size_t *outlen);
int	ip_astring(struct imap_parser *p, const char *what, char **out, size_t *outlen);
int	ip_nstring(struct imap_parser *p, const char *what, char **out, size_t *outlen);
/* A literal {N} / {N+} (and ~{N} when allow8): a view into the buffer. */
int	ip_literal(struct imap_parser *p, int allow8, const char **s, size_t *n,
	    int *binary);

/* number (0..max) and nz-number. */
int	ip_number(struct imap_parser *p, const char *what, uint64_t max, uint64_t *out);
int	ip_seqset(struct imap_parser *p, struct imap_seqset *set);
/* A search/list date "d-Mmm-yyyy", optionally quoted: 00:00 UTC of it. */
int	ip_date(struct imap_parser *p, time_t *out);
/* Day number of a date since 1970-01-01 (proleptic Gregorian). */
int64_t	ip_days_from_civil(int y, int m, int d);
int	ip_month(const char *s);	/* "Jan".."Dec" any case: 1..12, else 0 */
int	ip_days_in_month(int y, int m);

/* A flag; system flags into *system, keywords appended to fl. */
int	ip_flag(struct imap_parser *p, struct imap_flags *fl, int allow_recent);
int	ip_flag_list(struct imap_parser *p, struct imap_flags *fl, int allow_recent);

int	imap_parse_fetch(struct imap_parser *p);
int	imap_parse_store(struct imap_parser *p);
int	imap_parse_search(struct imap_parser *p);

#endif
