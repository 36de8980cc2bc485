/*
 * Unit tests for peer/manifest.c and the pure helpers of peer/httpc.c
 * and peer/progress.c: what a peer answers, read carefully.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "peer/download.h"
#include "peer/httpc.h"
#include "peer/manifest.h"
#include "peer/progress.h"
#include "unit.h"

#define ORIGIN	"https://payer-a.example/fhir"

static const char good[] =
    "{\"transactionTime\":\"2027-01-05T10:00:00Z\","
    "\"request\":\"https://payer-a.example/fhir/Group/g/$davinci-data-export\","
    "\"requiresAccessToken\":true,"
    "\"output\":[{\"type\":\"Observation\",\"url\":"
    "\"https://payer-a.example/bulk/j/Observation-1.ndjson?exp=1&sig=ab\","
    "\"count\":3},{\"type\":\"Condition\",\"url\":"
    "\"https://payer-a.example/bulk/j/Condition-1.ndjson\"}],"
    "\"error\":[{\"type\":\"OperationOutcome\",\"url\":"
    "\"https://payer-a.example/bulk/j/OperationOutcome-1.ndjson\",\"count\":1}]}";

START_TEST(manifest_good)
{
	struct manifest	 m;
	struct p2p_err	 err;
	char		 path[200];

	p2p_err_init(&err);
	ck_assert_msg(manifest_parse(good, strlen(good), ORIGIN, &m, &err) == 0,
	    "%s", err.msg);
	ck_assert_str_eq(m.transaction_time, "2027-01-05T10:00:00Z");
	ck_assert_int_eq(m.requires_token, 1);
	ck_assert_uint_eq(m.nfiles, 3);
	ck_assert_str_eq(m.files[0].type, "Observation");
	ck_assert_int_eq(m.files[0].count, 3);
	ck_assert_int_eq(m.files[1].count, -1);	/* count is optional */
	ck_assert_int_eq(m.files[0].error, 0);
	ck_assert_int_eq(m.files[2].error, 1);
	manifest_url_path(m.files[0].url, path, sizeof(path));
	ck_assert_str_eq(path, "/bulk/j/Observation-1.ndjson");
	manifest_free(&m);
}
END_TEST

