/*
 * Unit tests of the mailbox store on a temporary Maildir: UIDs in arrival
 * order and stable across opens, new/ moved to cur/, flag renames found,
 * expunge, the exclusive lock, a rebuild of a damaged index; mailbox names
 * and folders (default folders, create, delete, rename, subscriptions
 * across a rebuild), STATUS, APPEND, STORE, COPY/MOVE, and refreshes that
 * report what other sessions and programs changed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char root[256];

static void
put(const char *sub, const char *name, const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

static int
setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/tern-store-test-XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct store_mailbox *
open_inbox(struct store *st, int flags, enum store_status *status)
{
	char why[256];

	return store_mailbox_open(st, "INBOX", flags, status, why, sizeof(why));
}

static void
test_sync_and_stable_uids(void **state)
{
	char why[256];
	enum store_status status;
	struct store *st = store_open(root, why, sizeof(why));
	struct store_mailbox *mb;
	uint32_t uidvalidity;

	assert_non_null(st);
	/* Arrival order is time then microseconds, not name order. */
	put("new", "1700000000.M900P1Q1R1.h,S=3", "b\r\n");
	put("new", "1700000000.M10P1Q2R1.h,S=3", "a\r\n");
	put("cur", "1600000000.M1P1Q1R1.h,S=3:2,S", "z\r\n");
	mb = open_inbox(st, 0, &status);
	assert_non_null(mb);
	assert_int_equal(store_mailbox_count(mb), 3);
	assert_string_equal(store_mailbox_msg(mb, 0)->base, "1600000000.M1P1Q1R1.h,S=3");
	assert_string_equal(store_mailbox_msg(mb, 0)->flags, "S");
	assert_string_equal(store_mailbox_msg(mb, 1)->base, "1700000000.M10P1Q2R1.h,S=3");
	assert_string_equal(store_mailbox_msg(mb, 2)->base, "1700000000.M900P1Q1R1.h,S=3");
	assert_int_equal(store_mailbox_msg(mb, 2)->uid, 3);
	assert_int_equal(store_mailbox_msg(mb, 2)->size, 3);
	uidvalidity = store_mailbox_uidvalidity(mb);
	store_mailbox_close(&mb);

	/* Reopen after a new delivery and a flag rename by another program. */
	put("new", "1800000000.M1P1Q1R1.h,S=3", "c\r\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/cur/1700000000.M10P1Q2R1.h,S=3:2,", root);
	snprintf(b, sizeof(b), "%s/cur/1700000000.M10P1Q2R1.h,S=3:2,RS", root);
	assert_int_equal(rename(a, b), 0);
	mb = open_inbox(st, 0, &status);
	assert_non_null(mb);
	assert_int_equal(store_mailbox_uidvalidity(mb), uidvalidity);
	assert_int_equal(store_mailbox_count(mb), 4);
	assert_int_equal(store_mailbox_msg(mb, 1)->uid, 2);
	assert_string_equal(store_mailbox_msg(mb, 1)->flags, "RS");
	assert_int_equal(store_mailbox_msg(mb, 3)->uid, 4);

	/* A message renamed after the sync still opens. */
	snprintf(a, sizeof(a), "%s/cur/1700000000.M10P1Q2R1.h,S=3:2,RS", root);
	snprintf(b, sizeof(b), "%s/cur/1700000000.M10P1Q2R1.h,S=3:2,FRS", root);
	assert_int_equal(rename(a, b), 0);
	int fd = store_msg_open(mb, store_mailbox_msg(mb, 1));
	assert_true(fd >= 0);
	char buf[8] = "";
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "a\r\n", 3);
	close(fd);

	/* Expunge removes the files and the rows. */
	uint32_t uids[] = { 1, 2 };
	size_t removed;
	assert_int_equal(store_expunge(mb, uids, 2, &removed, why, sizeof(why)), 0);
	assert_int_equal(removed, 2);
	store_mailbox_close(&mb);
	mb = open_inbox(st, 0, &status);
	assert_non_null(mb);
	assert_int_equal(store_mailbox_count(mb), 2);
	assert_int_equal(store_mailbox_msg(mb, 0)->uid, 3);
	assert_int_equal(store_mailbox_msg(mb, 1)->uid, 4);
	store_mailbox_close(&mb);
	store_close(&st);
	assert_null(st);
}

static void
test_exclusive_lock(void **state)
{
	char why[256];
	enum store_status status;
	struct store *st1 = store_open(root, why, sizeof(why));
	struct store *st2 = store_open(root, why, sizeof(why));
	struct store_mailbox *a, *b, *c;

	assert_non_null(st1);
	assert_non_null(st2);
	a = open_inbox(st1, STORE_OPEN_EXCLUSIVE, &status);
	assert_non_null(a);
	b = open_inbox(st2, STORE_OPEN_EXCLUSIVE, &status);
	assert_null(b);
	assert_int_equal(status, STORE_IN_USE);
	c = open_inbox(st2, 0, &status);	/* IMAP-like readers go on */
	assert_non_null(c);
	store_mailbox_close(&c);
	store_mailbox_close(&a);
	b = open_inbox(st2, STORE_OPEN_EXCLUSIVE, &status);
	assert_non_null(b);
	store_mailbox_close(&b);
	assert_null(store_mailbox_open(st2, "NoSuch", 0, &status, why, sizeof(why)));
	assert_int_equal(status, STORE_NOT_FOUND);
	store_close(&st1);
	store_close(&st2);
}

static void
test_damaged_index_rebuilt(void **state)
{
	char why[256], path[512];
	enum store_status status;
	struct store *st;
	struct store_mailbox *mb;
	int fd;

	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	put("cur", "1700000000.M1P1Q1R1.h,S=3:2,", "a\r\n");
	snprintf(path, sizeof(path), "%s/index.db", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage garbage garbage garbage garbage garbage "
	    "garbage garbage garbage garbage garbage garbage", 96), 96);
	close(fd);
	st = store_open(root, why, sizeof(why));
	assert_non_null(st);
	mb = open_inbox(st, 0, &status);
	assert_non_null(mb);
	assert_int_equal(store_mailbox_count(mb), 1);
	assert_int_equal(store_mailbox_msg(mb, 0)->uid, 1);
	store_mailbox_close(&mb);
	store_close(&st);
}

