/*
 * Unit tests of the directory: canonical addresses, domain/user/alias
 * changes and their errors, recipient resolution, WAL readers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "directory/dir.h"

struct fixture {
	char		 tmp[PATH_MAX];
	char		 path[PATH_MAX];
	struct dir	*dir;
};

static char why[256];

#define MUST(call) do {							\
	if ((call) != 0)						\
		fail_msg("%s: %s", #call, why);				\
} while (0)

#define MUST_FAIL(call, text) do {					\
	why[0] = '\0';							\
	assert_int_equal((call), -1);					\
	if (strstr(why, (text)) == NULL)				\
		fail_msg("%s: want '%s' in '%s'", #call, (text), why);	\
} while (0)

static int
setup_empty(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmpdir = getenv("TMPDIR");

	snprintf(f->tmp, sizeof(f->tmp), "%s/dir_test.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->path, sizeof(f->path), "%s/directory.db", f->tmp);
	f->dir = dir_open(f->path, DIR_OPEN_CREATE, why, sizeof(why));
	if (f->dir == NULL)
		fail_msg("dir_open: %s", why);
	*state = f;
	return 0;
}

static void
add_aliases(struct dir *d, const char *source, const char *const *dests)
{
	for (; *dests != NULL; dests++)
		MUST(dir_alias_add(d, source, *dests, why, sizeof(why)));
}

/* The directory every resolution case runs against. */
static void
populate(struct dir *d)
{
	static const char *const users[] = {
		"alice@example.test", "bob@example.test", "carol@example.test",
		"grace@example.test", "archive@example.test", NULL,
	};
	char src[64], dst[64];

	MUST(dir_domain_add(d, "example.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "other.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "relay.test", DIR_DOMAIN_RELAY, why, sizeof(why)));
	for (size_t i = 0; users[i] != NULL; i++)
		MUST(dir_user_add(d, users[i], "$y$x", 0, why, sizeof(why)));
	MUST(dir_user_add(d, "dave@other.test", "", 1 << 20, why, sizeof(why)));
	MUST(dir_user_set_enabled(d, "carol@example.test", 0, why, sizeof(why)));

	add_aliases(d, "team@example.test", (const char *const[]){
	    "alice@example.test", "bob@example.test", NULL });
	add_aliases(d, "staff@example.test", (const char *const[]){
	    "team@example.test", "Alice@Example.Test", NULL });
	add_aliases(d, "c1@example.test", (const char *const[]){ "c2@example.test", NULL });
	add_aliases(d, "c2@example.test", (const char *const[]){ "c3@example.test", NULL });
	add_aliases(d, "c3@example.test", (const char *const[]){ "alice@example.test", NULL });
	add_aliases(d, "loop1@example.test", (const char *const[]){ "loop2@example.test", NULL });
	add_aliases(d, "loop2@example.test", (const char *const[]){ "loop1@example.test", NULL });
	add_aliases(d, "self@example.test", (const char *const[]){ "self@example.test", NULL });
	add_aliases(d, "ext@example.test", (const char *const[]){
	    "Someone@Remote.Test", "bob@example.test", NULL });
	add_aliases(d, "alice+spam@example.test", (const char *const[]){ "bob@example.test", NULL });
	add_aliases(d, "@other.test", (const char *const[]){ "dave@other.test", NULL });
	add_aliases(d, "grace@example.test", (const char *const[]){
	    "grace@example.test", "archive@example.test", NULL });
	add_aliases(d, "gr@example.test", (const char *const[]){ "grace@example.test", NULL });
	add_aliases(d, "list@example.test", (const char *const[]){
	    "alice@example.test", "carol@example.test", "ghost@example.test", NULL });
	add_aliases(d, "dead@example.test", (const char *const[]){ "carol@example.test", NULL });
	add_aliases(d, "tg@example.test", (const char *const[]){ "bob+folder@example.test", NULL });
	add_aliases(d, "fw@example.test", (const char *const[]){ "x@relay.test", NULL });
	add_aliases(d, "sales@relay.test", (const char *const[]){ "bob@example.test", NULL });
	add_aliases(d, "diamond@example.test", (const char *const[]){
	    "team@example.test", "staff@example.test", NULL });
	/* d0 -> d1 -> ... -> d11 -> alice: d2 is ten aliases deep, d1 eleven. */
	for (int i = 0; i <= 11; i++) {
		snprintf(src, sizeof(src), "d%d@example.test", i);
		if (i == 11)
			snprintf(dst, sizeof(dst), "alice@example.test");
		else
			snprintf(dst, sizeof(dst), "d%d@example.test", i + 1);
		MUST(dir_alias_add(d, src, dst, why, sizeof(why)));
	}
	MUST(dir_begin(d, why, sizeof(why)));
	for (int i = 0; i <= DIR_EXPAND_MAX; i++) {
		snprintf(dst, sizeof(dst), "r%d@remote.test", i);
		MUST(dir_alias_add(d, "wide@example.test", dst, why, sizeof(why)));
	}
	MUST(dir_commit(d, why, sizeof(why)));
}

