/* Unit tests for fhir.c and err.c. */
#include <check.h>
#include <string.h>

#include "json/fhir.h"
#include "json/jscan.h"
#include "unit.h"

static const struct {
	const char	*in;
	int		 ok;
	const char	*want;		/* substring of the message */
	int		 line;
} docs[] = {
	{ "{\"resourceType\":\"Patient\"}", 1, NULL, __LINE__ },
	{ "  {\"a\":[1,2,{\"b\":null}]}\n", 1, NULL, __LINE__ },
	{ "", 0, "empty", __LINE__ },
	{ "{", 0, "unexpected end", __LINE__ },
	{ "{\"a\":1} x", 0, "invalid JSON", __LINE__ },
	{ "{\"a\":1}{}", 0, "invalid JSON", __LINE__ },
	{ "{\"a\":\"it's\"}", 1, NULL, __LINE__ },
	{ "{'a':1}", 0, "invalid JSON", __LINE__ },
	{ "{\"a\":1,}", 0, "invalid JSON", __LINE__ },	/* strict */
	{ "{\"a\":\"\xff\xfe\"}", 0, "invalid JSON", __LINE__ },	/* UTF-8 */
	{ "[1, 2", 0, "invalid JSON", __LINE__ },
	{ "{\"a\":\"x\\u0000y\"}", 0, "invalid JSON at byte 7", __LINE__ },
	{ "{\"a\":\"\\u0000\"}", 0, "invalid JSON", __LINE__ },
	{ "{\"a\":\"\\\\u0000\"}", 1, NULL, __LINE__ },	/* text \u0000 */
	{ "{\"a\":\"\\u0001\"}", 1, NULL, __LINE__ },
};

START_TEST(test_parse_table)
{
	json_object	*o = NULL;
	struct p2p_err	 err;
	int		 rc;

	p2p_err_init(&err);
	rc = fhir_parse(docs[_i].in, strlen(docs[_i].in), &o, &err);
	ck_assert_msg(rc == (docs[_i].ok ? 0 : -1), "line %d", docs[_i].line);
	if (docs[_i].ok) {
		ck_assert_ptr_nonnull(o);
		json_object_put(o);
	} else {
		ck_assert_ptr_null(o);
		ck_assert_int_eq(err.status, 400);
		ck_assert_msg(strstr(err.msg, docs[_i].want) != NULL,
		    "line %d: %s", docs[_i].line, err.msg);
	}
}
END_TEST

/*
 * What json-c accepts in strict mode and fhir_parse() refuses, each
 * found by tests/fuzz/fuzz_json.c (corpus files regress-*): RFC 8259
 * and RFC 3629 say no, or json-c would change the value in silence.
 * The loader's scanner (jscan.c) refuses every one of them too.
 */
