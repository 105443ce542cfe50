/*
 * queue_file - envelope text format and the durable enqueue.
 *
 * The envelope is line-oriented text so that an administrator can read
 * a queue file with less(1):
 *
 *	tern-queue 1
 *	id 0000019A2B3C4D5E6F70A1B2
 *	from alice@example.test		(empty value: null sender)
 *	created 1700000000
 *	next 1700000060
 *	last 1700000000
 *	attempts 1
 *	ret hdrs			(default, full or hdrs)
 *	envid text
 *	error last error text
 *	rcpt P 0\tbob@example.org\torcpt\t4.4.1\tdiagnostic text
 *	(empty line, then the message)
 *
 * Values never hold CR, LF or TAB: free text is cleaned when written and
 * addresses with control bytes are refused. The parser is strict: an
 * unknown key or a malformed line makes the file damaged, never guessed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/str.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "queue/queue_file.h"

#define QUEUE_MAGIC	"tern-queue 1"

void
queue_file_new_id(char *out, size_t outlen)
{
	struct timespec ts;
	char rnd[9];

	clock_gettime(CLOCK_REALTIME, &ts);
	str_random_hex(rnd, 4);
	snprintf(out, outlen, "%011llX%05lX%s", (unsigned long long)ts.tv_sec,
	    (unsigned long)(ts.tv_nsec / 10000) & 0xFFFFFul, rnd);
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
}

int
queue_file_id_ok(const char *name)
{
	size_t n = strlen(name);

	if (n < 8 || n >= QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'A' && name[i] <= 'F')))
			return 0;
	return 1;
}

int
queue_envelope_add_rcpt(struct queue_envelope *env, const char *address)
{
	struct queue_rcpt *r;

	if (env->nrcpts >= QUEUE_RCPT_MAX || strlen(address) > ADDR_PATH_MAX)
		return -1;
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(*env->rcpts));
	r = &env->rcpts[env->nrcpts];
	memset(r, 0, sizeof(*r));
	str_copy(r->address, address, sizeof(r->address));
	env->nrcpts++;
	return 0;
}

void
queue_envelope_free(struct queue_envelope *env)
{
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}

size_t
queue_envelope_count(const struct queue_envelope *env, enum queue_rcpt_state state)
{
	size_t n = 0;

	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == state)
			n++;
	return n;
}

/* --- writing --- */

/* Free text: control bytes (CR, LF, TAB included) become spaces. */
static void
qbuf_text(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		char c = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
		buf_add(b, &c, 1);
	}
}

/* Addresses must come back exactly: refuse what cannot be written. */
static int
qbuf_addr(struct buf *b, const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	buf_addstr(b, s);
	return 0;
}

static void
qbuf_num(struct buf *b, const char *key, long long v)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %lld\n", key, v);
	buf_addstr(b, line);
}

static const char state_letters[] = "PDF";

int
queue_envelope_format(const struct queue_envelope *env, char **out, size_t *len_out)
{
	struct buf b = BUF_INIT;
	static const char *rets[] = { "default", "full", "hdrs" };
	char num[32];

	buf_addstr(&b, QUEUE_MAGIC "\nid ");
	if (qbuf_addr(&b, env->id) == -1)
		goto bad;
	buf_addstr(&b, "\nfrom ");
	if (qbuf_addr(&b, env->from) == -1)
		goto bad;
	buf_addstr(&b, "\n");
	qbuf_num(&b, "created", (long long)env->created);
	qbuf_num(&b, "next", (long long)env->next_try);
	qbuf_num(&b, "last", (long long)env->last_try);
	qbuf_num(&b, "attempts", env->attempts);
	if (env->delay_notified)
		qbuf_num(&b, "delayed", 1);
	buf_addstr(&b, "ret ");
	buf_addstr(&b, rets[env->ret <= QUEUE_RET_HDRS ? env->ret : 0]);
	buf_addstr(&b, "\nenvid ");
	qbuf_text(&b, env->envid);
	buf_addstr(&b, "\nerror ");
	qbuf_text(&b, env->last_error);
	buf_addstr(&b, "\n");
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		snprintf(num, sizeof(num), "rcpt %c %u\t", state_letters[r->state % 3],
		    r->notify & 0xf);
		buf_addstr(&b, num);
		if (qbuf_addr(&b, r->address) == -1)
			goto bad;
		buf_addstr(&b, "\t");
		if (qbuf_addr(&b, r->orcpt) == -1)
			goto bad;
		buf_addstr(&b, "\t");
		qbuf_text(&b, r->status);
		buf_addstr(&b, "\t");
		qbuf_text(&b, r->diag);
		buf_addstr(&b, "\n");
	}
	buf_addstr(&b, "\n");
	*out = b.p;
	*len_out = b.len;
	return 0;
