/*
 * op.h - an operation's contract, declared as data in its program
 * (src/cgi/<operation>.c), and the request loop that enforces it.
 *
 * serve.c runs the gates below in this order, the same way for every
 * operation (redis processCommand: structure, identity, permission, then
 * the command), and calls the route's handler only when all passed:
 *
 *   1 route    path and method             404 not-found
 *                                          405 not-supported + Allow
 *                                          (400 invalid: path escapes)
 *   2 size     Content-Length vs the limit 413 too-costly
 *   3 type     Content-Type of the body    415 not-supported
 *                                          (the form body: 400)
 *   4 syntax   JSON, resourceType, form    400 structure (also for the
 *                                          wrong resource), required
 *                                          (no resourceType), invalid
 *                                          (form)
 *   5 params   the route's key table       400 invalid (query syntax),
 *                                          not-supported (unknown
 *                                          name, or for the other mode),
 *                                          required (missing), value
 *                                          (bad value, repeated)
 *     media    _format, else Accept        406 not-supported (FHIR
 *                                          http.html: a format the
 *                                          route does not answer in)
 *   6 async    the route's policy          400 not-supported (needs
 *                                          Prefer: respond-async)
 *   7 auth     credentials                 401 login + WWW-Authenticate
 *   8 scope    the op's scopes             403 forbidden
 *   9 payer    requesting payer resolved   403 forbidden
 *  10 handler  the operation's own rules
 *
 * A validator may answer a well-formed value it does not offer with 400
 * not-supported (an unknown _type, another exportType).  The token
 * endpoint's refusals are OAuth error JSON (invalid_request unless the
 * handler or a validator names another error).
 *
 * Every refusal, by a gate or by the handler, is audited once, by
 * serve.c: event AUDIT_AUTH for gates 7 and 8, else the op's declared
 * event, naming the client (as identified, or as the credentials claim),
 * and the member and consent the handler put in req->audit.
 */
#ifndef P2P_OP_H
#define P2P_OP_H

#include "core/err.h"
#include "web/http.h"
#include "web/media.h"

/*
 * The operation's own work, called after every gate passed: fills the
 * response in req and returns 0, or returns -1 with err set.  A
 * refusal names what it concerns in req->audit for its record.
 */
typedef int (*p2p_handler)(struct p2p_ctx *, struct p2p_req *,
    struct p2p_err *);

/*
 * Checks one parameter value: 0, or -1 with err (400 value, or 400
 * not-supported for a well-formed value the server does not offer).
 */
typedef int (*p2p_valid)(const char *name, const char *value,
    struct p2p_err *);

enum p2p_param_flag {
	P2P_PARAM_REQUIRED = 1 << 0,	/* must be given (400 required) */
	P2P_PARAM_MULTI = 1 << 1,	/* may be given more than once */
	P2P_PARAM_SYNC = 1 << 2,	/* synchronous requests only */
	P2P_PARAM_ASYNC = 1 << 3,	/* asynchronous requests only */
	P2P_PARAM_OTHERS = 1 << 4,	/* on the terminator: names not
					   listed are ignored, not refused */
};

/* One accepted parameter (kcgi keys[]); a NULL name ends the table. */
struct p2p_param {
	const char	*name;		/* as sent */
	p2p_valid	 valid;		/* NULL: any value */
	unsigned	 flags;		/* P2P_PARAM_* */
};

/* Where parameters come from, and which body is read (POST, PUT). */
enum p2p_body {
	P2P_BODY_NONE,		/* none read; parameters: the query */
	P2P_BODY_FHIR,		/* a FHIR JSON resource (route.resource);
				   parameters: the query */
	P2P_BODY_PARAMETERS,	/* a FHIR Parameters of primitive values;
				   parameters: the query and the body.  A
				   POST without body and Content-Type has
				   none (Bulk Data kick-off clients) */
	P2P_BODY_FORM,		/* application/x-www-form-urlencoded;
				   parameters: the form (the query is not
				   read: RFC 6749 3.2) */
};

/* Prefer: respond-async (FHIR R4 async pattern). */
enum p2p_async {
	P2P_SYNC,		/* answered at once; the preference is
				   ignored (RFC 7240: a preference) */
	P2P_ASYNC,		/* only with the preference (400 without) */
	P2P_SYNC_OR_ASYNC,	/* as preferred: req->async */
};

