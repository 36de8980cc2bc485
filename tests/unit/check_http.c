/* Unit tests for http.c and serve.c: route patterns and the generic
 * gates on a made-up operation (plain CGI, in memory). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "web/op.h"
#include "request.h"
#include "unit.h"

static const struct {
	const char	*pattern, *path;
	int		 ok;
	const char	*id0, *id1;
	int		 line;
} paths[] = {
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/abc/$everything", 1, "abc", NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/a.b-C9/$everything", 1, "a.b-C9", NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient//$everything", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/a/b/$everything", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/a_b/$everything", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Group/x/$everything", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/x/$everything/", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything", "/fhir/Patient/x", 0, NULL, NULL, __LINE__ },
	{ "/fhir/bulkstatus/{job}", "/fhir/bulkstatus/0123abcd", 1, "0123abcd", NULL, __LINE__ },
	{ "/fhir/bulkstatus/{job}", "/fhir/bulkstatus/..", 1, "..", NULL, __LINE__ },	/* an id; the handler finds no job */
	{ "/bulk/{job}/{file}", "/bulk/j1/Patient-1.ndjson", 1, "j1", "Patient-1.ndjson", __LINE__ },
	{ "/bulk/{job}/{file}", "/bulk/j1/", 0, NULL, NULL, __LINE__ },
	{ "/bulk/{job}/{file}", "/bulk/j1/a/b", 0, NULL, NULL, __LINE__ },
	{ "/fhir/metadata", "/fhir/metadata", 1, NULL, NULL, __LINE__ },
	{ "/fhir/metadata", "/fhir/metadatax", 0, NULL, NULL, __LINE__ },
	{ "/fhir/Patient/{id}/$everything",
	  "/fhir/Patient/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/$everything",
	  0, NULL, NULL, __LINE__ },	/* 65 chars */
};

START_TEST(test_path_match)
{
	char	 ids[P2P_PATH_IDS][65];
	int	 ok = p2p_path_match(paths[_i].pattern, paths[_i].path, ids);

	ck_assert_msg(ok == paths[_i].ok, "line %d", paths[_i].line);
	if (ok && paths[_i].id0 != NULL)
		ck_assert_str_eq(ids[0], paths[_i].id0);
	if (ok && paths[_i].id1 != NULL)
		ck_assert_str_eq(ids[1], paths[_i].id1);
}
END_TEST

/* What the handler saw, for the tests to look at. */
static struct {
	int	 calls;
	char	 id[65];
	char	 type[64];
	char	 count[16];
	int	 async;
} seen;

static int
handler(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	const char	*v;

	(void)ctx;
	(void)err;
	seen.calls++;
	snprintf(seen.id, sizeof(seen.id), "%s", req->ids[0]);
	snprintf(seen.type, sizeof(seen.type), "%s",
	    (v = kv_get(&req->params, "_type")) ? v : "");
	snprintf(seen.count, sizeof(seen.count), "%s",
	    (v = kv_get(&req->params, "_count")) ? v : "");
	seen.async = req->async;
	p2p_set_json(req, 200, "application/fhir+json",
	    fhir_resource_new("Bundle"));
	return 0;
}

static int
valid_digits(const char *name, const char *v, struct p2p_err *err)
{
	if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v))
		return p2p_fail(err, 400, P2P_ISSUE_VALUE, "%s: digits",
		    name);
	return 0;
}

static const struct p2p_param params[] = {
	{ "_type", NULL, P2P_PARAM_MULTI },
	{ "_count", valid_digits, P2P_PARAM_SYNC },
	{ "_outputFormat", NULL, P2P_PARAM_ASYNC },
	{ NULL, NULL, 0 }
};

static const struct p2p_param need[] = {
	{ "must", NULL, P2P_PARAM_REQUIRED },
	{ NULL, NULL, 0 }
};

static const struct p2p_route routes[] = {
	{ "/x", P2P_POST, handler, NULL, P2P_BODY_FHIR, "Parameters",
	  P2P_SYNC, P2P_MEDIA_FHIR },
	{ "/x/{id}/$op", P2P_GET | P2P_POST, handler, params,
	  P2P_BODY_PARAMETERS, NULL, P2P_SYNC_OR_ASYNC, P2P_MEDIA_FHIR },
	{ "/x/{id}", P2P_GET, handler, need, P2P_BODY_NONE, NULL, P2P_SYNC,
	  P2P_MEDIA_FHIR },
	{ "/x/{id}", P2P_DELETE, handler, NULL, P2P_BODY_NONE, NULL,
	  P2P_ASYNC, P2P_MEDIA_FHIR },
	{ "/f/{id}", P2P_GET, handler, NULL, P2P_BODY_NONE, NULL, P2P_SYNC,
	  P2P_MEDIA_NDJSON },
	{ "/any", P2P_GET, handler, NULL, P2P_BODY_NONE, NULL, P2P_SYNC,
	  P2P_MEDIA_ANY },
	{ NULL }
};

