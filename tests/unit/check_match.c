/* Unit tests for match.c: demographics folding, each match decision,
 * the probing guard, and the query plans of the lookups. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "member/consent.h"
#include "json/fhir.h"
#include "member/match.h"
#include "member/norm.h"
#include "core/util.h"
#include "unit.h"

static struct p2p_db	 db;
static long long	 rid;

/* Inserts a resource row and returns its rid. */
static long long
resource(const char *type, const char *id, const char *patient)
{
	static const char sql[] = "INSERT INTO resource (type, id, patient,"
	    " last_updated, json) VALUES (?1, ?2, ?3, '2026-01-01', '{}')";
	struct p2p_err	 err;
	sqlite3_stmt	*st;

	p2p_err_init(&err);
	ck_assert_ptr_nonnull(st = db_stmt(&db, sql, &err));
	db_bind_text(st, 1, type);
	db_bind_text(st, 2, id);
	db_bind_text(st, 3, patient);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	db_done(st);
	return sqlite3_last_insert_rowid(db.h);
}

static void
ident(long long r, int kind, const char *value, const char *patient)
{
	static const char sql[] = "INSERT INTO ident (rid, kind, system, value,"
	    " patient) VALUES (?1, ?2, 'urn:x', ?3, ?4)";
	struct p2p_err	 err;
	sqlite3_stmt	*st;

	p2p_err_init(&err);
	ck_assert_ptr_nonnull(st = db_stmt(&db, sql, &err));
	sqlite3_bind_int64(st, 1, r);
	sqlite3_bind_int(st, 2, kind);
	db_bind_text(st, 3, value);
	db_bind_text(st, 4, patient);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	db_done(st);
}

/* A member: Patient (with identifier pid, kind 1) and a Coverage with
 * subscriberId sub (kind 2); names are folded as the loader does. */
static void
member(const char *id, const char *family, const char *given,
    const char *birth, const char *gender, const char *pid, const char *sub)
{
	static const char sql[] = "INSERT INTO demog (rid, patient, family,"
	    " given, birth_date, gender) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	struct p2p_err	 err;
	sqlite3_stmt	*st;
	char		 f[64], g[64], cov[80];

	rid = resource("Patient", id, id);
	p2p_err_init(&err);
	ck_assert_ptr_nonnull(st = db_stmt(&db, sql, &err));
	sqlite3_bind_int64(st, 1, rid);
	db_bind_text(st, 2, id);
	norm_name(family, f, sizeof(f));
	norm_name(given, g, sizeof(g));
	db_bind_text(st, 3, f);
	db_bind_text(st, 4, g);
	db_bind_text(st, 5, birth);
	db_bind_text(st, 6, gender);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	db_done(st);
	if (pid != NULL)
		ident(rid, 1, pid, id);
	if (sub != NULL) {
		snprintf(cov, sizeof(cov), "cov-%s", id);
		ident(resource("Coverage", cov, id), 2, sub, id);
	}
}

static void
setup(void)
{
	unit_db_open(&db);
	member("m1", "Johnson", "Robert", "1952-07-25", "male", "M12345", "SUB-001");
	member("m2", "Williams", "Sarah", "1985-03-12", "female", "M67890", "SUB-002");
	/* Look-alikes: same demographics, no identifiers in common. */
	member("m3", "Smith", "John", "1970-01-01", "male", "S-1", NULL);
	member("m4", "Smith", "John", "1970-01-01", "male", "S-2", NULL);
	/* A family sharing one subscriber id. */
	member("m6", "Brown", "Anna", "2000-01-01", "female", NULL, "FAM-1");
	member("m7", "Brown", "Ben", "2000-01-01", "male", NULL, "FAM-1");
	member("m5", "N\xc3\xba\xc3\xb1" "ez", "Jos\xc3\xa9", "1990-05-05",
	    "male", NULL, "SUB-005");
}

static void
teardown(void)
{
	db_close(&db);
}

#define PAT(n)		"{\"resourceType\":\"Patient\"," n "}"
#define COV(c)		"{\"resourceType\":\"Coverage\"" c "}"
#define JOHNSON		"\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\"]}]," \
			"\"birthDate\":\"1952-07-25\",\"gender\":\"male\""
#define MB(v)		"{\"type\":{\"coding\":[{\"system\":" \
			"\"http://terminology.hl7.org/CodeSystem/v2-0203\"," \
			"\"code\":\"MB\"}]},\"value\":\"" v "\"}"

