/*
 * Unit tests for auth/access.c: access tokens (one test per refusal reason),
 * Basic credentials, requesting-payer resolution, the scope gate.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/access.h"
#include "auth/client.h"
#include "store/store.h"
#include "core/util.h"
#include "unit.h"

static const unsigned char	 key[AUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char	 key2[AUTH_KEY_LEN] = "fedcba9876543210fedcba987654321";
static struct p2p_config	 cfg;

#define NOW	1800000000LL

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.base_url, sizeof(cfg.base_url), "https://p.example");
	snprintf(cfg.fhir_base, sizeof(cfg.fhir_base), "https://p.example/fhir");
	cfg.token_ttl = 300;
}

START_TEST(test_roundtrip)
{
	struct p2p_principal	 who;
	char			*tok, why[128];

	setup();
	tok = auth_token_new(&cfg, key, "payer-b", "1234567893",
	    "system/*.rs", NOW);
	ck_assert_ptr_nonnull(tok);
	ck_assert_int_eq(auth_token_check(&cfg, key, tok, NOW + 10, &who, why,
	    sizeof(why)), 0);
	ck_assert_str_eq(who.client_id, "payer-b");
	ck_assert_str_eq(who.npi, "1234567893");
	ck_assert_str_eq(who.scopes, "system/*.rs");
	ck_assert_int_eq(who.exp, NOW + 300);
	free(tok);
}
END_TEST

/*
 * A token for the refusal cases, made here (not by auth_token_new):
 * header {"alg":alg,"typ":typ}, claims iss, sub, aud, exp, iat (each
 * left out when NULL/0), signed with k by HMAC with md, or unsigned (md NULL).
 */
