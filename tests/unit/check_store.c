/* Unit tests for store.c and loader.c (in-memory database). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/client.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "datascope/classify.h"
#include "store/loader.h"
#include "auth/secret.h"
#include "store/store.h"
#include "core/util.h"
#include "unit.h"

/* The suite's database: unit_db_setup() opens it for every test. */
#define db unit_db

/* Loads text as a file would be loaded.  Returns load_stream()'s rc. */
static int
load_text(const char *text, enum load_format fmt, struct load_stats *st,
    struct p2p_err *err)
{
	FILE	*f;
	int	 rc;

	p2p_err_init(err);
	f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_ptr_nonnull(f);
	rc = load_stream(&db, f, "test", fmt, 0, st, err);
	fclose(f);
	return rc;
}

static void
load_ok(const char *text, enum load_format fmt)
{
	struct load_stats	 st;
	struct p2p_err		 err;

	ck_assert_msg(load_text(text, fmt, &st, &err) == 0, "%s", err.msg);
}

/* The single integer a query returns. */
static long long
q(const char *sql)
{
	return unit_int(&db, sql);
}

/* The single text a query returns (static buffer), "(null)" for none. */
static const char *
qs(const char *sql)
{
	static char	 out[4096];
	const char	*v = unit_text(&db, sql, out, sizeof(out));

	return v != NULL ? v : "(null)";
}

/* References and the member they name (want NULL: not a Patient). */
static const struct unit_case refs[] = {
	{ "Patient/abc", "abc", __LINE__ },
	{ "Patient/a.b-1", "a.b-1", __LINE__ },
	{ "Patient/abc/_history/2", "abc", __LINE__ },
	{ "http://x.org/fhir/Patient/abc", "abc", __LINE__ },
	{ "https://x.org/fhir/Patient/abc/_history/7", "abc", __LINE__ },
	{ "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-000000000001", "p-urn", __LINE__ },
	{ "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-000000000002", NULL, __LINE__ },
	{ "urn:uuid:not-in-bundle", NULL, __LINE__ },
	{ "Group/abc", NULL, __LINE__ },
	{ "XPatient/abc", NULL, __LINE__ },
	{ "http://x.org/fhir/MyPatient/abc", NULL, __LINE__ },
	{ "Patient/", NULL, __LINE__ },
	{ "Patient/a b", NULL, __LINE__ },
	{ "Patient/a/b", NULL, __LINE__ },
	{ "#contained", NULL, __LINE__ },
	{ "abc", NULL, __LINE__ },
	{ "", NULL, __LINE__ },
	{ "Patient/0123456789012345678901234567890123456789012345678901234567890123456789",
	    NULL, __LINE__ },
};

START_TEST(test_patient_ref)
{
	struct store_ctx	 ctx;
	json_object		*urn = json_object_new_object();
	char			 out[STORE_ID_MAX + 1];
	int			 got;

	store_ctx_init(&ctx);
	fhir_add_str(urn, "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-000000000001",
	    "Patient/p-urn");
	fhir_add_str(urn, "urn:uuid:0f8c1d9e-1111-4a2b-9c3d-000000000002",
	    "Practitioner/x");
	ctx.urn = urn;
	out[0] = '\0';
	got = store_patient_ref(refs[_i].in, &ctx, out, sizeof(out));
	ck_assert_msg(got == (refs[_i].want != NULL), "line %d: %s -> %d",
	    refs[_i].line, refs[_i].in, got);
	if (refs[_i].want != NULL)
		ck_assert_msg(strcmp(out, refs[_i].want) == 0,
		    "line %d: %s", refs[_i].line, out);
	json_object_put(urn);
}
END_TEST

/* Which member each kind of resource is indexed under. */
static const struct unit_case owners[] = {
	{ "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", "p1", __LINE__ },
	{ "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"e\","
	  "\"patient\":{\"reference\":\"Patient/p1\"}}", "p1", __LINE__ },
	{ "{\"resourceType\":\"Encounter\",\"id\":\"e\","
	  "\"subject\":{\"reference\":\"Patient/p2\"}}", "p2", __LINE__ },
	{ "{\"resourceType\":\"Coverage\",\"id\":\"c\","
	  "\"beneficiary\":{\"reference\":\"http://a/fhir/Patient/p3\"}}",
	  "p3", __LINE__ },
	{ "{\"resourceType\":\"Consent\",\"id\":\"c\","
	  "\"patient\":{\"reference\":\"Patient/p4\"}}", "p4", __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"id\":\"o\","
	  "\"subject\":{\"reference\":\"Group/g\"}}", NULL, __LINE__ },
	{ "{\"resourceType\":\"Organization\",\"id\":\"o\"}", NULL, __LINE__ },
	{ "{\"resourceType\":\"Observation\",\"id\":\"o\","
	  "\"subject\":\"Patient/p5\"}", NULL, __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"bad id\"}", NULL, __LINE__ },
};

