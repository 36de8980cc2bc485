/*
 * Unit tests for json/valid.c: FHIR R4 types, ids, references, dates,
 * and the element checks the loader refuses invalid resources with.
 */
#include <check.h>
#include <string.h>

#include "json/jscan.h"
#include "json/valid.h"
#include "unit.h"

/*
 * Names that are R4 resource types (the table scopes and the loader
 * are checked against), and names that are not.
 */
static const char *const r4_types[] = {
	"Account", "Patient", "ExplanationOfBenefit", "VisionPrescription",
};
static const char *const not_types[] = {
	"Observaton", "patient",
	"Client",				/* Aidbox, not FHIR */
	"Resource", "DomainResource",		/* abstract */
	"DeviceUsage",				/* R5 */
	"",
};

START_TEST(test_types_ids)
{
	size_t	 i;

	for (i = 0; i < UNIT_N(r4_types); i++)
		ck_assert_msg(fhir_type_known(r4_types[i]), "%s", r4_types[i]);
	for (i = 0; i < UNIT_N(not_types); i++)
		ck_assert_msg(!fhir_type_known(not_types[i]), "%s",
		    not_types[i]);
	ck_assert(!fhir_type_known(NULL));
	ck_assert(fhir_valid_id("a"));
	ck_assert(fhir_valid_id("A-z.09"));
	ck_assert(fhir_valid_id("0123456789012345678901234567890123456789"
	    "012345678901234567890123"));		/* 64 */
	ck_assert(!fhir_valid_id("0123456789012345678901234567890123456789"
	    "0123456789012345678901234"));		/* 65 */
	ck_assert(!fhir_valid_id(""));
	ck_assert(!fhir_valid_id("a_b"));
	ck_assert(!fhir_valid_id("a/b"));
	ck_assert(!fhir_valid_id("a b"));
	ck_assert(!fhir_valid_id(NULL));
}
END_TEST

static const struct {
	const char	*ref;
	int		 ok;
	int		 line;
} refs[] = {
	{ "Patient/p1", 1, __LINE__ },
	{ "Patient/p1/_history/2", 1, __LINE__ },
	{ "Organization/a.b-c", 1, __LINE__ },
	{ "https://x.org/fhir/Patient/p1", 1, __LINE__ },
	{ "http://x.org/anything?at=all", 1, __LINE__ },
	{ "#", 1, __LINE__ },
	{ "#l1", 1, __LINE__ },
	{ "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-00000000000A", 1, __LINE__ },
	{ "urn:oid:2.16.840.1.113883.6.69", 1, __LINE__ },
	{ "", 0, __LINE__ },
	{ "Patient", 0, __LINE__ },
	{ "Patient/", 0, __LINE__ },
	{ "Patient/a b", 0, __LINE__ },
	{ "Patient/a/b", 0, __LINE__ },
	{ "Patient/a/_history/", 0, __LINE__ },
	{ "Observaton/1", 0, __LINE__ },
	{ "patient/1", 0, __LINE__ },
	{ "Patient?identifier=x", 0, __LINE__ },
	{ " Patient/1", 0, __LINE__ },
	{ "#a b", 0, __LINE__ },
	{ "urn:uuid:0000", 0, __LINE__ },
	{ "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-00000000000G", 0, __LINE__ },
	{ "urn:oid:3.1", 0, __LINE__ },
	{ "urn:oid:1.02", 0, __LINE__ },
	{ "urn:oid:1", 0, __LINE__ },
	{ "urn:isbn:123", 0, __LINE__ },
	{ "http://", 0, __LINE__ },
	{ "https:///Patient/1", 0, __LINE__ },
	{ "http://x.org/a b", 0, __LINE__ },
	{ "ftp://x.org/Patient/1", 0, __LINE__ },
};

START_TEST(test_refs)
{
	ck_assert_msg(fhir_valid_ref(refs[_i].ref) == refs[_i].ok,
	    "line %d: %s", refs[_i].line, refs[_i].ref);
}
END_TEST

START_TEST(test_dates)
{
	ck_assert(fhir_valid_date("2026"));
	ck_assert(fhir_valid_date("2026-02"));
	ck_assert(fhir_valid_date("2024-02-29"));
	ck_assert(!fhir_valid_date("2026-02-29"));
	ck_assert(!fhir_valid_date("2026-01-01T00:00:00Z"));
	ck_assert(fhir_valid_datetime("2026-01-01"));
	ck_assert(fhir_valid_datetime("2026-01-01T00:00:00.5+14:00"));
	ck_assert(!fhir_valid_datetime("2026-01-01T00:00:00+14:30"));
	ck_assert(!fhir_valid_datetime("2026-01-01T00:00"));
	ck_assert(fhir_valid_instant("2026-01-01T00:00:00Z"));
	ck_assert(!fhir_valid_instant("2026-01-01"));
	ck_assert(!fhir_valid_instant(NULL));
}
END_TEST

