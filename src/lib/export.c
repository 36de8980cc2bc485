/*
 * export.c - member data export (Patient/$everything async and
 * Group/$davinci-data-export).  Placeholder until issue #6 lands.
 */
#include "job.h"

int
export_run(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o, struct p2p_err *err)
{
	(void)db; (void)cfg; (void)job; (void)o;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "export is not implemented yet");
}
