/*
 * peer/keys.h - our keys for the client assertions the receiving side
 * signs (SMART Backend Services, RFC 7523), and the key set published
 * at /.well-known/jwks.json so that a previous payer can register us by
 * JWKS URL.
 *
 * Private keys are PEM files (PKCS#8, mode 0600) under <data>/keys/,
 * never in the database; table sign_key holds each key's file name, its
 * public JWK and when it signs.  kid defaults to the RFC 7638
 * thumbprint.  Rotation without an outage: "rotate" publishes a new
 * shared key at once and lets it sign only from not_before on (by
 * default KEYS_AHEAD seconds later, twice the max-age the key set is
 * served with), so every peer that caches our key set has seen it
 * before it is used; the old key stays published until it is retired.
 */
#ifndef P2P_PEER_KEYS_H
#define P2P_PEER_KEYS_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define KEYS_MAX_AGE	300		/* Cache-Control max-age of the set */
#define KEYS_AHEAD	(2 * KEYS_MAX_AGE) /* publish before use, seconds */
#define KEYS_PEM_MAX	65536		/* largest PEM file read */
#define KEYS_KID_MAX	128

struct skey {
	char		 kid[KEYS_KID_MAX];	/* key id */
	char		 alg[8];		/* ES384 | RS384 */
	char		 file[PATH_MAX];	/* relative to the data dir */
	int		 shared;		/* installation key */
	long long	 not_before;		/* signs from */
	long long	 retired;		/* 0: published */
	long long	 created;
};

/* 1 when alg is one we sign with (ES384, RS384). */
int	 keys_alg_ok(const char *alg);

/*
 * The public JWK of key for alg (kty, crv/x/y or n/e, kid, alg, use),
 * as a new object the caller puts.  kid NULL or "": the RFC 7638
 * thumbprint, also written to kidout (KEYS_KID_MAX) when not NULL.
 * NULL with err set when the key does not fit alg (ES384 needs P-384,
 * RS384 an RSA key of at least 2048 bits).  Pure.
 */
json_object *keys_public_jwk(EVP_PKEY *, const char *alg, const char *kid,
	    char *kidout, struct p2p_err *);

/*
 * A new shared key (alg ES384 or RS384) that signs from not_before,
 * written to <data>/keys/ and recorded.  Fills out.  0 or -1.
 */
int	 keys_generate(const struct p2p_config *, struct p2p_db *,
	    const char *alg, long long not_before, struct skey *out,
	    struct p2p_err *);

/*
 * Imports the private key in PEM file path as one peer's key (shared
 * 0): copied to <data>/keys/ (0600), recorded with alg (NULL: from the
 * key type) and kid (NULL: thumbprint).  Importing the same key again
 * returns the existing record.  0 or -1.
 */
int	 keys_import(const struct p2p_config *, struct p2p_db *,
	    const char *path, const char *alg, const char *kid,
	    struct skey *out, struct p2p_err *);

/*
 * The key that signs: kid when given (it must exist and be published),
 * else the newest shared key whose not_before has come.  Returns 0, 1
 * when there is none, -1 on error.
 */
int	 keys_pick(struct p2p_db *, const char *kid, time_t now,
	    struct skey *, struct p2p_err *);

/* The record of kid: 0, 1 when none, -1. */
int	 keys_get(struct p2p_db *, const char *kid, struct skey *,
	    struct p2p_err *);

/*
 * Reads key's PEM file into a malloc'd buffer (*len bytes, NUL
 * terminated); the caller wipes it with OPENSSL_cleanse() and frees it.
 * NULL with err set.
 */
char	*keys_read_pem(const struct p2p_config *, const struct skey *,
	    size_t *len, struct p2p_err *);

/*
 * The published key set as JSON text ({"keys":[...]}, malloc'd, caller
 * frees): every key not retired.  0 or -1.
 */
int	 keys_jwks(struct p2p_db *, char **out, struct p2p_err *);

/*
 * Stops publishing kid.  Refused (409) while it signs: the current
 * shared key, or a peer's own key of an active peer.  0, 1 when there
 * is no such key, -1.
 */
int	 keys_retire(struct p2p_db *, const char *kid, time_t now,
	    struct p2p_err *);

/* Calls fn for every key, newest first.  0 or -1. */
int	 keys_each(struct p2p_db *, int (*fn)(void *, const struct skey *),
	    void *arg, struct p2p_err *);

#endif
