/*
 * check_bulkmatch.c - unit tests for member/bulkmatch.c: the kick-off checks.
 */
#include <check.h>

#include "json/fhir.h"
#include "member/bulkmatch.h"

#include "unit.h"
#include "jobfix.h"

/*
 * $bulk-member-match kick-off checks: malformed MemberBundles are a 400
 * naming the index; one merely missing a required part is accepted (the
 * runner fails that member alone) but bulk_match_parts() refuses it.
 */
#define MB_PAT	"{\"name\":\"MemberPatient\",\"resource\":{\"resourceType\":\"Patient\"," \
		"\"name\":[{\"family\":\"Doe\"}],\"birthDate\":\"1980-02-03\"}}"
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
		/* What matching reads, checked as for $member-match. */
		{ __LINE__, PARAMS(MB(MB_COV ",{\"name\":\"MemberPatient\","
		    "\"resource\":{\"resourceType\":\"Patient\",\"name\":[{"
		    "\"family\":\"Doe\"}]}}")), 400,
		    "MemberBundle 1: Parameters.parameter[0].part[1].resource"
		    ".birthDate is required", 0 },
	};
	struct match_input	 in;
	struct match_key	 k;
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
			    json_object_array_length(arr) - 1), 0, &in, &k,
			    &err);
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

/* --- the runner's work (bulk_match_run) ------------------------------- */

#define NPI	"1234567893"

/* A HRex Consent of patient naming the requesting payer (NPI) as IRCP. */
static void
consent_json(char *out, size_t sz, const char *patient, const char *end)
{
	snprintf(out, sz, "{\"name\":\"Consent\",\"resource\":{\"resourceType\":"
	    "\"Consent\",\"status\":\"active\",\"scope\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/consentscope\",\"code\":"
	    "\"patient-privacy\"}]},\"category\":[{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":"
	    "\"IDSCL\"}]}],\"patient\":{\"reference\":\"Patient/%s\"},"
	    "\"policy\":[{\"uri\":\"http://hl7.org/fhir/us/davinci-hrex/"
	    "StructureDefinition-hrex-consent.html#regular\"}],\"provision\":{"
	    "\"type\":\"permit\",\"period\":{\"start\":\"2000-01-01\",\"end\":"
	    "\"%s\"},\"actor\":[{\"role\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\","
	    "\"code\":\"IRCP\"}]},\"reference\":{\"identifier\":{\"system\":"
	    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"" NPI "\"}}}]}}}",
	    patient, end);
}

/* A MemberBundle: demographics, the card's subscriberId, the consent. */
static void
member_bundle(char *out, size_t sz, const char *family, const char *sub,
    const char *consent)
{
	snprintf(out, sz, "{\"name\":\"MemberBundle\",\"part\":["
	    "{\"name\":\"MemberPatient\",\"resource\":{\"resourceType\":"
	    "\"Patient\",\"name\":[{\"family\":\"%s\",\"given\":[\"Jane\"]}],"
	    "\"birthDate\":\"1980-01-01\",\"gender\":\"female\"}},"
	    "{\"name\":\"CoverageToMatch\",\"resource\":{\"resourceType\":"
	    "\"Coverage\",\"status\":\"active\",\"subscriberId\":\"%s\","
	    "\"beneficiary\":{\"reference\":\"Patient/x\"},\"payor\":"
	    "[{\"reference\":\"Organization/o\"}]}}%s%s]}", family, sub,
	    consent[0] ? "," : "", consent);
}

