/*
 * fuzz_query.c - a query string or form body as p2p_parse() reads it
 * (core/util.c: kv_parse(), url_decode()), then what the operations do
 * with the pairs: the export narrowing of $everything and
 * $davinci-data-export (datascope/release.c: release_collect(),
 * release_apply() for _type, _typeFilter, _since, _until, start, end;
 * release_kv_json() and release_kv_parse(), the job's copy), and the
 * scope parameter of the token endpoint (auth/scopes.c:
 * scopes_grant(), scopes_permit()).
 *
 * Decoded pairs never hold a NUL; the job's copy of the parameters
 * reads back the same; a refused parameter is a 400 naming it; granted
 * scopes are a subset of those requested.
 */
#include "fuzz.h"
#include "auth/scopes.h"
#include "core/util.h"
#include "datascope/release.h"
#include "store/store.h"
#include "web/http.h"

static struct p2p_config	 cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(&cfg, NULL, NULL, NULL);
	return 0;
}

/* Every granted scope is one of the requested (as written). */
static void
scopes(const char *requested)
{
	char	 granted[1024], why[160], *copy, *tok, *save = NULL;

	(void)scopes_permit(requested, P2P_SCOPE_EXPORT);
	if (scopes_grant(requested, STORE_CLIENT_SCOPES, granted,
	    sizeof(granted), why, sizeof(why)) == -1)
		return;
	if (granted[0] == '\0')
		fuzz_fail("scopes_grant() granted nothing without an error");
	if ((copy = strdup(granted)) == NULL)
		abort();
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		if (strstr(requested, tok) == NULL)
			fuzz_fail("granted %s, not requested", tok);
	free(copy);
}

static void
pairs(const struct p2p_kvlist *l)
{
	struct release_rules	*r;
	struct p2p_kvlist	 params, back;
	struct p2p_err		 err;
	json_object		*copy;
	size_t			 i;
	int			 rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	release_init(r, &cfg, 1790000000, 0);
	/* what the operations' parameter tables let through (web/serve.c
	   refuses the names release_apply() does not know before it) */
	memset(&params, 0, sizeof(params));
	for (i = 0; i < l->n; i++) {
		p2p_err_init(&err);
		rc = release_apply(r, l->kv[i].key, l->kv[i].val, &err);
		if (rc == 1)
			continue;
		if (rc == -1 && (err.status != 400 || err.msg[0] == '\0'))
			fuzz_fail("%s refused with %d", l->kv[i].key,
			    err.status);
		if (rc != -1 && rc != 0)
			fuzz_fail("release_apply() returned %d", rc);
		if (rc == 0 && kv_add(&params, l->kv[i].key,
		    l->kv[i].val) == -1)
			abort();
	}
	/* the job's copy of the parameters reads back the same */
	if ((copy = release_kv_json(&params)) == NULL)
		fuzz_fail("release_kv_json() failed");
	if (release_kv_parse(copy, &back, &err) == -1 || back.n != params.n)
		fuzz_fail("the job's copy does not read back");
	for (i = 0; i < back.n; i++)
		if (strcmp(back.kv[i].key, params.kv[i].key) != 0 ||
		    strcmp(back.kv[i].val, params.kv[i].val) != 0)
			fuzz_fail("pair %zu changed in the job's copy", i);
	json_object_put(copy);
	kv_free(&back);
	kv_free(&params);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_kvlist	 l;
	struct p2p_buf		 enc = { 0 };
	char			*dec;
	size_t			 i;
	int			 plus;

	for (plus = 0; plus < 2; plus++) {
		if (kv_parse(&l, (const char *)data, size, plus, 256) == -1) {
			if (l.n != 0 || l.kv != NULL)
				fuzz_fail("kv_parse() failed and kept pairs");
			continue;
		}
		for (i = 0; i < l.n; i++) {
			/* percent-encoding a value and decoding it again
			   gives it back */
			buf_reset(&enc);
			if (url_encode(&enc, l.kv[i].val) == -1)
				abort();
			dec = xstrdup(enc.p ? enc.p : "");
			if (dec == NULL || url_decode(dec, plus) == -1 ||
			    strcmp(dec, l.kv[i].val) != 0)
				fuzz_fail("url_encode() does not round-trip");
			free(dec);
		}
		if (plus) {
			pairs(&l);
			if (kv_get(&l, "scope") != NULL)
				scopes(kv_get(&l, "scope"));
		}
		kv_free(&l);
	}
	buf_free(&enc);
	return 0;
}
