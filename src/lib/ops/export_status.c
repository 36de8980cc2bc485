/*
 * ops/export_status.c - the export-status executable:
 *   GET    /fhir/bulkstatus/{job}   status or manifest (Bulk Data 2.0 §3.1)
 *   DELETE /fhir/bulkstatus/{job}   cancel, remove files (§3.2)
 *   GET    /bulk/{job}/{file}       a file, handed to the web server to send
 *
 * Every job and file is visible only to the client that started the
 * job; anything else (unknown, expired, cancelled, another client's)
 * is 404, so job ids cannot be probed.  Files are never served by the
 * web server on its own: this program checks the URL's signature and
 * expiry (signed_urls = 1), the caller's token, and that no consent of
 * a member whose data the file holds was withdrawn since, and only then
 * answers "X-Sendfile: <path>" so that the web server streams the file
 * (lighttpd x-sendfile, Apache mod_xsendfile; P2P_SENDFILE says so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "member/audit.h"
#include "member/consent.h"
#include "json/fhir.h"
#include "jobs/job.h"
#include "web/ops.h"
#include "core/util.h"

static const char *const sql_file =
    "SELECT count FROM job_file WHERE job_id = ?1 AND name = ?2"
    " AND kind IN ('output', 'error')";
static const char *const sql_members =
    "SELECT patient FROM job_member WHERE job_id = ?1";

static int
not_found(struct p2p_err *err)
{
	return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
	    "no such job (unknown, expired or cancelled)");
}

static void
http_date(time_t t, char *out, size_t sz)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(out, sz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int
status_get(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    struct p2p_err *err)
{
	struct job_state	 s;
	json_object		*body = NULL;
	char			 date[64];
	time_t			 now = now_sec();
	int			 rc;

	if ((rc = job_get(&ctx->db, id, req->who.client_id, now, &s,
	    err)) != 0)
		return rc == 1 ? not_found(err) : -1;
	if (strcmp(s.status, "queued") == 0 ||
	    strcmp(s.status, "running") == 0) {
		/* In progress: 202, X-Progress (< 100 chars), Retry-After. */
		p2p_header(req, "X-Progress", "%s", s.progress[0] ?
		    s.progress : s.status);
		p2p_header(req, "Retry-After", "%d", 2);
		req->status = 202;
		job_state_free(&s);
		return 0;
	}
	if (strcmp(s.status, "complete") == 0) {
		rc = job_manifest(&ctx->db, &ctx->cfg, id, &s, now, &body, err);
		if (rc == 0) {
			http_date((time_t)s.expires, date, sizeof(date));
			p2p_header(req, "Expires", "%s", date);
			p2p_set_json(req, 200, "application/json", body);
		}
		job_state_free(&s);
		return rc;
	}
	/* Failed: the OperationOutcome the runner recorded. */
	if (s.error != NULL &&
	    fhir_parse(s.error, strlen(s.error), &body, err) == 0) {
		p2p_set_json(req, 500, "application/fhir+json", body);
		job_state_free(&s);
		return 0;
	}
	job_state_free(&s);
	return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "the job failed");
}

static int
status_delete(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    struct p2p_err *err)
{
	struct job_state	 s;
	int			 rc;

	if ((rc = job_get(&ctx->db, id, req->who.client_id, now_sec(), &s,
	    err)) != 0)
		return rc == 1 ? not_found(err) : -1;
	job_state_free(&s);
	if ((rc = job_cancel(&ctx->db, &ctx->cfg, id, req->who.client_id,
	    err)) != 0)
		return rc == 1 ? not_found(err) : -1;
	p2p_set_json(req, 202, "application/fhir+json",
	    fhir_outcome_new3("information", P2P_ISSUE_INFORMATIONAL,
	    "job cancelled; its files are removed"));
	return 0;
}

