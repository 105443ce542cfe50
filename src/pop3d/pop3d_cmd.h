/*
 * pop3d_cmd - the POP3 command parser (pure: one line in, one struct out).
 *
 * The session hands over one command line without its CRLF; the parser
 * finds the keyword (RFC 1939, RFC 2449, RFC 2595, RFC 5034), checks the
 * number and syntax of the arguments and on error gives the -ERR reply.
 * Whether a command is allowed in the current state is the session's
 * business.
 */
#ifndef TERN_POP3D_POP3D_CMD_H
#define TERN_POP3D_POP3D_CMD_H

#include <stddef.h>
#include <stdint.h>

#define POP3D_CMD_LINE_MAX	255	/* RFC 2449 section 4, CRLF included */
#define POP3D_ARG_MAX		255	/* RFC 2449 says 40; addresses are longer */
#define POP3D_MSGNUM_MAX	2147483647u

enum pop3d_verb {
	POP3D_CMD_UNKNOWN = 0,
	POP3D_CMD_USER,
	POP3D_CMD_PASS,
	POP3D_CMD_APOP,
	POP3D_CMD_AUTH,
	POP3D_CMD_STLS,
	POP3D_CMD_CAPA,
	POP3D_CMD_STAT,
	POP3D_CMD_LIST,
	POP3D_CMD_RETR,
	POP3D_CMD_DELE,
	POP3D_CMD_NOOP,
	POP3D_CMD_RSET,
	POP3D_CMD_QUIT,
	POP3D_CMD_TOP,
	POP3D_CMD_UIDL,
};

struct pop3d_cmd {
	enum pop3d_verb	 verb;
	/* LIST, UIDL: 1 when a message number was given. RETR, DELE, TOP: always. */
	int		 has_msg;
	uint32_t	 msg;		/* message number as given (may be 0: no such message) */
	uint32_t	 lines;		/* TOP: body lines */
	/*
	 * USER: the name; PASS: everything after "PASS " (spaces included);
	 * AUTH: the mechanism, NULL when none (list them). NUL-terminated
	 * inside the caller's line.
	 */
	const char	*arg;
	const char	*initial;	/* AUTH: initial response, NULL when none */
};

/*
 * Parse line (len bytes, no CRLF; the buffer holds len + 1). It is
 * modified in place (NULs end the arguments); out's pointers point into
 * it. Returns 0, or -1 with the complete reply ("-ERR ...") in *err_out
 * (static) and out->verb set when the keyword was known.
 */
int	pop3d_cmd_parse(char *line, size_t len, struct pop3d_cmd *out,
	    const char **err_out);
/* The keyword of a verb ("RETR"), "?" for UNKNOWN. Static. */
const char *pop3d_cmd_name(enum pop3d_verb verb);

#endif
