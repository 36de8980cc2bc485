/*
 * op_bulk_match.c - the bulk_match_handle operation handler: answers 501 until its issue
 * lands and replaces this file.
 */
#include "ops.h"

int
bulk_match_handle(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	(void)ctx;
	return op_not_implemented(req, err);
}
