/* Unit tests for db.c and the schema (db/migrations). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "unit.h"

/* The suite's database: unit_db_setup() opens it for every test. */
#define db unit_db

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
	struct db_stmt	*a, *b;

	p2p_err_init(&err);
	a = db_stmt(&db, sql, &err);
	ck_assert_ptr_nonnull(a);
	db_bind_int(a, 1, 41);
	ck_assert_int_eq(db_step(a), DB_ROW);
	ck_assert_int_eq(db_col_int(a, 0), 42);
	db_done(a);
	b = db_stmt(&db, sql, &err);
	ck_assert_ptr_eq(a, b);		/* prepared once */
	ck_assert_int_eq(db_step(b), DB_ROW);
	/* db_done() cleared the binding: NULL + 1 is NULL. */
	ck_assert(db_col_null(b, 0));
	db_done(b);
	ck_assert_ptr_null(db_stmt(&db, "SELEC nonsense", &err));
	ck_assert_int_eq(err.status, 500);
}
END_TEST

START_TEST(test_cache_size)
{
	struct p2p_err	 err;
	struct db_stmt	*st;

	p2p_err_init(&err);
	ck_assert_int_eq(db_cache(&db, 8, &err), 0);
	ck_assert_ptr_nonnull(st = db_stmt(&db, "PRAGMA cache_size", &err));
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_int_eq(db_col_int(st, 0), -8192);
	db_done(st);
}
END_TEST

/* A new database gets the configured page size; an existing one keeps its own. */
START_TEST(test_create_page_size)
{
	struct p2p_db	 d;
	struct p2p_err	 err;
	struct db_stmt	*st;
	char		 path[] = "/tmp/p2p-check-db-XXXXXX";
	char		 file[64];
	int		 fd, i, want[] = { 8192, 8192 };

	ck_assert_int_ne(fd = mkstemp(path), -1);
	close(fd);
	unlink(path);
	snprintf(file, sizeof(file), "%s", path);
	for (i = 0; i < 2; i++) {
		p2p_err_init(&err);
		/* The second time: an existing database, 4096 asked. */
		ck_assert_int_eq(db_create(&d, file, i == 0 ? 8192 : 4096,
		    &err), 0);
		ck_assert_int_eq(db_migrate(&d, &err), 0);
		ck_assert_ptr_nonnull(st = db_stmt(&d, "PRAGMA page_size",
		    &err));
		ck_assert_int_eq(db_step(st), DB_ROW);
		ck_assert_int_eq(db_col_int(st, 0), want[i]);
		db_done(st);
		db_close(&d);
	}
	unlink(file);
	snprintf(file, sizeof(file), "%s-wal", path);
	unlink(file);
	snprintf(file, sizeof(file), "%s-shm", path);
	unlink(file);
}
END_TEST

START_TEST(test_audit_append_only)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO audit (time, event, outcome)"
	    " VALUES ('2026-01-01T00:00:00Z', 'token', 'success')", &err), 0);
	ck_assert_int_eq(db_exec(&db, "UPDATE audit SET outcome = 'x'", &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "DELETE FROM audit", &err), -1);
}
END_TEST

START_TEST(test_transaction_rollback)
{
	struct p2p_err	 err;
	struct db_stmt	*st;
	static const char *const count = "SELECT count(*) FROM client";

	p2p_err_init(&err);
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created) "
	    "VALUES ('c', 'now')", &err), 0);
	db_rollback(&db);
	st = db_stmt(&db, count, &err);
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_int_eq(db_col_int(st, 0), 0);
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

/*
 * Group commit (web/batch.c): inside a batch, a request's transaction
 * is a savepoint, so one request undoes its own writes only, and the
 * batch's one commit keeps the others; a failed commit keeps nothing.
 */
