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

/*
 * The cached statement of sql (static storage: db_stmt() keys its cache
 * by the address), to bind and then run with insert().
 */
static struct db_stmt *
stmt(const char *sql)
{
	struct p2p_err	 err;
	struct db_stmt	*st;

	p2p_err_init(&err);
	ck_assert_msg((st = db_stmt(&db, sql, &err)) != NULL, "%s", err.msg);
	return st;
}

/* Runs the bound INSERT st; returns the rowid it made. */
static long long
insert(struct db_stmt *st)
{
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_done(st);
	return db_last_id(&db);
}

/* Inserts a resource row and returns its rid. */
static long long
resource(const char *type, const char *id, const char *patient)
{
	static const char sql[] = "INSERT INTO resource (type, id, patient,"
	    " last_updated, json) VALUES (?1, ?2, ?3, '2026-01-01', '{}')";
	struct db_stmt	*st = stmt(sql);

	db_bind_text(st, 1, type);
	db_bind_text(st, 2, id);
	db_bind_text(st, 3, patient);
	return insert(st);
}

static void
ident(long long r, int kind, const char *value, const char *patient)
{
	static const char sql[] = "INSERT INTO ident (rid, kind, system, value,"
	    " patient) VALUES (?1, ?2, 'urn:x', ?3, ?4)";
	struct db_stmt	*st = stmt(sql);

	db_bind_int64(st, 1, r);
	db_bind_int(st, 2, kind);
	db_bind_text(st, 3, value);
	db_bind_text(st, 4, patient);
	insert(st);
}

/* A member: Patient (with identifier pid, kind 1) and a Coverage with
 * subscriberId sub (kind 2); names are folded as the loader does. */
static void
member(const char *id, const char *family, const char *given,
    const char *birth, const char *gender, const char *pid, const char *sub)
{
	static const char sql[] = "INSERT INTO demog (rid, patient, family,"
	    " given, birth_date, gender) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	struct db_stmt	*st;
	char		 f[64], g[64], cov[80];

	rid = resource("Patient", id, id);
	st = stmt(sql);
	db_bind_int64(st, 1, rid);
	db_bind_text(st, 2, id);
	norm_name(family, f, sizeof(f));
	norm_name(given, g, sizeof(g));
	db_bind_text(st, 3, f);
	db_bind_text(st, 4, g);
	db_bind_text(st, 5, birth);
	db_bind_text(st, 6, gender);
	insert(st);
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
	  "\"birthDate\":\"1952-07-25\",\"gender\":\"male\""),
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
	/* A partial birth date compares exactly: "1952" is not 1952-07-25. */
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\"]}],"
	  "\"birthDate\":\"1952\""), COV(",\"subscriberId\":\"SUB-001\""),
	  MATCH_NONE, "", __LINE__ },
	/* The first name with a family name is the one matched. */
	{ PAT("\"name\":[{\"given\":[\"Zed\"]},{\"family\":\"Johnson\","
	  "\"given\":[\"Robert\"]},{\"family\":\"Other\"}],"
	  "\"birthDate\":\"1952-07-25\""), COV(",\"subscriberId\":\"SUB-001\""),
	  MATCH_ONE, "m1", __LINE__ },
};

START_TEST(test_decisions)
{
	struct match_input	 in;
	struct match_key	 k;
	struct p2p_err		 err;
	enum match_result	 res;
	char			 id[72];

	p2p_err_init(&err);
	memset(&in, 0, sizeof(in));
	ck_assert_int_eq(fhir_parse(cases[_i].patient, strlen(cases[_i].patient),
	    &in.patient, &err), 0);
	ck_assert_int_eq(fhir_parse(cases[_i].coverage,
	    strlen(cases[_i].coverage), &in.coverage, &err), 0);
	ck_assert_msg(match_key_of(in.patient, in.coverage, "P", "C", &k,
	    &err) == 0, "line %d: %s", cases[_i].line, err.msg);
	ck_assert_int_eq(match_find(&db, &k, &res, id, sizeof(id), &err), 0);
	ck_assert_msg(res == cases[_i].res, "line %d: result %d", cases[_i].line,
	    (int)res);
	if (res == MATCH_ONE)
		ck_assert_msg(strcmp(id, cases[_i].id) == 0, "line %d: %s",
		    cases[_i].line, id);
	json_object_put(in.patient);
	json_object_put(in.coverage);
}
END_TEST

