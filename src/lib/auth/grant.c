/*
 * auth/grant.c - see grant.h.
 *
 * Order: one authentication method (invalid_request), client
 * authentication (invalid_client), grant permission
 * (unauthorized_client), scope (invalid_scope), replay guard, issue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth/access.h"
#include "auth/client.h"
#include "auth/grant.h"
#include "auth/jose.h"
#include "auth/jwks.h"
#include "auth/scopes.h"
#include "member/audit.h"

/* How the client authenticates. */
enum grant_auth {
	GRANT_JWT,		/* private_key_jwt (SMART Backend Services) */
	GRANT_BASIC,		/* client_secret_basic */
	GRANT_POST,		/* client_secret_post */
	GRANT__MAX
};

static const char *const auth_name[GRANT__MAX] = {
	"private_key_jwt",	/* GRANT_JWT */
	"client_secret_basic",	/* GRANT_BASIC */
	"client_secret_post",	/* GRANT_POST */
};

enum stmt {
	STMT_JTI_PURGE,		/* forget assertion ids past their time */
	STMT_JTI_ADD,		/* an assertion id, used once */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_JTI_PURGE */
	"DELETE FROM jti WHERE exp < ?1",
	/* STMT_JTI_ADD */
	"INSERT INTO jti (client_id, jti, exp) VALUES (?1, ?2, ?3)",
};

