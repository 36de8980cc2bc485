/*
 * check_bulkmatch.c - unit tests for member/bulkmatch.c: the kick-off checks.
 */
#include <check.h>

#include "member/bulkmatch.h"

#include "unit.h"
#include "jobfix.h"

/*
 * $bulk-member-match kick-off checks: malformed MemberBundles are a 400
 * naming the index; one merely missing a required part is accepted (the
 * runner fails that member alone) but bulk_match_parts() refuses it.
 */
#define MB_PAT	"{\"name\":\"MemberPatient\",\"resource\":{\"resourceType\":\"Patient\"}}"
#define MB_COV	"{\"name\":\"CoverageToMatch\",\"resource\":{\"resourceType\":\"Coverage\"}}"
#define MB_CON	"{\"name\":\"Consent\",\"resource\":{\"resourceType\":\"Consent\"}}"
#define MB(parts) "{\"name\":\"MemberBundle\",\"part\":[" parts "]}"
#define PARAMS(mbs) "{\"resourceType\":\"Parameters\",\"parameter\":[" mbs "]}"

START_TEST(test_bulk_match_check)
{
	static const struct {
		int		 line;
		const char	*body;
		int		 status;	/* 0: accepted */
		const char	*words;		/* in the message */
		int		 parts_ok;	/* last bundle complete */
	} t[] = {
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON)), 0, NULL, 1 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON) ","
		    MB(MB_PAT "," MB_COV)), 0, NULL, 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_CON)), 0, NULL, 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON) ","
		    MB(MB_PAT "," MB_COV "," MB_CON "," MB_CON)), 400,
		    "MemberBundle 2", 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_PAT "," MB_CON)), 400,
		    "MemberBundle 1", 0 },
		{ __LINE__, PARAMS(MB("{\"name\":\"Consent\",\"resource\":"
		    "{\"resourceType\":\"Patient\"}}")), 400, "Consent", 0 },
		{ __LINE__, PARAMS(MB("{\"name\":\"Other\",\"resource\":"
		    "{\"resourceType\":\"Patient\"}}")), 400, "Other", 0 },
		{ __LINE__, PARAMS("{\"name\":\"MemberBundle\"}"), 400,
		    "MemberBundle 1", 0 },
		{ __LINE__, PARAMS("{\"name\":\"x\",\"valueString\":\"y\"}"), 400,
		    "MemberBundle", 0 },
		{ __LINE__, PARAMS(""), 400, "MemberBundle", 0 },
		{ __LINE__, "{\"resourceType\":\"Patient\"}", 400, "Parameters",
		    0 },
		{ __LINE__, PARAMS(MB(MB_PAT) "," MB(MB_PAT) "," MB(MB_PAT)), 413,
		    "limit", 0 },
	};
	struct match_input	 in;
	struct p2p_err		 err;
	json_object		*body, *bundles, *arr;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p2p_err_init(&err);
		body = json_tokener_parse(t[i].body);
		ck_assert_msg(body != NULL, "line %d: bad test JSON", t[i].line);
		rc = bulk_match_check(body, 2, &bundles, &err);
		if (t[i].status == 0) {
			ck_assert_msg(rc == 0, "line %d: refused: %s", t[i].line,
			    err.msg);
			arr = bundles;
			p2p_err_init(&err);
			rc = bulk_match_parts(json_object_array_get_idx(arr,
			    json_object_array_length(arr) - 1), 0, &in, &err);
			ck_assert_msg(rc == (t[i].parts_ok ? 0 : -1),
			    "line %d: parts %d", t[i].line, rc);
			if (!t[i].parts_ok)
				ck_assert_msg(err.status == 400 &&
				    strstr(err.msg, "required") != NULL,
				    "line %d: %d %s", t[i].line, err.status,
				    err.msg);
			json_object_put(bundles);
		} else {
			ck_assert_msg(rc == -1 && err.status == t[i].status,
			    "line %d: %d %s", t[i].line, err.status, err.msg);
			ck_assert_msg(strstr(err.msg, t[i].words) != NULL,
			    "line %d: %s", t[i].line, err.msg);
			ck_assert_ptr_null(bundles);
		}
		json_object_put(body);
	}
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("bulkmatch", &tc, jobfix_setup, jobfix_teardown);

	tcase_add_test(tc, test_bulk_match_check);
	return unit_run(s);
}
