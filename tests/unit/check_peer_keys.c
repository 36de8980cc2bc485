/*
 * Unit tests for peer/keys.c and the pure parts of peer/smart.c: our
 * signing keys, the published key set, rotation, and client assertions
 * that the responding side's own verifier (auth/jose.c) accepts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/jose.h"
#include "core/config.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/keys.h"
#include "peer/peer.h"
#include "peer/smart.h"
#include "unit.h"

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static char			 dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_peer_keys.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unit_db_open(&db);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	config_defaults(&cfg);
}

static void
teardown(void)
{
	db_close(&db);
	ck_assert_int_eq(unit_rmtree(dir), 0);
}

/* Signs an assertion with k and verifies it as the responder would. */
static void
round_trip(const struct skey *k)
{
	struct jose_jws	 j;
	struct p2p_err	 err;
	char		*pem, *jws, *jwks, why[200];
	size_t		 len;
	long long	 now = (long long)now_sec();

	p2p_err_init(&err);
	ck_assert_ptr_nonnull(pem = keys_read_pem(&cfg, k, &len, &err));
	jws = smart_assertion(pem, len, k, "payer-b",
	    "https://a.example/auth/token", now, &err);
	OPENSSL_cleanse(pem, len);
	free(pem);
	ck_assert_msg(jws != NULL, "%s", err.msg);
	ck_assert_msg(jose_jws_parse(&j, jws, why, sizeof(why)) == 0, "%s", why);
	ck_assert_str_eq(j.kid, k->kid);
	ck_assert_str_eq(fhir_str(j.header, "typ"), "JWT");
	ck_assert_str_eq(fhir_str(j.header, "alg"), k->alg);
	ck_assert_int_eq(keys_jwks(&db, &jwks, &err), 0);
	ck_assert_msg(jose_jws_verify(&j, jwks, why, sizeof(why)) == JOSE_OK,
	    "%s", why);
	ck_assert_msg(jose_check_claims(&j, "https://a.example/auth/token", now,
	    0, why, sizeof(why)) == 0, "%s", why);
	ck_assert_str_eq(jose_claim_str(&j, "iss"), "payer-b");
	ck_assert_str_eq(jose_claim_str(&j, "sub"), "payer-b");
	ck_assert(jose_claim_exp(&j) <= now + JOSE_MAX_LIFE);
	ck_assert(jose_claim_str(&j, "jti") != NULL);
	jose_jws_free(&j);
	free(jwks);
	free(jws);
}

START_TEST(generate_sign_verify)
{
	struct skey	 k, es, rs;
	struct p2p_err	 err;
	struct stat	 sb;
	char		 path[PATH_MAX + 80], *jwks;
	json_object	*o;

	p2p_err_init(&err);
	ck_assert_int_eq(keys_pick(&db, NULL, now_sec(), &k, &err), 1);
	ck_assert_int_eq(keys_generate(&cfg, &db, "ES384", now_sec(), &es,
	    &err), 0);
	ck_assert_uint_eq(strlen(es.kid), 43);	/* RFC 7638 thumbprint */
	snprintf(path, sizeof(path), "%s/%s", dir, es.file);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	round_trip(&es);
	ck_assert_int_eq(keys_generate(&cfg, &db, "RS384", now_sec(), &rs,
	    &err), 0);
	round_trip(&rs);
	/* the set: public keys only, both, with kid and alg */
	ck_assert_int_eq(keys_jwks(&db, &jwks, &err), 0);
	ck_assert_int_eq(fhir_parse(jwks, strlen(jwks), &o, &err), 0);
	ck_assert_int_eq(json_object_array_length(fhir_get(o, "keys",
	    json_type_array)), 2);
	ck_assert_ptr_null(strstr(jwks, "\"d\""));
	ck_assert_ptr_null(strstr(jwks, "\"p\""));
	json_object_put(o);
	free(jwks);
	ck_assert_int_eq(keys_generate(&cfg, &db, "HS256", now_sec(), &k, &err),
	    -1);
}
END_TEST

