/*
 * everything.c - GET|POST /fhir/Patient/{id}/$everything (FHIR R4
 * operation-patient-everything; PDex payer-to-payer single member).
 *
 * The release check (consent_access_cfg) for every request, then
 * synchronously one keyset page of a searchset Bundle
 * (datascope/everything.c: the member's released rows by the rules of
 * release.c, what they reference, a PDex transmitter Provenance), or
 * with Prefer: respond-async a JOB_EVERYTHING job (jobs/export.c, one
 * ndjson file per type), 202 + Content-Location.
 */
#include <stdlib.h>

#include "auth/scopes.h"
#include "datascope/everything.h"
#include "datascope/release.h"
#include "jobs/export.h"
#include "member/audit.h"
#include "member/consent.h"
#include "web/op.h"

static int
everything_async(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    const struct p2p_kvlist *params, struct p2p_err *err)
{
	char	 jid[JOB_ID_LEN + 1], url[2048];

	if (p2p_request_url(req, url, sizeof(url), err) == -1 ||
	    export_queue(&ctx->db, &ctx->cfg, req->who.client_id,
	    JOB_EVERYTHING, id, params, url, jid, err) == -1)
		return -1;
	p2p_accepted(req, jid);
	return 0;
}

static int
everything(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct release_rules	*rules = NULL;
	struct p2p_err		 aerr;
	const char		*id = req->ids[0];
	char			 summary[480];
	long long		 cid = 0;
	int			 sensitive = 0, rc = -1;
	size_t			 i;

	p2p_err_init(&aerr);
	p2p_audit_about(req, id, 0);
	if ((rules = calloc(1, sizeof(*rules))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	/* The narrowing parameters (the others are the page's). */
	release_init(rules, &ctx->cfg, now_sec(), 0);
	for (i = 0; i < req->params.n; i++)
		if (release_apply(rules, req->params.kv[i].key,
		    req->params.kv[i].val, err) == -1)
			goto out;
	/* PDex: the release check for every request. */
	if (consent_access_cfg(&ctx->db, &ctx->cfg, req->who.client_id, id,
	    now_sec(), &cid, &sensitive, err) == -1)
		goto out;
	rules->sensitive = sensitive != 0;
	if (req->async)
		rc = everything_async(ctx, req, id, &req->params, err);
	else if ((rc = everything_page(&ctx->db, &ctx->cfg, rules, id,
	    &req->params, &req->out, summary, sizeof(summary), err)) == 0) {
		req->status = 200;
		req->ctype = "application/fhir+json";
	}
	/*
	 * Which resources went out, for the disclosure report.
	 * A job releases nothing yet: its record is written when its files
	 * are published (jobs/members.h).
	 */
	if (rc == 0 && !req->async)
		audit_log(&ctx->db, AUDIT_RELEASE, "success",
		    req->who.client_id, id, cid, summary, &aerr);
out:
	free(rules);
	return rc;
}

static const struct p2p_param params[] = {
	{ "_type", release_param_valid, P2P_PARAM_MULTI },
	{ "_since", release_param_valid, 0 },
	{ "start", release_param_valid, 0 },
	{ "end", release_param_valid, 0 },
	{ "_count", everything_count_valid, P2P_PARAM_SYNC },
	{ "_cursor", everything_cursor_valid, P2P_PARAM_SYNC },
	{ "_outputFormat", job_format_valid, P2P_PARAM_ASYNC },
	{ NULL, NULL, 0 }
};

static const struct p2p_route routes[] = {
	{ "/fhir/Patient/{id}/$everything", P2P_GET | P2P_POST, everything,
	  params, P2P_BODY_PARAMETERS, NULL, P2P_SYNC_OR_ASYNC,
	  P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_everything = {
	.name = "everything",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_EVERYTHING,
	.payer = P2P_PAYER_ANY,		/* the match is the client's own */
	.audit = AUDIT_RELEASE,
};

P2P_MAIN(op_everything)
