/*
 * maildir - paths, names and usage of the Maildir++ mailboxes tern delivers to.
 *
 * A user's INBOX is <data_dir>/mail/<domain>/<local>/{cur,new,tmp}; the parts
 * are the canonical (lower-case) ones from the directory. File names follow
 * the Maildir convention "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>" so
 * that mutt, Dovecot and tern's own store read the size without a stat.
 */
#ifndef TERN_DELIVER_MAILDIR_H
#define TERN_DELIVER_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Write the Maildir path of domain/local under data_dir into out. Refuses
 * (-1) parts that are empty, start with '.', or contain '/' or control
 * characters: mailbox paths never leave <data_dir>/mail.
 */
int	maildir_path(char *out, size_t outlen, const char *data_dir, const char *domain,
	    const char *local);
/* Create path/{cur,new,tmp} when missing, durably (parents fsync'd). 0 or -1. */
int	maildir_ensure(const char *path);
/* A new unique file name for a message of size bytes (thread-safe). */
void	maildir_unique_name(char *out, size_t outlen, uint64_t size);
/*
 * Bytes used by the messages in path/new and path/cur and in those of its
 * Maildir++ folders (path/.Name), from the ,S= of the file names (a stat
 * for names without it). 0 or -1.
 */
int	maildir_usage(const char *path, uint64_t *bytes_out);

#endif