/* Which configured body limit applies (413). */
enum p2p_limit {
	P2P_LIMIT_BODY,		/* max_body */
	P2P_LIMIT_BULK,		/* max_bulk_body */
};

enum p2p_auth {
	P2P_AUTH_NONE,		/* public (metadata, token endpoint) */
	P2P_AUTH_BEARER,	/* an access token (or Basic, when
				   allow_basic_api) */
};

enum p2p_payer {
	P2P_PAYER_ANY,		/* no requesting payer needed */
	P2P_PAYER_REQUIRED,	/* the client's NPI must name one
				   Organization: req->who.org_id (403) */
};

/* One path pattern and the methods it takes there. */
struct p2p_route {
	const char		*path;		/* "/fhir/Patient/{id}/$everything":
						   each {x} is one path segment
						   that is a FHIR id, copied to
						   req->ids[] in order */
	unsigned		 methods;	/* P2P_GET | ... */
	p2p_handler		 handler;	/* the work */
	const struct p2p_param	*params;	/* accepted parameters, or NULL
						   for none */
	enum p2p_body		 body;		/* see enum p2p_body */
	const char		*resource;	/* P2P_BODY_FHIR: the resourceType
						   required, or NULL for any */
	enum p2p_async		 async;		/* Prefer: respond-async */
	enum p2p_media		 media;		/* what it answers in */
};

/* What an executable serves: its contract. */
struct p2p_op {
	const char		*name;		/* logs, audit records */
	const struct p2p_route	*routes;	/* ended by a NULL path */
	enum p2p_limit		 limit;		/* body limit */
	enum p2p_auth		 auth;		/* who may call */
	const char		*scope;		/* P2P_AUTH_BEARER: one of these
						   (scopes.h) must be granted,
						   or NULL for none */
	enum p2p_payer		 payer;		/* requesting payer */
	const char		*audit;		/* event of its refusals
						   (audit.h), or NULL: none */
	int			 oauth_errors;	/* errors as OAuth JSON */
	int			 db_mmap;	/* read the database through mmap:
						   only for a single-process
						   writer (bench/mmfast.md) */
	int			 batch;		/* FastCGI: serve the requests
						   already waiting together in
						   one write transaction, up to
						   this many (group commit,
						   web/batch.c); 0 or 1: one by
						   one */
	void			(*cleanup)(struct p2p_ctx *); /* frees
						   ctx->app at exit, or NULL */
};

/*
 * The whole life of an executable: open, then serve every request
 * (p2p_serve) until told to stop; close.  Returns main()'s status.
 */
int	 p2p_main(const struct p2p_op *);

/*
 * The program's main(): p2p_main(&op).  A unit test that drives the
 * operation compiles its file with -DP2P_NO_MAIN.
 */
#ifndef P2P_NO_MAIN
#define P2P_MAIN(op)	int main(void) { return p2p_main(&(op)); }
#else
#define P2P_MAIN(op)
#endif

/*
 * The request loop of an op with .batch (group commit): each request
 * served with p2p_serve() inside the batch's write transaction, the
 * replies sent and the requests ended once it committed (a failed
 * commit answers every request of the batch 503).  Returns when the
 * program should exit: 0, or -1 when out of memory at the start.
 */
int	 p2p_serve_batch(struct p2p_ctx *);

/*
 * One accepted request: every gate of ctx->op in order, then the
 * route's handler; the reply (or the refusal, audited); not p2p_end().
 */
void	 p2p_serve(struct p2p_ctx *, struct p2p_req *);

/*
 * Gate 1 alone: finds the route of req's path and method in op, setting
 * req->route and req->ids.  0, or -1 with 404 or 405 (and Allow).
 */
int	 p2p_route(const struct p2p_op *, struct p2p_req *, struct p2p_err *);

/*
 * Matches path against a route pattern ({x}: one FHIR id segment),
 * copying the segments into ids.  1 on a match, else 0.
 */
int	 p2p_path_match(const char *pattern, const char *path,
	    char ids[P2P_PATH_IDS][65]);

/* Names the member (and consent) a refusal concerns, for its record. */
void	 p2p_audit_about(struct p2p_req *, const char *patient,
	    long long cid);

#endif
