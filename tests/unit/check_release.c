/* Unit tests for release.c: the payer-to-payer release rules as SQL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datascope/release.h"
#include "datascope/classify.h"
#include "core/util.h"
#include "unit.h"

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static struct release_rules	 rules;
static time_t			 now;	/* 2026-06-15T12:00:00Z */

static const struct {
	const char	*type, *id, *patient, *dos;
	unsigned	 flags;
	const char	*changed, *updated, *json, *p2p_json;
} rows[] = {
	{ "Patient", "p1", "p1", NULL, 0, NULL, "2026-01-01T00:00:00Z",
	  "{\"resourceType\":\"Patient\",\"id\":\"p1\"}", NULL },
	{ "Observation", "o-in", "p1", "2024-01-01", 0, NULL,
	  "2025-01-01T00:00:00Z",
	  "{\"resourceType\":\"Observation\",\"id\":\"o-in\","
	  "\"status\":\"final\",\"performer\":[{\"reference\":"
	  "\"Practitioner\\/dr1\"}]}", NULL },
	{ "Observation", "o-old", "p1", "2019-01-01", 0, NULL,
	  "2025-01-01T00:00:00Z", "{\"resourceType\":\"Observation\"}", NULL },
	{ "Observation", "o-edge", "p1", "2021-06-15", 0, NULL,
	  "2026-03-01T00:00:00Z",
	  "{\"resourceType\":\"Observation\",\"id\":\"o-edge\","
	  "\"component\":[{\"status\":\"final\"}],\"status\":\"amended\"}",
	  NULL },
	{ "Coverage", "c1", "p1", "", 0, NULL, "2025-01-01T00:00:00Z",
	  "{\"resourceType\":\"Coverage\",\"id\":\"c1\",\"payor\":[{"
	  "\"reference\":\"Organization/org1\"}]}", NULL },
	{ "ExplanationOfBenefit", "pa-drug", "p1", "2025-01-01",
	  SCOPE_PA | SCOPE_DRUG, NULL, "2025-01-01T00:00:00Z", "{}", NULL },
	{ "ExplanationOfBenefit", "pa-drug-denied", "p1", "2025-01-01",
	  SCOPE_PA | SCOPE_DRUG | SCOPE_EXCLUDED, NULL, "2025-01-01T00:00:00Z",
	  "{}", NULL },
	{ "ExplanationOfBenefit", "pa-drug-old", "p1", "2024-01-01",
	  SCOPE_PA | SCOPE_DRUG | SCOPE_PA_CLOSED, "2024-02-01",
	  "2024-02-01T00:00:00Z", "{}", NULL },
	{ "ExplanationOfBenefit", "pa-denied", "p1", "2025-01-01",
	  SCOPE_PA | SCOPE_EXCLUDED, "2026-01-01", "2025-01-01T00:00:00Z",
	  "{}", NULL },
	{ "ExplanationOfBenefit", "pa-closed-new", "p1", "2025-01-01",
	  SCOPE_PA | SCOPE_PA_CLOSED, "2025-09-01T10:00:00Z",
	  "2025-09-01T10:00:00Z", "{\"id\":\"pa-closed-new\"}", NULL },
	{ "ExplanationOfBenefit", "pa-closed-old", "p1", "2024-01-01",
	  SCOPE_PA | SCOPE_PA_CLOSED, "2024-02-01", "2024-02-01T00:00:00Z",
	  "{}", NULL },
	{ "ExplanationOfBenefit", "pa-pending", "p1", "2026-01-01", SCOPE_PA,
	  NULL, "2026-01-01T00:00:00Z",
	  "{\"resourceType\":\"ExplanationOfBenefit\",\"status\":\"active\"}",
	  NULL },
	{ "ExplanationOfBenefit", "claim1", "p1", "2023-05-05",
	  SCOPE_FINANCIAL, NULL, "2023-06-01T00:00:00Z",
	  "{\"total\":[{\"amount\":{\"value\":10}}]}",
	  "{\"id\":\"claim1\",\"status\":\"active\"}" },
	{ "Condition", "sens", "p1", "2024-02-02", SCOPE_SENSITIVE, NULL,
	  "2025-01-01T00:00:00Z", "{\"id\":\"sens\"}", NULL },
	{ "Observation", "other", "p2", "2024-01-01", 0, NULL,
	  "2025-01-01T00:00:00Z", "{\"id\":\"other\"}", NULL },
	{ "Organization", "org1", NULL, NULL, 0, NULL,
	  "2025-01-01T00:00:00Z", "{\"id\":\"org1\"}", NULL },
};