static const struct {
	const char		*patient, *coverage;
	enum match_result	 res;
	const char		*id;
	int			 line;
} cases[] = {
	{ PAT(JOHNSON), COV(",\"subscriberId\":\"SUB-001\""), MATCH_ONE, "m1", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"JOHNSON\",\"given\":[\"robert\"]}],"
	  "\"birthDate\":\"1952-07-25\",\"gender\":\"M\""),
	  COV(",\"subscriberId\":\"SUB-001\""), MATCH_ONE, "m1", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\"]}],"
	  "\"birthDate\":\"1952-07-26\""),
	  COV(",\"subscriberId\":\"SUB-001\""), MATCH_NONE, "", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\"]}],"
	  "\"birthDate\":\"1952-07-25\",\"gender\":\"female\""),
	  COV(",\"subscriberId\":\"SUB-001\""), MATCH_NONE, "", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Bob\"]}],"
	  "\"birthDate\":\"1952-07-25\""),
	  COV(",\"subscriberId\":\"SUB-001\""), MATCH_NONE, "", __LINE__ },
	/* Right person, someone else's card: identifiers nominate only. */
	{ PAT(JOHNSON), COV(",\"subscriberId\":\"SUB-002\""), MATCH_NONE, "", __LINE__ },
	/* Identifiers given but unknown: no fallback to demographics. */
	{ PAT(JOHNSON), COV(",\"subscriberId\":\"ZZZ\""), MATCH_NONE, "", __LINE__ },
	/* Demographics alone. */
	{ PAT(JOHNSON), COV(""), MATCH_ONE, "m1", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Smith\",\"given\":[\"John\"]}],"
	  "\"birthDate\":\"1970-01-01\",\"gender\":\"male\""), COV(""),
	  MATCH_MANY, "", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Smith\",\"given\":[\"John\"]}],"
	  "\"birthDate\":\"1970-01-01\"," "\"identifier\":[{\"value\":\"S-2\"}]"),
	  COV(""), MATCH_ONE, "m4", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Nobody\",\"given\":[\"John\"]}],"
	  "\"birthDate\":\"1970-01-01\""), COV(""), MATCH_NONE, "", __LINE__ },
	/* A shared subscriber id: given name and gender decide. */
	{ PAT("\"name\":[{\"family\":\"Brown\",\"given\":[\"Anna\"]}],"
	  "\"birthDate\":\"2000-01-01\""), COV(",\"subscriberId\":\"FAM-1\""),
	  MATCH_ONE, "m6", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Brown\"}],\"birthDate\":\"2000-01-01\","
	  "\"gender\":\"male\""), COV(",\"subscriberId\":\"FAM-1\""),
	  MATCH_ONE, "m7", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Brown\"}],\"birthDate\":\"2000-01-01\""),
	  COV(",\"subscriberId\":\"FAM-1\""), MATCH_MANY, "", __LINE__ },
	/* Member id typed MB, on the Patient or on the Coverage. */
	{ PAT(JOHNSON ",\"identifier\":[" MB("M12345") "]"), COV(""),
	  MATCH_ONE, "m1", __LINE__ },
	{ PAT(JOHNSON), COV(",\"identifier\":[" MB("M12345") "]"),
	  MATCH_ONE, "m1", __LINE__ },
	/* An untyped Coverage.identifier is only looked up as kind 3. */
	{ PAT(JOHNSON), COV(",\"identifier\":[{\"value\":\"M12345\"}]"),
	  MATCH_NONE, "", __LINE__ },
	/* Name folding: accents, case, extra given names. */
	{ PAT("\"name\":[{\"family\":\"NUNEZ\",\"given\":[\"jose\"]}],"
	  "\"birthDate\":\"1990-05-05\""), COV(",\"subscriberId\":\"SUB-005\""),
	  MATCH_ONE, "m5", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"N\xc3\xba\xc3\xb1" "ez\",\"given\":"
	  "[\"Jos\xc3\xa9\",\"Luis\"]}],\"birthDate\":\"1990-05-05\""), COV(""),
	  MATCH_ONE, "m5", __LINE__ },
};

START_TEST(test_decisions)
{
	struct match_input	 in;
	struct p2p_err		 err;
	enum match_result	 res;
	char			 id[72];

	p2p_err_init(&err);
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(fhir_parse(cases[_i].patient, strlen(cases[_i].patient),
	    &in.patient, &err), 0);
	ck_assert_int_eq(fhir_parse(cases[_i].coverage,
	    strlen(cases[_i].coverage), &in.coverage, &err), 0);
	ck_assert_int_eq(match_find(&db, &in, &res, id, sizeof(id), &err), 0);
	ck_assert_msg(res == cases[_i].res, "line %d: result %d", cases[_i].line,
	    (int)res);
	if (res == MATCH_ONE)
		ck_assert_msg(strcmp(id, cases[_i].id) == 0, "line %d: %s",
		    cases[_i].line, id);
	json_object_put(in.patient);
	json_object_put(in.coverage);
}
END_TEST

