/*
 * member-match.c - POST /fhir/Patient/$member-match (HRex
 * member-match; also the PDex STU1 form with OldCoverage/NewCoverage).
 *
 * After the gates (op_member_match below, enforced by web/serve.c, the
 * requesting payer resolved among them), the rules are match.c's: the
 * input (match_parse, 400), then the match in one write transaction
 * (match_member: consent 422, probing guard 429, outcome 422), the
 * reply (match_reply).  serve.c records a refusal (event "match").
 */
#include "auth/scopes.h"
#include "member/audit.h"
#include "member/match.h"
#include "web/op.h"

static int
member_match(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct match_input	 in;
	struct match_key	 key;
	json_object		*out;
	char			 patient[72];

	if (match_parse(req->json, &in, &key, err) == -1)
		return -1;
	if (match_member(&ctx->db, &ctx->cfg, &in, &key, req->who.client_id,
	    req->who.npi, req->who.org_id, now_sec(), patient,
	    sizeof(patient), err) == -1) {
		p2p_audit_about(req, patient, 0);
		return -1;
	}
	if ((out = match_reply(&ctx->cfg, &in, patient)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	p2p_set_json(req, 200, "application/fhir+json", out);
	return 0;
}

static const struct p2p_route routes[] = {
	/* HRex: the operation's parameters travel in the body only. */
	{ "/fhir/Patient/$member-match", P2P_POST, member_match, NULL,
	  P2P_BODY_FHIR, "Parameters", P2P_SYNC, P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_member_match = {
	.name = "member-match",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_MATCH,
	.payer = P2P_PAYER_REQUIRED,	/* the Consent names it (HRex) */
	.audit = AUDIT_MATCH,
	.db_mmap = 1,		/* one process (lighttpd.conf) */
	.batch = 32,		/* group commit (web/batch.c) */
};

P2P_MAIN(op_member_match)