START_TEST(test_batch)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_batch_begin(&db, &err), 0);
	ck_assert_int_eq(db_begin(&db, &err), 0);		/* request 1 */
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created)"
	    " VALUES ('a', 't')", &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
	ck_assert_int_eq(db.in_tx, 0);
	ck_assert_int_eq(db_begin(&db, &err), 0);		/* request 2 */
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created)"
	    " VALUES ('b', 't')", &err), 0);
	db_rollback(&db);					/* refused */
	ck_assert_int_eq(db_batch_lost(&db), 0);
	/* A statement outside any request transaction (the refusal's audit
	 * record) is the batch's too. */
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, created)"
	    " VALUES ('c', 't')", &err), 0);
	ck_assert_int_eq(sqlite3_get_autocommit(db.h), 0);
	ck_assert_int_eq(db_batch_end(&db, &err), 0);
	ck_assert_int_eq(db.batch, 0);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM client WHERE id IN"
	    " ('a', 'c')"), 2);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM client WHERE"
	    " id = 'b'"), 0);
	/* Outside a batch, db_begin() is a transaction of its own again. */
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);

	/* A commit that fails (a deferred foreign key here) keeps nothing
	 * of the batch, and says so. */
	ck_assert_int_eq(db_batch_begin(&db, &err), 0);
	ck_assert_int_eq(db_exec(&db, "PRAGMA defer_foreign_keys = ON;"
	    "INSERT INTO client (id, created) VALUES ('d', 't');"
	    "INSERT INTO match (client_id, patient, cid, created)"
	    " VALUES ('d', 'p', 999, 't')", &err), 0);
	ck_assert_int_eq(db_batch_end(&db, &err), -1);
	ck_assert_int_ge(err.status, 400);
	ck_assert_int_eq(db.batch, 0);
	ck_assert_int_eq(sqlite3_get_autocommit(db.h), 1);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM client WHERE"
	    " id = 'd'"), 0);
}
END_TEST

/* A version-1 database (0001 only) with rows in the tables 0002 rebuilds. */
static void
open_v1(struct p2p_db *d)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_open(d, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrations[0].version, 1);
	ck_assert_int_eq(db_exec(d, db_migrations[0].sql, &err), 0);
	ck_assert_int_eq(db_exec(d, "PRAGMA user_version = 1;"
	    "INSERT INTO consent (cid, id, patient, client_id, source, status,"
	    " provision, created, updated, json) VALUES"
	    " (1, 'c1', 'p1', 'cl', 'submitted', 'inactive', 'permit', 't',"
	    " 't', '{\"v\":2}'),"
	    " (2, 'c2', 'p2', 'cl', 'submitted', 'active', 'permit', 't', 't',"
	    " '{\"v\":1}');"
	    "INSERT INTO consent_history (cid, version, status, changed_by,"
	    " time, json) VALUES (1, 1, 'active', 'cl', 't1', '{\"v\":1}'),"
	    " (1, 2, 'inactive', 'cl', 't2', '{\"v\":2}'),"
	    " (2, 1, 'active', 'cl', 't1', '{\"v\":1}');"
	    "INSERT INTO probe (client_id, person, card, time) VALUES"
	    " ('cl', 'pa', 'k1', 10), ('cl', 'pa', 'k1', 10),"
	    " ('cl', 'pa', 'k2', 10), ('cl', 'pb', 'k1', 11);", &err), 0);
}

/* 0002 on a version-1 database keeps its rows (bench/mmfast.md). */
START_TEST(test_upgrade_0002)
{
	struct p2p_db	 d;
	struct p2p_err	 err;
	char		 s[64];

	open_v1(&d);
	p2p_err_init(&err);
	ck_assert_int_eq(db_migrate(&d, &err), 0);
	ck_assert_int_eq(db_version(&d), db_latest_version());
	ck_assert_int_ge(db_version(&d), 2);
	ck_assert_int_eq(unit_int(&d, "SELECT count(*) FROM consent_history"),
	    3);
	ck_assert_str_eq(unit_text(&d, "SELECT json FROM consent_history"
	    " WHERE cid = 1 AND version = 1", s, sizeof(s)), "{\"v\":1}");
	ck_assert_str_eq(unit_text(&d, "SELECT group_concat(status || time,"
	    " ',') FROM consent_history WHERE cid = 1", s, sizeof(s)),
	    "activet1,inactivet2");
	/* The duplicate probe row is one; the distinct cards all stay. */
	ck_assert_int_eq(unit_int(&d, "SELECT count(*) FROM probe"), 3);
	ck_assert_int_eq(unit_int(&d, "SELECT count(DISTINCT card) FROM probe"
	    " WHERE client_id = 'cl' AND person = 'pa' AND time >= 10"), 2);
	/* The old b-trees are gone. */
	ck_assert_int_eq(unit_int(&d, "SELECT count(*) FROM sqlite_schema WHERE"
	    " name IN ('probe_lookup', 'consent_history_cid', 'probe_v2',"
	    " 'consent_history_v2')"), 0);
	/* no rows */
	ck_assert_int_eq(unit_int(&d, "PRAGMA foreign_key_check"), -1);
	ck_assert_str_eq(unit_text(&d, "PRAGMA integrity_check", s, sizeof(s)),
	    "ok");
	db_close(&d);
}
END_TEST

