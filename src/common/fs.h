/*
 * fs - file system helpers for the durability rule (DESIGN.md section 3).
 */
#ifndef TERN_COMMON_FS_H
#define TERN_COMMON_FS_H

#include <sys/types.h>

/* mkdir -p with the given mode; 0 or -1 with errno. */
int	fs_mkdir_p(const char *path, mode_t mode);
/* fsync the directory at path (makes a rename or link in it durable). */
int	fs_fsync_dir(const char *path);
/* Write data to path via path.tmp + fsync + rename + fsync(dir); 0 or -1. */
int	fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Write all of buf to fd, retrying on EINTR and short writes; 0 or -1. */
int	fs_write_all(int fd, const void *buf, size_t len);

#endif
