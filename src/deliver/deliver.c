/*
 * deliver - the all-or-nothing Maildir commit.
 *
 * Quota: for a single recipient the commit refuses a message that would
 * take the mailbox over its quota. With several recipients one reply
 * covers them all (SMTP DATA), so a recipient over quota would either fail
 * everyone or lose its copy; the RCPT-time check refuses full mailboxes and
 * here the copy is allowed to overrun, like a soft quota.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "deliver/deliver.h"
#include "deliver/maildir.h"

static void
fail(struct deliver_job *job, enum deliver_status status, const char *what,
    const char *path)
{
	job->status = status;
	snprintf(job->why, sizeof(job->why), "%s %s: %s", what, path,
	    status == DELIVER_OVERQUOTA ? "mailbox over quota" : strerror(errno));
}

/* Copy the spool file into dir/tmp/name, fsync, rename into dir/new/name. */
static int
copy_into(struct deliver_job *job, const char *dir, const char *name, const char *final)
{
	char tmp[PATH_MAX + 300];
	char buf[65536];
	off_t off = 0;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	for (;;) {
		ssize_t n = pread(job->spool_fd, buf, sizeof(buf), off);
		if (n == 0)
			break;
		if (n < 0 || fs_write_all(fd, buf, (size_t)n) == -1)
			goto bad;
		off += n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto bad;
	}
	if (rename(tmp, final) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
bad:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

static void
unlink_delivered(struct deliver_job *job, size_t upto)
{
	char path[PATH_MAX + 300];

	for (size_t i = 0; i < upto; i++) {
		snprintf(path, sizeof(path), "%s/new/%s", job->targets[i].path,
		    job->targets[i].file);
		unlink(path);
	}
}

static int
place_one(struct deliver_job *job, struct deliver_target *t)
{
	char final[PATH_MAX + 300];

	if (maildir_ensure(t->path) == -1) {
		fail(job, DELIVER_TEMPFAIL, "cannot create mailbox", t->path);
		return -1;
	}
	if (t->quota > 0 && job->ntargets == 1) {
		uint64_t used;
		if (maildir_usage(t->path, &used) == -1) {
			fail(job, DELIVER_TEMPFAIL, "cannot read usage of", t->path);
			return -1;
		}
		if (used + job->size > t->quota) {
			fail(job, DELIVER_OVERQUOTA, "quota of", t->path);
			return -1;
		}
	}
	maildir_unique_name(t->file, sizeof(t->file), job->size);
	snprintf(final, sizeof(final), "%s/new/%s", t->path, t->file);
	if (link(job->spool_path, final) == 0)
		return 0;
	if ((errno == EXDEV || errno == EPERM || errno == EMLINK) &&
	    copy_into(job, t->path, t->file, final) == 0)
		return 0;
	fail(job, DELIVER_TEMPFAIL, "cannot deliver into", t->path);
	return -1;
}

void
deliver_commit(struct deliver_job *job)
{
	char dir[PATH_MAX + 8];
	size_t placed = 0;

	job->status = DELIVER_OK;
	job->why[0] = '\0';
	/* With no local copy to place (relay-only mail) nothing here needs the
	 * spool file durable: the queue entry has its own fsync'd copy. */
	if (job->ntargets > 0 && fsync(job->spool_fd) == -1) {
		fail(job, DELIVER_TEMPFAIL, "cannot fsync", job->spool_path);
		goto out;
	}
	for (; placed < job->ntargets; placed++)
		if (place_one(job, &job->targets[placed]) == -1)
			goto undo;
	for (size_t i = 0; i < job->ntargets; i++) {
		snprintf(dir, sizeof(dir), "%s/new", job->targets[i].path);
		if (fs_fsync_dir(dir) == -1) {
			fail(job, DELIVER_TEMPFAIL, "cannot fsync", dir);
			goto undo;
		}
	}
	goto out;
undo:
	unlink_delivered(job, placed);
out:
	unlink(job->spool_path);
}
