/* Unit tests for params.c: finding, counting, checking, building. */
#include <check.h>
#include <string.h>

#include "json/fhir.h"
#include "json/params.h"
#include "unit.h"

static const struct params_spec spec[] = {
	{ "MemberPatient", "Patient", 1, 1 },
	{ "CoverageToMatch", "Coverage", 1, 1 },
	{ "CoverageToLink", "Coverage", 0, 1 },
};
#define NSPEC	(sizeof(spec) / sizeof(spec[0]))

#define PAT	"{\"name\":\"MemberPatient\",\"resource\":{\"resourceType\":\"Patient\"}}"
#define COV	"{\"name\":\"CoverageToMatch\",\"resource\":{\"resourceType\":\"Coverage\"}}"
#define LNK	"{\"name\":\"CoverageToLink\",\"resource\":{\"resourceType\":\"Coverage\"}}"

/* Refusals: the Parameters body, the status, the expression named. */
static const struct {
	const char	*json;
	int		 status;
	const char	*expr;
	int		 line;
} bad[] = {
	{ "{\"resourceType\":\"Patient\"}", 400, "resourceType", __LINE__ },
	{ "{\"resourceType\":\"Parameters\"}", 400, "Parameters.parameter", __LINE__ },
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[]}", 400,
	  "Parameters.parameter", __LINE__ },
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT "]}", 400,
	  "Parameters.parameter", __LINE__ },			/* missing */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT "," PAT "," COV "]}",
	  400, "Parameters.parameter[1]", __LINE__ },		/* duplicated */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT ","
	  "{\"name\":\"CoverageToMatch\",\"resource\":{\"resourceType\":\"Patient\"}}]}",
	  400, "Parameters.parameter[1].resource", __LINE__ },	/* wrong type */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT ","
	  "{\"name\":\"CoverageToMatch\",\"valueString\":\"x\"}]}",
	  400, "Parameters.parameter[1].resource", __LINE__ },	/* no resource */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT "," COV ","
	  "{\"name\":\"Extra\",\"resource\":{\"resourceType\":\"Patient\"}}]}",
	  400, "Parameters.parameter[2].name", __LINE__ },	/* unknown */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT "," COV ","
	  "{\"resource\":{\"resourceType\":\"Patient\"}}]}",
	  400, "Parameters.parameter[2].name", __LINE__ },	/* no name */
	{ "{\"resourceType\":\"Parameters\",\"parameter\":[" PAT ",3]}",
	  400, "Parameters.parameter[1]", __LINE__ },		/* not an object */
};

START_TEST(test_bad)
{
	struct p2p_err	 err;
	json_object	*o, *list, *found[NSPEC];
	int		 rc = 0;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(bad[_i].json, strlen(bad[_i].json), &o,
	    &err), 0);
	if ((list = params_list(o, &err)) != NULL)
		rc = params_check(list, spec, NSPEC, "Parameters.parameter",
		    found, &err);
	ck_assert_msg(list == NULL || rc == -1, "line %d accepted", bad[_i].line);
	ck_assert_msg(err.status == bad[_i].status, "line %d: status %d",
	    bad[_i].line, err.status);
	ck_assert_msg(strcmp(err.expr, bad[_i].expr) == 0, "line %d: expr %s (%s)",
	    bad[_i].line, err.expr, err.msg);
	json_object_put(o);
}
END_TEST

START_TEST(test_good)
{
	static const char json[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    COV "," PAT "]}";
	struct p2p_err	 err;
	json_object	*o, *list, *found[NSPEC];
	size_t		 idx = 9;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(json, strlen(json), &o, &err), 0);
	ck_assert_ptr_nonnull(list = params_list(o, &err));
	ck_assert_int_eq(params_check(list, spec, NSPEC, "Parameters.parameter",
	    found, &err), 0);
	ck_assert_str_eq(fhir_type(found[0]), "Patient");
	ck_assert_str_eq(fhir_type(found[1]), "Coverage");
	ck_assert_ptr_null(found[2]);
	ck_assert_uint_eq(params_count(list, "MemberPatient"), 1);
	ck_assert_uint_eq(params_count(list, "Nope"), 0);
	ck_assert_ptr_nonnull(params_find(list, "MemberPatient", &idx));
	ck_assert_uint_eq(idx, 1);
	ck_assert_ptr_null(params_find(list, "CoverageToLink", NULL));
	ck_assert_ptr_nonnull(params_resource(params_find(list, "MemberPatient",
	    NULL), "Patient"));
	ck_assert_ptr_null(params_resource(params_find(list, "MemberPatient",
	    NULL), "Coverage"));
	json_object_put(o);
}
END_TEST

START_TEST(test_parts)
{
	/* The same check on a MemberBundle's part list (bulk). */
	static const char json[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    "{\"name\":\"MemberBundle\",\"part\":[" PAT "," LNK "]}]}";
	struct p2p_err	 err;
	json_object	*o, *list, *found[NSPEC];

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(json, strlen(json), &o, &err), 0);
	list = params_list(o, &err);
	ck_assert_int_eq(params_check(fhir_get(params_find(list, "MemberBundle",
	    NULL), "part", json_type_array), spec, NSPEC,
	    "Parameters.parameter[0].part", found, &err), -1);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.expr, "Parameters.parameter[0].part");
	ck_assert(strstr(err.msg, "CoverageToMatch") != NULL);
	json_object_put(o);
}
END_TEST

START_TEST(test_build)
{
	json_object	*p, *r;

	ck_assert_ptr_nonnull(p = params_new());
	r = json_object_new_object();
	fhir_add_str(r, "reference", "Patient/1");
	ck_assert_int_eq(params_add(p, "MemberId", "valueReference", r), 0);
	ck_assert_str_eq(fhir_path_str(p, "parameter.name"), "MemberId");
	ck_assert_str_eq(fhir_path_str(p, "parameter.valueReference.reference"),
	    "Patient/1");
	json_object_put(p);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_bad, bad),
		UNIT_TEST(test_good),
		UNIT_TEST(test_parts),
		UNIT_TEST(test_build),
	};

	return unit_run(unit_tests("params", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
