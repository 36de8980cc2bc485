/*
 * Unit tests for datascope/classify.c: the payer-to-payer data scope at
 * load time.  Every case is classified twice, from its text as read and
 * from the text json-c writes of it (the loader's two ways in), and
 * both must give the same.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "json/jscan.h"
#include "datascope/classify.h"
#include "unit.h"

#define SEC(sys, code)	"\"meta\":{\"security\":[{\"system\":\"" sys \
	"\",\"code\":\"" code "\"}]}"
#define CONF	"http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
#define ACT	"http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define REVIEW(code) "{\"url\":\"http://hl7.org/fhir/us/davinci-pdex/" \
	"StructureDefinition/extension-reviewAction\",\"extension\":[{\"url\":" \
	"\"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/" \
	"extension-reviewActionCode\",\"valueCodeableConcept\":{\"coding\":[{" \
	"\"system\":\"https://codesystem.x12.org/005010/306\",\"code\":\"" \
	code "\"}]}}]}"
#define PA_HEAD	"{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"pa\"," \
	"\"use\":\"preauthorization\",\"status\":\"active\"," \
	"\"created\":\"2026-01-02T10:00:00Z\","
#define CPT_ITEM(ext) "\"item\":[{\"sequence\":1,\"productOrService\":{" \
	"\"coding\":[{\"system\":\"http://www.ama-assn.org/go/cpt\",\"code\":" \
	"\"72148\"}]},\"adjudication\":[{\"extension\":[" ext "],\"category\":" \
	"{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/" \
	"adjudication\",\"code\":\"submitted\"}]},\"amount\":{\"value\":10," \
	"\"currency\":\"USD\"}}]}]"
#define TYPE(c)	"\"type\":{\"coding\":[{\"system\":\"http://terminology." \
	"hl7.org/CodeSystem/claim-type\",\"code\":\"" c "\"}]},"
#define HCPCS	"https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
#define CPT	"http://www.ama-assn.org/go/cpt"
#define DRUG_PA	(SCOPE_PA | SCOPE_DRUG)

/* Date of service per type, and the flags. */
static const struct {
	const char	*json;
	const char	*dos;
	unsigned	 flags;
	const char	*changed;
	int		 line;
} cases[] = {
	{ "{\"resourceType\":\"Patient\",\"birthDate\":\"1950-01-01\"}", "", 0,
	  "", __LINE__ },
	{ "{\"resourceType\":\"Coverage\",\"period\":{\"start\":\"2020-01-01\"}}",
	  "", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Encounter\",\"period\":{\"start\":"
	  "\"2021-03-04T09:00:00-05:00\"}}", "2021-03-04", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"onsetDateTime\":\"2019-05\","
	  "\"recordedDate\":\"2020-01-01\"}", "2019-05-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"onsetPeriod\":{\"start\":\"2018\"},"
	  "\"recordedDate\":\"2020-01-01\"}", "2018-01-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"recordedDate\":\"2020-02-03\"}",
	  "2020-02-03", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"onsetString\":\"childhood\"}", "",
	  0, "", __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"effectivePeriod\":{\"start\":"
	  "\"2022-01-02\"},\"issued\":\"2022-01-05T00:00:00Z\"}", "2022-01-02",
	  0, "", __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"issued\":"
	  "\"2022-01-05T00:00:00Z\"}", "2022-01-05", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"effectiveDateTime\":\"bad\"}", "",
	  0, "", __LINE__ },
	{ "{\"resourceType\":\"Procedure\",\"performedPeriod\":{\"start\":"
	  "\"2017-07-07\"}}", "2017-07-07", 0, "", __LINE__ },
	{ "{\"resourceType\":\"MedicationRequest\",\"authoredOn\":"
	  "\"2023-04-05\"}", "2023-04-05", 0, "", __LINE__ },
	{ "{\"resourceType\":\"MedicationDispense\",\"whenHandedOver\":"
	  "\"2023-04-06T10:00:00Z\"}", "2023-04-06", 0, "", __LINE__ },
	{ "{\"resourceType\":\"Immunization\",\"occurrenceDateTime\":"
	  "\"2016-10-01\"}", "2016-10-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"AllergyIntolerance\",\"recordedDate\":"
	  "\"2015-01-01\",\"onsetDateTime\":\"2010-01-01\"}", "2015-01-01", 0,
	  "", __LINE__ },
	{ "{\"resourceType\":\"DiagnosticReport\",\"effectiveDateTime\":"
	  "\"2024-02-29\"}", "2024-02-29", 0, "", __LINE__ },
	{ "{\"resourceType\":\"DocumentReference\",\"context\":{\"period\":{"
	  "\"start\":\"2024-03-01\"}}}", "2024-03-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"CarePlan\",\"period\":{\"start\":\"2024-03-02\"}}",
	  "2024-03-02", 0, "", __LINE__ },
	/* EOB: billablePeriod, else earliest item date, else created */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"billablePeriod\":{\"start\":\"2020-01-01\"},\"created\":"
	  "\"2020-02-01\"}", "2020-01-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"item\":[{\"servicedDate\":\"2020-05-01\"},{\"servicedPeriod\":{"
	  "\"start\":\"2020-04-01\"}}],\"created\":\"2020-06-01\"}",
	  "2020-04-01", 0, "", __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"created\":\"2020-06-01T00:00:00Z\"}", "2020-06-01", 0, "",
	  __LINE__ },
	/* sensitive labels */
	{ "{\"resourceType\":\"Condition\"," SEC(CONF, "R") "}", "",
	  SCOPE_SENSITIVE, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(CONF, "V") "}", "",
	  SCOPE_SENSITIVE, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(CONF, "N") "}", "", 0, "",
	  __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(ACT, "HIV") "}", "",
	  SCOPE_SENSITIVE, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(ACT, "ETH") "}", "",
	  SCOPE_SENSITIVE, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(ACT, "42CFRPart2") "}", "",
	  SCOPE_SENSITIVE, "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC(ACT, "NORDSCLCD") "}", "", 0,
	  "", __LINE__ },
	{ "{\"resourceType\":\"Condition\"," SEC("http://example.org", "HIV")
	  "}", "", 0, "", __LINE__ },
	/* prior authorizations */
	{ PA_HEAD TYPE("professional") CPT_ITEM(REVIEW("A1")) "}", "2026-01-02",
	  SCOPE_PA | SCOPE_FINANCIAL, "2026-01-02T10:00:00Z", __LINE__ },
	{ PA_HEAD TYPE("professional") CPT_ITEM(REVIEW("A4")) "}", "2026-01-02",
	  SCOPE_PA | SCOPE_FINANCIAL, "2026-01-02T10:00:00Z", __LINE__ },
	{ PA_HEAD TYPE("professional") CPT_ITEM(REVIEW("A3")) "}", "2026-01-02",
	  SCOPE_PA | SCOPE_EXCLUDED | SCOPE_FINANCIAL, "2026-01-02T10:00:00Z",
	  __LINE__ },
	/* denied then approved on appeal: approved */
	{ PA_HEAD TYPE("professional") CPT_ITEM(REVIEW("A3") "," REVIEW("A1"))
	  "}", "2026-01-02", SCOPE_PA | SCOPE_FINANCIAL, "2026-01-02T10:00:00Z",
	  __LINE__ },
	/* approved then cancelled */
	{ PA_HEAD TYPE("professional") CPT_ITEM(REVIEW("A1") "," REVIEW("C"))
	  "}", "2026-01-02", SCOPE_PA | SCOPE_PA_CLOSED | SCOPE_FINANCIAL,
	  "2026-01-02T10:00:00Z", __LINE__ },
	/*
	 * drug PAs (SCOPE_DRUG: released only with release_drug_pa):
	 * pharmacy type, or a line coded as a drug
	 */
	{ PA_HEAD TYPE("pharmacy") CPT_ITEM(REVIEW("A1")) "}", "2026-01-02",
	  DRUG_PA | SCOPE_FINANCIAL, "2026-01-02T10:00:00Z", __LINE__ },
	/* a drug below the item: in a detail line, in an addItem */
	{ PA_HEAD "\"item\":[{\"productOrService\":{\"coding\":[{\"system\":"
	  "\"" CPT "\",\"code\":\"96413\"}]},\"detail\":[{\"productOrService\":"
	  "{\"coding\":[{\"system\":\"" HCPCS "\",\"code\":\"J9035\"}]}}]}]}",
	  "2026-01-02", DRUG_PA, "2026-01-02T10:00:00Z", __LINE__ },
	{ PA_HEAD "\"addItem\":[{\"productOrService\":{\"coding\":[{"
	  "\"system\":\"" HCPCS "\",\"code\":\"J3490\"}]}}]}", "2026-01-02",
	  DRUG_PA, "2026-01-02T10:00:00Z", __LINE__ },
	/* a drug on a claim (not a PA) is released as any claim */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"item\":[{\"productOrService\":{\"coding\":[{\"system\":\""
	  HCPCS "\",\"code\":\"J0135\"}]}}]}", "", 0, "", __LINE__ },
	/* the authorization ends with its items, else its billable period */
	{ PA_HEAD "\"item\":[{\"servicedDate\":\"2026-02-03\"},{"
	  "\"servicedPeriod\":{\"end\":\"2026-02-01\"}}]}", "2026-02-03",
	  SCOPE_PA | SCOPE_PA_CLOSED, "2026-02-03T23:59:59Z", __LINE__ },
	{ PA_HEAD "\"billablePeriod\":{\"start\":\"2026-01-05\",\"end\":"
	  "\"2026-03-31\"}}", "2026-01-05", SCOPE_PA | SCOPE_PA_CLOSED,
	  "2026-03-31T23:59:59Z", __LINE__ },
	/* closed and no date at all: changed "" (never released) */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":"
	  "\"preauthorization\",\"status\":\"cancelled\"}", "",
	  SCOPE_PA | SCOPE_PA_CLOSED, "", __LINE__ },
	/* denial without review action: denialreason adjudication */
	{ PA_HEAD "\"adjudication\":[{\"category\":{\"coding\":[{\"system\":"
	  "\"http://hl7.org/fhir/us/carin-bb/CodeSystem/"
	  "C4BBAdjudicationDiscriminator\",\"code\":\"denialreason\"}]},"
	  "\"reason\":{\"text\":\"no\"}}]}", "2026-01-02", SCOPE_PA | SCOPE_EXCLUDED,
	  "2026-01-02T10:00:00Z", __LINE__ },
	/* closed by status; lastUpdated wins over created, as UTC */
	{ PA_HEAD "\"meta\":{\"lastUpdated\":\"2026-03-01T12:00:00+02:00\"},"
	  "\"outcome\":\"complete\"}", "2026-01-02", SCOPE_PA, "2026-03-01T10:00:00Z",
	  __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":"
	  "\"preauthorization\",\"status\":\"cancelled\",\"created\":"
	  "\"2026-01-02\"}", "2026-01-02", SCOPE_PA | SCOPE_PA_CLOSED,
	  "2026-01-02T00:00:00Z", __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":"
	  "\"preauthorization\",\"status\":\"entered-in-error\"}", "",
	  SCOPE_PA | SCOPE_PA_CLOSED, "", __LINE__ },
	/* approved with an authorization period: closed, changed = end */
	{ PA_HEAD "\"preAuthRefPeriod\":[{\"start\":\"2026-01-05\",\"end\":"
	  "\"2026-04-05\"}]}", "2026-01-02", SCOPE_PA | SCOPE_PA_CLOSED,
	  "2026-04-05T23:59:59Z", __LINE__ },
	/* pending with a period stays open */
	{ PA_HEAD "\"outcome\":\"queued\",\"preAuthRefPeriod\":[{\"end\":"
	  "\"2026-04-05\"}]}", "2026-01-02", SCOPE_PA, "2026-01-02T10:00:00Z", __LINE__ },
	/* PA labelled sensitive */
	{ PA_HEAD SEC(ACT, "PSY") "}", "2026-01-02", SCOPE_PA | SCOPE_SENSITIVE,
	  "2026-01-02T10:00:00Z", __LINE__ },
	/* a claim EOB with a denied line is still a claim */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"item\":[{\"adjudication\":[{\"category\":{\"coding\":[{\"code\":"
	  "\"denialreason\"}]},\"reason\":{\"text\":\"x\"}}]}]}", "", 0, "",
	  __LINE__ },
};

