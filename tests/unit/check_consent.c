/* Unit tests for consent.c: each HRex Consent rule, storage, opt-outs
 * and the release check. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "member/consent.h"
#include "core/util.h"
#include "json/fhir.h"
#include "unit.h"

#define ST	"\"active\""
#define SC	"{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/consentscope\",\"code\":\"patient-privacy\"}]}"
#define CA	"[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"IDSCL\"}]}]"
#define HREX	"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html"
#define PO	"[{\"uri\":\"" HREX "#sensitive\"}]"
#define PT	"\"permit\""
#define PE	"{\"start\":\"2026-01-01T00:00:00Z\",\"end\":\"2027-01-01T00:00:00Z\"}"
#define IRCP	"{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\",\"code\":\"IRCP\"}]}"
#define AC	"[{\"role\":" IRCP ",\"reference\":{\"reference\":\"Organization/test-payer-001\"}}]"
#define NPI(s, v) "[{\"role\":" IRCP ",\"reference\":{\"identifier\":{\"system\":\"" s "\",\"value\":\"" v "\"}}}]"
#define US_NPI	"http://hl7.org/fhir/sid/us-npi"

#define CONSENT(st, sc, ca, po, pt, pe, ac) "{\"resourceType\":\"Consent\"," \
	"\"status\":" st ",\"scope\":" sc ",\"category\":" ca ",\"policy\":" po \
	",\"patient\":{\"reference\":\"Patient/test-member-001\"}," \
	"\"provision\":{\"type\":" pt ",\"period\":" pe ",\"actor\":" ac "}}"

static const struct {
	const char	*json;
	int		 status;	/* 0: accepted */
	const char	*issue;
	int		 sensitive;
	int		 line;
} rules[] = {
	/* The commercial seed's consent. */
	{ CONSENT(ST, SC, CA, PO, PT, PE, AC), 0, NULL, 1, __LINE__ },
	{ CONSENT(ST, SC, CA, "[{\"uri\":\"" HREX "#regular\"}]", PT, PE,
	  NPI(US_NPI, "5555555555")), 0, NULL, 0, __LINE__ },
	{ CONSENT(ST, SC, CA, "[{\"uri\":\"http://hl7.org/fhir/us/davinci-hrex/"
	  "StructureDefinition/hrex-consent#regular\"}]", PT, PE, AC), 0, NULL,
	  0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, "[{\"role\":" IRCP ",\"reference\":"
	  "{\"reference\":\"http://127.0.0.1:8080/fhir/Organization/test-payer-001\"}}]"),
	  0, NULL, 1, __LINE__ },
	/* A date-only end lasts to the end of that day. */
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-01-01\",\"end\":\"2026-06-01\"}",
	  AC), 0, NULL, 1, __LINE__ },
	{ CONSENT("\"inactive\"", SC, CA, PO, PT, PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT("7", SC, CA, PO, PT, PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, "{\"coding\":[{\"code\":\"patient-privacy\"}]}", CA, PO, PT,
	  PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, "[{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/"
	  "davinci-pdex/CodeSystem/pdex-consent-api-purpose\",\"code\":"
	  "\"provider-access\"}]}]", PO, PT, PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, "[{\"uri\":\"http://example.org/policy\"}]", PT, PE,
	  AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, "[{\"uri\":\"" HREX "#regular\"},{\"uri\":\"" HREX
	  "#sensitive\"}]", PT, PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, "[]", PT, PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, "\"deny\"", PE, AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-01-01\"}", AC), 422,
	  "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-01-01\",\"end\":\"soon\"}",
	  AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2027-01-01\",\"end\":\"2026-01-01\"}",
	  AC), 422, "business-rule", 0, __LINE__ },
	/*
	 * Regression, issue 15 point 5: an offset out of range (here
	 * -99:99) kept a consent that ended before now in effect for days.
	 */
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-01-01\",\"end\":"
	  "\"2026-06-01T00:00:00-99:99\"}", AC), 422, "business-rule", 0,
	  __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-01-01\",\"end\":"
	  "\"2026-06-01T00:00:00-14:00\"}", AC), 0, NULL, 1, __LINE__ },
	/* Expired, and not yet in effect. */
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2025-01-01\",\"end\":\"2026-03-01\"}",
	  AC), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, "{\"start\":\"2026-07-01\",\"end\":\"2027-03-01\"}",
	  AC), 422, "business-rule", 0, __LINE__ },
	/* Recipient rules. */
	{ CONSENT(ST, SC, CA, PO, PT, PE, "[]"), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, "[{\"role\":{\"coding\":[{\"system\":"
	  "\"http://terminology.hl7.org/CodeSystem/provenance-participant-type\","
	  "\"code\":\"performer\"}]},\"reference\":{\"reference\":"
	  "\"Organization/test-payer-001\"}}]"), 422, "business-rule", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, "[{\"role\":" IRCP ",\"reference\":"
	  "{\"reference\":\"Organization/other-payer-001\"}}]"), 422, "forbidden",
	  0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, NPI(US_NPI, "9999999999")), 422,
	  "forbidden", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, NPI("urn:other", "5555555555")), 422,
	  "forbidden", 0, __LINE__ },
	{ CONSENT(ST, SC, CA, PO, PT, PE, "[{\"role\":" IRCP ",\"reference\":"
	  "{\"reference\":\"Organization/test-payer-0012\"}}]"), 422, "forbidden",
	  0, __LINE__ },
	{ "{\"resourceType\":\"Patient\"}", 422, "business-rule", 0, __LINE__ },
};