/*
 * 0007 on a version-3 database: the three indexes go, consent_loaded
 * holds the loaded consents only, and the lookups they served give the
 * same rows through the indexes that are left.
 */
static const struct unit_count	 upgraded_0007[] = {
	{ "SELECT count(*) FROM sqlite_schema WHERE name IN"
	  " ('consent_client', 'match_patient', 'consent_patient')", 0 },
	{ "SELECT count(*) FROM sqlite_schema WHERE name IN"
	  " ('consent_loaded', 'probe_time')", 2 },
	/* The partial index holds the loaded consent alone. */
	{ "SELECT count(*) FROM consent INDEXED BY consent_loaded"
	  " WHERE patient = 'p1' AND source = 'loaded'", 1 },
	{ "SELECT cid FROM consent WHERE patient = 'p1' AND source = 'loaded'"
	  " AND status = 'active' AND provision = 'deny' LIMIT 1", 2 },
};

START_TEST(test_upgrade_0007)
{
	struct p2p_db			 d;
	struct p2p_err			 err;
	const struct db_migration	*m;
	char				 s[64];

	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&d, ":memory:", 1, &err), 0);
	for (m = db_migrations; m->name != NULL && m->version <= 3; m++)
		ck_assert_int_eq(db_exec(&d, m->sql, &err), 0);
	ck_assert_int_eq(db_exec(&d, "PRAGMA user_version = 3;"
	    "INSERT INTO client (id, created) VALUES ('cl', 't'), ('c2', 't');"
	    "INSERT INTO consent (cid, id, patient, client_id, source, status,"
	    " provision, created, updated, json) VALUES"
	    " (1, 'c1', 'p1', 'cl', 'submitted', 'active', 'permit', 't', 't',"
	    " '{}'), (2, 'o2', 'p1', NULL, 'loaded', 'active', 'deny', 't',"
	    " 't', '{}'), (3, 'c3', 'p1', 'c2', 'submitted', 'active',"
	    " 'permit', 't', 't', '{}'), (4, 'c4', 'p2', 'cl', 'submitted',"
	    " 'active', 'permit', 't', 't', '{}');INSERT INTO match (mid,"
	    " client_id, patient, cid, created) VALUES (1, 'cl', 'p1', 1, 't'),"
	    " (2, 'c2', 'p1', 3, 't'), (3, 'cl', 'p2', 4, 't');", &err), 0);
	ck_assert_int_eq(db_migrate(&d, &err), 0);
	ck_assert_int_eq(db_version(&d), db_latest_version());
	ck_assert_int_ge(db_version(&d), 7);
	unit_counts(&d, NULL, upgraded_0007, UNIT_N(upgraded_0007));
	ck_assert_str_eq(unit_text(&d, "SELECT group_concat(id, ',') FROM"
	    " (SELECT DISTINCT c.id, c.cid FROM match m JOIN consent c ON c.cid"
	    " = m.cid WHERE m.client_id = 'cl' AND m.patient = 'p1' AND"
	    " c.client_id = 'cl' AND c.source = 'submitted' ORDER BY c.cid)", s,
	    sizeof(s)), "c1");
	ck_assert_str_eq(unit_text(&d, "SELECT group_concat(client_id, ',')"
	    " FROM (SELECT m.client_id FROM match m WHERE m.client_id IN"
	    " (SELECT id FROM client) AND m.patient = 'p1' ORDER BY m.mid)", s,
	    sizeof(s)), "cl,c2");
	ck_assert_str_eq(unit_text(&d, "PRAGMA integrity_check", s, sizeof(s)),
	    "ok");
	db_close(&d);
}
END_TEST

