/*
 * str - small string helpers over plain NUL-terminated strings.
 */
#ifndef TERN_COMMON_STR_H
#define TERN_COMMON_STR_H

#include <stddef.h>
#include <stdint.h>

/* Copy src into dst of size dstsize, always terminated; -1 when truncated. */
int	str_copy(char *dst, const char *src, size_t dstsize);
/* Lower-case ASCII letters in place; other bytes (UTF-8) are left alone. */
void	str_lower_ascii(char *s);
/* Case-insensitive ASCII prefix test; returns 1 when s starts with prefix. */
int	str_prefix_ci(const char *s, const char *prefix);
/*
 * Parse a size such as "50M", "512K", "1G" or "1048576" (powers of 1024).
 * Returns 0 and stores the byte count, or -1 on bad syntax or overflow.
 */
int	str_parse_size(const char *s, uint64_t *out);
/* Parse a duration "30", "30s", "5m", "2h", "5d" into seconds; -1 on error. */
int	str_parse_duration(const char *s, uint64_t *out);
/*
 * Copy untrusted bytes into dst (size dstsize) with every control or
 * non-ASCII byte written as \xNN, so it is safe to log. Returns dst.
 */
char	*str_printable(char *dst, size_t dstsize, const char *src, size_t len);
/* Fill out with 2*nbytes hex digits from a cryptographic source, terminated. */
void	str_random_hex(char *out, size_t nbytes);
/* Split s at spaces and commas into at most max tokens (s is modified). */
size_t	str_split_list(char *s, char **tokens, size_t max);
/* Strip leading and trailing ASCII white space in place; returns s advanced. */
char	*str_trim(char *s);

#endif