static const struct {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*want;		/* substring of the message */
	int		 line;
} strict[] = {
	/* overlong forms, surrogates, beyond U+10FFFF (issue #15, point 8) */
	{ "{\"a\":\"\xc0\xaf\"}", 0, "byte 6: malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xc1\xbf\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xe0\x80\xaf\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xf0\x80\x80\xaf\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"\xc0\x80\":1}", 0, "malformed UTF-8", __LINE__ },	/* a key */
	{ "{\"a\":\"\xed\xa0\x80\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xf4\x90\x80\x80\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xf5\x80\x80\x80\"}", 0, "malformed UTF-8", __LINE__ },
	{ "{\"a\":\"\xc3\"}", 0, "malformed UTF-8", __LINE__ },	/* cut */
	/* escaped surrogates without their pair (json-c: U+FFFD) */
	{ "{\"a\":\"\\ud800\"}", 0, "unpaired surrogate", __LINE__ },
	{ "{\"a\":\"\\udc00\\ud800\"}", 0, "unpaired surrogate", __LINE__ },
	{ "{\"a\":\"\\ud800\\u0041\"}", 0, "unpaired surrogate", __LINE__ },
	/* control characters must be escaped in strings */
	{ "{\"a\":\"x\x16y\"}", 0, "control character", __LINE__ },
	{ "{\"a\":\"\t\"}", 0, "control character", __LINE__ },
	/* numbers RFC 8259 has not, or json-c would change */
	{ "{\"a\":00}", 0, "malformed number", __LINE__ },
	{ "{\"a\":-01}", 0, "malformed number", __LINE__ },
	{ "{\"a\":1.}", 0, "malformed number", __LINE__ },
	{ "{\"a\":1.e3}", 0, "malformed number", __LINE__ },
	{ "{\"a\":NaN}", 0, "unexpected character", __LINE__ },
	{ "{\"a\":-Infinity}", 0, "malformed number", __LINE__ },
	{ "{\"a\":Infinity}", 0, "unexpected character", __LINE__ },
	{ "{\"a\":1e999}", 0, "number out of range", __LINE__ },
	{ "{\"a\":18446744073709551616}", 0, "out of range", __LINE__ },
	{ "{\"a\":-9223372036854775809}", 0, "out of range", __LINE__ },
	/* NUL bytes after the document are not white space */
	{ "{}\0\0", 4, "after the document", __LINE__ },
	{ "0\0", 2, "after the document", __LINE__ },
};

START_TEST(test_strict)
{
	json_object	*o = NULL;
	struct p2p_err	 err;
	size_t		 len = strict[_i].len ? strict[_i].len :
			    strlen(strict[_i].in);

	p2p_err_init(&err);
	ck_assert_msg(fhir_parse(strict[_i].in, len, &o, &err) == -1,
	    "line %d: accepted", strict[_i].line);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(err.status, 400);
	ck_assert_msg(strstr(err.msg, strict[_i].want) != NULL,
	    "line %d: %s", strict[_i].line, err.msg);
	unit_jscan_refuses(strict[_i].in, len, strict[_i].line);
}
END_TEST

/* What RFC 8259 allows stays accepted, with its value. */
START_TEST(test_strict_ok)
{
	static const char *const ok[] = {
		"{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}",
		"{\"a\":\"\\ud83d\\ude00\"}",
		"{\"a\":[0,-0,1.5,-0.25,1e5,1E+2,2e-3,9223372036854775807]}",
		"{\"a\":18446744073709551615}",
		"{\"a\":1e-400}",		/* rounds to 0, as 0.1 rounds */
		"{\"it's\":\"x\\u0001\"}\r\n\t ",
		"[true,false,null]",
	};
	json_object	*o = NULL;
	struct p2p_err	 err;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		p2p_err_init(&err);
		ck_assert_msg(fhir_parse(ok[i], strlen(ok[i]), &o, &err) == 0,
		    "%zu: %s", i, err.msg);
		json_object_put(o);
	}
	/* the pair decodes to U+1F600 */
	ck_assert_int_eq(fhir_parse(ok[1], strlen(ok[1]), &o, &err), 0);
	ck_assert_str_eq(fhir_str(o, "a"), "\xf0\x9f\x98\x80");
	json_object_put(o);
}
END_TEST

START_TEST(test_depth_limit)
{
	char		 buf[2 * 200 + 1];
	json_object	*o;
	struct p2p_err	 err;
	int		 i;

	for (i = 0; i < 200; i++) {
		buf[i] = '[';
		buf[200 + i] = ']';
	}
	buf[400] = '\0';
	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(buf, 400, &o, &err), -1);
	ck_assert_int_eq(err.status, 400);
}
END_TEST

START_TEST(test_parse_resource)
{
	json_object	*o;
	struct p2p_err	 err;
	const char	*p = "{\"resourceType\":\"Patient\",\"id\":\"x\"}";

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse_resource(p, strlen(p), "Patient", &o, &err), 0);
	ck_assert_str_eq(fhir_id(o), "x");
	json_object_put(o);
	ck_assert_int_eq(fhir_parse_resource(p, strlen(p), "Coverage", &o, &err), -1);
	ck_assert_str_eq(err.expr, "resourceType");
	ck_assert_int_eq(err.issue, P2P_ISSUE_STRUCTURE);
	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse_resource("[]", 2, NULL, &o, &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse_resource("{}", 2, NULL, &o, &err), -1);
	ck_assert_int_eq(err.issue, P2P_ISSUE_REQUIRED);
}
END_TEST

