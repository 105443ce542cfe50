/*
 * linebuf - take bounded lines out of a libevent input buffer.
 *
 * Lines end at LF; whether the LF was preceded by CR is reported, so that
 * protocols can tell CRLF from a bare LF (SMTP smuggling). A line longer
 * than the limit is discarded up to its LF and reported once, as
 * LINEBUF_TOO_LONG, when its end has been consumed: the caller answers
 * exactly once and stays in step with the client (chasquid, Postfix).
 */
#ifndef TERN_NET_LINEBUF_H
#define TERN_NET_LINEBUF_H

#include <stddef.h>

struct evbuffer;

enum linebuf_status {
	LINEBUF_OK = 0,
	LINEBUF_NEED_MORE,
	LINEBUF_TOO_LONG,
};

struct linebuf {
	size_t	max;		/* longest content accepted, line end excluded */
	int	skipping;	/* inside an overlong line, waiting for its LF */
};

/*
 * Take the next line from in. buf must hold max + 2 bytes. On LINEBUF_OK the
 * content (without CR LF) is in buf, NUL-terminated, its length in *len_out,
 * and *crlf_out is 1 when it ended in CRLF, 0 for a bare LF.
 */
enum linebuf_status linebuf_next(struct linebuf *lb, struct evbuffer *in, char *buf,
	    size_t *len_out, int *crlf_out);

#endif
