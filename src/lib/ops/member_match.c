/*
 * ops/member_match.c - POST /fhir/Patient/$member-match (HRex
 * member-match; also the PDex STU1 form with OldCoverage/NewCoverage).
 *
 * Order: request structure (400), then one write transaction: caller
 * identity (403), consent (422), the reads (match, opt-out), the
 * probing guard's row (429), the match outcome (422), opt-outs (422),
 * then consent, match record, audit.  Every attempt and its outcome is
 * audited (event "match"), in that same transaction once it is open.
 */
#include <stdio.h>
#include <string.h>

#include "member/audit.h"
#include "auth/access.h"
#include "member/consent.h"
#include "json/fhir.h"
#include "member/match.h"
#include "web/ops.h"
#include "json/params.h"

#define SYS_HREX_TEMP	"http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp"
#define SYS_V2_0203	"http://terminology.hl7.org/CodeSystem/v2-0203"
#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"

enum { HP_PATIENT, HP_MATCH, HP_LINK, HP_CONSENT, HP__MAX };

/* HRex 1.x hrex-parameters-member-match-in; Consent required (PDex). */
static const struct params_spec hrex_spec[HP__MAX] = {
	{ "MemberPatient", "Patient", 1, 1 },	/* HP_PATIENT */
	{ "CoverageToMatch", "Coverage", 1, 1 },	/* HP_MATCH */
	{ "CoverageToLink", "Coverage", 0, 1 },	/* HP_LINK */
	{ "Consent", "Consent", 1, 1 },		/* HP_CONSENT */
};

/* PDex STU1 / HRex 0.2.0 form (the government guide's Example 01). */
static const struct params_spec legacy_spec[HP__MAX] = {
	{ "MemberPatient", "Patient", 1, 1 },	/* HP_PATIENT */
	{ "OldCoverage", "Coverage", 1, 1 },	/* HP_MATCH */
	{ "NewCoverage", "Coverage", 1, 1 },	/* HP_LINK */
	{ "Consent", "Consent", 0, 1 },		/* HP_CONSENT */
};

/* Audits a failure (keeping err as it is) and returns -1. */
static int
refuse(struct p2p_ctx *ctx, struct p2p_req *req, const char *patient,
    const struct p2p_err *err)
{
	struct p2p_err	 e2;
	char		 detail[320];

	p2p_err_init(&e2);
	snprintf(detail, sizeof(detail), "%d %s", err->status, err->msg);
	(void)audit_log(&ctx->db, "match", "failure", req->who.client_id,
	    patient, 0, detail, &e2);
	return -1;
}

/*
 * Refuses inside the request's write transaction: audits the failure
 * and commits, so the probe row counts (the attempt itself counts, even
 * when refused).  A refusal for a database failure rolls back instead.
 * Keeps err; returns -1.
 */
static int
refuse_tx(struct p2p_ctx *ctx, struct p2p_req *req, const char *patient,
    const struct p2p_err *err)
{
	struct p2p_err	 e2;
	char		 detail[320];

	p2p_err_init(&e2);
	if (err->status >= 500) {
		db_rollback(&ctx->db);
		return refuse(ctx, req, patient, err);
	}
	snprintf(detail, sizeof(detail), "%d %s", err->status, err->msg);
	if (audit_log(&ctx->db, "match", "failure", req->who.client_id,
	    patient, 0, detail, &e2) == -1 || db_commit(&ctx->db, &e2) == -1)
		db_rollback(&ctx->db);
	return -1;
}