START_TEST(test_patient_of)
{
	struct store_ctx	 ctx;
	struct jscan		 j;
	char			 out[STORE_ID_MAX + 1];
	int			 got;

	store_ctx_init(&ctx);
	jscan_init(&j);
	ck_assert_int_eq(jscan_parse(&j, owners[_i].in,
	    strlen(owners[_i].in), 0), 0);
	got = store_patient_of(&j, &ctx, out, sizeof(out));
	ck_assert_msg(got == (owners[_i].want != NULL), "line %d",
	    owners[_i].line);
	if (got)
		ck_assert_msg(strcmp(out, owners[_i].want) == 0, "line %d: %s",
		    owners[_i].line, out);
	jscan_free(&j);
}
END_TEST

START_TEST(test_upsert)
{
	long long	 rid;

	load_ok("{\"resourceType\":\"Patient\",\"id\":\"m1\","
	    "\"identifier\":[{\"system\":\"s\",\"value\":\"A1\"},"
	    "{\"system\":\"s\",\"value\":\"A2\"}],"
	    "\"name\":[{\"family\":\"Núñez\",\"given\":[\"Mary\",\"Ann\"]},"
	    "{\"family\":\"Smith\"}],\"birthDate\":\"1970-01-02\","
	    "\"gender\":\"F\"}\n", LOAD_NDJSON);
	rid = q("SELECT rid FROM resource WHERE type='Patient' AND id='m1'");
	ck_assert_int_gt(rid, 0);
	ck_assert_str_eq(qs("SELECT patient FROM resource"), "m1");
	ck_assert_int_eq(q("SELECT count(*) FROM ident WHERE kind=1 AND "
	    "patient='m1'"), 2);
	ck_assert_int_eq(q("SELECT count(*) FROM demog"), 2);
	ck_assert_str_eq(qs("SELECT family || '/' || given || '/' || "
	    "birth_date || '/' || gender FROM demog WHERE family='nunez'"),
	    "nunez/maryann/1970-01-02/female");
	/* meta.lastUpdated is added to the stored JSON when absent */
	ck_assert_str_ne(qs("SELECT json_extract(json, '$.meta.lastUpdated')"
	    " FROM resource"), "(null)");
	ck_assert_str_eq(qs("SELECT json_extract(json, '$.meta.lastUpdated')"
	    " FROM resource"), qs("SELECT last_updated FROM resource"));

	/* The same member again, changed: one row, same rid, new index. */
	load_ok("{\"resourceType\":\"Patient\",\"id\":\"m1\","
	    "\"meta\":{\"lastUpdated\":\"2024-05-06T07:08:09Z\"},"
	    "\"identifier\":[{\"system\":\"s\",\"value\":\"B1\"}],"
	    "\"name\":[{\"family\":\"Jones\",\"given\":[\"Al\"]}]}\n",
	    LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 1);
	ck_assert_int_eq(q("SELECT rid FROM resource"), rid);
	ck_assert_str_eq(qs("SELECT last_updated FROM resource"),
	    "2024-05-06T07:08:09Z");
	ck_assert_int_eq(q("SELECT count(*) FROM ident"), 1);
	ck_assert_str_eq(qs("SELECT value FROM ident"), "B1");
	ck_assert_int_eq(q("SELECT count(*) FROM demog"), 1);
	ck_assert_str_eq(qs("SELECT family || given FROM demog"), "jonesal");
	ck_assert_str_eq(qs("SELECT coalesce(birth_date, 'none') FROM demog"),
	    "none");
}
END_TEST

START_TEST(test_coverage_org_idents)
{
	load_ok("{\"resourceType\":\"Coverage\",\"id\":\"c1\","
	    "\"subscriberId\":\"SUB-9\",\"identifier\":[{\"system\":"
	    "\"http://example.org/old-payer\",\"value\":\"DH1\"}],"
	    "\"beneficiary\":{\"reference\":\"Patient/m9\"}}\n"
	    "{\"resourceType\":\"Organization\",\"id\":\"org1\","
	    "\"identifier\":[{\"system\":\"http://hl7.org/fhir/sid/us-npi\","
	    "\"value\":\"1234567893\"}]}\n", LOAD_NDJSON);
	ck_assert_str_eq(qs("SELECT patient FROM resource WHERE id='c1'"),
	    "m9");
	ck_assert_str_eq(qs("SELECT patient || value FROM ident WHERE kind=2"),
	    "m9SUB-9");
	ck_assert_str_eq(qs("SELECT patient || system || value FROM ident "
	    "WHERE kind=3"), "m9http://example.org/old-payerDH1");
	ck_assert_str_eq(qs("SELECT patient || value FROM ident WHERE kind=4"),
	    "org11234567893");
	ck_assert_str_eq(qs("SELECT coalesce(patient, 'none') FROM resource "
	    "WHERE id='org1'"), "none");
}
END_TEST

