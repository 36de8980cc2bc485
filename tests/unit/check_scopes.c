/* Unit tests for scopes.c: parsing, covering, permits, grants. */
#include <check.h>
#include <string.h>

#include "auth/scopes.h"
#include "unit.h"

static const struct {
	const char	*s;
	int		 ok, smart, perms;
	int		 line;
} parse[] = {
	{ "system/*.read", 0, 1, SCOPE_R | SCOPE_S, __LINE__ },
	{ "system/*.rs", 0, 1, SCOPE_R | SCOPE_S, __LINE__ },
	{ "system/Patient.read", 0, 1, SCOPE_R | SCOPE_S, __LINE__ },
	{ "system/Patient.r", 0, 1, SCOPE_R, __LINE__ },
	{ "system/Group.cruds", 0, 1, 31, __LINE__ },
	{ "system/Group.write", 0, 1, SCOPE_C | SCOPE_U | SCOPE_D, __LINE__ },
	{ "user/*.*", 0, 1, 31, __LINE__ },
	{ "patient/Observation.rs?category=laboratory", 0, 1,
	    SCOPE_R | SCOPE_S, __LINE__ },
	{ "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match",
	    0, 0, 0, __LINE__ },
	{ "system.Group.u?code=x|match", 0, 0, 0, __LINE__ },
	{ "system/Patient.sr", -1, 0, 0, __LINE__ },	/* out of order */
	{ "system/Patient.dus", -1, 0, 0, __LINE__ },
	{ "system/Patient.rr", -1, 0, 0, __LINE__ },
	{ "system/Patient.", -1, 0, 0, __LINE__ },
	{ "system/patient.rs", -1, 0, 0, __LINE__ },	/* lower-case type */
	{ "system/*.readx", -1, 0, 0, __LINE__ },
	{ "admin/*.rs", -1, 0, 0, __LINE__ },
	{ "system*.rs", -1, 0, 0, __LINE__ },
	{ "system/Patient.rs?", -1, 0, 0, __LINE__ },
	{ "openid", -1, 0, 0, __LINE__ },
	{ "", -1, 0, 0, __LINE__ },
	{ "system/*.rs\"", -1, 0, 0, __LINE__ },
};

START_TEST(test_parse)
{
	struct scope_item	 it;
	int			 rc = scope_parse(parse[_i].s, &it);

	ck_assert_msg(rc == parse[_i].ok, "line %d: rc %d", parse[_i].line, rc);
	if (rc == 0) {
		ck_assert_msg(it.smart == parse[_i].smart, "line %d",
		    parse[_i].line);
		ck_assert_msg(it.perms == parse[_i].perms, "line %d: %d",
		    parse[_i].line, it.perms);
	}
}
END_TEST

#define MM "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match"

