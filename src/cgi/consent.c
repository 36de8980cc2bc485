/*
 * consent.c - the Consent interactions a receiving payer has on the
 * consents it submitted:
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
 * that member under that consent stop.  The rules are member/consent.c's
 * (consent_get_own, consent_search, consent_revoke_own).
 */
#include <stdio.h>
#include <string.h>

#include "auth/scopes.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "member/consent.h"
#include "web/op.h"

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
do_read(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct consent_row	 r;
	int			 rc;

	if ((rc = consent_get_own(&ctx->db, req->ids[0], req->who.client_id,
	    &r, err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "Consent/%s is not known", req->ids[0]) : -1;
	rc = reply_consent(req, &r, err);
	consent_row_free(&r);
	return rc;
}

/* The member id of a search's patient value (Patient/<id> or <id>). */
static const char *
member_id(const char *v)
{
	return strncmp(v, "Patient/", 8) == 0 ? v + 8 : v;
}

static int
valid_member(const char *name, const char *v, struct p2p_err *err)
{
	if (!fhir_valid_id(member_id(v)))
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, name,
		    "%s is not a member id (Patient/<id> or <id>)", name);
	return 0;
}

static int
do_search(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	json_object	*b;

	if ((b = consent_search(&ctx->db, ctx->cfg.fhir_base,
	    req->who.client_id, member_id(kv_get(&req->params, "patient")),
	    err)) == NULL)
		return -1;
	p2p_set_json(req, 200, "application/fhir+json", b);
	return 0;
}

/*
 * The version an If-Match header names (W/"n" or "n"), -1 without the
 * header, 0 (no version) when it names none.
 */
static int
if_match(struct p2p_req *req)
{
	const char	*h = p2p_env(req, "HTTP_IF_MATCH");
	long long	 v;
	char		 n[24];
	size_t		 len;

	if (h == NULL)
		return -1;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	if ((len = strlen(h)) < 3 || len - 2 >= sizeof(n) || h[0] != '"' ||
	    h[len - 1] != '"')
		return 0;
	memcpy(n, h + 1, len - 2);
	n[len - 2] = '\0';
	return parse_ll(n, 1, 1 << 30, &v) == 0 ? (int)v : 0;
}

static int
do_update(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const char		*id = req->ids[0], *bid, *status;
	struct consent_row	 r;
	int			 rc;

	/* FHIR update: the body is the Consent (the route's), its id the
	 * URL's. */
	if ((bid = fhir_str(req->json, "id")) == NULL || strcmp(bid, id) != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "Consent.id",
		    "Consent.id must be present and equal the id in the URL");
	if ((status = fhir_str(req->json, "status")) == NULL)
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
		    "Consent.status", "Consent.status is required");
	if (consent_revoke_own(&ctx->db, id, req->who.client_id, status,
	    if_match(req), &r, err) == -1) {
		p2p_audit_about(req, r.patient, r.cid);
		rc = -1;
	} else
		rc = reply_consent(req, &r, err);
	consent_row_free(&r);
	return rc;
}

static const struct p2p_param search_params[] = {
	{ "patient", valid_member, P2P_PARAM_REQUIRED },
	{ NULL, NULL, 0 }
};

/* Consents are submitted with $member-match: no create, no delete. */
static const struct p2p_route routes[] = {
	{ "/fhir/Consent", P2P_GET, do_search, search_params,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/fhir/Consent/{id}", P2P_GET, do_read, NULL,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/fhir/Consent/{id}", P2P_PUT, do_update, NULL,
	  P2P_BODY_FHIR, "Consent", P2P_SYNC, P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_consent = {
	.name = "consent",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_CONSENT,
	.payer = P2P_PAYER_ANY,		/* a consent is its client's own */
	.audit = AUDIT_CONSENT,
};

P2P_MAIN(op_consent)
