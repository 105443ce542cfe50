/*
 * Unit tests of the transfer decoders: quoted-printable escapes and soft
 * line breaks, malformed escapes kept, base64 across line ends and junk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mail/transfer.h"

static void
expect(size_t (*fn)(const char *, size_t, char *), const char *in, const char *want)
{
	char out[256];
	size_t n = fn(in, strlen(in), out);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void
test_qp(void **state)
{
	expect(transfer_qp_decode, "Gr=C3=BC=c3=9Fe", "Gr\xc3\xbc\xc3\x9f" "e");
	expect(transfer_qp_decode, "soft=\r\nbreak", "softbreak");
	expect(transfer_qp_decode, "soft= \t\nbreak", "softbreak");
	expect(transfer_qp_decode, "keep =ZZ and =4", "keep =ZZ and =4");
	expect(transfer_qp_decode, "end=", "end=");
	expect(transfer_qp_decode, "a=3D=\r\n", "a=");
}

static void
test_base64(void **state)
{
	expect(transfer_base64_decode, "aGVsbG8gd29y\r\nbGQ=\r\n", "hello world");
	expect(transfer_base64_decode, "aGVs bG8*!", "hello");
	expect(transfer_base64_decode, "AQID", "\x01\x02\x03");
	expect(transfer_base64_decode, "", "");
	expect(transfer_base64_decode, "QQ==QUJD", "A");	/* stops at padding */
	assert_int_equal(transfer_hex_value('f'), 15);
	assert_int_equal(transfer_hex_value('G'), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