START_TEST(test_demog_of)
{
	static const char p[] = PAT("\"name\":[{\"given\":[\"X\"]},{\"family\":"
	    "\"O'Brien\",\"given\":[\"Mary Ann\",\"Zo\xc3\xab\"]}],"
	    "\"birthDate\":\"1999-12-31\",\"gender\":\"F\"");
	struct match_demog	 d;
	struct p2p_err		 err;
	json_object		*o;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(p, strlen(p), &o, &err), 0);
	match_demog_of(o, &d);
	ck_assert_str_eq(d.family, "obrien");
	ck_assert_str_eq(d.given, "maryann");
	ck_assert_str_eq(d.given_all, "maryannzoe");
	ck_assert_str_eq(d.birth, "1999-12-31");
	ck_assert_str_eq(d.gender, "female");
	ck_assert(match_agrees(&d, "obrien", "maryann", "1999-12-31", "female"));
	ck_assert(match_agrees(&d, "obrien", "maryannzoe", "1999-12-31", "F"));
	ck_assert(!match_agrees(&d, "obrien", "mary", "1999-12-31", "female"));
	ck_assert(!match_agrees(&d, "obrien", "maryann", "1999-12-30", "female"));
	ck_assert(!match_agrees(&d, "obrien", "maryann", "1999-12-31", NULL));
	ck_assert(!match_agrees(&d, "brien", "maryann", "1999-12-31", "female"));
	json_object_put(o);
}
END_TEST

START_TEST(test_probe)
{
	static const char p[] = PAT(JOHNSON);
	struct match_input	 in;
	struct p2p_err		 err;
	char			 c[128];
	int			 i;

	memset(&in, 0, sizeof(in));
	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(p, strlen(p), &in.patient, &err), 0);
	for (i = 0; i < 4; i++) {
		snprintf(c, sizeof(c), COV(",\"subscriberId\":\"CARD-%d\""), i % 3);
		ck_assert_int_eq(fhir_parse(c, strlen(c), &in.coverage, &err), 0);
		/* Three distinct cards (one sent twice) stay under limit 3. */
		ck_assert_int_eq(match_probe(&db, "a", &in, 3, 600, 1000 + i,
		    &err), 0);
		json_object_put(in.coverage);
	}
	snprintf(c, sizeof(c), COV(",\"subscriberId\":\"CARD-9\""));
	ck_assert_int_eq(fhir_parse(c, strlen(c), &in.coverage, &err), 0);
	ck_assert_int_eq(match_probe(&db, "a", &in, 3, 600, 1010, &err), -1);
	ck_assert_int_eq(err.status, 429);
	ck_assert_int_eq(err.retry_after, 600);
	/* Another client is not affected; nor is this one after the window. */
	p2p_err_init(&err);
	ck_assert_int_eq(match_probe(&db, "b", &in, 3, 600, 1010, &err), 0);
	ck_assert_int_eq(match_probe(&db, "a", &in, 3, 600, 1700, &err), 0);
	json_object_put(in.coverage);
	json_object_put(in.patient);
}
END_TEST

/* Every lookup a request runs is an index search, never a scan. */
START_TEST(test_query_plans)
{
	unit_plans_indexed(&db, match_queries);
	unit_plans_indexed(&db, consent_queries);
}
END_TEST

/*
 * $member-match as the operation runs it after its gates, on the
 * fixture: match_parse(), match_member(), match_reply().
 */
static int
handle(const char *body, const char *client, const char *org, int *status,
    json_object **reply)
{
	struct p2p_config	 cfg;
	struct match_input	 in;
	struct p2p_err		 err;
	json_object		*req;
	char			 patient[72];
	int			 rc;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp");
	config_defaults(&cfg);
	cfg.allow_legacy_consentless = 1;
	p2p_err_init(&err);
	*reply = NULL;
	ck_assert_int_eq(fhir_parse(body, strlen(body), &req, &err), 0);
	if ((rc = match_parse(req, &in, &err)) == 0 &&
	    (rc = match_member(&db, &cfg, &in, client, "", org, now_sec(),
	    patient, sizeof(patient), &err)) == 0)
		ck_assert_ptr_nonnull(*reply = match_reply(&cfg, &in,
		    patient));
	*status = rc == 0 ? 200 : err.status;
	ck_assert_int_eq(db.in_tx, 0);	/* ended, either way */
	json_object_put(req);
	return rc;
}

