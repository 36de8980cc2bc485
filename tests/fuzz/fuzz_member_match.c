/*
 * fuzz_member_match.c - a $member-match request body, as the FastCGI
 * program sees it after the gates (fhir_parse(), a JSON object with a
 * resourceType; the seed's payer client authenticated), through the
 * library calls the handler makes (src/cgi/member-match.c): match_parse(),
 * match_member() and match_reply() on the e2e seed data in memory.
 *
 * Every input must end in a reply or a client error; a 5xx on bad input
 * is a defect.  The database goes back to the seed after every input.
 */
#include "fuzz.h"
#include "json/fhir.h"
#include "member/match.h"

static struct p2p_config	 cfg;
static struct p2p_db		 db;
static struct fuzz_snap		 seed;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(&cfg, &db, FUZZ_SEED, &seed);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct match_input	 in;
	struct match_key	 k;
	struct p2p_err		 err;
	json_object		*body, *out;
	char			 patient[128];
	int			 rc;

	if ((body = fuzz_body(data, size)) == NULL)
		return 0;
	p2p_err_init(&err);
	memset(&in, 0, sizeof(in));
	rc = match_parse(body, &in, &k, &err);
	if (rc == -1 && err.status != 400)
		fuzz_fail("match_parse refused with %d: %s", err.status,
		    err.msg);
	if (rc == 0) {
		patient[0] = '\0';
		rc = match_member(&db, &cfg, &in, &k, FUZZ_PAYER_CLIENT,
		    FUZZ_PAYER_NPI, FUZZ_PAYER_ORG, 1790000000, patient,
		    sizeof(patient), &err);
		if (rc == -1 && (err.status < 400 || err.status >= 500))
			fuzz_fail("refused with %d: %s", err.status, err.msg);
		if (rc == 0) {
			if (patient[0] == '\0')
				fuzz_fail("a match without a member id");
			if ((out = match_reply(&cfg, &in, patient)) == NULL)
				fuzz_fail("no reply for a match");
			json_object_put(out);
		}
	}
	if (rc == -1 && err.msg[0] == '\0')
		fuzz_fail("refused with %d and no message", err.status);
	if (db.in_tx)
		fuzz_fail("the operation left a transaction open");
	json_object_put(body);
	fuzz_db_restore(&db, &seed);
	return 0;
}
