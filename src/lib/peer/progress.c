/*
 * peer/progress.c - see progress.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "peer/progress.h"

void
progress_init(struct progress *p, FILE *out, int interval, const char *label,
    long long files_total, long long files_done, long long bytes_done)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
	p->tty = out != NULL && isatty(fileno(out));
	p->interval = interval > 0 ? interval : 10;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->files_total = files_total;
	p->files_done = p->files_start = files_done;
	p->bytes_done = p->bytes_start = bytes_done;
	p->bytes_total = -1;
	p->shown_files = p->shown_bytes = -1;
	p->t0 = p->last = now_ms();
}

/* "812 B", "3.2 kB", "7.8 MB", "1.2 GB" */
static void
size_text(long long n, char *out, size_t outsz)
{
	static const char *const unit[] = { "kB", "MB", "GB", "TB" };
	double	 v = (double)n;
	int	 u = -1;

	if (n < 1000) {
		snprintf(out, outsz, "%lld B", n);
		return;
	}
	while (v >= 1000 && u < 3) {
		v /= 1000;
		u++;
	}
	snprintf(out, outsz, "%.1f %s", v, unit[u]);
}

void
progress_text(const struct progress *p, int64_t elapsed_ms, char *out,
    size_t outsz)
{
	char		 done[32], total[32], rate[32];
	double		 sec = elapsed_ms > 0 ? elapsed_ms / 1000.0 : 0;
	double		 left = -1, frac;
	long long	 db = p->bytes_done - p->bytes_start;
	long long	 df = p->files_done - p->files_start;
	long long	 l;
	size_t		 n;

	size_text(p->bytes_done, done, sizeof(done));
	if (p->bytes_total > 0) {
		frac = (double)p->bytes_done / (double)p->bytes_total;
		if (db > 0 && sec > 0)
			left = (double)(p->bytes_total - p->bytes_done) /
			    (db / sec);
	} else {
		frac = p->files_total > 0 ? (double)p->files_done /
		    (double)p->files_total : 1;
		if (df > 0 && sec > 0)
			left = (double)(p->files_total - p->files_done) /
			    (df / sec);
	}
	if (frac > 1)
		frac = 1;
	n = (size_t)snprintf(out, outsz, "%s: %lld/%lld files, %d%%", p->label,
	    p->files_done, p->files_total, (int)(frac * 100));
	if (n >= outsz)
		return;
	if (p->bytes_total > 0) {
		size_text(p->bytes_total, total, sizeof(total));
		n += (size_t)snprintf(out + n, outsz - n, " (%s of %s)", done,
		    total);
	} else
		n += (size_t)snprintf(out + n, outsz - n, " (%s)", done);
	if (n >= outsz)
		return;
	if (db > 0 && sec > 0) {
		size_text((long long)(db / sec), rate, sizeof(rate));
		n += (size_t)snprintf(out + n, outsz - n, ", %s/s", rate);
	}
	if (n >= outsz)
		return;
	if (p->files_done >= p->files_total)
		snprintf(out + n, outsz - n, ", done in %.1f s", sec);
	else if (left >= 0) {
		l = (long long)(left + 0.5);
		snprintf(out + n, outsz - n, ", %lld:%02lld left", l / 60,
		    l % 60);
	} else
		snprintf(out + n, outsz - n, ", time left unknown");
}

void
progress_update(struct progress *p, long long files_done, long long bytes_done,
    long long bytes_total, int force)
{
	char	 line[300];
	int64_t	 now = now_ms();

	p->files_done = files_done;
	p->bytes_done = bytes_done;
	p->bytes_total = bytes_total;
	/* Nothing to show, or the same figures again. */
	if (p->out == NULL || p->files_total == 0 || (force &&
	    files_done == p->shown_files && bytes_done == p->shown_bytes))
		return;
	if (p->tty) {
		if (!force && now - p->last < 200)
			return;
		progress_text(p, now - p->t0, line, sizeof(line));
		fprintf(p->out, "\r%-78.200s", line);
		p->drawn = 1;
	} else {
		if (!force && now - p->last < (int64_t)p->interval * 1000)
			return;
		progress_text(p, now - p->t0, line, sizeof(line));
		fprintf(p->out, "%s\n", line);
	}
	fflush(p->out);
	p->last = now;
	p->shown_files = files_done;
	p->shown_bytes = bytes_done;
}

void
progress_end(struct progress *p)
{
	progress_update(p, p->files_done, p->bytes_done, p->bytes_total, 1);
	if (p->out != NULL && p->tty && p->drawn)
		fputc('\n', p->out);
	p->drawn = 0;
}
