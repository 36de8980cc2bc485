/*
 * export-status.c - the export-status executable:
 *   GET    /fhir/bulkstatus/{job}   status or manifest (Bulk Data 2.0 §3.1)
 *   DELETE /fhir/bulkstatus/{job}   cancel, remove files (§3.2)
 *   GET    /bulk/{job}/{file}       a file, handed to the web server to send
 *
 * Every job and file is visible only to the client that started the
 * job; anything else (unknown, expired, cancelled, another client's)
 * is 404, so job ids cannot be probed.  Files are never served by the
 * web server on its own: this program checks the URL's signature and
 * expiry (signed_urls = 1; jobs/status.c signs and checks), the
 * caller's token, and that no consent of a member whose data the file
 * holds was withdrawn since (jobs/members.c), and only then answers
 * "X-Sendfile: <path>" so that the web server streams the file
 * (lighttpd x-sendfile, Apache mod_xsendfile; P2P_SENDFILE says so).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/scopes.h"
#include "jobs/members.h"
#include "jobs/queue.h"
#include "jobs/status.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "web/op.h"

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
status_get(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const char		*id = req->ids[0];
	struct job_state	 s;
	json_object		*body = NULL;
	char			 date[64];
	time_t			 now = now_sec();
	int			 rc, ra = 0, ra2, wait;

	if ((rc = job_get(&ctx->db, id, req->who.client_id, now, &s,
	    err)) != 0)
		return rc == 1 ? not_found(err) : -1;
	if (job_in_progress(&s)) {
		/* Bulk Data 2.0 §3.1: too many requests, when it keeps
		 * polling sooner than it was asked to. */
		ra = job_retry_after(&s, now_ms());
		if (job_poll(&ctx->db, id, req->who.client_id, now_ms(), ra,
		    &wait, err) != 0) {
			job_state_free(&s);
			if (wait == 0)
				return -1;
			p2p_fail(err, 429, P2P_ISSUE_THROTTLED, "polled sooner "
			    "than Retry-After asked, again and again");
			err->retry_after = wait;
			return -1;
		}
		/* About to finish: wait for it (bounded; jobs/status.h). */
		if ((rc = job_wait(&ctx->db, &ctx->cfg, id, req->who.client_id,
		    &s, err)) != 0)
			return rc == 1 ? not_found(err) : -1;
		now = now_sec();
	}
	if (job_in_progress(&s)) {
		/* In progress: 202, X-Progress (< 100 chars), Retry-After
		 * from the job's pace (jobs/status.h). */
		ra2 = job_retry_after(&s, now_ms());
		if (ra2 != ra && job_advise(&ctx->db, id, req->who.client_id,
		    now_ms(), ra2, err) == -1) {
			job_state_free(&s);
			return -1;
		}
		p2p_header(req, "X-Progress", "%s", s.progress[0] ?
		    s.progress : s.status);
		p2p_header(req, "Retry-After", "%d", ra2);
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
status_delete(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const char		*id = req->ids[0];
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

/*
 * A file: the URL's signature and expiry (signed_urls = 1), the job
 * and the file the client's, then every member it holds still released
 * to the client, audited; the web server sends the file (X-Sendfile).
 */
static int
file_get(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const char	*id = req->ids[0], *name = req->ids[1];
	char		 path[PATH_MAX], refused[72];
	time_t		 now = now_sec();
	int		 rc;

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
	if (ctx->cfg.signed_urls && job_url_check(&ctx->cfg, req->path,
	    kv_get(&req->params, "exp"), kv_get(&req->params, "sig"), now,
	    err) == -1)
		return -1;
	if ((rc = job_file(&ctx->db, &ctx->cfg, id, name, req->who.client_id,
	    now, path, sizeof(path), err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no such file") : -1;
	if (job_members_release(&ctx->db, &ctx->cfg, id, name,
	    req->who.client_id, now, refused, sizeof(refused), err) == -1) {
		p2p_audit_about(req, refused, 0);
		return -1;
	}
	p2p_header(req, "X-Sendfile", "%s", path);
	p2p_header(req, "Cache-Control", "private, no-store");
	req->status = 200;
	req->ctype = "application/fhir+ndjson";
	return 0;
}

/* exp and sig: checked by file_get() (a bad signature is 403). */
static const struct p2p_param file_params[] = {
	{ "exp", NULL, 0 },
	{ "sig", NULL, 0 },
	{ NULL, NULL, 0 }
};

static const struct p2p_route routes[] = {
	{ "/fhir/bulkstatus/{job}", P2P_GET, status_get, NULL,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/fhir/bulkstatus/{job}", P2P_DELETE, status_delete, NULL,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/bulk/{job}/{file}", P2P_GET, file_get, file_params,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_NDJSON },
	{ NULL }
};

const struct p2p_op op_export_status = {
	.name = "export-status",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_BEARER,
	.scope = P2P_SCOPE_EXPORT,
	.payer = P2P_PAYER_ANY,		/* a job is its client's own */
	.audit = AUDIT_RELEASE,
};

P2P_MAIN(op_export_status)
