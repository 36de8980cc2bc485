/*
 * jwks.h - client key sets registered as a JWKS URL: fetched with
 * libcurl (HTTPS; http:// only for loopback hosts when jwks_allow_http
 * = 1), cached in table jwks_cache as long as Cache-Control max-age
 * allows (JWKS_DEFAULT_TTL without one), fetched again on demand at
 * most once per jwks_cooldown seconds, and the last good set kept when
 * a fetch fails.
 */
#ifndef P2P_JWKS_H
#define P2P_JWKS_H

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define JWKS_DEFAULT_TTL	300	/* seconds, without Cache-Control */
#define JWKS_MAX_TTL		86400	/* never cached longer */
#define JWKS_MAX_BYTES		65536	/* largest key set accepted */

/*
 * The key set of client_id from url (malloc'd JSON text in *out, or
 * NULL when none could ever be fetched).  refetch != 0: the caller saw
 * an unknown kid; fetch again unless the cool-down forbids it.  Returns
 * 0, or -1 with err set on a database failure.
 */
int	 jwks_get(struct p2p_db *, const struct p2p_config *,
	    const char *client_id, const char *url, int refetch, char **out,
	    struct p2p_err *);

/* 1 when url is acceptable as a JWKS URL under cfg, else 0. */
int	 jwks_url_ok(const struct p2p_config *, const char *url);

/*
 * 1 when this server may fetch url: https://, or http:// on a loopback
 * host when jwks_allow_http = 1 (tests); shorter than max bytes, no
 * control characters or spaces.  JWKS URLs and the peers of the
 * receiving side (peer/httpc.h) follow this one rule.
 */
int	 url_fetch_ok(const struct p2p_config *, const char *url, size_t max);

#endif
