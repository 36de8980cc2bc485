/*
 * serve.c - the request loop every executable runs, and its gates: the
 * contract an operation declares (op.h) enforced once, in one order,
 * the same way for every operation; every refusal audited here.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/access.h"
#include "auth/scopes.h"
#include "core/log.h"
#include "json/fhir.h"
#include "json/params.h"
#include "member/audit.h"
#include "web/op.h"

#define REQ_PARAMS_MAX	256	/* parameters of a request: query and
				   Parameters body together */
#define FORM_MAX	64	/* parameters in a form body */

int
p2p_path_match(const char *pat, const char *path, char ids[P2P_PATH_IDS][65])
{
	const char	*end;
	size_t		 k = 0, n;

	while (*pat != '\0') {
		if (*pat != '{') {
			if (*pat++ != *path++)
				return 0;
			continue;
		}
		if ((end = strchr(pat, '}')) == NULL || k == P2P_PATH_IDS)
			return 0;
		if ((n = strcspn(path, "/")) == 0 || n > 64)
			return 0;
		memcpy(ids[k], path, n);
		ids[k][n] = '\0';
		if (!fhir_valid_id(ids[k++]))
			return 0;
		path += n;
		pat = end + 1;
	}
	return *path == '\0';
}

/* Allow: the methods of every route of the path (HEAD not listed). */
static void
allow(struct p2p_req *req, unsigned methods)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ P2P_GET, "GET" },
		{ P2P_POST, "POST" },
		{ P2P_PUT, "PUT" },
		{ P2P_DELETE, "DELETE" },
	};
	char	 list[64] = "";
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (methods & names[i].bit)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", list[0] ? ", " : "",
			    names[i].name);
	p2p_header(req, "Allow", "%s", list);
}

int
p2p_route(const struct p2p_op *op, struct p2p_req *req, struct p2p_err *err)
{
	const struct p2p_route	*r;
	char			 ids[P2P_PATH_IDS][65];
	unsigned		 methods = 0;

	req->route = NULL;
	if (req->bad_path)
		return p2p_fail(err, 400, P2P_ISSUE_INVALID,
		    "malformed request path");
	for (r = op->routes; r->path != NULL; r++) {
		if (!p2p_path_match(r->path, req->path, ids))
			continue;
		methods |= r->methods;
		if (req->route == NULL && (req->method & (int)r->methods)) {
			req->route = r;
			memcpy(req->ids, ids, sizeof(ids));
		}
	}
	if (req->route != NULL)
		return 0;
	if (methods == 0)
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no resource or operation at %.200s", req->path);
	allow(req, methods);
	return p2p_fail(err, 405, P2P_ISSUE_NOT_SUPPORTED,
	    "method %s is not allowed here", req->method_name);
}

/* Gate 2: the declared body limit, on Content-Length before reading. */
static int
gate_size(struct p2p_ctx *ctx, struct p2p_req *req, long long *len,
    struct p2p_err *err)
{
	long long	 max = ctx->op->limit == P2P_LIMIT_BULK ?
	    ctx->cfg.max_bulk_body : ctx->cfg.max_body;

	if ((*len = p2p_content_length(req)) == -1)
		return p2p_fail(err, 400, P2P_ISSUE_INVALID,
		    "malformed Content-Length");
	if (*len > max)
		return p2p_fail(err, 413, P2P_ISSUE_TOO_COSTLY,
		    "request body of %lld bytes exceeds the limit of %lld",
		    *len, max);
	return 0;
}

/* Media type of a Content-Type value without parameters, lowercased. */
static void
media_type(const char *ct, char *out, size_t sz)
{
	size_t	 i = 0;

	if (ct == NULL)
		ct = "";
	while (*ct == ' ')
		ct++;
	for (; *ct != '\0' && *ct != ';' && *ct != ' ' && i + 1 < sz; ct++)
		out[i++] = (char)tolower((unsigned char)*ct);
	out[i] = '\0';
}

/*
 * The charset parameter of a Content-Type value, if any, is UTF-8: the
 * only encoding JSON bodies and forms are read in (RFC 8259 8.1).
 * Quotes and case do not matter.
 */
static int
charset_ok(const char *ct)
{
	const char	*p;
	size_t		 n;

	for (p = ct != NULL ? strchr(ct, ';') : NULL; p != NULL;
	    p = strchr(p, ';')) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "charset=", 8) != 0)
			continue;
		p += 8;
		if (*p == '"')
			p++;
		if (strncasecmp(p, "utf-8", 5) != 0)
			return 0;
		p += 5;
		if (*p == '"')
			p++;
		n = strspn(p, " \t");
		if (p[n] != '\0' && p[n] != ';')
			return 0;
	}
	return 1;
}

