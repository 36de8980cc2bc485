/*
 * Unit tests for the operations' contracts (src/cgi/<operation>.c, each
 * compiled without main): for every operation, requests that break one
 * declared rule get the status and issue code of that gate (web/op.h),
 * the handler is not reached, and exactly one audit record tells of the
 * refusal, under the operation's event (or "auth" for identity and
 * scope), with the status first in its detail.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json/fhir.h"
#include "member/audit.h"
#include "request.h"
#include "unit.h"

extern const struct p2p_op op_metadata, op_token, op_member_match,
    op_bulk_member_match, op_everything, op_data_export, op_export_status,
    op_consent, op_group;

static struct p2p_db	 db;
static struct p2p_config cfg;
static char		*bearer[4];

enum who { ANON, PAYER, LIMITED, NO_NPI };

static const char *const clients[] = {
	NULL,		/* ANON: no Authorization */
	"payer",	/* PAYER: a known payer, every scope needed */
	"payer",	/* LIMITED: the same, a scope no operation takes */
	"no-npi",	/* NO_NPI: no resolvable requesting payer */
};

/* Bodies past the limits (max_body 1 KiB, max_bulk_body 4 KiB). */
static char	 big[2048], huge[8192];

static void
pad(char *b, size_t n)
{
	size_t	 k = strlen("{\"resourceType\":\"Parameters\",\"pad\":\"");

	memcpy(b, "{\"resourceType\":\"Parameters\",\"pad\":\"", k);
	memset(b + k, 'x', n - k - 3);
	memcpy(b + n - 3, "\"}", 3);
}
#define BIG	big
#define HUGE	huge

static void
setup(void)
{
	struct p2p_err	 err;
	const char	*src = getenv("P2P_SRCDIR");

	p2p_err_init(&err);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp");
	config_defaults(&cfg);
	snprintf(cfg.base_url, sizeof(cfg.base_url), "http://127.0.0.1:8080");
	snprintf(cfg.fhir_base, sizeof(cfg.fhir_base),
	    "http://127.0.0.1:8080/fhir");
	snprintf(cfg.share_dir, sizeof(cfg.share_dir), "%s/share",
	    src != NULL ? src : ".");
	cfg.max_body = 1024;
	cfg.max_bulk_body = 4096;
	pad(big, sizeof(big));
	pad(huge, sizeof(huge));
	unit_key(&cfg);
	unit_db_open(&db);
	ck_assert_int_eq(db_exec(&db,
	    "INSERT INTO client (id, npi, created) VALUES"
	    " ('payer', '1111111111', 'x'), ('no-npi', '', 'x');"
	    "INSERT INTO resource (rid, type, id, last_updated, json) VALUES"
	    " (1, 'Organization', 'org-a', 'x', '{}');"
	    "INSERT INTO ident (rid, kind, system, value, patient) VALUES"
	    " (1, 4, 'http://hl7.org/fhir/sid/us-npi', '1111111111', 'org-a')",
	    &err), 0);
	bearer[ANON] = NULL;
	bearer[PAYER] = unit_bearer(&cfg, "payer", "1111111111", "user/*.rs");
	bearer[LIMITED] = unit_bearer(&cfg, "payer", "1111111111",
	    "system/Observation.rs");
	bearer[NO_NPI] = unit_bearer(&cfg, "no-npi", "", "user/*.rs");
}

static void
teardown(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(bearer) / sizeof(bearer[0]); i++)
		free(bearer[i]);
	db_close(&db);
	unlink(cfg.key_file);
}

#define FHIR	"application/fhir+json"
#define FORM	"application/x-www-form-urlencoded"
#define ASYNC	"respond-async"
#define PARAMS	"{\"resourceType\":\"Parameters\",\"parameter\":[]}"
#define PARAM(n, v) "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"" \
	n "\",\"valueString\":\"" v "\"}]}"