static int
setup_full(void **state)
{
	setup_empty(state);
	populate(((struct fixture *)*state)->dir);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	dir_close(&f->dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
test_canonical(void **state)
{
	static const struct { const char *in; const char *want; } cases[] = {
		{ "Alice@Example.TEST", "alice@example.test" },
		{ "a@b", "a@b" },
		{ "\"odd@x\"@Example.test", "\"odd@x\"@example.test" },
		{ "J\xc3\xb6rg@Example.test", "j\xc3\xb6rg@example.test" },
		{ "", NULL }, { "alice", NULL }, { "@example.test", NULL },
		{ "alice@", NULL }, { "al ice@example.test", NULL },
		{ "al\nice@example.test", NULL }, { "al\x7fice@example.test", NULL },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x", NULL },
	};
	char out[DIR_ADDRESS_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = dir_canonical(cases[i].in, out, why, sizeof(why));
		if (cases[i].want == NULL) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(why, "invalid address"));
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].want);
		}
	}
}

static void
collect_domain(void *arg, const char *domain, enum dir_domain_kind kind)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 256 - len, "%s=%s ", domain, dir_domain_kind_name(kind));
}

static void
test_domains(void **state)
{
	struct dir *d = ((struct fixture *)*state)->dir;
	static const char *const bad[] = {
		"", "bad_domain.test", "a..b", ".a", "a.", "x@y", "[127.0.0.1]", "a b",
	};
	char list[256] = "";

	MUST(dir_domain_add(d, "Example.TEST", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "backup.test", DIR_DOMAIN_RELAY, why, sizeof(why)));
	MUST_FAIL(dir_domain_add(d, "example.test", DIR_DOMAIN_RELAY, why, sizeof(why)),
	    "domain example.test already exists");
	MUST_FAIL(dir_domain_add(d, "x.test", DIR_DOMAIN_NONE, why, sizeof(why)), "kind");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		MUST_FAIL(dir_domain_add(d, bad[i], DIR_DOMAIN_LOCAL, why, sizeof(why)),
		    "invalid");
	assert_int_equal(dir_domain_kind(d, "EXAMPLE.test"), DIR_DOMAIN_LOCAL);
	assert_int_equal(dir_domain_kind(d, "backup.test"), DIR_DOMAIN_RELAY);
	assert_int_equal(dir_domain_kind(d, "nowhere.test"), DIR_DOMAIN_NONE);
	MUST(dir_domain_list(d, collect_domain, list, why, sizeof(why)));
	assert_string_equal(list, "backup.test=relay example.test=local ");

	MUST(dir_user_add(d, "alice@example.test", "", 0, why, sizeof(why)));
	MUST(dir_alias_add(d, "@backup.test", "alice@example.test", why, sizeof(why)));
	MUST_FAIL(dir_domain_del(d, "example.test", why, sizeof(why)),
	    "domain example.test still has 1 user and 0 aliases");
	MUST_FAIL(dir_domain_del(d, "backup.test", why, sizeof(why)),
	    "still has 0 users and 1 alias;");
	MUST_FAIL(dir_domain_del(d, "nowhere.test", why, sizeof(why)),
	    "unknown domain nowhere.test");
	MUST(dir_user_del(d, "alice@example.test", why, sizeof(why)));
	MUST(dir_alias_del(d, "@backup.test", NULL, why, sizeof(why)));
	MUST(dir_domain_del(d, "EXAMPLE.test", why, sizeof(why)));
	MUST(dir_domain_del(d, "backup.test", why, sizeof(why)));
	assert_int_equal(dir_domain_kind(d, "example.test"), DIR_DOMAIN_NONE);
}

