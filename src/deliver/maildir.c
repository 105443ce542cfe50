/*
 * maildir - Maildir++ naming and bookkeeping.
 *
 * Unique names: seconds and microseconds, the pid, a per-process counter and
 * random bits. The counter alone makes names unique within one process
 * (several pool threads deliver at once); pid and time separate processes
 * and restarts; the random part guards against pid reuse within a second.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/fs.h"
#include "deliver/maildir.h"

static int
part_ok(const char *part)
{
	if (part[0] == '\0' || part[0] == '.')
		return 0;
	for (const unsigned char *p = (const unsigned char *)part; *p != '\0'; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
maildir_path(char *out, size_t outlen, const char *data_dir, const char *domain,
    const char *local)
{
	int n;

	if (!part_ok(domain) || !part_ok(local))
		return -1;
	n = snprintf(out, outlen, "%s/mail/%s/%s", data_dir, domain, local);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
maildir_ensure(const char *path)
{
	static const char *subdirs[] = { "tmp", "new", "cur" };
	char sub[PATH_MAX], parent[PATH_MAX];
	struct stat st;
	int created = 0;

	for (size_t i = 0; i < 3; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path, subdirs[i]) >= (int)sizeof(sub))
			return -1;
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (fs_mkdir_p(sub, 0700) == -1)
			return -1;
		created = 1;
	}
	if (!created)
		return 0;
	/* A new mailbox must survive a crash like the mail in it: fsync the
	 * new directories and the directories that name them. */
	if (fs_fsync_dir(path) == -1)
		return -1;
	snprintf(parent, sizeof(parent), "%s", path);
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(parent, '/');
		if (slash == NULL || slash == parent)
			break;
		*slash = '\0';
		if (fs_fsync_dir(parent) == -1)
			return -1;
	}
	return 0;
}

void
maildir_unique_name(char *out, size_t outlen, uint64_t size)
{
	static atomic_uint counter;
	static char host[128];
	static atomic_int host_ready;
	struct timeval tv;
	unsigned rnd = 0;

	if (!atomic_load(&host_ready)) {
		char raw[128];
		size_t o = 0;
		if (gethostname(raw, sizeof(raw)) == -1)
			snprintf(raw, sizeof(raw), "localhost");
		raw[sizeof(raw) - 1] = '\0';
		/* '/' and ':' are special in Maildir names (RFC-less convention, maildir(5)). */
		for (const char *p = raw; *p != '\0' && o + 5 < sizeof(host); p++) {
			if (*p == '/')
				o += (size_t)snprintf(host + o, sizeof(host) - o, "\\057");
			else if (*p == ':')
				o += (size_t)snprintf(host + o, sizeof(host) - o, "\\072");
			else
				host[o++] = *p;
		}
		host[o] = '\0';
		atomic_store(&host_ready, 1);
	}
	gettimeofday(&tv, NULL);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned)tv.tv_usec;
	snprintf(out, outlen, "%lld.M%ldP%ldQ%uR%08x.%s,S=%llu", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), atomic_fetch_add(&counter, 1) + 1, rnd, host,
	    (unsigned long long)size);
}

static int
usage_of(const char *dir, uint64_t *total)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		const char *s;
		if (de->d_name[0] == '.')
			continue;
		s = strstr(de->d_name, ",S=");
		if (s != NULL) {
			*total += strtoull(s + 3, NULL, 10);
		} else {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, 0) == 0)
				*total += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	return 0;
}

/* new/ and cur/ of one folder (the root or a Maildir++ ".Folder"). */
static int
folder_usage(const char *path, uint64_t *total)
{
	char sub[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/new", path);
	if (usage_of(sub, total) == -1)
		return -1;
	snprintf(sub, sizeof(sub), "%s/cur", path);
	return usage_of(sub, total);
}

int
maildir_usage(const char *path, uint64_t *bytes_out)
{
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc;

	*bytes_out = 0;
	if ((rc = folder_usage(path, bytes_out)) == -1)
		return -1;
	/* IMAP folders count too: moving mail out of INBOX frees no quota. */
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL && rc == 0) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		rc = folder_usage(sub, bytes_out);
	}
	closedir(d);
	return rc;
}
