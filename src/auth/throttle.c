/*
 * throttle - a fixed array of entries searched linearly by a 64-bit hash.
 *
 * A few thousand entries take microseconds to scan, which is nothing next
 * to a password hash, and a flat array cannot grow under a flood of
 * source addresses. Counting uses a fixed window that opens at the first
 * failure: simple, and a steady guesser still hits the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/throttle.h"
#include "common/conf.h"
#include "common/xalloc.h"

struct throttle_entry {
	uint64_t	hash;
	time_t		window_start;	/* first failure of the current window */
	time_t		last;		/* last failure: for eviction */
	time_t		refused_until;	/* 0: not refused */
	unsigned	failures;	/* within the window */
	int		used;
	char		key[THROTTLE_KEY_MAX + 1];
};

struct throttle {
	struct throttle_params	 params;
	struct throttle_entry	*entries;
	size_t			 used;
};

void
throttle_params_default(struct throttle_params *p)
{
	p->max_failures = 10;
	p->window = 5 * 60;
	p->refuse_for = 15 * 60;
	p->delay_first_ms = 250;
	p->delay_max_ms = 5000;
	p->capacity = 4096;
}

struct throttle *
throttle_new(const struct throttle_params *params)
{
	struct throttle *t = xcalloc(1, sizeof(*t));

	if (params != NULL)
		t->params = *params;
	else
		throttle_params_default(&t->params);
	if (t->params.capacity == 0)
		t->params.capacity = 1;
	if (t->params.max_failures == 0)
		t->params.max_failures = 1;
	t->entries = xcalloc(t->params.capacity, sizeof(*t->entries));
	return t;
}

void
throttle_free(struct throttle **tp)
{
	if (tp == NULL || *tp == NULL)
		return;
	free((*tp)->entries);
	free(*tp);
	*tp = NULL;
}

size_t
throttle_count(const struct throttle *t)
{
	return t->used;
}

/* FNV-1a over the stored (possibly cut) form of key. */
static uint64_t
key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t
key_len(const char *key)
{
	return strnlen(key, THROTTLE_KEY_MAX);
}

static struct throttle_entry *
find(struct throttle *t, const char *key)
{
	size_t len = key_len(key);
	uint64_t h = key_hash(key, len);

	for (size_t i = 0; i < t->params.capacity; i++) {
		struct throttle_entry *e = &t->entries[i];

		if (e->used && e->hash == h && strncmp(e->key, key, len) == 0 &&
		    e->key[len] == '\0')
			return e;
	}
	return NULL;
}

static void
forget(struct throttle *t, struct throttle_entry *e)
{
	memset(e, 0, sizeof(*e));
	t->used--;
}

/* A free slot, or the one to give up: not refused first, then oldest. */
static struct throttle_entry *
victim(struct throttle *t, time_t now)
{
	struct throttle_entry *best = NULL;
	int best_refused = 0;

	for (size_t i = 0; i < t->params.capacity; i++) {
		struct throttle_entry *e = &t->entries[i];
		int refused;

		if (!e->used)
			return e;
		refused = e->refused_until > now;
		if (best == NULL || (best_refused && !refused) ||
		    (best_refused == refused && e->last < best->last)) {
			best = e;
			best_refused = refused;
		}
	}
	forget(t, best);
	return best;
}

/* Drop what has run out: an ended refusal, a closed window. */
static void
expire(struct throttle *t, struct throttle_entry *e, time_t now)
{
	if (e->refused_until != 0) {
		if (e->refused_until <= now)
			forget(t, e);
		return;
	}
	if (now - e->window_start >= t->params.window)
		forget(t, e);
}

static unsigned
delay_for(const struct throttle_params *p, unsigned failures)
{
	unsigned long long d = p->delay_first_ms;

	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && d < p->delay_max_ms; i++)
		d *= 2;
	return d > p->delay_max_ms ? p->delay_max_ms : (unsigned)d;
}

int
throttle_check(struct throttle *t, const char *key, time_t now,
    unsigned *delay_ms_out, time_t *until_out)
{
	struct throttle_entry *e = find(t, key);

	if (delay_ms_out != NULL)
		*delay_ms_out = 0;
	if (until_out != NULL)
		*until_out = 0;
	if (e == NULL)
		return 0;
	expire(t, e, now);
	if (!e->used)
		return 0;
	if (e->refused_until != 0) {
		if (until_out != NULL)
			*until_out = e->refused_until;
		return -1;
	}
	if (delay_ms_out != NULL)
		*delay_ms_out = delay_for(&t->params, e->failures);
	return 0;
}

int
throttle_fail(struct throttle *t, const char *key, time_t now)
{
	struct throttle_entry *e = find(t, key);
	size_t len;

	if (e != NULL)
		expire(t, e, now);
	if (e == NULL || !e->used) {
		e = victim(t, now);
		len = key_len(key);
		memcpy(e->key, key, len);
		e->key[len] = '\0';
		e->hash = key_hash(key, len);
		e->window_start = now;
		e->used = 1;
		t->used++;
	}
	e->last = now;
	/* Attempts that were let through while refused change nothing. */
	if (e->refused_until != 0)
		return 0;
	if (++e->failures < t->params.max_failures)
		return 0;
	e->refused_until = now + t->params.refuse_for;
	return 1;
}

void
throttle_success(struct throttle *t, const char *key)
{
	struct throttle_entry *e = find(t, key);

	if (e != NULL)
		forget(t, e);
}

void
throttle_params_from_conf(struct throttle_params *p, const struct conf *conf)
{
	throttle_params_default(p);
	p->max_failures = (unsigned)conf->auth_max_failures;
	p->window = (time_t)conf->auth_failure_window;
	p->refuse_for = (time_t)conf->auth_lockout;
	p->delay_max_ms = (unsigned)(conf->auth_delay_max * 1000);
	if (p->delay_first_ms > p->delay_max_ms)
		p->delay_first_ms = p->delay_max_ms;
}
