/*
 * export.h - member data export as jobs: the kick-offs of
 * Patient/$everything (Prefer: respond-async) and
 * Group/$davinci-data-export queue a job here; export_run() (job.h) is
 * the runner's side.
 */
#ifndef P2P_EXPORT_H
#define P2P_EXPORT_H

#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "jobs/job.h"
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
 * A download of file name of job id by client at now is a release of
 * every member the file holds (issue #7): each must still be released
 * to the client (consent_access_cfg(): a withdrawn consent withdraws the
 * files made under it) and each gets a "release" audit record (client,
 * member, consent, "file <id>/<name>"), all in one transaction.  0; or
 * -1 with err: 403 with refused set to the member refused and nothing
 * recorded, or a database failure.
 */
int	 export_file_release(struct p2p_db *, const struct p2p_config *,
	    const char *id, const char *name, const char *client, time_t now,
	    char *refused, size_t refusedsz, struct p2p_err *);

#endif
