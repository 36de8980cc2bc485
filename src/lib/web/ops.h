/*
 * ops.h - the operation handlers, one per FastCGI executable.  Each is
 * called after p2p_parse() and auth_request() succeeded; it fills the
 * response in req and returns 0, or returns -1 with err set.
 */
#ifndef P2P_OPS_H
#define P2P_OPS_H

#include "core/err.h"
#include "web/http.h"

int	 metadata_handle(struct p2p_ctx *, struct p2p_req *, struct p2p_err *);
void	 metadata_free(struct p2p_ctx *);
int	 token_handle(struct p2p_ctx *, struct p2p_req *, struct p2p_err *);
int	 member_match_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);
int	 bulk_match_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);
int	 everything_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);
int	 data_export_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);
int	 export_status_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);
int	 consent_handle(struct p2p_ctx *, struct p2p_req *,
	    struct p2p_err *);

typedef int (*p2p_handler)(struct p2p_ctx *, struct p2p_req *,
    struct p2p_err *);

/*
 * The whole request loop of an executable: open, then for each request
 * parse, authenticate and call fn, reply, log; close.  cleanup (or
 * NULL) releases ctx->app at exit.  Returns main()'s exit status.
 */
int	 p2p_main(const struct p2p_op *, p2p_handler fn,
	    void (*cleanup)(struct p2p_ctx *));


#endif