bad:
	free(b.p);
	return -1;
}

/* --- parsing --- */

static int
parse_num(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Copy a value of len bytes into dst (size dstsize); -1 when it does not fit. */
static int
take(char *dst, size_t dstsize, const char *s, size_t len)
{
	if (len >= dstsize)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Next TAB-separated field of [*p, end); -1 when none is left. */
static int
next_field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *tab;

	if (*p > end)
		return -1;
	tab = memchr(*p, '\t', (size_t)(end - *p));
	*f = *p;
	*flen = (size_t)((tab != NULL ? tab : end) - *p);
	*p = tab != NULL ? tab + 1 : end + 1;
	return 0;
}

static int
parse_rcpt(struct queue_envelope *env, const char *v, size_t vlen)
{
	const char *p = v, *end = v + vlen, *f, *st;
	size_t flen;
	long long notify;
	struct queue_rcpt *r;

	if (vlen < 4 || v[1] != ' ' || (st = strchr(state_letters, v[0])) == NULL || v[0] == '\0')
		return -1;
	p += 2;
	if (env->nrcpts >= QUEUE_RCPT_MAX)
		return -1;
	env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(*env->rcpts));
	r = &env->rcpts[env->nrcpts];
	memset(r, 0, sizeof(*r));
	r->state = (enum queue_rcpt_state)(st - state_letters);
	if (next_field(&p, end, &f, &flen) == -1 || parse_num(f, flen, &notify) == -1 ||
	    notify > 0xf)
		return -1;
	r->notify = (unsigned)notify;
	if (next_field(&p, end, &f, &flen) == -1 || flen == 0 ||
	    take(r->address, sizeof(r->address), f, flen) == -1)
		return -1;
	if (next_field(&p, end, &f, &flen) == -1 ||
	    take(r->orcpt, sizeof(r->orcpt), f, flen) == -1)
		return -1;
	if (next_field(&p, end, &f, &flen) == -1 ||
	    take(r->status, sizeof(r->status), f, flen) == -1)
		return -1;
	if (next_field(&p, end, &f, &flen) == -1 ||
	    take(r->diag, sizeof(r->diag), f, flen) == -1)
		return -1;
	if (p <= end)
		return -1;	/* more fields than we know */
	env->nrcpts++;
	return 0;
}

static int
parse_line(struct queue_envelope *env, const char *line, size_t len, unsigned *seen)
{
	const char *sp = memchr(line, ' ', len);
	const char *v;
	size_t klen, vlen;
	long long n;

	if (sp == NULL)
		return -1;
	klen = (size_t)(sp - line);
	v = sp + 1;
	vlen = len - klen - 1;
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return -1;
#define KEY(k)	(klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY("rcpt"))
		return parse_rcpt(env, v, vlen);
	if (memchr(v, '\t', vlen) != NULL)
		return -1;
	if (KEY("id")) {
		*seen |= 1;
		return take(env->id, sizeof(env->id), v, vlen);
	}
	if (KEY("from"))
		return take(env->from, sizeof(env->from), v, vlen);
	if (KEY("envid"))
		return take(env->envid, sizeof(env->envid), v, vlen);
	if (KEY("error"))
		return take(env->last_error, sizeof(env->last_error), v, vlen);
	if (KEY("ret")) {
		if (vlen == 4 && memcmp(v, "full", 4) == 0)
			env->ret = QUEUE_RET_FULL;
		else if (vlen == 4 && memcmp(v, "hdrs", 4) == 0)
			env->ret = QUEUE_RET_HDRS;
		else if (vlen == 7 && memcmp(v, "default", 7) == 0)
			env->ret = QUEUE_RET_DEFAULT;
		else
			return -1;
		return 0;
	}
	if (parse_num(v, vlen, &n) == -1)
		return -1;
	if (KEY("created")) {
		*seen |= 2;
		env->created = (time_t)n;
	} else if (KEY("next"))
		env->next_try = (time_t)n;
	else if (KEY("last"))
		env->last_try = (time_t)n;
	else if (KEY("attempts") && n < 1000000)
		env->attempts = (int)n;
	else if (KEY("delayed") && n <= 1)
		env->delay_notified = (int)n;
	else
		return -1;
	return 0;
#undef KEY
}