/* --- mailboxes, flags, copy, refresh (IMAP) --- */

#define WHY	why, sizeof(why)

static struct store *
open_store(void)
{
	char why[256];
	struct store *st = store_open(root, WHY);

	if (st == NULL)
		fail_msg("store_open: %s", why);
	return st;
}

static int
path_exists(const char *rel)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &sb) == 0;
}

/* The name in <dir>/cur of the file whose name starts with prefix, or "". */
static const char *
cur_name(const char *dir, const char *prefix)
{
	static char found[512];
	char path[1024];
	struct dirent *de;
	DIR *d;

	found[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/cur", root, dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			snprintf(found, sizeof(found), "%s", de->d_name);
	closedir(d);
	return found;
}

static size_t
count_files(const char *dir)
{
	char path[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", root, dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
drop_index(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/index.db", root);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/index.db-wal", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/index.db-shm", root);
	unlink(path);
}

/* The list as "name:use:sub:nonexistent name:..." for compact asserts. */
static const char *
list_str(struct store *st)
{
	static char out[2048];
	struct store_mailbox_info *v;
	char why[256];
	size_t n, o = 0;

	assert_int_equal(store_list(st, &v, &n, WHY), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s:%x:%d:%d", i ? " " : "",
		    v[i].name, v[i].special_use, v[i].subscribed, v[i].nonexistent);
	free(v);
	return out;
}

static uint32_t
append(struct store *st, const char *box, const char *body, const char *flags,
    const char *const *kw, size_t nkw, time_t date)
{
	char why[256];
	uint32_t uidvalidity, uid;

	assert_int_equal(store_append(st, box, body, strlen(body), flags, kw, nkw, date,
	    &uidvalidity, &uid, WHY), STORE_OK);
	assert_true(uidvalidity != 0);
	return uid;
}

static struct store_mailbox *
open_box(struct store *st, const char *name)
{
	char why[256];
	enum store_status status;
	struct store_mailbox *mb = store_mailbox_open(st, name, 0, &status, WHY);

	if (mb == NULL)
		fail_msg("open %s: %s", name, why);
	return mb;
}

static void
test_default_folders(void **state)
{
	struct store *st = open_store();
	char path[512], buf[256] = "";
	FILE *f;

	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 Junk:10:1:0 "
	    "Sent:20:1:0 Trash:40:1:0");
	assert_true(path_exists(".Sent/cur") && path_exists(".Sent/new") &&
	    path_exists(".Sent/tmp") && path_exists(".Sent/maildirfolder"));
	snprintf(path, sizeof(path), "%s/subscriptions", root);
	assert_non_null(f = fopen(path, "r"));
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_string_equal(buf, "INBOX\nSent\nDrafts\nTrash\nJunk\nArchive\n");
	store_close(&st);
	/* A second open (and a second process) adds nothing. */
	st = open_store();
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 Junk:10:1:0 "
	    "Sent:20:1:0 Trash:40:1:0");
	store_close(&st);
}

static void
test_names(void **state)
{
	static const struct { const char *in, *want; } ok[] = {
		{ "inbox", "INBOX" }, { "InBoX/x", "INBOX/x" }, { "INBOXES", "INBOXES" },
		{ "a/", "a" }, { "a/b/", "a/b" }, { "a.b", "a.b" }, { "%", "%" },
		{ "Ünïcode/日本語", "Ünïcode/日本語" }, { "...", "..." },
	};
	static const char *const bad[] = {
		"", "/", "a//b", "a//", "/a", "..", "../x", "a/..", "a/./b", "a\001b", "a\x7f",
		"\xff", "\xc0\xaf", "\xed\xa0\x80", "a\tb",
	};
	char out[STORE_NAME_MAX], longname[600];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(store_name_normalise(ok[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_name_normalise(bad[i], out, sizeof(out)) != -1)
			fail_msg("accepted bad name %zu", i);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_name_normalise(longname, out, sizeof(out)), -1);
	/* 100 dots escape to 300 bytes: too long for one directory entry. */
	memset(longname, '.', 100);
	longname[100] = '\0';
	assert_int_equal(store_name_normalise(longname, out, sizeof(out)), -1);
}

static void
test_name_escaping_round_trip(void **state)
{
	struct store *st = open_store();
	char why[256];

	assert_int_equal(store_create(st, "a.b/c%d", 0, WHY), STORE_OK);
	assert_int_equal(store_create(st, "Ünï.code", 0, WHY), STORE_OK);
	assert_int_equal(store_create(st, "..", 0, WHY), STORE_BAD_NAME);
	assert_int_equal(store_create(st, "x/../../etc", 0, WHY), STORE_BAD_NAME);
	assert_true(path_exists(".a%2Eb/cur"));
	assert_true(path_exists(".a%2Eb.c%25d/cur"));
	assert_true(path_exists(".Ünï%2Ecode/maildirfolder"));
	store_close(&st);
	/* Folders another tool made with non-canonical names are left alone. */
	char p[512];
	snprintf(p, sizeof(p), "%s/.inbox.x", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.inbox.x/cur", root);
	assert_int_equal(mkdir(p, 0700), 0);
	drop_index();
	st = open_store();
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 Junk:10:1:0 "
	    "Sent:20:1:0 Trash:40:1:0 a.b:0:0:0 a.b/c%d:0:0:0 Ünï.code:0:0:0");
	store_close(&st);
}

static void
test_create_nested_and_list_order(void **state)
{
	struct store *st = open_store();
	char why[256];

	assert_int_equal(store_create(st, "Work/2024/Q1", 0, WHY), STORE_OK);
	assert_int_equal(store_create(st, "Work", 0, WHY), STORE_EXISTS);
	assert_int_equal(store_create(st, "work", 0, WHY), STORE_OK);	/* case matters */
	assert_int_equal(store_create(st, "inbox", 0, WHY), STORE_EXISTS);
	assert_int_equal(store_create(st, "INBOX/Sub", 0, WHY), STORE_OK);
	assert_int_equal(store_create(st, "a//b", 0, WHY), STORE_BAD_NAME);
	assert_int_equal(store_create(st, "Flagged", STORE_USE_FLAGGED, WHY), STORE_OK);
	assert_true(path_exists(".Work/cur") && path_exists(".Work.2024/cur") &&
	    path_exists(".Work.2024.Q1/cur") && path_exists(".INBOX.Sub/cur"));
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 "
	    "Flagged:8:0:0 INBOX/Sub:0:0:0 Junk:10:1:0 Sent:20:1:0 Trash:40:1:0 Work:0:0:0 "
	    "Work/2024:0:0:0 Work/2024/Q1:0:0:0 work:0:0:0");
	/* A folder another program made (mutt: mkdir .Lists.tern{,/cur,/new,/tmp})
	 * shows at the next list, with its parent; a stray dot-file does not. */
	char dir[600];
	const char *subs[] = { "", "/cur", "/new", "/tmp" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(dir, sizeof(dir), "%s/.Lists.tern%s", root, subs[i]);
		assert_int_equal(mkdir(dir, 0700), 0);
	}
	put("", ".hidden", "x");
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 "
	    "Flagged:8:0:0 INBOX/Sub:0:0:0 Junk:10:1:0 Lists:0:0:0 Lists/tern:0:0:0 "
	    "Sent:20:1:0 Trash:40:1:0 Work:0:0:0 Work/2024:0:0:0 Work/2024/Q1:0:0:0 work:0:0:0");
	store_close(&st);
}

