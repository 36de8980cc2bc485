/*
 * fuzz_bulk_match.c - a $bulk-member-match request body through the
 * checks the kick-off makes (bulk_match_check(), member/bulkmatch.c),
 * then, for every MemberBundle, what the runner reads of it: its parts
 * and what matching reads of them (bulk_match_parts(), match_key_of()),
 * the probing guard's keys (match_probe_keys()), the match on the e2e
 * seed data (match_find(), read only) and the Consent rules
 * (consent_validate()).
 *
 * Every refusal is a 400 or 413 with a message; a MemberBundle the
 * kick-off accepted never crashes the runner's reading of it.
 */
#include "fuzz.h"
#include "json/fhir.h"
#include "member/bulkmatch.h"
#include "member/consent.h"
#include "member/match.h"
#include "web/http.h"

static struct p2p_config	 cfg;
static struct p2p_db		 db;
static struct p2p_principal	 who;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(&cfg, &db, FUZZ_SEED, NULL);
	memset(&who, 0, sizeof(who));
	snprintf(who.client_id, sizeof(who.client_id), FUZZ_PAYER_CLIENT);
	snprintf(who.npi, sizeof(who.npi), FUZZ_PAYER_NPI);
	snprintf(who.org_id, sizeof(who.org_id), FUZZ_PAYER_ORG);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct match_input	 in;
	struct match_key	 k;
	struct consent_terms	 terms;
	enum match_result	 res;
	struct p2p_err		 err;
	json_object		*body, *bundles = NULL;
	char			 patient[128], person[65], card[65];
	size_t			 i, n;

	if ((body = fuzz_body(data, size)) == NULL)
		return 0;
	p2p_err_init(&err);
	if (bulk_match_check(body, cfg.bulk_max_members, &bundles,
	    &err) == -1) {
		if ((err.status != 400 && err.status != 413) ||
		    err.msg[0] == '\0' || bundles != NULL)
			fuzz_fail("refused with %d: %s", err.status, err.msg);
		json_object_put(body);
		return 0;
	}
	n = json_object_array_length(bundles);
	if (n == 0 || (long long)n > cfg.bulk_max_members)
		fuzz_fail("accepted %zu MemberBundles", n);
	for (i = 0; i < n; i++) {
		p2p_err_init(&err);
		if (bulk_match_parts(json_object_array_get_idx(bundles, i), i,
		    &in, &k, &err) == -1) {
			if (err.status != 400)
				fuzz_fail("MemberBundle %zu: %d %s", i,
				    err.status, err.msg);
			continue;
		}
		if (in.patient == NULL || in.coverage == NULL ||
		    in.consent == NULL)
			fuzz_fail("MemberBundle %zu: a required part is "
			    "missing", i);
		if (k.family[0] == '\0' || k.birth[0] == '\0')
			fuzz_fail("MemberBundle %zu: no family or birth date", i);
		if (match_probe_keys(&k, person, card) == -1)
			fuzz_fail("match_probe_keys failed");
		if (match_find(&db, &k, &res, patient, sizeof(patient),
		    &err) == -1)
			fuzz_fail("match_find: %d %s", err.status, err.msg);
		p2p_err_init(&err);
		if (consent_validate(&cfg, in.consent, who.npi, who.org_id, 1790000000,
		    &terms, &err) == -1 && (err.status < 400 ||
		    err.status >= 500))
			fuzz_fail("consent_validate: %d %s", err.status,
			    err.msg);
	}
	json_object_put(bundles);
	json_object_put(body);
	return 0;
}
