/*
 * op_bulk_match.c - POST /fhir/Group/$bulk-member-match, the kick-off
 * (PDex payertopayerbulkexchange; FHIR R4 async pattern).  The request
 * is checked at once and stored as a job; the export runner does the
 * matching (bulk_match_run() in bulkmatch.c).
 */
#include <stdio.h>
#include <string.h>

#include "bulkmatch.h"
#include "fhir.h"
#include "job.h"
#include "ops.h"
#include "util.h"

/*
 * The requesting payer: the one Organization whose identifier is the
 * client's NPI (ident kind 4) goes to req->who.org_id, so that the
 * Consent's IRCP actor can name it.  Same rule as auth_require_payer()
 * of the auth branch; TODO(#5): call that once it is in main.
 */
static const char *const sql_org =
    "SELECT DISTINCT patient FROM ident WHERE value = ?1 AND kind = 4"
    " ORDER BY patient LIMIT 2";

static int
resolve_payer(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0;

	req->who.org_id[0] = '\0';
	if (req->who.npi[0] == '\0')
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the requesting payer's identity (NPI) is not known for "
		    "this client");
	if ((st = db_stmt(&ctx->db, sql_org, err)) == NULL)
		return -1;
	db_bind_text(st, 1, req->who.npi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (n++ == 0 && db_col_text(st, 0) != NULL)
			snprintf(req->who.org_id, sizeof(req->who.org_id),
			    "%s", db_col_text(st, 0));
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(&ctx->db, rc, err, "organization lookup");
	if (n != 1 || req->who.org_id[0] == '\0') {
		req->who.org_id[0] = '\0';
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the requesting payer (NPI %s) is %s", req->who.npi,
		    n == 0 ? "not a known Organization" :
		    "ambiguous among Organizations");
	}
	return 0;
}

/* The job's parameters: requester identity, date, the MemberBundles. */
static json_object *
job_params(const struct p2p_req *req, json_object *bundles)
{
	json_object	*p;
	char		 date[16];

	time_date(now_sec(), date);
	if ((p = json_object_new_object()) == NULL ||
	    fhir_add_str(p, "npi", req->who.npi) == -1 ||
	    fhir_add_str(p, "org_id", req->who.org_id) == -1 ||
	    fhir_add_str(p, "date", date) == -1 ||
	    fhir_add(p, "members", json_object_get(bundles)) == -1) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

int
bulk_match_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	json_object	*bundles = NULL, *params;
	char		 id[JOB_ID_LEN + 1], url[700];
	int		 rc;

	/* PDex: the operation SHALL be asynchronous. */
	if (!p2p_prefer_async(req))
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    "$bulk-member-match is asynchronous only: send "
		    "'Prefer: respond-async'");
	/*
	 * The Groups name the requesting payer (characteristic) and its
	 * Consent must name it as recipient: no NPI, no request.
	 */
	if (resolve_payer(ctx, req, err) == -1)
		return -1;
	if (bulk_match_check(req->json, ctx->cfg.bulk_max_members, &bundles,
	    err) == -1)
		return -1;
	params = job_params(req, bundles);
	json_object_put(bundles);
	if (params == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	snprintf(url, sizeof(url), "%s/Group/$bulk-member-match",
	    ctx->cfg.fhir_base);
	rc = job_create(&ctx->db, &ctx->cfg, req->who.client_id,
	    JOB_BULK_MATCH, url, params, id, err);
	json_object_put(params);
	if (rc == -1)
		return -1;
	job_accepted(req, id);
	return 0;
}