static const struct refusal {
	const struct p2p_op	*op;
	const char		*method, *uri, *ctype, *body;
	enum who		 who;
	const char		*prefer;
	int			 status;
	const char		*issue;		/* issue code, or OAuth error */
	const char		*event;		/* audited as, or NULL: not */
	const char		*header;	/* a header line it must carry */
	int			 named;		/* the record names the client
						   (refused at or after the
						   identity gate) */
	int			 line;
} refusals[] = {
	/* metadata: public, no audit */
	{ &op_metadata, "GET", "/fhir/Nothing/here", NULL, NULL, ANON, NULL,
	  404, "not-found", NULL, NULL, 0, __LINE__ },
	{ &op_metadata, "DELETE", "/fhir/metadata", NULL, NULL, ANON, NULL,
	  405, "not-supported", NULL, "Allow: GET\r\n", 0, __LINE__ },

	/* token: OAuth errors */
	{ &op_token, "GET", "/auth/token", NULL, NULL, ANON, NULL,
	  405, "invalid_request", AUDIT_TOKEN, "Allow: POST\r\n", 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", "text/plain", "x", ANON, NULL,
	  400, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, "scope=a%zz", ANON, NULL,
	  400, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, "grant_type=client_credentials"
	  "&scope=a&scope=b", ANON, NULL,
	  400, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, "grant_type=password&scope=a",
	  ANON, NULL, 400, "unsupported_grant_type", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, "grant_type=client_credentials",
	  ANON, NULL, 400, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, "grant_type=client_credentials"
	  "&scope=a&client_assertion_type=x", ANON, NULL,
	  400, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },
	{ &op_token, "POST", "/auth/token", FORM, BIG, ANON, NULL,
	  413, "invalid_request", AUDIT_TOKEN, NULL, 0, __LINE__ },

	/* member-match */
	{ &op_member_match, "GET", "/fhir/Patient/$member-match", NULL, NULL,
	  PAYER, NULL, 405, "not-supported", AUDIT_MATCH, "Allow: POST\r\n",
	  0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, BIG,
	  PAYER, NULL, 413, "too-costly", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", "text/plain",
	  PARAMS, PAYER, NULL, 415, "not-supported", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, "{",
	  PAYER, NULL, 400, "structure", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR,
	  "{\"resourceType\":\"Patient\"}", PAYER, NULL,
	  400, "structure", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match?foo=1", FHIR,
	  PARAMS, PAYER, NULL, 400, "not-supported", AUDIT_MATCH, NULL,
	  0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, PARAMS,
	  ANON, NULL, 401, "login", AUDIT_AUTH,
	  "WWW-Authenticate: Bearer realm=\"p2p\", error=\"invalid_token\"\r\n",
	  0, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, PARAMS,
	  LIMITED, NULL, 403, "forbidden", AUDIT_AUTH,
	  "WWW-Authenticate: Bearer realm=\"p2p\", error=\"insufficient_scope\"\r\n",
	  1, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, PARAMS,
	  NO_NPI, NULL, 403, "forbidden", AUDIT_MATCH, NULL, 1, __LINE__ },
	{ &op_member_match, "POST", "/fhir/Patient/$member-match", FHIR, PARAMS,
	  PAYER, NULL, 400, "required", AUDIT_MATCH, NULL, 1, __LINE__ },

	/* bulk-member-match: asynchronous only, the larger limit */
	{ &op_bulk_member_match, "POST", "/fhir/Group/$bulk-member-match", FHIR,
	  PARAMS, PAYER, NULL, 400, "not-supported", AUDIT_MATCH, NULL,
	  0, __LINE__ },
	{ &op_bulk_member_match, "POST", "/fhir/Group/$bulk-member-match"
	  "?_outputFormat=x", FHIR, PARAMS, PAYER, ASYNC,
	  400, "not-supported", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_bulk_member_match, "POST", "/fhir/Group/$bulk-member-match", FHIR,
	  HUGE, PAYER, ASYNC, 413, "too-costly", AUDIT_MATCH, NULL, 0, __LINE__ },
	{ &op_bulk_member_match, "POST", "/fhir/Group/$bulk-member-match", FHIR,
	  PARAMS, NO_NPI, ASYNC, 403, "forbidden", AUDIT_MATCH, NULL, 1, __LINE__ },
	{ &op_bulk_member_match, "POST", "/fhir/Group/$bulk-member-match", FHIR,
	  PARAMS, LIMITED, ASYNC, 403, "forbidden", AUDIT_AUTH, NULL, 1, __LINE__ },

	/* everything: either mode, each parameter in its own */
	{ &op_everything, "GET", "/fhir/Patient/a_b/$everything", NULL, NULL,
	  PAYER, NULL, 404, "not-found", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "DELETE", "/fhir/Patient/m1/$everything", NULL, NULL,
	  PAYER, NULL, 405, "not-supported", AUDIT_RELEASE,
	  "Allow: GET, POST\r\n", 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?foo=1", NULL, NULL,
	  PAYER, NULL, 400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_typeFilter=x",
	  NULL, NULL, PAYER, NULL, 400, "not-supported", AUDIT_RELEASE, NULL,
	  0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_count=0", NULL,
	  NULL, PAYER, NULL, 400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_type=Nothing",
	  NULL, NULL, PAYER, NULL, 400, "not-supported", AUDIT_RELEASE, NULL,
	  0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_since=2024-01-01"
	  "&_since=2025-01-01", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_count=5", NULL,
	  NULL, PAYER, ASYNC, 400, "not-supported", AUDIT_RELEASE, NULL,
	  0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything?_outputFormat="
	  "ndjson", NULL, NULL, PAYER, NULL, 400, "not-supported",
	  AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "POST", "/fhir/Patient/m1/$everything", FHIR,
	  PARAM("_elements", "id"), PAYER, NULL, 400, "not-supported",
	  AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything", NULL, NULL,
	  ANON, NULL, 401, "login", AUDIT_AUTH, NULL, 0, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything", NULL, NULL,
	  LIMITED, NULL, 403, "forbidden", AUDIT_AUTH, NULL, 1, __LINE__ },
	{ &op_everything, "GET", "/fhir/Patient/m1/$everything", NULL, NULL,
	  PAYER, NULL, 404, "not-found", AUDIT_RELEASE, NULL, 1, __LINE__ },

	/* data-export: asynchronous only, exportType required */
	{ &op_data_export, "POST", "/fhir/Group/g1/$davinci-data-export", FHIR,
	  PARAM("exportType", "hl7.fhir.us.davinci-pdex#payertopayer"), PAYER,
	  NULL, 400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_data_export, "POST", "/fhir/Group/g1/$davinci-data-export", FHIR,
	  PARAMS, PAYER, ASYNC, 400, "required", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_data_export, "POST", "/fhir/Group/g1/$davinci-data-export", FHIR,
	  PARAM("exportType", "x"), PAYER, ASYNC, 400, "not-supported",
	  AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_data_export, "GET", "/fhir/Group/g1/$davinci-data-export"
	  "?exportType=hl7.fhir.us.davinci-pdex%23payertopayer&start=2024",
	  NULL, NULL, PAYER, ASYNC, 400, "not-supported", AUDIT_RELEASE, NULL,
	  0, __LINE__ },
	{ &op_data_export, "GET", "/fhir/Group/g1/$davinci-data-export"
	  "?exportType=hl7.fhir.us.davinci-pdex%23payertopayer"
	  "&_outputFormat=text/csv", NULL, NULL, PAYER, ASYNC,
	  400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_data_export, "PUT", "/fhir/Group/g1/$davinci-data-export", FHIR,
	  PARAMS, PAYER, ASYNC, 405, "not-supported", AUDIT_RELEASE,
	  "Allow: GET, POST\r\n", 0, __LINE__ },
	{ &op_data_export, "GET", "/fhir/Group/g1/$davinci-data-export"
	  "?exportType=hl7.fhir.us.davinci-pdex%23payertopayer", NULL, NULL,
	  ANON, ASYNC, 401, "login", AUDIT_AUTH, NULL, 0, __LINE__ },
	{ &op_data_export, "GET", "/fhir/Group/g1/$davinci-data-export"
	  "?exportType=hl7.fhir.us.davinci-pdex%23payertopayer", NULL, NULL,
	  PAYER, ASYNC, 404, "not-found", AUDIT_RELEASE, NULL, 1, __LINE__ },

	/* export-status */
	{ &op_export_status, "POST", "/fhir/bulkstatus/j1", FHIR, PARAMS, PAYER,
	  NULL, 405, "not-supported", AUDIT_RELEASE, "Allow: GET, DELETE\r\n",
	  0, __LINE__ },
	{ &op_export_status, "DELETE", "/bulk/j1/Patient-1.ndjson", NULL, NULL,
	  PAYER, NULL, 405, "not-supported", AUDIT_RELEASE, "Allow: GET\r\n",
	  0, __LINE__ },
	{ &op_export_status, "GET", "/fhir/bulkstatus/j1?x=1", NULL, NULL, PAYER,
	  NULL, 400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_export_status, "GET", "/bulk/j1/Patient-1.ndjson?exp=1&exp=2",
	  NULL, NULL, PAYER, NULL, 400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_export_status, "GET", "/fhir/bulkstatus/j1", NULL, NULL, ANON, NULL,
	  401, "login", AUDIT_AUTH, NULL, 0, __LINE__ },
	{ &op_export_status, "GET", "/fhir/bulkstatus/j1", NULL, NULL, PAYER,
	  NULL, 404, "not-found", AUDIT_RELEASE, NULL, 1, __LINE__ },

	/* consent */
	{ &op_consent, "POST", "/fhir/Consent", FHIR, "{\"resourceType\":"
	  "\"Consent\"}", PAYER, NULL, 405, "not-supported", AUDIT_CONSENT,
	  "Allow: GET\r\n", 0, __LINE__ },
	{ &op_consent, "DELETE", "/fhir/Consent/c1", NULL, NULL, PAYER, NULL,
	  405, "not-supported", AUDIT_CONSENT, "Allow: GET, PUT\r\n", 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent", NULL, NULL, PAYER, NULL,
	  400, "required", AUDIT_CONSENT, NULL, 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent?patient=a&patient=b", NULL, NULL,
	  PAYER, NULL, 400, "value", AUDIT_CONSENT, NULL, 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent?patient=a%2Fb", NULL, NULL, PAYER,
	  NULL, 400, "value", AUDIT_CONSENT, NULL, 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent?patient=a&_sort=x", NULL, NULL,
	  PAYER, NULL, 400, "not-supported", AUDIT_CONSENT, NULL, 0, __LINE__ },
	{ &op_consent, "PUT", "/fhir/Consent/c1", FHIR, "{\"resourceType\":"
	  "\"Patient\"}", PAYER, NULL, 400, "structure", AUDIT_CONSENT, NULL,
	  0, __LINE__ },
	{ &op_consent, "PUT", "/fhir/Consent/c1?x=1", FHIR, "{\"resourceType\":"
	  "\"Consent\",\"id\":\"c1\",\"status\":\"inactive\"}", PAYER, NULL,
	  400, "not-supported", AUDIT_CONSENT, NULL, 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent/c1", NULL, NULL, ANON, NULL,
	  401, "login", AUDIT_AUTH, NULL, 0, __LINE__ },
	{ &op_consent, "GET", "/fhir/Consent/c1", NULL, NULL, PAYER, NULL,
	  404, "not-found", AUDIT_CONSENT, NULL, 1, __LINE__ },

	/* group: read and search the caller's own; 404 for any other */
	{ &op_group, "POST", "/fhir/Group", FHIR, "{\"resourceType\":"
	  "\"Group\"}", PAYER, NULL, 405, "not-supported", AUDIT_RELEASE,
	  "Allow: GET\r\n", 0, __LINE__ },
	{ &op_group, "DELETE", "/fhir/Group/g1", NULL, NULL, PAYER, NULL,
	  405, "not-supported", AUDIT_RELEASE, "Allow: GET\r\n", 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?name=x", NULL, NULL, PAYER, NULL,
	  400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?code:text=x", NULL, NULL, PAYER, NULL,
	  400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?code=%7C", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?code=", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?characteristic-value=match", NULL,
	  NULL, PAYER, NULL, 400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_lastUpdated=sa2024", NULL, NULL,
	  PAYER, NULL, 400, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_lastUpdated=2024-13", NULL, NULL,
	  PAYER, NULL, 400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_id=a_b", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_count=0", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_count=101", NULL, NULL, PAYER, NULL,
	  400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group?_count=1&_count=2", NULL, NULL, PAYER,
	  NULL, 400, "value", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group/g1?_format=xml", NULL, NULL, PAYER,
	  NULL, 406, "not-supported", AUDIT_RELEASE, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group/g1", NULL, NULL, ANON, NULL,
	  401, "login", AUDIT_AUTH, NULL, 0, __LINE__ },
	{ &op_group, "GET", "/fhir/Group", NULL, NULL, LIMITED, NULL,
	  403, "forbidden", AUDIT_AUTH, NULL, 1, __LINE__ },
	{ &op_group, "GET", "/fhir/Group/g1", NULL, NULL, PAYER, NULL,
	  404, "not-found", AUDIT_RELEASE, NULL, 1, __LINE__ },
};

