/*
 * auth.h - who is calling: access tokens on API requests, client
 * authentication at the token endpoint, scopes.
 */
#ifndef P2P_AUTH_H
#define P2P_AUTH_H

#include "err.h"
#include "http.h"

/*
 * Authenticates the caller as the op requires and fills req->who.
 * Returns 0, or -1 with a 401 (no/invalid credentials, with
 * WWW-Authenticate) or 403 in err.
 */
int	 auth_request(struct p2p_ctx *, struct p2p_req *, struct p2p_err *);

#endif
