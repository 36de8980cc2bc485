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

#include <json-c/json.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "http.h"

#define JOB_ID_LEN	32	/* hex chars */

/* Job kinds (job.kind). */
#define JOB_BULK_MATCH	"bulk-member-match"
#define JOB_EVERYTHING	"everything"
#define JOB_DATA_EXPORT	"data-export"

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

/* Sets a 202 Accepted response with Content-Location for job id. */
void	 job_accepted(struct p2p_req *, const char *id);

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
/* Notes that the output holds data of patient under consent cid. */
int	 job_out_member(struct job_out *, const char *patient, long long cid,
	    struct p2p_err *);
/*
 * Closes and renames every file and records them (job_file rows) in the
 * caller's transaction.  The job is marked complete by the runner.
 */
int	 job_out_finish(struct job_out *, struct p2p_db *, struct p2p_err *);
/* Frees; removes any file not finished. */
void	 job_out_free(struct job_out *);

/*
 * The work of one job kind: reads job->params, writes output.  The
 * runner calls the function for the job's kind.
 */
int	 bulk_match_run(struct p2p_db *, const struct p2p_config *,
	    const struct job *, struct job_out *, struct p2p_err *);
int	 export_run(struct p2p_db *, const struct p2p_config *,
	    const struct job *, struct job_out *, struct p2p_err *);

#endif