/* Resources checked: NULL want means valid; else the message's start. */
static const struct {
	const char	*json;
	const char	*want;
	const char	*expr;
	int		 line;
} resources[] = {
	{ "{\"resourceType\":\"Patient\",\"id\":\"p\",\"birthDate\":\"1990\","
	  "\"name\":[{\"family\":\"F\",\"given\":[\"G\"]}],\"identifier\":[{"
	  "\"system\":\"s\",\"value\":\"v\",\"period\":{\"start\":\"2020\"}}],"
	  "\"extension\":[{\"url\":\"u\",\"valueDate\":\"2020-01-01\"}],"
	  "\"unknownElement\":{\"x\":[1,\"y\",{\"z\":true}]}}", NULL, NULL,
	  __LINE__ },
	{ "{\"resourceType\":\"Client\",\"id\":\"c\",\"secret\":7,"
	  "\"date\":\"never\"}", NULL, NULL, __LINE__ },	/* not FHIR */
	{ "{\"resourceType\":\"Observation\",\"id\":\"o\",\"component\":[{"
	  "\"valueDateTime\":\"2026-13-01\"}]}", "Observation/o: component[0]."
	  "valueDateTime \"2026-13-01\" is not a valid FHIR dateTime",
	  "Observation.component[0].valueDateTime", __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"id\":\"o\",\"effectiveInstant\":"
	  "\"2026-01-01\"}", "Observation/o: effectiveInstant \"2026-01-01\" is "
	  "not a valid FHIR instant", "Observation.effectiveInstant", __LINE__ },
	{ "{\"resourceType\":\"Provenance\",\"id\":\"v\",\"target\":[{"
	  "\"reference\":\"Patient/\"}]}", "Provenance/v: target[0].reference "
	  "\"Patient/\" is not a valid reference", "Provenance.target[0]."
	  "reference", __LINE__ },
	{ "{\"resourceType\":\"Claim\",\"id\":\"c\",\"accident\":{\"date\":"
	  "\"soon\"}}", "Claim/c: accident.date \"soon\"", "Claim.accident.date",
	  __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"p\",\"contained\":[{"
	  "\"resourceType\":\"Organization\",\"id\":\"o\",\"identifier\":7}]}",
	  "Patient/p: contained[0].identifier must be an array",
	  "Patient.contained[0].identifier", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"p\",\"contained\":[{"
	  "\"resourceType\":\"Organization\"}]}", "Patient/p: contained[0] "
	  "needs a valid FHIR id", "Patient.contained[0]", __LINE__ },
	{ "{\"resourceType\":\"Consent\",\"id\":\"c\",\"provision\":{"
	  "\"period\":{\"end\":\"2026-12-01T00:00:00-99:99\"}}}", "Consent/c: "
	  "provision.period.end \"2026-12-01T00:00:00-99:99\" is not a valid "
	  "FHIR dateTime", "Consent.provision.period.end", __LINE__ },
	{ "[1]", "expected a JSON object", "", __LINE__ },
	{ "{\"resourceType\":\"Observaton\",\"id\":\"o\"}", "resourceType "
	  "\"Observaton\" is not a FHIR R4 resource type", "resourceType",
	  __LINE__ },
	{ "{\"resourceType\":\"Observation\"}", "Observation: id is missing",
	  "id", __LINE__ },
};

START_TEST(test_check)
{
	struct jscan	 j;
	struct p2p_err	 err;
	static const char *const extra[] = { "Client", NULL };
	const char	*s = resources[_i].json;
	int		 rc;

	jscan_init(&j);
	p2p_err_init(&err);
	ck_assert_int_eq(jscan_parse(&j, s, strlen(s), 0), 0);
	rc = fhir_check(&j, 1, extra, &err);
	if (resources[_i].want == NULL)
		ck_assert_msg(rc == 0, "line %d: %s", resources[_i].line,
		    err.msg);
	else {
		ck_assert_msg(rc == -1, "line %d: accepted",
		    resources[_i].line);
		ck_assert_int_eq(err.status, 422);
		ck_assert_msg(strncmp(err.msg, resources[_i].want,
		    strlen(resources[_i].want)) == 0, "line %d: %s",
		    resources[_i].line, err.msg);
		ck_assert_msg(strcmp(err.expr, resources[_i].expr) == 0,
		    "line %d: %s", resources[_i].line, err.expr);
	}
	jscan_free(&j);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_types_ids),
		UNIT_TABLE(test_refs, refs),
		UNIT_TEST(test_dates),
		UNIT_TABLE(test_check, resources),
	};

	return unit_run(unit_tests("valid", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
