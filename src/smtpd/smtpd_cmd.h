/*
 * smtpd_cmd - the SMTP command parser (pure: one line in, one struct out).
 *
 * The session hands over one command line without its CRLF; the parser
 * recognises the verb, checks the syntax of the arguments and the ESMTP
 * parameters of MAIL and RCPT, and on error gives the exact reply to send.
 * It knows nothing of session state: whether a command is allowed now is
 * the session's business.
 */
#ifndef TERN_SMTPD_SMTPD_CMD_H
#define TERN_SMTPD_SMTPD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "mail/addr.h"

#define SMTPD_CMD_LINE_MAX	(512 + 512)	/* RFC 5321 4.5.3.1.4 plus room for ESMTP params */
#define SMTPD_TEXT_LINE_MAX	1000		/* RFC 5321 4.5.3.1.6, including CRLF */

enum smtpd_verb {
	SMTPD_CMD_UNKNOWN = 0,
	SMTPD_CMD_HELO,
	SMTPD_CMD_EHLO,
	SMTPD_CMD_LHLO,		/* LMTP, RFC 2033 */
	SMTPD_CMD_MAIL,
	SMTPD_CMD_RCPT,
	SMTPD_CMD_DATA,
	SMTPD_CMD_BDAT,
	SMTPD_CMD_RSET,
	SMTPD_CMD_NOOP,
	SMTPD_CMD_QUIT,
	SMTPD_CMD_HELP,
	SMTPD_CMD_VRFY,
	SMTPD_CMD_EXPN,
	SMTPD_CMD_STARTTLS,
	SMTPD_CMD_AUTH,
};

enum smtpd_body {
	SMTPD_BODY_7BIT = 0,
	SMTPD_BODY_8BITMIME,
	SMTPD_BODY_BINARYMIME,
};

enum smtpd_dsn_ret {
	SMTPD_RET_NONE = 0,
	SMTPD_RET_FULL,
	SMTPD_RET_HDRS,
};

/* NOTIFY flags of RCPT (RFC 3461 4.1). */
enum smtpd_notify {
	SMTPD_NOTIFY_NEVER = 1 << 0,
	SMTPD_NOTIFY_SUCCESS = 1 << 1,
	SMTPD_NOTIFY_FAILURE = 1 << 2,
	SMTPD_NOTIFY_DELAY = 1 << 3,
};

struct smtpd_cmd {
	enum smtpd_verb	 verb;
	/* Argument text after the verb and one space, points into the line; "" when none. */
	const char	*arg;

	/* HELO/EHLO/LHLO: the client's name (a domain or address literal), points into the line. */
	const char	*helo;

	/* MAIL FROM / RCPT TO */
	struct addr	 path;

	/* MAIL parameters */
	int		 size_given;
	uint64_t	 size;
	enum smtpd_body	 body;
	int		 smtputf8;
	enum smtpd_dsn_ret ret;
	char		 envid[101];	/* xtext-decoded, RFC 3461 4.4: at most 100 chars */
	char		 auth[ADDR_PATH_MAX + 1];	/* AUTH= (RFC 4954), xtext-decoded */

	/* RCPT parameters */
	unsigned	 notify;	/* enum smtpd_notify bits, 0 = not given */
	char		 orcpt[ADDR_PATH_MAX + 16]; /* "rfc822;addr", xtext-decoded */

	/* BDAT */
	uint64_t	 chunk_size;
	int		 last;
};

/*
 * Parse line (len bytes, no CRLF, not necessarily NUL-terminated; bytes are
 * not modified). On success returns 0 and fills cmd (pointers into line,
 * valid as long as line is). On error returns -1 and sets *reply_out to a
 * complete static reply without CRLF, e.g.
 *   "500 5.5.2 Syntax error, command unrecognized"
 *   "501 5.5.4 Syntax: MAIL FROM:<address>"
 *   "501 5.1.7 Bad sender address syntax"
 *   "501 5.1.3 Bad recipient address syntax"
 *   "553 5.6.7 Non-ASCII address requires SMTPUTF8"   (MAIL without SMTPUTF8)
 *   "555 5.5.4 Unsupported parameter FOO"              (RFC 5321 4.1.1.11)
 * RCPT paths are parsed with UTF-8 allowed and path.has_utf8 set: whether
 * the transaction declared SMTPUTF8 is session state, so the session gives
 * 553 5.6.7 (RFC 6531 3.7.4.1) itself.
 * An unrecognised verb still fills cmd->verb = SMTPD_CMD_UNKNOWN and
 * returns -1 with the 500 reply. Verbs are case-insensitive.
 *
 * line must stay alive and unmodified while cmd is used; to let pointers
 * such as cmd->helo be NUL-terminated strings, the caller passes a line that
 * is followed by a NUL byte at line[len].
 */
int	smtpd_cmd_parse(const char *line, size_t len, struct smtpd_cmd *cmd,
	    const char **reply_out);

#endif