/* Every text value in every table, for "the secret is nowhere" checks. */
static int
appears_anywhere(const char *needle)
{
	struct db_stmt	*t, *st;
	char		 sql[256];
	const char	*s;
	int		 i, found = 0;

	ck_assert_int_eq(db_prepare(&db, "SELECT name FROM "
	    "sqlite_master WHERE type='table'", &t, NULL), 0);
	while (!found && db_step(t) == DB_ROW) {
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"",
		    db_col_text(t, 0));
		ck_assert_int_eq(db_prepare(&db, sql, &st, NULL), 0);
		while (!found && db_step(st) == DB_ROW)
			for (i = 0; i < db_col_count(st); i++)
				if ((s = db_col_text(st,
				    i)) != NULL && strstr(s, needle) != NULL)
					found = 1;
		db_finalize(st);
	}
	db_finalize(t);
	return found;
}

START_TEST(test_client)
{
	struct client_rec	 rec;
	struct p2p_err		 err;

	load_ok("{\"resourceType\":\"Bundle\",\"type\":\"transaction\","
	    "\"entry\":[{\"resource\":{\"resourceType\":\"Client\",\"id\":"
	    "\"payer-a\",\"secret\":\"s3cr3t-Plaintext-xyz\",\"grant_types\":"
	    "[\"basic\",\"client_credentials\"],\"details\":{\"identifier\":"
	    "[{\"system\":\"urn:other\",\"value\":\"1\"},{\"system\":"
	    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"5555555555\"}]}},"
	    "\"request\":{\"method\":\"PUT\",\"url\":\"/Client/payer-a\"}},"
	    "{\"resource\":{\"resourceType\":\"AccessPolicy\",\"id\":\"ap\","
	    "\"engine\":\"allow\"},\"request\":{\"method\":\"PUT\","
	    "\"url\":\"/AccessPolicy/ap\"}}]}", LOAD_AUTO);
	p2p_err_init(&err);
	ck_assert_int_eq(client_get(&db, "payer-a", &rec, &err), 0);
	ck_assert(secret_verify("s3cr3t-Plaintext-xyz", rec.secret_hash));
	ck_assert_str_eq(rec.npi, "5555555555");
	ck_assert_str_eq(rec.grant_types, "basic client_credentials");
	ck_assert_str_eq(rec.scopes, STORE_CLIENT_SCOPES);
	ck_assert_int_eq(rec.active, 1);
	client_rec_free(&rec);
	ck_assert(!appears_anywhere("s3cr3t-Plaintext-xyz"));
	/* Neither Client nor AccessPolicy is a stored resource. */
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 0);
}
END_TEST

START_TEST(test_consent)
{
	static const char *const consent =
	    "{\"resourceType\":\"Consent\",\"id\":\"optout-1\","
	    "\"status\":\"active\",\"patient\":{\"reference\":\"Patient/m2\"},"
	    "\"provision\":{\"type\":\"deny\",\"period\":{\"start\":"
	    "\"2024-01-01\"}},\"policyRule\":{\"coding\":[{\"code\":"
	    "\"OPTIN\"}]}}\n";

	load_ok(consent, LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 0);
	ck_assert_str_eq(qs("SELECT patient || source || status || provision"
	    " || policy || period_start FROM consent WHERE id='optout-1'"),
	    "m2loadedactivedenyOPTIN2024-01-01");
	ck_assert_int_eq(q("SELECT count(*) FROM consent_history"), 1);
	/* again: still one consent, one more history version */
	load_ok(consent, LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT count(*) FROM consent"), 1);
	ck_assert_int_eq(q("SELECT max(version) FROM consent_history"), 2);
	/* a DELETE makes it inactive and keeps the history */
	load_ok("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":"
	    "[{\"request\":{\"method\":\"DELETE\",\"url\":\"Consent/optout-1\"}"
	    "}]}", LOAD_BUNDLE);
	ck_assert_str_eq(qs("SELECT status FROM consent"), "inactive");
	ck_assert_int_eq(q("SELECT count(*) FROM consent_history"), 3);
	/* every version of a loaded consent is the load's */
	ck_assert_str_eq(qs("SELECT group_concat(v, ' ') FROM (SELECT version"
	    " || status || '/' || changed_by AS v FROM consent_history ORDER"
	    " BY version)"), "1active/load 2active/load 3inactive/load");
}
END_TEST

START_TEST(test_bundle_urn_and_delete)
{
	struct load_stats	 st;
	struct p2p_err		 err;

	ck_assert_int_eq(load_text(
	    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	    "{\"fullUrl\":\"urn:uuid:6f3c7b52-0000-4000-8000-000000000001\","
	    "\"resource\":{\"resourceType\":\"Patient\"},"
	    "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
	    "{\"fullUrl\":\"urn:uuid:6f3c7b52-0000-4000-8000-000000000002\","
	    "\"resource\":{\"resourceType\":\"Claim\",\"id\":\"cl1\","
	    "\"patient\":{\"reference\":"
	    "\"urn:uuid:6f3c7b52-0000-4000-8000-000000000001\"}},"
	    "\"request\":{\"method\":\"POST\",\"url\":\"Claim\"}},"
	    "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"o1\","
	    "\"subject\":{\"reference\":\"Patient/x\"}},"
	    "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/o1\"}}]}",
	    LOAD_AUTO, &st, &err), 0);
	ck_assert_int_eq(st.resources, 3);
	ck_assert_str_eq(qs("SELECT patient FROM resource WHERE id='cl1'"),
	    "6f3c7b52-0000-4000-8000-000000000001");
	ck_assert_int_eq(q("SELECT count(*) FROM resource WHERE type="
	    "'Patient' AND id='6f3c7b52-0000-4000-8000-000000000001'"), 1);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 3);

	/* Transactions delete first: o1 goes, then comes back changed. */
	ck_assert_int_eq(load_text(
	    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	    "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"o1\","
	    "\"status\":\"final\"},"
	    "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/o1\"}},"
	    "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/o1\"}},"
	    "{\"request\":{\"method\":\"DELETE\",\"url\":\"Claim/cl1\"}},"
	    "{\"request\":{\"method\":\"DELETE\",\"url\":\"Claim/absent\"}}]}",
	    LOAD_AUTO, &st, &err), 0);
	ck_assert_int_eq(st.deleted, 3);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 2);
	ck_assert_str_eq(qs("SELECT json_extract(json, '$.status') FROM "
	    "resource WHERE id='o1'"), "final");
	ck_assert_int_eq(q("SELECT count(*) FROM resource WHERE id='cl1'"), 0);
}
END_TEST

