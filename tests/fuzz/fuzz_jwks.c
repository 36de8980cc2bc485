/*
 * fuzz_jwks.c - a client's key set as the server reads it (registered
 * inline, or fetched from its JWKS URL): the genuine assertions of
 * jose_vectors.h verified against the input (auth/jose.c:
 * jose_jws_verify(), which parses the set and builds RSA and EC keys
 * from their JWK members), and the input as a JWKS URL
 * (auth/jwks.c: jwks_url_ok()).
 *
 * An assertion verifies only under a set that holds a key with its
 * kid; a URL is accepted only when https (or loopback http when
 * allowed) and free of white space and control characters.
 */
#include "fuzz.h"
#include "auth/jose.h"
#include "auth/jwks.h"
#include "jose_vectors.h"

static const char *const genuine[] = { V_RS256, V_RS384, V_ES256, V_ES384 };
#define NGENUINE	(sizeof(genuine) / sizeof(genuine[0]))
static struct jose_jws		 jws[NGENUINE];
static struct p2p_config	 cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 why[160];
	size_t	 i;

	fuzz_setup(&cfg, NULL, NULL, NULL);
	for (i = 0; i < NGENUINE; i++)
		if (jose_jws_parse(&jws[i], genuine[i], why,
		    sizeof(why)) == -1 || jose_jws_verify(&jws[i], V_JWKS, why,
		    sizeof(why)) != JOSE_OK) {
			fprintf(stderr, "fuzz fixture: vector %zu: %s\n", i,
			    why);
			exit(2);
		}
	return 0;
}

static void
url(const char *s)
{
	size_t	 i;
	int	 http;

	for (http = 0; http < 2; http++) {
		cfg.jwks_allow_http = http;
		if (!jwks_url_ok(&cfg, s))
			continue;
		if (strncmp(s, "https://", 8) != 0 &&
		    (!http || strncmp(s, "http://", 7) != 0))
			fuzz_fail("URL accepted: %s", s);
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
				fuzz_fail("URL with a control character");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = fuzz_str(data, size);
	char	 why[160], kid[140];
	size_t	 i;
	int	 rc;

	for (i = 0; i < NGENUINE; i++) {
		rc = jose_jws_verify(&jws[i], s, why, sizeof(why));
		if (rc != JOSE_OK && rc != JOSE_BAD && rc != JOSE_NOKEY)
			fuzz_fail("jose_jws_verify() returned %d", rc);
		snprintf(kid, sizeof(kid), "\"%s\"", jws[i].kid);
		if (rc == JOSE_OK && strstr(s, kid) == NULL)
			fuzz_fail("verified under a set without kid %s",
			    jws[i].kid);
	}
	url(s);
	free(s);
	return 0;
}