START_TEST(test_key_of)
{
	static const char p[] = PAT("\"name\":[{\"given\":[\"X\"]},{\"family\":"
	    "\"O'Brien\",\"given\":[\"Mary Ann\",\"Zo\xc3\xab\"]}],"
	    "\"birthDate\":\"1999-12-31\",\"gender\":\"female\","
	    "\"identifier\":[{\"system\":\"urn:x\"}," MB("M1") "]");
	static const char c[] = COV(",\"subscriberId\":\"S1\",\"identifier\":"
	    "[{\"value\":\"M1\"},{\"value\":\"C1\"}]");
	struct match_key	 d;
	struct p2p_err		 err;
	json_object		*o, *co;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(p, strlen(p), &o, &err), 0);
	ck_assert_int_eq(fhir_parse(c, strlen(c), &co, &err), 0);
	ck_assert_int_eq(match_key_of(o, co, "P", "C", &d, &err), 0);
	ck_assert_str_eq(d.family, "obrien");
	ck_assert_str_eq(d.given, "maryann");
	ck_assert_str_eq(d.given_all, "maryannzoe");
	ck_assert_str_eq(d.birth, "1999-12-31");
	ck_assert_str_eq(d.gender, "female");
	/* M1 typed MB: kinds 1, 2, 3 (the Coverage's untyped M1 is kind 3
	 * already); S1 kind 2; C1 kind 3. */
	ck_assert_uint_eq(d.nlook, 5);
	ck_assert(match_agrees(&d, "obrien", "maryann", "1999-12-31", "female"));
	ck_assert(match_agrees(&d, "obrien", "maryannzoe", "1999-12-31", "F"));
	ck_assert(!match_agrees(&d, "obrien", "mary", "1999-12-31", "female"));
	ck_assert(!match_agrees(&d, "obrien", "maryann", "1999-12-30", "female"));
	ck_assert(!match_agrees(&d, "obrien", "maryann", "1999-12-31", NULL));
	ck_assert(!match_agrees(&d, "brien", "maryann", "1999-12-31", "female"));
	json_object_put(o);
	json_object_put(co);
}
END_TEST

/*
 * Issue 15.3: every element matching reads is used or refused (400,
 * naming it); nothing in between.  "" for the coverage: none.
 */
#define J	"\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\"]}]"
#define B	",\"birthDate\":\"1952-07-25\""
#define X11	"{\"value\":\"a\"},{\"value\":\"b\"},{\"value\":\"c\"}," \
		"{\"value\":\"d\"},{\"value\":\"e\"},{\"value\":\"f\"}," \
		"{\"value\":\"g\"},{\"value\":\"h\"},{\"value\":\"i\"}," \
		"{\"value\":\"j\"},{\"value\":\"k\"}"