static void
test_subscriptions_survive_rebuild(void **state)
{
	struct store *st = open_store();
	char why[256];

	assert_int_equal(store_create(st, "X/Y", 0, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "X/Y", 1, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "Gone/Away", 1, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "Junk", 0, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "Junk", 0, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "a//b", 1, WHY), STORE_BAD_NAME);
	store_close(&st);
	drop_index();
	st = open_store();
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 "
	    "Gone/Away:0:1:1 Junk:10:0:0 Sent:20:1:0 Trash:40:1:0 X:0:0:0 X/Y:0:1:0");
	store_close(&st);

	/* No folders but a subscriptions file: not a new user, no defaults. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/.[A-Za-z]* '%s'/index.db*", root, root);
	assert_int_equal(system(cmd), 0);
	st = open_store();
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:0:1:1 Drafts:0:1:1 "
	    "Gone/Away:0:1:1 Sent:0:1:1 Trash:0:1:1 X/Y:0:1:1");
	store_close(&st);
}

static void
test_delete(void **state)
{
	struct store *st = open_store();
	char why[256];

	assert_int_equal(store_create(st, "P/C", 0, WHY), STORE_OK);
	assert_int_equal(store_subscribe(st, "P/C", 1, WHY), STORE_OK);
	append(st, "P/C", "x\r\n", "S", NULL, 0, 0);
	assert_int_equal(store_delete(st, "P", WHY), STORE_HAS_CHILDREN);
	assert_int_equal(store_delete(st, "INBOX", WHY), STORE_NOT_ALLOWED);
	assert_int_equal(store_delete(st, "inbox", WHY), STORE_NOT_ALLOWED);
	assert_int_equal(store_delete(st, "Nope", WHY), STORE_NOT_FOUND);
	struct store *other = open_store();
	struct store_mailbox *open_elsewhere = open_box(other, "P/C");
	assert_int_equal(store_delete(st, "P/C", WHY), STORE_OK);
	assert_false(path_exists(".P.C"));
	struct store_changes c;
	assert_int_equal(store_mailbox_refresh(open_elsewhere, &c, WHY), 1);
	store_changes_free(&c);
	store_mailbox_close(&open_elsewhere);
	store_close(&other);
	assert_int_equal(store_delete(st, "P", WHY), STORE_OK);
	assert_false(path_exists(".P"));
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tern-deleted", root);
	assert_int_not_equal(system(cmd), 0);
	/* DELETE does not unsubscribe (RFC 3501 6.3.4). */
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 Junk:10:1:0 "
	    "P/C:0:1:1 Sent:20:1:0 Trash:40:1:0");
	uint64_t bytes, msgs;
	assert_int_equal(store_usage(st, &bytes, &msgs, WHY), 0);
	assert_int_equal(msgs, 0);
	/* Created again: a new UIDVALIDITY, UIDs from 1. */
	assert_int_equal(store_create(st, "P", 0, WHY), STORE_OK);
	assert_int_equal(append(st, "P", "y\r\n", "", NULL, 0, 0), 1);
	store_close(&st);
}

static void
test_rename(void **state)
{
	struct store *st = open_store();
	struct store_status_info before, after;
	struct store_mailbox *mb;
	char why[256];

	assert_int_equal(store_create(st, "A/B", 0, WHY), STORE_OK);
	append(st, "A/B", "hello\r\n", "S", NULL, 0, 1600000000);
	assert_int_equal(store_status(st, "A/B", &before, WHY), STORE_OK);
	assert_int_equal(store_rename(st, "A", "Sent", WHY), STORE_EXISTS);
	assert_int_equal(store_rename(st, "A", "A", WHY), STORE_EXISTS);
	assert_int_equal(store_rename(st, "Nope", "Z", WHY), STORE_NOT_FOUND);
	assert_int_equal(store_rename(st, "A", "inbox", WHY), STORE_NOT_ALLOWED);
	assert_int_equal(store_rename(st, "A", "A/B/C", WHY), STORE_NOT_ALLOWED);
	assert_int_equal(store_rename(st, "A", "a//b", WHY), STORE_BAD_NAME);
	assert_int_equal(store_rename(st, "A", "X/Y", WHY), STORE_OK);
	assert_false(path_exists(".A") || path_exists(".A.B"));
	assert_true(path_exists(".X/cur") && path_exists(".X.Y/cur") && path_exists(".X.Y.B/cur"));
	assert_string_equal(list_str(st), "INBOX:0:1:0 Archive:2:1:0 Drafts:4:1:0 Junk:10:1:0 "
	    "Sent:20:1:0 Trash:40:1:0 X:0:0:0 X/Y:0:0:0 X/Y/B:0:0:0");
	assert_int_equal(store_status(st, "X/Y/B", &after, WHY), STORE_OK);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.messages, 1);
	assert_int_equal(after.uidnext, 2);
	mb = open_box(st, "X/Y/B");
	assert_int_equal(store_mailbox_count(mb), 1);
	assert_string_equal(store_mailbox_msg(mb, 0)->flags, "S");
	int fd = store_msg_open(mb, store_mailbox_msg(mb, 0));
	assert_true(fd >= 0);
	close(fd);
	store_mailbox_close(&mb);
	assert_int_equal(store_status(st, "A/B", &after, WHY), STORE_NOT_FOUND);
	store_close(&st);
}

