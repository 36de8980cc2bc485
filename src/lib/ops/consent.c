/*
 * ops/consent.c - the Consent interactions a receiving payer has on the
 * consents it submitted (issue #7):
 *
 *   GET /fhir/Consent?patient=<member id>	search: the caller's own
 *						consents for that member
 *   GET /fhir/Consent/{id}			read one of them
 *   PUT /fhir/Consent/{id}			update: revoke it, by sending it
 *						with status inactive or rejected
 *
 * {id} is the server's consent id (stable per submission).  A consent
 * another client submitted, or one the payer loaded, does not exist for
 * the caller (404).  Only the status may change, and only from active to
 * inactive or rejected (or between those two); every other element keeps
 * its stored value.  The release check (consent_access) refuses at once
 * afterwards: $everything, $davinci-data-export and file downloads for
 * that member under that consent stop.
 */
#include <stdio.h>
#include <string.h>

#include "member/audit.h"
#include "member/consent.h"
#include "json/fhir.h"
#include "core/log.h"
#include "web/ops.h"

#define SEARCH_MAX	100	/* consents of one client for one member */

static const char *const sql_search =
    "SELECT id FROM consent WHERE client_id = ?1 AND patient = ?2"
    " ORDER BY cid LIMIT ?3";

/* Audits a refused revocation (keeping err) and returns -1. */
static int
refuse(struct p2p_ctx *ctx, struct p2p_req *req, const char *patient,
    long long cid, const struct p2p_err *err)
{
	struct p2p_err	 e2;
	char		 detail[320];

	p2p_err_init(&e2);
	snprintf(detail, sizeof(detail), "%d revoke refused: %s", err->status,
	    err->msg);
	if (audit_log(&ctx->db, "consent", "failure", req->who.client_id,
	    patient, cid, detail, &e2) == -1)
		log_warn("consent refusal not audited: %s", e2.msg);
	return -1;
}

static int
not_found(struct p2p_err *err, const char *id)
{
	return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "Consent/%s is not"
	    " known", id);
}

/*
 * Loads consent id for the caller: 0 with r filled, or -1 (404 when it
 * does not exist or is not the caller's).
 */
static int
load_own(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    struct consent_row *r, struct p2p_err *err)
{
	int	 rc;

	if ((rc = consent_get(&ctx->db, id, r, err)) == -1)
		return -1;
	if (rc == 1 || strcmp(r->source, "submitted") != 0 ||
	    strcmp(r->client_id, req->who.client_id) != 0) {
		consent_row_free(r);
		return not_found(err, id);
	}
	return 0;
}

/* Sets the reply to the resource of r with its ETag. */
static int
reply_consent(struct p2p_req *req, const struct consent_row *r,
    struct p2p_err *err)
{
	json_object	*o;

	if ((o = consent_resource(r)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "consent %s"
		    " cannot be rendered", r->id);
	p2p_header(req, "ETag", "W/\"%d\"", r->version);
	p2p_header(req, "Last-Modified", "%s", r->updated);
	p2p_set_json(req, 200, "application/fhir+json", o);
	return 0;
}

static int
do_read(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    struct p2p_err *err)
{
	struct consent_row	 r;
	int			 rc;

	if (req->args.n > 0)
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED, "read takes"
		    " no parameters");
	if (load_own(ctx, req, id, &r, err) == -1)
		return -1;
	rc = reply_consent(req, &r, err);
	consent_row_free(&r);
	return rc;
}

