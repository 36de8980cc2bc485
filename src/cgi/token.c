/*
 * token.c - POST /auth/token: SMART Backend Services
 * (client_credentials with a private_key_jwt assertion) and the
 * client_secret_basic and client_secret_post fallbacks.  Every issue and refusal is audited
 * (event "token"), never with the secret, assertion or token.
 *
 * Order: the form (declared below: invalid_request,
 * unsupported_grant_type), then auth/grant.c: client authentication
 * (invalid_client), grant permission (unauthorized_client), scope
 * (invalid_scope), replay guard, issue.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/grant.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "web/op.h"

/*
 * The token request (SMART Backend Services; RFC 6749 4.4): the rules
 * are auth/grant.c's.  Refusals are recorded by serve.c (event "token")
 * naming the client the credentials claim, never the secret, assertion
 * or token.
 */
static int
token(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct grant_req	 rq;
	struct grant		 g;
	json_object		*o;
	int			 rc;

	rq.authorization = req->authorization;
	rq.assertion_type = kv_get(&req->params, "client_assertion_type");
	rq.assertion = kv_get(&req->params, "client_assertion");
	rq.scope = kv_get(&req->params, "scope");
	rq.client_id = kv_get(&req->params, "client_id");
	rq.client_secret = kv_get(&req->params, "client_secret");
	rc = grant_issue(&ctx->db, &ctx->cfg, &rq, now_sec(), &g, err);
	/* The secret is not kept past its use (nor in the form body). */
	if (rq.client_secret != NULL)
		OPENSSL_cleanse((char *)rq.client_secret,
		    strlen(rq.client_secret));
	if (req->body != NULL)
		OPENSSL_cleanse(req->body, req->body_len);
	if (rc == -1) {
		snprintf(req->audit.client, sizeof(req->audit.client), "%s",
		    g.client);
		/* RFC 6749 5.2: 401 names the scheme the client used. */
		if (g.basic && err->status == 401)
			p2p_header(req, "WWW-Authenticate",
			    "Basic realm=\"p2p\"");
		return -1;
	}
	o = json_object_new_object();
	if (fhir_add_str(o, "access_token", g.token) == -1 ||
	    fhir_add_str(o, "token_type", "bearer") == -1 ||
	    fhir_add_int(o, "expires_in", g.expires_in) == -1 ||
	    fhir_add_str(o, "scope", g.scope) == -1) {
		json_object_put(o);
		grant_free(&g);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	grant_free(&g);
	p2p_header(req, "Cache-Control", "no-store");
	p2p_header(req, "Pragma", "no-cache");
	p2p_set_json(req, 200, "application/json", o);
	return 0;
}

static int
valid_grant(const char *name, const char *v, struct p2p_err *err)
{
	(void)name;
	if (strcmp(v, "client_credentials") != 0)
		return p2p_fail_oauth(err, 400, "unsupported_grant_type",
		    "only client_credentials is supported");
	return 0;
}

static int
valid_assertion_type(const char *name, const char *v, struct p2p_err *err)
{
	if (strcmp(v, GRANT_ASSERTION_TYPE) != 0)
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "%s must be %s", name, GRANT_ASSERTION_TYPE);
	return 0;
}

static int
valid_scope(const char *name, const char *v, struct p2p_err *err)
{
	if (v[0] == '\0')
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "%s is empty", name);
	return 0;
}

/*
 * RFC 6749 3.2: unrecognized parameters are ignored; none repeats.  A
 * missing scope is grant.c's to decide (RFC 6749 3.3).
 */
static const struct p2p_param form[] = {
	{ "grant_type", valid_grant, P2P_PARAM_REQUIRED },
	{ "scope", valid_scope, 0 },
	{ "client_assertion_type", valid_assertion_type, 0 },
	{ "client_assertion", NULL, 0 },
	{ "client_id", NULL, 0 },
	{ "client_secret", NULL, 0 },
	{ NULL, NULL, P2P_PARAM_OTHERS }
};

static const struct p2p_route routes[] = {
	{ "/auth/token", P2P_POST, token, form, P2P_BODY_FORM, NULL,
	  P2P_SYNC, P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_token = {
	.name = "token",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_NONE,		/* the client authenticates here */
	.payer = P2P_PAYER_ANY,
	.audit = AUDIT_TOKEN,
	.oauth_errors = 1,
};

P2P_MAIN(op_token)
