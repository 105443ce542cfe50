/*
 * Unit tests of the queue file format, the enqueue, the retry schedule and
 * the DSN bounce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "queue/queue_dsn.h"
#include "queue/queue_file.h"
#include "queue/queue_scheduler.h"

static char root[PATH_MAX];

static int
setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/tern-queue-test-XXXXXX");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void
sample(struct queue_envelope *env)
{
	memset(env, 0, sizeof(*env));
	queue_file_new_id(env->id, sizeof(env->id));
	snprintf(env->from, sizeof(env->from), "alice@example.test");
	env->created = 1700000000;
	env->next_try = 1700000060;
	env->attempts = 2;
	env->ret = QUEUE_RET_FULL;
	snprintf(env->envid, sizeof(env->envid), "%s", "ENV-1");
	snprintf(env->last_error, sizeof(env->last_error), "%s", "421 4.3.2 busy\r\nsecond line");
	assert_int_equal(queue_envelope_add_rcpt(env, "bob@example.org"), 0);
	assert_int_equal(queue_envelope_add_rcpt(env, "\"a b\"@example.net"), 0);
	env->rcpts[1].state = QUEUE_RCPT_FAILED;
	env->rcpts[1].notify = QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY;
	snprintf(env->rcpts[1].orcpt, sizeof(env->rcpts[1].orcpt), "%s", "rfc822;a@example.net");
	snprintf(env->rcpts[1].status, sizeof(env->rcpts[1].status), "%s", "5.1.1");
	snprintf(env->rcpts[1].diag, sizeof(env->rcpts[1].diag), "%s", "550 5.1.1 no\tsuch user");
}

static void
test_format_parse_round_trip(void **state)
{
	struct queue_envelope env, back;
	const char *err = NULL;
	char *text, *full;
	size_t len;

	sample(&env);
	assert_int_equal(queue_envelope_format(&env, &text, &len), 0);
	full = malloc(len + 6);
	memcpy(full, text, len);
	memcpy(full + len, "Body\r\n", 6);
	assert_int_equal(queue_envelope_parse(full, len + 6, &back, &err), 0);
	assert_string_equal(back.id, env.id);
	assert_string_equal(back.from, "alice@example.test");
	assert_int_equal(back.created, 1700000000);
	assert_int_equal(back.next_try, 1700000060);
	assert_int_equal(back.attempts, 2);
	assert_int_equal(back.ret, QUEUE_RET_FULL);
	assert_string_equal(back.envid, "ENV-1");
	/* control bytes in free text are cleaned, never break the format */
	assert_string_equal(back.last_error, "421 4.3.2 busy  second line");
	assert_int_equal(back.nrcpts, 2);
	assert_string_equal(back.rcpts[1].address, "\"a b\"@example.net");
	assert_int_equal(back.rcpts[1].state, QUEUE_RCPT_FAILED);
	assert_int_equal(back.rcpts[1].notify, QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY);
	assert_string_equal(back.rcpts[1].orcpt, "rfc822;a@example.net");
	assert_string_equal(back.rcpts[1].diag, "550 5.1.1 no such user");
	assert_int_equal(back.msg_offset, len);
	assert_int_equal(back.msg_size, 6);
	queue_envelope_free(&back);
	queue_envelope_free(&env);
	free(text);
	free(full);
}

static void
test_null_sender(void **state)
{
	struct queue_envelope env, back;
	const char *err;
	char *text;
	size_t len;

	sample(&env);
	env.from[0] = '\0';
	assert_int_equal(queue_envelope_format(&env, &text, &len), 0);
	assert_int_equal(queue_envelope_parse(text, len, &back, &err), 0);
	assert_string_equal(back.from, "");
	queue_envelope_free(&back);
	queue_envelope_free(&env);
	free(text);
}

static void
expect_bad(const char *text)
{
	struct queue_envelope env;
	const char *err = NULL;

	assert_int_equal(queue_envelope_parse(text, strlen(text), &env, &err), -1);
	assert_non_null(err);
	assert_null(env.rcpts);
}

static void
test_parse_rejects_damage(void **state)
{
	expect_bad("");
	expect_bad("garbage\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\n");	/* no end */
	expect_bad("tern-queue 1\ncreated 1\n\n");			/* no id */
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\n\n");		/* no created */
	expect_bad("tern-queue 1\nid ../etc/passwd\ncreated 1\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated x\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\nbogus 1\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\nrcpt X 0\ta@b\t\t\t\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\nrcpt P 0\ta@b\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\nrcpt P 0\t\t\t\t\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 1\nrcpt P 0\ta@b\t\t\t\textra\n\n");
	expect_bad("tern-queue 1\nid 0123456789ABCDEF\ncreated 99999999999999999999\n\n");
}

