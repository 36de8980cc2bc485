/*
 * peer/progress.h - progress of long downloads for the operator: files
 * and bytes done, percentage and time left.  On a terminal one line is
 * redrawn in place; otherwise (cron, systemd, a pipe) a plain line is
 * written every interval seconds, and always a last one.
 */
#ifndef P2P_PEER_PROGRESS_H
#define P2P_PEER_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct progress {
	FILE		*out;
	int		 tty;		/* redraw in place */
	int		 interval;	/* seconds between plain lines */
	char		 label[96];	/* what is being downloaded */
	long long	 files_total;
	long long	 files_done;
	long long	 files_start;	/* done before this run (resume) */
	long long	 bytes_done;
	long long	 bytes_start;
	long long	 bytes_total;	/* -1 while some size is unknown */
	int64_t		 t0;		/* ms */
	int64_t		 last;		/* ms of the last line */
	int		 drawn;		/* a tty line is on screen */
	long long	 shown_files;	/* figures of the last line */
	long long	 shown_bytes;
};

/* Starts a display; files_done and bytes_done count earlier runs. */
void	 progress_init(struct progress *, FILE *, int interval,
	    const char *label, long long files_total, long long files_done,
	    long long bytes_done);
/* New totals; writes a line when due (force: now). */
void	 progress_update(struct progress *, long long files_done,
	    long long bytes_done, long long bytes_total, int force);
/* The last line (and the newline a terminal needs). */
void	 progress_end(struct progress *);

/*
 * The line for these figures, elapsed_ms into this run: "label: 5/12
 * files, 41% (3.2 MB of 7.8 MB), 1.1 MB/s, 0:04 left".  Pure.
 */
void	 progress_text(const struct progress *, int64_t elapsed_ms,
	    char *out, size_t outsz);

#endif
