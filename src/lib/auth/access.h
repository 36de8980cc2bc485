/*
 * auth/access.h - who is calling: access tokens on API requests, client
 * authentication helpers for the token endpoint, the requesting payer.
 *
 * Access tokens are JWTs (RFC 9068: typ "at+jwt"; HS256) signed with
 * the server key (cfg.key_file, hex): iss = base_url, aud = fhir_base,
 * sub = client_id = the client, iat, exp, jti, scope, npi (the
 * requesting payer's NPI).  Every
 * executable verifies them without a database round trip, except one
 * cheap "client still active" lookup by id.
 *
 * Nothing here knows HTTP: the request loop (web/serve.c) hands in the
 * Authorization header's value and turns the results into responses.
 */
#ifndef P2P_AUTH_H
#define P2P_AUTH_H

#include <stddef.h>

#include "auth/client.h"
#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define AUTH_KEY_LEN	32	/* bytes of the server key */
#define AUTH_TOKEN_MAX	4096	/* longest access token accepted */

/* An authenticated caller. */
struct p2p_principal {
	char		 client_id[128];	/* "" when anonymous */
	char		 npi[32];		/* requesting payer's NPI */
	char		 org_id[128];		/* its Organization id, or "" */
	char		 scopes[1024];		/* granted, space separated */
	long long	 exp;			/* token expiry, epoch seconds */
};

/*
 * Identifies the caller from the value of an Authorization header
 * (NULL when absent): a Bearer access token (auth_token_check(), and
 * its client still active; a bare token without the scheme is taken as
 * Bearer) or, with cfg->allow_basic_api, Basic
 * credentials of an active client registered with grant type "basic".
 * Returns 0 with who filled, or -1 with err: 401 login (the reason,
 * never the credentials), or a database failure.  claimed gets the
 * client the credentials name, even when refused (a Basic id, a valid
 * token's subject), or "", for the audit trail.
 */
int	 auth_identify(struct p2p_db *, const struct p2p_config *,
	    const char *authorization, long long now,
	    struct p2p_principal *who, char *claimed, size_t claimedsz,
	    struct p2p_err *);

/*
 * The requesting payer of the payer-to-payer operations: resolves
 * who->npi to the one Organization with that NPI into who->org_id.
 * Returns 0, or -1 with 403 when the caller has no resolvable identity
 * (no NPI, unknown, ambiguous), or a database failure.
 */
int	 auth_payer(struct p2p_db *, struct p2p_principal *, struct p2p_err *);

/*
 * The Organization whose NPI is npi (ident kind 4): copies its id when
 * exactly one has it and sets *n to how many do (0, 1, 2 for "more").
 * 0, or -1 with a database failure.
 */
int	 auth_org_by_npi(struct p2p_db *, const char *npi, char *id,
	    size_t idsz, int *n, struct p2p_err *);

/* Reads the server key (hex) once per process.  0 or -1 with err. */
int	 auth_key(const struct p2p_config *, const unsigned char **key,
	    struct p2p_err *);

/*
 * Makes an access token (malloc'd, caller frees) for the client with
 * the granted scopes, valid cfg->token_ttl seconds from now.
 */
char	*auth_token_new(const struct p2p_config *, const unsigned char *key,
	    const char *client_id, const char *npi, const char *scopes,
	    long long now);

/*
 * Verifies an access token: HS256 with key, typ at+jwt, iss, aud,
 * exp > now.
 * Fills who.  Returns 0, or -1 with why filled.
 */
int	 auth_token_check(const struct p2p_config *, const unsigned char *key,
	    const char *token, long long now, struct p2p_principal *who,
	    char *why, size_t whysz);

/*
 * Splits "Basic base64(urlenc(id) ':' urlenc(secret))" (RFC 6749
 * 2.3.1; undecodable escapes are taken as is).  Returns 0 or -1.
 */
int	 auth_basic_parse(const char *header, char *id, size_t idsz,
	    char *secret, size_t secretsz);

/*
 * 1 when secret is the client's secret.  Verified pairs are remembered
 * (client, SHA-256 of secret, stored hash) for AUTH_SECRET_TTL seconds
 * so that Basic API calls skip the slow hash.
 */
#define AUTH_SECRET_TTL	60
int	 auth_secret_ok(const struct client_rec *, const char *secret);

/* 1 when the space-separated list has word. */
int	 auth_has_word(const char *list, const char *word);

#endif
