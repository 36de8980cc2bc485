/*
 * peer/smart.h - talking to a previous payer as a SMART Backend
 * Services client: discovery (the peer's .well-known/smart-configuration
 * and its CapabilityStatement, which must declare the operations we
 * use), client assertions signed with our key (libjwt; RFC 7523 claims
 * as SMART requires), access tokens kept in memory until shortly before
 * they expire, and authenticated calls that get a fresh token once when
 * the peer answers 401.
 */
#ifndef P2P_PEER_SMART_H
#define P2P_PEER_SMART_H

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "peer/httpc.h"
#include "peer/keys.h"
#include "peer/peer.h"
#include "store/db.h"

#define SMART_DISCOVERY_TTL	3600	/* seconds discovery results last */
#define SMART_ASSERTION_LIFE	240	/* exp - now; SMART allows <= 300 */
#define SMART_TOKEN_MARGIN	30	/* renew this long before exp */

/* A session with one peer (per process; not shared between threads). */
struct smart {
	const struct p2p_config	*cfg;
	struct p2p_db		*db;
	struct peer		 peer;		/* copy, refreshed by discovery */
	char			*token;		/* access token, or NULL */
	long long		 token_exp;	/* epoch seconds */
	long			 timeout;	/* seconds per API call */
	int			 tokens;	/* tokens obtained (tests) */
};

void	 smart_init(struct smart *, const struct p2p_config *,
	    struct p2p_db *, const struct peer *, long timeout);
/* Wipes and frees the token. */
void	 smart_free(struct smart *);

/*
 * Discovery, unless the peer's record is younger than
 * SMART_DISCOVERY_TTL and already declares need (or force): reads the
 * SMART configuration (token endpoint; private_key_jwt and our
 * algorithm, when listed) and the CapabilityStatement (FHIR R4; the
 * operations declared), records them, then requires every PEER_CAP_* of
 * need: 501 not-supported naming what is missing otherwise.  0 or -1.
 */
int	 smart_discover(struct smart *, unsigned need, int force,
	    struct p2p_err *);

/* The PEER_CAP_* operations a CapabilityStatement declares.  Pure. */
unsigned smart_caps_of(json_object *capability);

/*
 * Checks a smart-configuration document for a client signing with alg
 * and copies its token endpoint into token_url.  0 or -1 (502 naming
 * what is wrong).  Pure.
 */
int	 smart_config_check(json_object *conf, const char *alg,
	    char *token_url, size_t sz, struct p2p_err *);

/*
 * A client assertion (compact JWS, malloc'd): header alg, kid, typ JWT;
 * claims iss = sub = client_id, aud, iat = now, exp = now +
 * SMART_ASSERTION_LIFE, a random jti.  Signed with the PEM private key.
 * NULL with err set.
 */
char	*smart_assertion(const char *pem, size_t pemlen, const struct skey *,
	    const char *client_id, const char *aud, long long now,
	    struct p2p_err *);

/*
 * Makes sure s holds an access token valid for SMART_TOKEN_MARGIN more
 * seconds, asking the token endpoint when not.  A refusal is 401 (the
 * peer's OAuth error in the message); no answer is 503.  0 or -1.
 */
int	 smart_token(struct smart *, struct p2p_err *);

/* Drops the token and asks for a new one (after a 401).  0 or -1. */
int	 smart_refresh(struct smart *, struct p2p_err *);

/*
 * Sends req with our bearer token (req->bearer is set here); when the
 * peer answers 401, once more with a fresh token.  As httpc_do().
 */
int	 smart_call(struct smart *, struct httpc_req *, struct httpc_resp *,
	    struct p2p_err *);

#endif
