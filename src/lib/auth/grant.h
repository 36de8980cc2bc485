/*
 * grant.h - the token endpoint's grant (RFC 6749 4.4 client_credentials,
 * SMART Backend Services): the client authenticated by a private_key_jwt
 * assertion (RFC 7523), client_secret_basic or client_secret_post (RFC
 * 6749 2.3.1), its grant and scopes
 * checked, the assertion's jti used once, an access token issued and
 * audited (event "token").  Nothing here knows HTTP: the operation
 * (src/cgi/token.c) hands in the form's values and renders the answer.
 */
#ifndef P2P_GRANT_H
#define P2P_GRANT_H

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define GRANT_ASSERTION_TYPE \
	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* A token request's parts, as sent (NULL when absent). */
struct grant_req {
	const char	*authorization;	/* Authorization header value */
	const char	*assertion_type; /* client_assertion_type */
	const char	*assertion;	/* client_assertion */
	const char	*scope;		/* scope */
	const char	*client_id;	/* client_id */
	const char	*client_secret;	/* client_secret (client_secret_post) */
};

/* What was issued. */
struct grant {
	char		*token;		/* the access token (grant_free()) */
	char		 scope[1024];	/* the scopes granted */
	long long	 expires_in;	/* seconds */
	char		 client[128];	/* the client the credentials name,
					   also when refused (for the audit) */
	int		 basic;		/* client_secret_basic was used */
};

/*
 * Issues an access token for rq at now.  Returns 0 with g filled (free
 * with grant_free()), or -1 with an OAuth error in err (invalid_request,
 * invalid_client: 400, or 401 for Basic; unauthorized_client,
 * invalid_scope) or a server failure; g->client and g->basic are set
 * either way.  Without a scope (RFC 6749 3.3), a client authenticated
 * by its secret gets its registered scopes; a private_key_jwt request
 * must name them (SMART Backend Services): invalid_scope.
 */
int	 grant_issue(struct p2p_db *, const struct p2p_config *,
	    const struct grant_req *rq, long long now, struct grant *g,
	    struct p2p_err *);

/* Wipes and frees the token. */
void	 grant_free(struct grant *);

#endif
