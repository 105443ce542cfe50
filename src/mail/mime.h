/*
 * mime - MIME structure of a message in memory (RFC 2045, 2046, 5322).
 *
 * mime_parse() makes one linear pass over a complete message and builds a
 * tree of parts that records where each header and body lies in the
 * message (byte offsets) plus the MIME fields IMAP BODYSTRUCTURE reports.
 * The message bytes are not copied: the tree refers to them by offset, so
 * the caller keeps them (e.g. an mmap) while it uses section addressing.
 * The tree owns its strings; free it with mime_free().
 */
#ifndef TERN_MAIL_MIME_H
#define TERN_MAIL_MIME_H

#include <stddef.h>

/*
 * Limits. Input is untrusted, so each one bounds time or memory; a message
 * beyond them still parses, with the excess treated as opaque data.
 */
/* Multipart and message/rfc822 nesting; deeper entities become leaves. */
#define MIME_DEPTH_MAX		50
/* Parts in one message; later ones are not split out. */
#define MIME_PARTS_MAX		10000
/* Bytes of a header block searched for fields (the block may be longer). */
#define MIME_HEADER_MAX		(512 * 1024)
/* Bytes of one field value kept after unfolding. */
#define MIME_FIELD_MAX		(64 * 1024)
/* Parameters kept per Content-Type or Content-Disposition field. */
#define MIME_PARAMS_MAX		64
/* RFC 2046 5.1.1 allows 70 characters; longer ones seen in the wild. */
#define MIME_BOUNDARY_MAX	200

struct mime_param {
	char	*name;			/* as written */
	char	*value;			/* unquoted */
};

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0,	/* children hold the body parts */
	MIME_PART_MESSAGE = 1 << 1,	/* message holds the encapsulated one */
	MIME_PART_OPAQUE = 1 << 2,	/* limits reached: not split further */
	MIME_PART_NO_TYPE = 1 << 3,	/* no usable Content-Type: defaults */
};

struct mime_part {
	unsigned	 flags;		/* enum mime_part_flags */
	unsigned	 depth;		/* 0 for the message itself */
	/* Offsets from the start of the message. */
	size_t		 header_off;
	size_t		 header_len;	/* with the empty line, if any */
	size_t		 body_off;
	size_t		 body_len;	/* without the CRLF before a boundary */
	size_t		 body_lines;	/* LFs in the body, +1 for a last bare line */

	/*
	 * MIME fields, unfolded; NULL when absent. type and subtype are the
	 * effective ones (defaults applied), in lower case.
	 */
	char		*type;
	char		*subtype;
	struct mime_param *params;
	size_t		 nparams;
	char		*id;
	char		*description;
	char		*encoding;	/* Content-Transfer-Encoding token */
	char		*md5;
	char		*disposition;	/* the disposition type */
	struct mime_param *disp_params;
	size_t		 ndisp_params;
	char		*language;	/* raw list, e.g. "en, fr" */
	char		*location;

	struct mime_part *parent;
	struct mime_part *children;	/* first child of a multipart */
	struct mime_part *next;		/* next sibling */
	size_t		 nchildren;
	struct mime_part *message;	/* root of an encapsulated message */
};

struct mime_message {
	const char	*data;		/* the caller's bytes, borrowed */
	size_t		 len;
	struct mime_part *root;		/* the message as a whole */
	size_t		 nparts;
	int		 limited;	/* some limit was reached */
};

/*
 * Parse the message data (len bytes, need not be terminated, may hold NUL
 * bytes). Never fails on bad MIME: broken parts get defaults. Returns a
 * tree that refers to data, to be freed with mime_free().
 */
struct mime_message *mime_parse(const char *data, size_t len);
void	mime_free(struct mime_message **msg);

/* Child number n (1-based) of a multipart, or NULL. */
struct mime_part *mime_part_child(const struct mime_part *p, size_t n);
/* Value of parameter name (case-insensitive) of the Content-Type, or NULL. */
const char *mime_part_param(const struct mime_part *p, const char *name);

#endif
