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
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
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
smtpd_msg_complete_headers(struct smtpd_msg *msg, const char *host)
{
	msg->complete_host = host;
}

static void
add_missing_headers(struct smtpd_msg *msg)
{
	char text[512], date[64], id[33];
	time_t now = time(NULL);
	struct tm tm;
	int n = 0;

	if (msg->complete_host == NULL)
		return;
	if (!msg->saw_date) {
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		n += snprintf(text + n, sizeof(text) - (size_t)n, "Date: %s\r\n", date);
	}
	if (!msg->saw_msgid) {
		str_random_hex(id, 16);
		n += snprintf(text + n, sizeof(text) - (size_t)n, "Message-ID: <%s@%s>\r\n",
		    id, msg->complete_host);
	}
	if (n > 0 && (size_t)n < sizeof(text))
		put(msg, text, (size_t)n);
	msg->complete_host = NULL;
}

/* Note the header fields submission cares about; From: may be folded. */
static void
header_line(struct smtpd_msg *msg, const char *line, size_t len)
{
	size_t have = strlen(msg->from_header);

	if (msg->from_state == 1 && (line[0] == ' ' || line[0] == '\t')) {
		if (have + len + 1 < sizeof(msg->from_header)) {
			memcpy(msg->from_header + have, line, len);
			msg->from_header[have + len] = '\0';
		}
		return;
	}
	if (msg->from_state == 1)
		msg->from_state = 2;
	if (len >= 9 && strncasecmp(line, "Received:", 9) == 0)
		msg->hops++;
	else if (len >= 5 && strncasecmp(line, "Date:", 5) == 0)
		msg->saw_date = 1;
	else if (len >= 11 && strncasecmp(line, "Message-ID:", 11) == 0)
		msg->saw_msgid = 1;
	else if (len >= 5 && strncasecmp(line, "From:", 5) == 0 && msg->from_state == 0) {
		size_t n = len - 5 < sizeof(msg->from_header) - 1 ? len - 5 :
		    sizeof(msg->from_header) - 1;
		memcpy(msg->from_header, line + 5, n);
		msg->from_header[n] = '\0';
		msg->from_state = 1;
	}
}

void
smtpd_msg_line(struct smtpd_msg *msg, const char *line, size_t len)
{
	if (len > SMTPD_MSG_LINE_MAX)
		msg->too_long = 1;
	if (msg->in_header) {
		if (len == 0) {
			msg->in_header = 0;
			add_missing_headers(msg);
		} else
			header_line(msg, line, len);
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
	if (msg->in_header && smtpd_msg_ok(msg))
		add_missing_headers(msg);	/* a message that is all header */
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