static char *
forge_typ(const unsigned char *k, const char *alg, const EVP_MD *md,
    const char *typ, const char *iss, const char *aud, long exp, long iat)
{
	char		 head[128], claims[512], in[2048], sig[128];
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		*out;
	json_object	*c = json_object_new_object();

	snprintf(head, sizeof(head), "{\"alg\":\"%s\",\"typ\":\"%s\"}", alg,
	    typ);
	json_object_object_add(c, "sub", json_object_new_string("payer-b"));
	json_object_object_add(c, "scope",
	    json_object_new_string("system/*.rs"));
	if (iss)
		json_object_object_add(c, "iss", json_object_new_string(iss));
	if (aud)
		json_object_object_add(c, "aud", json_object_new_string(aud));
	if (exp)
		json_object_object_add(c, "exp", json_object_new_int64(exp));
	if (iat)
		json_object_object_add(c, "iat", json_object_new_int64(iat));
	snprintf(claims, sizeof(claims), "%s", json_object_to_json_string_ext(c,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(c);
	b64url_encode((const unsigned char *)head, strlen(head), in);
	strcat(in, ".");
	b64url_encode((const unsigned char *)claims, strlen(claims),
	    in + strlen(in));
	sig[0] = '\0';
	if (md != NULL) {
		HMAC(md, k, AUTH_KEY_LEN, (unsigned char *)in, strlen(in), mac,
		    &maclen);
		b64url_encode(mac, maclen, sig);
	}
	if ((out = malloc(strlen(in) + strlen(sig) + 2)) != NULL)
		sprintf(out, "%s.%s", in, sig);
	return out;
}

static char *
forge(const unsigned char *k, const char *alg, const char *iss,
    const char *aud, long exp)
{
	return forge_typ(k, alg, strcmp(alg, "none") == 0 ? NULL :
	    strcmp(alg, "HS512") == 0 ? EVP_sha512() : EVP_sha256(), "at+jwt",
	    iss, aud, exp, NOW);
}

/* An HS256 access token with our key and the given exp and iat. */
static char *
forge_iat(const unsigned char *k, const char *iss, const char *aud, long exp,
    long iat)
{
	return forge_typ(k, "HS256", EVP_sha256(), "at+jwt", iss, aud, exp,
	    iat);
}

static const struct {
	const char	*why;
	int		 line;
} refusal[] = {
	{ "expired", __LINE__ },
	{ "signature", __LINE__ },	/* another key */
	{ "audience", __LINE__ },
	{ "issuer", __LINE__ },
	{ "expiry", __LINE__ },		/* no exp */
	{ "signature", __LINE__ },	/* tampered payload */
	{ "signature", __LINE__ },	/* alg none: no signature */
	{ "malformed", __LINE__ },
	{ "no usable", __LINE__ },	/* empty */
	{ "no usable", __LINE__ },	/* too long */
	{ "signature", __LINE__ },	/* HS512, right key */
	{ "typ", __LINE__ },		/* RFC 9068: typ JWT */
	{ "algorithm", __LINE__ },	/* "alg":"none", HS256-signed */
	/* Issue 15.8: a lifetime beyond token_ttl, even signed with our
	 * key, is refused; so is a token without an issue time, or issued
	 * in the future. */
	{ "lifetime", __LINE__ },
	{ "issue time", __LINE__ },
	{ "issue time", __LINE__ },
};

START_TEST(test_refusals)
{
	struct p2p_principal	 who;
	char			*tok = NULL, why[128], *dot, big[AUTH_TOKEN_MAX + 8];

	setup();
	switch (_i) {
	case 0: tok = forge(key, "HS256", cfg.base_url, cfg.fhir_base,
	    NOW); break;
	case 1: tok = forge(key2, "HS256", cfg.base_url, cfg.fhir_base,
	    NOW + 60); break;
	case 2: tok = forge(key, "HS256", cfg.base_url,
	    "https://other/fhir", NOW + 60); break;
	case 3: tok = forge(key, "HS256", "https://other",
	    cfg.fhir_base, NOW + 60); break;
	case 4: tok = forge(key, "HS256", cfg.base_url, cfg.fhir_base,
	    0); break;
	case 5:
		tok = auth_token_new(&cfg, key, "payer-b", "", "system/*.rs",
		    NOW);
		dot = strchr(tok, '.');
		dot[5] = dot[5] == 'A' ? 'B' : 'A';
		break;
	case 6: tok = forge(key, "none", cfg.base_url, cfg.fhir_base,
	    NOW + 60); break;
	case 7: tok = strdup("not a token"); break;
	case 8: tok = strdup(""); break;
	case 9:
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "eyJ.", 4);
		tok = strdup(big);
		break;
	case 10: tok = forge(key, "HS512", cfg.base_url, cfg.fhir_base,
	    NOW + 60); break;
	case 11: tok = forge_typ(key, "HS256", EVP_sha256(), "JWT",
	    cfg.base_url, cfg.fhir_base, NOW + 60, NOW); break;
	case 12: tok = forge_typ(key, "none", EVP_sha256(), "at+jwt",
	    cfg.base_url, cfg.fhir_base, NOW + 60, NOW); break;
	case 13: tok = forge_iat(key, cfg.base_url, cfg.fhir_base,
	    NOW + 301, NOW); break;
	case 14: tok = forge_iat(key, cfg.base_url, cfg.fhir_base,
	    NOW + 60, 0); break;
	case 15: tok = forge_iat(key, cfg.base_url, cfg.fhir_base,
	    NOW + 600, NOW + 400); break;
	}
	ck_assert_ptr_nonnull(tok);
	why[0] = '\0';
	ck_assert_msg(auth_token_check(&cfg, key, tok, NOW + 1, &who, why,
	    sizeof(why)) == -1, "line %d accepted", refusal[_i].line);
	ck_assert_msg(strstr(why, refusal[_i].why) != NULL, "line %d: %s",
	    refusal[_i].line, why);
	ck_assert_str_eq(who.client_id, "");
	free(tok);
}
END_TEST

static const struct {
	const char	*h, *id, *secret;	/* id NULL: refused */
	int		 line;
} basic[] = {
	/* "test-payer-client:test-payer-secret" */
	{ "Basic dGVzdC1wYXllci1jbGllbnQ6dGVzdC1wYXllci1zZWNyZXQ=",
	    "test-payer-client", "test-payer-secret", __LINE__ },
	{ "basic dGVzdC1wYXllci1jbGllbnQ6dGVzdC1wYXllci1zZWNyZXQ",
	    "test-payer-client", "test-payer-secret", __LINE__ },
	/* "a%3Ab:s%25c:d" (form-encoded id and secret) */
	{ "Basic YSUzQWI6cyUyNWM6ZA==", "a:b", "s%c:d", __LINE__ },
	{ "Basic Og==", NULL, NULL, __LINE__ },			/* ":" */
	{ "Basic YWJj", NULL, NULL, __LINE__ },			/* "abc" */
	{ "Basic YTo=", NULL, NULL, __LINE__ },			/* "a:" */
	{ "Basic !!!", NULL, NULL, __LINE__ },
	{ "Bearer abc", NULL, NULL, __LINE__ },
	{ "Basic YQBiOmM=", NULL, NULL, __LINE__ },		/* NUL */
};

START_TEST(test_basic)
{
	char	 id[128], secret[256];
	int	 rc;

	rc = auth_basic_parse(basic[_i].h, id, sizeof(id), secret,
	    sizeof(secret));
	if (basic[_i].id == NULL)
		ck_assert_msg(rc == -1, "line %d accepted", basic[_i].line);
	else {
		ck_assert_msg(rc == 0, "line %d refused", basic[_i].line);
		ck_assert_str_eq(id, basic[_i].id);
		ck_assert_str_eq(secret, basic[_i].secret);
	}
}
END_TEST

START_TEST(test_secret_memo)
{
	struct client_rec	 c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "c1");
	ck_assert_int_eq(auth_secret_ok(&c, "x"), 0);	/* no secret */
	ck_assert_int_eq(secret_hash("right-secret-0123", c.secret_hash), 0);
	ck_assert_int_eq(auth_secret_ok(&c, "wrong-secret-0123"), 0);
	ck_assert_int_eq(auth_secret_ok(&c, "right-secret-0123"), 1);
	ck_assert_int_eq(auth_secret_ok(&c, "right-secret-0123"), 1);
	ck_assert_int_eq(auth_secret_ok(&c, "wrong-secret-0123"), 0);
	snprintf(c.id, sizeof(c.id), "c2");	/* memo is per client */
	ck_assert_int_eq(auth_secret_ok(&c, "wrong-secret-0123"), 0);
	/* a new stored hash (secret changed) is not served from the memo */
	snprintf(c.id, sizeof(c.id), "c1");
	ck_assert_int_eq(secret_hash("new-secret-012345", c.secret_hash), 0);
	ck_assert_int_eq(auth_secret_ok(&c, "right-secret-0123"), 0);
}
END_TEST

