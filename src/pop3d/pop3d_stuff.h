/*
 * pop3d_stuff - turn stored message bytes into a POP3 multi-line body
 * (RFC 1939 section 3): every line end becomes CRLF whatever it was in the
 * file, a line that starts with "." gets one more, and the body ends with
 * CRLF "." CRLF. For TOP it stops after the header and n body lines.
 * Pure and incremental: the session feeds file chunks as the client reads.
 */
#ifndef TERN_POP3D_POP3D_STUFF_H
#define TERN_POP3D_POP3D_STUFF_H

#include <stddef.h>
#include <stdint.h>

#define POP3D_STUFF_END_MAX	5	/* "\r\n.\r\n" */

struct pop3d_stuff {
	int		bol;		/* the next byte starts a line */
	int		cr;		/* the last byte copied was CR */
	int		top;		/* TOP: stop after header + lines */
	int		in_body;	/* TOP: the empty line has been seen */
	int		blank;		/* TOP: the current line is empty so far */
	uint32_t	lines_left;	/* TOP: body lines still to send */
	int		done;		/* TOP: everything asked for is out */
};

/* top 0: the whole message (RETR); top 1: header and lines body lines. */
void	pop3d_stuff_init(struct pop3d_stuff *, int top, uint32_t lines);
/*
 * Transform inlen bytes of in into out, which has room for 2 * inlen
 * bytes; returns the bytes written. Once done is set (TOP), the rest of
 * in and later input are ignored.
 */
size_t	pop3d_stuff_feed(struct pop3d_stuff *, const char *in, size_t inlen, char *out);
/* The end: a missing last line end, then ".\r\n". out has POP3D_STUFF_END_MAX bytes. */
size_t	pop3d_stuff_end(struct pop3d_stuff *, char *out);

#endif
