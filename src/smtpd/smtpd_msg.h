/*
 * smtpd_msg - write one incoming message into a spool file.
 *
 * The session pushes DATA lines (already dot-unstuffed, line end removed)
 * or raw BDAT bytes; the writer stores every line with CRLF, enforces the
 * size and line-length limits and counts Received: headers for loop
 * protection. Nothing is reported to the client from here: the flags are
 * read once the message ends, so the session always stays in step.
 */
#ifndef TERN_SMTPD_SMTPD_MSG_H
#define TERN_SMTPD_SMTPD_MSG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define SMTPD_MSG_MAX_HOPS	50	/* Received: headers before a loop is declared */
#define SMTPD_MSG_LINE_MAX	998	/* RFC 5321 4.5.3.1.6, without CRLF */

struct smtpd_msg {
	int		 fd;
	char		 path[PATH_MAX];
	uint64_t	 max;		/* body size limit, bytes */
	uint64_t	 body_size;	/* bytes of the client's message as stored */
	uint64_t	 file_size;	/* everything written, our headers included */
	int		 in_header;	/* still inside the header block */
	int		 hops;		/* Received: headers seen */
	int		 too_long;	/* a line over SMTPD_MSG_LINE_MAX */
	int		 too_big;	/* over max */
	int		 io_error;	/* errno of a failed write, 0 if none */
	char		*out;		/* write buffer */
	size_t		 out_len;
	char		 carry[SMTPD_MSG_LINE_MAX + 2];	/* BDAT: partial line */
	size_t		 carry_len;
	int		 carry_cr;	/* BDAT: carry ended in CR */
	int		 carry_overlong;	/* BDAT: current line already too long */

	/* What submission needs to know of the client's header block. */
	char		 from_header[1024];	/* first From: value, unfolded, "" if none */
	int		 from_state;		/* 0 not seen, 1 reading it, 2 done */
	int		 saw_date;
	int		 saw_msgid;
	const char	*complete_host;		/* add Date:/Message-ID: if missing */
};

/*
 * Create spool_dir/<name> exclusively and start a message with at most max
 * bytes of body. 0, or -1 with errno.
 */
int	smtpd_msg_open(struct smtpd_msg *msg, const char *spool_dir, const char *name,
	    uint64_t max);
/*
 * Submission (RFC 6409 8.2, 8.3): add Date: and Message-ID: (with host) at
 * the end of the client's header block when it has none. host must
 * outlive the message.
 */
void	smtpd_msg_complete_headers(struct smtpd_msg *msg, const char *host);
/* Write text as is (our own trace headers); not counted against max. */
void	smtpd_msg_prepend(struct smtpd_msg *msg, const char *text, size_t len);
/* One line of the client's message, without its line end. */
void	smtpd_msg_line(struct smtpd_msg *msg, const char *line, size_t len);
/* Raw BDAT bytes: split at LF here, bare LF stored as CRLF. */
void	smtpd_msg_feed(struct smtpd_msg *msg, const char *data, size_t len);
/* Flush everything (a BDAT message without final line end gets CRLF). 0 or -1. */
int	smtpd_msg_finish(struct smtpd_msg *msg);
/* 1 when the message can be delivered: no limit hit and no write error. */
int	smtpd_msg_ok(const struct smtpd_msg *msg);
/* Close the file and remove its name (if still there). */
void	smtpd_msg_discard(struct smtpd_msg *msg);
/* Free the buffer; leaves fd and file to the caller (after a commit). */
void	smtpd_msg_release(struct smtpd_msg *msg);

#endif