/*
 * The same classification from the text as read and as json-c writes
 * it: the loader's fast path and its json-c path cannot disagree.
 */
static void
same_both_ways(const char *json, int lu_source, struct scope_info *info,
    int line)
{
	struct scope_info	 w;

	ck_assert_msg(unit_classify(json, 0, lu_source, info) == 0,
	    "line %d", line);
	ck_assert_msg(unit_classify(json, 1, lu_source, &w) == 0, "line %d",
	    line);
	ck_assert_msg(strcmp(info->dos, w.dos) == 0 && info->flags ==
	    w.flags && strcmp(info->changed, w.changed) == 0, "line %d: "
	    "read and written differ", line);
	ck_assert_msg((info->p2p_json == NULL) == (w.p2p_json == NULL),
	    "line %d", line);
	if (info->p2p_json != NULL)
		ck_assert_msg(strcmp(info->p2p_json, w.p2p_json) == 0,
		    "line %d: %s\n%s", line, info->p2p_json, w.p2p_json);
	scope_info_free(&w);
}

START_TEST(test_classify)
{
	struct scope_info	 info;

	same_both_ways(cases[_i].json, 1, &info, cases[_i].line);
	ck_assert_msg(strcmp(info.dos, cases[_i].dos) == 0,
	    "line %d: dos %s", cases[_i].line, info.dos);
	ck_assert_msg(info.flags == cases[_i].flags, "line %d: flags %#x",
	    cases[_i].line, info.flags);
	ck_assert_msg(strcmp(info.changed, cases[_i].changed) == 0,
	    "line %d: changed %s", cases[_i].line, info.changed);
	scope_info_free(&info);
}
END_TEST

