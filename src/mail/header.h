/*
 * header - RFC 5322 header fields over bytes in memory (pure, no I/O).
 *
 * Fields are found in a header block without copying it: header_next()
 * walks fields, header_find() looks one up by name. Values are unfolded
 * into caller memory, MIME parameters ("; a=b; c=\"d\"") and address lists
 * (with groups) are parsed on request. Nothing here decodes RFC 2047
 * encoded-words (mail/rfc2047.h does) or RFC 2231 parameters: values stay
 * as written.
 */
#ifndef TERN_MAIL_HEADER_H
#define TERN_MAIL_HEADER_H

#include <stddef.h>

/* Nesting of RFC 5322 comments "(a (b) c)" followed before giving up. */
#define HEADER_COMMENT_DEPTH_MAX	32
/* Addresses kept from one address-list field; the rest are ignored. */
#define HEADER_ADDR_MAX			1000

/*
 * One field of a header block. Pointers point into the block and stay
 * valid as long as it does. The value is raw: it starts after the colon
 * and still holds folding line ends; the final line end is not part of it.
 */
struct header_field {
	const char	*name;
	size_t		 name_len;	/* 0 for a line that is not a field */
	const char	*value;
	size_t		 value_len;
	size_t		 off;		/* field start, from the block start */
	size_t		 len;		/* whole field with its final line end */
};

/*
 * Fetch the field at *pos of block (len bytes) and advance *pos past it.
 * Returns 1 with *out filled, or 0 at the end of the block: len reached
 * or an empty line (which is left unconsumed).
 */
int	header_next(const char *block, size_t len, size_t *pos,
	    struct header_field *out);
/* First field called name (ASCII case-insensitive); 1 found, 0 not. */
int	header_find(const char *block, size_t len, const char *name,
	    struct header_field *out);
/* 1 when the field is called name (ASCII case-insensitive). */
int	header_name_is(const struct header_field *f, const char *name);

/*
 * Unfold a raw value into dst (dstsize bytes, always terminated): line
 * ends are removed, NUL bytes dropped and leading/trailing white space
 * trimmed. Longer values are cut. Returns the length written.
 */
size_t	header_unfold(const char *value, size_t len, char *dst,
	    size_t dstsize);
/* The same into new memory of at most max bytes; the caller frees. */
char	*header_unfold_dup(const char *value, size_t len, size_t max);

/*
 * One parameter of a MIME field. name/value point into the parsed string;
 * a quoted value still has its quotes and backslashes (see
 * header_unquote()). RFC 2231 names ("title*0*") are returned as written.
 */
struct header_param {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
	int		 quoted;
};

/*
 * Skip white space and comments from pos and return the first offset
 * after them (at most len).
 */
size_t	header_skip_cfws(const char *s, size_t len, size_t pos);
/*
 * The leading value of a MIME field up to the first ';' (e.g. "text/plain"
 * or "attachment"), trimmed of white space and comments. Sets *pos just
 * after it, at the ';' or len.
 */
void	header_leading(const char *s, size_t len, size_t *pos,
	    const char **out, size_t *out_len);
/*
 * The next "; name=value" parameter from *pos. Returns 1 with *out filled
 * and *pos advanced, 0 when there are no more. Garbage between parameters
 * is skipped; a parameter without '=' gets an empty value.
 */
int	header_param_next(const char *s, size_t len, size_t *pos,
	    struct header_param *out);
/* Remove quotes and backslash escapes of value into dst; returns length. */
size_t	header_unquote(const char *value, size_t len, char *dst,
	    size_t dstsize);

/*
 * One entry of an address list, in IMAP ENVELOPE terms: a mailbox
 * (mailbox and host set), the start of a group (mailbox = group name,
 * host NULL) or the end of a group (everything NULL). Strings are new
 * memory, owned by the list.
 */
struct header_addr {
	char	*name;		/* display name, or NULL */
	char	*route;		/* obsolete source route "@a,@b", or NULL */
	char	*mailbox;
	char	*host;
};

/*
 * Parse an address-list (RFC 5322 3.4, with obsolete forms) from an
 * unfolded value. Returns the number of entries and sets *out (NULL when
 * 0); free with header_addr_free(). Unparseable pieces are skipped; a
 * mailbox without '@' gets an empty host; an unclosed group is closed.
 */
size_t	header_addr_parse(const char *s, size_t len, struct header_addr **out);
void	header_addr_free(struct header_addr **list, size_t n);

#endif
