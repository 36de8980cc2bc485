/*
 * peer/smart.c - see smart.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jwt.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/smart.h"

#define TOKEN_MAX	8192	/* longest access token kept */

/* Operation canonicals (and short names) a CapabilityStatement may use. */
static const struct {
	const char	*type;		/* resource type, NULL: any */
	const char	*name;		/* operation name */
	const char	*canon;		/* its definition, NULL: none */
	unsigned	 cap;
} ops[] = {
	{ "Patient", "member-match",
	  "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match",
	  PEER_CAP_MEMBER_MATCH },
	{ "Patient", "everything",
	  "http://hl7.org/fhir/OperationDefinition/Patient-everything",
	  PEER_CAP_EVERYTHING },
	{ "Group", "bulk-member-match",
	  "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch",
	  PEER_CAP_BULK_MATCH },
	{ "Group", "bulk-member-match",	/* PDex 2.1.0 ballot spelling */
	  "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match",
	  PEER_CAP_BULK_MATCH },
	{ "Group", "davinci-data-export",
	  "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export",
	  PEER_CAP_DATA_EXPORT },
};

void
smart_init(struct smart *s, const struct p2p_config *cfg, struct p2p_db *db,
    const struct peer *p, long timeout)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->db = db;
	s->peer = *p;
	s->timeout = timeout > 0 ? timeout : 60;
}

static void
forget(struct smart *s)
{
	if (s->token != NULL) {
		OPENSSL_cleanse(s->token, strlen(s->token));
		free(s->token);
	}
	s->token = NULL;
	s->token_exp = 0;
}

void
smart_free(struct smart *s)
{
	forget(s);
}

/* Does a canonical match, ignoring a "|version" suffix? */
static int
canon_is(const char *have, const char *want)
{
	size_t	 n = strlen(want);

	return strncmp(have, want, n) == 0 &&
	    (have[n] == '\0' || have[n] == '|');
}

/* The caps one operation entry (name, definition) declares. */
static unsigned
op_caps(const char *type, json_object *op)
{
	const char	*name = fhir_str(op, "name");
	const char	*def = fhir_str(op, "definition");
	unsigned	 caps = 0;
	size_t		 i;

	if (name != NULL && name[0] == '$')
		name++;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (type != NULL && strcmp(type, ops[i].type) != 0)
			continue;
		if ((def != NULL && canon_is(def, ops[i].canon)) ||
		    (name != NULL && strcmp(name, ops[i].name) == 0))
			caps |= ops[i].cap;
	}
	return caps;
}

/* Operations of one array (rest[].operation or resource[].operation). */
static unsigned
ops_caps(const char *type, json_object *arr)
{
	unsigned	 caps = 0;
	size_t		 i, n;

	if (arr == NULL)
		return 0;
	n = json_object_array_length(arr);
	for (i = 0; i < n && i < 256; i++)
		caps |= op_caps(type, json_object_array_get_idx(arr, i));
	return caps;
}

unsigned
smart_caps_of(json_object *cs)
{
	json_object	*rest, *r, *res, *x;
	const char	*t;
	unsigned	 caps = 0;
	size_t		 i, j, n, m;

	if ((t = fhir_type(cs)) == NULL ||
	    strcmp(t, "CapabilityStatement") != 0 ||
	    (rest = fhir_get(cs, "rest", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(rest);
	for (i = 0; i < n && i < 8; i++) {
		r = json_object_array_get_idx(rest, i);
		if ((t = fhir_str(r, "mode")) != NULL &&
		    strcmp(t, "server") != 0)
			continue;
		/* system-level entries: any type */
		caps |= ops_caps(NULL, fhir_get(r, "operation",
		    json_type_array));
		if ((res = fhir_get(r, "resource", json_type_array)) == NULL)
			continue;
		m = json_object_array_length(res);
		for (j = 0; j < m && j < 512; j++) {
			x = json_object_array_get_idx(res, j);
			caps |= ops_caps(fhir_str(x, "type"), fhir_get(x,
			    "operation", json_type_array));
		}
	}
	return caps;
}

/* Is want one of the strings of array key (absent: yes)? */
static int
listed(json_object *conf, const char *key, const char *want)
{
	json_object	*a, *v;
	size_t		 i, n;

	if ((a = fhir_get(conf, key, json_type_array)) == NULL)
		return 1;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), want) == 0)
			return 1;
	}
	return 0;
}

