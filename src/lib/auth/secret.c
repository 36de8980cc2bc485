/*
 * secret.c - see secret.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/secret.h"
#include "core/util.h"

#define SALT_BYTES	16
#define HASH_BYTES	32

static int
derive(const char *secret, const unsigned char *salt, size_t saltlen,
    long iter, unsigned char out[HASH_BYTES])
{
	return PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt,
	    (int)saltlen, (int)iter, EVP_sha256(), HASH_BYTES, out) == 1 ?
	    0 : -1;
}

static void
tohex(const unsigned char *in, size_t n, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

int
secret_hash(const char *secret, char out[SECRET_HASH_MAX])
{
	char		 salthex[2 * SALT_BYTES + 1], hashhex[2 * HASH_BYTES + 1];
	unsigned char	 salt[SALT_BYTES], hash[HASH_BYTES];

	if (rand_hex(salthex, SALT_BYTES) == -1 ||
	    hex_decode(salthex, SALT_BYTES, salt) == -1 ||
	    derive(secret, salt, SALT_BYTES, SECRET_ITERATIONS, hash) == -1)
		return -1;
	tohex(hash, HASH_BYTES, hashhex);
	snprintf(out, SECRET_HASH_MAX, "pbkdf2-sha256$%d$%s$%s",
	    SECRET_ITERATIONS, salthex, hashhex);
	OPENSSL_cleanse(hash, sizeof(hash));
	return 0;
}

int
secret_verify(const char *secret, const char *stored)
{
	unsigned char	 salt[SALT_BYTES], want[HASH_BYTES], got[HASH_BYTES];
	const char	*p, *s, *h;
	long long	 iter;
	char		 num[16];
	int		 ok;

	if (secret == NULL || stored == NULL ||
	    strncmp(stored, "pbkdf2-sha256$", 14) != 0)
		return 0;
	p = stored + 14;
	if ((s = strchr(p, '$')) == NULL || (size_t)(s - p) >= sizeof(num))
		return 0;
	memcpy(num, p, (size_t)(s - p));
	num[s - p] = '\0';
	if (parse_ll(num, 1000, 10000000, &iter) == -1)
		return 0;
	s++;
	if ((h = strchr(s, '$')) == NULL || h - s != 2 * SALT_BYTES ||
	    strlen(h + 1) != 2 * HASH_BYTES ||
	    hex_decode(s, SALT_BYTES, salt) == -1 ||
	    hex_decode(h + 1, HASH_BYTES, want) == -1)
		return 0;
	if (derive(secret, salt, SALT_BYTES, (long)iter, got) == -1)
		return 0;
	ok = CRYPTO_memcmp(got, want, HASH_BYTES) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}
