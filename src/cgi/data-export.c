/*
 * data-export.c - the bulk export kick-offs (Bulk Data 2.0):
 *
 *   GET|POST /fhir/Group/{id}/$davinci-data-export  Da Vinci ATR
 *		DaVinciDataExport as PDex profiles it for payer-to-payer
 *   GET|POST /fhir/Group/{id}/$export	the same for generic Bulk Data
 *		clients (exportType payer-to-payer when not given)
 *   GET|POST /fhir/Patient/$export	every member the caller matched
 *		(PDex SHOULD), each under the same consent re-check
 *
 * Only on a MatchedMembers group (grp.kind 'match') created for the
 * caller by its own $bulk-member-match; anything else is 404.  Every
 * parameter is declared below (400 for anything unknown or unsupported,
 * never ignored), then a JOB_DATA_EXPORT job is queued (jobs/export.c)
 * and the runner does the work there: consent re-checked per member,
 * the release rules of release.c, ndjson per type.
 */
#include <string.h>

#include "auth/scopes.h"
#include "datascope/release.h"
#include "jobs/export.h"
#include "member/audit.h"
#include "web/op.h"

#define PDEX_P2P_EXPORT	"hl7.fhir.us.davinci-pdex#payertopayer"

/* exportType: the one this server offers (PDex payer-to-payer). */
static int
valid_export_type(const char *name, const char *v, struct p2p_err *err)
{
	if (strcmp(v, PDEX_P2P_EXPORT) != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, name,
		    "exportType %.100s is not supported; this server "
		    "supports " PDEX_P2P_EXPORT, v);
	return 0;
}

/*
 * patient: checked against the group by the runner (ATR: references
 * not in the group are ignored, with an OperationOutcome in the error
 * file); here only bounded.
 */
static int
valid_patient_ref(const char *name, const char *v, struct p2p_err *err)
{
	if (strlen(v) > 200)
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, name,
		    "patient reference too long");
	return 0;
}

/* A job of kind for target, 202 with its status URL. */
static int
queue(struct p2p_ctx *ctx, struct p2p_req *req, const char *kind,
    const char *target, struct p2p_err *err)
{
	char	 id[JOB_ID_LEN + 1], url[2048];

	if (p2p_request_url(req, url, sizeof(url), err) == -1 ||
	    export_queue(&ctx->db, &ctx->cfg, req->who.client_id, kind,
	    target, &req->params, url, id, err) == -1)
		return -1;
	p2p_accepted(req, id);
	return 0;
}

static int
data_export(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	if (export_group_owned(&ctx->db, req->ids[0], req->who.client_id,
	    err) == -1)
		return -1;
	return queue(ctx, req, JOB_DATA_EXPORT, req->ids[0], err);
}

static int
patient_export(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	return queue(ctx, req, JOB_PATIENT_EXPORT, req->who.client_id, err);
}

/*
 * Bulk Data 2.0 export parameters as PDex profiles them; start, end,
 * _elements, includeAssociatedData are not offered (400, never ignored).
 */
#define EXPORT_PARAMS \
	{ "_outputFormat", job_format_valid, 0 }, \
	{ "_type", release_param_valid, P2P_PARAM_MULTI }, \
	{ "_typeFilter", release_param_valid, P2P_PARAM_MULTI }, \
	{ "_since", release_param_valid, 0 }, \
	{ "_until", release_param_valid, 0 }, \
	{ NULL, NULL, 0 }

/* PDex: exportType SHALL be sent to $davinci-data-export. */
static const struct p2p_param dde_params[] = {
	{ "exportType", valid_export_type, P2P_PARAM_REQUIRED },
	{ "patient", valid_patient_ref, P2P_PARAM_MULTI },
	EXPORT_PARAMS
};

static const struct p2p_param group_params[] = {
	{ "exportType", valid_export_type, 0 },
	{ "patient", valid_patient_ref, P2P_PARAM_MULTI },
	EXPORT_PARAMS
};

static const struct p2p_param patient_params[] = {
	{ "exportType", valid_export_type, 0 },
	EXPORT_PARAMS
};

static const struct p2p_route routes[] = {
	{ "/fhir/Group/{id}/$davinci-data-export", P2P_GET | P2P_POST,
	  data_export, dde_params, P2P_BODY_PARAMETERS, NULL, P2P_ASYNC,
	  P2P_MEDIA_FHIR },
	{ "/fhir/Group/{id}/$export", P2P_GET | P2P_POST, data_export,
	  group_params, P2P_BODY_PARAMETERS, NULL, P2P_ASYNC,
	  P2P_MEDIA_FHIR },
	{ "/fhir/Patient/$export", P2P_GET | P2P_POST, patient_export,
	  patient_params, P2P_BODY_PARAMETERS, NULL, P2P_ASYNC,
	  P2P_MEDIA_FHIR },
	{ NULL }
};

const struct p2p_op op_data_export = {
	.name = "data-export",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_EXPORT,
	.payer = P2P_PAYER_ANY,		/* the group is the client's own */
	.audit = AUDIT_RELEASE,
};

P2P_MAIN(op_data_export)