/* A history row stored without its document (json NULL) gets the old
 * document when the consent's json changes, and only then. */
START_TEST(test_history_keeps_document)
{
	struct p2p_err	 err;
	char		 s[64];

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO consent (cid, id, patient,"
	    " client_id, source, status, provision, created, updated, json)"
	    " VALUES (5, 'c5', 'p', 'cl', 'submitted', 'active', 'permit',"
	    " 't', 't', '{\"v\":1}');"
	    "INSERT INTO consent_history (cid, version, status, changed_by,"
	    " time, json) VALUES (5, 1, 'active', 'cl', 't1', NULL);", &err), 0);
	/* A status-only change leaves the document where it is. */
	ck_assert_int_eq(db_exec(&db, "UPDATE consent SET status = 'x'"
	    " WHERE cid = 5", &err), 0);
	ck_assert_int_eq(unit_int(&db, "SELECT json IS NULL FROM"
	    " consent_history WHERE cid = 5 AND version = 1"), 1);
	ck_assert_int_eq(db_exec(&db, "UPDATE consent SET json = '{\"v\":2}'"
	    " WHERE cid = 5;"
	    "INSERT INTO consent_history (cid, version, status, changed_by,"
	    " time, json) VALUES (5, 2, 'inactive', 'cl', 't2', '{\"v\":2}');",
	    &err), 0);
	ck_assert_str_eq(unit_text(&db, "SELECT json FROM consent_history"
	    " WHERE cid = 5 AND version = 1", s, sizeof(s)), "{\"v\":1}");
	/* A later change does not touch versions that have their own. */
	ck_assert_int_eq(db_exec(&db, "UPDATE consent SET json = '{\"v\":3}'"
	    " WHERE cid = 5", &err), 0);
	ck_assert_str_eq(unit_text(&db, "SELECT group_concat(json, ',') FROM"
	    " consent_history WHERE cid = 5", s, sizeof(s)),
	    "{\"v\":1},{\"v\":2}");
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
	/* 0003, 0007: the release check reads these indexes only. */
	{ "SELECT cid FROM consent WHERE patient = ?1 AND source = 'loaded'"
	  " AND status = 'active' AND provision = 'deny' LIMIT 1",
	  "COVERING INDEX consent_loaded", __LINE__ },
	/* 0007: a client's consents for a member, through its matches. */
	{ "SELECT DISTINCT c.id, c.cid FROM match m JOIN consent c"
	  " ON c.cid = m.cid WHERE m.client_id = ?1 AND m.patient = ?2"
	  " AND c.client_id = ?1 AND c.source = 'submitted'"
	  " ORDER BY c.cid LIMIT ?3", "COVERING INDEX match_client_patient",
	  __LINE__ },
	/* 0007: a member's matches, one index search per client. */
	{ "SELECT m.client_id FROM match m WHERE m.client_id IN"
	  " (SELECT id FROM client) AND m.patient = ?1 ORDER BY m.mid",
	  "INDEX match_client_patient (client_id=? AND patient=?)", __LINE__ },
	{ "SELECT cid, consentless FROM match WHERE client_id = ?1"
	  " AND patient = ?2 ORDER BY mid DESC",
	  "COVERING INDEX match_client_patient", __LINE__ },
	/* 0002: the keys of the WITHOUT ROWID tables serve these. */
	{ "SELECT COUNT(DISTINCT card) FROM probe WHERE client_id = ?1"
	  " AND person = ?2 AND time >= ?3", "PRIMARY KEY", __LINE__ },
	/* 0007: the runner's expiry of the guard's rows. */
	{ "DELETE FROM probe WHERE (client_id, person, time, card) IN"
	  " (SELECT client_id, person, time, card FROM probe WHERE time < ?1"
	  " ORDER BY time LIMIT 5000)", "COVERING INDEX probe_time (time<?)",
	  __LINE__ },
	{ "SELECT version FROM consent_history WHERE cid = ?1 ORDER BY version",
	  "PRIMARY KEY", __LINE__ },
	{ "SELECT MAX(version) FROM consent_history WHERE cid = ?1",
	  "PRIMARY KEY", __LINE__ },
	{ "UPDATE consent_history SET json = ?2 WHERE cid = ?1"
	  " AND json IS NULL", "PRIMARY KEY", __LINE__ },
};