static struct p2p_config	cfg;
static const char		npi[] = "5555555555";	/* the requesting payer */
static const char		org[] = "test-payer-001";
static time_t			now;	/* 2026-06-01T12:00:00Z */

static void
init_globals(void)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.fhir_base, sizeof(cfg.fhir_base), "http://127.0.0.1:8080/fhir");
	ck_assert_int_eq(time_parse("2026-06-01T12:00:00Z", 0, &now), 0);
}

START_TEST(test_rules)
{
	struct consent_terms	 t;
	struct p2p_err		 err;
	json_object		*o;
	int			 rc;

	init_globals();
	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(rules[_i].json, strlen(rules[_i].json), &o,
	    &err), 0);
	rc = consent_validate(&cfg, o, npi, org, now, &t, &err);
	if (rules[_i].status == 0) {
		ck_assert_msg(rc == 0, "line %d refused: %s", rules[_i].line, err.msg);
		ck_assert_msg(t.sensitive == rules[_i].sensitive, "line %d",
		    rules[_i].line);
	} else {
		ck_assert_msg(rc == -1, "line %d accepted", rules[_i].line);
		ck_assert_msg(err.status == rules[_i].status, "line %d: %d %s",
		    rules[_i].line, err.status, err.msg);
		ck_assert_msg(strcmp(p2p_issue_code(err.issue), rules[_i].issue) == 0,
		    "line %d: %s", rules[_i].line, p2p_issue_code(err.issue));
	}
	json_object_put(o);
}
END_TEST

static struct p2p_db	 db;

