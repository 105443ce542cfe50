/*
 * owner - chown of server files and creation of the system user.
 *
 * useradd is run directly with execv: no shell ever sees the user name.
 */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tern/owner.h"

#define USERADD_PATH	"/usr/sbin/useradd"
#define NOLOGIN_PATH	"/usr/sbin/nologin"

/* nftw(3) passes no context to its callback. */
static uid_t	tree_uid;
static gid_t	tree_gid;

void
owner_db_files(const char *db_path, const char *user)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char path[PATH_MAX];
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || (pw = getpwnam(user)) == NULL ||
	    pw->pw_uid == 0)
		return;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]) >=
		    (int)sizeof(path))
			continue;
		/* Missing -wal/-shm files are normal; other failures show later. */
		(void)lchown(path, pw->pw_uid, pw->pw_gid);
	}
}

int
owner_become(const char *user, char *why, size_t whylen)
{
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || (pw = getpwnam(user)) == NULL ||
	    pw->pw_uid == 0)
		return 0;
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		snprintf(why, whylen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

int
owner_ensure_system_user(const char *user, char *why, size_t whylen)
{
	char *const argv[] = {
		"useradd", "--system", "--no-create-home", "--shell", NOLOGIN_PATH,
		(char *)user, NULL,
	};
	pid_t pid;
	int status;

	if (getpwnam(user) != NULL)
		return 0;
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(USERADD_PATH, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || getpwnam(user) == NULL) {
		snprintf(why, whylen, "cannot create the system user %s (%s failed)",
		    user, USERADD_PATH);
		return -1;
	}
	return 0;
}

static int
chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return lchown(path, tree_uid, tree_gid) == -1 ? -1 : 0;
}

int
owner_chown_tree(const char *path, const char *user, char *why, size_t whylen)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(why, whylen, "unknown user %s", user);
		return -1;
	}
	tree_uid = pw->pw_uid;
	tree_gid = pw->pw_gid;
	if (nftw(path, chown_one, 16, FTW_PHYS) != 0) {
		snprintf(why, whylen, "chown -R %s %s: %s", user, path, strerror(errno));
		return -1;
	}
	return 0;
}
