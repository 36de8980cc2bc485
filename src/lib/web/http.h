/*
 * http.h - requests and responses of the FastCGI executables: accepting
 * a request (FastCGI, or plain CGI for one turn), reading its body, and
 * writing the response.  What an operation accepts and the gates that
 * enforce it are in op.h.
 */
#ifndef P2P_HTTP_H
#define P2P_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "auth/access.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "store/db.h"

enum p2p_method {
	P2P_GET = 1 << 0,
	P2P_POST = 1 << 1,
	P2P_PUT = 1 << 2,
	P2P_DELETE = 1 << 3,
	P2P_HEAD = 1 << 4,
};

struct p2p_op;			/* op.h */
struct p2p_route;		/* op.h */

#define P2P_PATH_IDS	2	/* {x} segments in one route's path */

/* What the audit record of a refused request names (web/serve.c). */
struct p2p_audit_ref {
	char		 client[128];	/* the client the credentials name,
					   even when refused, or "" */
	char		 patient[72];	/* the member concerned, or "" */
	long long	 cid;		/* the consent concerned, or 0 */
};

/* Per process: configuration, database, FastCGI state. */
struct p2p_ctx {
	const struct p2p_op	*op;		/* what this program serves */
	struct p2p_config	 cfg;		/* configuration */
	struct p2p_db		 db;		/* the one connection */
	FCGX_Request		 fcgx;		/* FastCGI request state */
	int			 nonblock;	/* listening socket non-blocking
						   (p2p_accept_on()) */
	int			 hold;		/* p2p_reply() keeps the reply in
						   the request until
						   p2p_reply_flush() (batch.c) */
	int			 cgi;		/* plain CGI: one turn */
	int			 turns;		/* requests accepted */
	void			*app;		/* the operation's own state */
	struct p2p_buf		 spare;		/* response buffer memory kept
						   between requests */
	FILE			*in;		/* plain CGI: the body (stdin) */
	FILE			*out;		/* plain CGI: the response
						   (stdout) */
};

/* Per request: reset at every accept, freed by p2p_end(). */
struct p2p_req {
	struct p2p_ctx		*ctx;		/* owning context */
	FCGX_Request		*fx;		/* its FastCGI request, NULL in
						   CGI */
	int			 held;		/* a reply waits in it (hold) */
	int			 method;	/* P2P_GET ..., 0 if other */
	char			 method_name[16]; /* as sent, for logs */
	char			*path;		/* decoded path, no query */
	char			*query;		/* raw query string */
	int			 bad_path;	/* path did not decode */
	const struct p2p_route	*route;		/* the route the path took */
	char			 ids[P2P_PATH_IDS][65]; /* its {x} segments */
	struct p2p_kvlist	 params;	/* accepted parameters: query and
						   Parameters body, or form */
	int			 async;		/* answered asynchronously */
	char			*content_type;	/* CONTENT_TYPE or NULL */
	char			*authorization;	/* HTTP_AUTHORIZATION */
	char			*prefer;	/* HTTP_PREFER */
	char			*accept;	/* HTTP_ACCEPT */
	char			*remote;	/* REMOTE_ADDR */
	char			*body;		/* request body, NUL-terminated */
	size_t			 body_len;	/* its length */
	json_object		*json;		/* parsed FHIR body, or NULL */
	struct p2p_principal	 who;		/* authenticated caller */
	struct p2p_audit_ref	 audit;		/* named by a refusal's record */
	int			 status;	/* response status */
	const char		*ctype;		/* response Content-Type */
	struct p2p_buf		 head;		/* extra response headers */
	struct p2p_buf		 out;		/* response body */
	json_object		*reply;		/* JSON body to send, owned */
	char			 id[17];	/* request id (log, header) */
	int64_t			 t0;		/* start, ms */
};

/*
 * Reads the configuration and opens the database.  Returns 0, or -1
 * after logging why (the program should exit 1).
 */
int	 p2p_open(struct p2p_ctx *, const struct p2p_op *);
/* Releases what p2p_open() acquired. */
void	 p2p_close(struct p2p_ctx *);

/*
 * Waits for the next request and fills req.  Returns 0 when one is
 * ready, -1 when the program should exit (CGI done, FastCGI shutdown).
 */
int	 p2p_accept(struct p2p_ctx *, struct p2p_req *);

/*
 * FastCGI only: p2p_accept() on the request state fx, with the listening
 * socket made non-blocking so that it never waits for a connection
 * unless wait is set.  Returns 0 when a request is ready, 1 when none
 * was waiting (wait 0), -1 when the program should exit.
 */
int	 p2p_accept_on(struct p2p_ctx *, struct p2p_req *, FCGX_Request *fx,
	    int wait);

/*
 * The request's Content-Length: 0 when absent, -1 when malformed.
 */
long long p2p_content_length(struct p2p_req *);

/*
 * Reads a body of len bytes into req->body (NUL-terminated).  0, or -1
 * with a 400 when it is shorter.
 */
int	 p2p_read_body(struct p2p_req *, size_t len, struct p2p_err *);

/* Adds a response header line ("Name: value"). */
void	 p2p_header(struct p2p_req *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Sets a JSON response body (taking obj) with status and type. */
void	 p2p_set_json(struct p2p_req *, int status, const char *ctype,
	    json_object *obj);

/*
 * FHIR R4 async pattern: 202 Accepted with Content-Location, the
 * absolute status URL of job id, and an informational OperationOutcome.
 */
void	 p2p_accepted(struct p2p_req *, const char *id);

/*
 * The absolute URL of the request (base_url, path and query) into url.
 * 0, or -1 with a 414 when it does not fit.
 */
int	 p2p_request_url(const struct p2p_req *, char *url, size_t,
	    struct p2p_err *);

/*
 * Sends status, headers and body (req->reply or req->out); while
 * ctx->hold, only marks the request held.
 */
void	 p2p_reply(struct p2p_req *);
/* Sends a held reply (p2p_reply() under ctx->hold); else nothing. */
void	 p2p_reply_flush(struct p2p_req *);
/* Sends err as an OperationOutcome (or OAuth JSON for such ops). */
void	 p2p_reply_error(struct p2p_req *, const struct p2p_err *);

/* Logs one line for the request and frees what it owned. */
void	 p2p_end(struct p2p_req *);

/* Value of an HTTP request header from the CGI environment (HTTP_X). */
const char *p2p_env(struct p2p_req *, const char *name);

/* True when the Prefer header asks for respond-async. */
int	 p2p_prefer_async(const struct p2p_req *);

/* Reason phrase for a status code. */
const char *http_reason(int status);

#endif