/* Files that must fail whole, with the place and reason in the message. */
static const struct {
	const char	*text;
	enum load_format fmt;
	const char	*msg;		/* expected in err.msg */
	int		 line;
} bad[] = {
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Patient\",\"id\":\"ok2\"}\n"
	  "{\"resourceType\":\"Patient\",\"id\":\n", LOAD_NDJSON,
	  "line 3: invalid JSON", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n\n"
	  "{\"resourceType\":\"Patient\"}\n", LOAD_AUTO,
	  "line 3: Patient: id is missing", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"id\":\"x\"}\n", LOAD_NDJSON,
	  "line 2: resourceType is missing", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Patient\",\"id\":\"a_b\"}\n", LOAD_NDJSON,
	  "line 2: Patient: id \"a_b\" is not a valid FHIR id", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "[1,2]\n", LOAD_NDJSON,
	  "line 2: expected a JSON object", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Patient\",\"id\":\"ok3\",\"meta\":"
	  "{\"lastUpdated\":\"yesterday\"}}\n", LOAD_NDJSON,
	  "line 2: Patient/ok3: meta.lastUpdated \"yesterday\" is not a valid "
	  "FHIR instant", __LINE__ },
	/*
	 * regression, issue 15 point 6: invalid FHIR was stored and
	 * released; now the line (or entry) and the element are named
	 */
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Observaton\",\"id\":\"o1\"}\n", LOAD_NDJSON,
	  "line 2: resourceType \"Observaton\" is not a FHIR R4 resource type",
	  __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"meta\":{"
	  "\"lastUpdated\":\"2026-01-01T00:00:00Z\"},\"subject\":{\"reference\":"
	  "\"Patient/ok1\"},\"effectiveDateTime\":\"2026-13-45\"}\n",
	  LOAD_NDJSON, "line 2: Observation/o1: effectiveDateTime "
	  "\"2026-13-45\" is not a valid FHIR dateTime", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"period\":"
	  "{\"start\":\"yesterday\"}}\n", LOAD_NDJSON, "line 2: Encounter/e1: "
	  "period.start \"yesterday\" is not a valid FHIR dateTime", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\",\"birthDate\":"
	  "\"1999-01-01T00:00:00Z\"}\n", LOAD_NDJSON, "line 1: Patient/ok1: "
	  "birthDate \"1999-01-01T00:00:00Z\" is not a valid FHIR date",
	  __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{"
	  "\"reference\":\"Patient\"}}\n", LOAD_NDJSON, "line 2: Condition/c1: "
	  "subject.reference \"Patient\" is not a valid reference", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\",\"identifier\":"
	  "{\"value\":\"x\"}}\n", LOAD_NDJSON, "line 1: Patient/ok1: identifier "
	  "must be an array", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\",\"id\":7}\n",
	  LOAD_NDJSON, "line 1: Patient: id is not a string", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Observaton\",\"id\":\"o1\"}}]}",
	  LOAD_AUTO, "entry[1]: resourceType \"Observaton\" is not a FHIR R4",
	  __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"ExplanationOfBenefit\",\"id\":"
	  "\"e1\",\"item\":[{\"servicedPeriod\":{\"end\":\"2026-02-30\"}}]}}]}",
	  LOAD_AUTO, "entry[1]: ExplanationOfBenefit/e1: item[0].servicedPeriod."
	  "end \"2026-02-30\" is not a valid FHIR dateTime", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[]}",
	  LOAD_AUTO, "unsupported Bundle type \"searchset\"", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok2\"}},"
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok3\"}},"
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"no/pe\"}}]}",
	  LOAD_AUTO, "entry[3]: Patient: id \"no/pe\" is not a valid", __LINE__ },
	{ "{\n\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"},"
	  "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok2\"},"
	  "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/other\"}}]}",
	  LOAD_AUTO, "entry[1]: request.url Patient/other does not match",
	  __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"},"
	  "\"request\":{\"method\":\"GET\",\"url\":\"Patient/ok1\"}}]}",
	  LOAD_AUTO, "entry[0]: request.method GET is not supported", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"},"
	  "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/ok1\"}},"
	  "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient?name=x\"}}]}",
	  LOAD_AUTO, "entry[1]: conditional request.url", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Patient\"},"
	  "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}",
	  LOAD_AUTO, "entry[1]: POST without an id", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"fullUrl\":\"x\"}]}", LOAD_AUTO, "entry[1]: resource is missing",
	  __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Consent\",\"id\":\"c\","
	  "\"status\":\"active\"}}]}", LOAD_AUTO,
	  "entry[1]: Consent/c: patient does not reference a Patient",
	  __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},"
	  "{\"resource\":{\"resourceType\":\"Client\",\"id\":\"c\","
	  "\"secret\":42}}]}", LOAD_AUTO,
	  "entry[1]: Client/c: secret must be a string", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":7}",
	  LOAD_AUTO, "Bundle.entry is not an array", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}}]}\n"
	  "{\"resourceType\":\"Patient\",\"id\":\"ok2\"}\n", LOAD_AUTO,
	  "data after the Bundle", __LINE__ },
	{ "{\"resourceType\":\"Bundle\",\n\"type\":\"collection\",\"entry\":["
	  "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ok1\"}},]}\n",
	  LOAD_AUTO, "invalid JSON", __LINE__ },
	{ "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	  "{\"resourceType\":\"Bundle\",\"id\":\"b\",\"type\":\"collection\"}\n",
	  LOAD_AUTO, "line 2: Bundle/b: a Bundle cannot be stored", __LINE__ },
	{ "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"ok1\"\n}\n",
	  LOAD_AUTO, "a single Patient is not a Bundle", __LINE__ },
	{ "   \n\n", LOAD_AUTO, "the file is empty", __LINE__ },
};