/* A file name as the writer makes them: [A-Za-z0-9-]+.ndjson. */
static int
valid_file_name(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n < 8 || n > 95 || strcmp(s + n - 7, ".ndjson") != 0)
		return 0;
	for (i = 0; i < n - 7; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* Signed URL check: exp not passed, sig the HMAC over path and exp. */
static int
check_signature(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	const char	*exp_s = kv_get(&req->args, "exp");
	const char	*sig = kv_get(&req->args, "sig");
	char		 want[65];
	long long	 exp;

	if (exp_s == NULL || sig == NULL ||
	    parse_ll(exp_s, 0, 1LL << 40, &exp) == -1 || strlen(sig) != 64)
		return p2p_fail(err, 403, P2P_ISSUE_SECURITY,
		    "the file URL is not signed; take it from the manifest");
	if (exp < (long long)now_sec())
		return p2p_fail(err, 403, P2P_ISSUE_EXPIRED,
		    "the file URL has expired; poll the status URL again "
		    "for fresh links");
	if (job_url_sign(&ctx->cfg, req->path, exp, want, err) == -1)
		return -1;
	if (CRYPTO_memcmp(want, sig, 64) != 0)
		return p2p_fail(err, 403, P2P_ISSUE_SECURITY,
		    "the file URL's signature does not match");
	return 0;
}

/*
 * Every member whose data the job's files hold must still be released
 * to this client (consent_access_cfg, the same check as the export
 * itself, so a legacy consent-less match stops with the switch): a
 * withdrawn consent withdraws the files made under it.
 */
static int
check_members(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    char refused[72], struct p2p_err *err)
{
	sqlite3_stmt	*st;
	struct p2p_err	 e;
	long long	 cid;
	int		 rc, sensitive, ok = 1;
	time_t		 now = now_sec();

	refused[0] = '\0';
	if ((st = db_stmt(&ctx->db, sql_members, err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		p2p_err_init(&e);
		if (consent_access_cfg(&ctx->db, &ctx->cfg, req->who.client_id,
		    db_col_text(st, 0), now, &cid, &sensitive, &e) == -1) {
			if (e.status >= 500)
				*err = e;
			else
				snprintf(refused, 72, "%s", db_col_text(st, 0));
			ok = 0;
		}
	}
	db_done(st);
	if (err->status != 0)
		return -1;
	if (!ok)
		return p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
		    "the file is withdrawn: a member's consent is no longer "
		    "valid");
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(&ctx->db, rc, err, "job members");
	return 0;
}

/*
 * Issue #7: a download is a release of every member the file holds;
 * one audit record each (client, member, consent, file), in one
 * transaction.  A file that cannot be accounted for is not sent.
 */
static int
audit_file(struct p2p_ctx *ctx, struct p2p_req *req, const char *id,
    const char *name, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	struct p2p_err	 e;
	const char	*patient;
	char		 detail[200];
	long long	 cid;
	int		 rc, sensitive;
	time_t		 now = now_sec();

	snprintf(detail, sizeof(detail), "file %s/%s", id, name);
	if (db_begin(&ctx->db, err) == -1)
		return -1;
	if ((st = db_stmt(&ctx->db, sql_members, err)) == NULL)
		goto fail;
	db_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		patient = db_col_text(st, 0);
		p2p_err_init(&e);
		cid = 0;
		(void)consent_access_cfg(&ctx->db, &ctx->cfg, req->who.client_id,
		    patient, now, &cid, &sensitive, &e);
		if (audit_log(&ctx->db, "release", "success",
		    req->who.client_id, patient, cid, detail, err) == -1) {
			db_done(st);
			goto fail;
		}
	}
	db_done(st);
	if (rc != SQLITE_DONE) {
		db_fail(&ctx->db, rc, err, "job members");
		goto fail;
	}
	if (db_commit(&ctx->db, err) == 0)
		return 0;
fail:
	db_rollback(&ctx->db);
	return -1;
}

static int
file_get(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct p2p_err		 aerr;
	char			 refused[72], detail[360];
	struct job_state	 s;
	sqlite3_stmt		*st;
	char			 id[JOB_ID_LEN + 2], name[100], path[PATH_MAX];
	const char		*p = req->path + strlen("/bulk/"), *slash;
	int			 rc, found;

	if (req->method != P2P_GET)
		return p2p_fail(err, 405, P2P_ISSUE_NOT_SUPPORTED,
		    "files can only be read");
	/* A file's path goes only to a web server that sends the file
	 * itself, as the shipped configurations declare with P2P_SENDFILE
	 * (per request, or in the program's environment): anywhere else
	 * the X-Sendfile header would go out, naming the file, with an
	 * empty 200. */
	if (p2p_env(req, "P2P_SENDFILE") == NULL &&
	    getenv("P2P_SENDFILE") == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "the web server does not send bulk files (X-Sendfile) "
		    "for this program: see the shipped configurations");
	if ((slash = strchr(p, '/')) == NULL ||
	    (size_t)(slash - p) != JOB_ID_LEN ||
	    snprintf(name, sizeof(name), "%s", slash + 1) >=
	    (int)sizeof(name) || !valid_file_name(name))
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no such file");
	memcpy(id, p, JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	if (ctx->cfg.signed_urls && check_signature(ctx, req, err) == -1)
		return -1;
	if ((rc = job_get(&ctx->db, id, req->who.client_id, now_sec(), &s,
	    err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no such file") : -1;
	found = strcmp(s.status, "complete") == 0;
	job_state_free(&s);
	if (!found)
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no such file");
	/* Only files the manifest lists: never a temporary one. */
	if ((st = db_stmt(&ctx->db, sql_file, err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, name);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(&ctx->db, rc, err, "job file");
	if (rc != SQLITE_ROW)
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no such file");
	if (check_members(ctx, req, id, refused, err) == -1) {
		if (refused[0] != '\0') {
			p2p_err_init(&aerr);
			snprintf(detail, sizeof(detail), "%d file %s/%s refused:"
			    " %s", err->status, id, name, err->msg);
			(void)audit_log(&ctx->db, "release", "failure",
			    req->who.client_id, refused, 0, detail, &aerr);
		}
		return -1;
	}
	if (audit_file(ctx, req, id, name, err) == -1)
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s/%s", ctx->cfg.output_dir, id,
	    name) >= (int)sizeof(path))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "path too long");
	/* The web server sends the file itself. */
	p2p_header(req, "X-Sendfile", "%s", path);
	p2p_header(req, "Cache-Control", "private, no-store");
	req->status = 200;
	req->ctype = "application/fhir+ndjson";
	return 0;
}

int
export_status_handle(struct p2p_ctx *ctx, struct p2p_req *req,
    struct p2p_err *err)
{
	char	 id[JOB_ID_LEN + 2];

	if (strncmp(req->path, "/bulk/", 6) == 0)
		return file_get(ctx, req, err);
	if (!p2p_path_id(req->path, "/fhir/bulkstatus/", "", id, sizeof(id)))
		return not_found(err);
	if (req->method == P2P_DELETE)
		return status_delete(ctx, req, id, err);
	return status_get(ctx, req, id, err);
}
