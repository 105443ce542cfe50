/*
 * owner - who owns the server's files when the CLI runs as root.
 *
 * The workers run as [server] user; whatever root creates in the data
 * directory (the database and its WAL files, the certificate) must be
 * handed to that user, or the server could not open it.
 */
#ifndef TERN_TERN_OWNER_H
#define TERN_TERN_OWNER_H

#include <stddef.h>

/*
 * When running as root and user exists (and is not root): chown db_path
 * and its -wal and -shm files to user. Quietly does nothing otherwise.
 */
void	owner_db_files(const char *db_path, const char *user);
/* Create the system user if missing (useradd --system); 0 or -1 with why. */
int	owner_ensure_system_user(const char *user, char *why, size_t whylen);
/* chown -R path to user (symbolic links are not followed); 0 or -1 with why. */
int	owner_chown_tree(const char *path, const char *user, char *why, size_t whylen);

/*
 * When running as root and user exists (and is not root): become that user
 * for good (groups, gid, uid), so that files written next (queue entries)
 * belong to the server. 0, or -1 with why; quietly 0 otherwise.
 */
int	owner_become(const char *user, char *why, size_t whylen);

#endif
