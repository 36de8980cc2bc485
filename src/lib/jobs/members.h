/*
 * members.h - the members whose data a job's files hold (table
 * job_member): the disclosure accounting of jobs.
 *
 * The runner records them while the job runs; they stay pending until
 * the transaction that marks the job complete and lists its files,
 * which writes each export member's one release record to the audit
 * trail.  A job that fails keeps none, and a job taken back from a dead
 * runner starts with none, so every member is recorded once per job and
 * only for files that were published.  Afterwards they withdraw the
 * files when a consent is revoked: every download is a release of each
 * member in the file, checked and audited again.
 */
#ifndef P2P_MEMBERS_H
#define P2P_MEMBERS_H

#include <stddef.h>
#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "jobs/queue.h"
#include "store/db.h"

/* One member of an export batch (job_members_add()). */
struct job_member_row {
	const char	*patient;	/* member (a FHIR id) */
	long long	 cid;		/* consent released under; 0: none */
	long long	 n;		/* resources in the job's files */
	int		 released;	/* 0: left out, no valid consent */
};

/*
 * Records members of job's output, pending until the job completes, in
 * the caller's transaction and in one statement; nothing is recorded
 * unless job is still running and job->runner's.  Rows of an earlier
 * run of the job are replaced.  0 or -1.
 */
int	 job_members_add(struct p2p_db *, const struct job *,
	    const struct job_member_row *, size_t n, struct p2p_err *);
/*
 * One member that job's output names (a $bulk-member-match's matched
 * member under consent cid), in the caller's transaction; not a release
 * record of its own (the match is recorded).  0 or -1.
 */
int	 job_member_add(struct p2p_db *, const char *job_id,
	    const char *patient, long long cid, struct p2p_err *);
/*
 * Forgets job_id's members: a claimed job starts with none, a failed
 * job keeps none.  0 or -1.
 */
int	 job_members_clear(struct p2p_db *, const char *job_id,
	    struct p2p_err *);
/*
 * Publishes job's release records, in the transaction that marks it
 * complete: one "release" audit record per export member, success
 * ("<kind> job <id>: <n> resources into the job's files") or, for a
 * member left out, failure.  0 or -1.
 */
int	 job_members_publish(struct p2p_db *, const struct job *,
	    struct p2p_err *);

/*
 * A download of file name of job id by client at now is a release of
 * every member the file holds: each must still be released
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
