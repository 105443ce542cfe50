/*
 * fuzz_imap_cmd - libFuzzer target for the IMAP command parser, modified
 * UTF-7 and SEARCH evaluation.
 *
 * The input is one whole command as the session hands it over (literals
 * inline). It is parsed with and without UTF8=ACCEPT straight from
 * libFuzzer's buffer, so ASan sees any read past len. Beyond "no crash":
 * errors are terminated one-line text, tags are valid, APPEND's message
 * lies inside the input, ranges are normalised, and a parsed SEARCH
 * program runs against a fixed message and against the input as a
 * message. The input as a mailbox name must survive modified UTF-7 in
 * both directions: a name that decodes encodes back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imapd/imap_parse.h"
#include "imapd/imap_search.h"
#include "imapd/mutf7.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_msg[] =
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "From: Fred <fred@example.com>\r\n"
    "Subject: hello =?utf-8?q?w=C3=B6rld?=\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9 soft=\r\nbreak\r\n"
    "--b\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGI+aGk8L2I+\r\n"
    "--b--\r\n";

static const char *const keywords[] = { "$Junk", "work" };

static void
check_set(const struct imap_seqset *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ranges[i].lo == 0 || set->ranges[i].lo > set->ranges[i].hi)
			abort();
}

static void
check_key(const struct imap_search_key *k, unsigned depth)
{
	if (depth > IMAP_SEARCH_DEPTH_MAX + 1)
		abort();
	if ((k->op == IMAP_SK_OR && k->nkids != 2) || (k->op == IMAP_SK_NOT && k->nkids != 1))
		abort();
	if (k->op == IMAP_SK_SEQSET || k->op == IMAP_SK_UID)
		check_set(&k->set);
	for (size_t i = 0; i < k->nkids; i++)
		check_key(k->kids[i], depth + 1);
}

static void
run_search(const struct imap_cmd *cmd, const uint8_t *data, size_t size)
{
	struct imap_search_msg msg;

	check_key(cmd->search, 0);
	memset(&msg, 0, sizeof(msg));
	msg.seq = 3;
	msg.uid = 42;
	msg.flags = IMAP_FLAG_SEEN | IMAP_FLAG_RECENT;
	msg.keywords = keywords;
	msg.nkeywords = 2;
	msg.size = sizeof(fixed_msg) - 1;
	msg.modseq = 5;
	msg.internaldate = 760686745;
	if (imap_search_needs(cmd->search) != IMAP_SEARCH_NEED_INDEX) {
		msg.data = fixed_msg;
		msg.len = sizeof(fixed_msg) - 1;
	}
	if (imap_search_match(cmd->search, &msg, 7, 100) > 1)
		abort();
	msg.data = (const char *)data;
	msg.len = size;
	if (imap_search_match(cmd->search, &msg, 3, 42) > 1)
		abort();
}

static void
check_cmd(const struct imap_cmd *cmd, const uint8_t *data, size_t size)
{
	const char *m = cmd->message;

	if (cmd->verb == IMAP_APPEND && (m < (const char *)data ||
	    m + cmd->message_len > (const char *)data + size))
		abort();
	if (cmd->nitems > IMAP_FETCH_ITEMS_MAX || cmd->id_npairs > IMAP_ID_PAIRS_MAX ||
	    cmd->npatterns > IMAP_PATTERNS_MAX)
		abort();
	for (size_t i = 0; i < cmd->nitems; i++)
		if (cmd->items[i].name == NULL || strlen(cmd->items[i].name) == 0)
			abort();
	check_set(&cmd->set);
	if (cmd->verb == IMAP_SEARCH) {
		if (cmd->search == NULL)
			abort();
		run_search(cmd, data, size);
	}
}

static void
parse(const uint8_t *data, size_t size, int utf8)
{
	struct imap_cmd cmd;
	char err[256];
	size_t n;
	int rc;

	memset(err, 'x', sizeof(err));
	rc = imap_parse_command((const char *)data, size, utf8, &cmd, err, sizeof(err));
	n = strlen(cmd.tag);
	if (n == 0 || n > IMAP_TAG_MAX || strchr(cmd.tag, ' ') != NULL)
		abort();
	if (rc == 0)
		check_cmd(&cmd, data, size);
	else if (rc != -1 || memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0' ||
	    strpbrk(err, "\r\n") != NULL)
		abort();
	imap_cmd_free(&cmd);
}

static void
check_mutf7(const uint8_t *data, size_t size)
{
	size_t cap = size * 4 + 16;
	char *s, *a, *b;
	int n;

	if ((s = malloc(size + 1)) == NULL || (a = malloc(cap)) == NULL ||
	    (b = malloc(cap)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	/* Strict decoding: every accepted name is in its one canonical form. */
	if (mutf7_decode(s, a, cap) >= 0) {
		if (mutf7_encode(a, b, cap) < 0 || strcmp(b, s) != 0)
			abort();
	}
	n = mutf7_encode(s, a, cap);
	if ((n >= 0) != mutf7_utf8_valid(s, strlen(s)))
		abort();
	if (n >= 0 && (mutf7_decode(a, b, cap) < 0 || strcmp(b, s) != 0))
		abort();
	free(s);
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tag[IMAP_TAG_MAX + 1];
	uint64_t lsize;
	int nonsync, r;

	if (size > 65536)
		return 0;
	parse(data, size, 0);
	parse(data, size, 1);
	r = imap_literal_marker((const char *)data, size, &lsize, &nonsync);
	if (r < -1 || r > 1 || (r == 1 && lsize > UINT32_MAX))
		abort();
	imap_parse_tag((const char *)data, size, tag, sizeof(tag));
	if (strlen(tag) == 0 || strlen(tag) > IMAP_TAG_MAX)
		abort();
	(void)imap_is_auth_cancel((const char *)data, size);
	check_mutf7(data, size);
	return 0;
}