START_TEST(test_words)
{
	ck_assert(auth_has_word("client_credentials basic", "basic"));
	ck_assert(auth_has_word("basic", "basic"));
	ck_assert(!auth_has_word("client_credentials basicx", "basic"));
	ck_assert(!auth_has_word("xbasic", "basic"));
	ck_assert(!auth_has_word("", "basic"));
}
END_TEST

/*
 * A token verified once is not verified again while it lasts (the
 * memo), yet everything else still holds: its expiry, a disabled client,
 * and any other token string, even one differing by a character.
 */
START_TEST(test_identify_memo)
{
	struct p2p_db		 db;
	struct p2p_principal	 who;
	struct p2p_err		 err;
	char			 path[] = "/tmp/p2p-check-auth-XXXXXX", claimed[128];
	char			*tok, *h, *dot, c;
	int			 fd;

	setup();
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\n", 65), 65);
	close(fd);
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", path);
	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created)"
	    " VALUES ('payer-b', 't')", &err), 0);
	{
		const unsigned char	*k;

		ck_assert_int_eq(auth_key(&cfg, &k, &err), 0);
		tok = auth_token_new(&cfg, k, "payer-b", "1234567893",
		    "system/*.rs", NOW);
	}
	ck_assert_ptr_nonnull(h = malloc(strlen(tok) + 8));
	snprintf(h, strlen(tok) + 8, "Bearer %s", tok);
	ck_assert_int_eq(auth_identify(&db, &cfg, h, NOW + 1, &who, claimed,
	    sizeof(claimed), &err), 0);
	ck_assert_int_eq(auth_identify(&db, &cfg, h, NOW + 2, &who, claimed,
	    sizeof(claimed), &err), 0);		/* from the memo */
	ck_assert_str_eq(who.client_id, "payer-b");
	ck_assert_str_eq(who.npi, "1234567893");
	ck_assert_int_eq(who.exp, NOW + 300);
	/* Expired: the memo does not serve it. */
	ck_assert_int_eq(auth_identify(&db, &cfg, h, NOW + 300, &who, claimed,
	    sizeof(claimed), &err), -1);
	ck_assert_int_eq(err.status, 401);
	ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
	/* One character changed in the signature: verified, refused. */
	p2p_err_init(&err);
	dot = strrchr(h, '.');
	c = dot[3];
	dot[3] = c == 'A' ? 'B' : 'A';
	ck_assert_int_eq(auth_identify(&db, &cfg, h, NOW + 3, &who, claimed,
	    sizeof(claimed), &err), -1);
	ck_assert_int_eq(err.status, 401);
	dot[3] = c;
	/* The client disabled: refused though the token is remembered. */
	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "UPDATE client SET active = 0", &err), 0);
	ck_assert_int_eq(auth_identify(&db, &cfg, h, NOW + 4, &who, claimed,
	    sizeof(claimed), &err), -1);
	ck_assert_int_eq(err.status, 401);
	ck_assert_ptr_nonnull(strstr(err.msg, "disabled"));
	db_close(&db);
	free(h);
	free(tok);
	unlink(path);
}
END_TEST