/* Authenticates by the client assertion; fills c (caller frees). */
static int
by_assertion(struct p2p_db *db, const struct p2p_config *cfg,
    const char *assertion, const char *form_client, long long now,
    struct client_rec *c, char *who, size_t whosz, long long *jti_exp,
    char *jti, size_t jtisz, struct p2p_err *err)
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
	if (jose_check_claims(&j, cfg->token_url, now, cfg->clock_skew, why,
	    sizeof(why)) == -1) {
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
	if ((rc = client_get(db, iss, c, err)) != 0) {
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
		if (jwks_get(db, cfg, c->id, c->jwks_url, 0,
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
		if (jwks_get(db, cfg, c->id, c->jwks_url, 1,
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
	*jti_exp = jose_claim_exp(&j) + cfg->clock_skew;
	snprintf(jti, jtisz, "%s", jose_claim_str(&j, "jti"));
	jose_jws_free(&j);
	return 0;
}

/*
 * Authenticates by the client's secret: client_secret_basic (the
 * Authorization header; failures 401) or client_secret_post (id and
 * secret in the form, RFC 6749 2.3.1; failures 400).  Fills c (caller
 * frees).
 */
static int
by_secret(struct p2p_db *db, const struct grant_req *rq, int basic,
    struct client_rec *c, char *who, size_t whosz, struct p2p_err *err)
{
	char	 id[128], secret[256];
	int	 rc, ok, status = basic ? 401 : 400;

	if (basic) {
		if (auth_basic_parse(rq->authorization, id, sizeof(id), secret,
		    sizeof(secret)) == -1)
			return p2p_fail_oauth(err, 401, "invalid_client",
			    "malformed Basic credentials");
	} else if (snprintf(id, sizeof(id), "%s", rq->client_id) >=
	    (int)sizeof(id) || snprintf(secret, sizeof(secret), "%s",
	    rq->client_secret) >= (int)sizeof(secret)) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return p2p_fail_oauth(err, 400, "invalid_client",
		    "client authentication failed");
	}
	snprintf(who, whosz, "%s", id);
	if ((rc = client_get(db, id, c, err)) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return rc == -1 ? -1 : p2p_fail_oauth(err, status,
		    "invalid_client", "client authentication failed");
	}
	ok = auth_secret_ok(c, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!ok)
		return p2p_fail_oauth(err, status, "invalid_client",
		    "client authentication failed");
	if (!c->active)
		return p2p_fail_oauth(err, status, "invalid_client",
		    "client is disabled");
	return 0;
}

/* What was sent: one client authentication method, or -1 with err. */
static int
auth_method(const struct grant_req *rq, struct p2p_err *err)
{
	int	 basic = rq->authorization != NULL &&
	    strncasecmp(rq->authorization, "Basic ", 6) == 0;
	int	 jwt = rq->assertion_type != NULL || rq->assertion != NULL;
	int	 post = rq->client_secret != NULL;

	if (basic + jwt + post > 1)
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "use one client authentication method");
	if (basic)
		return GRANT_BASIC;
	if (post) {
		if (rq->client_id == NULL)
			return p2p_fail_oauth(err, 400, "invalid_request",
			    "client_secret needs client_id");
		return GRANT_POST;
	}
	if (rq->assertion_type == NULL || rq->assertion == NULL)
		return p2p_fail_oauth(err, 400, "invalid_request",
		    "client_assertion_type and client_assertion are required");
	return GRANT_JWT;
}

int
grant_issue(struct p2p_db *db, const struct p2p_config *cfg,
    const struct grant_req *rq, long long now, struct grant *g,
    struct p2p_err *err)
{
	struct client_rec	 c;
	const unsigned char	*key;
	char			 why[160], jti[256];
	long long		 jti_exp = 0;
	struct db_stmt		*st;
	int			 rc, how;

	memset(&c, 0, sizeof(c));
	memset(g, 0, sizeof(*g));
	jti[0] = '\0';
	g->basic = rq->authorization != NULL &&
	    strncasecmp(rq->authorization, "Basic ", 6) == 0;
	if ((how = auth_method(rq, err)) == -1)
		return -1;
	if (how == GRANT_JWT)
		rc = by_assertion(db, cfg, rq->assertion, rq->client_id, now, &c,
		    g->client, sizeof(g->client), &jti_exp, jti, sizeof(jti),
		    err);
	else
		rc = by_secret(db, rq, how == GRANT_BASIC, &c, g->client,
		    sizeof(g->client), err);
	if (rc == -1)
		goto fail;
	if (how == GRANT_JWT &&
	    !auth_has_word(c.grant_types, "client_credentials")) {
		p2p_fail_oauth(err, 400, "unauthorized_client",
		    "client may not use client_credentials");
		goto fail;
	}
	/*
	 * RFC 6749 3.3: without a scope, a secret client gets its
	 * registered scopes (the answer's scope says which); SMART Backend
	 * Services requests must name theirs.
	 */
	if (rq->scope == NULL && how == GRANT_JWT) {
		p2p_fail_oauth(err, 400, "invalid_scope",
		    "scope is required (SMART Backend Services)");
		goto fail;
	}
	if (scopes_grant(rq->scope != NULL ? rq->scope : c.scopes, c.scopes,
	    g->scope, sizeof(g->scope), why, sizeof(why)) == -1) {
		p2p_fail_oauth(err, 400, "invalid_scope", "%s", why);
		goto fail;
	}
	if (auth_key(cfg, &key, err) == -1)
		goto fail;
	if ((g->token = auth_token_new(cfg, key, c.id, c.npi, g->scope,
	    now)) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "cannot make a token");
		goto fail;
	}
	g->expires_in = cfg->token_ttl;
	if (db_begin(db, err) == -1)
		goto fail;
	/* SMART Backend Services: a jti is used once (replay guard). */
	if (jti[0] != '\0') {
		if ((st = db_stmt(db, sql[STMT_JTI_PURGE], err)) == NULL)
			goto rollback;
		db_bind_int64(st, 1, now);
		if (db_step_done(db, st, err, "jti purge") == -1)
			goto rollback;
		if ((st = db_stmt(db, sql[STMT_JTI_ADD], err)) == NULL)
			goto rollback;
		db_bind_text(st, 1, c.id);
		db_bind_text(st, 2, jti);
		db_bind_int64(st, 3, jti_exp);
		rc = db_step(st);
		db_done(st);
		if (db_constraint(rc)) {
			db_rollback(db);
			p2p_fail_oauth(err, 400, "invalid_client",
			    "jti already used");
			goto fail;
		}
		if (rc != DB_DONE) {
			db_fail(db, rc, err, "jti insert");
			goto rollback;
		}
	}
	snprintf(why, sizeof(why), "issued: %s%s", auth_name[how],
	    rq->scope == NULL ? " (registered scopes)" : "");
	if (audit_log(db, AUDIT_TOKEN, "success", c.id, NULL, 0, why,
	    err) == -1 || db_commit(db, err) == -1)
		goto rollback;
	client_rec_free(&c);
	return 0;
rollback:
	db_rollback(db);
fail:
	grant_free(g);
	client_rec_free(&c);
	return -1;
}

void
grant_free(struct grant *g)
{
	if (g->token != NULL) {
		OPENSSL_cleanse(g->token, strlen(g->token));
		free(g->token);
		g->token = NULL;
	}
}