static const struct p2p_op op = {
	.name = "test",
	.routes = routes,
	.auth = P2P_AUTH_NONE,
};

static struct p2p_ctx	 ctx;

static void
run(const char *method, const char *uri, const char *ctype,
    const char *body, const char *prefer, struct unit_reply *r)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = &op;
	strcpy(ctx.cfg.data_dir, "/tmp");
	config_defaults(&ctx.cfg);
	ctx.cfg.max_body = 160;
	memset(&seen, 0, sizeof(seen));
	unit_request(&ctx, method, uri, ctype, body, NULL, prefer, r);
}

#define PARAMS	"{\"resourceType\":\"Parameters\"}"

static const struct {
	const char	*method, *uri, *ctype, *body, *prefer;
	int		 status;
	const char	*issue, *expr;
	int		 line;
} refusals[] = {
	{ "GET", "/nothing", NULL, NULL, NULL, 404, "not-found", NULL, __LINE__ },
	{ "GET", "/x%zz", NULL, NULL, NULL, 400, "invalid", NULL, __LINE__ },
	{ "GET", "/x", NULL, NULL, NULL, 405, "not-supported", NULL, __LINE__ },
	{ "PATCH", "/x", NULL, NULL, NULL, 405, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "application/fhir+json", "{\"resourceType\":\"Parameters\","
	  "\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", NULL,
	  413, "too-costly", NULL, __LINE__ },
	{ "POST", "/x", "text/plain", "{}", NULL, 415, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "", "{}", NULL, 415, "not-supported", NULL, __LINE__ },
	/* Issue 15.8: a body in another encoding than UTF-8. */
	{ "POST", "/x", "application/fhir+json; charset=utf-16", PARAMS, NULL,
	  415, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "application/fhir+json;charset=\"UTF-16LE\"", PARAMS,
	  NULL, 415, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "application/json; foo=bar; charset=iso-8859-1", PARAMS,
	  NULL, 415, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "application/fhir+json; charset=utf-8x", PARAMS, NULL,
	  415, "not-supported", NULL, __LINE__ },
	{ "POST", "/x", "application/fhir+json", "{", NULL, 400, "structure", NULL, __LINE__ },
	{ "POST", "/x", "application/fhir+json", "{}", NULL, 400, "required", "resourceType", __LINE__ },
	{ "POST", "/x", "application/fhir+json", "{\"resourceType\":\"Patient\"}", NULL,
	  400, "structure", "resourceType", __LINE__ },
	{ "POST", "/x?a=1", "application/fhir+json", PARAMS, NULL, 400, "not-supported", "a", __LINE__ },
	{ "POST", "/x?a=%zz", "application/fhir+json", PARAMS, NULL, 400, "invalid", NULL, __LINE__ },
	{ "GET", "/x/1/$op?_count=x", NULL, NULL, NULL, 400, "value", "_count", __LINE__ },
	{ "GET", "/x/1/$op?_count=1&_count=2", NULL, NULL, NULL, 400, "value", "_count", __LINE__ },
	{ "GET", "/x/1/$op?_count=1", NULL, NULL, "respond-async", 400, "not-supported", "_count", __LINE__ },
	{ "GET", "/x/1/$op?_outputFormat=x", NULL, NULL, NULL, 400, "not-supported", "_outputFormat", __LINE__ },
	{ "GET", "/x/1/$op?_typo=x", NULL, NULL, NULL, 400, "not-supported", "_typo", __LINE__ },
	{ "POST", "/x/1/$op", "application/fhir+json", "{\"resourceType\":\"Parameters\","
	  "\"parameter\":[{\"name\":\"_typo\",\"valueString\":\"x\"}]}", NULL,
	  400, "not-supported", "_typo", __LINE__ },
	{ "POST", "/x/1/$op", "application/fhir+json", "{\"resourceType\":\"Bundle\"}", NULL,
	  400, "structure", "resourceType", __LINE__ },
	{ "GET", "/x/1", NULL, NULL, NULL, 400, "required", "must", __LINE__ },
	{ "DELETE", "/x/1", NULL, NULL, NULL, 400, "not-supported", NULL, __LINE__ },
	/* FHIR http.html: _format the route does not answer in (406) */
	{ "GET", "/x/1/$op?_format=xml", NULL, NULL, NULL, 406, "not-supported", "_format", __LINE__ },
	{ "GET", "/x/1/$op?_format=application/fhir%2Bxml", NULL, NULL, NULL, 406, "not-supported", "_format", __LINE__ },
	{ "GET", "/x/1/$op?_format=text/turtle", NULL, NULL, NULL, 406, "not-supported", "_format", __LINE__ },
	{ "GET", "/x/1/$op?_format=ndjson", NULL, NULL, NULL, 406, "not-supported", "_format", __LINE__ },
	{ "GET", "/x/1/$op?_format=json&_format=json", NULL, NULL, NULL, 400, "value", "_format", __LINE__ },
	{ "GET", "/f/1?_format=json", NULL, NULL, NULL, 406, "not-supported", "_format", __LINE__ },
	/* a body-less POST needs no Content-Type only where parameters go */
	{ "POST", "/x", NULL, "", NULL, 415, "not-supported", NULL, __LINE__ },
};