START_TEST(test_bad_files)
{
	struct load_stats	 st;
	struct p2p_err		 err;

	ck_assert_msg(load_text(bad[_i].text, bad[_i].fmt, &st, &err) == -1,
	    "line %d: loaded", bad[_i].line);
	ck_assert_msg(strstr(err.msg, bad[_i].msg) != NULL,
	    "line %d: \"%s\"", bad[_i].line, err.msg);
	/* nothing from the file was kept */
	ck_assert_msg(q("SELECT count(*) FROM resource") == 0, "line %d",
	    bad[_i].line);
	ck_assert_int_eq(q("SELECT count(*) FROM client"), 0);
	ck_assert_int_eq(sqlite3_get_autocommit(db.h), 1);
}
END_TEST

/*
 * Regression: NUL bytes at the end of an ndjson line were trimmed as
 * white space (strchr() finds the terminator) and the line loaded; and
 * the strict JSON rules (overlong UTF-8) hold for loaded lines too.
 */
START_TEST(test_nul_and_utf8)
{
	static const char nul[] = "{\"resourceType\":\"Patient\",\"id\":\"ok1\"}\n"
	    "{\"resourceType\":\"Patient\",\"id\":\"ok2\"}\0\0\n";
	static const char overlong[] = "{\"resourceType\":\"Patient\","
	    "\"id\":\"ok1\"}\n{\"resourceType\":\"Patient\",\"id\":\"ok2\","
	    "\"name\":[{\"family\":\"\xc0\xaf\"}]}\n";
	struct load_stats	 st;
	struct p2p_err		 err;
	FILE			*f;

	p2p_err_init(&err);
	f = fmemopen((void *)nul, sizeof(nul) - 1, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(load_stream(&db, f, "t", LOAD_NDJSON, 0, &st, &err),
	    -1);
	fclose(f);
	ck_assert_msg(strstr(err.msg, "line 2: invalid JSON") != NULL, "%s",
	    err.msg);
	ck_assert_int_eq(load_text(overlong, LOAD_NDJSON, &st, &err), -1);
	ck_assert_msg(strstr(err.msg, "line 2: invalid JSON at byte 56: "
	    "malformed UTF-8") != NULL, "%s", err.msg);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 0);
}
END_TEST

START_TEST(test_long_line)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	size_t			 n = (size_t)LOAD_LINE_MAX + 100;
	char			*text = malloc(n + 1);

	ck_assert_ptr_nonnull(text);
	memset(text, ' ', n);
	memcpy(text, "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{", 37);
	text[n - 1] = '}';
	text[n] = '\0';
	ck_assert_int_eq(load_text(text, LOAD_NDJSON, &st, &err), -1);
	ck_assert_msg(strstr(err.msg, "line 2: line longer than") != NULL,
	    "%s", err.msg);
	free(text);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 0);
}
END_TEST

/*
 * A file long enough to keep the parsing threads and the ordered queue
 * busy: rows are written in file order (rid follows the line), and a
 * bad line late in the file is reported by its number with nothing kept,
 * whichever thread parsed it.
 */
