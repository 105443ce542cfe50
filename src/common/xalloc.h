/*
 * xalloc - memory allocation that never returns NULL.
 *
 * Running out of memory is an environment failure: these functions log and
 * exit, so callers never check for NULL.
 */
#ifndef TERN_COMMON_XALLOC_H
#define TERN_COMMON_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
/* Grow an array of nmemb elements of size bytes, checking for overflow. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* Formatted string in new memory; the caller frees. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