static void
read_ll(struct db_stmt *st, void *el, void *arg)
{
	(void)arg;
	db_row(st, "I", (long long *)el);
}

/*
 * db_query()/db_run() bind by their format (text, NULL, int, long long),
 * db_next()/db_row() read by theirs (pointer, copy, skip), db_exists()
 * and db_rows() over what they find; a failing statement names what.
 */
START_TEST(test_format_helpers)
{
	struct p2p_err	 err;
	struct db_stmt	*st;
	const char	*txt;
	char		 buf[4];
	long long	 big, *vals;
	size_t		 n;
	int		 small, rc;

	p2p_err_init(&err);
	ck_assert_int_eq(db_run(&db, "CREATE TEMP TABLE fmt (a TEXT, b INTEGER,"
	    " c INTEGER)", &err, "create", ""), 0);
	ck_assert_int_eq(db_run(&db, "INSERT INTO fmt VALUES (?1, ?2, ?3)",
	    &err, "insert", "tiI", "abcdef", 7, 5000000000LL), 0);
	ck_assert_int_eq(db_run(&db, "INSERT INTO fmt VALUES (?1, ?2, ?3)",
	    &err, "insert", "tiI", (const char *)NULL, -1, -2LL), 0);
	/* Pointer, int and long long; then the copy cut to the buffer,
	 * a skipped column, and NULL text as "". */
	st = db_query(&db, "SELECT a, b, c FROM fmt ORDER BY rowid", &err, "");
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(db_next(st, "tiI", &txt, &small, &big), DB_ROW);
	ck_assert_str_eq(txt, "abcdef");
	ck_assert_int_eq(small, 7);
	ck_assert(big == 5000000000LL);
	ck_assert_int_eq(db_next(st, "c-I", buf, sizeof(buf), &big),
	    DB_ROW);
	ck_assert_str_eq(buf, "");
	ck_assert(big == -2LL);
	ck_assert_int_eq(db_next(st, ""), DB_DONE);
	db_done(st);
	st = db_query(&db, "SELECT a FROM fmt WHERE b = ?1", &err, "i", 7);
	ck_assert_int_eq(db_step(st), DB_ROW);
	db_row(st, "c", buf, sizeof(buf));
	ck_assert_str_eq(buf, "abc");		/* cut, terminated */
	db_done(st);
	/* db_exists(): found, not found. */
	st = db_query(&db, "SELECT 1 FROM fmt WHERE a = ?1", &err, "t",
	    "abcdef");
	ck_assert_int_eq(db_exists(&db, st, &err, "exists"), 1);
	st = db_query(&db, "SELECT 1 FROM fmt WHERE a = ?1", &err, "t", "x");
	ck_assert_int_eq(db_exists(&db, st, &err, "exists"), 0);
	/* db_rows(): every row into one array, room kept at its start. */
	st = db_query(&db, "SELECT c FROM fmt ORDER BY c", &err, "");
	rc = db_rows(&db, st, sizeof(long long), 1, read_ll, NULL, &vals, &n,
	    &err, "rows");
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(vals[0] == -2LL && vals[1] == 5000000000LL);
	free(vals);
	/* A statement that does not prepare fails (500), binding nothing. */
	ck_assert_int_eq(db_run(&db, "INSERT INTO nonesuch VALUES (?1)", &err,
	    "insert", "i", 1), -1);
	ck_assert_int_eq(err.status, 500);
}
END_TEST

