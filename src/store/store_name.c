/*
 * store_name - mailbox names and the Maildir++ folders that hold them.
 *
 * A name is UTF-8 with levels separated by STORE_DELIM; "INBOX" (any case,
 * first level) is the Maildir root. Folder "A/B" is the directory
 * "<root>/.A.B": Maildir++ separates levels with '.', so each level
 * percent-escapes '.', '%', '/' and control bytes (%XX, upper case hex).
 * The result never holds '/' and never starts a level with '.', so no
 * name reaches outside the root or onto cur/, new/, tmp/ or "..".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/str.h"
#include "store/store_private.h"

#define DIR_NAME_MAX	255	/* NAME_MAX of the folder directory entry */

static const struct {
	const char	*name;
	unsigned	 use;
} well_known[] = {
	{ "Sent", STORE_USE_SENT },
	{ "Drafts", STORE_USE_DRAFTS },
	{ "Trash", STORE_USE_TRASH },
	{ "Junk", STORE_USE_JUNK },
	{ "Archive", STORE_USE_ARCHIVE },
};

unsigned
store_name_special_use(const char *name)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (strcmp(name, well_known[i].name) == 0)
			return well_known[i].use;
	return 0;
}

/* Length of the UTF-8 sequence at p (shortest form, no surrogates), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
must_escape(unsigned char c)
{
	return c == '.' || c == '%' || c == '/' || c < 0x20 || c == 0x7f;
}

/* Bytes of the escaped level [s, s + len). */
static size_t
escaped_len(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += must_escape((unsigned char)s[i]) ? 3 : 1;
	return n;
}

/* Check one level [s, s + len): not empty, not "." or "..", no control bytes, UTF-8. */
static int
level_ok(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n;
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if ((n = utf8_len(p)) == 0 || i + n > len)
			return 0;
		i += n;
	}
	return 1;
}

int
store_name_normalise(const char *name, char *out, size_t outlen)
{
	size_t len = strlen(name), dirlen = 1, start = 0;

	if (len > 0 && name[len - 1] == STORE_DELIM)
		len--;
	if (len == 0 || len >= STORE_NAME_MAX || len >= outlen)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != STORE_DELIM)
			continue;
		if (!level_ok(name + start, i - start))
			return -1;
		dirlen += escaped_len(name + start, i - start) + (start > 0);
		start = i + 1;
	}
	if (dirlen > DIR_NAME_MAX)
		return -1;
	memcpy(out, name, len);
	out[len] = '\0';
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == STORE_DELIM))
		memcpy(out, "INBOX", 5);
	return 0;
}

int
store_name_path(const struct store *st, const char *name, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;
	int n;

	if (strcmp(name, "INBOX") == 0)
		return str_copy(out, st->maildir, outlen);
	n = snprintf(out, outlen, "%s/.", st->maildir);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	o = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (o + 4 > outlen)
			return -1;
		if (*p == STORE_DELIM) {
			out[o++] = '.';
		} else if (must_escape(*p)) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
store_name_from_dir(const char *entry, char *out, size_t outlen)
{
	char raw[STORE_NAME_MAX], canon[STORE_NAME_MAX];
	struct store fake;
	char empty[1] = "";
	char again[PATH_MAX];
	size_t o = 0;

	if (entry[0] != '.' || entry[1] == '\0')
		return -1;
	for (const char *p = entry + 1; *p != '\0'; p++) {
		int c = (unsigned char)*p;
		if (o + 1 >= sizeof(raw))
			return -1;
		if (*p == '.') {
			c = STORE_DELIM;
		} else if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi << 4 | lo;
			p += 2;
		}
		raw[o++] = (char)c;
	}
	raw[o] = '\0';
	if (store_name_normalise(raw, canon, sizeof(canon)) == -1 ||
	    strcmp(canon, "INBOX") == 0)
		return -1;
	/* Only the canonical spelling: ".inbox.x" or "%2e" would name another folder. */
	memset(&fake, 0, sizeof(fake));
	fake.maildir = empty;
	if (store_name_path(&fake, canon, again, sizeof(again)) == -1 ||
	    strcmp(again + 1, entry) != 0)
		return -1;
	return str_copy(out, canon, outlen);
}
