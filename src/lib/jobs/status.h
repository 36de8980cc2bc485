/*
 * status.h - what a client sees of its jobs (Bulk Data 2.0 §3): the
 * status of a job, the manifest of a complete one, and its files behind
 * signed URLs (signed here and checked here).  Every job and file is
 * visible only to the client that started the job.
 */
#ifndef P2P_STATUS_H
#define P2P_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

struct job_state {
	char		 kind[32];		/* JOB_* */
	char		 status[16];		/* queued running complete ... */
	char		 request[2048];		/* kick-off URL */
	char		 progress[100];		/* X-Progress text, or "" */
	char		 transaction_time[32];	/* instant, or "" */
	char		*error;			/* OperationOutcome JSON, malloc'd */
	long long	 expires;		/* epoch seconds */
	long long	 started_ms;		/* claimed by a runner (ms) */
	long long	 beat_ms;		/* last progress report (ms) */
	long long	 done;			/* members done at that report */
	long long	 total;			/* of how many (0: unknown) */
};

/*
 * Reads job id when it belongs to client and has not expired nor been
 * cancelled.  Returns 0 (free st with job_state_free()), 1 when there
 * is no such job for this client, -1 with err set.
 */
int	 job_get(struct p2p_db *, const char *id, const char *client,
	    time_t now, struct job_state *, struct p2p_err *);
void	 job_state_free(struct job_state *);

#define JOB_RETRY_MAX	120	/* longest Retry-After, seconds */
#define JOB_PACE_MIN_MS	1000	/* a pace measured over less is none */
#define JOB_WAIT_TICK_MS 20	/* how often a waiting status looks */
#define JOB_POLL_STRIKES 3	/* early polls in a row that get 429 */
#define JOB_POLL_MIN_RA	3	/* only after a Retry-After this long */

/* True while s is queued or running. */
int	 job_in_progress(const struct job_state *);

/*
 * Milliseconds until job s ends at now, reckoned from its progress (the
 * pace from its start to its last report, from that report on), or -1
 * when that cannot be told (queued, no report JOB_PACE_MIN_MS after the
 * start yet).
 */
long long job_eta_ms(const struct job_state *, int64_t now);

/*
 * The Retry-After of job s in progress at now (ms): its ETA in whole
 * seconds, at least 1 (the shortest the header allows: also when the
 * ETA is unknown) and at most JOB_RETRY_MAX.
 */
int	 job_retry_after(const struct job_state *, int64_t now);

/*
 * A status request for job id (s, in progress) of client waits for the
 * job to end, up to cfg->status_wait_ms, when its ETA is within that or
 * not known yet (a queued job only when a runner was woken), and one of
 * cfg->status_waiters slots is free (else it does not wait); it stops
 * as soon as the job ends or its pace says it will not end in time.  s
 * is read again.  Returns 0, 1 when the job is gone (cancelled), -1
 * with err.
 */
int	 job_wait(struct p2p_db *, const struct p2p_config *, const char *id,
	    const char *client, struct job_state *s, struct p2p_err *);

/*
 * Records a poll at now (ms) of job id in progress, answered with
 * Retry-After ra.  Returns 0, or 1 with *wait (seconds) when the client
 * polled before half the Retry-After it was given (one of
 * JOB_POLL_MIN_RA seconds or more: a short job may be polled at will)
 * JOB_POLL_STRIKES times in a row (Bulk Data 2.0: 429 Too Many Requests
 * with the Retry-After still to wait); one poll that waits long enough
 * clears it.  -1 with err.
 */
int	 job_poll(struct p2p_db *, const char *id, const char *client,
	    int64_t now, int ra, int *wait, struct p2p_err *);

/*
 * Records the Retry-After ra given at now (ms) to a poll of job id that
 * waited (job_wait()) after job_poll() recorded another.  0 or -1.
 */
int	 job_advise(struct p2p_db *, const char *id, const char *client,
	    int64_t now, int ra, struct p2p_err *);

/*
 * The Bulk Data manifest of a complete job (Bulk Data 2.0 export.html,
 * "Response - Complete Status"); file URLs are signed when
 * cfg->signed_urls.  Returns 0 with *out (caller owns) or -1.
 */
int	 job_manifest(struct p2p_db *, const struct p2p_config *,
	    const char *id, const struct job_state *, time_t now,
	    json_object **out, struct p2p_err *);

/*
 * Signature of a file URL: lowercase hex HMAC-SHA256, keyed with
 * <data_dir>/keys/secdownload.key, over path "\n" exp.  0 or -1.
 */
int	 job_url_sign(const struct p2p_config *, const char *path,
	    long long exp, char hex[65], struct p2p_err *);

/*
 * Checks a file URL's signature: exp (decimal, not passed at now) and
 * sig (job_url_sign() of path and exp).  0, or -1 with a 403 (security:
 * unsigned or wrong; expired), or 500 without the signing key.
 */
int	 job_url_check(const struct p2p_config *, const char *path,
	    const char *exp, const char *sig, time_t now, struct p2p_err *);

/*
 * A file of job id for client: the job is the client's, not expired nor
 * cancelled, complete, and its manifest lists name (never a temporary
 * file).  Returns 0 with path (output_dir/id/name), 1 when client has no
 * such file, -1 with err.
 */
int	 job_file(struct p2p_db *, const struct p2p_config *, const char *id,
	    const char *name, const char *client, time_t now, char *path,
	    size_t pathsz, struct p2p_err *);

#endif
