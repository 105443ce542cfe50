/*
 * imap_search - evaluates a parsed SEARCH program (imap_parse.h) against
 * one message. Pure code: the caller supplies what the index knows and,
 * when imap_search_needs() asks for it, the message bytes.
 */
#ifndef TERN_IMAPD_IMAP_SEARCH_H
#define TERN_IMAPD_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imapd/imap_parse.h"

enum imap_search_need {
	IMAP_SEARCH_NEED_INDEX = 0,	/* flags, sizes, dates, UIDs suffice */
	IMAP_SEARCH_NEED_HEADER,	/* HEADER/FROM/.../SENT*: the header block */
	IMAP_SEARCH_NEED_MESSAGE,	/* BODY/TEXT: the whole message */
};

struct imap_search_msg {
	uint32_t		 seq, uid;
	unsigned		 flags;		/* IMAP_FLAG_* */
	const char *const	*keywords;
	size_t			 nkeywords;
	uint64_t		 size, modseq;
	time_t			 internaldate;
	const char		*data;		/* per imap_search_needs(): header or */
	size_t			 len;		/* whole message; else NULL, 0 */
};

/* What the program needs to be evaluated. */
enum imap_search_need imap_search_needs(const struct imap_search_key *key);

/*
 * 1 when msg matches key, else 0. max_seq and max_uid give "*" its value.
 * Dates compare by day in UTC (the internal date's day, the Date: header's
 * own day and zone for SENT*, RFC 3501 6.4.4); a missing or unparsable Date:
 * never matches SENT*. HEADER/BODY/TEXT are case-insensitive substring
 * matches (ASCII and Latin-1 letters fold; other UTF-8 compares as it is)
 * over the unfolded header value as written or with its RFC 2047
 * encoded-words decoded (HEADER with "" matches any message that has the
 * field), the body after the header (BODY), or header and body (TEXT);
 * quoted-printable and base64 text parts are decoded before matching.
 */
int	imap_search_match(const struct imap_search_key *key, const struct imap_search_msg *msg,
	    uint32_t max_seq, uint32_t max_uid);

#endif
