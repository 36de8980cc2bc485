/* Unit tests for member/group.c and the grp_token trigger of migration
 * 0005: the tokens a stored Group gets, read, search, query plans. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "member/group.h"
#include "unit.h"

#define CS	"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
#define NPI	"http://hl7.org/fhir/sid/us-npi"

/* A MatchedMembers Group as bulkmatch.c writes it (shortened). */
static const char matched[] =
    "{\"resourceType\":\"Group\",\"id\":\"g1\",\"meta\":{\"lastUpdated\":"
    "\"2026-03-01T10:00:00Z\"},\"identifier\":[{\"system\":\"" NPI "\","
    "\"value\":\"5555555555\"}],\"type\":\"person\",\"actual\":true,"
    "\"code\":{\"coding\":[{\"system\":\"" CS "\",\"code\":\"match\"}]},"
    "\"characteristic\":[{\"code\":{\"coding\":[{\"system\":\"" CS "\","
    "\"code\":\"match\"}]},\"valueReference\":{\"identifier\":{\"system\":"
    "\"" NPI "\",\"value\":\"5555555555\"}},\"exclude\":false},"
    "{\"code\":{\"coding\":[{\"code\":\"flag\"}]},\"valueBoolean\":true,"
    "\"exclude\":false}]}";
static const char nomatch[] =
    "{\"resourceType\":\"Group\",\"id\":\"g2\",\"identifier\":[{\"system\":"
    "\"" NPI "\",\"value\":\"5555555555\"}],\"type\":\"person\","
    "\"actual\":true,\"code\":{\"coding\":[{\"system\":\"" CS "\","
    "\"code\":\"nomatch\"}]}}";

static struct p2p_db	 db;

static void
put(const char *id, const char *client, const char *kind,
    const char *created, const char *json)
{
	struct db_stmt	*st;

	ck_assert_int_eq(db_prepare(&db, "INSERT INTO grp (id,"
	    " client_id, job_id, kind, created, json) VALUES (?1, ?2, NULL,"
	    " ?3, ?4, '{}')", &st, NULL), 0);
	db_bind_static(st, 1, id, -1);
	db_bind_static(st, 2, client, -1);
	db_bind_static(st, 3, kind, -1);
	db_bind_static(st, 4, created, -1);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
	/* bulkmatch.c: the placeholder first, then the Group */
	ck_assert_int_eq(db_prepare(&db, "UPDATE grp SET json = ?2"
	    " WHERE id = ?1", &st, NULL), 0);
	db_bind_static(st, 1, id, -1);
	db_bind_static(st, 2, json, -1);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
}

static void
setup(void)
{
	unit_db_open(&db);
	put("g1", "payer", "match", "2026-03-01T10:00:00Z", matched);
	put("g2", "payer", "nomatch", "2026-03-02T10:00:00Z", nomatch);
	put("g3", "other", "match", "2026-03-01T10:00:00Z", matched);
}

static void
teardown(void)
{
	db_close(&db);
}

/* The search tokens of g1 as put. */
static const struct unit_count	 g1_tokens[] = {
	{ "SELECT count(*) FROM grp_token WHERE group_id = 'g1'", 6 },
	{ "SELECT count(*) FROM grp_token WHERE group_id = 'g1' AND name ="
	  " 'value' AND value = 'true' AND system = '' AND elem = 1", 1 },
	{ "SELECT count(*) FROM grp_token WHERE group_id = 'g1' AND name ="
	  " 'value' AND value = '5555555555' AND system = '" NPI "' AND"
	  " elem = 0", 1 },
	{ "SELECT count(*) FROM grp_token WHERE group_id = 'g1' AND name ="
	  " 'characteristic' AND value = 'flag' AND system = '' AND elem = 1",
	  1 },
};

START_TEST(test_tokens)
{
	unit_counts(&db, NULL, g1_tokens, UNIT_N(g1_tokens));
	/* rewritten: the tokens follow; deleted: they go */
	ck_assert_int_eq(sqlite3_exec(db.h, "UPDATE grp SET json = '{}' WHERE"
	    " id = 'g2'", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM grp_token WHERE"
	    " group_id = 'g2'"), 0);
	ck_assert_int_eq(sqlite3_exec(db.h, "DELETE FROM grp WHERE id = 'g1'",
	    NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM grp_token WHERE"
	    " group_id = 'g1'"), 0);
	/* migration 0005: Groups stored before it get their tokens */
	ck_assert_int_eq(sqlite3_exec(db.h, "DELETE FROM grp_token;"
	    " UPDATE grp SET json = json", NULL, NULL, NULL), 0);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM grp_token WHERE"
	    " group_id = 'g3'"), 6);
}
END_TEST

START_TEST(test_read)
{
	struct p2p_err	 err;
	char		*json;

	p2p_err_init(&err);
	ck_assert_int_eq(group_read(&db, "g1", "payer", &json, &err), 0);
	ck_assert_str_eq(json, matched);
	free(json);
	ck_assert_int_eq(group_read(&db, "g3", "payer", &json, &err), 1);
	ck_assert_ptr_null(json);
	ck_assert_int_eq(group_read(&db, "none", "payer", &json, &err), 1);
}
END_TEST

