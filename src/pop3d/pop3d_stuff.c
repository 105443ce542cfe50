/*
 * pop3d_stuff - dot-stuffing and line ends for RETR and TOP.
 *
 * Messages are stored with CRLF (DESIGN.md section 6), so most chunks are
 * copied as they are: the loop works span by span between LFs and only
 * adds a CR where the file has a bare LF and a dot where a line starts
 * with one.
 */
#include <string.h>

#include "pop3d/pop3d_stuff.h"

void
pop3d_stuff_init(struct pop3d_stuff *st, int top, uint32_t lines)
{
	memset(st, 0, sizeof(*st));
	st->bol = 1;
	st->blank = 1;
	st->top = top;
	st->lines_left = lines;
}

/* A line has ended: for TOP, see whether it was the last one wanted. */
static void
line_end(struct pop3d_stuff *st)
{
	if (st->top) {
		if (!st->in_body) {
			if (st->blank) {
				st->in_body = 1;
				if (st->lines_left == 0)
					st->done = 1;
			}
		} else if (--st->lines_left == 0)
			st->done = 1;
	}
	st->bol = 1;
	st->cr = 0;
	st->blank = 1;
}

size_t
pop3d_stuff_feed(struct pop3d_stuff *st, const char *in, size_t inlen, char *out)
{
	const char *p = in, *end = in + inlen;
	size_t o = 0;

	while (p < end && !st->done) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl != NULL ? nl : end) - p);

		if (seg > 0) {
			if (st->bol && p[0] == '.')
				out[o++] = '.';
			memcpy(out + o, p, seg);
			o += seg;
			if (seg > 1 || p[0] != '\r')
				st->blank = 0;
			st->cr = p[seg - 1] == '\r';
			st->bol = 0;
		}
		if (nl == NULL)
			break;
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		line_end(st);
		p = nl + 1;
	}
	return o;
}

size_t
pop3d_stuff_end(struct pop3d_stuff *st, char *out)
{
	size_t o = 0;

	if (!st->bol) {
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