static void
test_rename_inbox(void **state)
{
	struct store *st = open_store();
	struct store_mailbox *mb;
	char why[256];
	uint32_t uidvalidity, *gone;
	size_t ngone;

	put("cur", "1600000000.M1P1Q1R1.h,S=3:2,S", "a\r\n");
	put("new", "1600000001.M1P1Q1R1.h,S=3", "b\r\n");
	mb = open_box(st, "INBOX");
	uidvalidity = store_mailbox_uidvalidity(mb);
	assert_int_equal(store_mailbox_count(mb), 2);	/* new/ taken at open */
	put("new", "1600000002.M1P1Q1R1.h,S=3", "c\r\n");
	assert_int_equal(store_rename(st, "INBOX", "Old/Inbox", WHY), STORE_OK);
	assert_int_equal(store_rename(st, "INBOX", "Old/Inbox", WHY), STORE_EXISTS);
	assert_int_equal(count_files("cur"), 0);
	assert_int_equal(count_files("new"), 0);
	assert_int_equal(count_files(".Old.Inbox/cur"), 3);
	store_mailbox_close(&mb);
	mb = open_box(st, "Old/Inbox");
	assert_int_equal(store_mailbox_count(mb), 3);
	assert_int_equal(store_mailbox_msg(mb, 0)->uid, 1);
	assert_string_equal(store_mailbox_msg(mb, 0)->flags, "S");
	assert_int_equal(store_mailbox_msg(mb, 0)->internaldate, 1600000000);
	assert_int_equal(store_mailbox_msg(mb, 2)->internaldate, 1600000002);
	store_mailbox_close(&mb);
	mb = open_box(st, "INBOX");
	assert_int_equal(store_mailbox_count(mb), 0);
	assert_int_equal(store_mailbox_uidvalidity(mb), uidvalidity);
	assert_int_equal(store_mailbox_uidnext(mb), 4);
	assert_int_equal(store_mailbox_vanished(mb, 0, &gone, &ngone, WHY), 0);
	assert_int_equal(ngone, 3);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[2], 3);
	free(gone);
	store_mailbox_close(&mb);
	assert_true(strstr(list_str(st), "Old:0:0:0 Old/Inbox:0:0:0") != NULL);
	store_close(&st);
}

static void
test_status(void **state)
{
	struct store *st = open_store();
	struct store_status_info info;
	char why[256];

	put("cur", "1600000000.M1P1Q1R1.h,S=3:2,S", "a\r\n");
	put("cur", "1600000001.M1P1Q1R1.h,S=4:2,ST", "bb\r\n");
	put("cur", "1600000002.M1P1Q1R1.h,S=5:2,", "ccc\r\n");
	put("new", "1600000003.M1P1Q1R1.h,S=6", "dddd\r\n");
	assert_int_equal(store_status(st, "inbox", &info, WHY), STORE_OK);
	assert_int_equal(info.messages, 4);
	assert_int_equal(info.unseen, 2);
	assert_int_equal(info.deleted, 1);
	assert_int_equal(info.size, 18);
	assert_int_equal(info.uidnext, 5);
	assert_true(info.uidvalidity != 0);
	assert_true(info.highestmodseq >= 5);
	assert_int_equal(count_files("new"), 0);
	assert_int_equal(store_status(st, "Nope", &info, WHY), STORE_NOT_FOUND);
	assert_int_equal(store_status(st, "Junk", &info, WHY), STORE_OK);
	assert_int_equal(info.messages, 0);
	assert_int_equal(info.uidnext, 1);
	uint64_t bytes, msgs;
	assert_int_equal(store_usage(st, &bytes, &msgs, WHY), 0);
	assert_int_equal(msgs, 4);
	assert_int_equal(bytes, 18);
	store_close(&st);
}

static void
test_append(void **state)
{
	static const char *const kw[] = { "$Forwarded", "work" };
	struct store *st = open_store();
	struct store_mailbox *mb;
	const char *const *names;
	char why[256], path[1024];
	uint32_t uidvalidity, uid;
	struct stat sb;

	assert_int_equal(store_append(st, "Sent", "Subject: x\r\n\r\nbody\r\n", 20, "SF", kw, 2,
	    1600000000, &uidvalidity, &uid, WHY), STORE_OK);
	assert_int_equal(uid, 1);
	assert_int_equal(append(st, "Sent", "y\r\n", "", NULL, 0, 0), 2);
	uint32_t v2, u2;
	assert_int_equal(store_append(st, "sent", "x", 1, "", NULL, 0, 0, &v2, &u2, WHY),
	    STORE_NOT_FOUND);	/* only INBOX ignores case */
	const char *name = cur_name(".Sent", "1600000000.");
	assert_true(strlen(name) > 0);
	assert_non_null(strstr(name, ",S=20:2,FS"));
	snprintf(path, sizeof(path), "%s/.Sent/cur/%s", root, name);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mtime, 1600000000);
	assert_int_equal(count_files(".Sent/tmp"), 0);
	mb = open_box(st, "Sent");
	assert_int_equal(store_mailbox_uidvalidity(mb), uidvalidity);
	assert_int_equal(store_mailbox_count(mb), 2);
	assert_int_equal(store_mailbox_msg(mb, 0)->internaldate, 1600000000);
	assert_int_equal(store_mailbox_msg(mb, 0)->size, 20);
	assert_string_equal(store_mailbox_msg(mb, 0)->flags, "FS");
	assert_int_equal(store_mailbox_msg(mb, 0)->keywords, 3);
	assert_int_equal(store_mailbox_keywords(mb, &names), 2);
	assert_string_equal(names[0], "$Forwarded");
	assert_string_equal(names[1], "work");
	assert_int_equal(store_mailbox_uidnext(mb), 3);
	assert_string_equal(store_mailbox_name(mb), "Sent");
	store_mailbox_close(&mb);
	assert_int_equal(store_append(st, "Nope", "x", 1, "", NULL, 0, 0, &uidvalidity, &uid,
	    WHY), STORE_NOT_FOUND);
	/* 64 keywords per mailbox, no more. */
	char kws[70][16];
	const char *kp[70];
	for (int i = 0; i < 70; i++) {
		snprintf(kws[i], sizeof(kws[i]), "k%d", i);
		kp[i] = kws[i];
	}
	assert_int_equal(store_append(st, "Junk", "x", 1, "", kp, 64, 0, &uidvalidity, &uid,
	    WHY), STORE_OK);
	assert_int_equal(store_append(st, "Junk", "x", 1, "", kp + 1, 64, 0, &uidvalidity,
	    &uid, WHY), STORE_LIMIT);
	assert_int_equal(count_files(".Junk/cur"), 1);
	assert_int_equal(count_files(".Junk/tmp"), 0);
	store_close(&st);
}

