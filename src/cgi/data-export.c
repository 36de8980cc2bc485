/*
 * data-export.c - GET|POST /fhir/Group/{id}/$davinci-data-export
 * (Da Vinci ATR DaVinciDataExport as profiled by PDex for payer-to-payer
 * bulk exchange; Bulk Data 2.0 kick-off).
 *
 * Only on a MatchedMembers group (grp.kind 'match') created for the
 * caller by its own $bulk-member-match; anything else is 404.  Every
 * parameter is declared below (400 for anything unknown or unsupported,
 * never ignored), then a JOB_DATA_EXPORT job is queued and
 * export.c does the work: consent re-checked per member, the release
 * rules of release.c, ndjson per type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scopes.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "jobs/job.h"
#include "web/op.h"
#include "datascope/release.h"

#define PDEX_P2P_EXPORT	"hl7.fhir.us.davinci-pdex#payertopayer"

static const char *const sql_group =
	"SELECT client_id, kind FROM grp WHERE id = ?1";

/* 0 when group id is a MatchedMembers group of client, else 404. */
static int
own_match_group(struct p2p_db *db, const char *id, const char *client,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*owner, *kind;
	int		 ok = 0, rc;

	if ((st = db_stmt(db, sql_group, err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		owner = db_col_text(st, 0);
		kind = db_col_text(st, 1);
		ok = owner != NULL && kind != NULL &&
		    strcmp(owner, client) == 0 && strcmp(kind, "match") == 0;
	} else if (rc != SQLITE_DONE) {
		db_done(st);
		return db_fail(db, rc, err, "group lookup");
	}
	db_done(st);
	if (!ok)
		/* Not telling a stranger that someone else's group exists. */
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no MatchedMembers group %s of this client", id);
	return 0;
}

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

static int
data_export(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	json_object		*jp = NULL, *args;
	const char		*id = req->ids[0];
	char			 jid[JOB_ID_LEN + 1], url[2048];
	int			 rc = -1;

	if (own_match_group(&ctx->db, id, req->who.client_id, err) == -1 ||
	    p2p_request_url(req, url, sizeof(url), err) == -1)
		return -1;
	if ((jp = json_object_new_object()) == NULL ||
	    fhir_add_str(jp, "group", id) == -1 ||
	    (args = release_kv_json(&req->params)) == NULL ||
	    fhir_add(jp, "args", args) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	if (job_create(&ctx->db, &ctx->cfg, req->who.client_id,
	    JOB_DATA_EXPORT, url, jp, jid, err) == -1)
		goto out;
	p2p_accepted(req, jid);
	rc = 0;
out:
	json_object_put(jp);
	return rc;
}

/* Bulk Data 2.0 group export parameters as PDex profiles them; start,
 * end and _elements are not offered (400, never ignored). */
static const struct p2p_param params[] = {
	{ "exportType", valid_export_type, P2P_PARAM_REQUIRED },
	{ "_outputFormat", job_format_valid, 0 },
	{ "patient", valid_patient_ref, P2P_PARAM_MULTI },
	{ "_type", release_param_valid, P2P_PARAM_MULTI },
	{ "_typeFilter", release_param_valid, P2P_PARAM_MULTI },
	{ "_since", release_param_valid, 0 },
	{ "_until", release_param_valid, 0 },
	{ NULL, NULL, 0 }
};

static const struct p2p_route routes[] = {
	{ "/fhir/Group/{id}/$davinci-data-export", P2P_GET | P2P_POST,
	  data_export, params, P2P_BODY_PARAMETERS, NULL, P2P_ASYNC },
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

#ifndef P2P_NO_MAIN
int
main(void)
{
	return p2p_main(&op_data_export);
}
#endif