START_TEST(test_ndjson_threads)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	struct p2p_buf		 b;
	int			 i, broken;

	for (broken = 0; broken <= 1; broken++) {
		memset(&b, 0, sizeof(b));
		for (i = 1; i <= 3000; i++) {
			if (i % 100 == 0)
				buf_puts(&b, "\n");	/* blank lines count */
			else if (broken && i == 2950)
				buf_puts(&b, "{\"resourceType\":\"Observation\","
				    "\"id\":\"o_bad\"}\n");
			else
				buf_printf(&b, "{\"resourceType\":"
				    "\"Observation\",\"id\":\"o%d\","
				    "\"subject\":{\"reference\":"
				    "\"Patient/m%d\"}}\n", i, i % 7);
		}
		ck_assert_ptr_nonnull(b.p);
		if (broken) {
			ck_assert_int_eq(load_text(b.p, LOAD_NDJSON, &st,
			    &err), -1);
			ck_assert_msg(strstr(err.msg, "line 2950: Observation: "
			    "id \"o_bad\"") != NULL, "%s", err.msg);
			ck_assert_int_eq(q("SELECT count(*) FROM resource"), 0);
		} else {
			ck_assert_msg(load_text(b.p, LOAD_NDJSON, &st, &err) ==
			    0, "%s", err.msg);
			ck_assert_int_eq(st.resources, 2970);
			ck_assert_int_eq(q("SELECT count(*) FROM resource"),
			    2970);
			/* rid order is file order */
			ck_assert_int_eq(q("SELECT count(*) FROM resource a "
			    "JOIN resource b ON b.rid = a.rid + 1 WHERE "
			    "CAST(substr(b.id, 2) AS INTEGER) <= "
			    "CAST(substr(a.id, 2) AS INTEGER)"), 0);
			ck_assert_str_eq(qs("SELECT patient FROM resource "
			    "WHERE id = 'o15'"), "m1");
			db_exec(&db, "DELETE FROM resource", &err);
		}
		buf_free(&b);
	}
}
END_TEST

/*
 * Indexed types: a new (type, id) is inserted without deleting index
 * rows; an existing one is updated and its rows replaced; one deleted
 * and loaded again gets only its new rows (the old went with it).
 */
