/*
 * fuzz_member_match.c - a $member-match request body, as the FastCGI
 * program sees it after p2p_parse() (fhir_parse(), a JSON object with a
 * resourceType) and after authentication (the seed's payer client),
 * through member_match_handle() on the e2e seed data in memory.
 *
 * The input checks (Parameters, the HRex and PDex STU1 forms, name and
 * birthDate, the Consent rules, matching, the probing guard) are static
 * in src/lib/ops/member_match.c, reachable only through the handler.
 * Every input must end in 200 or a client error; a 5xx on bad input is
 * a defect.  The database goes back to the seed after every input.
 */
#include "fuzz.h"
#include "json/fhir.h"
#include "web/http.h"
#include "web/ops.h"

static struct p2p_ctx		 ctx;
static struct p2p_op		 op = { .name = "member-match" };
static struct fuzz_snap		 seed;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_quiet(1);
	memset(&ctx, 0, sizeof(ctx));
	fuzz_config(&ctx.cfg);
	ctx.op = &op;
	fuzz_db_open(&ctx.db, FUZZ_SEED);
	fuzz_db_snapshot(&ctx.db, &seed);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_req	 req;
	struct p2p_err	 err;
	int		 rc;

	memset(&req, 0, sizeof(req));
	req.ctx = &ctx;
	p2p_err_init(&err);
	if (fhir_parse((const char *)data, size, &req.json, &err) == -1)
		return 0;
	if (fhir_type(req.json) == NULL) {	/* p2p_parse() says 400 */
		json_object_put(req.json);
		return 0;
	}
	/* the seed's payer, as auth_request() and auth_require_payer()
	   leave it */
	snprintf(req.who.client_id, sizeof(req.who.client_id),
	    "test-payer-client");
	snprintf(req.who.npi, sizeof(req.who.npi), "5555555555");
	snprintf(req.who.org_id, sizeof(req.who.org_id), "test-payer-001");
	rc = member_match_handle(&ctx, &req, &err);
	if (rc == 0 && (req.status != 200 || req.reply == NULL))
		fuzz_fail("success without a 200 reply (%d)", req.status);
	if (rc == -1 && (err.status < 400 || err.status >= 500))
		fuzz_fail("refused with %d: %s", err.status, err.msg);
	if (rc == -1 && err.msg[0] == '\0')
		fuzz_fail("refused with %d and no message", err.status);
	if (ctx.db.in_tx)
		fuzz_fail("the handler left a transaction open");
	json_object_put(req.json);
	json_object_put(req.reply);
	buf_free(&req.head);
	buf_free(&req.out);
	fuzz_db_restore(&ctx.db, &seed);
	return 0;
}