int
smart_config_check(json_object *conf, const char *alg, char *token_url,
    size_t sz, struct p2p_err *err)
{
	const char	*t;

	if (!json_object_is_type(conf, json_type_object))
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the SMART "
		    "configuration is not a JSON object");
	if ((t = fhir_str(conf, "token_endpoint")) == NULL || t[0] == '\0' ||
	    strlen(t) >= sz)
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the SMART "
		    "configuration has no usable token_endpoint");
	if (!listed(conf, "grant_types_supported", "client_credentials"))
		return p2p_fail(err, 502, P2P_ISSUE_NOT_SUPPORTED, "the peer "
		    "does not support the client_credentials grant");
	if (!listed(conf, "token_endpoint_auth_methods_supported",
	    "private_key_jwt"))
		return p2p_fail(err, 502, P2P_ISSUE_NOT_SUPPORTED, "the peer "
		    "does not accept private_key_jwt client authentication");
	if (alg != NULL && !listed(conf,
	    "token_endpoint_auth_signing_alg_values_supported", alg))
		return p2p_fail(err, 502, P2P_ISSUE_NOT_SUPPORTED, "the peer "
		    "does not accept %s assertions", alg);
	snprintf(token_url, sz, "%s", t);
	return 0;
}

/* GETs url as JSON (a document of at most 1 MiB).  0 or -1. */
static int
get_json(struct smart *s, const char *url, const char *what,
    json_object **out, struct p2p_err *err)
{
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct p2p_err		 pe;
	char			 text[300];
	int			 rc;

	*out = NULL;
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = url;
	q.accept = "application/json, application/fhir+json";
	q.timeout = s->timeout;
	q.max = 1024 * 1024;
	if (httpc_do(s->cfg, &q, &r, err) == -1)
		return -1;
	if (r.status != 200) {
		httpc_outcome_text(r.body.p, r.body.len, text, sizeof(text));
		rc = p2p_fail(err, r.status >= 500 ? 503 : 502, r.status >=
		    500 ? P2P_ISSUE_TRANSIENT : P2P_ISSUE_NOT_FOUND, "peer %s:"
		    " %s answered %ld: %s", s->peer.name, what, r.status, text);
		httpc_resp_free(&r);
		return rc;
	}
	p2p_err_init(&pe);
	rc = fhir_parse(r.body.p ? r.body.p : "", r.body.len, out, &pe);
	httpc_resp_free(&r);
	if (rc == -1)
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "peer %s: %s is "
		    "not JSON: %s", s->peer.name, what, pe.msg);
	return 0;
}

int
smart_discover(struct smart *s, unsigned need, int force,
    struct p2p_err *err)
{
	json_object	*conf = NULL, *cs = NULL;
	struct skey	 k;
	char		 url[700], token_url[512], have[128], miss[128];
	const char	*v;
	long long	 now = (long long)now_sec();
	unsigned	 caps;
	int		 rc = -1;