int
queue_envelope_parse(const char *data, size_t len, struct queue_envelope *env,
    const char **errstr_out)
{
	const char *p = data, *end = data + len, *nl;
	unsigned seen = 0;
	size_t magic = sizeof(QUEUE_MAGIC) - 1;

	memset(env, 0, sizeof(*env));
	if (len < magic + 1 || memcmp(data, QUEUE_MAGIC "\n", magic + 1) != 0) {
		*errstr_out = "not a queue file (bad first line)";
		return -1;
	}
	p += magic + 1;
	for (;;) {
		if ((size_t)(p - data) > QUEUE_ENVELOPE_MAX) {
			*errstr_out = "envelope too large";
			goto bad;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			*errstr_out = "envelope not terminated";
			goto bad;
		}
		if (nl == p)
			break;
		if (parse_line(env, p, (size_t)(nl - p), &seen) == -1) {
			*errstr_out = "malformed envelope line";
			goto bad;
		}
		p = nl + 1;
	}
	if (seen != 3 || !queue_file_id_ok(env->id)) {
		*errstr_out = "envelope lacks id or created";
		goto bad;
	}
	env->msg_offset = (uint64_t)(nl + 1 - data);
	env->msg_size = (uint64_t)(end - (nl + 1));
	return 0;
bad:
	queue_envelope_free(env);
	return -1;
}

/* --- files --- */

static int
copy_from_fd(int out, int in, off_t off)
{
	char buf[65536];

	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), off);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (fs_write_all(out, buf, (size_t)n) == -1)
			return -1;
		off += n;
	}
}