/* A search of the "payer" client: the ids found, in order, " "-joined. */
static const struct {
	const char	*key, *value, *key2, *value2;
	const char	*ids;
	int		 line;
} searches[] = {
	{ NULL, NULL, NULL, NULL, "g1 g2", __LINE__ },
	{ "code", "match", NULL, NULL, "g1", __LINE__ },
	{ "code", CS "|nomatch", NULL, NULL, "g2", __LINE__ },
	{ "code", "|match", NULL, NULL, "", __LINE__ },
	{ "code", CS "|", NULL, NULL, "g1 g2", __LINE__ },
	{ "code", "x,nomatch", NULL, NULL, "g2", __LINE__ },
	{ "identifier", NPI "|5555555555", "code", "match", "g1", __LINE__ },
	{ "characteristic", "flag", NULL, NULL, "g1", __LINE__ },
	{ "characteristic", "|flag", NULL, NULL, "g1", __LINE__ },
	{ "characteristic-value", "flag$true", NULL, NULL, "g1", __LINE__ },
	{ "characteristic-value", "flag$false", NULL, NULL, "", __LINE__ },
	{ "characteristic-value", "match$true", NULL, NULL, "", __LINE__ },
	{ "characteristic-value", "match$" NPI "|5555555555", NULL, NULL,
	    "g1", __LINE__ },
	{ "_id", "g2,g3", NULL, NULL, "g2", __LINE__ },
	{ "_lastUpdated", "2026-03-01", NULL, NULL, "g1", __LINE__ },
	{ "_lastUpdated", "gt2026-03-01T10:00:00Z", NULL, NULL, "g2",
	    __LINE__ },
	{ "_lastUpdated", "ge2026-03", "_lastUpdated", "lt2026-03-02",
	    "g1", __LINE__ },
	{ "identifier", "a\\,b", NULL, NULL, "", __LINE__ },
};

START_TEST(test_search)
{
	struct p2p_kvlist	 l;
	struct p2p_err		 err;
	json_object		*b, *es, *e;
	char			 ids[64] = "";
	size_t			 i;

	memset(&l, 0, sizeof(l));
	p2p_err_init(&err);
	if (searches[_i].key != NULL)
		ck_assert_int_eq(kv_add(&l, searches[_i].key,
		    searches[_i].value), 0);
	if (searches[_i].key2 != NULL)
		ck_assert_int_eq(kv_add(&l, searches[_i].key2,
		    searches[_i].value2), 0);
	b = group_search(&db, "http://x/fhir", "payer", &l, &err);
	ck_assert_msg(b != NULL, "line %d: %s", searches[_i].line, err.msg);
	es = fhir_get(b, "entry", json_type_array);
	for (i = 0; es != NULL && i < json_object_array_length(es); i++) {
		e = json_object_array_get_idx(es, i);
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s",
		    i ? " " : "", fhir_id(fhir_get(e, "resource",
		    json_type_object)));
	}
	ck_assert_msg(strcmp(ids, searches[_i].ids) == 0, "line %d: %s",
	    searches[_i].line, ids);
	json_object_put(b);
	kv_free(&l);
}
END_TEST

START_TEST(test_refusals)
{
	static const char *const bad[][2] = {
		{ "code", "" }, { "code", "|" }, { "code", "a\\" },
		{ "characteristic-value", "match" },
		{ "characteristic-value", "match$" }, { "_id", "a_b" },
		{ "_lastUpdated", "sa2026" }, { "_count", "0" },
		{ "_count", "101" }, { "_cursor", "a/b" }, { "name", "x" },
	};
	struct p2p_err	 err;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p2p_err_init(&err);
		ck_assert_msg(group_param_valid(bad[i][0], bad[i][1], &err) ==
		    -1 && err.status == 400, "%s=%s accepted", bad[i][0],
		    bad[i][1]);
	}
}
END_TEST

/* Every statement an index search, without a sort (keyset order). */
START_TEST(test_query_plans)
{
	const char *const	*q;
	struct db_stmt		*st;
	char			 sql[1024];

	unit_plans_indexed(&db, group_queries);
	for (q = group_queries; *q != NULL; q++) {
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", *q);
		ck_assert_int_eq(db_prepare(&db, sql, &st, NULL), 0);
		while (db_step(st) == DB_ROW)
			ck_assert_msg(strstr((const char *)
			    db_col_text(st, 3), "TEMP B-TREE") == NULL,
			    "sort: %s", *q);
		db_finalize(st);
	}
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_tokens),
		UNIT_TEST(test_read),
		UNIT_TABLE(test_search, searches),
		UNIT_TEST(test_refusals),
		UNIT_TEST(test_query_plans),
	};

	return unit_run(unit_tests("group", setup, teardown, 0, tests,
	    UNIT_N(tests)));
}