START_TEST(test_path_and_coding)
{
	const char	*p = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Doe\","
	    "\"given\":[\"Ann\",\"B\"]}],\"identifier\":[{\"type\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/v2-0203\",\"code\":\"MB\"}]},\"value\":\"1\"}]}";
	json_object	*o, *t;
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(p, strlen(p), &o, &err), 0);
	ck_assert_str_eq(fhir_path_str(o, "name.family"), "Doe");
	ck_assert_str_eq(fhir_path_str(o, "name.given"), "Ann");
	ck_assert_ptr_null(fhir_path_str(o, "name.nope"));
	ck_assert_ptr_null(fhir_path_str(o, "name"));
	t = fhir_path(o, "identifier.type");
	ck_assert(fhir_has_coding(t, "http://terminology.hl7.org/CodeSystem/v2-0203", "MB"));
	ck_assert(fhir_has_coding(t, NULL, "MB"));
	ck_assert(!fhir_has_coding(t, "http://other", "MB"));
	ck_assert(!fhir_has_coding(t, NULL, "UMB"));
	json_object_put(o);
}
END_TEST

START_TEST(test_outcome)
{
	struct p2p_err	 err;
	json_object	*oo, *is;

	p2p_err_init(&err);
	ck_assert_int_eq(p2p_fail_at(&err, 400, P2P_ISSUE_REQUIRED,
	    "Parameters.parameter", "missing %s", "MemberPatient"), -1);
	/* The first failure wins. */
	p2p_fail(&err, 500, P2P_ISSUE_EXCEPTION, "later");
	ck_assert_int_eq(err.status, 400);
	oo = fhir_outcome_new(&err);
	ck_assert_str_eq(fhir_type(oo), "OperationOutcome");
	is = fhir_path(oo, "issue");
	ck_assert_str_eq(fhir_str(is, "severity"), "error");
	ck_assert_str_eq(fhir_str(is, "code"), "required");
	ck_assert_str_eq(fhir_path_str(is, "details.text"), "missing MemberPatient");
	ck_assert_str_eq(fhir_path_str(is, "expression"), "Parameters.parameter");
	json_object_put(oo);
	p2p_err_init(&err);
	p2p_fail(&err, 503, P2P_ISSUE_TRANSIENT, "busy");
	oo = fhir_outcome_new(&err);
	ck_assert_str_eq(fhir_path_str(oo, "issue.severity"), "fatal");
	ck_assert_str_eq(fhir_path_str(oo, "issue.code"), "transient");
	json_object_put(oo);
}
END_TEST

START_TEST(test_issue_codes)
{
	int	 i;

	for (i = 0; i < P2P_ISSUE__MAX; i++)
		ck_assert_ptr_nonnull(p2p_issue_code((enum p2p_issue)i));
	ck_assert_str_eq(p2p_issue_code(P2P_ISSUE_MULTIPLE_MATCHES), "multiple-matches");
	ck_assert_str_eq(p2p_issue_code(P2P_ISSUE_NOT_FOUND), "not-found");
	ck_assert_str_eq(p2p_issue_code(P2P_ISSUE__MAX), "exception");
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_parse_table, docs),
		UNIT_TABLE(test_strict, strict),
		UNIT_TEST(test_strict_ok),
		UNIT_TEST(test_depth_limit),
		UNIT_TEST(test_parse_resource),
		UNIT_TEST(test_path_and_coding),
		UNIT_TEST(test_outcome),
		UNIT_TEST(test_issue_codes),
	};

	return unit_run(unit_tests("fhir", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