START_TEST(test_fresh_and_replace)
{
	static const char *const v1 =
	    "{\"resourceType\":\"Organization\",\"id\":\"org\","
	    "\"identifier\":[{\"system\":\"npi\",\"value\":\"1\"},"
	    "{\"system\":\"npi\",\"value\":\"2\"}]}\n";
	static const char *const v2 =
	    "{\"resourceType\":\"Organization\",\"id\":\"org\","
	    "\"identifier\":[{\"system\":\"npi\",\"value\":\"3\"}]}\n";
	long long	 rid;

	load_ok(v1, LOAD_NDJSON);
	rid = q("SELECT rid FROM resource WHERE id = 'org'");
	ck_assert_int_eq(q("SELECT count(*) FROM ident WHERE rid = "
	    "(SELECT rid FROM resource WHERE id = 'org')"), 2);
	load_ok(v2, LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT rid FROM resource WHERE id = 'org'"), rid);
	ck_assert_int_eq(q("SELECT count(*) FROM ident"), 1);
	ck_assert_str_eq(qs("SELECT value FROM ident"), "3");
	load_ok("{\"resourceType\":\"Bundle\",\"type\":\"transaction\","
	    "\"entry\":[{\"request\":{\"method\":\"DELETE\","
	    "\"url\":\"Organization/org\"}}]}", LOAD_BUNDLE);
	ck_assert_int_eq(q("SELECT count(*) FROM ident"), 0);
	load_ok(v1, LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 1);
	ck_assert_int_eq(q("SELECT count(*) FROM ident"), 2);
	/* the same line twice in one file: updated in the transaction */
	load_ok("{\"resourceType\":\"Patient\",\"id\":\"p\","
	    "\"identifier\":[{\"value\":\"x\"}],"
	    "\"name\":[{\"family\":\"A\"}]}\n"
	    "{\"resourceType\":\"Patient\",\"id\":\"p\","
	    "\"identifier\":[{\"value\":\"y\"}],"
	    "\"name\":[{\"family\":\"B\"}]}\n", LOAD_NDJSON);
	ck_assert_int_eq(q("SELECT count(*) FROM ident WHERE kind = 1"), 1);
	ck_assert_str_eq(qs("SELECT value FROM ident WHERE kind = 1"), "y");
	ck_assert_int_eq(q("SELECT count(*) FROM demog"), 1);
	ck_assert_str_eq(qs("SELECT family FROM demog"), "b");
}
END_TEST

/*
 * store_prepare() + store_row_detach(): the row no longer needs its
 * tree; a claim is stored as read with its released form stripped.
 */
START_TEST(test_prepare_detach)
{
	static const char *const eob =
	    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"e1\","
	    "\"meta\":{\"lastUpdated\":\"2024-01-02T03:04:05Z\"},"
	    "\"use\":\"claim\",\"patient\":{\"reference\":\"Patient/m1\"},"
	    "\"billablePeriod\":{\"start\":\"2023-05-06\"},"
	    "\"total\":[{\"amount\":{\"value\":1}}]}";
	struct store_ctx	 ctx;
	struct store_row	 row;
	struct p2p_err		 err;
	struct jscan		 j;
	json_object		*res;

	p2p_err_init(&err);
	jscan_init(&j);
	store_ctx_init(&ctx);
	ctx.raw = eob;
	ctx.rawlen = strlen(eob);
	ck_assert_int_eq(fhir_parse(eob, strlen(eob), &res, &err), 0);
	ck_assert_int_eq(store_prepare(res, &ctx, &j, &row, &err), 0);
	ck_assert_int_eq(store_row_detach(&row), 0);
	ck_assert_ptr_null(row.res);
	ck_assert_str_eq(row.type, "ExplanationOfBenefit");
	ck_assert_str_eq(row.id, "e1");
	ck_assert_str_eq(row.lu, "2024-01-02T03:04:05Z");
	ck_assert_ptr_eq(row.json, eob);
	ck_assert_ptr_nonnull(row.si.p2p_json);
	ck_assert(strstr(row.si.p2p_json, "total") == NULL);
	ck_assert_int_eq(store_write(&db, &row, &ctx, &err), 0);
	store_row_free(&row);
	ck_assert_str_eq(qs("SELECT json FROM resource"), eob);
	ck_assert_str_eq(qs("SELECT patient || dos FROM resource"),
	    "m12023-05-06");
	/* a bad resource is refused and released (no leak, no row) */
	ck_assert_int_eq(fhir_parse("{\"resourceType\":\"Bundle\","
	    "\"id\":\"b\"}", 34, &res, &err), 0);
	ck_assert_int_eq(store_prepare(res, &ctx, &j, &row, &err), -1);
	ck_assert_int_eq(err.status, 422);
	jscan_free(&j);
}
END_TEST

/*
 * Regression, issue 15 point 7: a closed PA loaded without
 * meta.lastUpdated got the load time as its change time (so it was
 * released for a year after every load); and a PA for a J-code drug on
 * a professional claim was not a drug PA.  The change time now comes
 * from the PA's own dates whichever way the line is parsed.
 */
START_TEST(test_pa_load)
{
	static const char *const pas =
	    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"pa-old\","
	    "\"use\":\"preauthorization\",\"status\":\"active\","
	    "\"outcome\":\"complete\",\"patient\":{\"reference\":\"Patient/m\"},"
	    "\"created\":\"2024-09-01T10:00:00Z\",\"preAuthRefPeriod\":[{"
	    "\"start\":\"2024-09-05\",\"end\":\"2024-12-31\"}]}\n"
	    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"pa-cancel\","
	    "\"use\":\"preauthorization\",\"status\":\"cancelled\",\"meta\":{},"
	    "\"patient\":{\"reference\":\"Patient/m\"},"
	    "\"created\":\"2024-10-01T10:00:00Z\"}\n"
	    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"pa-j\","
	    "\"meta\":{\"lastUpdated\":\"2026-01-05T00:00:00Z\"},"
	    "\"use\":\"preauthorization\",\"status\":\"active\","
	    "\"patient\":{\"reference\":\"Patient/m\"},\"type\":{\"coding\":[{"
	    "\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\","
	    "\"code\":\"professional\"}]},\"item\":[{\"productOrService\":{"
	    "\"coding\":[{\"system\":\"https://www.cms.gov/Medicare/Coding/"
	    "HCPCSReleaseCodeSets\",\"code\":\"J0135\"}]}}]}\n";
	char	 now[32];

	time_instant(now_sec(), now);
	load_ok(pas, LOAD_NDJSON);
	/* the stored JSON has a lastUpdated (the load's), changed does not */
	ck_assert_str_ge(qs("SELECT last_updated FROM resource WHERE id = "
	    "'pa-old'"), now);
	ck_assert_str_eq(qs("SELECT changed FROM resource WHERE id = "
	    "'pa-old'"), "2024-12-31T23:59:59Z");
	ck_assert_int_eq(q("SELECT flags FROM resource WHERE id = 'pa-old'"),
	    SCOPE_PA | SCOPE_PA_CLOSED);
	ck_assert_str_eq(qs("SELECT changed FROM resource WHERE id = "
	    "'pa-cancel'"), "2024-10-01T10:00:00Z");
	ck_assert_int_eq(q("SELECT flags FROM resource WHERE id = 'pa-j'"),
	    SCOPE_PA | SCOPE_DRUG);
	ck_assert_str_eq(qs("SELECT changed FROM resource WHERE id = "
	    "'pa-j'"), "2026-01-05T00:00:00Z");
}
END_TEST

START_TEST(test_seed)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	struct client_rec	 rec;
	const char		*path = unit_seed();

	p2p_err_init(&err);
	ck_assert_msg(load_file(&db, path, 0, &st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(st.resources, 7);
	ck_assert_int_eq(st.clients, 2);
	ck_assert_int_eq(st.consents, 1);
	ck_assert_int_eq(st.ignored, 2);
	ck_assert_int_eq(q("SELECT count(*) FROM resource WHERE type="
	    "'Patient'"), 2);
	ck_assert_str_eq(qs("SELECT patient FROM resource WHERE id="
	    "'test-coverage-002'"), "test-member-002");
	ck_assert_str_eq(qs("SELECT patient FROM consent"), "test-member-002");
	ck_assert_int_eq(client_get(&db, "test-payer-client", &rec, &err), 0);
	ck_assert(secret_verify("test-payer-secret", rec.secret_hash));
	ck_assert_str_eq(rec.npi, "5555555555");
	client_rec_free(&rec);
	ck_assert(!appears_anywhere("test-payer-secret"));
	ck_assert(!appears_anywhere("test-provider-secret"));
	/* twice: same counts */
	ck_assert_int_eq(load_file(&db, path, 0, &st, &err), 0);
	ck_assert_int_eq(q("SELECT count(*) FROM resource"), 7);
	ck_assert_int_eq(q("SELECT count(*) FROM client"), 2);
	ck_assert_int_eq(q("SELECT count(*) FROM ident"), 2 + 2 + 3);
}
END_TEST

START_TEST(test_exists)
{
	struct p2p_err	 err;

	load_ok("{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n", LOAD_NDJSON);
	p2p_err_init(&err);
	ck_assert_int_eq(store_exists(&db, "Patient", "p1", &err), 1);
	ck_assert_int_eq(store_exists(&db, "Patient", "p2", &err), 0);
	ck_assert_int_eq(store_exists(&db, "Organization", "p1", &err), 0);
}
END_TEST

static const struct {
	long long	 done, total;
	long		 n;
	long long	 ms;
	const char	*want;
	int		 line;
} prog[] = {
	{ 0, 0, 0, 0, "0 resources, 0/s", __LINE__ },
	{ 10, 0, 7, 1000, "7 resources, 7/s", __LINE__ },	/* no size */
	{ 50, 100, 5000, 2000, "50%, 5000 resources, 2500/s, ETA 2s", __LINE__ },
	{ 250, 1000, 100, 10000, "25%, 100 resources, 10/s, ETA 30s", __LINE__ },
	{ 1, 1000, 10, 60000, "0%, 10 resources, 0/s, ETA 16h39m", __LINE__ },
	{ 600, 1000, 6, 120000, "60%, 6 resources, 0/s, ETA 1m20s", __LINE__ },
	{ 1000, 1000, 9, 3000, "100%, 9 resources, 3/s, ETA 0s", __LINE__ },
	{ 2000, 1000, 9, 3000, "9 resources, 3/s", __LINE__ },	/* grew */
};

START_TEST(test_progress_text)
{
	char	 out[160];

	load_progress_text(out, sizeof(out), prog[_i].done, prog[_i].total,
	    prog[_i].n, prog[_i].ms);
	ck_assert_msg(strcmp(out, prog[_i].want) == 0, "line %d: %s",
	    prog[_i].line, out);
}
END_TEST

/* Not on a terminal: plain progress lines on stderr, with a percentage. */
START_TEST(test_progress_lines)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	char			 path[] = "/tmp/p2p-check-progress-XXXXXX";
	char			 out[64], buf[65536];
	FILE			*f;
	int			 fd, saved, i;
	size_t			 n;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	f = fdopen(fd, "w");
	for (i = 0; i < 6000; i++)
		fprintf(f, "{\"resourceType\":\"Patient\",\"id\":\"p%d\","
		    "\"name\":[{\"family\":\"F%d\"}]}\n", i, i);
	fclose(f);
	snprintf(out, sizeof(out), "%s.err", path);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	dup2(fd, 2);
	p2p_err_init(&err);
	/* a line at most every millisecond: a tick every 1,024 lines */
	ck_assert_int_eq(load_file(&db, path, 1, &st, &err), 0);
	dup2(saved, 2);
	close(saved);
	close(fd);
	f = fopen(out, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	unlink(out);
	ck_assert_int_eq(st.resources, 6000);
	ck_assert_msg(strstr(buf, "load /tmp/p2p-check-progress-") != NULL &&
	    strstr(buf, "%, ") != NULL && strstr(buf, " resources, ") != NULL &&
	    strstr(buf, ", ETA ") != NULL, "%s", buf);
	ck_assert(strchr(buf, '\r') == NULL);	/* no terminal redraws */
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_patient_ref, refs),
		UNIT_TABLE(test_patient_of, owners),
		UNIT_TEST(test_upsert),
		UNIT_TEST(test_coverage_org_idents),
		UNIT_TEST(test_client),
		UNIT_TEST(test_consent),
		UNIT_TEST(test_bundle_urn_and_delete),
		UNIT_TABLE(test_bad_files, bad),
		UNIT_TEST(test_nul_and_utf8),
		UNIT_TEST(test_long_line),
		UNIT_TEST(test_ndjson_threads),
		UNIT_TEST(test_fresh_and_replace),
		UNIT_TEST(test_prepare_detach),
		UNIT_TEST(test_pa_load),
		UNIT_TEST(test_seed),
		UNIT_TABLE(test_progress_text, prog),
		UNIT_TEST(test_progress_lines),
		UNIT_TEST(test_exists),
	};

	return unit_run(unit_tests("store", unit_db_setup, unit_db_teardown, 60,
	    tests, UNIT_N(tests)));
}
