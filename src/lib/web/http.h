/*
 * http.h - the request loop shared by every FastCGI executable.
 *
 * Each executable declares what it accepts (struct p2p_op) and loops:
 *
 *	if (p2p_open(&ctx, &op) == -1)
 *		return 1;
 *	while (p2p_accept(&ctx, &req) == 0) {
 *		if (p2p_parse(&req, &err) == -1 ||		400 405 413 415
 *		    auth_request(&ctx, &req, &err) == -1 ||	401 403
 *		    foo_handle(&ctx, &req, &err) == -1)		the operation
 *			p2p_reply_error(&req, &err);
 *		else
 *			p2p_reply(&req);
 *		p2p_end(&req);
 *	}
 *	p2p_close(&ctx);
 *
 * The same loop serves FastCGI (many turns) and plain CGI (one turn).
 */
#ifndef P2P_HTTP_H
#define P2P_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "core/config.h"
#include "store/db.h"
#include "core/err.h"
#include "core/util.h"

enum p2p_method {
	P2P_GET = 1 << 0,
	P2P_POST = 1 << 1,
	P2P_PUT = 1 << 2,
	P2P_DELETE = 1 << 3,
	P2P_HEAD = 1 << 4,
};

enum p2p_body {
	P2P_BODY_NONE,		/* a body is ignored */
	P2P_BODY_FHIR,		/* POST/PUT: FHIR JSON (else 415), parsed */
	P2P_BODY_FORM,		/* POST: application/x-www-form-urlencoded */
};

enum p2p_auth {
	P2P_AUTH_NONE,		/* public (metadata, token endpoint) */
	P2P_AUTH_BEARER,	/* an access token from /auth/token */
};

/* What an executable accepts; enforced by p2p_parse() and auth. */
struct p2p_op {
	const char	*name;		/* for logs */
	unsigned	 methods;	/* P2P_GET | ... */
	enum p2p_body	 body;		/* expected body */
	int		 bulk_body;	/* limit is max_bulk_body */
	enum p2p_auth	 auth;		/* who may call */
	int		 oauth_errors;	/* errors as OAuth JSON, not FHIR */
	const char	*scope;		/* P2P_AUTH_BEARER: scopes of which
					   one must be granted (space
					   separated alternatives, see
					   scopes.h), or NULL for none */
	int		 db_mmap;	/* read the database through mmap:
					   only for a single-process writer
					   (bench/mmfast.md) */
};

/* Scope alternatives of the operations (struct p2p_op.scope). */
#define P2P_SCOPE_MATCH \
	"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" system/*.rs user/*.rs"
#define P2P_SCOPE_BULK_MATCH \
	"http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match" \
	" system/*.rs user/*.rs"
#define P2P_SCOPE_EVERYTHING	"system/Patient.rs user/*.rs"
#define P2P_SCOPE_EXPORT \
	"system/Group.rs user/*.rs system.Group.u?code=" \
	"http://hl7.org/fhir/us/davinci-pdex/ValueSet/PDexMultiMemberMatchResultVS|match"
/* A client's own consents (issue #7): whoever may submit them. */
#define P2P_SCOPE_CONSENT \
	"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match" \
	" system/Consent.rs system/Consent.u user/*.rs"


/* The authenticated caller (filled by auth_request()). */
struct p2p_principal {
	char		 client_id[128];	/* "" when anonymous */
	char		 npi[32];		/* requesting payer's NPI */
	char		 org_id[128];		/* its Organization id, or "" */
	char		 scopes[1024];		/* granted, space separated */
	long long	 exp;			/* token expiry, epoch seconds */
};

/* Per process: configuration, database, FastCGI state. */
struct p2p_ctx {
	const struct p2p_op	*op;		/* what this program serves */
	struct p2p_config	 cfg;		/* configuration */
	struct p2p_db		 db;		/* the one connection */
	FCGX_Request		 fcgx;		/* FastCGI request state */
	int			 cgi;		/* plain CGI: one turn */
	int			 turns;		/* requests accepted */
	void			*app;		/* the operation's own state */
	struct p2p_buf		 spare;		/* response buffer memory kept
						   between requests */
};

/* Per request: reset at every accept, freed by p2p_end(). */
struct p2p_req {
	struct p2p_ctx		*ctx;		/* owning context */
	int			 method;	/* P2P_GET ..., 0 if other */
	char			 method_name[16]; /* as sent, for logs */
	char			*path;		/* decoded path, no query */
	char			*query;		/* raw query string */
	int			 bad_path;	/* path did not decode */
	struct p2p_kvlist	 args;		/* decoded query parameters */
	struct p2p_kvlist	 form;		/* decoded form body */
	char			*content_type;	/* CONTENT_TYPE or NULL */
	char			*authorization;	/* HTTP_AUTHORIZATION */
	char			*prefer;	/* HTTP_PREFER */
	char			*accept;	/* HTTP_ACCEPT */
	char			*remote;	/* REMOTE_ADDR */
	char			*body;		/* request body, NUL-terminated */
	size_t			 body_len;	/* its length */
	json_object		*json;		/* parsed FHIR body, or NULL */
	struct p2p_principal	 who;		/* authenticated caller */
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
 * Checks the request against the op: method (405), body size (413),
 * content type (415), JSON or form syntax (400); parses the query.
 */
int	 p2p_parse(struct p2p_req *, struct p2p_err *);

/* Adds a response header line ("Name: value"). */
void	 p2p_header(struct p2p_req *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Sets a JSON response body (taking obj) with status and type. */
void	 p2p_set_json(struct p2p_req *, int status, const char *ctype,
	    json_object *obj);

/* Sends status, headers and body (req->reply or req->out). */
void	 p2p_reply(struct p2p_req *);
/* Sends err as an OperationOutcome (or OAuth JSON for such ops). */
void	 p2p_reply_error(struct p2p_req *, const struct p2p_err *);

/* Logs one line for the request and frees what it owned. */
void	 p2p_end(struct p2p_req *);

/* Value of an HTTP request header from the CGI environment (HTTP_X). */
const char *p2p_env(struct p2p_req *, const char *name);

/* True when the Prefer header asks for respond-async. */
int	 p2p_prefer_async(const struct p2p_req *);

/*
 * Matches path against "prefix{id}suffix", copying a valid FHIR id
 * ([A-Za-z0-9.-]{1,64}) into id.  Returns 1 on a match, else 0.
 */
int	 p2p_path_id(const char *path, const char *prefix, const char *suffix,
	    char *id, size_t idsz);

/* True when s is a valid FHIR id. */
int	 fhir_valid_id(const char *s);

/* Reason phrase for a status code. */
const char *http_reason(int status);

#endif
