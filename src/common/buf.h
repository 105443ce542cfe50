/*
 * buf - a growable byte buffer that is always NUL-terminated.
 *
 * For text built piece by piece (queue envelopes, bounces, headers): the
 * buffer owns p; buf_take() hands it over, buf_free() releases it.
 * Allocation failure exits (xalloc), so callers never check.
 */
#ifndef TERN_COMMON_BUF_H
#define TERN_COMMON_BUF_H

#include <stddef.h>

struct buf {
	char	*p;	/* NULL until the first byte; then NUL-terminated */
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

void	buf_add(struct buf *b, const void *data, size_t len);
void	buf_addstr(struct buf *b, const char *s);
void	buf_addch(struct buf *b, char c);
void	buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (never NULL, "" when empty), now the caller's to free; b is reset. */
char	*buf_take(struct buf *b);
void	buf_free(struct buf *b);

#endif
