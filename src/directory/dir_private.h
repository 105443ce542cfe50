/*
 * dir_private - what the parts of src/directory share: address syntax
 * (dir.c), the three lookups the resolver needs from a back end
 * (dir_sqlite.c), and the resolver itself (dir_resolve.c) stays back-end
 * independent by using only these.
 */
#ifndef TERN_DIRECTORY_DIR_PRIVATE_H
#define TERN_DIRECTORY_DIR_PRIVATE_H

#include <stddef.h>

#include "directory/dir.h"

/* Write a one-line reason into why (may be NULL or whylen 0). */
void	dir_why(char *why, size_t whylen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Canonicalise address and split it at the last '@' into local (DIR_LOCAL_MAX
 * + 1 bytes) and domain (DIR_DOMAIN_MAX + 1 bytes). allow_empty_local admits
 * "@domain" (catch-all sources). 0, or -1 with why.
 */
int	dir_split(const char *address, int allow_empty_local, char *local,
	    char *domain, char *why, size_t whylen);

/* 1 when local (canonical) can name a mailbox folder (no '/', no leading '.'). */
int	dir_local_part_ok(const char *local);

/* Back-end lookups on canonical input, for the resolver. */
/* Kind of domain, or -1 on a database error. */
int	dir_lookup_kind(struct dir *, const char *domain);
/* 1 found, 0 not found, -1 database error. */
int	dir_lookup_user(struct dir *, const char *address, struct dir_user *out);
/* Destinations of source in new memory (free with dir_free_list); 0 or -1. */
int	dir_lookup_aliases(struct dir *, const char *source, char ***dests_out,
	    size_t *ndests_out);
void	dir_free_list(char **list, size_t n);

#endif