	if (!force && s->peer.discovered + SMART_DISCOVERY_TTL > now &&
	    s->peer.token_url[0] != '\0' && (s->peer.caps & need) == need)
		return 0;
	if ((rc = keys_pick(s->db, s->peer.kid, now_sec(), &k, err)) != 0)
		return rc == 1 ? p2p_fail(err, 409, P2P_ISSUE_NOT_FOUND, "no "
		    "signing key for peer %s (p2p-admin peer key rotate)",
		    s->peer.name) : -1;
	rc = -1;
	snprintf(url, sizeof(url), "%s/.well-known/smart-configuration",
	    s->peer.base_url);
	if (get_json(s, url, "the SMART configuration", &conf, err) == -1)
		goto out;
	if (smart_config_check(conf, k.alg, token_url, sizeof(token_url),
	    err) == -1)
		goto out;
	if (!httpc_url_ok(s->cfg, token_url)) {
		p2p_fail(err, 502, P2P_ISSUE_SECURITY, "peer %s: token endpoint"
		    " %.200s is not an https URL", s->peer.name, token_url);
		goto out;
	}
	snprintf(url, sizeof(url), "%s/metadata", s->peer.base_url);
	if (get_json(s, url, "the CapabilityStatement", &cs, err) == -1)
		goto out;
	if ((v = fhir_str(cs, "fhirVersion")) == NULL ||
	    strncmp(v, "4.0.", 4) != 0) {
		p2p_fail(err, 502, P2P_ISSUE_NOT_SUPPORTED, "peer %s: not a "
		    "FHIR R4 server (fhirVersion %.20s)", s->peer.name,
		    v ? v : "missing");
		goto out;
	}
	caps = smart_caps_of(cs);
	if (peer_set_discovery(s->db, s->peer.name, token_url, caps, now,
	    err) == -1)
		goto out;
	snprintf(s->peer.token_url, sizeof(s->peer.token_url), "%s",
	    token_url);
	s->peer.caps = caps;
	s->peer.discovered = now;
	rc = 0;
out:
	json_object_put(conf);
	json_object_put(cs);
	if (rc == 0 && (s->peer.caps & need) != need) {
		peer_caps_text(s->peer.caps, have, sizeof(have));
		peer_caps_text(need & ~s->peer.caps, miss, sizeof(miss));
		rc = p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED, "peer %s does "
		    "not declare %s in its CapabilityStatement (it declares: "
		    "%s)", s->peer.name, miss, have);
	}
	return rc;
}

char *
smart_assertion(const char *pem, size_t pemlen, const struct skey *k,
    const char *client_id, const char *aud, long long now,
    struct p2p_err *err)
{
	jwt_t		*jwt = NULL;
	jwt_alg_t	 alg;
	char		 jti[33], *tok = NULL;

	if (!keys_alg_ok(k->alg)) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "key %s: algorithm %s",
		    k->kid, k->alg);
		return NULL;
	}
	alg = strcmp(k->alg, "ES384") == 0 ? JWT_ALG_ES384 : JWT_ALG_RS384;
	if (rand_hex(jti, 16) == -1 || jwt_new(&jwt) != 0) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "cannot make a JWT");
		return NULL;
	}
	/* SMART Backend Services: iss = sub = client_id, aud = the token
	 * URL, exp at most five minutes ahead, a fresh jti; typ JWT and
	 * kid in the header (libjwt adds typ). */
	if (jwt_add_grant(jwt, "iss", client_id) == 0 &&
	    jwt_add_grant(jwt, "sub", client_id) == 0 &&
	    jwt_add_grant(jwt, "aud", aud) == 0 &&
	    jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
	    jwt_add_grant_int(jwt, "exp", (long)(now +
	    SMART_ASSERTION_LIFE)) == 0 &&
	    jwt_add_grant(jwt, "jti", jti) == 0 &&
	    jwt_add_header(jwt, "kid", k->kid) == 0 &&
	    jwt_set_alg(jwt, alg, (const unsigned char *)pem,
	    (int)pemlen) == 0)
		tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (tok == NULL)
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "cannot sign with key "
		    "%s (%s)", k->kid, k->file);
	return tok;
}

/* Form-encodes key=value&... into b. */
static int
form_add(struct p2p_buf *b, const char *key, const char *value)
{
	if ((b->len > 0 && buf_puts(b, "&") == -1) || buf_puts(b, key) == -1 ||
	    buf_puts(b, "=") == -1)
		return -1;
	return url_encode(b, value);
}

/* Reads a token response.  0 or -1. */
static int
take_token(struct smart *s, const struct httpc_resp *r, long long now,
    struct p2p_err *err)
{
	json_object	*o = NULL, *v;
	const char	*tok, *type;
	long long	 ttl = 300;
	struct p2p_err	 pe;

