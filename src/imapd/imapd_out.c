/*
 * imapd_out - what pool jobs write for the client: lines, strings,
 * mailbox names in the client's encoding, flag lists.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "imapd/imapd_private.h"
#include "imapd/mutf7.h"

void
imapd_out(struct imapd_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
}

void
imapd_out_bytes(struct imapd_session *s, const void *p, size_t n)
{
	evbuffer_add(s->out, p, n);
}

void
imapd_out_tagged(struct imapd_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->end_pending)
		return;		/* a BYE is out: the session ends without a tagged reply */
	evbuffer_add_printf(s->out, "%s ", s->tag);
	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	evbuffer_add(s->out, "\r\n", 2);
}

void
imapd_out_set(struct imapd_session *s, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (j > i)
			imapd_out(s, "%s%u:%u", i > 0 ? "," : "", v[i], v[j]);
		else
			imapd_out(s, "%s%u", i > 0 ? "," : "", v[i]);
		i = j + 1;
	}
}

void
imapd_out_string(struct imapd_session *s, const char *str)
{
	size_t n = strlen(str);
	int quotable = n <= 1024;

	for (size_t i = 0; i < n && quotable; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '\r' || c == '\n' || (c >= 0x80 && !s->utf8))
			quotable = 0;
	}
	if (!quotable) {
		evbuffer_add_printf(s->out, "{%zu}\r\n", n);
		evbuffer_add(s->out, str, n);
		return;
	}
	evbuffer_add(s->out, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (str[i] == '"' || str[i] == '\\')
			evbuffer_add(s->out, "\\", 1);
		evbuffer_add(s->out, &str[i], 1);
	}
	evbuffer_add(s->out, "\"", 1);
}

void
imapd_out_mailbox(struct imapd_session *s, const char *name)
{
	char enc[STORE_NAME_MAX * 3];

	if (s->utf8 || mutf7_encode(name, enc, sizeof(enc)) == -1) {
		imapd_out_string(s, name);
		return;
	}
	imapd_out_string(s, enc);
}

int
imapd_mailbox_arg(struct imapd_session *s, const char *arg, char *out, size_t outlen,
    const char **err)
{
	char dec[STORE_NAME_MAX];

	if (!s->utf8) {
		if (mutf7_decode(arg, dec, sizeof(dec)) == -1) {
			*err = "Mailbox name is not valid modified UTF-7";
			return -1;
		}
		arg = dec;
	}
	if (store_name_normalise(arg, out, outlen) == -1) {
		*err = "Invalid mailbox name";
		return -1;
	}
	return 0;
}

static const struct {
	char		 letter;
	const char	*name;
} system_flags[] = {
	{ 'R', "\\Answered" }, { 'D', "\\Draft" }, { 'F', "\\Flagged" },
	{ 'T', "\\Deleted" }, { 'S', "\\Seen" },
};

void
imapd_out_flags(struct imapd_session *s, const struct store_msg *m)
{
	const char *const *names;
	size_t nkw = store_mailbox_keywords(s->mb, &names);
	int first = 1;

	evbuffer_add(s->out, "(", 1);
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if (strchr(m->flags, system_flags[i].letter) == NULL)
			continue;
		evbuffer_add_printf(s->out, "%s%s", first ? "" : " ", system_flags[i].name);
		first = 0;
	}
	for (size_t i = 0; i < nkw && i < 64; i++) {
		if (!(m->keywords & ((uint64_t)1 << i)))
			continue;
		evbuffer_add_printf(s->out, "%s%s", first ? "" : " ", names[i]);
		first = 0;
	}
	evbuffer_add(s->out, ")", 1);
}

const char *
imapd_store_code(enum store_status st)
{
	switch (st) {
	case STORE_OK:
		return "OK";
	case STORE_NOT_FOUND:
		return "NO [NONEXISTENT] No such mailbox";
	case STORE_EXISTS:
		return "NO [ALREADYEXISTS] Mailbox already exists";
	case STORE_BAD_NAME:
		return "NO [CANNOT] Invalid mailbox name";
	case STORE_HAS_CHILDREN:
		return "NO [HASCHILDREN] Mailbox has children, delete them first";
	case STORE_NOT_ALLOWED:
		return "NO [CANNOT] Not allowed for this mailbox";
	case STORE_LIMIT:
		return "NO [LIMIT] Too many keywords in this mailbox";
	case STORE_IN_USE:
		return "NO [INUSE] Mailbox is in use";
	default:
		return "NO [SERVERBUG] Internal error, try again later";
	}
}