/* Malformed manifests: input, what the message must say, line. */
static const struct unit_case bad[] = {
	{ "", "not JSON", __LINE__ },
	{ "[1]", "not a JSON object", __LINE__ },
	{ "{\"request\":\"x\",\"requiresAccessToken\":true,\"output\":[]}",
	    "transactionTime", __LINE__ },
	{ "{\"transactionTime\":\"yesterday\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[]}", "transactionTime",
	    __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\","
	    "\"requiresAccessToken\":true,\"output\":[]}", "request", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":\"yes\",\"output\":[]}",
	    "requiresAccessToken", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true}", "must be arrays", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[],\"error\":{}}",
	    "must be arrays", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"url\":"
	    "\"https://payer-a.example/f\"}]}", "valid type", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"type\":\"Patient\","
	    "\"url\":\"/bulk/relative\"}]}", "absolute url", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"type\":\"Patient\","
	    "\"url\":\"https://elsewhere.example/f\"}]}", "origin", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"type\":\"Patient\","
	    "\"url\":\"https://payer-a.example/a b\"}]}", "spaces", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"type\":\"Patient\","
	    "\"url\":\"https://payer-a.example/f\",\"count\":-1}]}",
	    "non-negative", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[{\"type\":\"Patient\","
	    "\"url\":\"https://payer-a.example/f\",\"count\":\"3\"}]}",
	    "non-negative", __LINE__ },
	{ "{\"transactionTime\":\"2027-01-05T10:00:00Z\",\"request\":\"x\","
	    "\"requiresAccessToken\":true,\"output\":[7]}", "not an object",
	    __LINE__ },
};

START_TEST(manifest_bad)
{
	struct manifest	 m;
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_msg(manifest_parse(bad[_i].in, strlen(bad[_i].in), ORIGIN,
	    &m, &err) == -1, "line %d accepted", bad[_i].line);
	ck_assert_int_eq(err.status, 502);
	ck_assert_msg(strstr(err.msg, bad[_i].want) != NULL,
	    "line %d: \"%s\" lacks \"%s\"", bad[_i].line, err.msg,
	    bad[_i].want);
	manifest_free(&m);
}
END_TEST

/* Without requiresAccessToken no token travels: another host is fine. */
START_TEST(manifest_no_token_any_origin)
{
	static const char b[] = "{\"transactionTime\":\"2027-01-05T10:00:00Z\","
	    "\"request\":\"x\",\"requiresAccessToken\":false,\"output\":[{"
	    "\"type\":\"Patient\",\"url\":\"https://cdn.example/f\"}],"
	    "\"error\":[]}";
	struct manifest	 m;
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(manifest_parse(b, strlen(b), ORIGIN, &m, &err), 0);
	ck_assert_uint_eq(m.nfiles, 1);
	manifest_free(&m);
}
END_TEST

START_TEST(retry_after)
{
	time_t	 now = 1700000000;	/* Tue, 14 Nov 2023 22:13:20 GMT */

	ck_assert_int_eq(httpc_retry_after("120", now), 120);
	ck_assert_int_eq(httpc_retry_after(" 5\r\n", now), 5);
	ck_assert_int_eq(httpc_retry_after("0", now), 0);
	ck_assert_int_eq(httpc_retry_after("99999999999", now), HTTPC_RETRY_MAX);
	ck_assert_int_eq(httpc_retry_after("Tue, 14 Nov 2023 22:14:20 GMT",
	    now), 60);
	ck_assert_int_eq(httpc_retry_after("Tue, 14 Nov 2023 22:00:00 GMT",
	    now), 0);		/* in the past: at once */
	ck_assert_int_eq(httpc_retry_after("soon", now), -1);
	ck_assert_int_eq(httpc_retry_after("12s", now), -1);
	ck_assert_int_eq(httpc_retry_after(NULL, now), -1);
}
END_TEST

START_TEST(outcome_text)
{
	static const char oo[] = "{\"resourceType\":\"OperationOutcome\","
	    "\"issue\":[{\"severity\":\"error\",\"code\":\"forbidden\","
	    "\"diagnostics\":\"the member has opted out\"},{\"severity\":"
	    "\"error\",\"code\":\"value\",\"details\":{\"text\":\"second\"}}]}";
	static const char oauth[] = "{\"error\":\"invalid_client\","
	    "\"error_description\":\"unknown kid\"}";
	char	 out[200], code[32];

	httpc_outcome_text(oo, strlen(oo), out, sizeof(out));
	ck_assert_str_eq(out, "forbidden: the member has opted out; value: "
	    "second");
	httpc_outcome_code(oo, strlen(oo), code, sizeof(code));
	ck_assert_str_eq(code, "forbidden");
	httpc_outcome_text(oauth, strlen(oauth), out, sizeof(out));
	ck_assert_str_eq(out, "invalid_client: unknown kid");
	httpc_outcome_code(oauth, strlen(oauth), code, sizeof(code));
	ck_assert_str_eq(code, "");
	/* not JSON: the start of the body, control characters blanked */
	httpc_outcome_text("Bad\nGateway", 11, out, sizeof(out));
	ck_assert_str_eq(out, "Bad Gateway");
	httpc_outcome_text(NULL, 0, out, sizeof(out));
	ck_assert_str_eq(out, "");
	/* bounded */
	httpc_outcome_text(oo, strlen(oo), out, 12);
	ck_assert_uint_eq(strlen(out), 11);
}
END_TEST

START_TEST(same_origin)
{
	ck_assert(httpc_same_origin("https://a.example/fhir/x",
	    "https://a.example/fhir"));
	ck_assert(httpc_same_origin("https://A.example:443/x",
	    "https://a.example:443"));
	ck_assert(!httpc_same_origin("https://a.example.evil/x",
	    "https://a.example/fhir"));
	ck_assert(!httpc_same_origin("http://a.example/x",
	    "https://a.example/fhir"));
	ck_assert(!httpc_same_origin("https://a.example:8443/x",
	    "https://a.example/fhir"));
	ck_assert(!httpc_same_origin("/relative", "https://a.example"));
}
END_TEST

START_TEST(headers)
{
	struct httpc_resp	 r;

	httpc_resp_init(&r);
	httpc_header(&r, "HTTP/1.1 202 Accepted\r\n", 23);
	httpc_header(&r, "Content-Location: https://a/s/1\r\n", 33);
	httpc_header(&r, "X-Progress: 50% complete\r\n", 26);
	httpc_header(&r, "retry-after: 7\r\n", 16);
	httpc_header(&r, "Content-Length: 1234\r\n", 22);
	ck_assert_str_eq(r.location, "https://a/s/1");
	ck_assert_str_eq(r.progress, "50% complete");
	ck_assert_int_eq(r.retry_after, 7);
	ck_assert_int_eq(r.length, 1234);
	/* a second response (after 100 Continue) starts afresh */
	httpc_header(&r, "HTTP/1.1 200 OK\r\n", 17);
	ck_assert_str_eq(r.location, "");
	ck_assert_int_eq(r.retry_after, -1);
	httpc_resp_free(&r);
}
END_TEST

START_TEST(progress_line)
{
	struct progress	 p;
	char		 line[300];

	progress_init(&p, NULL, 10, "pull 3 (export, a)", 12, 2, 1000);
	p.files_done = 5;
	p.bytes_done = 4000000;
	p.bytes_total = -1;
	progress_text(&p, 3000, line, sizeof(line));
	/* 3 files in 3 s, 7 left: about 7 s */
	ck_assert_msg(strstr(line, "pull 3 (export, a): 5/12 files, 41%") ==
	    line, "%s", line);
	ck_assert_msg(strstr(line, "0:07 left") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "1.3 MB/s") != NULL, "%s", line);
	/* with sizes known the percentage and time left follow the bytes */
	p.bytes_total = 8001000;
	progress_text(&p, 4000, line, sizeof(line));
	ck_assert_msg(strstr(line, "49%") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "(4.0 MB of 8.0 MB)") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "0:04 left") != NULL, "%s", line);
	/* nothing done in this run yet: no guess */
	p.files_done = 2;
	p.bytes_done = 1000;
	p.bytes_total = -1;
	progress_text(&p, 500, line, sizeof(line));
	ck_assert_msg(strstr(line, "time left unknown") != NULL, "%s", line);
	p.files_done = 12;
	progress_text(&p, 2500, line, sizeof(line));
	ck_assert_msg(strstr(line, "done in 2.5 s") != NULL, "%s", line);
}
END_TEST

START_TEST(count_lines)
{
	char		 path[] = "/tmp/check_peer_lines.XXXXXX";
	long long	 n;
	int		 fd, nl;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, "{}\n{}\n{}", 8), 8);
	close(fd);
	ck_assert_int_eq(dl_count_lines(path, &n, &nl), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(nl, 0);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_APPEND), -1);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	ck_assert_int_eq(dl_count_lines(path, &n, &nl), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(nl, 1);
	unlink(path);
	/* no file yet: nothing counted */
	ck_assert_int_eq(dl_count_lines(path, &n, &nl), 0);
	ck_assert_int_eq(n, 0);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(manifest_good),
		UNIT_TABLE(manifest_bad, bad),
		UNIT_TEST(manifest_no_token_any_origin),
		UNIT_TEST(retry_after),
		UNIT_TEST(outcome_text),
		UNIT_TEST(same_origin),
		UNIT_TEST(headers),
		UNIT_TEST(progress_line),
		UNIT_TEST(count_lines),
	};

	return unit_run(unit_tests("peer_manifest", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
