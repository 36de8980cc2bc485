/* Unit tests for db.c and the schema (db/migrations). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "unit.h"

static struct p2p_db	 db;

static void
setup(void)
{
	unit_db_open(&db);
}

static void
teardown(void)
{
	db_close(&db);
}

START_TEST(test_migrated)
{
	struct p2p_err	 err;

	ck_assert_int_eq(db_version(&db), db_latest_version());
	ck_assert_int_ge(db_latest_version(), 1);
	/* Running again applies nothing and fails nothing. */
	p2p_err_init(&err);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
}
END_TEST

START_TEST(test_stmt_cache)
{
	static const char *const sql = "SELECT ?1 + 1";
	struct p2p_err	 err;
	sqlite3_stmt	*a, *b;

	p2p_err_init(&err);
	a = db_stmt(&db, sql, &err);
	ck_assert_ptr_nonnull(a);
	sqlite3_bind_int(a, 1, 41);
	ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(a, 0), 42);
	db_done(a);
	b = db_stmt(&db, sql, &err);
	ck_assert_ptr_eq(a, b);		/* prepared once */
	ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
	/* db_done() cleared the binding: NULL + 1 is NULL. */
	ck_assert_int_eq(sqlite3_column_type(b, 0), SQLITE_NULL);
	db_done(b);
	ck_assert_ptr_null(db_stmt(&db, "SELEC nonsense", &err));
	ck_assert_int_eq(err.status, 500);
}
END_TEST

START_TEST(test_cache_size)
{
	struct p2p_err	 err;
	sqlite3_stmt	*st;

	p2p_err_init(&err);
	ck_assert_int_eq(db_cache(&db, 8, &err), 0);
	ck_assert_int_eq(sqlite3_prepare_v2(db.h, "PRAGMA cache_size", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), -8192);
	sqlite3_finalize(st);
}
END_TEST

START_TEST(test_audit_append_only)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO audit (time, event, outcome) "
	    "VALUES ('2026-01-01T00:00:00Z', 'token', 'success')", &err), 0);
	ck_assert_int_eq(db_exec(&db, "UPDATE audit SET outcome = 'x'", &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "DELETE FROM audit", &err), -1);
}
END_TEST

START_TEST(test_transaction_rollback)
{
	struct p2p_err	 err;
	sqlite3_stmt	*st;
	static const char *const count = "SELECT count(*) FROM client";

	p2p_err_init(&err);
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created) "
	    "VALUES ('c', 'now')", &err), 0);
	db_rollback(&db);
	st = db_stmt(&db, count, &err);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
	db_done(st);
}
END_TEST

START_TEST(test_constraint_maps_to_409)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created) "
	    "VALUES ('c', 'now'); INSERT INTO client (id, created) "
	    "VALUES ('c', 'now')", &err), -1);
	ck_assert_int_eq(err.status, 409);
}
END_TEST

/* Request queries must be served by an index, never a full scan. */
static const struct {
	const char	*sql;
	const char	*index;
	int		 line;
} plans[] = {
	{ "SELECT patient FROM ident WHERE value = ?1 AND kind = ?2",
	  "ident_value", __LINE__ },
	{ "SELECT patient FROM demog WHERE birth_date = ?1 AND family = ?2",
	  "demog_lookup", __LINE__ },
	{ "SELECT json FROM resource WHERE patient = ?1 AND type = ?2",
	  "resource_patient", __LINE__ },
	{ "SELECT rid FROM resource WHERE type = ?1 AND id = ?2",
	  "sqlite_autoindex_resource_1", __LINE__ },
	{ "SELECT mid FROM match WHERE client_id = ?1 AND patient = ?2",
	  "match_client_patient", __LINE__ },
	{ "SELECT id FROM job WHERE status = 'queued' ORDER BY created",
	  "job_status", __LINE__ },
	{ "SELECT cid FROM consent WHERE patient = ?1 AND status = 'active'",
	  "consent_patient", __LINE__ },
};

START_TEST(test_query_plans)
{
	sqlite3_stmt	*st;
	char		 sql[512], plan[2048] = "";
	size_t		 n = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", plans[_i].sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db.h, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += (size_t)snprintf(plan + n, sizeof(plan) - n, "%s; ",
		    (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	ck_assert_msg(strstr(plan, plans[_i].index) != NULL,
	    "line %d: plan without %s: %s", plans[_i].line, plans[_i].index, plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL || strstr(plan, "USING") != NULL,
	    "line %d: full scan: %s", plans[_i].line, plan);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc = tcase_create("db");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrated);
	tcase_add_test(tc, test_stmt_cache);
	tcase_add_test(tc, test_cache_size);
	tcase_add_test(tc, test_audit_append_only);
	tcase_add_test(tc, test_transaction_rollback);
	tcase_add_test(tc, test_constraint_maps_to_409);
	tcase_add_loop_test(tc, test_query_plans, 0, sizeof(plans) / sizeof(plans[0]));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