static uint64_t
modseq_of(struct store_mailbox *mb, uint32_t uid)
{
	long at = store_mailbox_find(mb, uid);

	assert_true(at >= 0);
	return store_mailbox_msg(mb, (size_t)at)->modseq;
}

static const char *
flags_of(struct store_mailbox *mb, uint32_t uid)
{
	return store_mailbox_msg(mb, (size_t)store_mailbox_find(mb, uid))->flags;
}

static void
test_set_flags(void **state)
{
	static const char *const k1[] = { "k1" }, *const k2[] = { "K1", "k2" };
	struct store *st = open_store();
	struct store_mailbox *mb;
	struct store_flag_change chg = { 0 };
	uint32_t uids[] = { 1, 2, 3, 99 }, *failed;
	size_t nfailed;
	uint64_t m1, m2;
	char why[256];

	append(st, "INBOX", "a\r\n", "", NULL, 0, 1600000001);
	append(st, "INBOX", "b\r\n", "S", NULL, 0, 1600000002);
	append(st, "INBOX", "c\r\n", "", NULL, 0, 1600000003);
	mb = open_box(st, "INBOX");
	assert_int_equal(store_mailbox_find(mb, 2), 1);
	assert_int_equal(store_mailbox_find(mb, 4), -1);
	m1 = modseq_of(mb, 1);
	m2 = modseq_of(mb, 2);

	chg.mode = STORE_FLAGS_ADD;
	chg.flags = "S";
	assert_int_equal(store_set_flags(mb, uids, 4, &chg, &failed, &nfailed, WHY), STORE_OK);
	assert_int_equal(nfailed, 0);
	assert_null(failed);
	assert_string_equal(flags_of(mb, 1), "S");
	assert_true(modseq_of(mb, 1) > m1);
	assert_int_equal(modseq_of(mb, 2), m2);	/* already \Seen: no new MODSEQ */
	assert_non_null(strstr(cur_name("", "1600000001."), ":2,S"));

	chg.mode = STORE_FLAGS_ADD;
	chg.flags = "TF";
	chg.keywords = k1;
	chg.nkeywords = 1;
	assert_int_equal(store_set_flags(mb, uids, 1, &chg, NULL, NULL, WHY), STORE_OK);
	assert_string_equal(flags_of(mb, 1), "FST");
	assert_int_equal(store_mailbox_msg(mb, 0)->keywords, 1);
	assert_non_null(strstr(cur_name("", "1600000001."), ":2,FST"));

	/* Keywords match without regard to case; the first spelling stays. */
	chg.mode = STORE_FLAGS_SET;
	chg.flags = "D";
	chg.keywords = k2;
	chg.nkeywords = 2;
	assert_int_equal(store_set_flags(mb, uids, 1, &chg, NULL, NULL, WHY), STORE_OK);
	assert_string_equal(flags_of(mb, 1), "D");
	assert_int_equal(store_mailbox_msg(mb, 0)->keywords, 3);
	const char *const *names;
	assert_int_equal(store_mailbox_keywords(mb, &names), 2);
	assert_string_equal(names[0], "k1");

	chg.mode = STORE_FLAGS_REMOVE;
	chg.flags = "D";
	chg.keywords = k1;
	chg.nkeywords = 1;
	assert_int_equal(store_set_flags(mb, uids, 1, &chg, NULL, NULL, WHY), STORE_OK);
	assert_string_equal(flags_of(mb, 1), "");
	assert_int_equal(store_mailbox_msg(mb, 0)->keywords, 2);
	/* Removing what is not there changes nothing. */
	m1 = modseq_of(mb, 1);
	assert_int_equal(store_set_flags(mb, uids, 1, &chg, NULL, NULL, WHY), STORE_OK);
	assert_int_equal(modseq_of(mb, 1), m1);

	/* UNCHANGEDSINCE: 1 changed after m2, 2 and 3 did not. */
	chg.mode = STORE_FLAGS_ADD;
	chg.flags = "R";
	chg.keywords = NULL;
	chg.nkeywords = 0;
	chg.unchangedsince = m2 > modseq_of(mb, 3) ? m2 : modseq_of(mb, 3);
	assert_int_equal(store_set_flags(mb, uids, 3, &chg, &failed, &nfailed, WHY), STORE_OK);
	assert_int_equal(nfailed, 1);
	assert_int_equal(failed[0], 1);
	free(failed);
	assert_string_equal(flags_of(mb, 1), "");
	assert_string_equal(flags_of(mb, 2), "RS");
	assert_string_equal(flags_of(mb, 3), "RS");
	store_mailbox_close(&mb);

	/* All of it is in the index and the files. */
	mb = open_box(st, "INBOX");
	assert_string_equal(flags_of(mb, 2), "RS");
	assert_int_equal(store_mailbox_msg(mb, 0)->keywords, 2);
	store_mailbox_close(&mb);
	store_close(&st);
}

