/*
 * pop3d_drop - deletion marks of one POP3 session.
 *
 * Nothing is removed before QUIT in the TRANSACTION state: a dropped
 * connection, a timeout or a server stop leave the maildrop as it was
 * (RFC 1939 section 6).
 */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "pop3d/pop3d_drop.h"

void
pop3d_drop_init(struct pop3d_drop *d, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->uids = xcalloc(n > 0 ? n : 1, sizeof(*d->uids));
	d->sizes = xcalloc(n > 0 ? n : 1, sizeof(*d->sizes));
	d->deleted = xcalloc(n > 0 ? n : 1, 1);
}

void
pop3d_drop_free(struct pop3d_drop *d)
{
	free(d->uids);
	free(d->sizes);
	free(d->deleted);
	memset(d, 0, sizeof(*d));
}

void
pop3d_drop_set(struct pop3d_drop *d, size_t i, uint32_t uid, uint64_t size)
{
	if (i >= d->n)
		return;
	d->total_bytes -= d->sizes[i];
	d->uids[i] = uid;
	d->sizes[i] = size;
	d->total_bytes += size;
}

enum pop3d_drop_status
pop3d_drop_get(const struct pop3d_drop *d, uint32_t msgnum, size_t *index_out)
{
	if (msgnum == 0 || msgnum > d->n)
		return POP3D_DROP_NO_SUCH;
	if (d->deleted[msgnum - 1])
		return POP3D_DROP_DELETED;
	*index_out = msgnum - 1;
	return POP3D_DROP_OK;
}

enum pop3d_drop_status
pop3d_drop_dele(struct pop3d_drop *d, uint32_t msgnum)
{
	size_t i;
	enum pop3d_drop_status st = pop3d_drop_get(d, msgnum, &i);

	if (st != POP3D_DROP_OK)
		return st;
	d->deleted[i] = 1;
	d->ndeleted++;
	d->deleted_bytes += d->sizes[i];
	return POP3D_DROP_OK;
}

void
pop3d_drop_rset(struct pop3d_drop *d)
{
	memset(d->deleted, 0, d->n > 0 ? d->n : 1);
	d->ndeleted = 0;
	d->deleted_bytes = 0;
}

void
pop3d_drop_stat(const struct pop3d_drop *d, size_t *count_out, uint64_t *bytes_out)
{
	*count_out = d->n - d->ndeleted;
	*bytes_out = d->total_bytes - d->deleted_bytes;
}

size_t
pop3d_drop_update(const struct pop3d_drop *d, uint32_t *uids_out)
{
	size_t k = 0;

	for (size_t i = 0; i < d->n; i++)
		if (d->deleted[i])
			uids_out[k++] = d->uids[i];
	return k;
}
