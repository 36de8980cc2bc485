/*
 * jose.c - see jose.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/jose.h"
#include "core/util.h"

static int
why_set(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
why_set(char *why, size_t whysz, const char *fmt, ...)
{
	va_list	 ap;

	if (why != NULL && whysz > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whysz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
b64url_only(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* Decodes a base64url JSON object part. */
static json_object *
part_json(const char *s, size_t n)
{
	unsigned char		*raw;
	size_t			 len;
	json_tokener		*tok;
	json_object		*o;

	if ((raw = b64_decode(s, n, &len)) == NULL)
		return NULL;
	if (len == 0 || memchr(raw, '\0', len) != NULL) {
		free(raw);
		return NULL;
	}
	tok = json_tokener_new_ex(16);
	if (tok == NULL) {
		free(raw);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)raw, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	free(raw);
	return o;
}

static const char *
obj_str(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jose_jws_parse(struct jose_jws *j, const char *compact, char *why,
    size_t whysz)
{
	const char	*d1, *d2, *alg, *kid, *typ, *jku;
	size_t		 n;
	json_object	*v;

	memset(j, 0, sizeof(*j));
	if (compact == NULL || (n = strlen(compact)) == 0)
		return why_set(why, whysz, "empty assertion");
	if (n > JOSE_MAX_LEN)
		return why_set(why, whysz, "assertion too long");
	if ((d1 = strchr(compact, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return why_set(why, whysz, "assertion is not a compact JWS");
	if (!b64url_only(compact, (size_t)(d1 - compact)) ||
	    !b64url_only(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !b64url_only(d2 + 1, strlen(d2 + 1)))
		return why_set(why, whysz, "assertion is not base64url");
	if ((j->header = part_json(compact, (size_t)(d1 - compact))) == NULL)
		return why_set(why, whysz, "assertion header is not JSON");
	if ((j->claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		return why_set(why, whysz, "assertion claims are not JSON");
	if ((alg = obj_str(j->header, "alg")) == NULL)
		return why_set(why, whysz, "assertion has no alg");
	if (strcmp(alg, "RS256") == 0)
		j->alg = JOSE_RS256;
	else if (strcmp(alg, "RS384") == 0)
		j->alg = JOSE_RS384;
	else if (strcmp(alg, "ES256") == 0)
		j->alg = JOSE_ES256;
	else if (strcmp(alg, "ES384") == 0)
		j->alg = JOSE_ES384;
	else
		return why_set(why, whysz, "assertion alg %.16s not accepted",
		    alg);
	if (json_object_object_get_ex(j->header, "crit", &v))
		return why_set(why, whysz, "crit header not supported");
	if (json_object_object_get_ex(j->header, "typ", &v) &&
	    ((typ = obj_str(j->header, "typ")) == NULL ||
	    strcasecmp(typ, "JWT") != 0))
		return why_set(why, whysz, "assertion typ must be JWT");
	if ((kid = obj_str(j->header, "kid")) == NULL || kid[0] == '\0' ||
	    strlen(kid) >= sizeof(j->kid))
		return why_set(why, whysz, "assertion has no usable kid");
	snprintf(j->kid, sizeof(j->kid), "%s", kid);
	if (json_object_object_get_ex(j->header, "jku", &v)) {
		if ((jku = obj_str(j->header, "jku")) == NULL ||
		    strlen(jku) >= sizeof(j->jku))
			return why_set(why, whysz, "bad jku header");
		snprintf(j->jku, sizeof(j->jku), "%s", jku);
	}
	j->input_len = (size_t)(d2 - compact);
	if ((j->input = malloc(j->input_len + 1)) == NULL)
		return why_set(why, whysz, "out of memory");
	memcpy(j->input, compact, j->input_len);
	j->input[j->input_len] = '\0';
	if ((j->sig = b64_decode(d2 + 1, strlen(d2 + 1), &j->sig_len)) ==
	    NULL || j->sig_len == 0)
		return why_set(why, whysz, "assertion has no signature");
	return 0;
}

void
jose_jws_free(struct jose_jws *j)
{
	json_object_put(j->header);
	json_object_put(j->claims);
	free(j->input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

/* A base64url member of a JWK as a BIGNUM, or NULL. */
static BIGNUM *
jwk_bn(json_object *k, const char *name, size_t maxlen)
{
	const char	*s;
	unsigned char	*raw;
	size_t		 len;
	BIGNUM		*bn;

	if ((s = obj_str(k, name)) == NULL || !b64url_only(s, strlen(s)))
		return NULL;
	if ((raw = b64_decode(s, strlen(s), &len)) == NULL)
		return NULL;
	bn = (len == 0 || len > maxlen) ? NULL : BN_bin2bn(raw, (int)len, NULL);
	free(raw);
	return bn;
}

/* The public key of type ("RSA", "EC") from params, or NULL. */
static EVP_PKEY *
public_key(const char *type, const OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*pc = NULL;
	EVP_PKEY	*pkey = NULL;

	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(pc);
	return pkey;
}

static EVP_PKEY *
jwk_rsa(json_object *k)
{
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY	*pkey = NULL;
	BIGNUM		*n, *e;

	n = jwk_bn(k, "n", 1024);
	e = jwk_bn(k, "e", 16);
	if (n == NULL || e == NULL || BN_num_bits(n) < 2048)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
		pkey = public_key("RSA", params);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

static EVP_PKEY *
jwk_ec(json_object *k, const char *group, size_t clen)
{
	OSSL_PARAM	 params[3];
	EVP_PKEY	*pkey = NULL;
	unsigned char	*x = NULL, *y = NULL, pub[1 + 2 * 66];
	size_t		 xl = 0, yl = 0;
	const char	*xs, *ys;

	if ((xs = obj_str(k, "x")) == NULL || (ys = obj_str(k, "y")) == NULL)
		return NULL;
	x = b64_decode(xs, strlen(xs), &xl);
	y = b64_decode(ys, strlen(ys), &yl);
	if (x == NULL || y == NULL || xl != clen || yl != clen)
		goto out;
	pub[0] = 0x04;	/* uncompressed point */
	memcpy(pub + 1, x, clen);
	memcpy(pub + 1 + clen, y, clen);
	/* fromdata checks the point is on the curve for EC public keys */
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * clen);
	params[2] = OSSL_PARAM_construct_end();
	pkey = public_key("EC", params);
out:
	free(x);
	free(y);
	return pkey;
}

/* Raw r||s (2 * clen bytes) to DER; malloc'd, or NULL. */
static unsigned char *
ecdsa_raw_to_der(const unsigned char *sig, size_t len, size_t clen,
    size_t *derlen)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	*der = NULL, *p;
	int		 n;

	if (len != 2 * clen)
		return NULL;
	r = BN_bin2bn(sig, (int)clen, NULL);
	s = BN_bin2bn(sig + clen, (int)clen, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL) {
		BN_free(r);
		BN_free(s);
		return NULL;
	}
	ECDSA_SIG_set0(es, r, s);	/* es owns r and s now */
	if ((n = i2d_ECDSA_SIG(es, NULL)) > 0 && (der = malloc((size_t)n)) !=
	    NULL) {
		p = der;
		if (i2d_ECDSA_SIG(es, &p) != n) {
			free(der);
			der = NULL;
		} else
			*derlen = (size_t)n;
	}
	ECDSA_SIG_free(es);
	return der;
}

int
jose_jws_verify(const struct jose_jws *j, const char *jwks, char *why,
    size_t whysz)
{
	json_object	*set, *keys, *k, *match = NULL;
	const char	*kty, *crv, *want_kty, *want_crv = NULL, *use;
	const EVP_MD	*md;
	EVP_PKEY	*pkey = NULL;
	EVP_MD_CTX	*mc = NULL;
	unsigned char	*der = NULL;
	const unsigned char *sig = j->sig;
	size_t		 i, n, siglen = j->sig_len, clen = 0;
	int		 found = 0, rc = JOSE_BAD;

	switch (j->alg) {
	case JOSE_RS256: want_kty = "RSA"; md = EVP_sha256(); break;
	case JOSE_RS384: want_kty = "RSA"; md = EVP_sha384(); break;
	case JOSE_ES256: want_kty = "EC"; want_crv = "P-256"; clen = 32;
		md = EVP_sha256(); break;
	case JOSE_ES384: want_kty = "EC"; want_crv = "P-384"; clen = 48;
		md = EVP_sha384(); break;
	default:
		return why_set(why, whysz, "algorithm not accepted"), JOSE_BAD;
	}
	if (jwks == NULL || (set = json_tokener_parse(jwks)) == NULL)
		return why_set(why, whysz, "no key set for this client"),
		    JOSE_NOKEY;
	if (!json_object_object_get_ex(set, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		json_object_put(set);
		return why_set(why, whysz, "client key set has no keys"),
		    JOSE_NOKEY;
	}
	n = json_object_array_length(keys);
	for (i = 0; i < n; i++) {
		k = json_object_array_get_idx(keys, i);
		if (obj_str(k, "kid") == NULL ||
		    strcmp(obj_str(k, "kid"), j->kid) != 0)
			continue;
		if ((kty = obj_str(k, "kty")) == NULL ||
		    strcmp(kty, want_kty) != 0)
			continue;
		crv = obj_str(k, "crv");
		if (want_crv != NULL && (crv == NULL || strcmp(crv,
		    want_crv) != 0))
			continue;
		if ((use = obj_str(k, "use")) != NULL && strcmp(use, "sig"))
			continue;
		match = k;
		found++;
	}
	if (found == 0) {
		rc = JOSE_NOKEY;
		why_set(why, whysz, "no key with kid %.64s fits %s", j->kid,
		    want_crv ? want_crv : want_kty);
		goto out;
	}
	if (found > 1) {
		why_set(why, whysz, "kid %.64s is not unique", j->kid);
		goto out;
	}
	pkey = want_crv == NULL ? jwk_rsa(match) :
	    jwk_ec(match, clen == 32 ? "P-256" : "P-384", clen);
	if (pkey == NULL) {
		why_set(why, whysz, "registered key %.64s is unusable", j->kid);
		goto out;
	}
	if (want_crv != NULL) {
		if ((der = ecdsa_raw_to_der(j->sig, j->sig_len, clen,
		    &siglen)) == NULL) {
			why_set(why, whysz, "bad signature length");
			goto out;
		}
		sig = der;
	}
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, NULL, md, NULL, pkey) != 1) {
		why_set(why, whysz, "cannot verify");
		goto out;
	}
	if (EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)j->input,
	    j->input_len) != 1) {
		why_set(why, whysz, "bad signature");
		goto out;
	}
	rc = JOSE_OK;
out:
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pkey);
	free(der);
	json_object_put(set);
	return rc;
}

const char *
jose_claim_str(const struct jose_jws *j, const char *name)
{
	return obj_str(j->claims, name);
}

/* An integer claim; 1 when present and integral, 0 absent, -1 bad. */
static int
claim_int(const struct jose_jws *j, const char *name, long long *out)
{
	json_object	*v;

	if (!json_object_object_get_ex(j->claims, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 1;
	}
	if (json_object_is_type(v, json_type_double)) {
		double	 d = json_object_get_double(v);

		if (d >= 0 && d < 1e13 && d == (double)(long long)d) {
			*out = (long long)d;
			return 1;
		}
	}
	return -1;
}

long long
jose_claim_exp(const struct jose_jws *j)
{
	long long	 exp = 0;

	claim_int(j, "exp", &exp);
	return exp;
}

int
jose_check_claims(const struct jose_jws *j, const char *aud, long long now,
    long long skew, char *why, size_t whysz)
{
	const char	*iss, *sub, *jti;
	json_object	*a, *e;
	long long	 exp, t;
	size_t		 i, n;
	int		 ok = 0;

	if ((iss = jose_claim_str(j, "iss")) == NULL || iss[0] == '\0' ||
	    strlen(iss) >= 128)
		return why_set(why, whysz, "assertion iss missing");
	if ((sub = jose_claim_str(j, "sub")) == NULL || strcmp(iss, sub) != 0)
		return why_set(why, whysz, "assertion sub must equal iss");
	if (!json_object_object_get_ex(j->claims, "aud", &a))
		return why_set(why, whysz, "assertion aud missing");
	if (json_object_is_type(a, json_type_string))
		ok = strcmp(json_object_get_string(a), aud) == 0;
	else if (json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(a, i);
			if (json_object_is_type(e, json_type_string) &&
			    strcmp(json_object_get_string(e), aud) == 0)
				ok = 1;
		}
	}
	if (!ok)
		return why_set(why, whysz, "assertion aud is not this token "
		    "endpoint");
	if (claim_int(j, "exp", &exp) != 1)
		return why_set(why, whysz, "assertion exp missing");
	if (exp <= now - skew)
		return why_set(why, whysz, "assertion expired");
	if (exp > now + JOSE_MAX_LIFE + skew)
		return why_set(why, whysz, "assertion exp more than %d s ahead",
		    JOSE_MAX_LIFE);
	if (claim_int(j, "nbf", &t) == -1 || (claim_int(j, "nbf", &t) == 1 &&
	    t > now + skew))
		return why_set(why, whysz, "assertion not yet valid");
	if (claim_int(j, "iat", &t) == -1 || (claim_int(j, "iat", &t) == 1 &&
	    t > now + skew))
		return why_set(why, whysz, "assertion issued in the future");
	if ((jti = jose_claim_str(j, "jti")) == NULL || jti[0] == '\0' ||
	    strlen(jti) > 255)
		return why_set(why, whysz, "assertion jti missing");
	return 0;
}