static void
setup(void)
{
	static const char *const ins =
	    "INSERT INTO resource (type, id, patient, dos, flags, changed,"
	    " last_updated, json, p2p_json) VALUES (?,?,?,?,?,?,?,?,?)";
	struct p2p_err	 err;
	struct db_stmt	*st;
	size_t		 i;

	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		st = db_stmt(&db, ins, &err);
		ck_assert_ptr_nonnull(st);
		db_bind_text(st, 1, rows[i].type);
		db_bind_text(st, 2, rows[i].id);
		db_bind_text(st, 3, rows[i].patient);
		db_bind_text(st, 4, rows[i].dos);
		db_bind_int(st, 5, (int)rows[i].flags);
		db_bind_text(st, 6, rows[i].changed);
		db_bind_text(st, 7, rows[i].updated);
		db_bind_text(st, 8, rows[i].json);
		db_bind_text(st, 9, rows[i].p2p_json);
		ck_assert_int_eq(db_step(st), DB_DONE);
		db_done(st);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_years = 5;
	cfg.pa_change_months = 12;
	ck_assert_int_eq(time_parse("2026-06-15T12:00:00Z", 0, &now), 0);
	release_init(&rules, &cfg, now, 0);
}

static void
teardown(void)
{
	db_close(&db);
}

/* The released ids of p1 as " a b c " in (type, rid) order. */
static void
released(const char *patient, char *out, size_t outsz)
{
	struct p2p_err		 err;
	struct release_row	 row;
	struct db_stmt		*st;
	int			 rc;

	p2p_err_init(&err);
	snprintf(out, outsz, " ");
	st = release_open(&db, &rules, patient, "", 0, 0, &err);
	ck_assert_ptr_nonnull(st);
	while ((rc = release_next(&db, &rules, st, &row, &err)) == 1) {
		strncat(out, row.id, outsz - strlen(out) - 1);
		strncat(out, " ", outsz - strlen(out) - 1);
	}
	ck_assert_int_eq(rc, 0);
	db_done(st);
}

/* The ids released of patient are want (" a b c "). */
static void
released_are(const char *patient, const char *want)
{
	char	 ids[512];

	released(patient, ids, sizeof(ids));
	ck_assert_msg(strcmp(ids, want) == 0, "%s: \"%s\", not \"%s\"",
	    patient, ids, want);
}

START_TEST(test_rules)
{
	ck_assert_str_eq(rules.dos_min, "2021-06-15");
	ck_assert_str_eq(rules.pa_min, "2025-06-15");
	/* Window (o-old out, o-edge in, no-date kept), excluded PAs out,
	 * closed PA only if changed within 12 months, sensitive out. */
	released_are("p1", " c1 pa-closed-new pa-pending claim1 o-in "
	    "o-edge p1 ");
	rules.sensitive = 1;
	released_are("p1", " sens c1 pa-closed-new pa-pending claim1 "
	    "o-in o-edge p1 ");
	released_are("p2", " other ");
	/* A longer window releases the old observation and nothing more. */
	cfg.data_years = 10;
	release_init(&rules, &cfg, now, 0);
	released_are("p1", " c1 pa-closed-new pa-pending claim1 o-in "
	    "o-old o-edge p1 ");
}
END_TEST

/*
 * release_drug_pa: drug PAs (SCOPE_DRUG, decided at load) out by
 * default as CMS-0057-F requires; with the setting, released under the
 * same PA rules as any other (a denied or long-closed one still not),
 * without reloading anything.
 */
START_TEST(test_drug_pa)
{
	char	 ids[512];

	ck_assert_int_eq(cfg.release_drug_pa, 0);
	released("p1", ids, sizeof(ids));
	ck_assert_ptr_null(strstr(ids, "pa-drug"));
	cfg.release_drug_pa = 1;
	release_init(&rules, &cfg, now, 0);
	released_are("p1", " c1 pa-drug pa-closed-new pa-pending claim1 "
	    "o-in o-edge p1 ");
}
END_TEST

START_TEST(test_p2p_json)
{
	struct p2p_err		 err;
	struct release_row	 row;
	struct db_stmt		*st;
	int			 seen = 0;

	p2p_err_init(&err);
	st = release_open(&db, &rules, "p1", "", 0, 0, &err);
	while (release_next(&db, &rules, st, &row, &err) == 1)
		if (strcmp(row.id, "claim1") == 0) {
			/* The non-financial form, never the original. */
			ck_assert_str_eq(row.json,
			    "{\"id\":\"claim1\",\"status\":\"active\"}");
			ck_assert_ptr_null(strstr(row.json, "total"));
			seen = 1;
		}
	db_done(st);
	ck_assert_int_eq(seen, 1);
}
END_TEST

