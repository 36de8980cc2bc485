/*
 * log.h - log lines on stderr (lighttpd writes a FastCGI child's stderr
 * to its error log).  Untrusted bytes are escaped before they are
 * written, so a caller cannot forge log lines.
 */
#ifndef P2P_LOG_H
#define P2P_LOG_H

/* Sets the program name shown at the start of each line. */
void	 log_init(const char *prog);
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/* When quiet, log_info() writes nothing (command-line tools). */
void	 log_quiet(int);

#endif