/* The UMB Identifier naming patient in this payer's member namespace. */
static json_object *
umb_identifier(const struct p2p_config *cfg, const char *patient, int legacy)
{
	json_object	*id, *type, *codings, *c, *asg, *aid;
	char		 sys[600];

	snprintf(sys, sizeof(sys), "%s/member-id", cfg->base_url);
	if ((id = json_object_new_object()) == NULL)
		return NULL;
	type = json_object_new_object();
	codings = json_object_new_array();
	if (fhir_add(id, "type", type) == -1 ||
	    fhir_add(type, "coding", codings) == -1)
		goto fail;
	/* HRex 1.1/1.2 pattern: hrex-temp#UMB.  The STU1 guide's Example
	 * 02 used v2-0203#UMB; HRex 1.0 expects v2-0203#MB. */
	if (legacy) {
		c = json_object_new_object();
		if (fhir_push(codings, c) == -1 ||
		    fhir_add_str(c, "system", SYS_V2_0203) == -1 ||
		    fhir_add_str(c, "code", "UMB") == -1 ||
		    fhir_add_str(c, "display", "Member Number") == -1)
			goto fail;
	}
	c = json_object_new_object();
	if (fhir_push(codings, c) == -1 ||
	    fhir_add_str(c, "system", SYS_HREX_TEMP) == -1 ||
	    fhir_add_str(c, "code", "UMB") == -1 ||
	    fhir_add_str(c, "display", "Unique Product-independent Payer"
	    " Person Identifier") == -1)
		goto fail;
	if (!legacy) {
		c = json_object_new_object();
		if (fhir_push(codings, c) == -1 ||
		    fhir_add_str(c, "system", SYS_V2_0203) == -1 ||
		    fhir_add_str(c, "code", "MB") == -1 ||
		    fhir_add_str(c, "display", "Member Number") == -1)
			goto fail;
	}
	asg = json_object_new_object();
	aid = json_object_new_object();
	if (fhir_add_str(id, "system", sys) == -1 ||
	    fhir_add_str(id, "value", patient) == -1 ||
	    fhir_add(id, "assigner", asg) == -1 ||
	    fhir_add(asg, "identifier", aid) == -1 ||
	    fhir_add_str(aid, "system", SYS_NPI) == -1 ||
	    fhir_add_str(aid, "value", cfg->org_npi) == -1 ||
	    fhir_add_str(asg, "display", cfg->org_name) == -1)
		goto fail;
	return id;
fail:
	json_object_put(id);
	return NULL;
}

/* HRex 1.1+: MemberIdentifier and MemberId. */
static json_object *
reply_hrex(const struct p2p_config *cfg, const char *patient)
{
	json_object	*out, *ref;
	char		 r[80];

	if ((out = params_new()) == NULL)
		return NULL;
	snprintf(r, sizeof(r), "Patient/%s", patient);
	ref = json_object_new_object();
	if (params_add(out, "MemberIdentifier", "valueIdentifier",
	    umb_identifier(cfg, patient, 0)) == -1 ||
	    fhir_add_str(ref, "reference", r) == -1 ||
	    params_add(out, "MemberId", "valueReference", ref) == -1) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

/* PDex STU1 (guide Example 02): MemberPatient + UMB, NewCoverage. */
static json_object *
reply_legacy(const struct p2p_config *cfg, json_object *patient,
    json_object *newcov, const char *id)
{
	json_object	*out, *pat = NULL, *cov = NULL, *ids;

	if ((out = params_new()) == NULL)
		return NULL;
	if (json_object_deep_copy(patient, &pat, NULL) != 0 ||
	    json_object_deep_copy(newcov, &cov, NULL) != 0)
		goto fail;
	if ((ids = fhir_get(pat, "identifier", json_type_array)) == NULL) {
		ids = json_object_new_array();
		if (fhir_add(pat, "identifier", ids) == -1)
			goto fail;
	}
	if (fhir_push(ids, umb_identifier(cfg, id, 1)) == -1)
		goto fail;
	if (params_add(out, "MemberPatient", "resource", pat) == -1) {
		pat = NULL;
		goto fail;
	}
	pat = NULL;
	if (params_add(out, "NewCoverage", "resource", cov) == -1) {
		cov = NULL;
		goto fail;
	}
	return out;
fail:
	json_object_put(pat);
	json_object_put(cov);
	json_object_put(out);
	return NULL;
}

/* Recognises the form and checks the parameters (400). */
static int
parse_input(json_object *body, struct match_input *in, struct p2p_err *err)
{
	json_object	*list, *found[HP__MAX], *p;
	char		 ex[96];
	size_t		 idx = 0;

	memset(in, 0, sizeof(*in));
	if ((list = params_list(body, err)) == NULL)
		return -1;
	/* PDex STU1: any OldCoverage/NewCoverage means the older form. */
	in->legacy = params_count(list, "OldCoverage") > 0 ||
	    params_count(list, "NewCoverage") > 0;
	if (params_check(list, in->legacy ? legacy_spec : hrex_spec, HP__MAX,
	    "Parameters.parameter", found, err) == -1)
		return -1;
	in->patient = found[HP_PATIENT];
	in->coverage = found[HP_MATCH];
	in->link = found[HP_LINK];
	in->consent = found[HP_CONSENT];

	/* hrex-patient-demographics: name.family and birthDate 1..1. */
	p = in->patient;
	(void)params_find(list, "MemberPatient", &idx);
	if (fhir_path_str(p, "name.family") == NULL) {
		snprintf(ex, sizeof(ex), "Parameters.parameter[%zu].resource"
		    ".name.family", idx);
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
		    "MemberPatient needs name.family (%s)", ex);
	}
	if (fhir_str(p, "birthDate") == NULL) {
		snprintf(ex, sizeof(ex), "Parameters.parameter[%zu].resource"
		    ".birthDate", idx);
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
		    "MemberPatient needs birthDate (%s)", ex);
	}
	return 0;
}

