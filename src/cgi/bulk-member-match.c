/*
 * bulk-member-match.c - POST /fhir/Group/$bulk-member-match, the kick-off
 * (PDex payertopayerbulkexchange; FHIR R4 async pattern).  The request
 * is checked at once and stored as a job; the export runner does the
 * matching (bulk_match_run() in bulkmatch.c).
 */
#include <stdio.h>
#include <string.h>

#include "auth/scopes.h"
#include "member/audit.h"
#include "member/bulkmatch.h"
#include "json/fhir.h"
#include "jobs/job.h"
#include "web/op.h"
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

static int
bulk_match(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	json_object	*bundles = NULL, *params;
	char		 id[JOB_ID_LEN + 1], url[700];
	int		 rc;

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
	p2p_accepted(req, id);
	return 0;
}

static const struct p2p_route routes[] = {
	/* PDex: the operation SHALL be asynchronous; its parameters
	 * travel in the body. */
	{ "/fhir/Group/$bulk-member-match", P2P_POST, bulk_match, NULL,
	  P2P_BODY_FHIR, "Parameters", P2P_ASYNC },
	{ NULL }
};

const struct p2p_op op_bulk_member_match = {
	.name = "bulk-member-match",
	.routes = routes,
	.limit = P2P_LIMIT_BULK,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_BULK_MATCH,
	/* The Groups name the requesting payer (characteristic) and each
	 * Consent must name it as recipient. */
	.payer = P2P_PAYER_REQUIRED,
	.audit = AUDIT_MATCH,
};

#ifndef P2P_NO_MAIN
int
main(void)
{
	return p2p_main(&op_bulk_member_match);
}
#endif
