/*
 * store_maildir - the Maildir files of the store: names, scans and syncs.
 *
 * A sync runs inside one index write transaction: move new/ to cur/, read
 * cur/, merge into the index. Deliveries hard-link into new/ at any moment;
 * a file that lands after the move is simply taken by the next sync. Every
 * change tern makes to cur/ (flag renames, expunges, appends, copies) also
 * runs inside the write transaction, so a sync never sees half of one.
 *
 * File names are "<base>:2,<flags>" in cur/ ("<base>" in new/), where base
 * is "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>" for tern's own
 * messages; other Maildir writers' names work too (size from stat).
 *
 * Noticing other programs (mutt renaming a file to change its flags): the
 * index keeps cur/'s mtime as tern last left it, and a refresh rescans cur/
 * only when the mtime differs. Directory mtimes come from a coarse clock
 * (one jiffy on Linux), so a rename by another program within the same
 * tick as tern's own change would leave the mtime unchanged. Therefore,
 * after each of its changes (and after a rescan that saw cur/ unchanged),
 * tern stamps cur/ itself with utimensat() at the fine-grained current
 * time, which no later coarse-clock mtime can equal, and records that
 * stamp. Only a change squeezed between tern's own change and its stamp
 * (microseconds, inside the index transaction) can go unnoticed, until the
 * next full sync at SELECT. When the stamp cannot be set, nothing is
 * recorded and the next refresh rescans.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/random.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "store/store_private.h"

#define FLAGS_SEP		":2,"

/* --- names --- */

int
store_maildir_parse_name(const char *name, struct store_file *f)
{
	const char *sep, *s;
	size_t baselen;
	char *end;

	memset(f, 0, sizeof(*f));
	if (name[0] == '.' || name[0] == '\0')
		return -1;
	sep = strstr(name, FLAGS_SEP);
	baselen = sep != NULL ? (size_t)(sep - name) : strlen(name);
	if (baselen == 0 || baselen >= sizeof(f->base))
		return -1;
	memcpy(f->base, name, baselen);
	f->base[baselen] = '\0';
	if (strchr(f->base, ':') != NULL)
		return -1;	/* another info scheme (":1,") */
	if (sep != NULL && str_copy(f->flags, sep + strlen(FLAGS_SEP), sizeof(f->flags)) == -1)
		return -1;
	f->sec = (time_t)strtoll(f->base, &end, 10);
	if (end[0] == '.' && end[1] == 'M')
		f->usec = strtol(end + 2, NULL, 10);
	/* ",W=" is Dovecot's size with CRLF line ends (its ",S=" is the file's). */
	if ((s = strstr(f->base, ",W=")) != NULL || (s = strstr(f->base, ",S=")) != NULL)
		f->size = strtoull(s + 3, NULL, 10);
	else {
		f->size = UINT64_MAX;	/* the caller stats */
		f->size_guessed = 1;
	}
	return 0;
}

uint64_t
store_maildir_crlf_size(const char *path, const struct store_file *f)
{
	char name[PATH_MAX + STORE_BASE_MAX + STORE_FLAGS_MAX + 16], buf[16384];
	uint64_t size = 0;
	char prev = '\0';
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "%s/cur/%s" FLAGS_SEP "%s", path, f->base, f->flags);
	if ((fd = open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return f->size;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				size++;
			prev = buf[i];
		}
		size += (uint64_t)n;
	}
	close(fd);
	return n == 0 ? size : f->size;
}

int
store_maildir_arrival_cmp(const struct store_file *a, const struct store_file *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	return strcmp(a->base, b->base);
}

/*
 * As deliver/maildir.c names deliveries, but with the given seconds (the
 * INTERNALDATE, which a rebuilt index reads back from the name). The
 * per-process counter keeps names of one process apart, pid and random
 * bits those of processes.
 */
