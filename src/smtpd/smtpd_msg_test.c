/*
 * Unit tests of the spool writer: CRLF storage, BDAT splitting, limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd/smtpd_msg.h"

static char dir[] = "/tmp/tern-msg-test-XXXXXX";

static char *
slurp(struct smtpd_msg *msg, size_t *len)
{
	FILE *f = fopen(msg->path, "rb");
	static char buf[8192];

	assert_non_null(f);
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void
open_msg(struct smtpd_msg *msg, uint64_t max)
{
	static int n;
	char name[32];

	snprintf(name, sizeof(name), "m%d", n++);
	assert_int_equal(smtpd_msg_open(msg, dir, name, max), 0);
}

static void
test_lines(void **state)
{
	struct smtpd_msg msg;
	size_t len;

	open_msg(&msg, 1000);
	smtpd_msg_prepend(&msg, "X-Trace: 1\r\n", 12);
	smtpd_msg_line(&msg, "Received: a", 11);
	smtpd_msg_line(&msg, "Subject: x", 10);
	smtpd_msg_line(&msg, "", 0);
	smtpd_msg_line(&msg, "Received: not a header", 22);
	assert_int_equal(smtpd_msg_finish(&msg), 0);
	assert_string_equal(slurp(&msg, &len),
	    "X-Trace: 1\r\nReceived: a\r\nSubject: x\r\n\r\nReceived: not a header\r\n");
	assert_int_equal(msg.hops, 1);
	assert_int_equal(msg.file_size, len);
	assert_int_equal(msg.body_size, len - 12);
	assert_true(smtpd_msg_ok(&msg));
	smtpd_msg_discard(&msg);
	assert_int_equal(access(msg.path, F_OK), -1);
}

/* BDAT bytes split anywhere must store the same as whole lines. */
static void
test_feed_pieces(void **state)
{
	const char *input = "A: 1\r\nB: bare\nC: cr\rmid\r\n\r\nbody\r";
	const char *want = "A: 1\r\nB: bare\r\nC: cr\rmid\r\n\r\nbody\r\r\n";
	size_t total = strlen(input);

	for (size_t cut = 0; cut <= total; cut++) {
		struct smtpd_msg msg;
		size_t len;

		open_msg(&msg, 1000);
		smtpd_msg_feed(&msg, input, cut);
		smtpd_msg_feed(&msg, input + cut, total - cut);
		assert_int_equal(smtpd_msg_finish(&msg), 0);
		assert_string_equal(slurp(&msg, &len), want);
		smtpd_msg_discard(&msg);
	}
}

static void
test_limits(void **state)
{
	struct smtpd_msg msg;
	char line[1200];

	memset(line, 'x', sizeof(line));
	open_msg(&msg, 1 << 20);
	smtpd_msg_line(&msg, line, 998);
	assert_true(smtpd_msg_ok(&msg));
	smtpd_msg_line(&msg, line, 999);
	assert_false(smtpd_msg_ok(&msg));
	assert_true(msg.too_long);
	smtpd_msg_discard(&msg);

	open_msg(&msg, 1 << 20);
	smtpd_msg_feed(&msg, line, 600);
	smtpd_msg_feed(&msg, line, 600);
	smtpd_msg_feed(&msg, "\r\n", 2);
	assert_true(msg.too_long);
	smtpd_msg_discard(&msg);

	open_msg(&msg, 100);
	for (int i = 0; i < 10; i++)
		smtpd_msg_line(&msg, line, 20);
	assert_true(msg.too_big);
	smtpd_msg_finish(&msg);
	size_t len;
	slurp(&msg, &len);
	assert_true(len <= 100);	/* nothing stored past the limit */
	smtpd_msg_discard(&msg);

	open_msg(&msg, 1 << 20);
	for (int i = 0; i <= SMTPD_MSG_MAX_HOPS; i++)
		smtpd_msg_line(&msg, "Received: hop", 13);
	assert_false(smtpd_msg_ok(&msg));
	smtpd_msg_discard(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_feed_pieces),
		cmocka_unit_test(test_limits),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
