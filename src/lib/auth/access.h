/*
 * auth/access.h - who is calling: access tokens on API requests, client
 * authentication helpers for the token endpoint, the requesting payer.
 *
 * Access tokens are JWTs (HS256, libjwt) signed with the server key
 * (cfg.key_file, hex): iss = base_url, aud = fhir_base, sub = client
 * id, iat, exp, jti, scope, npi (the requesting payer's NPI).  Every
 * executable verifies them without a database round trip, except one
 * cheap "client still active" lookup by id.
 */
#ifndef P2P_AUTH_H
#define P2P_AUTH_H

#include <stddef.h>

#include "auth/client.h"
#include "core/err.h"
#include "web/http.h"

#define AUTH_KEY_LEN	32	/* bytes of the server key */
#define AUTH_TOKEN_MAX	4096	/* longest access token accepted */

/*
 * Authenticates the caller as the op requires and fills req->who, then
 * checks op->scope.  Returns 0, or -1 with 401 (no/invalid credentials,
 * with WWW-Authenticate) or 403 (insufficient scope) in err.
 */
int	 auth_request(struct p2p_ctx *, struct p2p_req *, struct p2p_err *);

/*
 * For the payer-to-payer operations: resolves req->who.npi to the
 * Organization with that NPI (ident kind 4) into req->who.org_id.
 * Returns 0, or -1 with 403 when the caller has no resolvable identity.
 */
int	 auth_require_payer(struct p2p_req *, struct p2p_err *);

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
 * Verifies an access token: HS256 with key, iss, aud, exp > now.
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