void
store_maildir_unique_base(char *out, size_t outlen, time_t sec, uint64_t size)
{
	static atomic_uint counter;
	char host[128], raw[64];
	struct timeval tv;
	unsigned rnd = 0;
	size_t o = 0;

	if (gethostname(raw, sizeof(raw)) == -1)
		snprintf(raw, sizeof(raw), "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (const char *p = raw; *p != '\0' && o + 5 < sizeof(host); p++) {
		if (*p == '/' || *p == ':') {
			/* Special in Maildir names (maildir(5)). */
			o += (size_t)snprintf(host + o, sizeof(host) - o, "\\%03o",
			    (unsigned char)*p);
		} else {
			host[o++] = *p;
		}
	}
	host[o] = '\0';
	gettimeofday(&tv, NULL);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned)tv.tv_usec;
	snprintf(out, outlen, "%lld.M%ldP%ldQ%uR%08x.%s,S=%llu", (long long)sec,
	    (long)tv.tv_usec, (long)getpid(), atomic_fetch_add(&counter, 1) + 1, rnd, host,
	    (unsigned long long)size);
}

void
store_maildir_sort_flags(char *flags)
{
	unsigned char have[128] = { 0 };
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)flags; *p != '\0'; p++)
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			have[*p] = 1;
	for (int c = 'A'; c <= 'z'; c++)
		if (have[c])
			flags[o++] = (char)c;
	flags[o] = '\0';
}

/* --- cur/ and new/ --- */

int64_t
store_maildir_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
store_maildir_cur_mtime(const char *path, int64_t *ns_out, char *why, size_t whylen)
{
	char cur[PATH_MAX];
	struct stat sb;

	snprintf(cur, sizeof(cur), "%s/cur", path);
	if (stat(cur, &sb) == -1) {
		snprintf(why, whylen, "%s: %s", cur, strerror(errno));
		return -1;
	}
	*ns_out = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	return 0;
}

int
store_maildir_new_pending(const char *path, char *why, size_t whylen)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof(dir), "%s/new", path);
	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (!found && (de = readdir(d)) != NULL)
		found = de->d_name[0] != '.';
	closedir(d);
	return found;
}

/* new/X -> cur/X:2, for every message in new/ (another syncer may race us). */
static int
move_new(const char *path, char *why, size_t whylen)
{
	char dir[PATH_MAX], cur[PATH_MAX], to[NAME_MAX + 8];
	struct dirent *de;
	DIR *d;
	int curfd;

	snprintf(dir, sizeof(dir), "%s/new", path);
	snprintf(cur, sizeof(cur), "%s/cur", path);
	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((curfd = open(cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: %s", cur, strerror(errno));
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, ':') != NULL)
			continue;
		if (snprintf(to, sizeof(to), "%s" FLAGS_SEP, de->d_name) >= (int)sizeof(to))
			continue;
		/* ENOENT: someone else moved it first; it is in cur/ now. */
		renameat(dirfd(d), de->d_name, curfd, to);
	}
	close(curfd);
	closedir(d);
	return 0;
}

static int
scan_cur(const char *path, struct store_file **files_out, size_t *n_out, char *why,
    size_t whylen)
{
	char dir[PATH_MAX];
	struct store_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/cur", path);
	if ((d = opendir(dir)) == NULL) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			files = xreallocarray(files, cap, sizeof(*files));
		}
		if (store_maildir_parse_name(de->d_name, &files[n]) == -1)
			continue;
		if (files[n].size == UINT64_MAX) {
			if (fstatat(dirfd(d), de->d_name, &sb, 0) == -1 || !S_ISREG(sb.st_mode))
				continue;
			files[n].size = (uint64_t)sb.st_size;
			if (files[n].sec <= 0)
				files[n].sec = sb.st_mtime;
		}
		n++;
	}
	closedir(d);
	*files_out = files;
	*n_out = n;
	return 0;
}

/*
 * Put tern's own fine-grained stamp on cur/ (see the top of the file):
 * the recorded mtime, or 0 ("rescan next time") when it cannot be set.
 */
static int64_t
stamp_cur(const char *path)
{
	char cur[PATH_MAX];
	struct timespec times[2];
	int64_t now = store_maildir_now_ns();

	snprintf(cur, sizeof(cur), "%s/cur", path);
	times[0].tv_sec = 0;
	times[0].tv_nsec = UTIME_OMIT;
	times[1].tv_sec = (time_t)(now / 1000000000LL);
	times[1].tv_nsec = (long)(now % 1000000000LL);
	if (times[1].tv_nsec == 0)
		times[1].tv_nsec = 1;	/* never a whole second, which coarse clocks give */
	if (utimensat(AT_FDCWD, cur, times, 0) == -1)
		return 0;
	return (int64_t)times[1].tv_sec * 1000000000LL + times[1].tv_nsec;
}