START_TEST(test_refusal)
{
	const struct refusal	*t = &refusals[_i];
	struct p2p_ctx		 ctx;
	struct unit_reply	 r;
	char			 sql[300];
	long long		 before, jobs;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.db = db;
	ctx.op = t->op;
	before = unit_int(&db, "SELECT count(*) FROM audit");
	jobs = unit_int(&db, "SELECT count(*) FROM job");
	unit_request(&ctx, t->method, t->uri, t->ctype, t->body,
	    bearer[t->who], t->prefer, &r);
	db = ctx.db;
	ck_assert_msg(r.status == t->status, "line %d: status %d, want %d",
	    t->line, r.status, t->status);
	ck_assert_msg(strcmp(unit_issue(&r), t->issue) == 0,
	    "line %d: issue %s, want %s", t->line, unit_issue(&r), t->issue);
	if (t->header != NULL)
		ck_assert_msg(strstr(r.head, t->header) != NULL,
		    "line %d: no %s in %s", t->line, t->header, r.head);
	/* The refusal wrote nothing but its record. */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM job"), jobs);
	ck_assert_msg(unit_int(&db, "SELECT count(*) FROM audit") ==
	    before + (t->event != NULL), "line %d: audit records", t->line);
	if (t->event != NULL) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE"
		    " aid = (SELECT max(aid) FROM audit) AND event = '%s' AND"
		    " outcome = 'failure' AND detail LIKE '%d %s: %%' AND"
		    " coalesce(client_id, '') = '%s'", t->event, t->status,
		    t->op->name, t->named ? clients[t->who] : "");
		ck_assert_msg(unit_int(&db, sql) == 1, "line %d: audit record",
		    t->line);
	}
	json_object_put(r.body);
}
END_TEST

/* The gates let a request that keeps every rule through. */
START_TEST(test_accepted)
{
	struct p2p_ctx		 ctx;
	struct unit_reply	 r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.db = db;
	ctx.op = &op_consent;
	unit_request(&ctx, "GET", "/fhir/Consent?patient=Patient%2Fm1", NULL,
	    NULL, bearer[PAYER], NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fhir_str(r.body, "type"), "searchset");
	json_object_put(r.body);
	ctx.op = &op_metadata;
	unit_request(&ctx, "GET", "/fhir/metadata?_format=json", NULL, NULL,
	    NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(fhir_type(r.body), "CapabilityStatement");
	json_object_put(r.body);
	op_metadata.cleanup(&ctx);
	db = ctx.db;
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM audit WHERE outcome ="
	    " 'failure'"), 0);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("contract", &tc, setup, teardown);

	tcase_add_loop_test(tc, test_refusal, 0,
	    sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_accepted);
	return unit_run(s);
}