/*
 * Which service codes make a drug PA (docs/data-scope.md).
 * Regression, issue 15 point 7: a physician-administered drug
 * (HCPCS J-code) on a professional PA was released.
 */
static const struct {
	const char	*sys, *code;
	int		 drug;
	int		 line;
} drugs[] = {
	{ "http://hl7.org/fhir/sid/ndc", "00074433902", 1, __LINE__ },
	{ "urn:oid:2.16.840.1.113883.6.69", "00074433902", 1, __LINE__ },
	{ "http://www.nlm.nih.gov/research/umls/rxnorm", "1049221", 1,
	  __LINE__ },
	{ HCPCS, "J0135", 1, __LINE__ },
	{ HCPCS, "J0000", 1, __LINE__ },
	{ HCPCS, "J9999", 1, __LINE__ },
	{ HCPCS, "j0135", 1, __LINE__ },
	{ "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "J1745",
	  1, __LINE__ },
	{ "urn:oid:2.16.840.1.113883.6.285", "J1745", 1, __LINE__ },
	{ CPT, "J1745", 1, __LINE__ },		/* a Level II code sent as CPT */
	{ HCPCS, "Q0138", 1, __LINE__ },	/* ferumoxytol */
	{ HCPCS, "Q5101", 1, __LINE__ },	/* biosimilars */
	{ HCPCS, "Q5199", 1, __LINE__ },
	{ HCPCS, "Q9991", 1, __LINE__ },	/* buprenorphine ER */
	{ HCPCS, "S0012", 1, __LINE__ },
	{ HCPCS, "S0197", 1, __LINE__ },
	{ HCPCS, "S5001", 1, __LINE__ },
	{ HCPCS, "A9513", 1, __LINE__ },	/* a radiopharmaceutical */
	{ CPT, "90283", 1, __LINE__ },		/* an immune globulin */
	{ HCPCS, "E0601", 0, __LINE__ },	/* CPAP: equipment */
	{ HCPCS, "Q5001", 0, __LINE__ },	/* hospice care */
	{ HCPCS, "S0199", 0, __LINE__ },
	{ HCPCS, "S0011", 0, __LINE__ },
	{ HCPCS, "A9700", 0, __LINE__ },
	{ CPT, "72148", 0, __LINE__ },		/* an MRI */
	{ CPT, "90476", 0, __LINE__ },		/* a vaccine */
	{ "http://example.org/codes", "J0135", 0, __LINE__ },
	{ HCPCS, "J013", 0, __LINE__ },
	{ HCPCS, "J01355", 0, __LINE__ },
	{ HCPCS, "JX135", 0, __LINE__ },
	{ HCPCS, "J-135", 0, __LINE__ },
};

