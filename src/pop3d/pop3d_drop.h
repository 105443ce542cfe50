/*
 * pop3d_drop - the maildrop as one POP3 session sees it (RFC 1939 section
 * 5): message numbers, sizes, UIDs and the deletion marks that take effect
 * only in the UPDATE state. Pure bookkeeping, no I/O, unit-tested.
 */
#ifndef TERN_POP3D_POP3D_DROP_H
#define TERN_POP3D_POP3D_DROP_H

#include <stddef.h>
#include <stdint.h>

struct pop3d_drop {
	size_t		 n;		/* messages at login; numbers are 1..n */
	uint32_t	*uids;
	uint64_t	*sizes;
	unsigned char	*deleted;
	size_t		 ndeleted;
	uint64_t	 total_bytes;
	uint64_t	 deleted_bytes;
};

enum pop3d_drop_status {
	POP3D_DROP_OK = 0,
	POP3D_DROP_NO_SUCH,	/* 0 or beyond n: "-ERR no such message" */
	POP3D_DROP_DELETED,	/* marked deleted: "-ERR message deleted" */
};

/* Room for n messages, none deleted; free with pop3d_drop_free(). */
void	pop3d_drop_init(struct pop3d_drop *, size_t n);
void	pop3d_drop_free(struct pop3d_drop *);
/* Message number i + 1 has uid and size. */
void	pop3d_drop_set(struct pop3d_drop *, size_t i, uint32_t uid, uint64_t size);
/* Resolve a message number to its 0-based index, refusing deleted ones. */
enum pop3d_drop_status pop3d_drop_get(const struct pop3d_drop *, uint32_t msgnum,
	    size_t *index_out);
/* DELE: mark msgnum deleted. */
enum pop3d_drop_status pop3d_drop_dele(struct pop3d_drop *, uint32_t msgnum);
/* RSET: unmark everything. */
void	pop3d_drop_rset(struct pop3d_drop *);
/* STAT: messages and octets not marked deleted. */
void	pop3d_drop_stat(const struct pop3d_drop *, size_t *count_out, uint64_t *bytes_out);
/*
 * UPDATE: the UIDs to expunge, in message order, into uids_out (room for
 * ndeleted); returns how many.
 */
size_t	pop3d_drop_update(const struct pop3d_drop *, uint32_t *uids_out);

#endif
