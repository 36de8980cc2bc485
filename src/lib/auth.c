/*
 * auth.c - see auth.h.
 */
#include <string.h>

#include "auth.h"

int
auth_request(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	(void)ctx;
	if (req->ctx->op->auth == P2P_AUTH_NONE)
		return 0;
	return p2p_fail(err, 401, P2P_ISSUE_LOGIN,
	    "a valid access token is required");
}
