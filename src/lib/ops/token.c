/*
 * ops/token.c - POST /auth/token: SMART Backend Services
 * (client_credentials with a private_key_jwt assertion) and the
 * client_secret_basic fallback.  Every issue and refusal is audited
 * (event "token"), never with the secret, assertion or token.
 *
 * Order: form (invalid_request / unsupported_grant_type), client
 * authentication (invalid_client), grant permission
 * (unauthorized_client), scope (invalid_scope), replay guard, issue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "member/audit.h"
#include "auth/access.h"
#include "auth/client.h"
#include "auth/jose.h"
#include "auth/jwks.h"
#include "core/log.h"
#include "json/fhir.h"
#include "web/ops.h"
#include "auth/scopes.h"
#include "core/util.h"

#define ASSERTION_TYPE \
	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static const char *const sql_jti_purge = "DELETE FROM jti WHERE exp < ?1";
static const char *const sql_jti_add =
    "INSERT INTO jti (client_id, jti, exp) VALUES (?1, ?2, ?3)";

/* One form parameter: absent (NULL) or present once; -1 duplicated. */
static int
param(struct p2p_req *req, const char *name, const char **out,
    struct p2p_err *err)
{
	*out = NULL;
	if (kv_count(&req->form, name) > 1)
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "parameter %s repeated", name);
	*out = kv_get(&req->form, name);
	return 0;
}

/* Authenticates by the client assertion; fills c (caller frees). */
static int
by_assertion(struct p2p_ctx *ctx, struct p2p_req *req, const char *assertion,
    const char *form_client, struct client_rec *c, char *who, size_t whosz,
    long long *jti_exp, char *jti, size_t jtisz, struct p2p_err *err)
{
	struct jose_jws	 j;
	char		 why[160], *fetched = NULL;
	const char	*iss, *keys;
	int		 rc, v;

	if (jose_jws_parse(&j, assertion, why, sizeof(why)) == -1) {
		if (j.claims != NULL && (iss = jose_claim_str(&j, "iss")) !=
		    NULL)
			snprintf(who, whosz, "%s", iss);	/* for audit */
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client", "%s", why);
	}
	if (jose_check_claims(&j, ctx->cfg.token_url, now_sec(),
	    ctx->cfg.clock_skew, why, sizeof(why)) == -1) {
		if ((iss = jose_claim_str(&j, "iss")) != NULL)
			snprintf(who, whosz, "%s", iss);
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client", "%s", why);
	}
	iss = jose_claim_str(&j, "iss");
	snprintf(who, whosz, "%s", iss);
	if (form_client != NULL && strcmp(form_client, iss) != 0) {
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client",
		    "client_id does not match the assertion");
	}
	if ((rc = client_get(&ctx->db, iss, c, err)) != 0) {
		jose_jws_free(&j);
		return rc == -1 ? -1 : p2p_fail_oauth(err, 400,
		    "invalid_client", "unknown client");
	}
	if (!c->active) {
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client",
		    "client is disabled");
	}
	if (j.jku[0] != '\0' && (c->jwks_url[0] == '\0' ||
	    strcmp(j.jku, c->jwks_url) != 0)) {
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client",
		    "jku is not the registered JWKS URL");
	}
	if (c->jwks != NULL)
		keys = c->jwks;
	else if (c->jwks_url[0] != '\0') {
		if (jwks_get(&ctx->db, &ctx->cfg, c->id, c->jwks_url, 0,
		    &fetched, err) == -1) {
			jose_jws_free(&j);
			return -1;
		}
		keys = fetched;
	} else {
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client",
		    "client has no registered keys");
	}
	v = jose_jws_verify(&j, keys, why, sizeof(why));
	if (v == JOSE_NOKEY && c->jwks == NULL && c->jwks_url[0] != '\0') {
		/* unknown kid: the client may have rotated its keys */
		free(fetched);
		fetched = NULL;
		if (jwks_get(&ctx->db, &ctx->cfg, c->id, c->jwks_url, 1,
		    &fetched, err) == -1) {
			jose_jws_free(&j);
			return -1;
		}
		v = jose_jws_verify(&j, fetched, why, sizeof(why));
	}
	free(fetched);
	if (v != JOSE_OK) {
		jose_jws_free(&j);
		return p2p_fail_oauth(err, 400, "invalid_client", "%s", why);
	}
	*jti_exp = jose_claim_exp(&j) + ctx->cfg.clock_skew;
	snprintf(jti, jtisz, "%s", jose_claim_str(&j, "jti"));
	jose_jws_free(&j);
	return 0;
}

/* Authenticates by client_secret_basic; fills c (caller frees). */
static int
by_secret(struct p2p_ctx *ctx, struct p2p_req *req, struct client_rec *c,
    char *who, size_t whosz, struct p2p_err *err)
{
	char	 id[128], secret[256];
	int	 rc, ok;

	p2p_header(req, "WWW-Authenticate", "Basic realm=\"p2p\"");
	if (auth_basic_parse(req->authorization, id, sizeof(id), secret,
	    sizeof(secret)) == -1)
		return p2p_fail_oauth(err, 401, "invalid_client",
		    "malformed Basic credentials");
	snprintf(who, whosz, "%s", id);
	if ((rc = client_get(&ctx->db, id, c, err)) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return rc == -1 ? -1 : p2p_fail_oauth(err, 401,
		    "invalid_client", "client authentication failed");
	}
	ok = auth_secret_ok(c, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!ok)
		return p2p_fail_oauth(err, 401, "invalid_client",
		    "client authentication failed");
	if (!c->active)
		return p2p_fail_oauth(err, 401, "invalid_client",
		    "client is disabled");
	return 0;
}

