/*
 * peer/download.h - the files of a manifest, downloaded in parallel
 * (libcurl multi), resumable and checked:
 *   - a file partly on disk is asked for the rest (Range); a server that
 *     answers 200 instead of 206 sends it whole again;
 *   - 429 and 5xx are retried after Retry-After or an exponential
 *     backoff; a transfer that stalls (no byte for the stall time) or
 *     breaks is retried the same way, each file at most max_attempts
 *     times in one run;
 *   - a complete file's lines are counted against the manifest's count:
 *     a short (truncated) file is removed and fetched again;
 *   - a file growing past max_bytes (Content-Length or bytes received)
 *     is cut off, removed and failed, never tried again in that run;
 *   - 401 gets a fresh token once; 403 and 404 stop the run so that the
 *     caller can poll the status URL again (expired signed URLs, a job
 *     withdrawn by the peer); other refusals fail the file with the
 *     peer's words.
 */
#ifndef P2P_PEER_DOWNLOAD_H
#define P2P_PEER_DOWNLOAD_H

#include <limits.h>
#include <signal.h>

#include "core/err.h"
#include "peer/progress.h"
#include "peer/smart.h"

#define DL_PARALLEL	4	/* transfers at a time, by default */
#define DL_ATTEMPTS	4	/* tries per file per run */
#define DL_STALL	60	/* seconds without a byte */
#define DL_BACKOFF_MAX	60	/* seconds between tries */

enum dl_outcome {
	DL_PENDING,	/* not finished */
	DL_OK,		/* on disk, complete, lines == count */
	DL_FAILED,	/* gave up: see reason */
	DL_STALE,	/* 403/404: poll the status URL again */
};

struct dl_item {
	long long	 seq;		/* the caller's key */
	const char	*url;		/* borrowed */
	char		 path[PATH_MAX]; /* where the file goes */
	long long	 count;		/* lines announced, -1 unknown */
	long long	 bytes;		/* on disk (set by dl_run) */
	long long	 lines;		/* counted once complete */
	int		 attempts;	/* tries so far, this run */
	enum dl_outcome	 outcome;
	long		 status;	/* last HTTP status */
	char		 reason[300];	/* why it failed or was retried */
};

struct dl_opts {
	long long	 max_bytes;	/* a larger file fails (0: no bound) */
	int		 parallel;	/* 0: DL_PARALLEL */
	int		 max_attempts;	/* 0: DL_ATTEMPTS */
	long		 stall;		/* 0: DL_STALL */
	long long	 stop_after;	/* test hook: stop once this many
					   files are done and more are
					   left (0: never) */
	long long	*done;		/* files done, counted across runs
					   (with stop_after), or NULL */
	volatile sig_atomic_t *stop;	/* set by a signal: stop now */
	struct progress	*progress;	/* or NULL */
	/* After each file finishes (OK, FAILED or STALE): persist it. */
	int		(*on_file)(void *, struct dl_item *, struct p2p_err *);
	void		*arg;
};

/*
 * Downloads items whose outcome is DL_PENDING.  Returns 0 when every
 * item is DL_OK; 1 when some failed or went stale (see each item);
 * 2 when stopped (signal, or stop_after) with partial files left for
 * the next run; -1 with err on a local failure (disk, database).
 */
int	 dl_run(struct smart *, struct dl_item *, size_t n,
	    const struct dl_opts *, struct p2p_err *);

/*
 * Counts the lines of a file (a last line without a newline counts).
 * Sets *lines and *ends_nl.  0 or -1.
 */
int	 dl_count_lines(const char *path, long long *lines, int *ends_nl);

#endif
