/*
 * master - ternd's root process: binds the listeners, forks one worker per
 * service, restarts a worker that dies (with back-off), reloads on SIGHUP
 * and stops everything gracefully on SIGTERM (DESIGN.md section 2).
 */
#ifndef TERN_TERND_MASTER_H
#define TERN_TERND_MASTER_H

#include "common/conf.h"

/* Run the master until SIGTERM; conf is owned by the master from here on. */
int	master_run(struct conf *conf, const char *conf_path, int foreground);
/* Remember argv so that workers can rename themselves for ps. */
void	master_set_argv(int argc, char **argv);

#endif
