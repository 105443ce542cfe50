/*
 * password - hashing and checking user passwords with crypt(3) (libxcrypt).
 *
 * New hashes are yescrypt ("$y$"); checking accepts every method crypt_rn
 * knows (yescrypt, SHA-512 "$6$", bcrypt "$2b$", ...), so hashes imported
 * from another system keep working. Hashing is slow on purpose (tens of
 * milliseconds): servers call these on a pool thread.
 */
#ifndef TERN_AUTH_PASSWORD_H
#define TERN_AUTH_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX	256	/* fits struct dir_user.password_hash */
#define PASSWORD_GENERATED_LEN	20	/* characters of password_generate() */

/*
 * Hash plain (at most 511 bytes) into out (outlen bytes); 0, or -1 when
 * plain is too long, out too small or no randomness is available.
 */
int	password_hash(const char *plain, char *out, size_t outlen);
/*
 * 1 when plain matches hash, else 0 (also for an empty, locked "!..." or
 * unknown hash). The comparison takes the same time wherever it differs.
 */
int	password_verify(const char *plain, const char *hash);
/*
 * A random password of PASSWORD_GENERATED_LEN characters (letters and
 * digits without look-alikes, about 115 bits) from getrandom(2) into out,
 * which has at least PASSWORD_GENERATED_LEN + 1 bytes.
 */
void	password_generate(char *out, size_t outlen);

#endif