START_TEST(test_drug_codes)
{
	struct scope_info	 info;
	char			 pa[1024];

	snprintf(pa, sizeof(pa), PA_HEAD TYPE("professional") "\"item\":[{"
	    "\"productOrService\":{\"coding\":[{\"system\":\"%s\",\"code\":"
	    "\"%s\"}]}}]}", drugs[_i].sys, drugs[_i].code);
	same_both_ways(pa, 1, &info, drugs[_i].line);
	ck_assert_msg(info.flags == (drugs[_i].drug ? DRUG_PA : SCOPE_PA),
	    "line %d: flags %#x", drugs[_i].line, info.flags);
	scope_info_free(&info);
}
END_TEST

/*
 * Regression, issue 15 point 7: a PA whose meta.lastUpdated the loader
 * added (lu_source 0) takes its change time from its own dates, never
 * from that load-time stamp.  An approved PA whose period ended 14
 * months before the stamp stays closed with that end as its change.
 */
#define STAMPED_PA "{\"resourceType\":\"ExplanationOfBenefit\"," \
	"\"use\":\"preauthorization\",\"status\":\"active\",\"created\":" \
	"\"2024-10-20T10:00:00Z\",\"outcome\":\"complete\",\"meta\":{" \
	"\"lastUpdated\":\"2026-05-01T08:00:00Z\"},\"preAuthRefPeriod\":[{" \
	"\"start\":\"2024-11-01\",\"end\":\"2025-03-01\"}]}"
