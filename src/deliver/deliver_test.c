/*
 * Unit tests of Maildir naming, usage and the all-or-nothing commit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/deliver.h"
#include "deliver/maildir.h"

static char root[PATH_MAX];

static int
setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/tern-deliver-test-XXXXXX");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
spool(struct deliver_job *job, const char *text)
{
	snprintf(job->spool_path, sizeof(job->spool_path), "%s/spool-%d", root, rand());
	job->spool_fd = open(job->spool_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(job->spool_fd >= 0);
	assert_int_equal(write(job->spool_fd, text, strlen(text)), (ssize_t)strlen(text));
	job->size = strlen(text);
}

static void
test_path(void **state)
{
	char out[PATH_MAX];

	assert_int_equal(maildir_path(out, sizeof(out), "/d", "example.test", "bob"), 0);
	assert_string_equal(out, "/d/mail/example.test/bob");
	assert_int_equal(maildir_path(out, sizeof(out), "/d", "example.test", "../x"), -1);
	assert_int_equal(maildir_path(out, sizeof(out), "/d", "..", "bob"), -1);
	assert_int_equal(maildir_path(out, sizeof(out), "/d", "a/b", "bob"), -1);
	assert_int_equal(maildir_path(out, sizeof(out), "/d", "example.test", ""), -1);
	assert_int_equal(maildir_path(out, sizeof(out), "/d", "example.test", "a\nb"), -1);
	assert_int_equal(maildir_path(out, 10, "/d", "example.test", "bob"), -1);
}

static void
test_unique_name(void **state)
{
	char a[256], b[256];

	maildir_unique_name(a, sizeof(a), 1234);
	maildir_unique_name(b, sizeof(b), 1234);
	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, ",S=1234"));
	assert_null(strchr(a, '/'));
	assert_null(strchr(a, ':'));
}

static void
test_commit_two_targets(void **state)
{
	struct deliver_target targets[2];
	struct deliver_job job = { 0 };
	char p[PATH_MAX + 300];
	struct stat st;

	memset(targets, 0, sizeof(targets));
	maildir_path(targets[0].path, PATH_MAX, root, "example.test", "alice");
	maildir_path(targets[1].path, PATH_MAX, root, "example.test", "bob");
	spool(&job, "Subject: hi\r\n\r\nbody\r\n");
	job.targets = targets;
	job.ntargets = 2;
	deliver_commit(&job);
	assert_int_equal(job.status, DELIVER_OK);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/new/%s", targets[i].path, targets[i].file);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size, (off_t)job.size);
		snprintf(p, sizeof(p), "%s/cur", targets[i].path);
		assert_int_equal(stat(p, &st), 0);
	}
	assert_int_equal(access(job.spool_path, F_OK), -1);	/* spool name dropped */
	close(job.spool_fd);

	uint64_t used;
	assert_int_equal(maildir_usage(targets[0].path, &used), 0);
	assert_int_equal(used, job.size);
	/* A message in an IMAP folder (Maildir++ ".Archive") counts too. */
	snprintf(p, sizeof(p), "%s/.Archive", targets[0].path);
	assert_int_equal(maildir_ensure(p), 0);
	snprintf(p, sizeof(p), "%s/.Archive/cur/1.M1P1Q1R1.h,S=100:2,S", targets[0].path);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(maildir_usage(targets[0].path, &used), 0);
	assert_int_equal(used, job.size + 100);
}

static void
test_quota(void **state)
{
	struct deliver_target t = { .quota = 30 };
	struct deliver_job job = { 0 };

	maildir_path(t.path, PATH_MAX, root, "example.test", "carol");
	job.targets = &t;
	job.ntargets = 1;
	spool(&job, "Subject: 1\r\n\r\n0123456789\r\n");	/* 26 bytes: fits */
	deliver_commit(&job);
	assert_int_equal(job.status, DELIVER_OK);
	close(job.spool_fd);
	spool(&job, "Subject: 2\r\n\r\nx\r\n");		/* 26 + 17 > 30 */
	deliver_commit(&job);
	assert_int_equal(job.status, DELIVER_OVERQUOTA);
	assert_int_equal(access(job.spool_path, F_OK), -1);
	close(job.spool_fd);
	char dir[PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s/new", t.path);
	assert_int_equal(count_files(dir), 1);
}

static void
test_failure_rolls_back(void **state)
{
	struct deliver_target targets[2];
	struct deliver_job job = { 0 };
	char blocker[PATH_MAX + 32], dir[PATH_MAX + 8];

	memset(targets, 0, sizeof(targets));
	maildir_path(targets[0].path, PATH_MAX, root, "example.test", "dave");
	/* The second mailbox cannot be created: a file stands where its domain dir would be. */
	snprintf(blocker, sizeof(blocker), "%s/mail/blocked.test", root);
	int fd = open(blocker, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	maildir_path(targets[1].path, PATH_MAX, root, "blocked.test", "eve");
	spool(&job, "Subject: x\r\n\r\ny\r\n");
	job.targets = targets;
	job.ntargets = 2;
	deliver_commit(&job);
	assert_int_equal(job.status, DELIVER_TEMPFAIL);
	assert_non_null(strstr(job.why, "blocked.test"));
	snprintf(dir, sizeof(dir), "%s/new", targets[0].path);
	assert_int_equal(count_files(dir), 0);	/* first copy removed again */
	assert_int_equal(access(job.spool_path, F_OK), -1);
	close(job.spool_fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_unique_name),
		cmocka_unit_test(test_commit_two_targets),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_failure_rolls_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