static void
setup(void)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	init_globals();
	ck_assert_int_eq(db_open(&db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
}

static void
teardown(void)
{
	db_close(&db);
}

/* Validates the seed consent, stores it and records a match. */
static long long
matched(const char *client, const char *patient)
{
	static const char json[] = CONSENT(ST, SC, CA, PO, PT, PE, AC);
	struct consent_terms	 t;
	struct p2p_err		 err;
	json_object		*o;
	long long		 cid;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(json, strlen(json), &o, &err), 0);
	ck_assert_int_eq(consent_validate(&cfg, o, npi, org, now, &t, &err), 0);
	ck_assert_str_eq(t.start, "2026-01-01T00:00:00Z");
	ck_assert_str_eq(t.recipient, "Organization/test-payer-001");
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(consent_store(&db, o, &t, patient, client, &cid, &err), 0);
	ck_assert_int_eq(consent_record_match(&db, client, patient, cid, NULL, 0,
	    &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
	json_object_put(o);
	return cid;
}

START_TEST(test_access)
{
	struct p2p_err	 err;
	long long	 cid, got;
	int		 sens;
	time_t		 later;

	cid = matched("a", "p1");
	ck_assert_int_gt(cid, 0);
	p2p_err_init(&err);
	ck_assert_int_eq(consent_access(&db, "a", "p1", now, &got, &sens, &err), 0);
	ck_assert_int_eq(got, cid);
	ck_assert_int_eq(sens, 1);
	/* Another client, another patient: no match. */
	ck_assert_int_eq(consent_access(&db, "b", "p1", now, &got, &sens, &err), -1);
	ck_assert_int_eq(err.status, 404);
	p2p_err_init(&err);
	ck_assert_int_eq(consent_access(&db, "a", "p2", now, &got, &sens, &err), -1);
	ck_assert_int_eq(err.status, 404);
	/* After the period: lapsed. */
	p2p_err_init(&err);
	ck_assert_int_eq(time_parse("2027-01-02", 0, &later), 0);
	ck_assert_int_eq(consent_access(&db, "a", "p1", later, &got, &sens, &err), -1);
	ck_assert_int_eq(err.status, 403);
	ck_assert_int_eq(got, 0);
}
END_TEST

START_TEST(test_revoked)
{
	struct p2p_err	 err;
	long long	 got;
	int		 sens;

	matched("a", "p1");
	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "UPDATE consent SET status = 'inactive'",
	    &err), 0);
	ck_assert_int_eq(consent_access(&db, "a", "p1", now, &got, &sens, &err), -1);
	ck_assert_int_eq(err.status, 403);
}
END_TEST

START_TEST(test_optout)
{
	struct p2p_err	 err;
	long long	 got;
	int		 optout, sens;

	matched("a", "p1");
	p2p_err_init(&err);
	ck_assert_int_eq(consent_optout(&db, "p1", &optout, &err), 0);
	ck_assert_int_eq(optout, 0);
	/* As the loader files the seed's opt-out for member 002. */
	ck_assert_int_eq(db_exec(&db, "INSERT INTO consent (id, patient, source,"
	    " status, provision, created, updated, json) VALUES ('o1', 'p1',"
	    " 'loaded', 'active', 'deny', 'x', 'x', '{}')", &err), 0);
	ck_assert_int_eq(consent_optout(&db, "p1", &optout, &err), 0);
	ck_assert_int_eq(optout, 1);
	ck_assert_int_eq(consent_access(&db, "a", "p1", now, &got, &sens, &err), -1);
	ck_assert_int_eq(err.status, 403);
	/* An opt-out no longer active does not count. */
	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "UPDATE consent SET status = 'inactive'"
	    " WHERE id = 'o1'", &err), 0);
	ck_assert_int_eq(consent_optout(&db, "p1", &optout, &err), 0);
	ck_assert_int_eq(optout, 0);
}
END_TEST

START_TEST(test_consentless)
{
	struct p2p_err	 err;
	long long	 got;
	int		 sens;

	p2p_err_init(&err);
	/* Refused without a consent unless marked consent-less. */
	ck_assert_int_eq(consent_record_match(&db, "a", "p1", 0, NULL, 0, &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(consent_record_match(&db, "a", "p1", 0, NULL, 1, &err), 0);
	ck_assert_int_eq(consent_access(&db, "a", "p1", now, &got, &sens, &err), 0);
	ck_assert_int_eq(got, 0);
	cfg.allow_legacy_consentless = 1;
	ck_assert_int_eq(consent_access_cfg(&db, &cfg, "a", "p1", now, &got, &sens,
	    &err), 0);
	cfg.allow_legacy_consentless = 0;
	ck_assert_int_eq(consent_access_cfg(&db, &cfg, "a", "p1", now, &got, &sens,
	    &err), -1);
	ck_assert_int_eq(err.status, 403);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_CASE("rules", NULL, NULL, 0),
		UNIT_TABLE(test_rules, rules),
		UNIT_CASE("store", setup, teardown, 0),
		UNIT_TEST(test_access),
		UNIT_TEST(test_revoked),
		UNIT_TEST(test_optout),
		UNIT_TEST(test_consentless),
	};

	return unit_run(unit_tests("consent", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
