/*
 * log.c - see log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

enum dest { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static const char		*progname = "p2p";
static int			 quiet;
static int			 also_stderr;
static enum dest		 dest = DEST_STDERR;
static int			 fd = -1;	/* DEST_FILE */
static char			 path[PATH_MAX];	/* DEST_FILE */
static time_t			 checked;	/* last rotation check */
static volatile sig_atomic_t	 hup;		/* SIGHUP: reopen */
static int			 holding;	/* log_hold(): lines kept */
static char			 held[LOG_HOLD_MAX]; /* DEST_FILE lines kept */
static size_t			 heldlen;

void
log_init(const char *prog)
{
	const char	*p;

	if ((p = strrchr(prog, '/')) != NULL)
		prog = p + 1;
	progname = prog;
}

void
log_quiet(int q)
{
	quiet = q;
}

void
log_tee(int t)
{
	also_stderr = t;
}

static void
on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

static int
open_file(void)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);
}

int
log_open(const char *d, struct p2p_err *err)
{
	struct sigaction	 sa;
	int			 nfd;

	if (strcmp(d, "stderr") == 0 || strcmp(d, "-") == 0) {
		log_close();
		return 0;
	}
	if (strcmp(d, "syslog") == 0) {
		log_close();
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		dest = DEST_SYSLOG;
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s", d) >= (int)sizeof(path))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "log file name too long");
	if ((nfd = open_file()) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "log file %s: %s", path, strerror(errno));
	log_close();
	fd = nfd;
	dest = DEST_FILE;
	checked = time(NULL);
	hup = 0;
	/* SA_RESTART: a FastCGI accept() or read() goes on undisturbed
	 * (FCGI_FAIL_ACCEPT_ON_INTR would otherwise end the loop). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

void
log_close(void)
{
	log_flush();
	if (dest == DEST_FILE && fd != -1)
		close(fd);
	if (dest == DEST_SYSLOG)
		closelog();
	fd = -1;
	dest = DEST_STDERR;
}

/*
 * After a SIGHUP, or when the path no longer names the open file
 * (renamed or removed by logrotate), opens the path anew.  When that
 * fails the old descriptor stays: lines then go to the rotated file.
 */
static void
reopen_if_rotated(void)
{
	struct stat	 a, b;
	time_t		 now = time(NULL);
	int		 nfd;

	if (!hup && now - checked < LOG_CHECK_SECS && now >= checked)
		return;
	checked = now;
	if (!hup && stat(path, &a) == 0 && fstat(fd, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return;
	hup = 0;
	if ((nfd = open_file()) == -1)
		return;
	close(fd);
	fd = nfd;
}

static void
write_all(int to, const char *s, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(to, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void
vlog(int prio, const char *level, const char *fmt, va_list ap)
{
	char		 line[2048], out[4096], full[4200], ts[32];
	const char	*s;
	char		*o = out;
	int		 n;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* Escape control characters and backslashes (kcgi logging.c). */
	for (s = line; *s != '\0' && o < out + sizeof(out) - 5; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '\\')
			o += snprintf(o, 5, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	if (dest == DEST_SYSLOG) {
		/* syslog adds its own time and program name. */
		syslog(prio, "[%s] %s", level, out);
		if (!also_stderr)
			return;
	}
	time_instant(time(NULL), ts);
	n = snprintf(full, sizeof(full), "%s %s[%s] %s\n", ts, progname,
	    level, out);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(full))
		n = (int)sizeof(full) - 1;
	if (dest == DEST_FILE) {
		if (holding && heldlen + (size_t)n > sizeof(held))
			log_flush();
		if (holding && heldlen + (size_t)n <= sizeof(held)) {
			memcpy(held + heldlen, full, (size_t)n);
			heldlen += (size_t)n;
		} else {
			reopen_if_rotated();
			/* One write(2) of the whole line: O_APPEND places
			 * it at the end of the file whatever the other
			 * processes do. */
			write_all(fd, full, (size_t)n);
		}
		if (!also_stderr)
			return;
	}
	write_all(STDERR_FILENO, full, (size_t)n);
}

void
log_hold(int on)
{
	holding = on;
	if (!on)
		log_flush();
}

void
log_flush(void)
{
	if (heldlen == 0 || dest != DEST_FILE || fd == -1) {
		heldlen = 0;
		return;
	}
	reopen_if_rotated();
	/* Whole lines in one write(2), as one line would be. */
	write_all(fd, held, heldlen);
	heldlen = 0;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, "info", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "warn", fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, "error", fmt, ap);
	va_end(ap);
}
