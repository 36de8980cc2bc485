/*
 * fuzz_jose.c - the two JWTs the server reads from outside: a client
 * assertion at the token endpoint (auth/jose.c: jose_jws_parse(),
 * jose_check_claims(), jose_jws_verify() against a key set holding RSA
 * and EC keys) and an access token on every API call
 * (auth/access.c: auth_token_check(), libjwt HS256).
 *
 * Nothing may verify that was not signed: an assertion verifies only
 * when its signing input is one of the genuine vectors', and an access
 * token only when an HMAC-SHA256 computed here, apart from libjwt,
 * matches its signature.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "auth/access.h"
#include "auth/jose.h"
#include "core/util.h"
#include "jose_vectors.h"

static const char *const genuine[] = { V_RS256, V_RS384, V_ES256, V_ES384 };
static struct p2p_config	 cfg;
static unsigned char		 key[AUTH_KEY_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	 i;

	fuzz_setup(&cfg, NULL, NULL, NULL);
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	return 0;
}

static void
assertion(const char *s)
{
	struct jose_jws	 j;
	char		 why[160];
	size_t		 i, n;
	int		 rc;

	why[0] = '\0';
	if (jose_jws_parse(&j, s, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			fuzz_fail("jose_jws_parse() refused without a reason");
		jose_jws_free(&j);
		return;
	}
	if (j.alg == JOSE_ALG_NONE || j.kid[0] == '\0' || j.sig_len == 0 ||
	    j.header == NULL || j.claims == NULL)
		fuzz_fail("jose_jws_parse() accepted a JWS without alg, kid "
		    "or signature");
	(void)jose_check_claims(&j, V_AUD, V_NOW, 60, why, sizeof(why));
	(void)jose_claim_exp(&j);
	rc = jose_jws_verify(&j, V_JWKS, why, sizeof(why));
	if (rc == JOSE_OK) {
		for (i = 0; i < sizeof(genuine) / sizeof(genuine[0]); i++) {
			n = (size_t)(strrchr(genuine[i], '.') - genuine[i]);
			if (n == j.input_len &&
			    memcmp(genuine[i], j.input, n) == 0)
				break;
		}
		if (i == sizeof(genuine) / sizeof(genuine[0]))
			fuzz_fail("a forged assertion verified");
	} else if (rc != JOSE_BAD && rc != JOSE_NOKEY)
		fuzz_fail("jose_jws_verify() returned %d", rc);
	jose_jws_free(&j);
}

/* The token's signature is HMAC-SHA256(key, header.payload). */
static int
hs256_signed(const char *tok)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE], *sig;
	unsigned int	 maclen = 0;
	const char	*dot;
	size_t		 siglen = 0;
	int		 ok;

	if ((dot = strrchr(tok, '.')) == NULL)
		return 0;
	if (HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)tok,
	    (size_t)(dot - tok), mac, &maclen) == NULL)
		return 0;
	if ((sig = b64_decode(dot + 1, strlen(dot + 1), &siglen)) == NULL)
		return 0;
	ok = siglen == maclen && memcmp(sig, mac, maclen) == 0;
	free(sig);
	return ok;
}

static void
access_token(const char *s)
{
	struct p2p_principal	 who;
	char			 why[160];

	if (auth_token_check(&cfg, key, s, V_NOW, &who, why,
	    sizeof(why)) == -1) {
		if (who.client_id[0] != '\0')
			fuzz_fail("a refused token left a caller behind");
		return;
	}
	if (!hs256_signed(s))
		fuzz_fail("an access token not signed with the key verified");
	if (who.client_id[0] == '\0' || who.exp <= V_NOW)
		fuzz_fail("a verified token without client or expiry");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = fuzz_str(data, size);

	assertion(s);
	access_token(s);
	free(s);
	return 0;
}