START_TEST(test_payer)
{
	struct p2p_db		 db;
	struct p2p_principal	 who;
	struct p2p_err		 err;

	memset(&who, 0, sizeof(who));
	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
	ck_assert_int_eq(db_exec(&db,
	    "INSERT INTO resource (rid, type, id, last_updated, json) VALUES"
	    " (1, 'Organization', 'org-b', 'x', '{}'),"
	    " (2, 'Organization', 'org-c', 'x', '{}'),"
	    " (3, 'Organization', 'org-d', 'x', '{}');"
	    "INSERT INTO ident (rid, kind, system, value, patient) VALUES"
	    " (1, 4, 'http://hl7.org/fhir/sid/us-npi', '1234567893', 'org-b'),"
	    " (1, 4, 'urn:other', '1234567893', 'org-b'),"
	    " (2, 4, 'http://hl7.org/fhir/sid/us-npi', '9999999991', 'org-c'),"
	    " (3, 4, 'http://hl7.org/fhir/sid/us-npi', '9999999991', 'org-d'),"
	    " (3, 1, 'urn:member', '5555555555', 'org-d');", &err), 0);
	/* resolved */
	snprintf(who.npi, sizeof(who.npi), "1234567893");
	ck_assert_int_eq(auth_payer(&db, &who, &err), 0);
	ck_assert_str_eq(who.org_id, "org-b");
	/* no NPI */
	who.npi[0] = '\0';
	ck_assert_int_eq(auth_payer(&db, &who, &err), -1);
	ck_assert_int_eq(err.status, 403);
	/* unknown NPI; NPI only known with another kind */
	p2p_err_init(&err);
	snprintf(who.npi, sizeof(who.npi), "5555555555");
	ck_assert_int_eq(auth_payer(&db, &who, &err), -1);
	ck_assert_int_eq(err.status, 403);
	ck_assert_str_eq(who.org_id, "");
	/* ambiguous */
	p2p_err_init(&err);
	snprintf(who.npi, sizeof(who.npi), "9999999991");
	ck_assert_int_eq(auth_payer(&db, &who, &err), -1);
	ck_assert_int_eq(err.status, 403);
	ck_assert_ptr_nonnull(strstr(err.msg, "ambiguous"));
	db_close(&db);
}
END_TEST