int
member_match_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	struct p2p_config	*cfg = &ctx->cfg;
	struct p2p_db		*db = &ctx->db;
	struct match_input	 in;
	struct consent_terms	 terms;
	enum match_result	 res;
	json_object		*out;
	const char		*client = req->who.client_id;
	char			 patient[72], detail[64];
	long long		 cid = 0;
	time_t			 now = now_sec();
	int			 optout, consentless = 0;

	/* Operation parameters travel in the body only (POST). */
	if (req->args.n > 0) {
		p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    req->args.kv[0].key, "$member-match takes no URL "
		    "parameters (%s)", req->args.kv[0].key);
		return refuse(ctx, req, NULL, err);
	}
	if (parse_input(req->json, &in, err) == -1)
		return refuse(ctx, req, NULL, err);
	/*
	 * One write transaction per request, from the first read on: the
	 * organization and match reads, the opt-out check, the probe row,
	 * then either the refusal's audit row or the consent, match and
	 * audit rows.  member-match runs as one process, so holding the
	 * write lock for the reads costs no concurrency, and the locks
	 * are taken once instead of once per statement.  The probing
	 * guard is decided before the match result is told, so a
	 * throttled caller learns nothing from it.
	 */
	if (db_begin(db, err) == -1)
		return refuse(ctx, req, NULL, err);
	/* The requesting payer: its NPI resolved to an Organization
	 * (unless the caller already knows it). */
	if (req->who.org_id[0] == '\0' && auth_require_payer(req, err) == -1)
		return refuse_tx(ctx, req, NULL, err);
	if (in.consent != NULL) {
		if (consent_validate(cfg, in.consent, &req->who, now, &terms,
		    err) == -1)
			return refuse_tx(ctx, req, NULL, err);
	} else if (cfg->allow_legacy_consentless) {
		consentless = 1;	/* only the legacy form gets here */
	} else {
		p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Parameters.parameter", "a Consent parameter is required"
		    " (consent-less legacy matching is disabled)");
		return refuse_tx(ctx, req, NULL, err);
	}
	if (match_find(db, &in, &res, patient, sizeof(patient), err) == -1)
		return refuse_tx(ctx, req, NULL, err);
	optout = 0;
	if (res == MATCH_ONE && consent_optout(db, patient, &optout,
	    err) == -1)
		return refuse_tx(ctx, req, patient, err);
	if (match_probe(db, client, &in, cfg->probe_limit, cfg->probe_window,
	    now, err) == -1)
		return refuse_tx(ctx, req, NULL, err);
	if (res == MATCH_NONE) {
		/* Wording of the government guide's Example 03. */
		p2p_fail(err, 422, P2P_ISSUE_NOT_FOUND,
		    "No member match found");
		return refuse_tx(ctx, req, NULL, err);
	}
	if (res == MATCH_MANY) {
		p2p_fail(err, 422, P2P_ISSUE_MULTIPLE_MATCHES, "More than one"
		    " member matches; send the member id or more demographics");
		return refuse_tx(ctx, req, NULL, err);
	}
	/* HRex 1.1 / PDex: a consent that cannot be honoured returns no
	 * patient id. */
	if (optout) {
		p2p_fail(err, 422, P2P_ISSUE_FORBIDDEN, "the consent request"
		    " cannot be complied with: the member has opted out of"
		    " payer-to-payer exchange");
		return refuse_tx(ctx, req, patient, err);
	}
	snprintf(detail, sizeof(detail), "%s%s",
	    in.legacy ? "legacy form" : "hrex form",
	    consentless ? ", consent-less" : "");
	if ((!consentless && consent_store(db, in.consent, &terms, patient,
	    client, &cid, err) == -1) ||
	    consent_record_match(db, client, patient, cid, NULL, consentless,
	    err) == -1 ||
	    audit_log(db, "match", "success", client, patient, cid, detail,
	    err) == -1 ||
	    db_commit(db, err) == -1) {
		db_rollback(db);
		return refuse(ctx, req, patient, err);
	}

	out = in.legacy ? reply_legacy(cfg, in.patient, in.link, patient) :
	    reply_hrex(cfg, patient);
	if (out == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	p2p_set_json(req, 200, "application/fhir+json", out);
	return 0;
}
