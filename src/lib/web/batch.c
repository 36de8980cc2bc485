/*
 * batch.c - group commit for an operation whose every request writes
 * (op.batch, $member-match).  SQLite has one writer, and a commit costs
 * a page write per b-tree touched whatever the rows: the requests that
 * are already waiting when one arrives are served together inside one
 * write transaction, each request's own writes in a savepoint of it
 * (db_begin() inside a batch), and answered only once it committed.
 * A request never waits for one that has not arrived: the batch ends
 * when no connection is waiting, or at op.batch requests.
 *
 * What each request stores (the probe row, the consent, the match, the
 * audit records) is therefore durable before its answer leaves, as
 * when each request committed alone.  If the commit fails, nothing of
 * the batch was stored, and every request of it is answered 503.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "web/op.h"

#define BATCH_MAX	64	/* requests in one transaction at most */

/* The batch was not stored: every answer becomes a 503. */
static void
fail_all(struct p2p_req *req, size_t n, const struct p2p_err *why)
{
	struct p2p_err	 err;
	size_t		 i;

	for (i = 0; i < n; i++) {
		log_err("request %s: not stored: %s", req[i].id, why->msg);
		err = *why;
		if (err.status == 0 || err.status == 500) {
			p2p_err_init(&err);
			p2p_fail(&err, 503, P2P_ISSUE_TRANSIENT, "the request"
			    " could not be stored; retry shortly");
		}
		if (err.retry_after == 0)
			err.retry_after = 1;
		buf_reset(&req[i].head);
		p2p_reply_error(&req[i], &err);
	}
}

int
p2p_serve_batch(struct p2p_ctx *ctx)
{
	FCGX_Request	*fx;
	struct p2p_req	*req;
	struct p2p_err	 err;
	size_t		 max, n, i;
	int		 open, rc = 0;

	max = ctx->op->batch > BATCH_MAX ? BATCH_MAX : (size_t)ctx->op->batch;
	fx = calloc(max, sizeof(*fx));
	req = calloc(max, sizeof(*req));
	if (fx == NULL || req == NULL) {
		log_err("batch: out of memory");
		free(fx);
		free(req);
		return -1;
	}
	for (i = 0; i < max; i++)
		FCGX_InitRequest(&fx[i], 0, FCGI_FAIL_ACCEPT_ON_INTR);
	ctx->hold = 1;
	while (p2p_accept_on(ctx, &req[0], &fx[0], 1) == 0) {
		log_hold(1);
		p2p_err_init(&err);
		/* Without the batch's transaction (the database stayed
		 * locked), this request runs alone, as it would unbatched. */
		open = db_batch_begin(&ctx->db, &err) == 0;
		p2p_serve(ctx, &req[0]);
		for (n = 1; open && n < max && !db_batch_lost(&ctx->db) &&
		    p2p_accept_on(ctx, &req[n], &fx[n], 0) == 0; n++)
			p2p_serve(ctx, &req[n]);
		p2p_err_init(&err);
		if (open && db_batch_end(&ctx->db, &err) == -1)
			fail_all(req, n, &err);
		for (i = 0; i < n; i++) {
			p2p_reply_flush(&req[i]);
			p2p_end(&req[i]);
		}
		log_hold(0);	/* the batch's lines, in one write */
	}
	ctx->hold = 0;
	for (i = 0; i < max; i++)
		FCGX_Free(&fx[i], 1);
	free(fx);
	free(req);
	return rc;
}
