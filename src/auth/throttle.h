/*
 * throttle - failed logins per key (a source IP, an account) for one
 * worker: a growing delay before each answer, then a temporary refusal.
 *
 * Pure bookkeeping: no I/O, no clock (the caller passes now), no locks
 * (use one table from the loop thread). Memory is fixed at throttle_new():
 * when the table is full the entry touched longest ago is forgotten,
 * refused entries last.
 */
#ifndef TERN_AUTH_THROTTLE_H
#define TERN_AUTH_THROTTLE_H

#include <stddef.h>
#include <time.h>

#define THROTTLE_KEY_MAX	320	/* longer keys are cut (e.g. "user:" + address) */

struct throttle;

struct throttle_params {
	unsigned	max_failures;	/* failures within window that refuse: 10 */
	time_t		window;		/* seconds the failures are counted over: 300 */
	time_t		refuse_for;	/* seconds a key stays refused: 900 */
	unsigned	delay_first_ms;	/* delay after the first failure: 250 */
	unsigned	delay_max_ms;	/* cap of the doubling delay: 5000 */
	size_t		capacity;	/* keys remembered: 4096 */
};

/* Fill p with the defaults above. */
void	throttle_params_default(struct throttle_params *p);
struct conf;
/* Fill p from the [auth] keys of conf (max_failures, failure_window, ...). */
void	throttle_params_from_conf(struct throttle_params *p, const struct conf *conf);
/* A table with params (NULL: defaults); free with throttle_free(). */
struct throttle *throttle_new(const struct throttle_params *params);
/* Free *tp and set it to NULL; accepts NULL. */
void	throttle_free(struct throttle **tp);

/*
 * Before answering a login attempt from key. Returns 0 with
 * *delay_ms_out the delay to apply (0, 250, 500, 1000, ... capped), or -1
 * when key is refused, with *until_out the time the refusal ends.
 * Either output pointer may be NULL.
 */
int	throttle_check(struct throttle *, const char *key, time_t now,
	    unsigned *delay_ms_out, time_t *until_out);
/*
 * Count a failed attempt of key. Returns 1 when this failure starts a
 * refusal (log it once: IP and account, never the password), else 0.
 */
int	throttle_fail(struct throttle *, const char *key, time_t now);
/* A successful login of key: forget its failures. */
void	throttle_success(struct throttle *, const char *key);
/* Keys currently remembered (for tests and metrics). */
size_t	throttle_count(const struct throttle *);

#endif
