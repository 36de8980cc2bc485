/*
 * queue.h - the job queue (FHIR async pattern, Bulk Data 2.0): a job is
 * created by a kick-off (202 + Content-Location), claimed by a runner,
 * kept alive by its heartbeat, and ends complete, failed or cancelled;
 * expired jobs are removed with their files.
 *
 * Life of a job (job.status): queued -> running -> complete | failed;
 * cancelled by its client at any time (DELETE on the status URL).  A
 * running job whose runner stopped beating is taken back by another.
 * Its output is written by the ndjson writer (ndjson.h) and published,
 * with the records of what it releases (members.h), only in the
 * transaction that marks it complete.
 */
#ifndef P2P_QUEUE_H
#define P2P_QUEUE_H

#include <limits.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define JOB_ID_LEN	32	/* hex chars */

/* Job kinds (job.kind). */
#define JOB_BULK_MATCH	"bulk-member-match"
#define JOB_EVERYTHING	"everything"
#define JOB_DATA_EXPORT	"data-export"
#define JOB_PATIENT_EXPORT "patient-export"	/* Patient/$export: every
						   member the client matched */

struct job {
	char		 id[JOB_ID_LEN + 1];	/* also the directory name */
	char		 client_id[128];	/* who asked */
	char		 kind[32];		/* JOB_* */
	char		 request[2048];		/* kick-off URL */
	json_object	*params;		/* kind-specific, owned */
	char		 transaction_time[32];	/* set when claimed */
	char		 dir[PATH_MAX];		/* output_dir/id */
	char		 runner[300];		/* who claimed it */
};

struct job_out;		/* ndjson.h */

/* True for a job id as job_create() makes them (32 lowercase hex). */
int	 job_id_valid(const char *);

/*
 * Creates a queued job owned by client and fills id.  params is
 * serialised (not taken).  Wakes the runner when configured.
 */
int	 job_create(struct p2p_db *, const struct p2p_config *,
	    const char *client, const char *kind, const char *request,
	    json_object *params, char id[JOB_ID_LEN + 1], struct p2p_err *);

/*
 * Starts cfg->runner with --once, detached (double fork, setsid, stdio
 * on /dev/null, no inherited descriptors), so the caller never waits
 * for it.  0, or -1 when it could not be started (logged).
 */
int	 job_wake(const struct p2p_config *);

/*
 * Claims the oldest queued job for runner (an id such as "host:pid"),
 * or takes back a running job whose heartbeat is older than stale
 * seconds or whose runner on this host is gone.  One BEGIN IMMEDIATE
 * transaction, so two runners never claim the same job; a job taken
 * back starts anew, with no member recorded (members.h).  Returns 1 with
 * *job filled (free with job_free()), 0 when there is nothing to do, -1
 * with err set.
 */
int	 job_claim(struct p2p_db *, const struct p2p_config *,
	    const char *runner, long long stale, struct job *,
	    struct p2p_err *);
/* Releases job->params. */
void	 job_free(struct job *);

/*
 * Refreshes the heartbeat, the progress text (may be NULL) and, when
 * total > 0, the progress in numbers (done of total, now: what the
 * status URL's Retry-After is reckoned from).  Returns 0, 1 when the
 * job is no longer this runner's (cancelled, taken over), or -1 with
 * err set.
 */
int	 job_heartbeat(struct p2p_db *, const struct job *, const char *runner,
	    const char *progress, long long done, long long total,
	    struct p2p_err *);

/*
 * Completes a job: finishes the output (rename, job_file rows), writes
 * its release records (job_members_publish()) and marks it complete, in
 * one transaction.  Returns 0, 1 when the job is no longer this
 * runner's (its files are removed), -1 with err set.
 */
int	 job_complete(struct p2p_db *, const struct p2p_config *,
	    const struct job *, const char *runner, struct job_out *,
	    struct p2p_err *);

/*
 * Marks a job failed with why as its OperationOutcome, forgets its
 * members (nothing was released) and removes its directory.  0 or -1.
 */
int	 job_fail(struct p2p_db *, const struct p2p_config *,
	    const struct job *, const char *runner, const struct p2p_err *why,
	    struct p2p_err *);

/*
 * Deletes jobs whose time ran out (and cancelled ones), with their
 * directories.  Sets *n to how many.  0 or -1.
 */
int	 job_expire(struct p2p_db *, const struct p2p_config *, time_t now,
	    int *n, struct p2p_err *);

/*
 * Cancels job id of client and removes its files.  Returns 0, 1 when
 * there is no such job, -1 with err set.
 */
int	 job_cancel(struct p2p_db *, const struct p2p_config *, const char *id,
	    const char *client, struct p2p_err *);

#endif
