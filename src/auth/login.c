/*
 * login - the directory, throttle and password check of pop3d and imapd.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "auth/login.h"
#include "auth/throttle.h"
#include "common/conf.h"

int
login_env_open(struct login_env *env, const struct conf *conf, char *why, size_t whylen)
{
	struct throttle_params tp;
	char dbpath[PATH_MAX];

	memset(env, 0, sizeof(*env));
	snprintf(dbpath, sizeof(dbpath), "%s/directory.db", conf->data_dir);
	if ((env->dir = dir_open(dbpath, DIR_OPEN_READ, why, whylen)) == NULL)
		return -1;
	pthread_mutex_init(&env->dir_lock, NULL);
	throttle_params_from_conf(&tp, conf);
	env->throttle = throttle_new(&tp);
	if (password_hash("tern-no-such-user", env->dummy_hash, sizeof(env->dummy_hash)) == -1)
		env->dummy_hash[0] = '\0';
	return 0;
}

void
login_env_close(struct login_env *env)
{
	if (env->dir == NULL)
		return;
	throttle_free(&env->throttle);
	dir_close(&env->dir);
	pthread_mutex_destroy(&env->dir_lock);
}

int
login_lookup(struct login_env *env, const char *name, struct dir_user *user, char *why,
    size_t whylen)
{
	char canon[DIR_ADDRESS_MAX + 1];
	int found;

	memset(user, 0, sizeof(*user));
	if (dir_canonical(name, canon, why, whylen) == -1)
		return 0;
	pthread_mutex_lock(&env->dir_lock);
	found = dir_user_get(env->dir, canon, user, why, whylen);
	pthread_mutex_unlock(&env->dir_lock);
	if (found == 1 && !user->enabled)
		found = 0;
	if (found != 1) {
		explicit_bzero(user, sizeof(*user));
		memset(user, 0, sizeof(*user));
	}
	return found;
}

int
login_check_password(struct login_env *env, const struct dir_user *user,
    const char *password)
{
	if (user->password_hash[0] == '\0') {
		(void)password_verify(password, env->dummy_hash);
		return 0;
	}
	return password_verify(password, user->password_hash);
}