/* Gates 3 and 4: the body's media type, then its syntax. */
static int
gate_body(struct p2p_req *req, long long len, struct p2p_err *err)
{
	const struct p2p_route	*r = req->route;
	char			 mt[96];

	if (r->body == P2P_BODY_NONE ||
	    (req->method != P2P_POST && req->method != P2P_PUT))
		return 0;
	/* No body and no Content-Type: no parameters (what Bulk Data
	   clients send to start an export without any). */
	if (r->body == P2P_BODY_PARAMETERS && len == 0 &&
	    (req->content_type == NULL || req->content_type[0] == '\0'))
		return 0;
	media_type(req->content_type, mt, sizeof(mt));
	if (!charset_ok(req->content_type))
		return p2p_fail(err, 415, P2P_ISSUE_NOT_SUPPORTED,
		    "the body must be UTF-8 (charset=utf-8, or none)");
	if (r->body == P2P_BODY_FORM) {
		if (strcmp(mt, "application/x-www-form-urlencoded") != 0)
			return p2p_fail(err, 400, P2P_ISSUE_INVALID,
			    "Content-Type must be "
			    "application/x-www-form-urlencoded");
	} else if (strcmp(mt, "application/fhir+json") != 0 &&
	    strcmp(mt, "application/json") != 0 &&
	    strcmp(mt, "application/json+fhir") != 0)
		return p2p_fail(err, 415, P2P_ISSUE_NOT_SUPPORTED,
		    "Content-Type must be application/fhir+json%s%s",
		    mt[0] ? ", not " : "", mt);
	if (p2p_read_body(req, (size_t)len, err) == -1)
		return -1;
	switch (r->body) {
	case P2P_BODY_FORM:
		if (kv_parse(&req->params, req->body, req->body_len, 1,
		    FORM_MAX) == -1)
			return p2p_fail(err, 400, P2P_ISSUE_INVALID,
			    "malformed form body");
		return 0;
	case P2P_BODY_PARAMETERS:
		return fhir_parse_resource(req->body, req->body_len,
		    "Parameters", &req->json, err);
	default:
		return fhir_parse_resource(req->body, req->body_len,
		    r->resource, &req->json, err);
	}
}

static const struct p2p_param *
param_find(const struct p2p_param *t, const char *name, int *others)
{
	*others = 0;
	for (; t != NULL && t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	*others = t != NULL && (t->flags & P2P_PARAM_OTHERS);
	return NULL;
}

/*
 * Gate 5: the parameters (from where the body kind says) against the
 * route's table.  Sets req->async first: a parameter may belong to one
 * mode only.
 */
static int
gate_params(const struct p2p_op *op, struct p2p_req *req,
    struct p2p_err *err)
{
	const struct p2p_route	*r = req->route;
	const struct p2p_param	*p;
	const char		*k, *v;
	size_t			 i, j;
	int			 others;

	if (r->body != P2P_BODY_FORM && kv_parse(&req->params, req->query,
	    strlen(req->query), 1, REQ_PARAMS_MAX) == -1)
		return p2p_fail(err, 400, P2P_ISSUE_INVALID,
		    "malformed query string");
	if (r->body == P2P_BODY_PARAMETERS && req->json != NULL &&
	    params_collect(req->json, &req->params, REQ_PARAMS_MAX,
	    err) == -1)
		return -1;
	req->async = r->async == P2P_ASYNC ||
	    (r->async == P2P_SYNC_OR_ASYNC && p2p_prefer_async(req));
	for (i = 0; i < req->params.n; i++) {
		k = req->params.kv[i].key;
		v = req->params.kv[i].val;
		/* FHIR http.html: _format is every route's (gate_media()). */
		if (r->body != P2P_BODY_FORM && strcmp(k, "_format") == 0) {
			if (kv_get(&req->params, k) != v)
				return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    k, "parameter _format is given more than "
				    "once");
			continue;
		}
		if ((p = param_find(r->params, k, &others)) == NULL) {
			if (others)
				continue;
			return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
			    k, "%s does not support parameter %.64s",
			    op->name, k);
		}
		for (j = 0; j < i && !(p->flags & P2P_PARAM_MULTI); j++)
			if (strcmp(req->params.kv[j].key, k) == 0)
				return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    k, "parameter %.64s is given more than "
				    "once", k);
		if ((p->flags & P2P_PARAM_SYNC) && req->async)
			return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
			    k, "parameter %.64s is for synchronous requests"
			    " only", k);
		if ((p->flags & P2P_PARAM_ASYNC) && !req->async)
			return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
			    k, "parameter %.64s is for asynchronous requests"
			    " only (Prefer: respond-async)", k);
		if (p->valid != NULL && p->valid(k, v, err) == -1) {
			if (err->expr[0] == '\0')
				snprintf(err->expr, sizeof(err->expr), "%s", k);
			return -1;
		}
	}
	for (p = r->params; p != NULL && p->name != NULL; p++)
		if ((p->flags & P2P_PARAM_REQUIRED) &&
		    kv_get(&req->params, p->name) == NULL)
			return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
			    p->name, "parameter %s is required", p->name);
	return 0;
}

/*
 * After the parameters: what the caller will take (FHIR http.html),
 * _format overriding Accept.  406 when the route does not answer in it.
 */