START_TEST(test_narrowing)
{
	struct p2p_err	 err;
	long long	 n;

	p2p_err_init(&err);
	ck_assert_int_eq(release_apply(&rules, "_type",
	    "Observation,Patient", &err), 0);
	released_are("p1", " o-in o-edge p1 ");
	ck_assert_int_eq(release_count(&db, &rules, "p1", &n, &err), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(release_apply(&rules, "_since",
	    "2026-01-01T00:00:00Z", &err), 0);
	released_are("p1", " o-edge ");
	/* Care dates: start/end narrow dated rows, undated ones stay. */
	release_init(&rules, &cfg, now, 0);
	ck_assert_int_eq(release_apply(&rules, "start", "2024", &err), 0);
	ck_assert_int_eq(release_apply(&rules, "end", "2025-01", &err), 0);
	released_are("p1", " c1 pa-closed-new o-in p1 ");
	ck_assert_int_eq(release_apply(&rules, "bogus", "1", &err), 1);
}
END_TEST

/*
 * Regression (fuzz_typefilter, corpus regress-type-empty): under a _type
 * list, "" read past the end of the list and "," before its start; a
 * type names one entry of the list or none.
 */
START_TEST(test_type_ok)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert(release_type_ok(&rules, ""));		/* no narrowing */
	ck_assert_int_eq(release_add_types(&rules, "Patient,Coverage", &err),
	    0);
	ck_assert(release_type_ok(&rules, "Patient"));
	ck_assert(release_type_ok(&rules, "Coverage"));
	ck_assert(!release_type_ok(&rules, ""));
	ck_assert(!release_type_ok(&rules, ","));
	ck_assert(!release_type_ok(&rules, "Patient,Coverage"));
	ck_assert(!release_type_ok(&rules, "Pat"));
	ck_assert(!release_type_ok(&rules, "atient"));
	ck_assert_int_eq(release_add_types(&rules, "", &err), -1);
	ck_assert_int_eq(err.status, 400);
}
END_TEST

START_TEST(test_typefilter)
{
	struct p2p_err	 err;
	long long	 n;

	p2p_err_init(&err);
	ck_assert_int_eq(release_add_typefilter(&rules,
	    "ExplanationOfBenefit?service-date=ge2025-01-01&status=active",
	    &err), 0);
	ck_assert_int_eq(release_add_typefilter(&rules,
	    "Observation?status=final%2Cpreliminary", &err), 0);
	/* o-edge is "amended" at the top level ("final" only nested). */
	released_are("p1", " c1 pa-pending o-in p1 ");
	ck_assert_int_eq(release_count(&db, &rules, "p1", &n, &err), 0);
	ck_assert_int_eq(n, 4);
	release_init(&rules, &cfg, now, 0);
	ck_assert_int_eq(release_add_typefilter(&rules,
	    "Observation?date=lt2024,Observation?date=2024-01", &err), 0);
	released_are("p1", " c1 pa-closed-new pa-pending claim1 o-in "
	    "o-edge p1 ");
	release_init(&rules, &cfg, now, 0);
	ck_assert_int_eq(release_add_typefilter(&rules,
	    "Observation?date=gt2024-01-01,Coverage?_lastUpdated=le2024",
	    &err), 0);
	released_are("p1", " pa-closed-new pa-pending claim1 p1 ");
}
END_TEST

START_TEST(test_refusals)
{
	static const struct {
		const char	*key, *value;
		int		 line;
	} bad[] = {
		{ "_type", "Observation,Bogus", __LINE__ },
		{ "_type", "", __LINE__ },
		{ "_type", "Patient,,Observation", __LINE__ },
		{ "_since", "yesterday", __LINE__ },
		{ "_since", "2999-01-01T00:00:00Z", __LINE__ },	/* future */
		{ "_since", "2999", __LINE__ },
		{ "_until", "2026-13-01", __LINE__ },
		{ "start", "2024-1-1", __LINE__ },
		{ "_typeFilter", "Observation", __LINE__ },
		{ "_typeFilter", "Observation?", __LINE__ },
		{ "_typeFilter", "Observation?code=1234-5", __LINE__ },
		{ "_typeFilter", "Condition?status=active", __LINE__ },
		{ "_typeFilter", "Observation?date=sa2024", __LINE__ },
		{ "_typeFilter", "Observation?date=soon", __LINE__ },
		{ "_typeFilter", "Observation?status=Final", __LINE__ },
		{ "_typeFilter", "Nothing?date=2024", __LINE__ },
		{ "_typeFilter", "Observation?date", __LINE__ },
		{ "_typeFilter", "Observation?date=ge2024&_count=1", __LINE__ },
		{ "_typeFilter", "?date=2024", __LINE__ },
	};
	struct p2p_err	 err;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p2p_err_init(&err);
		release_init(&rules, &cfg, now, 0);
		ck_assert_msg(release_apply(&rules, bad[i].key, bad[i].value,
		    &err) == -1, "line %d accepted", bad[i].line);
		ck_assert_msg(err.status == 400, "line %d: status %d",
		    bad[i].line, err.status);
	}
}
END_TEST

