/*
 * log.c - see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"

static const char	*progname = "p2p";
static int		 quiet;

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

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	char		 line[2048], out[4096], ts[32];
	const char	*s;
	char		*o = out;

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
	time_instant(time(NULL), ts);
	fprintf(stderr, "%s %s[%s] %s\n", ts, progname, level, out);
	fflush(stderr);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vlog("info", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("warn", fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}
