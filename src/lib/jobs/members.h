/*
 * members.h - the members whose data a job's files hold (table
 * job_member), the record of what the job releases: a consent revoked
 * later withdraws the files made under it, and every download is a
 * release of each member in the file, checked and audited again.
 */
#ifndef P2P_MEMBERS_H
#define P2P_MEMBERS_H

#include <stddef.h>
#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

/*
 * Records that job_id's output holds patient's data under consent cid
 * (0: none, a consent-less legacy match), in the caller's transaction.
 * job_members_clear() forgets the rows of an earlier, unfinished run of
 * the job.  0 or -1.
 */
int	 job_member_add(struct p2p_db *, const char *job_id,
	    const char *patient, long long cid, struct p2p_err *);
int	 job_members_clear(struct p2p_db *, const char *job_id,
	    struct p2p_err *);

/*
 * A download of file name of job id by client at now is a release of
 * every member the file holds (issue #7): each must still be released
 * to the client (consent_access_cfg(): a withdrawn consent withdraws the
 * files made under it) and each gets a "release" audit record (client,
 * member, consent, "file <id>/<name>"), all in one transaction.  0; or
 * -1 with err: 403 with refused set to the member refused and nothing
 * recorded, or a database failure.
 */
int	 job_members_release(struct p2p_db *, const struct p2p_config *,
	    const char *id, const char *name, const char *client, time_t now,
	    char *refused, size_t refusedsz, struct p2p_err *);

#endif
