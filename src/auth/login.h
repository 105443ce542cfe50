/*
 * login - what the services that log users in (pop3d, imapd) share: the
 * directory, opened read-only and used from pool threads under a lock,
 * the table of failed logins (loop thread), and the check of a user's
 * password that costs the same whether the user exists or not.
 */
#ifndef TERN_AUTH_LOGIN_H
#define TERN_AUTH_LOGIN_H

#include <pthread.h>
#include <stddef.h>

#include "auth/password.h"
#include "directory/dir.h"

struct conf;
struct throttle;

struct login_env {
	struct dir	*dir;		/* under dir_lock */
	pthread_mutex_t	 dir_lock;
	struct throttle	*throttle;	/* failed logins per address and account */
	char		 dummy_hash[PASSWORD_HASH_MAX];	/* unknown users cost a hash too */
};

/* Open <data_dir>/directory.db and set up the throttle from [auth]. 0, or -1 with why. */
int	login_env_open(struct login_env *env, const struct conf *conf, char *why,
	    size_t whylen);
void	login_env_close(struct login_env *env);

/*
 * The enabled user called name (any case; canonicalised first), for a
 * pool thread: 1 with *user filled, 0 when there is no such enabled user
 * (*user zeroed), -1 on a directory error with why.
 */
int	login_lookup(struct login_env *env, const char *name, struct dir_user *user,
	    char *why, size_t whylen);
/*
 * Does password match the user's hash? A user without one (unknown,
 * disabled) is checked against the dummy hash and fails. Blocking (yescrypt).
 */
int	login_check_password(struct login_env *env, const struct dir_user *user,
	    const char *password);

#endif