#define STAMPED_CANCELLED "{\"resourceType\":\"ExplanationOfBenefit\"," \
	"\"use\":\"preauthorization\",\"status\":\"cancelled\",\"created\":" \
	"\"2024-02-03T04:05:06Z\",\"meta\":{\"lastUpdated\":" \
	"\"2026-05-01T08:00:00Z\"}}"

static const struct {
	const char	*json;
	int		 lu_source;
	const char	*changed;
	int		 line;
} stamped[] = {
	/* the source's own lastUpdated is the decision time */
	{ STAMPED_PA, 1, "2026-05-01T08:00:00Z", __LINE__ },
	/* stamped: created, then the end of the authorization */
	{ STAMPED_PA, 0, "2025-03-01T23:59:59Z", __LINE__ },
	{ STAMPED_CANCELLED, 1, "2026-05-01T08:00:00Z", __LINE__ },
	{ STAMPED_CANCELLED, 0, "2024-02-03T04:05:06Z", __LINE__ },
};

START_TEST(test_stamped_pa)
{
	struct scope_info	 info;

	same_both_ways(stamped[_i].json, stamped[_i].lu_source, &info,
	    stamped[_i].line);
	ck_assert_uint_eq(info.flags, SCOPE_PA | SCOPE_PA_CLOSED);
	ck_assert_msg(strcmp(info.changed, stamped[_i].changed) == 0,
	    "line %d: %s", stamped[_i].line, info.changed);
	scope_info_free(&info);
}
END_TEST

