/*
 * jose.h - just enough JOSE for SMART Backend Services client
 * assertions: compact JWS parsing, JWK (RSA, EC P-256/P-384) to
 * OpenSSL keys, RS256/RS384/ES256/ES384 verification, and the RFC 7523
 * claim rules.  HMAC and "none" are never accepted here.
 */
#ifndef P2P_JOSE_H
#define P2P_JOSE_H

#include <stddef.h>

#include <json-c/json.h>

#define JOSE_MAX_LEN	16384	/* bytes in one compact JWS */
#define JOSE_MAX_LIFE	300	/* seconds an assertion may live */

enum jose_alg { JOSE_ALG_NONE, JOSE_RS256, JOSE_RS384, JOSE_ES256,
	JOSE_ES384 };

struct jose_jws {
	json_object	*header;	/* protected header, owned */
	json_object	*claims;	/* payload, owned */
	char		*input;		/* "header.payload" (signing input) */
	size_t		 input_len;
	unsigned char	*sig;		/* decoded signature */
	size_t		 sig_len;
	enum jose_alg	 alg;		/* supported algorithm */
	char		 kid[128];	/* header kid */
	char		 jku[512];	/* header jku, or "" */
};

/* Verification outcome. */
enum { JOSE_OK = 0, JOSE_BAD = -1, JOSE_NOKEY = -2 };

/*
 * Parses a compact JWS: three base64url parts, JSON objects, alg one of
 * the four asymmetric algorithms, kid present, typ (if any) "JWT".
 * Returns 0, or -1 with why filled (free with jose_jws_free either way).
 */
int	 jose_jws_parse(struct jose_jws *, const char *compact, char *why,
	    size_t whysz);
void	 jose_jws_free(struct jose_jws *);

/*
 * Verifies the signature with the one key of jwks (JSON text) whose kid
 * equals the header kid and whose kty (and crv) fits alg.  Returns
 * JOSE_OK, JOSE_NOKEY when no such key exists (the caller may refetch
 * the set), or JOSE_BAD (bad signature, bad key, ambiguous kid).
 */
int	 jose_jws_verify(const struct jose_jws *, const char *jwks, char *why,
	    size_t whysz);

/*
 * Checks client assertion claims (RFC 7523, SMART): iss and sub
 * strings, equal, at most 127 bytes; aud equal to aud (or an array
 * holding it); exp an integer, > now - skew and <= now + JOSE_MAX_LIFE +
 * skew; jti a non-empty string of at most 255 bytes; nbf/iat, when
 * present, not in the future beyond skew.  Returns 0 or -1 with why.
 */
int	 jose_check_claims(const struct jose_jws *, const char *aud,
	    long long now, long long skew, char *why, size_t whysz);

/* The claim as a string, or NULL. */
const char *jose_claim_str(const struct jose_jws *, const char *name);
/* The exp claim (validated by jose_check_claims). */
long long jose_claim_exp(const struct jose_jws *);

#endif