static const struct {
	const char	*patient, *coverage;
	const char	*expr;		/* the element named */
	const char	*issue;		/* its OperationOutcome code */
	int		 line;
} refused[] = {
	/* A dateTime, or a date that is no date, used to be dropped. */
	{ PAT(J ",\"birthDate\":\"1999-01-01T00:00:00Z\""), "",
	  "P.birthDate", "value", __LINE__ },
	{ PAT(J ",\"birthDate\":\"0000-00-00T00:00:00\""), "",
	  "P.birthDate", "value", __LINE__ },
	{ PAT(J ",\"birthDate\":\"1952-02-30\""), "", "P.birthDate", "value",
	  __LINE__ },
	{ PAT(J ",\"birthDate\":\"52-07-25\""), "", "P.birthDate", "value",
	  __LINE__ },
	{ PAT(J ",\"birthDate\":19520725"), "", "P.birthDate", "structure",
	  __LINE__ },
	{ PAT(J), "", "P.birthDate", "required", __LINE__ },
	/* family as an array used to pass the check and be ignored. */
	{ PAT("\"name\":[{\"family\":[\"Johnson\"]}]" B), "",
	  "P.name[0].family", "structure", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"\"}]" B), "", "P.name[0].family",
	  "value", __LINE__ },
	{ PAT("\"name\":[{\"given\":[\"Robert\"]}]" B), "", "P.name.family",
	  "required", __LINE__ },
	{ PAT("\"name\":{\"family\":\"Johnson\"}" B), "", "P.name",
	  "structure", __LINE__ },
	{ PAT("\"name\":[\"Johnson\"]" B), "", "P.name[0]", "structure",
	  __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":\"Robert\"}]" B),
	  "", "P.name[0].given", "structure", __LINE__ },
	{ PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\",7]}]" B),
	  "", "P.name[0].given[1]", "structure", __LINE__ },
	/* A later name is checked too, though not matched. */
	{ PAT("\"name\":[{\"family\":\"Johnson\"},{\"family\":1}]" B), "",
	  "P.name[1].family", "structure", __LINE__ },
	{ PAT(J B ",\"gender\":\"M\""), "", "P.gender", "value", __LINE__ },
	{ PAT(J B ",\"gender\":1"), "", "P.gender", "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":{\"value\":\"M1\"}"), "", "P.identifier",
	  "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":[{\"value\":12345}]"), "",
	  "P.identifier[0].value", "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":[{\"value\":\"M1\",\"type\":\"MB\"}]"), "",
	  "P.identifier[0].type", "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":[{\"value\":\"M1\",\"type\":{\"coding\":"
	  "{\"code\":\"MB\"}}}]"), "", "P.identifier[0].type.coding",
	  "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":[{\"value\":\"M1\",\"type\":{\"coding\":"
	  "[{\"code\":[\"MB\"]}]}}]"), "", "P.identifier[0].type.coding[0].code",
	  "structure", __LINE__ },
	{ PAT(J B ",\"identifier\":[" X11 "]"), "", "P.identifier",
	  "too-costly", __LINE__ },
	{ PAT(J B), COV(",\"subscriberId\":123"), "C.subscriberId",
	  "structure", __LINE__ },
	{ PAT(J B), COV(",\"subscriberId\":\"\""), "C.subscriberId", "value",
	  __LINE__ },
	{ PAT(J B), COV(",\"identifier\":[{\"value\":\"M1\"},7]"),
	  "C.identifier[1]", "structure", __LINE__ },
};

START_TEST(test_key_refused)
{
	struct match_key	 k;
	struct p2p_err		 err;
	json_object		*p, *c = NULL;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(refused[_i].patient,
	    strlen(refused[_i].patient), &p, &err), 0);
	if (refused[_i].coverage[0] != '\0')
		ck_assert_int_eq(fhir_parse(refused[_i].coverage,
		    strlen(refused[_i].coverage), &c, &err), 0);
	ck_assert_msg(match_key_of(p, c, "P", "C", &k, &err) == -1,
	    "line %d: accepted", refused[_i].line);
	ck_assert_int_eq(err.status, 400);
	ck_assert_msg(strcmp(err.expr, refused[_i].expr) == 0,
	    "line %d: %s", refused[_i].line, err.expr);
	ck_assert_msg(strcmp(p2p_issue_code(err.issue), refused[_i].issue) == 0,
	    "line %d: %s", refused[_i].line, p2p_issue_code(err.issue));
	ck_assert_msg(strstr(err.msg, refused[_i].expr) != NULL,
	    "line %d: %s", refused[_i].line, err.msg);
	json_object_put(p);
	json_object_put(c);
}
END_TEST

/* One probe through the guard: 0 or the HTTP status. */
static int
probe_rec(const char *client, const char *patient, const char *coverage,
    time_t now, int record)
{
	struct match_key	 k;
	struct p2p_err		 err;
	json_object		*p, *c;
	int			 rc;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(patient, strlen(patient), &p, &err), 0);
	ck_assert_int_eq(fhir_parse(coverage, strlen(coverage), &c, &err), 0);
	ck_assert_int_eq(match_key_of(p, c, "P", "C", &k, &err), 0);
	rc = match_probe(&db, client, &k, 3, 600, now, record, &err);
	if (rc == -1)
		ck_assert_int_eq(err.retry_after, 600);
	json_object_put(p);
	json_object_put(c);
	return rc == 0 ? 0 : err.status;
}

static int
probe(const char *client, const char *patient, const char *coverage,
    time_t now)
{
	return probe_rec(client, patient, coverage, now, 1);
}

START_TEST(test_probe)
{
	char	 c[128];
	int	 i;

	for (i = 0; i < 4; i++) {
		snprintf(c, sizeof(c), COV(",\"subscriberId\":\"CARD-%d\""), i % 3);
		/* Three distinct cards (one sent twice) stay under limit 3. */
		ck_assert_int_eq(probe("a", PAT(J B), c, 1000 + i), 0);
	}
	ck_assert_int_eq(probe("a", PAT(J B), COV(",\"subscriberId\":\"CARD-9\""),
	    1010), 429);
	/* Another client is not affected; nor is this one after the window. */
	ck_assert_int_eq(probe("b", PAT(J B), COV(",\"subscriberId\":\"CARD-9\""),
	    1010), 0);
	ck_assert_int_eq(probe("a", PAT(J B), COV(",\"subscriberId\":\"CARD-9\""),
	    1700), 0);
	/* Not recorded ($member-match before it knows the outcome): the
	 * attempt counts all the same, and only a refused one stays. */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'z'"), 0);
	ck_assert_int_eq(probe("z", PAT(J B), COV(",\"subscriberId\":\"Z1\""),
	    2000), 0);
	ck_assert_int_eq(probe("z", PAT(J B), COV(",\"subscriberId\":\"Z2\""),
	    2000), 0);
	ck_assert_int_eq(probe("z", PAT(J B), COV(",\"subscriberId\":\"Z3\""),
	    2000), 0);
	ck_assert_int_eq(probe_rec("z", PAT(J B),
	    COV(",\"subscriberId\":\"Z1\""), 2001, 0), 0);	/* seen */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'z'"), 3);
	ck_assert_int_eq(probe_rec("z", PAT(J B),
	    COV(",\"subscriberId\":\"Z4\""), 2001, 0), 429);	/* 4th */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'z'"), 4);
}
END_TEST

/* The runner's expiry: every row older than the window, however many. */
START_TEST(test_probe_expire)
{
	struct p2p_err	 err;
	long long	 n;

	p2p_err_init(&err);
	/* 12,000 old rows (three statements' worth), 2 in the window. */
	ck_assert_int_eq(db_exec(&db, "WITH RECURSIVE i(x) AS (SELECT 1"
	    " UNION ALL SELECT x + 1 FROM i WHERE x < 12000)"
	    " INSERT INTO probe (client_id, person, time, card)"
	    " SELECT 'c', 'p' || (x % 7), 100 + x % 50, 'k' || x FROM i;"
	    "INSERT INTO probe (client_id, person, time, card) VALUES"
	    " ('c', 'p1', 1000, 'new1'), ('d', 'p2', 1400, 'new2');", &err), 0);
	ck_assert_int_eq(match_probe_expire(&db, 600, 1600, &n, &err), 0);
	ck_assert_int_eq(n, 12000);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe"), 2);
	ck_assert_int_eq(match_probe_expire(&db, 600, 1700, &n, &err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " card = 'new2'"), 1);
}
END_TEST

/*
 * Issue 15.2: the guard counts the person matching reaches, whatever
 * else varies.  Each variant below could match the same stored Johnson
 * (family and birth date are always compared); once over the limit,
 * every one of them is refused, the right card included.
 */
START_TEST(test_probe_same_person)
{
	static const char *const variants[] = {
		/* extra given names (matching uses the first) */
		PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Robert\","
		    "\"X1\"]}]" B),
		/* the given names split differently (or all of them) */
		PAT("\"name\":[{\"family\":\"Johnson\",\"given\":[\"Rob\","
		    "\"ert\"]}]" B),
		/* no given name, no gender: they narrow nothing */
		PAT("\"name\":[{\"family\":\"Johnson\"}]" B),
		PAT(J B ",\"gender\":\"male\""),
		/* case, accents and punctuation fold away */
		PAT("\"name\":[{\"family\":\"JOHN-SON\"}]" B),
		/* another name first, without a family name */
		PAT("\"name\":[{\"given\":[\"Bob\"]},{\"family\":\"Johnson\"}]" B),
	};
	char	 c[256];
	size_t	 i;

	for (i = 0; i < 3; i++) {
		snprintf(c, sizeof(c), COV(",\"subscriberId\":\"GUESS-%zu\""), i);
		ck_assert_int_eq(probe("p", PAT(J B), c, 5000), 0);
	}
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		ck_assert_msg(probe("p", variants[i],
		    COV(",\"subscriberId\":\"SUB-001\""), 5001) == 429,
		    "variant %zu got through", i);
	/* Card data on the Patient counts as card data too. */
	for (i = 0; i < 3; i++) {
		snprintf(c, sizeof(c), PAT(J B ",\"identifier\":[{\"value\":"
		    "\"PID-%zu\"}]"), i);
		ck_assert_int_eq(probe("q", c, COV(""), 5000), 0);
	}
	ck_assert_int_eq(probe("q", PAT(J B ",\"identifier\":[{\"value\":"
	    "\"M12345\"}]"), COV(""), 5001), 429);
	/* Another person is not throttled. */
	ck_assert_int_eq(probe("p", PAT("\"name\":[{\"family\":\"Johnson\"}],"
	    "\"birthDate\":\"1952-07-26\""), COV(",\"subscriberId\":\"G\""),
	    5001), 0);
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
	struct match_key	 k;
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
	if ((rc = match_parse(req, &in, &k, &err)) == 0 &&
	    (rc = match_member(&db, &cfg, &in, &k, client, "", org, now_sec(),
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
	/* A success is on record as the match, not as a guess; a refused
	 * attempt counts for the probing guard. */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'a'"), 0);
	ck_assert_int_eq(handle(nobody, "a", "org-a", &st, &r), -1);
	ck_assert_int_eq(st, 422);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM probe WHERE"
	    " client_id = 'a'"), 1);
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
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_decisions, cases),
		UNIT_TEST(test_key_of),
		UNIT_TABLE(test_key_refused, refused),
		UNIT_TEST(test_probe),
		UNIT_TEST(test_probe_same_person),
		UNIT_TEST(test_probe_expire),
		UNIT_TEST(test_query_plans),
		UNIT_TEST(test_member_match),
	};

	return unit_run(unit_tests("match", setup, teardown, 0, tests,
	    UNIT_N(tests)));
}