/* A professional claim EOB with every kind of financial element. */
static const char eob[] =
"{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"e1\","
"\"meta\":{\"profile\":[\"http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
"C4BB-ExplanationOfBenefit-Professional-NonClinician\",\"http://example.org/x\"]},"
"\"status\":\"active\",\"use\":\"claim\","
"\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\",\"code\":\"professional\"}]},"
"\"patient\":{\"reference\":\"Patient/p1\"},"
"\"billablePeriod\":{\"start\":\"2024-01-01\"},"
"\"diagnosis\":[{\"sequence\":1,\"diagnosisCodeableConcept\":{\"coding\":[{\"code\":\"E11.9\"}]}}],"
"\"adjudication\":[{\"category\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator\",\"code\":\"billingnetworkstatus\"}]},"
"\"reason\":{\"coding\":[{\"code\":\"innetwork\"}]}},"
"{\"category\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication\",\"code\":\"paidtoprovider\"}]},\"amount\":{\"value\":5}}],"
"\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":[{\"code\":\"99213\"}]},"
"\"unitPrice\":{\"value\":1},\"net\":{\"value\":2},"
"\"detail\":[{\"sequence\":1,\"net\":{\"value\":3}}],"
"\"adjudication\":["
"{\"category\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/adjudication\",\"code\":\"submitted\"}]},\"amount\":{\"value\":100}},"
"{\"category\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/adjudication\",\"code\":\"copay\"}]},\"amount\":{\"value\":20}},"
"{\"category\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication\",\"code\":\"memberliability\"}]},\"amount\":{\"value\":20}},"
"{\"category\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator\",\"code\":\"adjustmentreason\"}]},"
"\"reason\":{\"coding\":[{\"code\":\"45\"}]},\"amount\":{\"value\":7}},"
"{\"category\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator\",\"code\":\"allowedunits\"}]},\"value\":2}"
"]}],"
"\"addItem\":[{\"productOrService\":{\"coding\":[{\"code\":\"A\"}]},\"net\":{\"value\":4}}],"
"\"total\":[{\"category\":{\"coding\":[{\"code\":\"submitted\"}]},\"amount\":{\"value\":100}}],"
"\"payment\":{\"type\":{\"coding\":[{\"code\":\"complete\"}]},\"date\":\"2024-02-01\","
"\"amount\":{\"value\":80},\"adjustment\":{\"value\":1}},"
"\"benefitBalance\":[{\"category\":{\"coding\":[{\"code\":\"1\"}]}}]}";

START_TEST(test_basis)
{
	struct scope_info	 info;
	struct p2p_err		 err;
	json_object		*b, *adj, *item, *prof;

	p2p_err_init(&err);
	same_both_ways(eob, 1, &info, __LINE__);
	ck_assert_uint_eq(info.flags, SCOPE_FINANCIAL);
	ck_assert_str_eq(info.dos, "2024-01-01");
	ck_assert_ptr_nonnull(info.p2p_json);
	ck_assert_int_eq(fhir_parse(info.p2p_json, strlen(info.p2p_json), &b,
	    &err), 0);
	/* money gone */
	ck_assert_ptr_null(fhir_get(b, "total", json_type_array));
	ck_assert_ptr_null(fhir_get(b, "benefitBalance", json_type_array));
	ck_assert_ptr_null(fhir_path(b, "payment.amount"));
	ck_assert_ptr_null(fhir_path(b, "payment.adjustment"));
	ck_assert_ptr_null(fhir_path(b, "item.net"));
	ck_assert_ptr_null(fhir_path(b, "item.unitPrice"));
	ck_assert_ptr_null(fhir_path(b, "item.detail.net"));
	ck_assert_ptr_null(fhir_path(b, "addItem.net"));
	ck_assert(strstr(info.p2p_json, "\"amount\"") == NULL);
	ck_assert(strstr(info.p2p_json, "submitted") == NULL);
	ck_assert(strstr(info.p2p_json, "copay") == NULL);
	ck_assert(strstr(info.p2p_json, "memberliability") == NULL);
	ck_assert(strstr(info.p2p_json, "paidtoprovider") == NULL);
	/* reason-only slices, units and clinical content kept */
	adj = fhir_get(b, "adjudication", json_type_array);
	ck_assert_uint_eq(json_object_array_length(adj), 1);
	ck_assert_str_eq(fhir_path_str(b, "adjudication.reason.coding.code"),
	    "innetwork");
	item = json_object_array_get_idx(fhir_get(b, "item", json_type_array),
	    0);
	adj = fhir_get(item, "adjudication", json_type_array);
	ck_assert_uint_eq(json_object_array_length(adj), 2);
	ck_assert_str_eq(fhir_path_str(item, "adjudication.reason.coding.code"),
	    "45");
	ck_assert_int_eq(json_object_get_int(fhir_get(
	    json_object_array_get_idx(adj, 1), "value", json_type_int)), 2);
	ck_assert_str_eq(fhir_path_str(b, "payment.date"), "2024-02-01");
	ck_assert_str_eq(fhir_path_str(b, "payment.type.coding.code"),
	    "complete");
	ck_assert_str_eq(fhir_path_str(b, "diagnosis.diagnosisCodeableConcept."
	    "coding.code"), "E11.9");
	ck_assert_str_eq(fhir_path_str(item, "productOrService.coding.code"),
	    "99213");
	ck_assert_ptr_nonnull(fhir_path(b, "item.detail.sequence"));
	/* profile: full C4BB replaced by Basis, others kept */
	prof = fhir_get(fhir_get(b, "meta", json_type_object), "profile",
	    json_type_array);
	ck_assert_uint_eq(json_object_array_length(prof), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(prof,
	    0)), "http://example.org/x");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(prof,
	    1)), "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
	    "C4BB-ExplanationOfBenefit-Professional-NonClinician-Basis");
	scope_info_free(&info);
	ck_assert_ptr_null(info.p2p_json);
	json_object_put(b);
}
END_TEST