/* Members m1 (Doe, SUB-1) and m2 (Roe, SUB-2). */
static void
loaded_members(void)
{
	put_json("{\"resourceType\":\"Patient\",\"id\":\"m1\",\"name\":"
	    "[{\"family\":\"Doe\",\"given\":[\"Jane\"]}],\"birthDate\":"
	    "\"1980-01-01\",\"gender\":\"female\"}");
	put_json("{\"resourceType\":\"Coverage\",\"id\":\"cov-m1\",\"status\":"
	    "\"active\",\"subscriberId\":\"SUB-1\",\"beneficiary\":"
	    "{\"reference\":\"Patient/m1\"},\"payor\":[{\"reference\":"
	    "\"Organization/o\"}]}");
	put_json("{\"resourceType\":\"Patient\",\"id\":\"m2\",\"name\":"
	    "[{\"family\":\"Roe\",\"given\":[\"Jane\"]}],\"birthDate\":"
	    "\"1980-01-01\",\"gender\":\"female\"}");
	put_json("{\"resourceType\":\"Coverage\",\"id\":\"cov-m2\",\"status\":"
	    "\"active\",\"subscriberId\":\"SUB-2\",\"beneficiary\":"
	    "{\"reference\":\"Patient/m2\"},\"payor\":[{\"reference\":"
	    "\"Organization/o\"}]}");
}

/* Claims job id for runner and runs bulk_match_run(), then completes. */
static void
run_bulk(const char *runner, const char *id)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;

	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, runner, 300, &job, &err), 1);
	ck_assert_str_eq(job.id, id);
	ck_assert_ptr_nonnull(o = job_out_new(&job, &cfg, &err));
	ck_assert_msg(bulk_match_run(&db, &cfg, &job, o, &err) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, runner, o, &err), 0);
	job_out_free(o);
	job_free(&job);
}

/*
 * What test_bulk_match_run finds after each run of the job ?1: one
 * Group per result, m1 matched once with its submitted consent, audited,
 * and the job's one member.
 */
static const struct unit_count	 matched[] = {
	{ "SELECT count(*) FROM grp WHERE job_id = ?1", 3 },
	{ "SELECT count(*) FROM grp g JOIN grp_member m ON m.group_id = g.id"
	  " WHERE g.job_id = ?1 AND g.kind = 'match' AND m.patient = 'm1'", 1 },
	{ "SELECT count(*) FROM consent WHERE source = 'submitted'", 1 },
	{ "SELECT count(*) FROM match WHERE client_id = 'c1'"
	  " AND patient = 'm1'", 1 },
	{ "SELECT count(*) FROM audit WHERE event = 'match'"
	  " AND outcome = 'success' AND patient = 'm1'", 1 },
	/* The files name m1: it is the job's member. */
	{ "SELECT count(*) FROM job_member WHERE job_id = ?1"
	  " AND patient = 'm1' AND cid IS NOT NULL", 1 },
	{ "SELECT count(*) FROM job_member WHERE job_id = ?1", 1 },
};

/*
 * Each MemberBundle sorted alone: matched with a valid consent, not
 * matched, matched with a lapsed consent, malformed (error file only);
 * the Groups stored and written; a retaken run stores no Consent and
 * records no match twice.
 */
START_TEST(test_bulk_match_run)
{
	static char	 body[20000], mb[4][4096], con[2][2048];
	struct p2p_err	 err;
	json_object	*req;
	char		 id[JOB_ID_LEN + 1], path[PATH_MAX + 160], text[8192];
	int		 pass;

	loaded_members();
	consent_json(con[0], sizeof(con[0]), "m1", "2999-01-01");
	consent_json(con[1], sizeof(con[1]), "m2", "2001-01-01");
	member_bundle(mb[0], sizeof(mb[0]), "Doe", "SUB-1", con[0]);
	member_bundle(mb[1], sizeof(mb[1]), "Doe", "NOPE-9", con[0]);
	member_bundle(mb[2], sizeof(mb[2]), "Roe", "SUB-2", con[1]);
	member_bundle(mb[3], sizeof(mb[3]), "Doe", "SUB-1", "");
	snprintf(body, sizeof(body), "{\"resourceType\":\"Parameters\","
	    "\"parameter\":[%s,%s,%s,%s]}", mb[0], mb[1], mb[2], mb[3]);
	ck_assert_ptr_nonnull(req = json_tokener_parse(body));
	p2p_err_init(&err);
	ck_assert_int_eq(bulk_match_queue(&db, &cfg, "c1", NPI, "", req,
	    now_sec(), id, &err), 0);
	json_object_put(req);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)	/* the first runner died after its commit */
			set_sql("UPDATE job SET status = 'running', heartbeat ="
			    " heartbeat - 301 WHERE id = ?1", id);
		run_bulk(pass == 0 ? "h:1" : "h:2", id);
		unit_counts(&db, id, matched, UNIT_N(matched));
	}
	snprintf(path, sizeof(path), "%s/%s/Group-1.ndjson", cfg.output_dir, id);
	unit_slurp(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "\"code\":\"match\""));
	ck_assert_ptr_nonnull(strstr(text, "\"code\":\"nomatch\""));
	ck_assert_ptr_nonnull(strstr(text, "\"code\":\"consentconstraint\""));
	ck_assert_ptr_nonnull(strstr(text, "Patient/m1"));
	ck_assert_ptr_null(strstr(text, "Patient/m2"));
	snprintf(path, sizeof(path), "%s/%s/Parameters-1.ndjson",
	    cfg.output_dir, id);
	unit_slurp(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "ConsentConstrainedMembers"));
	snprintf(path, sizeof(path), "%s/%s/OperationOutcome-error-1.ndjson",
	    cfg.output_dir, id);
	unit_slurp(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "MemberBundle 4"));
	ck_assert_ptr_null(strstr(text, "MemberBundle 1"));
}
END_TEST

