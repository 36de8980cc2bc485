/*
 * job.h - asynchronous jobs (FHIR async pattern, Bulk Data 2.0): the
 * kick-off side (create, 202 + Content-Location) and the runner side
 * (claim, write ndjson output, finish).  Status and files: issue #5.
 *
 * A job's files live in output_dir/<job id>/ (the id is 128 random bits)
 * and are written under temporary names, renamed only when the job
 * completes, so nothing half-written is ever listed in a manifest.
 */
#ifndef P2P_JOB_H
#define P2P_JOB_H

#include <limits.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "store/db.h"
#include "core/err.h"

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
};

/*
 * Creates a queued job owned by client and fills id.  params is
 * serialised (not taken).  Wakes the runner when configured.
 */
int	 job_create(struct p2p_db *, const struct p2p_config *,
	    const char *client, const char *kind, const char *request,
	    json_object *params, char id[JOB_ID_LEN + 1], struct p2p_err *);

/*
 * A parameter validator (struct p2p_param, web/op.h) for _outputFormat:
 * the writer makes FHIR ndjson only (Bulk Data 2.0 accepts the three
 * spellings).  0, or -1 with a 400 not-supported.
 */
int	 job_format_valid(const char *name, const char *value,
	    struct p2p_err *);

/* Per-type ndjson output of a running job (opaque). */
struct job_out;

/* Starts output for a claimed job: creates its directory. */
struct job_out *job_out_new(const struct job *, const struct p2p_config *,
	    struct p2p_err *);
/*
 * Appends one resource (its JSON text, no newline) to the file of its
 * type, starting a new file every export_file_max resources.
 */
int	 job_out_write(struct job_out *, const char *type, const char *json,
	    size_t len, struct p2p_err *);
/* Appends an OperationOutcome to the error file (not taken). */
int	 job_out_error(struct job_out *, json_object *outcome,
	    struct p2p_err *);
/*
 * Notes that the output holds data of patient under consent cid; the
 * job_member rows are written by job_out_finish (for outputs whose
 * member list is bounded, such as a $bulk-member-match request's).
 */
int	 job_out_member(struct job_out *, const char *patient, long long cid,
	    struct p2p_err *);
/*
 * The same, written at once in the caller's transaction: a group export
 * of any size keeps no member list in memory.  job_members_clear()
 * forgets the rows of an earlier, unfinished run of the job.
 */
int	 job_member_add(struct p2p_db *, const char *job_id,
	    const char *patient, long long cid, struct p2p_err *);
int	 job_members_clear(struct p2p_db *, const char *job_id,
	    struct p2p_err *);
/*
 * Closes and renames every file and records them (job_file rows) in the
 * caller's transaction.  The job is marked complete by the runner.
 */
int	 job_out_finish(struct job_out *, struct p2p_db *, struct p2p_err *);
/* Frees; removes any file not finished. */
void	 job_out_free(struct job_out *);

/*
 * Reports progress from a job's work (done of total units, e.g.
 * members).  The runner refreshes the job's heartbeat and shows it on a
 * terminal.  Returns 0 to go on, or -1 with err set when the job must
 * stop (cancelled by its client, taken over, database failure).
 */
int	 job_progress(struct job_out *, long long done, long long total,
	    struct p2p_err *);

/* Progress callback the runner installs (see job_progress()). */
typedef int (*job_progress_fn)(void *arg, long long done, long long total,
    struct p2p_err *);
void	 job_out_set_progress(struct job_out *, job_progress_fn, void *arg);

/*
 * The work of one job kind: reads job->params, writes output.  The
 * runner calls the function for the job's kind.
 */
int	 bulk_match_run(struct p2p_db *, const struct p2p_config *,
	    const struct job *, struct job_out *, struct p2p_err *);
int	 export_run(struct p2p_db *, const struct p2p_config *,
	    const struct job *, struct job_out *, struct p2p_err *);

/* --- runner side ------------------------------------------------------ */

/*
 * Claims the oldest queued job for runner (an id such as "host:pid"),
 * or takes back a running job whose heartbeat is older than stale
 * seconds or whose runner on this host is gone.  One BEGIN IMMEDIATE
 * transaction, so two runners never claim the same job.  Returns 1 with
 * *job filled (free with job_free()), 0 when there is nothing to do, -1
 * with err set.
 */
int	 job_claim(struct p2p_db *, const struct p2p_config *,
	    const char *runner, long long stale, struct job *,
	    struct p2p_err *);
/* Releases job->params. */
void	 job_free(struct job *);

/*
 * Refreshes the heartbeat (and progress text, may be NULL).  Returns 0,
 * 1 when the job is no longer this runner's (cancelled, taken over), or
 * -1 with err set.
 */
int	 job_heartbeat(struct p2p_db *, const struct job *, const char *runner,
	    const char *progress, struct p2p_err *);

/*
 * Completes a job: finishes the output (rename, job_file rows) and
 * marks it complete in one transaction.  Returns 0, 1 when the job is
 * no longer this runner's (its files are removed), -1 with err set.
 */
int	 job_complete(struct p2p_db *, const struct p2p_config *,
	    const struct job *, const char *runner, struct job_out *,
	    struct p2p_err *);

/*
 * Marks a job failed with why as its OperationOutcome and removes its
 * directory.  0 or -1.
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
 * Starts cfg->runner with --once, detached (double fork, setsid, stdio
 * on /dev/null, no inherited descriptors), so the caller never waits
 * for it.  0, or -1 when it could not be started (logged).
 */
int	 job_wake(const struct p2p_config *);

/* --- status side ------------------------------------------------------ */

struct job_state {
	char		 kind[32];		/* JOB_* */
	char		 status[16];		/* queued running complete ... */
	char		 request[2048];		/* kick-off URL */
	char		 progress[100];		/* X-Progress text, or "" */
	char		 transaction_time[32];	/* instant, or "" */
	char		*error;			/* OperationOutcome JSON, malloc'd */
	long long	 expires;		/* epoch seconds */
};

/*
 * Reads job id when it belongs to client and has not expired nor been
 * cancelled.  Returns 0 (free st with job_state_free()), 1 when there
 * is no such job for this client, -1 with err set.
 */
int	 job_get(struct p2p_db *, const char *id, const char *client,
	    time_t now, struct job_state *, struct p2p_err *);
void	 job_state_free(struct job_state *);

/*
 * The Bulk Data manifest of a complete job (Bulk Data 2.0 export.html,
 * "Response - Complete Status"); file URLs are signed when
 * cfg->signed_urls.  Returns 0 with *out (caller owns) or -1.
 */
int	 job_manifest(struct p2p_db *, const struct p2p_config *,
	    const char *id, const struct job_state *, time_t now,
	    json_object **out, struct p2p_err *);

/*
 * Cancels job id of client and removes its files.  Returns 0, 1 when
 * there is no such job, -1 with err set.
 */
int	 job_cancel(struct p2p_db *, const struct p2p_config *, const char *id,
	    const char *client, struct p2p_err *);

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