static int
do_search(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	sqlite3_stmt		*st;
	struct consent_row	 r;
	json_object		*b, *entries, *e, *res, *s, *links, *l;
	const char		*p;
	char			 patient[72], url[800];
	size_t			 i;
	int			 rc, n = 0;

	for (i = 0; i < req->args.n; i++)
		if (strcmp(req->args.kv[i].key, "patient") != 0)
			return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED,
			    "unsupported search parameter %s (only patient)",
			    req->args.kv[i].key);
	if (kv_count(&req->args, "patient") != 1)
		return p2p_fail(err, 400, P2P_ISSUE_REQUIRED, "search needs"
		    " exactly one patient parameter (the member id)");
	p = kv_get(&req->args, "patient");
	if (strncmp(p, "Patient/", 8) == 0)
		p += 8;
	if (!fhir_valid_id(p) ||
	    snprintf(patient, sizeof(patient), "%s", p) >= (int)sizeof(patient))
		return p2p_fail(err, 400, P2P_ISSUE_VALUE, "patient is not a"
		    " valid id");

	if ((b = fhir_resource_new("Bundle")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	snprintf(url, sizeof(url), "%s/Consent?patient=%s",
	    ctx->cfg.fhir_base, patient);
	links = json_object_new_array();
	l = json_object_new_object();
	entries = json_object_new_array();
	if (fhir_add_str(b, "type", "searchset") == -1 ||
	    fhir_add(b, "link", links) == -1 || fhir_push(links, l) == -1 ||
	    fhir_add_str(l, "relation", "self") == -1 ||
	    fhir_add_str(l, "url", url) == -1 ||
	    fhir_add(b, "entry", entries) == -1) {
		json_object_put(b);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if ((st = db_stmt(&ctx->db, sql_search, err)) == NULL) {
		json_object_put(b);
		return -1;
	}
	db_bind_text(st, 1, req->who.client_id);
	db_bind_text(st, 2, patient);
	sqlite3_bind_int(st, 3, SEARCH_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (consent_get(&ctx->db, db_col_text(st, 0), &r, err) != 0)
			break;
		res = consent_resource(&r);
		snprintf(url, sizeof(url), "%s/Consent/%s", ctx->cfg.fhir_base,
		    r.id);
		consent_row_free(&r);
		e = json_object_new_object();
		s = json_object_new_object();
		if (fhir_push(entries, e) == -1 ||
		    fhir_add_str(e, "fullUrl", url) == -1 ||
		    fhir_add(e, "resource", res) == -1 ||
		    fhir_add(e, "search", s) == -1 ||
		    fhir_add_str(s, "mode", "match") == -1) {
			json_object_put(s);
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
			break;
		}
		n++;
	}
	db_done(st);
	if (err->status == 0 && rc != SQLITE_DONE)
		db_fail(&ctx->db, rc, err, "consent search");
	if (err->status != 0 || fhir_add_int(b, "total", n) == -1) {
		json_object_put(b);
		return err->status != 0 ? -1 : p2p_fail(err, 500,
		    P2P_ISSUE_EXCEPTION, "out of memory");
	}
	p2p_set_json(req, 200, "application/fhir+json", b);
	return 0;
}

/* Checks an If-Match header against the current version (412). */
static int
check_if_match(struct p2p_req *req, const struct consent_row *r,
    struct p2p_err *err)
{
	const char	*h = p2p_env(req, "HTTP_IF_MATCH");
	char		 want[24];

	if (h == NULL)
		return 0;
	snprintf(want, sizeof(want), "W/\"%d\"", r->version);
	if (strcmp(h, want) != 0 && strcmp(h, want + 2) != 0)
		return p2p_fail(err, 412, P2P_ISSUE_CONFLICT, "If-Match %s"
		    " does not match the current version %s", h, want);
	return 0;
}

static int
do_update(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    struct p2p_err *err)
{
	struct consent_row	 r;
	const char		*t, *bid, *status;
	char			 by[160];
	int			 changed, rc;

	if (req->args.n > 0)
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED, "update"
		    " takes no parameters");
	/* FHIR update: the body is the resource, its id the URL's. */
	if ((t = fhir_type(req->json)) == NULL || strcmp(t, "Consent") != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "resourceType",
		    "the body must be a Consent");
	if ((bid = fhir_str(req->json, "id")) == NULL || strcmp(bid, id) != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "Consent.id",
		    "Consent.id must be present and equal the id in the URL");
	if ((status = fhir_str(req->json, "status")) == NULL)
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
		    "Consent.status", "Consent.status is required");

	if (db_begin(&ctx->db, err) == -1)
		return -1;
	if (load_own(ctx, req, id, &r, err) == -1) {
		db_rollback(&ctx->db);
		return refuse(ctx, req, NULL, 0, err);
	}
	if (check_if_match(req, &r, err) == -1)
		goto fail;
	if (strcmp(status, r.status) != 0) {
		if (!consent_revoke_status(status)) {
			p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
			    "Consent.status", "%s", strcmp(status, "active") == 0 ?
			    "a withdrawn consent cannot be reactivated; submit a"
			    " new consent with $member-match" : "a consent can"
			    " only be withdrawn: status inactive or rejected");
			goto fail;
		}
		snprintf(by, sizeof(by), "client:%s", req->who.client_id);
		if (consent_set_status(&ctx->db, &r, status, by, &changed,
		    err) == -1)
			goto fail;
	}
	if (db_commit(&ctx->db, err) == -1)
		goto fail;
	consent_row_free(&r);
	/* Answer the stored state, as a read would. */
	if (load_own(ctx, req, id, &r, err) == -1)
		return -1;
	rc = reply_consent(req, &r, err);
	consent_row_free(&r);
	return rc;
fail:
	db_rollback(&ctx->db);
	refuse(ctx, req, r.patient, r.cid, err);
	consent_row_free(&r);
	return -1;
}

int
consent_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	char	 id[72];

	if (strcmp(req->path, "/fhir/Consent") == 0) {
		if (req->method != P2P_GET)
			return p2p_fail(err, 405, P2P_ISSUE_NOT_SUPPORTED,
			    "Consent: only search (GET) on the type; consents"
			    " are submitted with $member-match");
		return do_search(ctx, req, err);
	}
	if (!p2p_path_id(req->path, "/fhir/Consent/", "", id, sizeof(id)))
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no such"
		    " resource");
	if (req->method == P2P_PUT)
		return do_update(ctx, req, id, err);
	if (req->method == P2P_GET)
		return do_read(ctx, req, id, err);
	return p2p_fail(err, 405, P2P_ISSUE_NOT_SUPPORTED, "Consent/{id}:"
	    " GET or PUT");
}