/*
 * The rest of the seam: a statement that is not cached (prepared, run,
 * freed), binding text without a copy (cut to a length, or NULL),
 * columns' count, names, NULL and bytes, changed rows and the last
 * rowid, and a constraint's refusal told from other result codes.
 */
START_TEST(test_seam_calls)
{
	static const char *const ins = "INSERT INTO seam (k, v) VALUES (?1, ?2)";
	struct p2p_err	 err;
	struct db_stmt	*st;
	char		 sql[64];
	const char	 key[] = "key-1 and more";
	int		 rc;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "CREATE TEMP TABLE seam (id INTEGER"
	    " PRIMARY KEY, k TEXT UNIQUE, v TEXT)", &err), 0);
	ck_assert_ptr_nonnull(st = db_stmt(&db, ins, &err));
	db_bind_static(st, 1, key, 5);
	db_bind_static(st, 2, NULL, -1);
	ck_assert_int_eq(db_step_done(&db, st, &err, "insert"), 0);
	ck_assert_int_eq(db_changes(&db), 1);
	ck_assert_int_eq(db_last_id(&db), 1);
	/* The same key again: refused by the UNIQUE constraint. */
	ck_assert_ptr_nonnull(st = db_stmt(&db, ins, &err));
	db_bind_static(st, 1, "key-1", -1);
	rc = db_step(st);
	db_done(st);
	ck_assert(db_constraint(rc));
	ck_assert(!db_constraint(DB_DONE) && !db_constraint(DB_ERROR));
	ck_assert_ptr_nonnull(db_errstr(rc));
	/* SQL made at run time: a statement of its own. */
	snprintf(sql, sizeof(sql), "SELECT k, v, length(k) AS n FROM seam");
	ck_assert_int_eq(db_prepare(&db, sql, &st, &err), 0);
	ck_assert_int_eq(db_col_count(st), 3);
	ck_assert_str_eq(db_col_name(st, 2), "n");
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_str_eq(db_col_text(st, 0), "key-1");
	ck_assert_uint_eq(db_col_bytes(st, 0), 5);
	ck_assert(db_col_null(st, 1) && !db_col_null(st, 0));
	ck_assert_int_eq(db_col_int(st, 2), 5);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
	ck_assert_int_eq(db_prepare(&db, "SELEC nonsense", &st, &err), -1);
	ck_assert_ptr_null(st);
	ck_assert_int_eq(err.status, 500);
}
END_TEST

START_TEST(test_query_plans)
{
	struct db_stmt	*st;
	char		 sql[512], plan[2048] = "";
	size_t		 n = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", plans[_i].sql);
	ck_assert_int_eq(db_prepare(&db, sql, &st, NULL), 0);
	while (db_step(st) == DB_ROW)
		n += (size_t)snprintf(plan + n, sizeof(plan) - n, "%s; ",
		    db_col_text(st, 3));
	db_finalize(st);
	ck_assert_msg(strstr(plan, plans[_i].index) != NULL,
	    "line %d: plan without %s: %s", plans[_i].line, plans[_i].index, plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL || strstr(plan, "USING") != NULL,
	    "line %d: full scan: %s", plans[_i].line, plan);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_migrated),
		UNIT_TEST(test_stmt_cache),
		UNIT_TEST(test_cache_size),
		UNIT_TEST(test_create_page_size),
		UNIT_TEST(test_audit_append_only),
		UNIT_TEST(test_transaction_rollback),
		UNIT_TEST(test_constraint_maps_to_409),
		UNIT_TEST(test_upgrade_0002),
		UNIT_TEST(test_upgrade_0007),
		UNIT_TEST(test_batch),
		UNIT_TEST(test_history_keeps_document),
		UNIT_TEST(test_format_helpers),
		UNIT_TEST(test_seam_calls),
		UNIT_TABLE(test_query_plans, plans),
	};

	return unit_run(unit_tests("db", unit_db_setup, unit_db_teardown, 0,
	    tests, UNIT_N(tests)));
}