static void
test_copy_move(void **state)
{
	static const char *const kw[] = { "x", "y" };
	struct store *st = open_store();
	struct store_mailbox *mb, *dst;
	uint32_t uids[] = { 3, 1 }, *su, *du, uidvalidity;
	size_t n;
	char why[256];
	const char *const *names;

	append(st, "INBOX", "a\r\n", "S", kw + 1, 1, 1600000001);
	append(st, "INBOX", "b\r\n", "F", NULL, 0, 1600000002);
	append(st, "INBOX", "c\r\n", "", kw, 2, 1600000003);
	append(st, "Archive", "z\r\n", "", kw, 1, 0);	/* "x" is bit 0 there */
	mb = open_box(st, "INBOX");

	assert_int_equal(store_copy(mb, uids, 2, "Archive", 0, &uidvalidity, &su, &du, &n, WHY),
	    STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(su[0], 3);
	assert_int_equal(du[0], 2);
	assert_int_equal(su[1], 1);
	assert_int_equal(du[1], 3);
	free(su);
	free(du);
	assert_int_equal(store_mailbox_count(mb), 3);
	assert_int_equal(count_files("cur"), 3);
	dst = open_box(st, "Archive");
	assert_int_equal(store_mailbox_uidvalidity(dst), uidvalidity);
	assert_int_equal(store_mailbox_count(dst), 3);
	assert_int_equal(store_mailbox_msg(dst, 2)->internaldate, 1600000001);
	assert_string_equal(store_mailbox_msg(dst, 2)->flags, "S");
	assert_int_equal(store_mailbox_keywords(dst, &names), 2);
	assert_string_equal(names[1], "y");
	assert_int_equal(store_mailbox_msg(dst, 2)->keywords, 2);	/* y */
	assert_int_equal(store_mailbox_msg(dst, 1)->keywords, 3);	/* x y */
	store_mailbox_close(&dst);

	/* MOVE: gone from the source (files, rows, view), there in Trash. */
	uint32_t two[] = { 2 };
	assert_int_equal(store_copy(mb, two, 1, "Trash", 1, &uidvalidity, &su, &du, &n, WHY),
	    STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(du[0], 1);
	free(su);
	free(du);
	assert_int_equal(store_mailbox_count(mb), 2);
	assert_int_equal(store_mailbox_find(mb, 2), -1);
	assert_int_equal(count_files("cur"), 2);
	assert_int_equal(count_files(".Trash/cur"), 1);
	assert_non_null(strstr(cur_name(".Trash", "1600000002."), ":2,F"));

	/* Into the same mailbox: new UIDs, seen by a refresh. */
	uint32_t one[] = { 1 };
	assert_int_equal(store_copy(mb, one, 1, "INBOX", 0, &uidvalidity, &su, &du, &n, WHY),
	    STORE_OK);
	assert_int_equal(du[0], 4);
	free(su);
	free(du);
	struct store_changes c;
	assert_int_equal(store_mailbox_refresh(mb, &c, WHY), 0);
	assert_int_equal(c.nnew, 1);
	assert_int_equal(c.nexpunged, 0);
	assert_int_equal(c.nchanged, 0);
	store_changes_free(&c);
	assert_int_equal(store_mailbox_count(mb), 3);
	assert_int_equal(store_copy(mb, one, 1, "Nope", 0, &uidvalidity, &su, &du, &n, WHY),
	    STORE_NOT_FOUND);
	store_mailbox_close(&mb);
	uint64_t bytes, msgs;
	assert_int_equal(store_usage(st, &bytes, &msgs, WHY), 0);
	assert_int_equal(msgs, 7);
	store_close(&st);
}

static void
expect_changes(struct store_mailbox *mb, size_t nexp, const uint32_t *seqs,
    const uint32_t *uids, size_t nnew, size_t nchanged, const uint32_t *changed)
{
	struct store_changes c;
	char why[256];

	assert_int_equal(store_mailbox_refresh(mb, &c, WHY), 0);
	assert_int_equal(c.nexpunged, nexp);
	for (size_t i = 0; i < nexp; i++) {
		assert_int_equal(c.expunged_seqs[i], seqs[i]);
		assert_int_equal(c.expunged_uids[i], uids[i]);
	}
	assert_int_equal(c.nnew, nnew);
	assert_int_equal(c.nchanged, nchanged);
	for (size_t i = 0; i < nchanged; i++)
		assert_int_equal(c.changed_uids[i], changed[i]);
	store_changes_free(&c);
}

static void
test_refresh_two_sessions(void **state)
{
	struct store *st1 = open_store(), *st2 = open_store();
	struct store_mailbox *a, *b;
	struct store_flag_change chg = { .mode = STORE_FLAGS_ADD, .flags = "S" };
	uint32_t u2[] = { 2 }, u1[] = { 1 }, u3[] = { 3 };
	size_t removed;
	char why[256];

	for (int i = 0; i < 4; i++)
		append(st1, "INBOX", "m\r\n", "", NULL, 0, 1600000000 + i);
	a = open_box(st1, "INBOX");
	b = open_box(st2, "INBOX");
	expect_changes(a, 0, NULL, NULL, 0, 0, NULL);

	/* Flags changed there: reported here, not there. */
	assert_int_equal(store_set_flags(b, u2, 1, &chg, NULL, NULL, WHY), STORE_OK);
	expect_changes(a, 0, NULL, NULL, 0, 1, u2);
	assert_string_equal(flags_of(a, 2), "S");
	expect_changes(b, 0, NULL, NULL, 0, 0, NULL);
	assert_int_equal(store_mailbox_highestmodseq(a), store_mailbox_highestmodseq(b));

	/* Expunge there: position 1 (UID 1) here. */
	assert_int_equal(store_expunge(b, u1, 1, &removed, WHY), 0);
	assert_int_equal(store_mailbox_count(b), 3);
	expect_changes(a, 1, (uint32_t[]){ 1 }, u1, 0, 0, NULL);
	expect_changes(b, 0, NULL, NULL, 0, 0, NULL);
	assert_int_equal(store_mailbox_count(a), 3);

	/* Append there and a delivery into new/. */
	append(st2, "INBOX", "n\r\n", "", NULL, 0, 0);
	expect_changes(a, 0, NULL, NULL, 1, 0, NULL);
	put("new", "1700000000.M1P1Q1R1.h,S=3", "d\r\n");
	expect_changes(a, 0, NULL, NULL, 1, 0, NULL);
	expect_changes(b, 0, NULL, NULL, 2, 0, NULL);
	assert_int_equal(store_mailbox_count(a), 5);
	assert_int_equal(store_mailbox_count(b), 5);
	assert_int_equal(store_mailbox_msg(a, 4)->uid, 6);
	assert_int_equal(store_mailbox_uidnext(a), 7);

	/* Several at once: a flag change, an expunge in the middle, a new one. */
	assert_int_equal(store_set_flags(b, u2, 1, &(struct store_flag_change){
	    .mode = STORE_FLAGS_ADD, .flags = "F" }, NULL, NULL, WHY), STORE_OK);
	assert_int_equal(store_expunge(b, u3, 1, &removed, WHY), 0);
	append(st2, "INBOX", "o\r\n", "", NULL, 0, 0);
	expect_changes(a, 1, (uint32_t[]){ 2 }, u3, 1, 1, u2);
	assert_string_equal(flags_of(a, 2), "FS");

	/* Own changes are not reported back. */
	assert_int_equal(store_set_flags(a, u2, 1, &(struct store_flag_change){
	    .mode = STORE_FLAGS_REMOVE, .flags = "F" }, NULL, NULL, WHY), STORE_OK);
	expect_changes(a, 0, NULL, NULL, 0, 0, NULL);
	expect_changes(b, 0, NULL, NULL, 1, 1, u2);

	/* Other sessions' changes since a MODSEQ, for QRESYNC. */
	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_mailbox_vanished(a, 1, &gone, &ngone, WHY), 0);
	assert_int_equal(ngone, 2);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[1], 3);
	free(gone);
	assert_int_equal(store_mailbox_vanished(a, store_mailbox_highestmodseq(a), &gone,
	    &ngone, WHY), 0);
	assert_int_equal(ngone, 0);
	free(gone);
	store_mailbox_close(&a);
	store_mailbox_close(&b);
	store_close(&st1);
	store_close(&st2);
}

