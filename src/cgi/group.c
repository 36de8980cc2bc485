/*
 * group.c - the Groups a receiving payer's $bulk-member-match made
 * (MatchedMembers, NonMatchedMembers, ConsentConstrainedMembers), as
 * PDex payer-to-payer bulk lets the requesting payer retrieve them:
 *
 *   GET /fhir/Group/{id}	read: the resource the job wrote
 *   GET /fhir/Group?...	search: a searchset Bundle, one page
 *
 * Only the caller's own Groups exist for it: any other id is 404, never
 * 403, and a search never lists another client's.  The search
 * parameters and their meaning are member/group.h's.
 */
#include <stdlib.h>

#include "auth/scopes.h"
#include "member/audit.h"
#include "member/group.h"
#include "web/op.h"

static int
do_read(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	char	*json;
	int	 rc;

	if ((rc = group_read(&ctx->db, req->ids[0], req->who.client_id, &json,
	    err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "Group/%s is not known", req->ids[0]) : -1;
	rc = buf_puts(&req->out, json);
	free(json);
	if (rc == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	req->status = 200;
	req->ctype = "application/fhir+json";
	return 0;
}

static int
do_search(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	json_object	*b;

	if ((b = group_search(&ctx->db, ctx->cfg.fhir_base,
	    req->who.client_id, &req->params, err)) == NULL)
		return -1;
	p2p_set_json(req, 200, "application/fhir+json", b);
	return 0;
}

/* Every search parameter may repeat (all must hold); member/group.h. */
static const struct p2p_param search_params[] = {
	{ "_id", group_param_valid, P2P_PARAM_MULTI },
	{ "identifier", group_param_valid, P2P_PARAM_MULTI },
	{ "code", group_param_valid, P2P_PARAM_MULTI },
	{ "characteristic", group_param_valid, P2P_PARAM_MULTI },
	{ "characteristic-value", group_param_valid, P2P_PARAM_MULTI },
	{ "_lastUpdated", group_param_valid, P2P_PARAM_MULTI },
	{ "_count", group_param_valid, 0 },
	{ "_cursor", group_param_valid, 0 },
	{ NULL, NULL, 0 }
};

static const struct p2p_route routes[] = {
	{ "/fhir/Group", P2P_GET, do_search, search_params, P2P_BODY_NONE,
	  NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/fhir/Group/{id}", P2P_GET, do_read, NULL, P2P_BODY_NONE, NULL,
	  P2P_SYNC, P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_group = {
	.name = "group",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_EXPORT,	/* whoever may export its groups */
	.payer = P2P_PAYER_ANY,		/* a group is its client's own */
	.audit = AUDIT_RELEASE,
};

P2P_MAIN(op_group)
