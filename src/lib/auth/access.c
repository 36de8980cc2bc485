/*
 * auth/access.c - see access.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/access.h"
#include "auth/scopes.h"
#include "core/log.h"
#include "core/util.h"
#include "json/fhir.h"

enum stmt {
	STMT_ACTIVE,		/* is a client active */
	STMT_ORG,		/* Organizations with an NPI (two at most) */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_ACTIVE */
	"SELECT active FROM client WHERE id = ?1",
	/* STMT_ORG */
	"SELECT DISTINCT patient FROM ident WHERE value = ?1 AND kind = 4"
	" ORDER BY patient LIMIT 2",
};

static unsigned char	 server_key[AUTH_KEY_LEN];
static int		 server_key_loaded;

int
auth_key(const struct p2p_config *cfg, const unsigned char **key,
    struct p2p_err *err)
{
	FILE	*f;
	char	 hex[2 * AUTH_KEY_LEN + 8];
	size_t	 n;

	if (server_key_loaded) {
		*key = server_key;
		return 0;
	}
	if ((f = fopen(cfg->key_file, "r")) == NULL) {
		log_err("server key %s: %s", cfg->key_file, strerror(errno));
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "server key unavailable");
	}
	n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	if (n != 2 * AUTH_KEY_LEN) {
		OPENSSL_cleanse(hex, sizeof(hex));
		log_err("server key %s: not %d hex digits", cfg->key_file,
		    2 * AUTH_KEY_LEN);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "server key unavailable");
	}
	if (hex_decode(hex, AUTH_KEY_LEN, server_key) == -1) {
		OPENSSL_cleanse(hex, sizeof(hex));
		OPENSSL_cleanse(server_key, sizeof(server_key));
		log_err("server key %s: not hex", cfg->key_file);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "server key unavailable");
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	server_key_loaded = 1;
	*key = server_key;
	return 0;
}

