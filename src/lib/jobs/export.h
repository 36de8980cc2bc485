/*
 * export.h - member data export as jobs: the kick-offs of
 * Patient/$everything (Prefer: respond-async) and
 * Group/$davinci-data-export queue a job here; export_run() is the
 * runner's side.
 */
#ifndef P2P_EXPORT_H
#define P2P_EXPORT_H

#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "jobs/ndjson.h"
#include "jobs/queue.h"
#include "store/db.h"

/*
 * 0 when group is a MatchedMembers group (grp.kind 'match') of client;
 * else -1 with a 404 that does not tell whether the group exists, or a
 * database failure.
 */
int	 export_group_owned(struct p2p_db *, const char *group,
	    const char *client, struct p2p_err *);

/*
 * Queues a job of kind JOB_EVERYTHING (target: the member),
 * JOB_DATA_EXPORT (target: the group) or JOB_PATIENT_EXPORT (target: the
 * client itself) for client with the request's
 * validated parameters args (release.h narrowing, patient, ...) and its
 * URL; sets id.  0, or -1 with err.
 */
int	 export_queue(struct p2p_db *, const struct p2p_config *,
	    const char *client, const char *kind, const char *target,
	    const struct p2p_kvlist *args, const char *request,
	    char id[JOB_ID_LEN + 1], struct p2p_err *);

/*
 * The runner's work for a job of kind JOB_EVERYTHING, JOB_DATA_EXPORT or
 * JOB_PATIENT_EXPORT: reads job->params, writes output to o.  0, or -1
 * with err.
 */
int	 export_run(struct p2p_db *, const struct p2p_config *,
	    const struct job *, struct job_out *, struct p2p_err *);

/* The statements of the walk over members (NULL-terminated), for EXPLAIN. */
extern const char *const export_queries[];

#endif