static int
gate_media(struct p2p_req *req, struct p2p_err *err)
{
	const struct p2p_route	*r = req->route;
	const char		*f;

	if (r->body == P2P_BODY_FORM)
		return 0;
	if ((f = kv_get(&req->params, "_format")) != NULL) {
		if (!media_format_ok(f, r->media))
			return p2p_fail_at(err, 406, P2P_ISSUE_NOT_SUPPORTED,
			    "_format", "_format %.64s is not served here%s",
			    f, r->media == P2P_MEDIA_NDJSON ? " (ndjson)" :
			    " (FHIR JSON only)");
		return 0;
	}
	if (!media_accept_ok(req->accept, r->media))
		return p2p_fail(err, 406, P2P_ISSUE_NOT_SUPPORTED,
		    "Accept names no media type served here (%s)",
		    r->media == P2P_MEDIA_NDJSON ? "application/fhir+ndjson" :
		    "application/fhir+json");
	return 0;
}

/* Gate 6: an asynchronous-only route needs the preference. */
static int
gate_async(const struct p2p_op *op, struct p2p_req *req,
    struct p2p_err *err)
{
	if (req->route->async == P2P_ASYNC && !p2p_prefer_async(req))
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    "%s is asynchronous only: send 'Prefer: respond-async'",
		    op->name);
	return 0;
}

/* Gates 7 and 8: who is calling, and may it call this operation. */
static int
gate_auth(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const struct p2p_op	*op = ctx->op;
	const char		*h = req->authorization;

	if (op->auth == P2P_AUTH_NONE)
		return 0;
	if (auth_identify(&ctx->db, &ctx->cfg, h, now_sec(), &req->who,
	    req->audit.client, sizeof(req->audit.client), err) == -1) {
		if (err->status != 401)
			return -1;
		/* RFC 6750 3: the scheme(s) the caller may use. */
		if (h != NULL && strncasecmp(h, "Basic ", 6) == 0 &&
		    ctx->cfg.allow_basic_api)
			p2p_header(req, "WWW-Authenticate",
			    "Basic realm=\"p2p\"");
		p2p_header(req, "WWW-Authenticate",
		    "Bearer realm=\"p2p\", error=\"invalid_token\"");
		return -1;
	}
	if (op->scope != NULL && !scopes_permit(req->who.scopes, op->scope)) {
		p2p_header(req, "WWW-Authenticate", "Bearer realm=\"p2p\", "
		    "error=\"insufficient_scope\"");
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the access token lacks a scope for %s", op->name);
	}
	return 0;
}

void
p2p_audit_about(struct p2p_req *req, const char *patient, long long cid)
{
	snprintf(req->audit.patient, sizeof(req->audit.patient), "%s",
	    patient != NULL ? patient : "");
	req->audit.cid = cid;
}

/*
 * The record of a refusal: never the credentials, the client as
 * identified or as claimed.  A handler ends its own transactions; one
 * left open is rolled back, so nothing half-done is kept.
 */
static void
record(struct p2p_ctx *ctx, struct p2p_req *req, const char *event,
    const struct p2p_err *why)
{
	struct p2p_err	 e;

	if (ctx->db.in_tx) {
		log_err("request %s: %s left a transaction open", req->id,
		    ctx->op->name);
		db_rollback(&ctx->db);
	}
	if (event == NULL)
		return;
	p2p_err_init(&e);
	if (audit_refusal(&ctx->db, event, ctx->op->name,
	    req->who.client_id[0] ? req->who.client_id : req->audit.client,
	    req->audit.patient, req->audit.cid, why, &e) == -1)
		log_warn("request %s: refusal not audited: %s", req->id,
		    e.msg);
}

void
p2p_serve(struct p2p_ctx *ctx, struct p2p_req *req)
{
	const struct p2p_op	*op = ctx->op;
	const char		*event = op->audit;
	struct p2p_err		 err;
	long long		 len = 0;

	p2p_err_init(&err);
	if (p2p_route(op, req, &err) == -1 ||
	    gate_size(ctx, req, &len, &err) == -1 ||
	    gate_body(req, len, &err) == -1 ||
	    gate_params(op, req, &err) == -1 ||
	    gate_media(req, &err) == -1 ||
	    gate_async(op, req, &err) == -1)
		goto refused;
	if (gate_auth(ctx, req, &err) == -1) {
		event = AUDIT_AUTH;
		goto refused;
	}
	if ((op->payer == P2P_PAYER_REQUIRED &&
	    auth_payer(&ctx->db, &req->who, &err) == -1) ||
	    req->route->handler(ctx, req, &err) == -1)
		goto refused;
	p2p_reply(req);
	return;
refused:
	record(ctx, req, event, &err);
	p2p_reply_error(req, &err);
}

int
p2p_main(const struct p2p_op *op)
{
	struct p2p_ctx	 ctx;
	struct p2p_req	 req;

	if (p2p_open(&ctx, op) == -1)
		return 1;
	if (op->batch > 1 && !ctx.cgi)
		(void)p2p_serve_batch(&ctx);
	else
		while (p2p_accept(&ctx, &req) == 0) {
			p2p_serve(&ctx, &req);
			p2p_end(&req);
		}
	if (op->cleanup != NULL)
		op->cleanup(&ctx);
	p2p_close(&ctx);
	return 0;
}
