/*
 * Unit tests of the mailbox store on a temporary Maildir: UIDs in arrival
 * order and stable across opens, new/ moved to cur/, flag renames found,
 * expunge, the exclusive lock, and a rebuild of a damaged index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
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
	assert_null(store_mailbox_open(st2, "Junk", 0, &status, why, sizeof(why)));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_and_stable_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_index_rebuilt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
