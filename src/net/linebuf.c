/*
 * linebuf - bounded line splitting over an evbuffer.
 */
#include <event2/buffer.h>

#include "net/linebuf.h"

enum linebuf_status
linebuf_next(struct linebuf *lb, struct evbuffer *in, char *buf, size_t *len_out,
    int *crlf_out)
{
	struct evbuffer_ptr eol;
	size_t eol_len = 0, line_len, content;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		size_t have = evbuffer_get_length(in);
		/* Room for the content and a CR: anything more can never fit. */
		if (have > lb->max + 1) {
			evbuffer_drain(in, have);
			lb->skipping = 1;
		}
		return LINEBUF_NEED_MORE;
	}
	line_len = (size_t)eol.pos;	/* bytes before the LF */
	if (lb->skipping || line_len > lb->max + 1) {
		evbuffer_drain(in, line_len + 1);
		lb->skipping = 0;
		return LINEBUF_TOO_LONG;
	}
	evbuffer_remove(in, buf, line_len + 1);
	*crlf_out = line_len > 0 && buf[line_len - 1] == '\r';
	content = line_len - (size_t)*crlf_out;
	if (content > lb->max)
		return LINEBUF_TOO_LONG;
	buf[content] = '\0';
	*len_out = content;
	return LINEBUF_OK;
}