static void
test_refresh_external_rename(void **state)
{
	struct store *st = open_store();
	struct store_mailbox *mb;
	char a[1024], b[1024];
	uint32_t u1[] = { 1 }, u2[] = { 2 };

	put("cur", "1600000000.M1P1Q1R1.h,S=3:2,", "a\r\n");
	put("cur", "1600000001.M1P1Q1R1.h,S=3:2,S", "b\r\n");
	mb = open_box(st, "INBOX");
	/* Well after the open, so that the mtime was trusted. */
	expect_changes(mb, 0, NULL, NULL, 0, 0, NULL);
	/* mutt flags a message: a rename in cur/. */
	snprintf(a, sizeof(a), "%s/cur/1600000000.M1P1Q1R1.h,S=3:2,", root);
	snprintf(b, sizeof(b), "%s/cur/1600000000.M1P1Q1R1.h,S=3:2,F", root);
	assert_int_equal(rename(a, b), 0);
	expect_changes(mb, 0, NULL, NULL, 0, 1, u1);
	assert_string_equal(flags_of(mb, 1), "F");
	expect_changes(mb, 0, NULL, NULL, 0, 0, NULL);
	/* ... and deletes one. */
	snprintf(a, sizeof(a), "%s/cur/1600000001.M1P1Q1R1.h,S=3:2,S", root);
	assert_int_equal(unlink(a), 0);
	expect_changes(mb, 1, (uint32_t[]){ 2 }, u2, 0, 0, NULL);
	assert_int_equal(store_mailbox_count(mb), 1);

	/* After a refresh cur/ carries tern's own fine-grained stamp, and that
	 * is trusted: a file slipped in under the same mtime stays unseen (no
	 * rescan) until the mtime moves. */
	struct stat sb;
	struct timespec ts[2];
	snprintf(a, sizeof(a), "%s/cur", root);
	assert_int_equal(stat(a, &sb), 0);
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	put("cur", "1600000005.M1P1Q1R1.h,S=3:2,", "e\r\n");
	assert_int_equal(utimensat(AT_FDCWD, a, ts, 0), 0);
	expect_changes(mb, 0, NULL, NULL, 0, 0, NULL);
	ts[1].tv_sec++;
	assert_int_equal(utimensat(AT_FDCWD, a, ts, 0), 0);
	expect_changes(mb, 0, NULL, NULL, 1, 0, NULL);
	store_mailbox_close(&mb);
	store_close(&st);
}

struct scan_seen {
	uint32_t	uids[8];
	size_t		n;
	int		with_envelope;
	char		last_headers[64];
	char		last_envelope[64], last_body[64];
};

static void
scan_note(void *arg, const struct store_cached *c)
{
	struct scan_seen *seen = arg;

	if (seen->n < 8)
		seen->uids[seen->n++] = c->uid;
	seen->with_envelope += c->envelope != NULL && c->bodystructure != NULL;
	snprintf(seen->last_headers, sizeof(seen->last_headers), "%s",
	    c->headers != NULL ? c->headers : "");
	snprintf(seen->last_envelope, sizeof(seen->last_envelope), "%s",
	    c->envelope != NULL ? c->envelope : "");
	snprintf(seen->last_body, sizeof(seen->last_body), "%s",
	    c->bodystructure != NULL ? c->bodystructure : "");
}

static void
test_cache(void **state)
{
	struct store *st = open_store();
	struct store_mailbox *mb;
	struct scan_seen one = { 0 };
	uint64_t modseq;

	append(st, "INBOX", "a\r\n", "", NULL, 0, 0);
	mb = open_box(st, "INBOX");
	modseq = store_mailbox_highestmodseq(mb);
	assert_int_equal(store_cache_scan(mb, 1, 1, scan_note, &one), 0);
	assert_int_equal(one.n, 0);	/* nothing cached yet */
	store_cache_put(mb, 1, "(NIL \"x\")", "(\"text\" \"plain\")", NULL);
	assert_int_equal(store_cache_scan(mb, 1, 1, scan_note, &one), 0);
	assert_int_equal(one.n, 1);
	assert_string_equal(one.last_envelope, "(NIL \"x\")");
	assert_string_equal(one.last_body, "(\"text\" \"plain\")");
	assert_string_equal(one.last_headers, "");
	/* Headers alone, then the scan of a range sees both kinds. */
	append(st, "INBOX", "b\r\n", "", NULL, 0, 0);
	append(st, "INBOX", "c\r\n", "", NULL, 0, 0);
	store_cache_put(mb, 3, NULL, NULL, "Subject: c\r\n\r\n");
	store_cache_put(mb, 1, NULL, NULL, "Subject: a\r\n\r\n");
	struct scan_seen seen = { 0 };
	assert_int_equal(store_cache_scan(mb, 1, 3, scan_note, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.uids[0], 1);
	assert_int_equal(seen.uids[1], 3);
	assert_int_equal(seen.with_envelope, 1);	/* the put of headers kept it */
	assert_string_equal(seen.last_headers, "Subject: c\r\n\r\n");
	assert_int_equal(store_cache_scan(mb, 2, 2, scan_note, &seen), 0);
	assert_int_equal(seen.n, 2);
	/* Puts change no MODSEQ: only the two appends show, as new. */
	expect_changes(mb, 0, NULL, NULL, 2, 0, NULL);
	assert_true(store_mailbox_highestmodseq(mb) > modseq);
	store_mailbox_close(&mb);
	store_close(&st);
}

static void
test_schema_v1_rebuilt(void **state)
{
	char cmd[700];
	struct store *st;
	struct store_mailbox *mb;

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s/index.db' 'PRAGMA user_version = 1;"
	    " CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT);' 2>/dev/null", root);
	if (system(cmd) != 0)
		skip();
	snprintf(cmd, sizeof(cmd), "%s/cur", root);
	assert_int_equal(mkdir(cmd, 0700), 0);
	put("cur", "1600000000.M1P1Q1R1.h,S=3:2,S", "a\r\n");
	st = open_store();
	mb = open_box(st, "INBOX");
	assert_int_equal(store_mailbox_count(mb), 1);
	store_mailbox_close(&mb);
	assert_true(strstr(list_str(st), "Sent:20:1:0") != NULL);
	store_close(&st);
}