static const struct {
	const char	*granted, *need;
	int		 want;
	int		 line;
} permit[] = {
	{ "system/*.rs", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
	{ "system/*.read", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
	{ "system/Patient.read", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
	{ "system/Patient.rs", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
	{ "system/Patient.r", P2P_SCOPE_EVERYTHING, 0, __LINE__ },
	{ "system/Group.rs", P2P_SCOPE_EVERYTHING, 0, __LINE__ },
	{ "patient/*.rs", P2P_SCOPE_EVERYTHING, 0, __LINE__ },
	{ "user/*.*", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
	{ "user/*.*", P2P_SCOPE_MATCH, 1, __LINE__ },
	{ MM, P2P_SCOPE_MATCH, 1, __LINE__ },
	{ MM, P2P_SCOPE_EVERYTHING, 0, __LINE__ },
	{ "system/Patient.rs", P2P_SCOPE_MATCH, 0, __LINE__ },
	{ "system/*.rs", P2P_SCOPE_MATCH, 1, __LINE__ },
	{ "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/"
	    "BulkMemberMatch", P2P_SCOPE_BULK_MATCH, 1, __LINE__ },
	{ "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/"
	    "bulk-member-match", P2P_SCOPE_BULK_MATCH, 1, __LINE__ },
	{ MM, P2P_SCOPE_BULK_MATCH, 0, __LINE__ },
	{ "system/Group.read", P2P_SCOPE_EXPORT, 1, __LINE__ },
	{ "system/*.cruds", P2P_SCOPE_EXPORT, 1, __LINE__ },
	{ "system.Group.u?code=http://hl7.org/fhir/us/davinci-pdex/ValueSet/"
	    "PDexMultiMemberMatchResultVS|match", P2P_SCOPE_EXPORT, 1, __LINE__ },
	{ "system/Patient.rs", P2P_SCOPE_EXPORT, 0, __LINE__ },
	{ "system/Group.rs?code=x", P2P_SCOPE_EXPORT, 0, __LINE__ },
	{ "", P2P_SCOPE_EXPORT, 0, __LINE__ },
	{ "junk system/Patient.rs", P2P_SCOPE_EVERYTHING, 1, __LINE__ },
};

START_TEST(test_permit)
{
	ck_assert_msg(scopes_permit(permit[_i].granted, permit[_i].need) ==
	    permit[_i].want, "line %d", permit[_i].line);
}
END_TEST

static const struct {
	const char	*requested, *allowed, *granted;	/* NULL: refused */
	int		 line;
} grant[] = {
	{ "system/*.rs", "system/*.rs", "system/*.rs", __LINE__ },
	{ "system/*.read", "system/*.rs", "system/*.read", __LINE__ },
	{ "system/*.rs", "system/*.read", "system/*.rs", __LINE__ },
	{ "system/Patient.rs system/Group.read", "system/*.rs",
	    "system/Patient.rs system/Group.read", __LINE__ },
	{ "system/*.rs system/Patient.write", "system/*.rs", "system/*.rs",
	    __LINE__ },
	{ "system/*.cruds", "system/*.rs", NULL, __LINE__ },
	{ "system/*.r", "system/*.rs", "system/*.r", __LINE__ },
	{ "user/*.*", "system/*.rs", NULL, __LINE__ },
	{ "user/*.*", "system/*.rs user/*.*", "user/*.*", __LINE__ },
	{ MM, "system/*.rs " MM, MM, __LINE__ },
	{ MM, "system/*.rs", NULL, __LINE__ },
	{ "  system/*.rs   ", "system/*.rs", "system/*.rs", __LINE__ },
	{ "system/*.rs bogus", "system/*.rs", NULL, __LINE__ },
	{ "", "system/*.rs", NULL, __LINE__ },
	{ "   ", "system/*.rs", NULL, __LINE__ },
	{ "system/Group.rs", "", NULL, __LINE__ },
	/* RFC 6749 5.2 invalid_scope: a type FHIR R4 does not define */
	{ "system/NoSuchResourceType.read", "system/*.rs", NULL, __LINE__ },
	{ "system/Patient.rs system/Patients.rs", "system/*.rs", NULL,
	    __LINE__ },
	{ "system/patient.rs", "system/*.rs", NULL, __LINE__ },
	{ "system/MedicinalProductUndesirableEffect.rs", "system/*.rs",
	    "system/MedicinalProductUndesirableEffect.rs", __LINE__ },
	{ "system/Account.read", "system/*.rs", "system/Account.read",
	    __LINE__ },
	{ "system/VisionPrescription.rs", "system/*.rs",
	    "system/VisionPrescription.rs", __LINE__ },
};

START_TEST(test_grant)
{
	char	 out[1024], why[128];
	int	 rc;

	why[0] = '\0';
	rc = scopes_grant(grant[_i].requested, grant[_i].allowed, out,
	    sizeof(out), why, sizeof(why));
	if (grant[_i].granted == NULL)
		ck_assert_msg(rc == -1 && why[0] != '\0', "line %d: %s",
		    grant[_i].line, out);
	else
		ck_assert_msg(rc == 0 && strcmp(out, grant[_i].granted) == 0,
		    "line %d: %s %s", grant[_i].line, out, why);
}
END_TEST

START_TEST(test_grant_limits)
{
	char	 req[4096], out[1024], why[128];
	int	 i;

	req[0] = '\0';
	for (i = 0; i < SCOPES_MAX + 1; i++)
		strcat(req, "system/*.rs ");
	ck_assert_int_eq(scopes_grant(req, "system/*.rs", out, sizeof(out),
	    why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "too many"));
	memset(req, 'a', 600);
	memcpy(req, "system/", 7);
	req[600] = '\0';
	ck_assert_int_eq(scopes_grant(req, "system/*.rs", out, sizeof(out),
	    why, sizeof(why)), -1);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_parse, parse),
		UNIT_TABLE(test_permit, permit),
		UNIT_TABLE(test_grant, grant),
		UNIT_TEST(test_grant_limits),
	};

	return unit_run(unit_tests("scopes", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