/* Basis profile per type/subType; NULL when nothing changes. */
static const struct {
	const char	*json;
	const char	*profile;	/* NULL: p2p_json must be NULL */
	int		 line;
} profiles[] = {
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "institutional") "\"subType\":{\"coding\":[{\"system\":\"http://hl7."
	  "org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType\","
	  "\"code\":\"inpatient\"}]}}", "Inpatient-Institutional-Basis",
	  __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "institutional") "\"subType\":{\"coding\":[{\"system\":\"http://hl7."
	  "org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType\","
	  "\"code\":\"outpatient\"}]}}", "Outpatient-Institutional-Basis",
	  __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "oral") "\"status\":\"active\"}", "Oral-Basis", __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "pharmacy") "\"status\":\"active\"}", "Pharmacy-Basis", __LINE__ },
	/* already Basis, no money: unchanged */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
	  "\"meta\":{\"profile\":[\"http://hl7.org/fhir/us/carin-bb/"
	  "StructureDefinition/C4BB-ExplanationOfBenefit-Pharmacy-Basis\"]},"
	  TYPE("pharmacy") "\"status\":\"active\"}", NULL, __LINE__ },
	/* vision: no CARIN profile, no money: unchanged */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "vision") "\"status\":\"active\"}", NULL, __LINE__ },
	/* PA keeps its PDex profile; only money removed */
	{ PA_HEAD "\"meta\":{\"profile\":[\"http://hl7.org/fhir/us/davinci-pdex"
	  "/StructureDefinition/pdex-priorauthorization\"]}," TYPE(
	  "professional") CPT_ITEM(REVIEW("A1")) "}", "pdex-priorauthorization",
	  __LINE__ },
	/*
	 * regression, issue 15 harness: a claim without meta gets one,
	 * holding the Basis profile, read or written
	 */
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\"," TYPE(
	  "oral") "\"status\":\"active\",\"total\":[]}", "Oral-Basis",
	  __LINE__ },
	/* non-EOB resources are never rewritten */
	{ "{\"resourceType\":\"Claim\",\"total\":{\"value\":1}}", NULL,
	  __LINE__ },
	{ "{\"resourceType\":\"Encounter\",\"period\":{\"start\":\"2020\"}}",
	  NULL, __LINE__ },
};