	p2p_err_init(&pe);
	if (fhir_parse(r->body.p ? r->body.p : "", r->body.len, &o, &pe) == -1 ||
	    (tok = fhir_str(o, "access_token")) == NULL || tok[0] == '\0' ||
	    strlen(tok) > TOKEN_MAX || (type = fhir_str(o, "token_type")) ==
	    NULL || strcasecmp(type, "bearer") != 0) {
		json_object_put(o);
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "peer %s: the "
		    "token response has no bearer access_token", s->peer.name);
	}
	if (json_object_object_get_ex(o, "expires_in", &v) &&
	    json_object_is_type(v, json_type_int))
		ttl = json_object_get_int64(v);
	if (ttl < 1)
		ttl = 1;
	if (ttl > 86400)
		ttl = 86400;
	forget(s);
	s->token = xstrdup(tok);
	s->token_exp = now + ttl;
	s->tokens++;
	json_object_put(o);
	return s->token == NULL ? p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
	    "out of memory") : 0;
}

int
smart_token(struct smart *s, struct p2p_err *err)
{
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct skey		 k;
	struct p2p_buf		 form = { 0 };
	char			*pem = NULL, *jws = NULL, text[300];
	size_t			 pemlen = 0;
	long long		 now = (long long)now_sec(), margin;
	int			 rc = -1;

	margin = SMART_TOKEN_MARGIN;
	if (s->token != NULL && s->token_exp - margin > now)
		return 0;
	forget(s);
	if (s->peer.token_url[0] == '\0')
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "peer %s: no "
		    "token endpoint known (discovery first)", s->peer.name);
	if ((rc = keys_pick(s->db, s->peer.kid, now_sec(), &k, err)) != 0)
		return rc == 1 ? p2p_fail(err, 409, P2P_ISSUE_NOT_FOUND, "no "
		    "signing key for peer %s", s->peer.name) : -1;
	rc = -1;
	if ((pem = keys_read_pem(s->cfg, &k, &pemlen, err)) == NULL)
		return -1;
	jws = smart_assertion(pem, pemlen, &k, s->peer.client_id,
	    s->peer.token_url, now, err);
	OPENSSL_cleanse(pem, pemlen);
	free(pem);
	if (jws == NULL)
		return -1;
	if (form_add(&form, "grant_type", "client_credentials") == -1 ||
	    form_add(&form, "scope", s->peer.scope) == -1 ||
	    form_add(&form, "client_assertion_type",
	    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == -1 ||
	    form_add(&form, "client_assertion", jws) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.url = s->peer.token_url;
	q.ctype = "application/x-www-form-urlencoded";
	q.accept = "application/json";
	q.body = form.p;
	q.body_len = form.len;
	q.timeout = s->timeout;
	q.max = 64 * 1024;
	if (httpc_do(s->cfg, &q, &r, err) == -1)
		goto out;
	if (r.status == 200)
		rc = take_token(s, &r, now, err);
	else {
		httpc_outcome_text(r.body.p, r.body.len, text, sizeof(text));
		p2p_fail(err, r.status >= 500 ? 503 : 401, r.status >= 500 ?
		    P2P_ISSUE_TRANSIENT : P2P_ISSUE_LOGIN, "peer %s refused a "
		    "token (HTTP %ld): %s", s->peer.name, r.status, text);
		if (r.status >= 500)
			err->retry_after = (int)r.retry_after;
	}
	httpc_resp_free(&r);
out:
	if (form.p != NULL)
		OPENSSL_cleanse(form.p, form.len);
	buf_free(&form);
	OPENSSL_cleanse(jws, strlen(jws));
	free(jws);
	return rc;
}

int
smart_refresh(struct smart *s, struct p2p_err *err)
{
	forget(s);
	return smart_token(s, err);
}

int
smart_call(struct smart *s, struct httpc_req *q, struct httpc_resp *r,
    struct p2p_err *err)
{
	int	 fresh, tries;

	for (tries = 0; tries < 2; tries++) {
		fresh = s->token == NULL || s->token_exp - SMART_TOKEN_MARGIN <=
		    (long long)now_sec();
		if (smart_token(s, err) == -1)
			return -1;
		q->bearer = s->token;
		if (httpc_do(s->cfg, q, r, err) == -1)
			return -1;
		if (r->status != 401 || fresh)
			return 0;
		/* The peer forgot our token (restart, revocation): once
		 * more with a new one. */
		log_info("peer %s: token refused, asking for a new one",
		    s->peer.name);
		httpc_resp_free(r);
		forget(s);
	}
	return 0;
}