/* --- several sessions at once --- */

#define STRESS_THREADS	4
#define STRESS_ROUNDS	20

struct stress {
	int		 id;
	int		 ok;
	uint32_t	 uids[STRESS_ROUNDS * STRESS_THREADS * 2 + 8];
	char		 flags[STRESS_ROUNDS * STRESS_THREADS * 2 + 8][STORE_FLAGS_MAX];
	size_t		 n;
};

static void *
stress_run(void *arg)
{
	struct stress *t = arg;
	char why[256], name[128], body[64];
	enum store_status status;
	struct store *st = store_open(root, WHY);
	struct store_mailbox *mb;
	size_t count;

	if (st == NULL || (mb = store_mailbox_open(st, "INBOX", 0, &status, WHY)) == NULL)
		return NULL;
	count = store_mailbox_count(mb);
	for (int r = 0; r < STRESS_ROUNDS; r++) {
		struct store_changes c;
		uint32_t uidvalidity, uid;
		snprintf(body, sizeof(body), "t%d r%d\r\n", t->id, r);
		if (store_append(st, "INBOX", body, strlen(body), "", NULL, 0, 0, &uidvalidity,
		    &uid, WHY) != STORE_OK)
			return NULL;
		/* A delivery of another program, straight into new/. */
		snprintf(name, sizeof(name), "new/1700000000.M%dP%dQ1R1.h,S=3", r, t->id);
		put("", name, "d\r\n");
		if (store_mailbox_refresh(mb, &c, WHY) != 0)
			return NULL;
		if (count + c.nnew - c.nexpunged != store_mailbox_count(mb)) {
			fprintf(stderr, "count %zu + %zu - %zu != %zu\n", count, c.nnew,
			    c.nexpunged, store_mailbox_count(mb));
			return NULL;
		}
		count = store_mailbox_count(mb);
		store_changes_free(&c);
		for (size_t i = 1; i < count; i++)
			if (store_mailbox_msg(mb, i - 1)->uid >= store_mailbox_msg(mb, i)->uid)
				return NULL;
		if (count > 0) {
			uint32_t u = store_mailbox_msg(mb, (size_t)(r * 7 + t->id) % count)->uid;
			struct store_flag_change chg = { .mode = STORE_FLAGS_ADD,
			    .flags = t->id % 2 ? "S" : "F" };
			if (store_set_flags(mb, &u, 1, &chg, NULL, NULL, WHY) != STORE_OK)
				return NULL;
			if (t->id == 0 && r % 5 == 4) {
				size_t removed;
				if (store_expunge(mb, &u, 1, &removed, WHY) != 0 || removed != 1)
					return NULL;
				count--;
			}
		}
	}
	/* The others are done when the main thread asks; settle once more then. */
	store_mailbox_close(&mb);
	store_close(&st);
	t->ok = 1;
	return NULL;
}

static void
test_concurrent_sessions(void **state)
{
	struct stress t[STRESS_THREADS];
	pthread_t th[STRESS_THREADS];
	struct store *st = open_store(), *st2 = open_store();
	struct store_mailbox *mb, *mb2;
	struct store_changes c;
	char why[256];

	mb2 = open_box(st2, "INBOX");	/* a session that only watches */
	for (int i = 0; i < STRESS_THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, stress_run, &t[i]), 0);
	}
	for (int i = 0; i < STRESS_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(t[i].ok);
	}
	mb = open_box(st, "INBOX");
	/* Every append and delivery, less the 4 expunged, each with one UID. */
	assert_int_equal(store_mailbox_count(mb), STRESS_THREADS * STRESS_ROUNDS * 2 - 4);
	assert_int_equal(count_files("cur"), store_mailbox_count(mb));
	assert_int_equal(store_mailbox_uidnext(mb), STRESS_THREADS * STRESS_ROUNDS * 2 + 1);
	/* The watcher, refreshed, sees exactly the same. */
	assert_int_equal(store_mailbox_refresh(mb2, &c, WHY), 0);
	assert_int_equal(c.nnew, store_mailbox_count(mb));
	store_changes_free(&c);
	assert_int_equal(store_mailbox_count(mb2), store_mailbox_count(mb));
	for (size_t i = 0; i < store_mailbox_count(mb); i++) {
		assert_int_equal(store_mailbox_msg(mb2, i)->uid, store_mailbox_msg(mb, i)->uid);
		assert_string_equal(store_mailbox_msg(mb2, i)->flags,
		    store_mailbox_msg(mb, i)->flags);
		assert_int_equal(store_mailbox_msg(mb2, i)->modseq,
		    store_mailbox_msg(mb, i)->modseq);
	}
	store_mailbox_close(&mb);
	store_mailbox_close(&mb2);
	store_close(&st);
	store_close(&st2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_and_stable_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_index_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_escaping_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_nested_and_list_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions_survive_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_two_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_external_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_v1_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sessions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