START_TEST(test_paging)
{
	struct p2p_err		 err;
	struct release_row	 row;
	struct db_stmt		*st;
	char			 ids[512], type[64] = "", page[512];
	long long		 rid = 0;
	int			 n, pages = 0;

	p2p_err_init(&err);
	rules.sensitive = 1;
	released("p1", ids, sizeof(ids));
	snprintf(page, sizeof(page), " ");
	/* Pages of 3 by keyset: together exactly the whole set, no row
	 * twice, and the page after the last is empty. */
	do {
		st = release_open(&db, &rules, "p1", type, rid, 3, &err);
		ck_assert_ptr_nonnull(st);
		n = 0;
		while (release_next(&db, &rules, st, &row, &err) == 1) {
			strncat(page, row.id, sizeof(page) - strlen(page) - 1);
			strncat(page, " ", sizeof(page) - strlen(page) - 1);
			snprintf(type, sizeof(type), "%s", row.type);
			rid = row.rid;
			n++;
		}
		db_done(st);
		pages++;
	} while (n == 3);
	ck_assert_str_eq(page, ids);
	ck_assert_int_eq(pages, 3);	/* 8 rows: 3 + 3 + 2 */
	st = release_open(&db, &rules, "p1", type, rid, 3, &err);
	ck_assert_int_eq(release_next(&db, &rules, st, &row, &err), 0);
	db_done(st);
}
END_TEST

START_TEST(test_plan)
{
	struct p2p_err	 err;
	struct db_stmt	*st;
	char		 plan[1024] = "";

	p2p_err_init(&err);
	ck_assert_int_eq(db_prepare(&db,
	    "EXPLAIN QUERY PLAN SELECT rid FROM resource WHERE patient = ?1"
	    " AND (type, rid) > (?2, ?3) ORDER BY type, rid", &st, NULL),
	    0);
	while (db_step(st) == DB_ROW)
		strncat(plan, db_col_text(st, 3),
		    sizeof(plan) - strlen(plan) - 1);
	db_finalize(st);
	ck_assert_ptr_nonnull(strstr(plan, "resource_patient"));
	ck_assert_ptr_null(strstr(plan, "TEMP B-TREE"));
}
END_TEST

static int
collect(void *arg, const char *type, const char *id)
{
	char	*out = arg;

	strcat(out, type);
	strcat(out, "/");
	strcat(out, id);
	strcat(out, " ");
	return 0;
}

START_TEST(test_scans)
{
	static const char j[] = "{\"a\":{\"status\":\"x\"},\"b\":[\"status\","
	    "{\"status\":\"y\"}],\"note\":\"\\\"status\\\":\\\"z\\\"\","
	    "\"status\" : \"final\",\"p\":{\"reference\":"
	    "\"Organization\\/o1\"},\"q\":[{\"reference\":\"Practitioner/d1\"},"
	    "{\"reference\":\"Patient/p1\"},{\"reference\":\"Organization/"
	    "bad id\"}]}";
	char	 v[32], refs[256] = "";

	ck_assert_int_eq(release_top_str(j, strlen(j), "status", v,
	    sizeof(v)), 1);
	ck_assert_str_eq(v, "final");
	ck_assert_int_eq(release_top_str(j, strlen(j), "nothing", v,
	    sizeof(v)), 0);
	ck_assert_int_eq(release_top_str("{\"status\":\"unterminated",
	    23, "status", v, sizeof(v)), 1);
	ck_assert_int_eq(release_refs(j, strlen(j), collect, refs), 0);
	ck_assert_str_eq(refs, "Organization/o1 Practitioner/d1 ");
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_rules),
		UNIT_TEST(test_drug_pa),
		UNIT_TEST(test_type_ok),
		UNIT_TEST(test_p2p_json),
		UNIT_TEST(test_narrowing),
		UNIT_TEST(test_typefilter),
		UNIT_TEST(test_refusals),
		UNIT_TEST(test_paging),
		UNIT_TEST(test_plan),
		UNIT_TEST(test_scans),
	};

	return unit_run(unit_tests("release", setup, teardown, 0, tests,
	    UNIT_N(tests)));
}
