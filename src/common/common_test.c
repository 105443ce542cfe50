/*
 * Unit tests of the common layer: sizes, durations, printable, cidr, conf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cidr.h"
#include "common/conf.h"
#include "common/str.h"

static void
test_parse_size(void **state)
{
	static const struct { const char *in; int rc; uint64_t want; } cases[] = {
		{ "0", 0, 0 }, { "1024", 0, 1024 }, { "50M", 0, 50ULL << 20 },
		{ "512k", 0, 512ULL << 10 }, { "1G", 0, 1ULL << 30 }, { "7b", 0, 7 },
		{ "", -1, 0 }, { "M", -1, 0 }, { "5X", -1, 0 }, { "5MM", -1, 0 },
		{ "-1", -1, 0 }, { "99999999999999999999", -1, 0 },
		{ "18446744073709551615G", -1, 0 }, { " 5", -1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc = str_parse_size(cases[i].in, &v);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].want);
	}
}

static void
test_parse_duration(void **state)
{
	uint64_t v;

	assert_int_equal(str_parse_duration("300", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(str_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(str_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(str_parse_duration("5d", &v), 0);
	assert_int_equal(v, 432000);
	assert_int_equal(str_parse_duration("5w", &v), -1);
}

static void
test_printable(void **state)
{
	char out[32];

	assert_string_equal(str_printable(out, sizeof(out), "ab\r\n\\", 5), "ab\\x0d\\x0a\\x5c");
	/* Truncation never splits an escape and always terminates. */
	str_printable(out, 6, "\x01\x02", 2);
	assert_string_equal(out, "\\x01");
}

static struct sockaddr_storage
sa_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

static void
test_cidr(void **state)
{
	struct cidr_list list = { 0 };
	const char *bad = NULL;

	assert_int_equal(cidr_list_parse(&list, "127.0.0.0/8, ::1/128 10.1.2.0/23", &bad), 0);
	assert_int_equal(list.count, 3);
	struct sockaddr_storage a = sa_of("127.4.5.6");
	assert_true(cidr_list_match(&list, (struct sockaddr *)&a));
	a = sa_of("::ffff:127.0.0.1");
	assert_true(cidr_list_match(&list, (struct sockaddr *)&a));
	a = sa_of("10.1.3.255");
	assert_true(cidr_list_match(&list, (struct sockaddr *)&a));
	a = sa_of("10.1.4.0");
	assert_false(cidr_list_match(&list, (struct sockaddr *)&a));
	a = sa_of("::2");
	assert_false(cidr_list_match(&list, (struct sockaddr *)&a));
	assert_true(cidr_is_loopback((struct sockaddr *)&a) == 0);

	assert_int_equal(cidr_list_parse(&list, "127.0.0.0/33", &bad), -1);
	assert_string_equal(bad, "127.0.0.0/33");
	assert_int_equal(list.count, 3);	/* unchanged on error */
	assert_int_equal(cidr_list_parse(&list, "1.2.3.4/x", &bad), -1);
	assert_int_equal(cidr_list_parse(&list, "example.com", &bad), -1);
	cidr_list_clear(&list);
}

static char *
write_conf(const char *text)
{
	char *path = strdup("/tmp/tern-conf-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_conf_load(void **state)
{
	struct conf conf;
	char why[512];
	char *path = write_conf(
	    "[server]\nhostname = mx.example.test\ndata_dir = data\n"
	    "[listen]\nsmtp = 127.0.0.1:2525\nimap =\n"
	    "[smtp]\nmax_message_size = 10M\nmynetworks = 192.0.2.0/24\n"
	    "recipient_delimiter = -\ntimeout_command = 5m\n"
	    "[auth]\nallow_plaintext_loopback = yes\n");

	assert_int_equal(conf_load(&conf, path, why, sizeof(why)), 0);
	assert_string_equal(conf.hostname, "mx.example.test");
	assert_string_equal(conf.data_dir, "/tmp/data");
	assert_string_equal(conf.listen[CONF_LISTEN_SMTP], "127.0.0.1:2525");
	assert_null(conf.listen[CONF_LISTEN_IMAP]);
	assert_int_equal(conf.max_message_size, 10 << 20);
	assert_int_equal(conf.mynetworks.count, 1);
	assert_int_equal(conf.recipient_delimiter, '-');
	assert_int_equal(conf.timeout_command, 300);
	assert_int_equal(conf.allow_plaintext_loopback, 1);
	assert_int_equal(conf.max_recipients, 100);	/* default kept */
	conf_free(&conf);
	unlink(path);
	free(path);
}

static void
test_conf_errors(void **state)
{
	static const char *bad[] = {
		"[smtp]\nmax_message_size = lots\n",
		"[smtp]\nno_such_key = 1\n",
		"[nosuch]\nkey = 1\n",
		"[smtp]\nmynetworks = 300.0.0.1\n",
		"[queue]\nremote_port = 70000\n",
		"[auth]\nallow_plaintext_loopback = maybe\n",
		"[server]\nlog_level = loud\n",
		"this is not ini\n",
	};
	struct conf conf;
	char why[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = write_conf(bad[i]);
		why[0] = '\0';
		assert_int_equal(conf_load(&conf, path, why, sizeof(why)), -1);
		assert_non_null(strstr(why, path));
		assert_null(strchr(why, '\n'));
		conf_free(&conf);
		unlink(path);
		free(path);
	}
	assert_int_equal(conf_load(&conf, "/nonexistent/tern.conf", why, sizeof(why)), -1);
	conf_free(&conf);
}

static void
test_buf(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];
	char *s;

	s = buf_take(&b);
	assert_string_equal(s, "");
	free(s);
	buf_addstr(&b, "ab");
	buf_addch(&b, 'c');
	buf_add(&b, "d\0e", 3);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "abcd\0e", 7);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]%d", big, 42);	/* longer than any fixed line buffer */
	assert_int_equal(b.len, 6 + 1 + 4999 + 1 + 2);
	assert_int_equal(b.p[b.len], '\0');
	s = buf_take(&b);
	assert_null(b.p);
	assert_int_equal(strlen(s + 6), 4999 + 4);
	free(s);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_conf_load),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