static const char *const org_json =
    "{\"resourceType\":\"Organization\",\"id\":\"%s\",\"identifier\":"
    "[{\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"%s\"}]}";

static void
put_org(struct p2p_db *db, const char *id, const char *npi)
{
	struct store_ctx	 ctx;
	struct p2p_err		 err;
	enum store_kind		 kind;
	json_object		*o;
	char			 text[300];

	snprintf(text, sizeof(text), org_json, id, npi);
	o = json_tokener_parse(text);
	store_ctx_init(&ctx);
	p2p_err_init(&err);
	ck_assert_msg(store_put(db, o, &ctx, &kind, &err) == 0, "%s", err.msg);
	json_object_put(o);
}

START_TEST(test_payer_org)
{
	struct p2p_db	 db;
	struct p2p_err	 err;
	char		 id[128];
	int		 created, n;

	unit_db_open(&db);
	p2p_err_init(&err);
	/* none, and no name to create one with */
	ck_assert_int_eq(client_payer_org(&db, "1234567893", NULL, id,
	    sizeof(id), &created, &err), 0);
	ck_assert_int_eq(created, 0);
	ck_assert_str_eq(id, "");
	/* created, and found by the API's own lookup */
	ck_assert_int_eq(client_payer_org(&db, "1234567893", "Payer B", id,
	    sizeof(id), &created, &err), 1);
	ck_assert_int_eq(created, 1);
	ck_assert_str_eq(id, "payer-1234567893");
	ck_assert_int_eq(auth_org_by_npi(&db, "1234567893", id, sizeof(id), &n,
	    &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(id, "payer-1234567893");
	/* found: nothing created */
	ck_assert_int_eq(client_payer_org(&db, "1234567893", "Other", id,
	    sizeof(id), &created, &err), 1);
	ck_assert_int_eq(created, 0);
	/* a loaded Organization is found the same way */
	put_org(&db, "loaded-org", "1982947230");
	ck_assert_int_eq(client_payer_org(&db, "1982947230", NULL, id,
	    sizeof(id), &created, &err), 1);
	ck_assert_str_eq(id, "loaded-org");
	/* two Organizations with one NPI: ambiguous, none created */
	put_org(&db, "twin", "1234567893");
	ck_assert_int_eq(client_payer_org(&db, "1234567893", "X", id,
	    sizeof(id), &created, &err), 2);
	ck_assert_int_eq(created, 0);
	/* never overwrites an Organization that has the id */
	put_org(&db, "payer-5555555555", "9999999991");
	ck_assert_int_eq(client_payer_org(&db, "5555555555", "X", id,
	    sizeof(id), &created, &err), -1);
	ck_assert_int_eq(err.status, 409);
	p2p_err_init(&err);
	ck_assert_int_eq(auth_org_by_npi(&db, "9999999991", id, sizeof(id), &n,
	    &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(id, "payer-5555555555");
	db_close(&db);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_roundtrip),
		UNIT_TABLE(test_refusals, refusal),
		UNIT_TABLE(test_basic, basic),
		UNIT_TEST(test_secret_memo),
		UNIT_TEST(test_words),
		UNIT_TEST(test_identify_memo),
		UNIT_TEST(test_payer),
		UNIT_TEST(test_payer_org),
	};

	return unit_run(unit_tests("auth", NULL, NULL, 30, tests,
	    UNIT_N(tests)));
}
