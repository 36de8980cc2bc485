/*
 * ops/data_export.c - GET|POST /fhir/Group/{id}/$davinci-data-export
 * (Da Vinci ATR DaVinciDataExport as profiled by PDex for payer-to-payer
 * bulk exchange; Bulk Data 2.0 kick-off).
 *
 * Only on a MatchedMembers group (grp.kind 'match') created for the
 * caller by its own $bulk-member-match; anything else is 404.  Every
 * parameter is validated here (400 for anything unknown or
 * unsupported, never ignored), then a JOB_DATA_EXPORT job is queued and
 * export.c does the work: consent re-checked per member, the release
 * rules of release.c, ndjson per type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "jobs/job.h"
#include "web/ops.h"
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

/*
 * Validates the kick-off parameters (the runner applies them again from
 * the job).  Returns 0 or -1 with a 400.
 */
static int
check_params(const struct p2p_config *cfg, const struct p2p_kvlist *params,
    struct p2p_err *err)
{
	struct release_rules	*r;
	const char		*k, *v;
	size_t			 i;
	int			 rc = -1, x = 0, have_type = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	release_init(r, cfg, now_sec(), 0);
	for (i = 0; i < params->n; i++) {
		k = params->kv[i].key;
		v = params->kv[i].val;
		if (strcmp(k, "exportType") == 0) {
			if (strcmp(v, PDEX_P2P_EXPORT) != 0) {
				p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
				    "exportType", "exportType %.100s is not "
				    "supported; this server supports "
				    PDEX_P2P_EXPORT, v);
				goto out;
			}
			have_type = 1;
		} else if (strcmp(k, "_outputFormat") == 0) {
			if (strcmp(v, "application/fhir+ndjson") != 0 &&
			    strcmp(v, "application/ndjson") != 0 &&
			    strcmp(v, "ndjson") != 0) {
				p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
				    "_outputFormat", "_outputFormat must be "
				    "application/fhir+ndjson");
				goto out;
			}
		} else if (strcmp(k, "patient") == 0) {
			/* Checked against the group by the runner (ATR:
			 * refs not in the group are ignored, with an
			 * OperationOutcome in the error file). */
			if (strlen(v) > 200) {
				p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    "patient", "patient reference too long");
				goto out;
			}
		} else if (strcmp(k, "start") == 0 || strcmp(k, "end") == 0 ||
		    (x = release_apply(r, k, v, err)) == 1) {
			p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, k,
			    "parameter %.64s is not supported by "
			    "$davinci-data-export", k);
			goto out;
		} else if (x == -1)
			goto out;
	}
	if (!have_type) {
		p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, "exportType",
		    "exportType is required; this server supports "
		    PDEX_P2P_EXPORT);
		goto out;
	}
	rc = 0;
out:
	free(r);
	return rc;
}

int
data_export_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	struct p2p_kvlist	 params;
	json_object		*jp = NULL, *args;
	char			 id[72], jid[JOB_ID_LEN + 1], url[2048];
	int			 rc = -1;

	memset(&params, 0, sizeof(params));
	if (!p2p_path_id(req->path, "/fhir/Group/", "/$davinci-data-export",
	    id, sizeof(id)))
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no such Group");
	if (!p2p_prefer_async(req))
		return p2p_fail(err, 400, P2P_ISSUE_INVALID,
		    "$davinci-data-export runs asynchronously: send "
		    "Prefer: respond-async");
	if (own_match_group(&ctx->db, id, req->who.client_id, err) == -1)
		return -1;
	if (release_collect(&req->args, req->json, &params, err) == -1 ||
	    check_params(&ctx->cfg, &params, err) == -1)
		goto out;
	if (snprintf(url, sizeof(url), "%s%s%s%s", ctx->cfg.base_url,
	    req->path, req->query[0] ? "?" : "", req->query) >=
	    (int)sizeof(url)) {
		p2p_fail(err, 414, P2P_ISSUE_TOO_LONG, "request URL too long");
		goto out;
	}
	if ((jp = json_object_new_object()) == NULL ||
	    fhir_add_str(jp, "group", id) == -1 ||
	    (args = release_kv_json(&params)) == NULL ||
	    fhir_add(jp, "args", args) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	if (job_create(&ctx->db, &ctx->cfg, req->who.client_id,
	    JOB_DATA_EXPORT, url, jp, jid, err) == -1)
		goto out;
	job_accepted(req, jid);
	rc = 0;
out:
	json_object_put(jp);
	kv_free(&params);
	return rc;
}