int
store_maildir_sync(struct store *st, const char *path, struct store_box *box, char *why,
    size_t whylen)
{
	struct store_file *files = NULL;
	struct store_box old = *box;
	size_t nfiles = 0;
	int64_t before, after;
	int rc;

	if (move_new(path, why, whylen) == -1)
		return -1;
	/* The stat before the scan: a change during the scan moves the mtime on. */
	if (store_maildir_cur_mtime(path, &before, why, whylen) == -1 ||
	    scan_cur(path, &files, &nfiles, why, whylen) == -1)
		return -1;
	rc = store_index_merge(st, box, path, files, nfiles, why, whylen);
	free(files);
	if (rc != 0)
		return rc;
	/*
	 * Unchanged during the scan: what we saw is cur/ now. It keeps tern's
	 * last stamp when that is still there (no write, nothing for other
	 * sessions to notice); else it gets a new one.
	 */
	if (store_maildir_cur_mtime(path, &after, why, whylen) == 0 && after == before)
		box->cur_mtime_ns = before != 0 && before == box->cur_mtime_ns ? before :
		    stamp_cur(path);
	else
		box->cur_mtime_ns = 0;
	/* Nothing new: no write, so the index tells no one of a change. */
	if (old.uidnext == box->uidnext && old.highestmodseq == box->highestmodseq &&
	    old.cur_mtime_ns == box->cur_mtime_ns)
		return 0;
	box->cur_checked_ns = store_maildir_now_ns();
	return store_index_box_update(st, box, why, whylen);
}

int
store_maildir_need_sync(const char *path, const struct store_box *box, char *why,
    size_t whylen)
{
	int64_t mtime;
	int rc;

	if ((rc = store_maildir_new_pending(path, why, whylen)) != 0)
		return rc;
	if (store_maildir_cur_mtime(path, &mtime, why, whylen) == -1)
		return -1;
	return mtime != box->cur_mtime_ns || box->cur_mtime_ns == 0;
}

int
store_maildir_cur_before(const char *path, const struct store_box *box)
{
	char why[8];
	int64_t mtime;

	return box->cur_mtime_ns != 0 &&
	    store_maildir_cur_mtime(path, &mtime, why, sizeof(why)) == 0 &&
	    mtime == box->cur_mtime_ns;
}

void
store_maildir_cur_after(const char *path, int clean, struct store_box *box)
{
	/* Not clean: someone else changed cur/ before us; leave the old mtime
	 * so the next refresh rescans. */
	if (clean) {
		box->cur_mtime_ns = stamp_cur(path);
		box->cur_checked_ns = store_maildir_now_ns();
	}
}

/* --- finding a message file --- */

/* Find the current name of base in cur/ (flags may have changed). */
static int
find_by_base(const char *curdir, const char *base, char *name, size_t namelen)
{
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;
	int found = -1;

	if ((d = opendir(curdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) == 0 &&
		    (de->d_name[blen] == '\0' || de->d_name[blen] == ':')) {
			found = str_copy(name, de->d_name, namelen);
			break;
		}
	}
	closedir(d);
	if (found == -1)
		errno = ENOENT;
	return found;
}

int
store_maildir_find(const char *path, const char *base, const char *flags, char *name,
    size_t namelen)
{
	char curdir[PATH_MAX], full[PATH_MAX + NAME_MAX + 2];
	struct stat sb;

	snprintf(curdir, sizeof(curdir), "%s/cur", path);
	if (flags != NULL) {
		snprintf(name, namelen, "%s" FLAGS_SEP "%s", base, flags);
		snprintf(full, sizeof(full), "%s/%s", curdir, name);
		if (lstat(full, &sb) == 0)
			return 0;
	}
	return find_by_base(curdir, base, name, namelen);
}
