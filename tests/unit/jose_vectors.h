/*
 * jose_vectors.h - client assertions signed by PyJWT with keys made by the
 * openssl CLI (check_jose.c; also the JOSE fuzz harnesses,
 * tests/fuzz/): one key set holding the RSA and both EC keys, and a valid
 * assertion for each algorithm (iss = sub = "c1", exp 2000000000).
 */
#ifndef P2P_JOSE_VECTORS_H
#define P2P_JOSE_VECTORS_H

#define V_JWKS "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"r1\", \"n\": \"r7_QKFKk11uw0Y6M9QEczXPB-R5hRola3-mc1Nw_dhiAxAu94ngw0eq5zmXfhL1EEe3-VA4HIcZDQydIXU0v0DBeq8U8x1p_nRECEHKYYiOgopwUk-1xBlv3bqjZ_Z57gB_83Qpjz73uIgUTynYEn0wJozkuq0RY1J8GzhFYDRl2oWR8rY3pZGQaDmS0RPcnlSd5E400P7Q0_93bMflQKs4xwjND3Mu5u4MYHR3DBEKmE6snbTHWa5TpPw9zkLuPDzEz92lbFT_Vv_IDQGazegB2rgMt4tHwUwejmwbdhIxyNrIvzlz4LZUiwb13Vb9rC46WOsh6liMGvXuZlnaoBQ\", \"e\": \"AQAB\"}, {\"kty\": \"EC\", \"kid\": \"e1\", \"crv\": \"P-384\", \"x\": \"Ah-9NxrbxLfSoVtGmHWTP7aewxe27FR2DfJSFYy0_-atBqL5mMNnTwdiXiwsxZU9\", \"y\": \"69PoG1hKr7X_t9R80x_70rjKIgJYlHtjDkbDKwJMN2DNA-KANRQ6JFUMlAei3Qhg\"}, {\"kty\": \"EC\", \"kid\": \"e2\", \"crv\": \"P-256\", \"x\": \"GaNRC_8tb8kbRcBfUhXQmksXYhkAeJD74j9Z_mqFyI0\", \"y\": \"WXPQyH_Hh9mpF68-rtBQoaqyLuvtk3wb7P8EFcfxhNw\"}]}"
#define V_RS384 "eyJhbGciOiJSUzM4NCIsImtpZCI6InIxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9zLmV4YW1wbGUvYXV0aC90b2tlbiIsImV4cCI6MjAwMDAwMDAwMCwianRpIjoiajEifQ.BtYhIbgDkKXHNtkMSfJQaddAZstqwmaUGXNMKdy49kqdTkHFUe3iPKNoQEyodWPK3rTD3pEpSQ465hPwkj-0UYtu0V2FI_4A9CuaNrQpQ-tLVgJIHrdQGg4o7-xwNlKyHbemSnDjzuYQb78qv1BxLkZGu0xBeCkUeJUgNLDC60pD6EMKzcsC2Q2hNrVPeoYYpzbUoVU9DT_rMeF1Xi-tPKHrwRjkvBagxEAhpMLb09tD08xQ_VoqtO2gw8ELTWeGT50kKwM8eZIP-HXifXgEvjkrEHsUL5xeasATFtB9-s9n4lho9cMfJyBr6FV-u24Oq6aAq_Zqqx_HX4s8_VowLw"
#define V_RS256 "eyJhbGciOiJSUzI1NiIsImtpZCI6InIxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9zLmV4YW1wbGUvYXV0aC90b2tlbiIsImV4cCI6MjAwMDAwMDAwMCwianRpIjoiajEifQ.U585U9wXHq8B-iFJiIQsd4dKlBYESe0erXsMe-i3Kkx_jycTWd6VaA6PC2DFaQN-Wy0oB4U5uDoqrarcM25yUzOlXJCYX0pKr_ULaiXTjhZv4GG2wj59W7fb3FD0RMGJwUwrxj8EcGZJvo6BIfC1bT1OPfmnEO1FcQl_pq-hh1huGihPrut4gjOZL8UsHHpZ3_5G-oLpjqtm3rifLa5BmWLbOVuAx4xHhgwGDoD-y04Kp28zkZWk2_UeW6RP8VmLyE2p0E86FL-C6Eawl-qyxtfy0FeTJ0yEMvzGsxlL_aRD_AlxFAgLyO8TyJoYrJA7I4je2PzeDPS6Sp8e9RWDvg"
#define V_ES384 "eyJhbGciOiJFUzM4NCIsImtpZCI6ImUxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9zLmV4YW1wbGUvYXV0aC90b2tlbiIsImV4cCI6MjAwMDAwMDAwMCwianRpIjoiajEifQ.fd7Qd9OaztRQXALnOKV8Hxv9nC2bEn4HJl30upcOb0eTNSUsLtQ1od32ra-OjvlpZOEPKKnhO9s-iHp0-Zx733dQFPFN3ckf2t1qYshTtfEkEWZKerjmFC1d5GWaQd5r"
#define V_ES256 "eyJhbGciOiJFUzI1NiIsImtpZCI6ImUyIiwidHlwIjoiSldUIn0.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9zLmV4YW1wbGUvYXV0aC90b2tlbiIsImV4cCI6MjAwMDAwMDAwMCwianRpIjoiajEifQ.6MQgkvt5EAh9e8uEm_e-wwPtNuJEsEpyHc_GQxHtC_DSSH9pysmSKRS7aPyKbYvHz3mMjkh7RNAFgTc9al5PEw"

#define V_AUD	"https://s.example/auth/token"
#define V_NOW	1999999900LL	/* 100 s before the vectors' exp */

#endif
