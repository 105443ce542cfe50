/*
 * deliver - commit one received message into local Maildirs, durably.
 *
 * The message is already complete in a spool file (headers added). The
 * commit makes it appear in every target's new/ at once or in none:
 * fsync the spool file, hard-link it into each new/ under a unique name
 * (a copy through tmp/ when the file system refuses links), fsync each
 * new/ directory, then drop the spool name. Any failure removes the links
 * already made, so a 4xx reply never leaves a message behind. This is the
 * durability rule of DESIGN.md section 3; the SMTP 250 follows it.
 *
 * deliver_commit() blocks on the disk: run it on a pool thread.
 */
#ifndef TERN_DELIVER_DELIVER_H
#define TERN_DELIVER_DELIVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum deliver_status {
	DELIVER_OK = 0,
	DELIVER_TEMPFAIL,	/* I/O error: 451 4.3.0, nothing delivered */
	DELIVER_OVERQUOTA,	/* single recipient over quota: 452 4.2.2 */
};

struct deliver_target {
	char		 path[PATH_MAX];	/* Maildir root (maildir_path) */
	uint64_t	 quota;			/* bytes, 0 = unlimited */
	char		 file[256];		/* out: name given in new/ */
};

struct deliver_job {
	int			 spool_fd;	/* open for writing, fully written */
	char			 spool_path[PATH_MAX];
	uint64_t		 size;		/* bytes in the spool file */
	struct deliver_target	*targets;
	size_t			 ntargets;
	/* out */
	enum deliver_status	 status;
	char			 why[256];	/* for the log when status != OK */
};

/*
 * Commit job as described above. On return the spool path is gone (or was
 * never linked anywhere) whatever the outcome; spool_fd stays open for the
 * caller to close.
 */
void	deliver_commit(struct deliver_job *job);

#endif