static void
test_parse_minimal(void **state)
{
	const char *t = "tern-queue 1\nid 0123456789ABCDEF\ncreated 5\n"
	    "rcpt P 0\ta@b.example\t\t\t\n\nmsg";
	struct queue_envelope env;
	const char *err;

	assert_int_equal(queue_envelope_parse(t, strlen(t), &env, &err), 0);
	assert_int_equal(env.nrcpts, 1);
	assert_int_equal(env.rcpts[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(env.msg_size, 3);
	queue_envelope_free(&env);
}

static void
test_enqueue_load_rewrite(void **state)
{
	struct queue_envelope env, back;
	const char *err = NULL;
	char *msg, path[PATH_MAX + 64];
	size_t len;
	struct stat st;

	sample(&env);
	assert_int_equal(queue_enqueue(root, &env, -1, 0, "Subject: x\r\n\r\nhi\r\n", 18,
	    &err), 0);
	assert_int_equal(queue_file_load(root, env.id, &back, &err), 0);
	assert_int_equal(back.nrcpts, 2);
	assert_int_equal(back.msg_size, 18);
	assert_int_equal(queue_file_read_message(root, &back, &msg, &len), 0);
	assert_int_equal(len, 18);
	assert_memory_equal(msg, "Subject: x\r\n\r\nhi\r\n", 18);
	free(msg);

	/* new state, same message, no tmp file left behind */
	back.rcpts[0].state = QUEUE_RCPT_DONE;
	back.attempts = 3;
	assert_int_equal(queue_file_rewrite(root, &back, &err), 0);
	queue_envelope_free(&back);
	assert_int_equal(queue_file_load(root, env.id, &back, &err), 0);
	assert_int_equal(back.rcpts[0].state, QUEUE_RCPT_DONE);
	assert_int_equal(back.attempts, 3);
	assert_int_equal(queue_file_read_message(root, &back, &msg, &len), 0);
	assert_memory_equal(msg, "Subject: x\r\n\r\nhi\r\n", 18);
	free(msg);
	snprintf(path, sizeof(path), "%s/.tmp-%s", root, env.id);
	assert_int_equal(stat(path, &st), -1);

	/* removed meanwhile: a rewrite does not bring it back */
	assert_int_equal(queue_file_remove(root, env.id), 0);
	assert_int_equal(queue_file_rewrite(root, &back, &err), -1);
	assert_int_equal(errno, ENOENT);
	queue_envelope_free(&back);
	assert_int_equal(queue_file_load(root, env.id, &back, &err), -1);
	assert_int_equal(errno, ENOENT);
	queue_envelope_free(&env);
}

static void
test_load_corrupt(void **state)
{
	struct queue_envelope env;
	const char *err = NULL;
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/00000000ABCDEF01", root);
	f = fopen(path, "w");
	fputs("tern-queue 1\nid 00000000ABCDEF01\ncreated 1\nrcpt P\n\nbody", f);
	fclose(f);
	assert_int_equal(queue_file_load(root, "00000000ABCDEF01", &env, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(err);
	/* and a name that is not an id is never opened */
	assert_int_equal(queue_file_load(root, "../x", &env, &err), -1);
}

static void
test_enqueue_two_step_abort(void **state)
{
	struct queue_envelope env, back;
	struct queue_enqueue q;
	const char *err;

	sample(&env);
	assert_int_equal(queue_enqueue_prepare(&q, root, &env, -1, 0, "x\r\n", 3, &err), 0);
	assert_int_equal(queue_file_load(root, env.id, &back, &err), -1);	/* not visible */
	queue_enqueue_abort(&q);
	assert_int_equal(access(q.tmp, F_OK), -1);
	queue_envelope_free(&env);
}

static void
test_backoff(void **state)
{
	assert_int_equal(queue_scheduler_backoff(1), 60);
	assert_int_equal(queue_scheduler_backoff(2), 300);
	assert_int_equal(queue_scheduler_backoff(3), 900);
	assert_int_equal(queue_scheduler_backoff(4), 1800);
	assert_int_equal(queue_scheduler_backoff(5), 3600);
	assert_int_equal(queue_scheduler_backoff(50), 3600);
	/* never past the lifetime, never in the past */
	assert_int_equal(queue_scheduler_next(1000, 1000, 1, 5 * 86400), 1060);
	assert_int_equal(queue_scheduler_next(0, 5 * 86400 - 10, 9, 5 * 86400), 5 * 86400);
	assert_int_equal(queue_scheduler_next(0, 5 * 86400 + 10, 9, 5 * 86400), 5 * 86400 + 10);
	assert_false(queue_scheduler_expired(0, 5 * 86400 - 1, 5 * 86400));
	assert_true(queue_scheduler_expired(0, 5 * 86400, 5 * 86400));
}

/* The one delay notice: when it is due, and the try that sends it on time. */
static void
test_delay_notice_schedule(void **state)
{
	time_t h4 = QUEUE_DELAY_NOTICE_DEFAULT;

	assert_int_equal(h4, 4 * 3600);
	assert_false(queue_scheduler_delay_due(1000, 1000 + h4 - 1, h4, 0));
	assert_true(queue_scheduler_delay_due(1000, 1000 + h4, h4, 0));
	assert_true(queue_scheduler_delay_due(1000, 1000 + 3 * h4, h4, 0));
	/* sent once, never again */
	assert_false(queue_scheduler_delay_due(1000, 1000 + 3 * h4, h4, 1));
	/* 0 = no notices */
	assert_false(queue_scheduler_delay_due(1000, 1000 + 3 * h4, 0, 0));
	/* an hourly retry at 3h30 would send it at 4h30: the try moves to 4h */
	assert_int_equal(queue_scheduler_next_notice(1000 + 3 * 3600 + 1800 + 3600, 1000,
	    1000 + 3 * 3600 + 1800, h4, 0), 1000 + h4);
	/* a try before the notice is due stays */
	assert_int_equal(queue_scheduler_next_notice(1000 + 60, 1000, 1000, h4, 0), 1060);
	/* already sent, past it, or off: unchanged */
	assert_int_equal(queue_scheduler_next_notice(1000 + 5 * 3600, 1000, 1000 + 3 * 3600,
	    h4, 1), 1000 + 5 * 3600);
	assert_int_equal(queue_scheduler_next_notice(1000 + 6 * 3600, 1000, 1000 + 5 * 3600,
	    h4, 0), 1000 + 6 * 3600);
	assert_int_equal(queue_scheduler_next_notice(1000 + 6 * 3600, 1000, 1000, 0, 0),
	    1000 + 6 * 3600);
}

static void
test_dsn_delay(void **state)
{
	struct queue_envelope env, back;
	unsigned char which[2] = { 0, 1 };
	const char *orig = "Subject: hello there\r\n\r\nSECRET BODY\r\n";
	const char *err;
	char *out, *text;
	size_t len, tlen;

	sample(&env);
	env.ret = QUEUE_RET_FULL;	/* RET is about failures: headers only */
	snprintf(env.rcpts[1].status, sizeof(env.rcpts[1].status), "4.4.1");
	queue_dsn_build_delay(&env, which, "mail.example.test", orig, strlen(orig),
	    1700000100, 1700000100 + 86400, &out, &len);
	assert_non_null(strstr(out, "Subject: Delayed Mail (still being retried)\r\n"));
	assert_non_null(strstr(out, "Action: delayed\r\nStatus: 4.4.1\r\n"));
	assert_non_null(strstr(out, "Will-Retry-Until: Wed, 15 Nov 2023 22:15:00 +0000\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n"));
	assert_null(strstr(out, "SECRET BODY"));
	assert_null(strstr(out, "Action: failed"));
	free(out);

	/* the mark survives a round trip through the file format */
	env.delay_notified = 1;
	assert_int_equal(queue_envelope_format(&env, &text, &tlen), 0);
	assert_int_equal(queue_envelope_parse(text, tlen, &back, &err), 0);
	assert_int_equal(back.delay_notified, 1);
	queue_envelope_free(&back);
	free(text);
	queue_envelope_free(&env);
}

static void
test_dsn(void **state)
{
	struct queue_envelope env;
	unsigned char which[2] = { 0, 1 };
	const char *orig = "Received: from x\r\nSubject: hello there\r\n\r\nSECRET BODY\r\n";
	char *out;
	size_t len;

	sample(&env);
	env.ret = QUEUE_RET_HDRS;
	queue_dsn_build(&env, which, "mail.example.test", orig, strlen(orig), 1700000100,
	    &out, &len);
	assert_non_null(strstr(out, "To: <alice@example.test>\r\n"));
	assert_non_null(strstr(out, "Content-Type: multipart/report; report-type=delivery-status"));
	assert_non_null(strstr(out, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(out, "Reporting-MTA: dns; mail.example.test\r\n"));
	assert_non_null(strstr(out, "Original-Envelope-Id: ENV-1\r\n"));
	assert_non_null(strstr(out, "Final-Recipient: rfc822; \"a b\"@example.net\r\n"));
	assert_non_null(strstr(out, "Original-Recipient: rfc822;a@example.net\r\n"));
	assert_non_null(strstr(out, "Action: failed\r\nStatus: 5.1.1\r\n"));
	assert_non_null(strstr(out, "Diagnostic-Code: smtp; 550 5.1.1"));
	assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(out, "Subject: hello there\r\n"));
	assert_null(strstr(out, "SECRET BODY"));
	assert_null(strstr(out, "bob@example.org"));	/* not reported */
	assert_int_equal(strlen(out), len);
	free(out);

	env.ret = QUEUE_RET_FULL;
	queue_dsn_build(&env, which, "mail.example.test", orig, strlen(orig), 1700000100,
	    &out, &len);
	assert_non_null(strstr(out, "Content-Type: message/rfc822\r\n"));
	assert_non_null(strstr(out, "SECRET BODY"));
	free(out);
	queue_envelope_free(&env);
}

static void
test_dsn_enqueue(void **state)
{
	struct queue_envelope env, bounce;
	unsigned char which[2] = { 1, 1 };
	char id[QUEUE_ID_MAX];
	const char *err;

	sample(&env);
	env.rcpts[0].notify = QUEUE_NOTIFY_NEVER;
	assert_int_equal(queue_dsn_enqueue(root, &env, which, "h.example", "S: x\r\n\r\n", 8,
	    1700000100, id, &err), 0);
	assert_int_not_equal(id[0], '\0');
	assert_int_equal(queue_file_load(root, id, &bounce, &err), 0);
	assert_string_equal(bounce.from, "");
	assert_int_equal(bounce.nrcpts, 1);
	assert_string_equal(bounce.rcpts[0].address, "alice@example.test");
	queue_envelope_free(&bounce);

	/* never a bounce for a bounce */
	env.from[0] = '\0';
	assert_int_equal(queue_dsn_enqueue(root, &env, which, "h.example", "x", 1, 1, id,
	    &err), 0);
	assert_string_equal(id, "");
	queue_envelope_free(&env);
}

static void
test_dsn_success(void **state)
{
	struct queue_envelope env;
	unsigned char which[2] = { QUEUE_DSN_RELAYED, QUEUE_DSN_DELIVERED };
	const char *orig = "Subject: hello there\r\n\r\nSECRET BODY\r\n";
	char *out;
	size_t len;

	sample(&env);
	env.ret = QUEUE_RET_FULL;	/* for failures only (RFC 3461 4.3) */
	snprintf(env.rcpts[0].status, sizeof(env.rcpts[0].status), "2.0.0");
	snprintf(env.rcpts[0].diag, sizeof(env.rcpts[0].diag), "250 2.0.0 Ok (from mx[1.2.3.4])");
	env.rcpts[1].status[0] = '\0';
	queue_dsn_build_success(&env, which, "mail.example.test", orig, strlen(orig),
	    1700000100, &out, &len);
	assert_non_null(strstr(out, "Subject: Successful Mail Delivery Report\r\n"));
	assert_non_null(strstr(out, "Final-Recipient: rfc822; bob@example.org\r\n"
	    "Action: relayed\r\nStatus: 2.0.0\r\n"
	    "Diagnostic-Code: smtp; 250 2.0.0 Ok (from mx[1.2.3.4])\r\n"));
	/* a status of another class is not shown as a success */
	assert_non_null(strstr(out, "Action: delivered\r\nStatus: 2.0.0\r\n"));
	assert_non_null(strstr(out, "Original-Envelope-Id: ENV-1\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(out, "Subject: hello there\r\n"));
	assert_null(strstr(out, "SECRET BODY"));
	assert_null(strstr(out, "message/rfc822"));
	assert_int_equal(strlen(out), len);
	free(out);
	queue_envelope_free(&env);
}

static void
test_dsn_success_only_when_asked(void **state)
{
	struct queue_envelope env, report;
	unsigned char which[2] = { QUEUE_DSN_DELIVERED, QUEUE_DSN_DELIVERED };
	char id[QUEUE_ID_MAX];
	const char *err;

	sample(&env);
	/* NOTIFY absent and NOTIFY=FAILURE,DELAY: no success report */
	env.rcpts[0].notify = 0;
	assert_int_equal(queue_dsn_enqueue_success(root, &env, which, "h.example",
	    "S: x\r\n\r\n", 8, 1700000100, id, &err), 0);
	assert_string_equal(id, "");
	env.rcpts[1].notify = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE;
	assert_int_equal(queue_dsn_enqueue_success(root, &env, which, "h.example",
	    "S: x\r\n\r\n", 8, 1700000100, id, &err), 0);
	assert_int_not_equal(id[0], '\0');
	assert_int_equal(queue_file_load(root, id, &report, &err), 0);
	assert_string_equal(report.from, "");
	assert_string_equal(report.rcpts[0].address, "alice@example.test");
	queue_envelope_free(&report);
	/* the null sender gets nothing */
	env.from[0] = '\0';
	assert_int_equal(queue_dsn_enqueue_success(root, &env, which, "h.example", "x", 1, 1,
	    id, &err), 0);
	assert_string_equal(id, "");
	queue_envelope_free(&env);
}

/* Load a config with a [queue] section; 0 or -1 with why. */
static int
load_queue_conf(struct conf *conf, const char *queue, char *why, size_t whylen)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/t.conf", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[queue]\n%s\n", queue);
	fclose(f);
	return conf_load(conf, path, why, whylen);
}

static void
test_conf_smarthost(void **state)
{
	static const struct {
		const char	*value;
		const char	*host;		/* NULL: refused */
		int		 port, mx;
	} cases[] = {
		{ "smarthost = relay.example.net", "relay.example.net", 25, 1 },
		{ "smarthost = relay.example.net:587", "relay.example.net", 587, 1 },
		{ "smarthost = [relay.example.net]:587", "relay.example.net", 587, 0 },
		{ "smarthost = [relay.example.net]", "relay.example.net", 25, 0 },
		{ "smarthost = 192.0.2.1:2525", "192.0.2.1", 2525, 0 },
		{ "smarthost = [2001:db8::1]:465", "2001:db8::1", 465, 0 },
		{ "smarthost =", NULL, 25, 0 },
		{ "smarthost = [relay", NULL, 0, 0 },
		{ "smarthost = relay:", NULL, 0, 0 },
		{ "smarthost = relay:70000", NULL, 0, 0 },
		{ "smarthost = 2001:db8::1", NULL, 0, 0 },
		{ "smarthost = re lay", NULL, 0, 0 },
		{ "smarthost = [relay]x", NULL, 0, 0 },
	};
	struct conf conf;
	char why[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = load_queue_conf(&conf, cases[i].value, why, sizeof(why));
		if (cases[i].host == NULL && cases[i].port == 0) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(why, "[queue] smarthost"));
		} else {
			assert_int_equal(rc, 0);
			if (cases[i].host == NULL)
				assert_null(conf.queue_smarthost);
			else
				assert_string_equal(conf.queue_smarthost, cases[i].host);
			assert_int_equal(conf.queue_smarthost_port, cases[i].port);
			assert_int_equal(conf.queue_smarthost_mx, cases[i].mx);
		}
		conf_free(&conf);
	}
	assert_int_equal(load_queue_conf(&conf, "smarthost = a.example\nsmarthost_user = u\n"
	    "smarthost_password_file = pw", why, sizeof(why)), 0);
	assert_string_equal(conf.queue_smarthost_user, "u");
	assert_non_null(strstr(conf.queue_smarthost_password_file, "/pw"));	/* made absolute */
	assert_int_equal(conf.queue_max_per_destination, 10);
	conf_free(&conf);
	assert_int_equal(load_queue_conf(&conf, "smarthost = a.example\nsmarthost_user = u",
	    why, sizeof(why)), -1);
	conf_free(&conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse_round_trip),
		cmocka_unit_test(test_null_sender),
		cmocka_unit_test(test_parse_rejects_damage),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test_setup_teardown(test_enqueue_load_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_two_step_abort, setup, teardown),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_delay_notice_schedule),
		cmocka_unit_test(test_dsn_delay),
		cmocka_unit_test_setup_teardown(test_dsn_enqueue, setup, teardown),
		cmocka_unit_test(test_dsn_success),
		cmocka_unit_test_setup_teardown(test_dsn_success_only_when_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_smarthost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