/*
 * The kick-off's probing guard over more MemberBundles than one of its
 * transactions holds: 300 guesses of one person, limit 5; the
 * decisions go with the job, each refusal audited, every attempt kept.
 */
START_TEST(test_bulk_match_guard)
{
	struct p2p_buf	 b = { NULL, 0, 0 };
	struct p2p_err	 err;
	struct db_stmt	*st;
	json_object	*body, *params, *thr;
	char		 id[JOB_ID_LEN + 1];
	int		 i;

	buf_puts(&b, "{\"resourceType\":\"Parameters\",\"parameter\":[");
	for (i = 0; i < 300; i++)
		buf_printf(&b, "%s" MB("{\"name\":\"MemberPatient\",\"resource\":"
		    "{\"resourceType\":\"Patient\",\"name\":[{\"family\":"
		    "\"Doe\"}],\"birthDate\":\"1980-02-03\"}},{\"name\":"
		    "\"CoverageToMatch\",\"resource\":{\"resourceType\":"
		    "\"Coverage\",\"subscriberId\":\"G%d\"}}," MB_CON),
		    i ? "," : "", i);
	buf_puts(&b, "]}");
	ck_assert_ptr_nonnull(body = json_tokener_parse(b.p));
	buf_free(&b);
	p2p_err_init(&err);
	cfg.probe_limit = 5;
	cfg.bulk_max_members = 1000;
	ck_assert_int_eq(bulk_match_queue(&db, &cfg, "cl", "1234567893", "org",
	    body, 5000, id, &err), 0);
	json_object_put(body);
	ck_assert_int_eq(qint("SELECT count(*) FROM probe WHERE client_id ="
	    " 'cl'", NULL), 300);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE outcome ="
	    " 'failure' AND detail LIKE '429 bulk-member-match: MemberBundle %'",
	    NULL), 295);
	ck_assert_int_eq(db_prepare(&db, "SELECT params FROM job"
	    " WHERE id = ?1", &st, NULL), 0);
	db_bind_text(st, 1, id);
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_ptr_nonnull(params = json_tokener_parse((const char *)
	    db_col_text(st, 0)));
	db_finalize(st);
	ck_assert_ptr_nonnull(thr = fhir_get(params, "throttled",
	    json_type_array));
	ck_assert_uint_eq(json_object_array_length(thr), 295);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(thr, 0)),
	    5);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(thr,
	    294)), 299);
	json_object_put(params);
	ck_assert_int_eq(db.in_tx, 0);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_bulk_match_check),
		UNIT_TEST(test_bulk_match_guard),
		UNIT_TEST(test_bulk_match_run),
	};

	return jobfix_run("bulkmatch", 0, tests, UNIT_N(tests));
}
