/*
 * smtpd_msg - the spool writer behind DATA and BDAT.
 *
 * Lines are collected in a 64 KiB buffer and written in large pieces; the
 * fsync that makes the message durable happens later, in the commit on a
 * pool thread (deliver.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/xalloc.h"
#include "smtpd/smtpd_msg.h"

#define OUT_SIZE	65536

int
smtpd_msg_open(struct smtpd_msg *msg, const char *spool_dir, const char *name,
    uint64_t max)
{
	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	if (snprintf(msg->path, sizeof(msg->path), "%s/%s", spool_dir, name) >=
	    (int)sizeof(msg->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	msg->fd = open(msg->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (msg->fd == -1)
		return -1;
	msg->max = max;
	msg->in_header = 1;
	msg->out = xmalloc(OUT_SIZE);
	return 0;
}

static void
flush_out(struct smtpd_msg *msg)
{
	if (msg->out_len > 0 && msg->io_error == 0 &&
	    fs_write_all(msg->fd, msg->out, msg->out_len) == -1)
		msg->io_error = errno;
	msg->out_len = 0;
}

static void
put(struct smtpd_msg *msg, const char *data, size_t len)
{
	if (msg->io_error != 0)
		return;
	msg->file_size += len;
	if (len > OUT_SIZE - msg->out_len) {
		flush_out(msg);
		if (len >= OUT_SIZE) {
			if (fs_write_all(msg->fd, data, len) == -1)
				msg->io_error = errno;
			return;
		}
	}
	memcpy(msg->out + msg->out_len, data, len);
	msg->out_len += len;
}

void
smtpd_msg_prepend(struct smtpd_msg *msg, const char *text, size_t len)
{
	put(msg, text, len);
}

void
smtpd_msg_line(struct smtpd_msg *msg, const char *line, size_t len)
{
	if (len > SMTPD_MSG_LINE_MAX)
		msg->too_long = 1;
	if (msg->in_header) {
		if (len == 0)
			msg->in_header = 0;
		else if (len >= 9 && strncasecmp(line, "Received:", 9) == 0)
			msg->hops++;
	}
	msg->body_size += len + 2;
	if (msg->body_size > msg->max)
		msg->too_big = 1;
	/* After any failure the rest is read and dropped, not stored. */
	if (!smtpd_msg_ok(msg))
		return;
	put(msg, line, len);
	put(msg, "\r\n", 2);
}

static void
carry_add(struct smtpd_msg *msg, const char *data, size_t len)
{
	if (msg->carry_overlong || msg->carry_len + len > SMTPD_MSG_LINE_MAX) {
		msg->carry_overlong = 1;
		return;
	}
	memcpy(msg->carry + msg->carry_len, data, len);
	msg->carry_len += len;
}

static void
carry_line_done(struct smtpd_msg *msg)
{
	if (msg->carry_overlong)
		msg->too_long = 1;
	else
		smtpd_msg_line(msg, msg->carry, msg->carry_len);
	msg->carry_len = 0;
	msg->carry_overlong = 0;
}

void
smtpd_msg_feed(struct smtpd_msg *msg, const char *data, size_t len)
{
	const char *end = data + len;

	while (data < end) {
		const char *lf = memchr(data, '\n', (size_t)(end - data));
		const char *stop = lf != NULL ? lf : end;
		size_t text = (size_t)(stop - data);

		/* A CR that ended the previous piece is text, unless this piece
		 * starts with the LF that makes it a CRLF. */
		if (msg->carry_cr) {
			msg->carry_cr = 0;
			if (!(lf != NULL && text == 0))
				carry_add(msg, "\r", 1);
		}
		if (text > 0 && data[text - 1] == '\r') {
			text--;
			if (lf == NULL)
				msg->carry_cr = 1;
		}
		carry_add(msg, data, text);
		if (lf == NULL)
			break;
		carry_line_done(msg);
		data = lf + 1;
	}
}

int
smtpd_msg_finish(struct smtpd_msg *msg)
{
	if (msg->carry_cr) {
		carry_add(msg, "\r", 1);
		msg->carry_cr = 0;
	}
	if (msg->carry_len > 0 || msg->carry_overlong)
		carry_line_done(msg);
	flush_out(msg);
	return msg->io_error == 0 ? 0 : -1;
}

int
smtpd_msg_ok(const struct smtpd_msg *msg)
{
	return !msg->too_long && !msg->too_big && msg->io_error == 0 &&
	    msg->hops <= SMTPD_MSG_MAX_HOPS;
}

void
smtpd_msg_discard(struct smtpd_msg *msg)
{
	if (msg->fd != -1) {
		close(msg->fd);
		unlink(msg->path);
		msg->fd = -1;
	}
	smtpd_msg_release(msg);
}

void
smtpd_msg_release(struct smtpd_msg *msg)
{
	free(msg->out);
	msg->out = NULL;
}
