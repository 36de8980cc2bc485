/*
 * ops/bulk_match.c - POST /fhir/Group/$bulk-member-match, the kick-off
 * (PDex payertopayerbulkexchange; FHIR R4 async pattern).  The request
 * is checked at once and stored as a job; the export runner does the
 * matching (bulk_match_run() in bulkmatch.c).
 */
#include <stdio.h>
#include <string.h>

#include "auth/access.h"
#include "member/bulkmatch.h"
#include "json/fhir.h"
#include "jobs/job.h"
#include "web/ops.h"
#include "core/util.h"

/* The job's parameters: requester identity, date, the MemberBundles. */
static json_object *
job_params(const struct p2p_req *req, json_object *bundles)
{
	json_object	*p;
	char		 date[16];

	time_date(now_sec(), date);
	if ((p = json_object_new_object()) == NULL ||
	    fhir_add_str(p, "npi", req->who.npi) == -1 ||
	    fhir_add_str(p, "org_id", req->who.org_id) == -1 ||
	    fhir_add_str(p, "date", date) == -1 ||
	    fhir_add(p, "members", json_object_get(bundles)) == -1) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

int
bulk_match_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	json_object	*bundles = NULL, *params;
	char		 id[JOB_ID_LEN + 1], url[700];
	int		 rc;

	if (req->args.n > 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    req->args.kv[0].key, "$bulk-member-match takes no URL "
		    "parameters (%s)", req->args.kv[0].key);
	/* PDex: the operation SHALL be asynchronous. */
	if (!p2p_prefer_async(req))
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    "$bulk-member-match is asynchronous only: send "
		    "'Prefer: respond-async'");
	/*
	 * The Groups name the requesting payer (characteristic) and its
	 * Consent must name it as recipient: the client's NPI must be one
	 * loaded Organization (fills req->who.org_id), else 403.
	 */
	if (auth_require_payer(req, err) == -1)
		return -1;
	if (bulk_match_check(req->json, ctx->cfg.bulk_max_members, &bundles,
	    err) == -1)
		return -1;
	params = job_params(req, bundles);
	json_object_put(bundles);
	if (params == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	snprintf(url, sizeof(url), "%s/Group/$bulk-member-match",
	    ctx->cfg.fhir_base);
	rc = job_create(&ctx->db, &ctx->cfg, req->who.client_id,
	    JOB_BULK_MATCH, url, params, id, err);
	json_object_put(params);
	if (rc == -1)
		return -1;
	job_accepted(req, id);
	return 0;
}
