/*
 * log - one line per event, to stderr (foreground) or syslog.
 *
 * Lines follow "event key=value ..." with the session id and message id as
 * fields, so that a grep for one id shows a whole conversation. Text that came
 * from the network must go through str_printable() before it is logged.
 */
#ifndef TERN_COMMON_LOG_H
#define TERN_COMMON_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* ident names the process ("ternd", "ternd: smtpd"); to_stderr picks the sink. */
void	log_init(const char *ident, int to_stderr, enum log_level level);
void	log_set_level(enum log_level level);
/* 1 when lines go to stderr (foreground), 0 for syslog. */
int	log_is_stderr(void);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int	log_level_parse(const char *name);

void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The environment is broken: log (with strerror(errno) for fatal) and exit(1). */
void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