START_TEST(test_refusals)
{
	struct unit_reply	 r;
	json_object		*is, *ex;

	run(refusals[_i].method, refusals[_i].uri, refusals[_i].ctype,
	    refusals[_i].body, refusals[_i].prefer, &r);
	ck_assert_msg(r.status == refusals[_i].status, "line %d: %d",
	    refusals[_i].line, r.status);
	ck_assert_msg(strcmp(unit_issue(&r), refusals[_i].issue) == 0,
	    "line %d: %s", refusals[_i].line, unit_issue(&r));
	if (refusals[_i].expr != NULL) {
		is = json_object_array_get_idx(fhir_get(r.body, "issue",
		    json_type_array), 0);
		ex = json_object_array_get_idx(fhir_get(is, "expression",
		    json_type_array), 0);
		ck_assert_msg(ex != NULL && strcmp(json_object_get_string(ex),
		    refusals[_i].expr) == 0, "line %d: expression",
		    refusals[_i].line);
	}
	ck_assert_msg(seen.calls == 0, "line %d: handler called",
	    refusals[_i].line);
	json_object_put(r.body);
}
END_TEST

START_TEST(test_allow_header)
{
	struct unit_reply	 r;

	run("GET", "/x", NULL, NULL, NULL, &r);
	ck_assert_ptr_nonnull(strstr(r.head, "Allow: POST\r\n"));
	json_object_put(r.body);
	run("PUT", "/x/1", NULL, NULL, NULL, &r);
	ck_assert_ptr_nonnull(strstr(r.head, "Allow: GET, DELETE\r\n"));
	json_object_put(r.body);
}
END_TEST