#define CONSENT_OK "{\"name\":\"Consent\",\"resource\":{\"resourceType\":\"Consent\"," \
	"\"status\":\"active\",\"scope\":{\"coding\":[{\"system\":" \
	"\"http://terminology.hl7.org/CodeSystem/consentscope\",\"code\":\"patient-privacy\"}]}," \
	"\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\"," \
	"\"code\":\"IDSCL\"}]}],\"policy\":[{\"uri\":\"http://hl7.org/fhir/us/davinci-hrex/" \
	"StructureDefinition-hrex-consent.html#regular\"}],\"provision\":{\"type\":\"permit\"," \
	"\"period\":{\"start\":\"2020-01-01\",\"end\":\"2099-01-01\"},\"actor\":[{\"role\":" \
	"{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ParticipationType\"," \
	"\"code\":\"IRCP\"}]},\"reference\":{\"reference\":\"Organization/org-a\"}}]}}}"
#define MP(n)	"{\"name\":\"MemberPatient\",\"resource\":" PAT(n) "}"
#define CTM(c)	"{\"name\":\"CoverageToMatch\",\"resource\":" COV(c) "}"

START_TEST(test_member_match)
{
	static const char hrex[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    MP(JOHNSON) "," CTM(",\"subscriberId\":\"SUB-001\"") "," CONSENT_OK "]}";
	static const char legacy[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    MP(JOHNSON) ",{\"name\":\"OldCoverage\",\"resource\":" COV("") "},"
	    "{\"name\":\"NewCoverage\",\"resource\":" COV(",\"id\":\"new\"") "}]}";
	static const char nobody[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    MP("\"name\":[{\"family\":\"X\"}],\"birthDate\":\"2001-01-01\"") ","
	    CTM("") "," CONSENT_OK "]}";
	static const char many[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    MP("\"name\":[{\"family\":\"Smith\"}],\"birthDate\":\"1970-01-01\"") ","
	    CTM("") "," CONSENT_OK "]}";
	static const char sarah[] = "{\"resourceType\":\"Parameters\",\"parameter\":["
	    MP("\"name\":[{\"family\":\"Williams\"}],\"birthDate\":\"1985-03-12\"") ","
	    CTM("") "," CONSENT_OK "]}";
	json_object	*r;
	long long	 cid;
	int		 st, sens;
	struct p2p_err	 err;

	ck_assert_int_eq(handle(hrex, "a", "org-a", &st, &r), 0);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(fhir_path_str(r, "parameter.valueIdentifier.value"), "m1");
	ck_assert(fhir_has_coding(fhir_path(r, "parameter.valueIdentifier.type"),
	    "http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp", "UMB"));
	json_object_put(r);
	p2p_err_init(&err);
	ck_assert_int_eq(consent_access(&db, "a", "m1", now_sec(), &cid, &sens,
	    &err), 0);
	ck_assert_int_gt(cid, 0);
	ck_assert_int_eq(consent_access(&db, "b", "m1", now_sec(), &cid, &sens,
	    &err), -1);
	ck_assert_int_eq(err.status, 404);

	/* Client b is not the consent's recipient. */
	ck_assert_int_eq(handle(hrex, "b", "org-b", &st, &r), -1);
	ck_assert_int_eq(st, 422);
	/* Legacy, consent-less (demo setting). */
	ck_assert_int_eq(handle(legacy, "c", "org-c", &st, &r), 0);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(fhir_path_str(r, "parameter.resource.resourceType"),
	    "Patient");
	json_object_put(r);
	p2p_err_init(&err);
	ck_assert_int_eq(consent_access(&db, "c", "m1", now_sec(), &cid, &sens,
	    &err), 0);
	ck_assert_int_eq(handle(nobody, "a", "org-a", &st, &r), -1);
	ck_assert_int_eq(st, 422);
	/* A refused attempt still counts for the probing guard. */
	ck_assert_int_ge(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'a'"), 2);
	ck_assert_int_eq(handle(many, "a", "org-a", &st, &r), -1);
	ck_assert_int_eq(st, 422);
	/* Opt-out on file for m2. */
	ck_assert_int_eq(db_exec(&db, "INSERT INTO consent (id, patient, source,"
	    " status, provision, created, updated, json) VALUES ('o1', 'm2',"
	    " 'loaded', 'active', 'deny', 'x', 'x', '{}')", &err), 0);
	ck_assert_int_eq(handle(sarah, "a", "org-a", &st, &r), -1);
	ck_assert_int_eq(st, 422);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("match", &tc, setup, teardown);

	tcase_add_loop_test(tc, test_decisions, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_demog_of);
	tcase_add_test(tc, test_probe);
	tcase_add_test(tc, test_query_plans);
	tcase_add_test(tc, test_member_match);
	return unit_run(s);
}