START_TEST(rotation)
{
	struct skey	 old, next, k;
	struct p2p_err	 err;
	time_t		 now = now_sec();
	char		*jwks;

	p2p_err_init(&err);
	ck_assert_int_eq(keys_generate(&cfg, &db, "ES384", now, &old, &err), 0);
	/* rotate: published at once, signing only later */
	ck_assert_int_eq(keys_generate(&cfg, &db, "ES384", now + KEYS_AHEAD,
	    &next, &err), 0);
	ck_assert_int_eq(keys_pick(&db, NULL, now, &k, &err), 0);
	ck_assert_str_eq(k.kid, old.kid);
	ck_assert_int_eq(keys_jwks(&db, &jwks, &err), 0);
	ck_assert_ptr_nonnull(strstr(jwks, old.kid));
	ck_assert_ptr_nonnull(strstr(jwks, next.kid));
	free(jwks);
	/* the old key signs still: it cannot be retired */
	ck_assert_int_eq(keys_retire(&db, old.kid, now, &err), -1);
	ck_assert_int_eq(err.status, 409);
	/* once the next one signs, it can */
	p2p_err_init(&err);
	ck_assert_int_eq(keys_pick(&db, NULL, now + KEYS_AHEAD, &k, &err), 0);
	ck_assert_str_eq(k.kid, next.kid);
	ck_assert_int_eq(keys_retire(&db, old.kid, now + KEYS_AHEAD, &err), 0);
	ck_assert_int_eq(keys_jwks(&db, &jwks, &err), 0);
	ck_assert_ptr_null(strstr(jwks, old.kid));
	ck_assert_ptr_nonnull(strstr(jwks, next.kid));
	free(jwks);
	ck_assert_int_eq(keys_retire(&db, "no-such-kid", now, &err), 1);
}
END_TEST

START_TEST(import_peer_key)
{
	struct skey	 k, again;
	struct peer	 p;
	struct p2p_err	 err;
	char		 pem[PATH_MAX + 40], cmd[PATH_MAX + 200];

	snprintf(pem, sizeof(pem), "%s/issued.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA -pkeyopt "
	    "rsa_keygen_bits:2048 -out %s 2>/dev/null", pem);
	ck_assert_int_eq(system(cmd), 0);
	p2p_err_init(&err);
	ck_assert_msg(keys_import(&cfg, &db, pem, NULL, "k-a", &k, &err) == 0,
	    "%s", err.msg);
	ck_assert_str_eq(k.kid, "k-a");
	ck_assert_str_eq(k.alg, "RS384");
	ck_assert_int_eq(k.shared, 0);
	round_trip(&k);
	/* the same key again: the same record */
	ck_assert_int_eq(keys_import(&cfg, &db, pem, NULL, "k-a", &again, &err),
	    0);
	ck_assert_str_eq(again.file, k.file);
	/* a peer's own key is not the shared one */
	ck_assert_int_eq(keys_pick(&db, NULL, now_sec(), &again, &err), 1);
	/* it cannot be retired while an active peer signs with it */
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "a");
	snprintf(p.npi, sizeof(p.npi), "1111111111");
	snprintf(p.base_url, sizeof(p.base_url), "https://a.example/fhir");
	snprintf(p.client_id, sizeof(p.client_id), "b");
	snprintf(p.kid, sizeof(p.kid), "k-a");
	snprintf(p.scope, sizeof(p.scope), "system/*.rs");
	ck_assert_int_eq(peer_put(&db, &p, 0, &err), 0);
	ck_assert_int_eq(keys_retire(&db, "k-a", now_sec(), &err), -1);
	ck_assert_int_eq(err.status, 409);
	/* ES384 refuses an RSA key; a non-key is refused */
	p2p_err_init(&err);
	ck_assert_int_eq(keys_import(&cfg, &db, pem, "ES384", NULL, &k, &err),
	    -1);
	p2p_err_init(&err);
	ck_assert_int_eq(keys_import(&cfg, &db, "/etc/hostname", NULL, NULL, &k,
	    &err), -1);
}
END_TEST