START_TEST(test_query_and_prefer)
{
	struct unit_reply	 r;

	run("GET", "/x/1/%24op?_type=Patient%2CCoverage&_count=5", NULL, NULL,
	    "handling=lenient", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.id, "1");
	ck_assert_str_eq(seen.type, "Patient,Coverage");
	ck_assert_str_eq(seen.count, "5");
	ck_assert_int_eq(seen.async, 0);
	json_object_put(r.body);
	/* The same parameters in a Parameters body; the preference. */
	run("POST", "/x/2/$op", "application/fhir+json", "{\"resourceType\":"
	    "\"Parameters\",\"parameter\":[{\"name\":\"_type\",\"valueCode\":"
	    "\"Claim\"}]}", "respond-async, handling=lenient", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(seen.id, "2");
	ck_assert_str_eq(seen.type, "Claim");
	ck_assert_int_eq(seen.async, 1);
	json_object_put(r.body);
	/* UTF-8 named in any spelling is accepted. */
	run("POST", "/x/2/$op", "application/fhir+json; charset=\"UTF-8\"; x=y",
	    PARAMS, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_object_put(r.body);
	/* An async-only route with the preference. */
	run("DELETE", "/x/3", NULL, NULL, "respond-async", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen.async, 1);
	json_object_put(r.body);
}
END_TEST

/* _format and Accept the routes answer in reach the handler. */
static const struct {
	const char	*uri, *accept;
	int		 status;
	int		 line;
} negotiation[] = {
	{ "/x/1/$op?_format=json", NULL, 200, __LINE__ },
	{ "/x/1/$op?_format=application/json", NULL, 200, __LINE__ },
	{ "/x/1/$op?_format=application/fhir%2Bjson", NULL, 200, __LINE__ },
	{ "/x/1/$op?_format=application/fhir+json", NULL, 200, __LINE__ },
	{ "/x/1/$op?_format=application/fhir%2Bjson%3B%20fhirVersion%3D4.0", NULL, 200, __LINE__ },
	{ "/x/1/$op?_format=application/fhir%2Bjson%3BfhirVersion%3D3.0", NULL, 406, __LINE__ },
	{ "/x/1/$op?_format=json", "application/fhir+xml", 200, __LINE__ },	/* _format wins */
	{ "/x/1/$op?_format=xml", "application/fhir+json", 406, __LINE__ },
	{ "/x/1/$op", "application/fhir+json", 200, __LINE__ },
	{ "/x/1/$op", "application/json, text/plain", 200, __LINE__ },
	{ "/x/1/$op", "application/fhir+xml;q=1, */*;q=0.1", 200, __LINE__ },
	{ "/x/1/$op", "application/*", 200, __LINE__ },
	{ "/x/1/$op", "application/fhir+xml", 406, __LINE__ },
	{ "/x/1/$op", "application/fhir+xml, text/turtle", 406, __LINE__ },
	{ "/x/1/$op", "application/fhir+json;q=0", 406, __LINE__ },
	{ "/x/1/$op", "application/fhir+json; fhirVersion=4.0", 200, __LINE__ },
	{ "/x/1/$op", "application/fhir+json; fhirVersion=5.0", 406, __LINE__ },
	{ "/x/1/$op", "", 200, __LINE__ },
	{ "/x/1/$op", "garbage", 200, __LINE__ },	/* malformed: not refused */
	{ "/f/1", "application/fhir+ndjson", 200, __LINE__ },
	{ "/f/1?_format=ndjson", NULL, 200, __LINE__ },
	{ "/f/1?_format=application/ndjson", NULL, 200, __LINE__ },
	{ "/f/1", "application/fhir+json", 406, __LINE__ },
	{ "/f/1", "*/*", 200, __LINE__ },
	{ "/any", "text/html", 200, __LINE__ },
	{ "/any?_format=xml", NULL, 200, __LINE__ },
};

START_TEST(test_negotiation)
{
	struct unit_reply	 r;

	unit_env("HTTP_ACCEPT", negotiation[_i].accept);
	run("GET", negotiation[_i].uri, NULL, NULL, NULL, &r);
	unit_env("HTTP_ACCEPT", NULL);
	ck_assert_msg(r.status == negotiation[_i].status, "line %d: %d",
	    negotiation[_i].line, r.status);
	ck_assert_msg(seen.calls == (r.status == 200), "line %d: calls",
	    negotiation[_i].line);
	if (r.status == 406)
		ck_assert_str_eq(unit_issue(&r), "not-supported");
	json_object_put(r.body);
}
END_TEST

/* A kick-off POST without body and Content-Type: no parameters. */
START_TEST(test_empty_post)
{
	struct unit_reply	 r;

	run("POST", "/x/1/$op?_type=Patient", NULL, NULL, "respond-async", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.type, "Patient");
	json_object_put(r.body);
	/* with a Content-Type, the body must be there */
	run("POST", "/x/1/$op", "application/fhir+json", "", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	json_object_put(r.body);
}
END_TEST

/*
 * Regression: the response memory kept between requests (ctx->spare)
 * was handed to the next request before the accept, so when the accept
 * ended the loop (SIGTERM at stop, the one CGI turn done) nothing owned
 * it any more: a $everything process leaked its last page at exit.
 */
START_TEST(test_spare_kept_when_loop_ends)
{
	struct p2p_req	 req;
	void		*kept;

	memset(&ctx, 0, sizeof(ctx));
	ctx.op = &op;
	ctx.cgi = 1;
	unit_env("REQUEST_METHOD", "GET");
	unit_env("REQUEST_URI", "/x/1");
	ck_assert_int_eq(p2p_accept(&ctx, &req), 0);
	ck_assert_int_eq(buf_puts(&req.out, "{\"resourceType\":\"Bundle\"}"), 0);
	kept = req.out.p;
	p2p_end(&req);
	ck_assert_ptr_eq(ctx.spare.p, kept);
	/* The CGI loop's second turn: no request, the loop ends. */
	ck_assert_int_eq(p2p_accept(&ctx, &req), -1);
	ck_assert_ptr_null(req.out.p);
	ck_assert_ptr_eq(ctx.spare.p, kept);
	p2p_close(&ctx);		/* frees it (LeakSanitizer checks) */
	ck_assert_ptr_null(ctx.spare.p);
}
END_TEST

START_TEST(test_reason)
{
	ck_assert_str_eq(http_reason(422), "Unprocessable Content");
	ck_assert_str_eq(http_reason(413), "Content Too Large");
	ck_assert_str_eq(http_reason(299), "Unknown");
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_path_match, paths),
		UNIT_TABLE(test_refusals, refusals),
		UNIT_TABLE(test_negotiation, negotiation),
		UNIT_TEST(test_empty_post),
		UNIT_TEST(test_allow_header),
		UNIT_TEST(test_query_and_prefer),
		UNIT_TEST(test_spare_kept_when_loop_ends),
		UNIT_TEST(test_reason),
	};

	return unit_run(unit_tests("http", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
