/*
 * check_audit.c - unit tests for member/audit.c: the records written
 * (audit_log, audit_refusal), a job's release records as AuditEvents,
 * and the disclosure export by member and time.
 */
#include <check.h>

#include "member/audit.h"

#include "unit.h"
#include "jobfix.h"

/* The one text a query returns (NULL without a row), in a static buffer. */
static const char *
qtext(const char *sql)
{
	static char	 buf[512];

	return unit_text(&db, sql, buf, sizeof(buf));
}

START_TEST(test_log)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(audit_log(&db, AUDIT_RELEASE, "success", "c1", "m1",
	    7, "data-export job x: 2 resources into the job's files", &err), 0);
	ck_assert_int_eq(audit_log(&db, AUDIT_TOKEN, "success", NULL, NULL, 0,
	    NULL, &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'release' AND outcome = 'success' AND client_id = 'c1' AND"
	    " patient = 'm1' AND cid = 7 AND time LIKE '____-__-__T__:__:__Z'",
	    NULL), 1);
	/* cid 0 and NULL texts are NULL columns. */
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event = 'token'"
	    " AND client_id IS NULL AND patient IS NULL AND cid IS NULL AND"
	    " detail IS NULL", NULL), 1);
	/* Append-only: the record of a release cannot be undone. */
	ck_assert_int_ne(sqlite3_exec(db.h, "DELETE FROM audit", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_ne(sqlite3_exec(db.h, "UPDATE audit SET outcome ="
	    " 'failure'", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), 2);
}
END_TEST

START_TEST(test_refusal)
{
	struct p2p_err	 err, why;

	p2p_err_init(&why);
	p2p_fail(&why, 403, P2P_ISSUE_FORBIDDEN, "the consent lapsed");
	p2p_err_init(&err);
	ck_assert_int_eq(audit_refusal(&db, AUDIT_RELEASE, "data-export", "c1",
	    "m1", 0, &why, &err), 0);
	ck_assert_str_eq(qtext("SELECT detail FROM audit"),
	    "403 data-export: the consent lapsed");
	ck_assert_str_eq(qtext("SELECT outcome FROM audit"), "failure");
	/* An empty client or member (not identified) is no name at all. */
	ck_assert_int_eq(audit_refusal(&db, AUDIT_AUTH, "token", "", "", 0,
	    &why, &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event = 'auth'"
	    " AND client_id IS NULL AND patient IS NULL", NULL), 1);
}
END_TEST

/* One record as an AuditEvent: outcome code, action, what went out. */
START_TEST(test_event_of_a_job_release)
{
	static const struct {
		int		 line;
		const char	*outcome;
		const char	*detail;
		const char	*code;		/* AuditEvent.outcome */
	} t[] = {
		{ __LINE__, "success", "data-export job j: 2 resources into the"
		    " job's files", "0" },
		{ __LINE__, "failure", "data-export job j: left out: no valid"
		    " consent at execution time", "4" },
		{ __LINE__, "failure", "403 export-status: file withdrawn", "4" },
		{ __LINE__, "failure", "500 export-status: database", "8" },
		{ __LINE__, "failure", "5000 x", "4" },
	};
	struct audit_row	 r;
	json_object		*ev, *ent;
	const char		*s;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.aid = 5;
		r.time = "2026-01-01T00:00:00Z";
		r.event = "release";
		r.outcome = t[i].outcome;
		r.client_id = "c1";
		r.client_npi = "1234567893";
		r.patient = "m1";
		r.consent_id = "c123";
		r.detail = t[i].detail;
		ck_assert_ptr_nonnull(ev = audit_event_json(&r, &cfg));
		ck_assert_msg(strcmp(fhir_str(ev, "outcome"), t[i].code) == 0,
		    "line %d: %s", t[i].line, fhir_str(ev, "outcome"));
		ck_assert_str_eq(fhir_str(ev, "action"), "R");
		s = fhir_json(ev);
		ck_assert_msg(strstr(s, "\"reference\":\"Patient/m1\"") != NULL &&
		    strstr(s, "\"reference\":\"Consent/c123\"") != NULL,
		    "line %d: %s", t[i].line, s);
		/* What was released is the data entity's detail. */
		ent = json_object_array_get_idx(fhir_get(ev, "entity",
		    json_type_array), 2);
		ck_assert_ptr_nonnull(ent);
		ck_assert_ptr_nonnull(strstr(fhir_json(ent), "\"valueString\""));
		ck_assert_ptr_null(fhir_get(ev, "outcomeDesc", json_type_string));
		json_object_put(ev);
	}
}
END_TEST

/* The disclosure report: a member's records, in time order, bounded. */
START_TEST(test_export_by_member_and_time)
{
	struct p2p_err	 err;
	char		 path[PATH_MAX + 32], text[16384];
	FILE		*f;
	long		 n;

	exec_sql("INSERT INTO audit (time, event, outcome, client_id, patient,"
	    " cid, detail) VALUES"
	    " ('2026-01-02T00:00:00Z', 'release', 'success', 'c1', 'm1', NULL,"
	    " 'everything job j: 1 resources into the job''s files'),"
	    " ('2026-01-01T00:00:00Z', 'match', 'success', 'c1', 'm1', NULL,"
	    " 'bulk-member-match'),"
	    " ('2026-01-03T00:00:00Z', 'release', 'success', 'c1', 'm2', NULL,"
	    " 'x')");
	snprintf(path, sizeof(path), "%s/audit.ndjson", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	p2p_err_init(&err);
	ck_assert_int_eq(audit_export(&db, &cfg, "m1", NULL, NULL, f, &n, &err),
	    0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(audit_export(&db, &cfg, NULL, "2026-01-02T00:00:00Z",
	    "2026-01-02T23:59:59Z", f, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	fclose(f);
	unit_slurp(path, text, sizeof(text));
	/* Oldest first: the match, then the release. */
	ck_assert_ptr_nonnull(strstr(text, "member-match"));
	ck_assert_ptr_nonnull(strstr(text, "everything job j"));
	ck_assert(strstr(text, "member-match") < strstr(text,
	    "everything job j"));
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_log),
		UNIT_TEST(test_refusal),
		UNIT_TEST(test_event_of_a_job_release),
		UNIT_TEST(test_export_by_member_and_time),
	};

	return jobfix_run("audit", 0, tests, UNIT_N(tests));
}