int
queue_enqueue_prepare(struct queue_enqueue *q, const char *queue_dir,
    const struct queue_envelope *env, int msg_fd, off_t msg_off,
    const void *msg, size_t msglen, const char **errstr_out)
{
	char *head;
	size_t headlen;
	int fd, saved;

	memset(q, 0, sizeof(*q));
	if (str_copy(q->dir, queue_dir, sizeof(q->dir)) == -1) {
		*errstr_out = "queue directory path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(q->tmp, sizeof(q->tmp), "%s/.tmp-%s", queue_dir, env->id);
	snprintf(q->final, sizeof(q->final), "%s/%s", queue_dir, env->id);
	if (queue_envelope_format(env, &head, &headlen) == -1) {
		*errstr_out = "envelope cannot be written";
		errno = EINVAL;
		return -1;
	}
	fd = open(q->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		free(head);
		*errstr_out = "cannot create queue file";
		return -1;
	}
	if (fs_write_all(fd, head, headlen) == -1 ||
	    (msg_fd >= 0 ? copy_from_fd(fd, msg_fd, msg_off) :
	    fs_write_all(fd, msg, msglen)) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(q->tmp);
		free(head);
		errno = saved;
		*errstr_out = "cannot write queue file";
		return -1;
	}
	free(head);
	if (close(fd) == -1) {
		unlink(q->tmp);
		*errstr_out = "cannot write queue file";
		return -1;
	}
	q->prepared = 1;
	return 0;
}

int
queue_enqueue_commit(struct queue_enqueue *q, const char **errstr_out)
{
	if (!q->prepared) {
		*errstr_out = "nothing prepared";
		errno = EINVAL;
		return -1;
	}
	q->prepared = 0;
	if (rename(q->tmp, q->final) == -1) {
		unlink(q->tmp);
		*errstr_out = "cannot rename queue file";
		return -1;
	}
	if (fs_fsync_dir(q->dir) == -1) {
		unlink(q->final);
		*errstr_out = "cannot fsync queue directory";
		return -1;
	}
	return 0;
}

void
queue_enqueue_abort(struct queue_enqueue *q)
{
	if (q->prepared)
		unlink(q->tmp);
	q->prepared = 0;
}

int
queue_enqueue(const char *queue_dir, const struct queue_envelope *env, int msg_fd,
    off_t msg_off, const void *msg, size_t msglen, const char **errstr_out)
{
	struct queue_enqueue q;

	if (queue_enqueue_prepare(&q, queue_dir, env, msg_fd, msg_off, msg, msglen,
	    errstr_out) == -1)
		return -1;
	return queue_enqueue_commit(&q, errstr_out);
}

/* Read up to the end of the envelope (bounded) from fd. */
static int
load_fd(int fd, struct queue_envelope *env, const char **errstr_out)
{
	size_t cap = 8192, len = 0;
	char *buf = xmalloc(cap);
	struct stat st;

	if (fstat(fd, &st) == -1) {
		free(buf);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		len += (size_t)n;
		if (n == 0 || memmem(buf, len, "\n\n", 2) != NULL || len > QUEUE_ENVELOPE_MAX)
			break;
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	if (queue_envelope_parse(buf, len, env, errstr_out) == -1) {
		free(buf);
		errno = EINVAL;
		return -1;
	}
	free(buf);
	env->msg_size = (uint64_t)st.st_size - env->msg_offset;
	return 0;
}

int
queue_file_load(const char *queue_dir, const char *id, struct queue_envelope *env,
    const char **errstr_out)
{
	char path[4200];
	int fd, rc, saved;

	*errstr_out = "cannot open queue file";
	memset(env, 0, sizeof(*env));
	if (!queue_file_id_ok(id)) {
		*errstr_out = "bad queue id";
		errno = ENOENT;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", queue_dir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = load_fd(fd, env, errstr_out);
	saved = errno;
	close(fd);
	errno = saved;
	if (rc == 0 && strcmp(env->id, id) != 0) {
		queue_envelope_free(env);
		*errstr_out = "id inside the file differs from its name";
		errno = EINVAL;
		return -1;
	}
	return rc;
}

int
queue_file_read_message(const char *queue_dir, const struct queue_envelope *env,
    char **out, size_t *len_out)
{
	char path[4200];
	size_t got = 0;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", queue_dir, env->id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	buf = xmalloc((size_t)env->msg_size + 1);
	while (got < env->msg_size) {
		ssize_t n = pread(fd, buf + got, (size_t)env->msg_size - got,
		    (off_t)(env->msg_offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			close(fd);
			errno = n == 0 ? EIO : errno;
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len_out = got;
	return 0;
}

int
queue_file_rewrite(const char *queue_dir, const struct queue_envelope *env,
    const char **errstr_out)
{
	struct queue_envelope old;
	struct queue_enqueue q;
	char path[4200];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", queue_dir, env->id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*errstr_out = "queue file gone";
		return -1;
	}
	if (load_fd(fd, &old, errstr_out) == -1) {
		close(fd);
		return -1;
	}
	queue_envelope_free(&old);
	/* a leftover tmp of an earlier crash would block O_EXCL */
	snprintf(q.tmp, sizeof(q.tmp), "%s/.tmp-%s", queue_dir, env->id);
	unlink(q.tmp);
	rc = queue_enqueue_prepare(&q, queue_dir, env, fd, (off_t)old.msg_offset, NULL, 0,
	    errstr_out);
	close(fd);
	if (rc == -1)
		return -1;
	if (access(path, F_OK) == -1) {
		/* deleted by the administrator while we worked: stay deleted */
		queue_enqueue_abort(&q);
		errno = ENOENT;
		*errstr_out = "queue file gone";
		return -1;
	}
	return queue_enqueue_commit(&q, errstr_out);
}

int
queue_file_remove(const char *queue_dir, const char *id)
{
	char path[4200];

	if (!queue_file_id_ok(id)) {
		errno = ENOENT;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", queue_dir, id);
	/*
	 * No directory fsync: an unlink lost in a crash only means the entry is
	 * tried once more, which at-least-once delivery allows anyway, and the
	 * fsync would stall the queue's loop once per finished message.
	 */
	return unlink(path);
}