static int
issue(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err,
    char *who, size_t whosz)
{
	struct client_rec	 c;
	const char		*grant, *atype, *assertion, *scope, *form_id;
	const unsigned char	*key;
	char			 granted[1024], why[160], jti[256];
	char			*tok = NULL;
	long long		 jti_exp = 0, now;
	sqlite3_stmt		*st;
	json_object		*o;
	int			 rc, basic;

	memset(&c, 0, sizeof(c));
	jti[0] = '\0';
	if (param(req, "grant_type", &grant, err) == -1 ||
	    param(req, "client_assertion_type", &atype, err) == -1 ||
	    param(req, "client_assertion", &assertion, err) == -1 ||
	    param(req, "scope", &scope, err) == -1 ||
	    param(req, "client_id", &form_id, err) == -1)
		return -1;
	if (grant == NULL)
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "grant_type is required");
	if (strcmp(grant, "client_credentials") != 0)
		return p2p_fail_oauth(err, 400, "unsupported_grant_type",
		    "only client_credentials is supported");
	basic = req->authorization != NULL &&
	    strncasecmp(req->authorization, "Basic ", 6) == 0;
	if (basic && (atype != NULL || assertion != NULL))
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "use one client authentication method");
	if (!basic) {
		if (atype == NULL || assertion == NULL)
			return p2p_fail_oauth(err, 400, "invalid_request",
			    "client_assertion_type and client_assertion are "
			    "required");
		if (strcmp(atype, ASSERTION_TYPE) != 0)
			return p2p_fail_oauth(err, 400, "invalid_request",
			    "client_assertion_type must be %s",
			    ASSERTION_TYPE);
	}
	if (scope == NULL || scope[0] == '\0')
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "scope is required");
	if (basic)
		rc = by_secret(ctx, req, &c, who, whosz, err);
	else
		rc = by_assertion(ctx, req, assertion, form_id, &c, who, whosz,
		    &jti_exp, jti, sizeof(jti), err);
	if (rc == -1)
		goto fail;
	if (!basic && !auth_has_word(c.grant_types, "client_credentials")) {
		p2p_fail_oauth(err, 400, "unauthorized_client",
		    "client may not use client_credentials");
		goto fail;
	}
	if (scopes_grant(scope, c.scopes, granted, sizeof(granted), why,
	    sizeof(why)) == -1) {
		p2p_fail_oauth(err, 400, "invalid_scope", "%s", why);
		goto fail;
	}
	if (auth_key(&ctx->cfg, &key, err) == -1)
		goto fail;
	now = now_sec();
	if ((tok = auth_token_new(&ctx->cfg, key, c.id, c.npi, granted,
	    now)) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "cannot make a token");
		goto fail;
	}
	if (db_begin(&ctx->db, err) == -1)
		goto fail;
	if (jti[0] != '\0') {
		if ((st = db_stmt(&ctx->db, sql_jti_purge, err)) == NULL)
			goto rollback;
		sqlite3_bind_int64(st, 1, now);
		rc = sqlite3_step(st);
		db_done(st);
		if (rc != SQLITE_DONE) {
			db_fail(&ctx->db, rc, err, "jti purge");
			goto rollback;
		}
		if ((st = db_stmt(&ctx->db, sql_jti_add, err)) == NULL)
			goto rollback;
		db_bind_text(st, 1, c.id);
		db_bind_text(st, 2, jti);
		sqlite3_bind_int64(st, 3, jti_exp);
		rc = sqlite3_step(st);
		db_done(st);
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			db_rollback(&ctx->db);
			p2p_fail_oauth(err, 400, "invalid_client",
			    "jti already used");
			goto fail;
		}
		if (rc != SQLITE_DONE) {
			db_fail(&ctx->db, rc, err, "jti insert");
			goto rollback;
		}
	}
	snprintf(why, sizeof(why), "issued: %s", basic ?
	    "client_secret_basic" : "private_key_jwt");
	if (audit_log(&ctx->db, "token", "success", c.id, NULL, 0, why,
	    err) == -1 || db_commit(&ctx->db, err) == -1)
		goto rollback;
	o = json_object_new_object();
	fhir_add_str(o, "access_token", tok);
	fhir_add_str(o, "token_type", "bearer");
	json_object_object_add(o, "expires_in",
	    json_object_new_int64(ctx->cfg.token_ttl));
	fhir_add_str(o, "scope", granted);
	p2p_header(req, "Cache-Control", "no-store");
	p2p_header(req, "Pragma", "no-cache");
	p2p_set_json(req, 200, "application/json", o);
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	client_rec_free(&c);
	return 0;
rollback:
	db_rollback(&ctx->db);
fail:
	if (tok != NULL) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	client_rec_free(&c);
	return -1;
}

int
token_handle(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct p2p_err	 aerr;
	char		 who[128];

	who[0] = '\0';
	if (issue(ctx, req, err, who, sizeof(who)) == 0)
		return 0;
	p2p_err_init(&aerr);
	if (audit_log(&ctx->db, "token", "failure", who[0] ? who : NULL, NULL,
	    0, err->msg, &aerr) == -1)
		log_warn("token refusal not audited: %s", aerr.msg);
	return -1;
}
