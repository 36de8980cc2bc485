/*
 * bulk-member-match.c - POST /fhir/Group/$bulk-member-match, the kick-off
 * (PDex payertopayerbulkexchange; FHIR R4 async pattern).  The request
 * is checked at once and stored as a job (bulk_match_queue()); the
 * export runner does the matching (bulk_match_run()), both in
 * member/bulkmatch.c.
 */
#include "auth/scopes.h"
#include "member/audit.h"
#include "member/bulkmatch.h"
#include "web/op.h"

static int
bulk_match(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	char	 id[JOB_ID_LEN + 1];

	if (bulk_match_queue(&ctx->db, &ctx->cfg, req->who.client_id,
	    req->who.npi, req->who.org_id, req->json, now_sec(), id,
	    err) == -1)
		return -1;
	p2p_accepted(req, id);
	return 0;
}

static const struct p2p_route routes[] = {
	/* PDex: the operation SHALL be asynchronous; its parameters
	 * travel in the body. */
	{ "/fhir/Group/$bulk-member-match", P2P_POST, bulk_match, NULL,
	  P2P_BODY_FHIR, "Parameters", P2P_ASYNC, P2P_MEDIA_FHIR },
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

P2P_MAIN(op_bulk_member_match)
