/*
 * status.h - what a client sees of its jobs (Bulk Data 2.0 §3): the
 * status of a job, the manifest of a complete one, and its files behind
 * signed URLs (signed here and checked here).  Every job and file is
 * visible only to the client that started the job.
 */
#ifndef P2P_STATUS_H
#define P2P_STATUS_H

#include <stddef.h>
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