START_TEST(capabilities)
{
	static const char cs[] = "{\"resourceType\":\"CapabilityStatement\","
	    "\"fhirVersion\":\"4.0.1\",\"rest\":[{\"mode\":\"server\","
	    "\"resource\":[{\"type\":\"Patient\",\"operation\":[{\"name\":"
	    "\"member-match\",\"definition\":\"http://hl7.org/fhir/us/"
	    "davinci-hrex/OperationDefinition/member-match|1.1.0\"},{\"name\":"
	    "\"$everything\"}]},{\"type\":\"Group\",\"operation\":[{\"name\":"
	    "\"x\",\"definition\":\"http://hl7.org/fhir/us/davinci-pdex/"
	    "OperationDefinition/bulk-member-match\"}]}]},{\"mode\":\"client\","
	    "\"resource\":[{\"type\":\"Group\",\"operation\":[{\"name\":"
	    "\"davinci-data-export\"}]}]}]}";
	static const char wrong_type[] = "{\"resourceType\":"
	    "\"CapabilityStatement\",\"rest\":[{\"resource\":[{\"type\":"
	    "\"Group\",\"operation\":[{\"name\":\"member-match\"}]}]}]}";
	struct p2p_err	 err;
	json_object	*o;
	unsigned	 caps;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(cs, strlen(cs), &o, &err), 0);
	caps = smart_caps_of(o);
	ck_assert_uint_eq(caps, PEER_CAP_MEMBER_MATCH | PEER_CAP_EVERYTHING |
	    PEER_CAP_BULK_MATCH);	/* client mode does not count */
	json_object_put(o);
	ck_assert_int_eq(fhir_parse(wrong_type, strlen(wrong_type), &o, &err),
	    0);
	ck_assert_uint_eq(smart_caps_of(o), 0);
	json_object_put(o);
}
END_TEST

/*
 * SMART configurations: the token endpoint of one we can use, or words
 * of why not (we sign with ES384).
 */
static const struct {
	const char	*json;
	int		 rc;
	const char	*want;	/* token endpoint, or words of the error */
	int		 line;
} smart[] = {
	{ "{\"token_endpoint\":\"https://a/auth/token\","
	  "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"],"
	  "\"token_endpoint_auth_signing_alg_values_supported\":[\"RS384\","
	  "\"ES384\"],\"grant_types_supported\":[\"client_credentials\"]}",
	  0, "https://a/auth/token", __LINE__ },
	{ "{\"token_endpoint\":\"https://a/t\","
	  "\"token_endpoint_auth_methods_supported\":"
	  "[\"client_secret_basic\"]}",
	  -1, "private_key_jwt", __LINE__ },
	{ "{\"token_endpoint\":\"https://a/t\","
	  "\"token_endpoint_auth_signing_alg_values_supported\":[\"RS256\"]}",
	  -1, "ES384", __LINE__ },
	{ "{\"grant_types_supported\":[\"client_credentials\"]}", -1,
	  "token_endpoint", __LINE__ },
};

START_TEST(smart_configuration)
{
	struct p2p_err	 err;
	json_object	*o;
	char		 url[200];

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(smart[_i].json, strlen(smart[_i].json),
	    &o, &err), 0);
	ck_assert_msg(smart_config_check(o, "ES384", url, sizeof(url),
	    &err) == smart[_i].rc, "line %d: %s", smart[_i].line, err.msg);
	if (smart[_i].rc == 0)
		ck_assert_str_eq(url, smart[_i].want);
	else
		ck_assert_msg(strstr(err.msg, smart[_i].want) != NULL,
		    "line %d: %s", smart[_i].line, err.msg);
	json_object_put(o);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		/* 30 s: RSA key generation */
		UNIT_CASE("keys", setup, teardown, 30),
		UNIT_TEST(generate_sign_verify),
		UNIT_TEST(rotation),
		UNIT_TEST(import_peer_key),
		UNIT_CASE("smart", NULL, NULL, 0),
		UNIT_TEST(capabilities),
		UNIT_TABLE(smart_configuration, smart),
	};

	return unit_run(unit_tests("peer_keys", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
