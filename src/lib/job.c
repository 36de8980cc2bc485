/*
 * job.c - see job.h.  Placeholder until issue #5 lands.
 */
#include "job.h"

int
job_create(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *kind, const char *request,
    json_object *params, char id[JOB_ID_LEN + 1], struct p2p_err *err)
{
	(void)db; (void)cfg; (void)client; (void)kind; (void)request;
	(void)params;
	id[0] = '\0';
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "asynchronous jobs are not implemented yet");
}

void
job_accepted(struct p2p_req *req, const char *id)
{
	(void)id;
	req->status = 202;
}

struct job_out *
job_out_new(const struct job *job, const struct p2p_config *cfg,
    struct p2p_err *err)
{
	(void)job; (void)cfg;
	p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED, "not implemented yet");
	return NULL;
}

int
job_out_write(struct job_out *o, const char *type, const char *json,
    size_t len, struct p2p_err *err)
{
	(void)o; (void)type; (void)json; (void)len;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "not implemented yet");
}

int
job_out_error(struct job_out *o, json_object *outcome, struct p2p_err *err)
{
	(void)o; (void)outcome;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "not implemented yet");
}

int
job_out_member(struct job_out *o, const char *patient, long long cid,
    struct p2p_err *err)
{
	(void)o; (void)patient; (void)cid;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "not implemented yet");
}

int
job_out_finish(struct job_out *o, struct p2p_db *db, struct p2p_err *err)
{
	(void)o; (void)db;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "not implemented yet");
}

void
job_out_free(struct job_out *o)
{
	(void)o;
}

int
bulk_match_run(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o, struct p2p_err *err)
{
	(void)db; (void)cfg; (void)job; (void)o;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "bulk member match is not implemented yet");
}
