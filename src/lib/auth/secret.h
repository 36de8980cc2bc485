/*
 * secret.h - client secrets: stored only as salted slow hashes
 * (PBKDF2-HMAC-SHA256), compared in constant time.
 *
 * Stored form: "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>".
 */
#ifndef P2P_SECRET_H
#define P2P_SECRET_H

#include <stddef.h>

#define SECRET_HASH_MAX		160	/* room for the stored form */
#ifndef SECRET_ITERATIONS	/* the fuzz build (tests/fuzz/fuzz.mk) sets
				   the floor secret_verify() accepts */
#define SECRET_ITERATIONS	120000	/* OWASP 2023 floor for SHA-256 is 600k
					   for passwords; client secrets are
					   random, long and never typed. */
#endif

/* Hashes secret with a fresh random salt into out.  0 or -1. */
int	 secret_hash(const char *secret, char out[SECRET_HASH_MAX]);
/* 1 when secret matches the stored form, 0 otherwise (also malformed). */
int	 secret_verify(const char *secret, const char *stored);

#endif