static void
collect_user(void *arg, const struct dir_user *u)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 256 - len, "%s ", u->address);
}

static void
test_users(void **state)
{
	struct dir *d = ((struct fixture *)*state)->dir;
	static const struct { const char *addr; const char *err; } bad[] = {
		{ "alice@example.test", "user alice@example.test already exists" },
		{ "ALICE@Example.Test", "user alice@example.test already exists" },
		{ "x@nowhere.test", "unknown domain nowhere.test" },
		{ "x@relay.test", "domain relay.test is a relay domain" },
		{ "noat", "invalid address 'noat': missing '@'" },
		{ "@example.test", "empty local part" },
		{ "a b@example.test", "space" },
		{ ".hidden@example.test", "must not start with '.'" },
		{ "a/b@example.test", "contain '/'" },
	};
	struct dir_user u;
	char list[256] = "";

	MUST(dir_domain_add(d, "example.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "other.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "relay.test", DIR_DOMAIN_RELAY, why, sizeof(why)));
	MUST(dir_user_add(d, "Alice@Example.test", "$y$hash", 1024, why, sizeof(why)));
	MUST(dir_user_add(d, "zed@example.test", NULL, 0, why, sizeof(why)));
	MUST(dir_user_add(d, "bob@other.test", "", 0, why, sizeof(why)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		MUST_FAIL(dir_user_add(d, bad[i].addr, "", 0, why, sizeof(why)), bad[i].err);

	assert_int_equal(dir_user_get(d, "ALICE@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.address, "alice@example.test");
	assert_string_equal(u.password_hash, "$y$hash");
	assert_int_equal(u.quota, 1024);
	assert_int_equal(u.enabled, 1);
	assert_int_equal(dir_user_get(d, "nobody@example.test", &u, why, sizeof(why)), 0);
	assert_int_equal(dir_user_get(d, "bad", &u, why, sizeof(why)), -1);

	MUST(dir_user_set_password(d, "alice@example.test", "$6$new", why, sizeof(why)));
	MUST(dir_user_set_quota(d, "alice@example.test", 5ULL << 30, why, sizeof(why)));
	MUST(dir_user_set_enabled(d, "alice@example.test", 0, why, sizeof(why)));
	assert_int_equal(dir_user_get(d, "alice@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.password_hash, "$6$new");
	assert_int_equal(u.quota, 5ULL << 30);
	assert_int_equal(u.enabled, 0);
	MUST_FAIL(dir_user_set_password(d, "nobody@example.test", "", why, sizeof(why)),
	    "no such user nobody@example.test");
	MUST_FAIL(dir_user_set_quota(d, "nobody@example.test", 1, why, sizeof(why)),
	    "no such user");
	MUST_FAIL(dir_user_set_quota(d, "alice@example.test", UINT64_MAX, why, sizeof(why)),
	    "quota too large");

	MUST(dir_user_list(d, NULL, collect_user, list, why, sizeof(why)));
	assert_string_equal(list, "alice@example.test zed@example.test bob@other.test ");
	list[0] = '\0';
	MUST(dir_user_list(d, "OTHER.test", collect_user, list, why, sizeof(why)));
	assert_string_equal(list, "bob@other.test ");

	MUST(dir_user_del(d, "Zed@example.test", why, sizeof(why)));
	MUST_FAIL(dir_user_del(d, "zed@example.test", why, sizeof(why)),
	    "no such user zed@example.test");
}

static void
collect_alias(void *arg, const char *source, const char *dest)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 512 - len, "%s>%s ", source, dest);
}

static void
test_aliases(void **state)
{
	struct dir *d = ((struct fixture *)*state)->dir;
	char list[512] = "";

	MUST(dir_domain_add(d, "example.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_domain_add(d, "relay.test", DIR_DOMAIN_RELAY, why, sizeof(why)));
	MUST(dir_alias_add(d, "Team@Example.test", "alice@example.test", why, sizeof(why)));
	MUST(dir_alias_add(d, "team@example.test", "Bob@Elsewhere.test", why, sizeof(why)));
	MUST(dir_alias_add(d, "@example.test", "alice@example.test", why, sizeof(why)));
	MUST(dir_alias_add(d, "info@relay.test", "alice@example.test", why, sizeof(why)));
	MUST_FAIL(dir_alias_add(d, "team@example.test", "ALICE@example.test", why, sizeof(why)),
	    "alias team@example.test -> alice@example.test already exists");
	MUST_FAIL(dir_alias_add(d, "x@nowhere.test", "alice@example.test", why, sizeof(why)),
	    "unknown domain nowhere.test");
	MUST_FAIL(dir_alias_add(d, "team@example.test", "no-at", why, sizeof(why)),
	    "invalid address 'no-at'");
	MUST_FAIL(dir_alias_add(d, "team@example.test", "@example.test", why, sizeof(why)),
	    "empty local part");
	MUST_FAIL(dir_alias_add(d, "te am@example.test", "a@example.test", why, sizeof(why)),
	    "invalid address");

	MUST(dir_alias_list(d, NULL, collect_alias, list, why, sizeof(why)));
	assert_string_equal(list, "@example.test>alice@example.test "
	    "info@relay.test>alice@example.test team@example.test>alice@example.test "
	    "team@example.test>bob@elsewhere.test ");
	list[0] = '\0';
	MUST(dir_alias_list(d, "TEAM@example.test", collect_alias, list, why, sizeof(why)));
	assert_string_equal(list, "team@example.test>alice@example.test "
	    "team@example.test>bob@elsewhere.test ");

	MUST(dir_alias_del(d, "team@example.test", "bob@elsewhere.test", why, sizeof(why)));
	MUST_FAIL(dir_alias_del(d, "team@example.test", "bob@elsewhere.test", why, sizeof(why)),
	    "no such alias team@example.test -> bob@elsewhere.test");
	MUST(dir_alias_del(d, "team@example.test", NULL, why, sizeof(why)));
	MUST_FAIL(dir_alias_del(d, "team@example.test", NULL, why, sizeof(why)),
	    "no such alias team@example.test");
	list[0] = '\0';
	MUST(dir_alias_list(d, "team@example.test", collect_alias, list, why, sizeof(why)));
	assert_string_equal(list, "");
}

static void
test_transaction(void **state)
{
	struct dir *d = ((struct fixture *)*state)->dir;

	MUST(dir_domain_add(d, "example.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_begin(d, why, sizeof(why)));
	MUST(dir_user_add(d, "a@example.test", "", 0, why, sizeof(why)));
	dir_rollback(d);
	assert_int_equal(dir_user_get(d, "a@example.test", NULL, why, sizeof(why)), 0);
	dir_rollback(d);	/* no transaction open: harmless */
}

struct resolve_case {
	const char		*address;
	char			 delimiter;
	enum dir_resolve_status	 status;
	const char		*mailboxes[4];
	const char		*remote[2];
};

static const struct resolve_case resolve_cases[] = {
	{ "alice@example.test", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "ALICE@Example.TEST", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "alice+news@example.test", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "alice+news@example.test", '\0', DIR_RESOLVE_UNKNOWN, { NULL }, { NULL } },
	{ "alice-news@example.test", '-', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "alice+spam@example.test", '+', DIR_RESOLVE_OK, { "bob@example.test" }, { NULL } },
	{ "+x@example.test", '+', DIR_RESOLVE_UNKNOWN, { NULL }, { NULL } },
	{ "team@example.test", '+', DIR_RESOLVE_OK,
	    { "alice@example.test", "bob@example.test" }, { NULL } },
	{ "team+x@example.test", '+', DIR_RESOLVE_OK,
	    { "alice@example.test", "bob@example.test" }, { NULL } },
	{ "staff@example.test", '+', DIR_RESOLVE_OK,
	    { "alice@example.test", "bob@example.test" }, { NULL } },
	{ "diamond@example.test", '+', DIR_RESOLVE_OK,
	    { "alice@example.test", "bob@example.test" }, { NULL } },
	{ "c1@example.test", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "d2@example.test", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "d1@example.test", '+', DIR_RESOLVE_LOOP, { NULL }, { NULL } },
	{ "loop1@example.test", '+', DIR_RESOLVE_LOOP, { NULL }, { NULL } },
	{ "self@example.test", '+', DIR_RESOLVE_LOOP, { NULL }, { NULL } },
	{ "wide@example.test", '+', DIR_RESOLVE_LOOP, { NULL }, { NULL } },
	{ "ext@example.test", '+', DIR_RESOLVE_OK,
	    { "bob@example.test" }, { "someone@remote.test" } },
	{ "fw@example.test", '+', DIR_RESOLVE_OK, { NULL }, { "x@relay.test" } },
	{ "tg@example.test", '+', DIR_RESOLVE_OK, { "bob@example.test" }, { NULL } },
	{ "grace@example.test", '+', DIR_RESOLVE_OK,
	    { "archive@example.test", "grace@example.test" }, { NULL } },
	{ "gr@example.test", '+', DIR_RESOLVE_OK, { "grace@example.test" }, { NULL } },
	{ "list@example.test", '+', DIR_RESOLVE_OK, { "alice@example.test" }, { NULL } },
	{ "dead@example.test", '+', DIR_RESOLVE_DISABLED, { NULL }, { NULL } },
	{ "carol@example.test", '+', DIR_RESOLVE_DISABLED, { NULL }, { NULL } },
	{ "nobody@example.test", '+', DIR_RESOLVE_UNKNOWN, { NULL }, { NULL } },
	{ "anyone@other.test", '+', DIR_RESOLVE_OK, { "dave@other.test" }, { NULL } },
	{ "dave@Other.test", '+', DIR_RESOLVE_OK, { "dave@other.test" }, { NULL } },
	{ "x@relay.test", '+', DIR_RESOLVE_RELAY, { NULL }, { NULL } },
	{ "sales@relay.test", '+', DIR_RESOLVE_OK, { "bob@example.test" }, { NULL } },
	{ "x@nowhere.test", '+', DIR_RESOLVE_NOT_LOCAL, { NULL }, { NULL } },
	{ "not an address", '+', DIR_RESOLVE_UNKNOWN, { NULL }, { NULL } },
};

static int
has_mailbox(const struct dir_resolution *res, const char *address)
{
	char buf[DIR_ADDRESS_MAX + 1];

	for (size_t i = 0; i < res->nmailboxes; i++) {
		snprintf(buf, sizeof(buf), "%s@%s", res->mailboxes[i].local,
		    res->mailboxes[i].domain);
		if (strcmp(buf, address) == 0)
			return 1;
	}
	return 0;
}

static int
has_remote(const struct dir_resolution *res, const char *address)
{
	for (size_t i = 0; i < res->nremote; i++)
		if (strcmp(res->remote[i], address) == 0)
			return 1;
	return 0;
}

static void
check_resolution(const struct resolve_case *c, const struct dir_resolution *res)
{
	size_t nm = 0, nr = 0;

	if (res->status != c->status)
		fail_msg("%s: status %d, want %d", c->address, res->status, c->status);
	for (; nm < 4 && c->mailboxes[nm] != NULL; nm++)
		if (!has_mailbox(res, c->mailboxes[nm]))
			fail_msg("%s: missing mailbox %s", c->address, c->mailboxes[nm]);
	for (; nr < 2 && c->remote[nr] != NULL; nr++)
		if (!has_remote(res, c->remote[nr]))
			fail_msg("%s: missing remote %s", c->address, c->remote[nr]);
	if (res->nmailboxes != nm || res->nremote != nr)
		fail_msg("%s: %zu mailboxes and %zu remote, want %zu and %zu",
		    c->address, res->nmailboxes, res->nremote, nm, nr);
}

static void
test_resolve(void **state)
{
	struct dir *d = ((struct fixture *)*state)->dir;
	struct dir_resolution res;

	for (size_t i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		dir_resolve(d, resolve_cases[i].address, resolve_cases[i].delimiter, &res);
		check_resolution(&resolve_cases[i], &res);
		dir_resolution_free(&res);
	}
	dir_resolve(d, "dave@other.test", '+', &res);
	assert_int_equal(res.nmailboxes, 1);
	assert_int_equal(res.mailboxes[0].quota, 1 << 20);
	dir_resolution_free(&res);
}

static void
test_reader_while_writing(void **state)
{
	struct fixture *f = *state;
	struct dir *reader;
	struct dir_resolution res;
	sqlite3 *raw;
	sqlite3_stmt *st;

	reader = dir_open(f->path, DIR_OPEN_READ, why, sizeof(why));
	assert_non_null(reader);
	MUST_FAIL(dir_user_add(reader, "x@example.test", "", 0, why, sizeof(why)),
	    "read-only");
	MUST_FAIL(dir_begin(reader, why, sizeof(why)), "read-only");

	/* A writer holds the write lock with an uncommitted change. */
	MUST(dir_begin(f->dir, why, sizeof(why)));
	MUST(dir_user_add(f->dir, "newbie@example.test", "", 0, why, sizeof(why)));
	dir_resolve(reader, "alice@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_OK);
	dir_resolution_free(&res);
	dir_resolve(reader, "newbie@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_UNKNOWN);
	MUST(dir_commit(f->dir, why, sizeof(why)));
	dir_resolve(reader, "newbie@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_OK);
	dir_resolution_free(&res);
	dir_close(&reader);
	assert_null(reader);

	assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(raw);
}

/* The writer in another process, holding its transaction open until told. */
static void
forked_writer(const char *path, int ready_fd, int go_fd)
{
	struct dir *w = dir_open(path, DIR_OPEN_WRITE, why, sizeof(why));
	char c = 'x';

	if (w == NULL || dir_begin(w, why, sizeof(why)) == -1 ||
	    dir_user_add(w, "forked@example.test", "", 0, why, sizeof(why)) == -1)
		_exit(1);
	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		_exit(2);
	if (dir_commit(w, why, sizeof(why)) == -1)
		_exit(3);
	dir_close(&w);
	_exit(0);
}

static void
test_reader_other_process(void **state)
{
	struct fixture *f = *state;
	int ready[2], go[2], status;
	struct dir_resolution res;
	struct dir *reader;
	pid_t pid;
	char c = 'x';

	/* No SQLite connection may cross a fork. */
	dir_close(&f->dir);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	if ((pid = fork()) == 0)
		forked_writer(f->path, ready[1], go[0]);
	assert_true(pid > 0);
	assert_int_equal(read(ready[0], &c, 1), 1);

	reader = dir_open(f->path, DIR_OPEN_READ, why, sizeof(why));
	assert_non_null(reader);
	dir_resolve(reader, "alice@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_OK);
	dir_resolution_free(&res);
	dir_resolve(reader, "forked@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_UNKNOWN);

	assert_int_equal(write(go[1], &c, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	dir_resolve(reader, "forked@example.test", '+', &res);
	assert_int_equal(res.status, DIR_RESOLVE_OK);
	dir_resolution_free(&res);
	dir_close(&reader);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	struct dir *d;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/missing.db", f->tmp);
	d = dir_open(path, DIR_OPEN_READ, why, sizeof(why));
	assert_null(d);
	assert_non_null(strstr(why, "No such file"));

	snprintf(path, sizeof(path), "%s/empty.db", f->tmp);
	fp = fopen(path, "w");
	fclose(fp);
	d = dir_open(path, DIR_OPEN_WRITE, why, sizeof(why));
	assert_null(d);
	assert_non_null(strstr(why, "not a tern directory"));

	snprintf(path, sizeof(path), "%s/junk.db", f->tmp);
	fp = fopen(path, "w");
	fputs("this is not a database, just some text that is long enough....\n"
	    "................................................................\n", fp);
	fclose(fp);
	d = dir_open(path, DIR_OPEN_READ, why, sizeof(why));
	assert_null(d);

	/* Opening an existing directory for creation again keeps its content. */
	dir_close(&f->dir);
	f->dir = dir_open(f->path, DIR_OPEN_CREATE, why, sizeof(why));
	assert_non_null(f->dir);
	assert_int_equal(dir_domain_kind(f->dir, "example.test"), DIR_DOMAIN_LOCAL);
	dir_close(NULL);
}

/* SCRAM records: stored, read back, cleared by a new password. */
static void
test_scram(void **state)
{
	struct fixture *f = *state;
	struct dir *d = f->dir;
	struct dir_user u;

	MUST(dir_domain_add(d, "example.test", DIR_DOMAIN_LOCAL, why, sizeof(why)));
	MUST(dir_user_add(d, "alice@example.test", "$y$hash", 0, why, sizeof(why)));
	assert_int_equal(dir_user_get(d, "alice@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.scram, "");
	MUST(dir_user_set_scram(d, "Alice@Example.test", "SCRAM-SHA-256$4096:c2FsdA==$a:b",
	    why, sizeof(why)));
	assert_int_equal(dir_user_get(d, "alice@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.scram, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
	assert_string_equal(u.password_hash, "$y$hash");
	/* Keys of the old password must not outlive it. */
	MUST(dir_user_set_password(d, "alice@example.test", "$y$new", why, sizeof(why)));
	assert_int_equal(dir_user_get(d, "alice@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.scram, "");
	MUST(dir_user_set_scram(d, "alice@example.test", "x", why, sizeof(why)));
	MUST(dir_user_set_scram(d, "alice@example.test", NULL, why, sizeof(why)));
	assert_int_equal(dir_user_get(d, "alice@example.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.scram, "");
	MUST_FAIL(dir_user_set_scram(d, "nobody@example.test", "x", why, sizeof(why)),
	    "no such user");
	dir_close(&f->dir);
	f->dir = dir_open(f->path, DIR_OPEN_READ, why, sizeof(why));
	assert_non_null(f->dir);
	MUST_FAIL(dir_user_set_scram(f->dir, "alice@example.test", "x", why, sizeof(why)),
	    "read-only");
}

static int
user_version_of(const char *path)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	int version;

	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return version;
}

/* A version 1 file (before SCRAM) is migrated by the first opener, even a reader. */
static void
test_migration_v1(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	struct dir_user u;
	struct dir *d;
	sqlite3 *raw;

	assert_int_equal(user_version_of(f->path), 2);
	snprintf(path, sizeof(path), "%s/v1.db", f->tmp);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
	    "CREATE TABLE domains (name TEXT PRIMARY KEY, kind TEXT NOT NULL);"
	    "CREATE TABLE users (address TEXT PRIMARY KEY, local TEXT NOT NULL,"
	    " domain TEXT NOT NULL, password_hash TEXT NOT NULL DEFAULT '',"
	    " quota INTEGER NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1,"
	    " created INTEGER NOT NULL);"
	    "CREATE TABLE aliases (source TEXT NOT NULL, dest TEXT NOT NULL,"
	    " PRIMARY KEY (source, dest));"
	    "INSERT INTO domains VALUES ('old.test', 'local');"
	    "INSERT INTO users VALUES ('bob@old.test', 'bob', 'old.test', '$y$old',"
	    " 0, 1, 0);"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	d = dir_open(path, DIR_OPEN_READ, why, sizeof(why));
	if (d == NULL)
		fail_msg("dir_open: %s", why);
	assert_int_equal(dir_user_get(d, "bob@old.test", &u, why, sizeof(why)), 1);
	assert_string_equal(u.password_hash, "$y$old");
	assert_string_equal(u.scram, "");
	dir_close(&d);
	assert_int_equal(user_version_of(path), 2);
	/* Opening again changes nothing. */
	d = dir_open(path, DIR_OPEN_WRITE, why, sizeof(why));
	assert_non_null(d);
	MUST(dir_user_set_scram(d, "bob@old.test", "rec", why, sizeof(why)));
	dir_close(&d);
	assert_int_equal(user_version_of(path), 2);

	/* A newer file than this program knows is refused. */
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 3", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);
	assert_null(dir_open(path, DIR_OPEN_READ, why, sizeof(why)));
	assert_non_null(strstr(why, "schema version 3"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test_setup_teardown(test_domains, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_aliases, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_reader_while_writing, setup_full,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reader_other_process, setup_full,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_scram, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(test_migration_v1, setup_empty, teardown),
	};

	log_init("dir_test", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
