/* Unit tests for http.c: routing helpers and request checks (CGI mode). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/http.h"
#include "unit.h"

static const struct {
	const char	*path, *prefix, *suffix;
	int		 ok;
	const char	*id;
	int		 line;
} paths[] = {
	{ "/fhir/Patient/abc/$everything", "/fhir/Patient/", "/$everything", 1, "abc", __LINE__ },
	{ "/fhir/Patient/a.b-C9/$everything", "/fhir/Patient/", "/$everything", 1, "a.b-C9", __LINE__ },
	{ "/fhir/Patient//$everything", "/fhir/Patient/", "/$everything", 0, NULL, __LINE__ },
	{ "/fhir/Patient/a/b/$everything", "/fhir/Patient/", "/$everything", 0, NULL, __LINE__ },
	{ "/fhir/Patient/a_b/$everything", "/fhir/Patient/", "/$everything", 0, NULL, __LINE__ },
	{ "/fhir/Group/x/$everything", "/fhir/Patient/", "/$everything", 0, NULL, __LINE__ },
	{ "/fhir/bulkstatus/0123abcd", "/fhir/bulkstatus/", "", 1, "0123abcd", __LINE__ },
	{ "/fhir/Patient/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/$everything",
	  "/fhir/Patient/", "/$everything", 0, NULL, __LINE__ },	/* 65 chars */
};

START_TEST(test_path_id)
{
	char	 id[128];
	int	 ok = p2p_path_id(paths[_i].path, paths[_i].prefix,
	    paths[_i].suffix, id, sizeof(id));

	ck_assert_msg(ok == paths[_i].ok, "line %d", paths[_i].line);
	if (ok)
		ck_assert_str_eq(id, paths[_i].id);
}
END_TEST

static struct p2p_ctx	 ctx;
static struct p2p_op	 op = {
	.name = "test", .methods = P2P_POST, .body = P2P_BODY_FHIR,
	.auth = P2P_AUTH_NONE,
};

static int
run(const char *method, const char *uri, const char *ctype, const char *len,
    struct p2p_req *req, struct p2p_err *err)
{
	setenv("REQUEST_METHOD", method, 1);
	setenv("REQUEST_URI", uri, 1);
	if (ctype)
		setenv("CONTENT_TYPE", ctype, 1);
	else
		unsetenv("CONTENT_TYPE");
	if (len)
		setenv("CONTENT_LENGTH", len, 1);
	else
		unsetenv("CONTENT_LENGTH");
	memset(&ctx, 0, sizeof(ctx));
	ctx.cgi = 1;
	ctx.op = &op;
	strcpy(ctx.cfg.data_dir, "/tmp");
	config_defaults(&ctx.cfg);
	p2p_err_init(err);
	ck_assert_int_eq(p2p_accept(&ctx, req), 0);
	return p2p_parse(req, err);
}

static void
finish(struct p2p_req *req)
{
	/* p2p_end() without writing anything: free what the request owns. */
	freopen("/dev/null", "w", stderr);
	p2p_end(req);
}

static const struct {
	const char	*method, *uri, *ctype, *len;
	int		 status;
	int		 line;
} refusals[] = {
	{ "GET", "/x", NULL, NULL, 405, __LINE__ },
	{ "PATCH", "/x", NULL, NULL, 405, __LINE__ },
	{ "POST", "/x", "application/fhir+json", "99999999999", 413, __LINE__ },
	{ "POST", "/x", "application/fhir+json", "12abc", 400, __LINE__ },
	{ "POST", "/x", "text/plain", "2", 415, __LINE__ },
	{ "POST", "/x", NULL, "2", 415, __LINE__ },
	{ "POST", "/x%zz", "application/fhir+json", "2", 400, __LINE__ },
	{ "POST", "/x?a=%zz", "application/fhir+json", "2", 400, __LINE__ },
};

START_TEST(test_refusals)
{
	struct p2p_req	 req;
	struct p2p_err	 err;

	ck_assert_int_eq(run(refusals[_i].method, refusals[_i].uri,
	    refusals[_i].ctype, refusals[_i].len, &req, &err), -1);
	ck_assert_msg(err.status == refusals[_i].status, "line %d: %d %s",
	    refusals[_i].line, err.status, err.msg);
	finish(&req);
}
END_TEST

START_TEST(test_allow_header)
{
	struct p2p_req	 req;
	struct p2p_err	 err;

	ck_assert_int_eq(run("GET", "/x", NULL, NULL, &req, &err), -1);
	ck_assert_ptr_nonnull(strstr(req.head.p, "Allow: POST\r\n"));
	finish(&req);
}
END_TEST

START_TEST(test_query_and_prefer)
{
	struct p2p_req	 req;
	struct p2p_err	 err;

	op.methods = P2P_GET;
	setenv("HTTP_PREFER", "respond-async, handling=lenient", 1);
	ck_assert_int_eq(run("GET", "/fhir/Patient/1/%24everything?_type=Patient%2CCoverage&_count=5",
	    NULL, NULL, &req, &err), 0);
	ck_assert_str_eq(req.path, "/fhir/Patient/1/$everything");
	ck_assert_str_eq(kv_get(&req.args, "_type"), "Patient,Coverage");
	ck_assert_str_eq(kv_get(&req.args, "_count"), "5");
	ck_assert(p2p_prefer_async(&req));
	finish(&req);
	unsetenv("HTTP_PREFER");
	op.methods = P2P_POST;
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
	struct p2p_err	 err;
	void		*kept;

	op.methods = P2P_GET;
	ck_assert_int_eq(run("GET", "/x", NULL, NULL, &req, &err), 0);
	ck_assert_int_eq(buf_puts(&req.out, "{\"resourceType\":\"Bundle\"}"), 0);
	kept = req.out.p;
	finish(&req);
	ck_assert_ptr_eq(ctx.spare.p, kept);
	/* The CGI loop's second turn: no request, the loop ends. */
	ck_assert_int_eq(p2p_accept(&ctx, &req), -1);
	ck_assert_ptr_null(req.out.p);
	ck_assert_ptr_eq(ctx.spare.p, kept);
	p2p_close(&ctx);		/* frees it (LeakSanitizer checks) */
	ck_assert_ptr_null(ctx.spare.p);
	op.methods = P2P_POST;
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
	Suite	*s = suite_create("http");
	TCase	*tc = tcase_create("http");

	tcase_add_loop_test(tc, test_path_id, 0, sizeof(paths) / sizeof(paths[0]));
	tcase_add_loop_test(tc, test_refusals, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_allow_header);
	tcase_add_test(tc, test_query_and_prefer);
	tcase_add_test(tc, test_spare_kept_when_loop_ends);
	tcase_add_test(tc, test_reason);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