/* Appends base64url(data) to b.  0, or -1 out of memory. */
static int
b64url_add(struct p2p_buf *b, const void *data, size_t n)
{
	char	*enc;
	int	 rc;

	if ((enc = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return -1;
	b64url_encode(data, n, enc);
	rc = buf_puts(b, enc);
	free(enc);
	return rc;
}

/*
 * RFC 9068 (JWT profile for OAuth 2.0 access tokens): header typ
 * "at+jwt"; claims iss, exp, aud, sub, client_id, iat, jti, scope.
 * Signed here, HS256 (RFC 7515 A.1): libjwt 1.10 always writes typ
 * "JWT"; it still verifies them (auth_token_check).
 */
char *
auth_token_new(const struct p2p_config *cfg, const unsigned char *key,
    const char *client_id, const char *npi, const char *scopes,
    long long now)
{
	static const char	 head[] = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";
	struct p2p_buf		 b = { 0 };
	json_object		*c;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0;
	const char		*claims;
	char			 jti[33];
	int			 ok = 0;

	if (rand_hex(jti, 16) == -1 || (c = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add_str(c, "iss", cfg->base_url) == 0 &&
	    fhir_add_str(c, "sub", client_id) == 0 &&
	    fhir_add_str(c, "client_id", client_id) == 0 &&
	    fhir_add_str(c, "aud", cfg->fhir_base) == 0 &&
	    fhir_add_int(c, "iat", now) == 0 &&
	    fhir_add_int(c, "exp", now + cfg->token_ttl) == 0 &&
	    fhir_add_str(c, "jti", jti) == 0 &&
	    fhir_add_str(c, "scope", scopes) == 0 &&
	    fhir_add_str(c, "npi", npi ? npi : "") == 0 &&
	    (claims = fhir_json(c)) != NULL &&
	    b64url_add(&b, head, sizeof(head) - 1) == 0 &&
	    buf_puts(&b, ".") == 0 &&
	    b64url_add(&b, claims, strlen(claims)) == 0 &&
	    HMAC(EVP_sha256(), key, AUTH_KEY_LEN, (const unsigned char *)b.p,
	    b.len, mac, &maclen) != NULL &&
	    buf_puts(&b, ".") == 0 &&
	    b64url_add(&b, mac, maclen) == 0)
		ok = 1;
	json_object_put(c);
	if (!ok) {
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

static int
why_is(char *why, size_t whysz, const char *s)
{
	snprintf(why, whysz, "%s", s);
	return -1;
}

/* The JSON object a base64url part of n bytes holds, or NULL. */
static json_object *
token_part(const char *p, size_t n)
{
	struct p2p_err	 e;
	unsigned char	*raw;
	json_object	*o = NULL;
	size_t		 len;

	if ((raw = b64_decode(p, n, &len)) == NULL)
		return NULL;
	p2p_err_init(&e);
	if (fhir_parse((const char *)raw, len, &o, &e) == -1 ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	free(raw);
	return o;
}

/*
 * Verified here, not by libjwt: libjwt 1.10 refuses every typ but
 * "JWT", and RFC 9068 4 wants exactly the other one.
 */
int
auth_token_check(const struct p2p_config *cfg, const unsigned char *key,
    const char *token, long long now, struct p2p_principal *who, char *why,
    size_t whysz)
{
	json_object	*head = NULL, *c = NULL, *v;
	const char	*d1, *d2, *s, *sub, *scope, *npi;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		 sig[4 * EVP_MAX_MD_SIZE / 3 + 4];
	long long	 exp, iat;
	int		 rc = -1;

	memset(who, 0, sizeof(*who));
	if (token == NULL || token[0] == '\0' ||
	    strlen(token) > AUTH_TOKEN_MAX)
		return why_is(why, whysz, "no usable access token");
	if ((d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return why_is(why, whysz, "malformed access token");
	/* The signature before anything else is looked at (HS256 only:
	   whatever the header says, this is the key and the algorithm). */
	if (HMAC(EVP_sha256(), key, AUTH_KEY_LEN, (const unsigned char *)token,
	    (size_t)(d2 - token), mac, &maclen) == NULL)
		return why_is(why, whysz, "access token not verifiable");
	b64url_encode(mac, maclen, sig);
	if (strlen(d2 + 1) != strlen(sig) ||
	    CRYPTO_memcmp(d2 + 1, sig, strlen(sig)) != 0)
		return why_is(why, whysz, "access token signature invalid");
	if ((head = token_part(token, (size_t)(d1 - token))) == NULL ||
	    (c = token_part(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		why_is(why, whysz, "malformed access token");
		goto out;
	}
	if ((s = fhir_str(head, "alg")) == NULL || strcmp(s, "HS256") != 0) {
		why_is(why, whysz, "access token algorithm not accepted");
		goto out;
	}
	/* RFC 9068 4: only a token typed as an access token. */
	if ((s = fhir_str(head, "typ")) == NULL ||
	    (strcasecmp(s, "at+jwt") != 0 &&
	    strcasecmp(s, "application/at+jwt") != 0)) {
		why_is(why, whysz, "not an access token (typ)");
		goto out;
	}
	if ((s = fhir_str(c, "iss")) == NULL ||
	    strcmp(s, cfg->base_url) != 0) {
		why_is(why, whysz, "access token from another issuer");
		goto out;
	}
	if ((s = fhir_str(c, "aud")) == NULL ||
	    strcmp(s, cfg->fhir_base) != 0) {
		why_is(why, whysz, "access token for another audience");
		goto out;
	}
	if (!json_object_object_get_ex(c, "exp", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (exp = json_object_get_int64(v)) <= 0) {
		why_is(why, whysz, "access token without expiry");
		goto out;
	}
	if (exp <= now) {
		why_is(why, whysz, "access token expired");
		goto out;
	}
	/* Defence in depth: a token (even one signed with our key) lives
	 * no longer than token_ttl from its issue, which is not ahead of
	 * now. */
	if (!json_object_object_get_ex(c, "iat", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (iat = json_object_get_int64(v)) <= 0 ||
	    iat > now + cfg->clock_skew) {
		why_is(why, whysz, "access token without a valid issue time");
		goto out;
	}
	if (exp - iat > cfg->token_ttl) {
		why_is(why, whysz, "access token lifetime exceeds token_ttl");
		goto out;
	}
	sub = fhir_str(c, "sub");
	scope = fhir_str(c, "scope");
	npi = fhir_str(c, "npi");
	if (sub == NULL || sub[0] == '\0' || strlen(sub) >=
	    sizeof(who->client_id) || scope == NULL || strlen(scope) >=
	    sizeof(who->scopes) || (npi != NULL && strlen(npi) >=
	    sizeof(who->npi))) {
		why_is(why, whysz, "access token claims malformed");
		goto out;
	}
	snprintf(who->client_id, sizeof(who->client_id), "%s", sub);
	snprintf(who->scopes, sizeof(who->scopes), "%s", scope);
	snprintf(who->npi, sizeof(who->npi), "%s", npi ? npi : "");
	who->exp = exp;
	rc = 0;
out:
	json_object_put(head);
	json_object_put(c);
	if (rc == -1)
		memset(who, 0, sizeof(*who));
	return rc;
}

int
auth_basic_parse(const char *h, char *id, size_t idsz, char *secret,
    size_t secretsz)
{
	unsigned char	*raw;
	char		*colon;
	size_t		 len;
	int		 rc = -1;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return -1;
	h += 6;
	while (*h == ' ')
		h++;
	if (strlen(h) > 1024 || (raw = b64_decode(h, strlen(h), &len)) ==
	    NULL)
		return -1;
	if (memchr(raw, '\0', len) != NULL) {
		free(raw);
		return -1;
	}
	raw[len] = '\0';	/* b64_decode leaves room for a NUL */
	if ((colon = strchr((char *)raw, ':')) != NULL) {
		*colon = '\0';
		if (strlen((char *)raw) < idsz && strlen(colon + 1) <
		    secretsz && raw[0] != '\0' && colon[1] != '\0') {
			snprintf(id, idsz, "%s", (char *)raw);
			snprintf(secret, secretsz, "%s", colon + 1);
			/* RFC 6749 2.3.1: both form-urlencoded */
			if (url_decode(id, 1) == -1)
				snprintf(id, idsz, "%s", (char *)raw);
			if (url_decode(secret, 1) == -1)
				snprintf(secret, secretsz, "%s", colon + 1);
			rc = 0;
		}
	}
	OPENSSL_cleanse(raw, len);
	free(raw);
	return rc;
}

/* Verified (client, secret) pairs, so that Basic API calls stay cheap. */
struct secret_memo {
	char		 client[128];
	unsigned char	 digest[SHA256_DIGEST_LENGTH];	/* of the secret */
	unsigned char	 stored[SHA256_DIGEST_LENGTH];	/* of the hash */
	long long	 until;
};
static struct secret_memo	 memo[8];

int
auth_secret_ok(const struct client_rec *c, const char *secret)
{
	unsigned char	 d[SHA256_DIGEST_LENGTH], sd[SHA256_DIGEST_LENGTH];
	long long	 now = now_sec();
	size_t		 i, slot = 0;

	if (c->secret_hash[0] == '\0' || secret == NULL)
		return 0;
	SHA256((const unsigned char *)secret, strlen(secret), d);
	SHA256((const unsigned char *)c->secret_hash, strlen(c->secret_hash),
	    sd);
	for (i = 0; i < sizeof(memo) / sizeof(memo[0]); i++) {
		if (memo[i].until > now && strcmp(memo[i].client, c->id) == 0 &&
		    CRYPTO_memcmp(memo[i].digest, d, sizeof(d)) == 0 &&
		    CRYPTO_memcmp(memo[i].stored, sd, sizeof(sd)) == 0)
			return 1;
		if (memo[i].until < memo[slot].until)
			slot = i;
	}
	if (!secret_verify(secret, c->secret_hash))
		return 0;
	snprintf(memo[slot].client, sizeof(memo[slot].client), "%s", c->id);
	memcpy(memo[slot].digest, d, sizeof(d));
	memcpy(memo[slot].stored, sd, sizeof(sd));
	memo[slot].until = now + AUTH_SECRET_TTL;
	return 1;
}

int
auth_has_word(const char *list, const char *word)
{
	size_t		 n = strlen(word);
	const char	*p = list;

	if (list == NULL || n == 0)
		return 0;
	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' ||
		    p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* 1 active, 0 disabled or unknown, -1 database failure. */
static int
client_active(struct p2p_db *db, const char *id, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, active = 0;

	if ((st = db_query(db, sql[STMT_ACTIVE], err, "t", id)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		active = db_col_int(st, 0) != 0;
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "client active");
	return active;
}

/* Basic credentials on an API call (allow_basic_api = 1). */
static int
identify_basic(struct p2p_db *db, const char *h, struct p2p_principal *who,
    char *claimed, size_t claimedsz, struct p2p_err *err)
{
	struct client_rec	 c;
	char			 id[128], secret[256];
	int			 rc, ok;

	if (auth_basic_parse(h, id, sizeof(id), secret, sizeof(secret)) == -1)
		return p2p_fail(err, 401, P2P_ISSUE_LOGIN,
		    "malformed Basic credentials");
	snprintf(claimed, claimedsz, "%s", id);
	rc = client_get(db, id, &c, err);
	if (rc == -1) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return -1;
	}
	ok = rc == 0 && c.active && auth_has_word(c.grant_types, "basic") &&
	    auth_secret_ok(&c, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (ok) {
		snprintf(who->client_id, sizeof(who->client_id), "%s", c.id);
		snprintf(who->npi, sizeof(who->npi), "%s", c.npi);
		snprintf(who->scopes, sizeof(who->scopes), "%s", c.scopes);
		who->exp = 0;
	}
	if (rc == 0)
		client_rec_free(&c);
	if (!ok)
		return p2p_fail(err, 401, P2P_ISSUE_LOGIN,
		    "Basic credentials not accepted");
	return 0;
}

/*
 * Access tokens this process verified (its key, its configuration): a
 * client's calls with one token verify it once, not once a call (the
 * check decodes and parses both JSON parts every time).  Keyed by
 * HMAC-SHA-256 of the token
 * under the key; an entry serves only until the token's exp, the one
 * check that depends on the time of the call.
 */
struct token_memo {
	unsigned char		 digest[SHA256_DIGEST_LENGTH];
	struct p2p_principal	 who;		/* who.exp 0: empty */
};
static struct token_memo	 tmemo[4];
static size_t			 tnext;

static int
token_digest(const unsigned char *key, const char *token,
    unsigned char d[SHA256_DIGEST_LENGTH])
{
	unsigned int	 n = SHA256_DIGEST_LENGTH;

	return HMAC(EVP_sha256(), key, AUTH_KEY_LEN,
	    (const unsigned char *)token, strlen(token), d, &n) == NULL ||
	    n != SHA256_DIGEST_LENGTH ? -1 : 0;
}

static int
token_known(const unsigned char d[SHA256_DIGEST_LENGTH], long long now,
    struct p2p_principal *who)
{
	size_t	 i;

	for (i = 0; i < sizeof(tmemo) / sizeof(tmemo[0]); i++)
		if (tmemo[i].who.exp > now && CRYPTO_memcmp(tmemo[i].digest, d,
		    SHA256_DIGEST_LENGTH) == 0) {
			*who = tmemo[i].who;
			return 1;
		}
	return 0;
}

static void
token_remember(const unsigned char d[SHA256_DIGEST_LENGTH],
    const struct p2p_principal *who)
{
	struct token_memo	*m = &tmemo[tnext++ % (sizeof(tmemo) /
	    sizeof(tmemo[0]))];

	memcpy(m->digest, d, SHA256_DIGEST_LENGTH);
	m->who = *who;
}

int
auth_identify(struct p2p_db *db, const struct p2p_config *cfg,
    const char *h, long long now, struct p2p_principal *who, char *claimed,
    size_t claimedsz, struct p2p_err *err)
{
	const unsigned char	*key;
	unsigned char		 d[SHA256_DIGEST_LENGTH];
	char			 why[128];
	int			 act, digested;

	memset(who, 0, sizeof(*who));
	claimed[0] = '\0';
	if (h == NULL || h[0] == '\0')
		return p2p_fail(err, 401, P2P_ISSUE_LOGIN,
		    "a valid access token is required");
	if (strncasecmp(h, "Basic ", 6) == 0 && cfg->allow_basic_api) {
		if (identify_basic(db, h, who, claimed, claimedsz, err) == 0)
			return 0;
		memset(who, 0, sizeof(*who));
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
	} else if (strncmp(h, "eyJ", 3) != 0 || strchr(h, ' ') != NULL)
		/* The government guide's examples send the bare token
		   ("Authorization: <token>"): taken as Bearer. */
		return p2p_fail(err, 401, P2P_ISSUE_LOGIN,
		    "a valid access token is required");
	if (auth_key(cfg, &key, err) == -1)
		return -1;
	digested = token_digest(key, h, d) == 0;
	if (!digested || !token_known(d, now, who)) {
		if (auth_token_check(cfg, key, h, now, who, why,
		    sizeof(why)) == -1)
			return p2p_fail(err, 401, P2P_ISSUE_LOGIN, "%s", why);
		if (digested)
			token_remember(d, who);
	}
	snprintf(claimed, claimedsz, "%s", who->client_id);
	if ((act = client_active(db, who->client_id, err)) != 1) {
		memset(who, 0, sizeof(*who));
		return act == -1 ? -1 : p2p_fail(err, 401, P2P_ISSUE_LOGIN,
		    "client is disabled");
	}
	return 0;
}

int
auth_org_by_npi(struct p2p_db *db, const char *npi, char *id, size_t idsz,
    int *n, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*s;
	int		 rc;

	*n = 0;
	id[0] = '\0';
	if ((st = db_query(db, sql[STMT_ORG], err, "t", npi)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW)
		if ((*n)++ == 0 && (s = db_col_text(st, 0)) != NULL)
			snprintf(id, idsz, "%s", s);
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "organization lookup");
	if (*n != 1)
		id[0] = '\0';
	return 0;
}

int
auth_payer(struct p2p_db *db, struct p2p_principal *who, struct p2p_err *err)
{
	int	 n;

	who->org_id[0] = '\0';
	if (who->npi[0] == '\0')
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the client has no registered payer NPI");
	if (auth_org_by_npi(db, who->npi, who->org_id, sizeof(who->org_id), &n,
	    err) == -1)
		return -1;
	if (n != 1 || who->org_id[0] == '\0') {
		who->org_id[0] = '\0';
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the requesting payer (NPI %s) is %s", who->npi,
		    n == 0 ? "not a known Organization" :
		    "ambiguous among Organizations");
	}
	return 0;
}
