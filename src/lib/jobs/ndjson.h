/*
 * ndjson.h - the output of a running job: FHIR ndjson, one file per
 * resource type (Bulk Data 2.0), in output_dir/<job id>/.
 *
 * Files are written under temporary names (".<name>.tmp") and renamed,
 * and recorded as job_file rows, only by job_out_finish() in the
 * transaction that marks the job complete (queue.h), so nothing
 * half-written is ever listed in a manifest.
 */
#ifndef P2P_NDJSON_H
#define P2P_NDJSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "jobs/queue.h"
#include "store/db.h"

/*
 * A parameter validator (struct p2p_param, web/op.h) for _outputFormat:
 * the writer makes FHIR ndjson only (Bulk Data 2.0 accepts the three
 * spellings).  0, or -1 with a 400 not-supported.
 */
int	 job_format_valid(const char *name, const char *value,
	    struct p2p_err *);

/*
 * Starts output for a claimed job: creates its directory (empty: a job
 * taken back from a dead runner starts from scratch).
 */
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
 * Closes and renames every file and records them (job_file rows) in the
 * caller's transaction.  The job is marked complete by the runner.
 */
int	 job_out_finish(struct job_out *, struct p2p_db *, struct p2p_err *);
/* Frees; removes any file not finished. */
void	 job_out_free(struct job_out *);

/*
 * Removes job id's directory and the files in it (the writer makes no
 * subdirectories).  A missing directory is fine.
 */
void	 job_dir_remove(const struct p2p_config *, const char *id);

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

#endif
