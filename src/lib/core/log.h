/*
 * log.h - log lines "<time> <program>[<level>] <text>".  Untrusted
 * bytes are escaped before they are written, so a caller cannot forge
 * log lines.
 *
 * Until log_open() lines go to stderr: the tools stay there, they talk
 * to the operator.  The server programs and the runner call log_open()
 * with p2p.conf's log_file:
 *   a path	opened O_APPEND|O_CREAT (mode 0640): every process writes
 *		each line with one write(2), so lines never interleave;
 *		reopened after rotation, on SIGHUP (the handler only sets
 *		a flag, acted on at the next line) and whenever the path
 *		names another file than the one open (checked at most
 *		every LOG_CHECK_SECS: logrotate cannot signal the FastCGI
 *		children a web server spawned)
 *   "syslog"	syslog(3), facility daemon (journald picks it up)
 *   "stderr" or "-"	stderr (a web server's error log)
 */
#ifndef P2P_LOG_H
#define P2P_LOG_H

#include "core/err.h"

#define LOG_CHECK_SECS	1	/* least seconds between rotation checks */

/* Sets the program name shown at the start of each line. */
void	 log_init(const char *prog);
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/* When quiet, log_info() writes nothing (command-line tools). */
void	 log_quiet(int);

/*
 * Sends the lines to dest from now on (see above) and installs the
 * SIGHUP handler for a file.  Returns 0, or -1 with err saying why the
 * file cannot be opened (lines keep going where they went).
 */
int	 log_open(const char *dest, struct p2p_err *);
/* With 1, every line also goes to stderr (a runner on a terminal). */
void	 log_tee(int);
/* Closes the file or syslog; lines go to stderr again. */
void	 log_close(void);

/*
 * With 1, lines for the file are kept in memory (up to LOG_HOLD_MAX
 * bytes, then written) until log_flush() or log_hold(0), which write
 * them with one write(2): a batch of requests (web/batch.c) logs once.
 * Other destinations are not held.
 */
#define LOG_HOLD_MAX	65536
void	 log_hold(int);
void	 log_flush(void);

#endif
