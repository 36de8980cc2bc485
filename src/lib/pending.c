/*
 * pending.c - handlers of operations not built yet.  Each answers 501
 * with an OperationOutcome until its implementation replaces it here.
 */
#include "ops.h"

int
op_not_implemented(struct p2p_req *req, struct p2p_err *err)
{
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "%s is not implemented yet", req->ctx->op->name);
}

int
token_handle(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}

int
member_match_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}

int
bulk_match_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}

int
everything_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}

int
data_export_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}

int
export_status_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}
