/*
 * serve.c - the request loop every executable runs (see ops.h).
 * Order of the gates (as redis' processCommand): request structure,
 * identity, permission, then the operation's own validation and work.
 */
#include "auth/access.h"
#include "web/ops.h"

int
p2p_main(const struct p2p_op *op, p2p_handler fn,
    void (*cleanup)(struct p2p_ctx *))
{
	struct p2p_ctx	 ctx;
	struct p2p_req	 req;
	struct p2p_err	 err;

	if (p2p_open(&ctx, op) == -1)
		return 1;
	while (p2p_accept(&ctx, &req) == 0) {
		p2p_err_init(&err);
		if (p2p_parse(&req, &err) == -1 ||
		    auth_request(&ctx, &req, &err) == -1 ||
		    fn(&ctx, &req, &err) == -1)
			p2p_reply_error(&req, &err);
		else
			p2p_reply(&req);
		p2p_end(&req);
	}
	if (cleanup != NULL)
		cleanup(&ctx);
	p2p_close(&ctx);
	return 0;
}
