/*
 * init_conf - the tern.conf that tern init writes (keys of DESIGN.md
 * section 6, all of them known to conf_load).
 */
#ifndef TERN_TERN_INIT_CONF_H
#define TERN_TERN_INIT_CONF_H

#include <stddef.h>

struct init_conf {
	const char	*domain;	/* for the header comment */
	const char	*hostname;
	const char	*data_dir;	/* absolute */
	const char	*user;
	int		 dev;		/* unprivileged ports on 127.0.0.1 */
};

/*
 * Write the config to path, which must not exist yet (it is created with
 * O_EXCL, then fsync'd). 0, or -1 with why ("... already exists").
 */
int	init_conf_write(const char *path, const struct init_conf *ic, char *why,
	    size_t whylen);

#endif