START_TEST(test_profiles)
{
	struct scope_info	 info;
	struct p2p_err		 err;
	json_object		*b;
	const char		*p, *s = profiles[_i].json;

	p2p_err_init(&err);
	same_both_ways(s, 1, &info, profiles[_i].line);
	if (profiles[_i].profile == NULL) {
		ck_assert_msg(info.p2p_json == NULL, "line %d: %s",
		    profiles[_i].line, info.p2p_json);
		return;
	}
	ck_assert_msg(info.p2p_json != NULL, "line %d", profiles[_i].line);
	ck_assert_int_eq(fhir_parse(info.p2p_json, strlen(info.p2p_json), &b,
	    &err), 0);
	p = fhir_path_str(b, "meta.profile");
	ck_assert_msg(p != NULL && strlen(p) >= strlen(profiles[_i].profile) &&
	    strcmp(p + strlen(p) - strlen(profiles[_i].profile),
	    profiles[_i].profile) == 0, "line %d: %s", profiles[_i].line, p);
	ck_assert_uint_eq(json_object_array_length(fhir_get(fhir_get(b,
	    "meta", json_type_object), "profile", json_type_array)), 1);
	/* a PA keeps its decision but not the money */
	if (strstr(s, "preauthorization") != NULL) {
		ck_assert(strstr(info.p2p_json, "reviewActionCode") != NULL);
		ck_assert(strstr(info.p2p_json, "\"amount\"") == NULL);
		ck_assert(info.flags & SCOPE_FINANCIAL);
	}
	scope_info_free(&info);
	json_object_put(b);
}
END_TEST

/*
 * Shapes a claim's text can have that json-c writes differently: a
 * duplicate key makes the text as read unusable (1: the loader then
 * classifies the text json-c writes); other odd shapes are kept as
 * they are, the same both ways.  Regression (fuzz_prepare, corpus
 * regress-eob-no-meta): a claim without a meta object, or with one that
 * is not an object, gets meta with the Basis profile either way.
 */
START_TEST(test_odd_claims)
{
	static const char *const same[] = {
		"{\"resourceType\":\"ExplanationOfBenefit\",\"total\":1,"
		"\"adjudication\":[7,null,{\"amount\":1}]}",
		"{\"resourceType\":\"ExplanationOfBenefit\",\"meta\":{"
		"\"profile\":[7,{\"a\":\"Outpatient\"}]}," TYPE("institutional")
		"\"n\":-0,\"m\":-0.0}",
		"{\"resourceType\":\"ExplanationOfBenefit\",\"meta\":7,"
		TYPE("oral") "\"x\":\"a\\/b\\u00e9\"}",
		"{\"resourceType\":\"ExplanationOfBenefit\",\"use\":\"claim\","
		"\"meta\":\"x\"," TYPE("oral") "\"status\":\"active\"}",
	};
	struct scope_info	 info;
	size_t			 i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		same_both_ways(same[i], 1, &info, (int)i);
		scope_info_free(&info);
	}
	ck_assert_int_eq(unit_classify("{\"resourceType\":"
	    "\"ExplanationOfBenefit\",\"total\":1,\"total\":2}", 0, 1,
	    &info), 1);
	ck_assert_ptr_null(info.p2p_json);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_classify, cases),
		UNIT_TABLE(test_drug_codes, drugs),
		UNIT_TABLE(test_stamped_pa, stamped),
		UNIT_TEST(test_basis),
		UNIT_TABLE(test_profiles, profiles),
		UNIT_TEST(test_odd_claims),
	};

	return unit_run(unit_tests("scope", NULL, NULL, 30, tests,
	    UNIT_N(tests)));
}
