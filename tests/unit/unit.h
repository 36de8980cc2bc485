/*
 * unit.h - what every Check suite shares: the runner at the end of
 * main() and the in-memory database with the schema applied.
 */
#ifndef P2P_UNIT_H
#define P2P_UNIT_H

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "datascope/classify.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "store/db.h"

/*
 * One case of a table-driven test: its input, what it must give (an
 * output, or words of the error message: the table says which) and
 * the __LINE__ of the case, for the failure message.
 */
struct unit_case {
	const char	*in;
	const char	*want;
	int		 line;
};

/* Runs the suite; returns main()'s exit status (0 when all passed). */
static inline int
unit_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}

/* Removes dir and everything below it: 0, or -1. */
static inline int
unit_rmtree(const char *dir)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * unit_run() for a suite whose tests work in the temporary directory
 * dir: made here from the mkdtemp() template dir (failing to is a
 * failure: no test runs), removed afterwards (failing to is a failure
 * too).
 */
static inline int
unit_run_in(Suite *s, char *dir)
{
	int	 rc;

	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	rc = unit_run(s);
	return unit_rmtree(dir) == 0 ? rc : 1;
}

/*
 * A test case of s named name, with the fixture setup and teardown
 * (NULL for none).
 */
static inline TCase *
unit_tcase(Suite *s, const char *name, void (*setup)(void),
    void (*teardown)(void))
{
	TCase	*tc = tcase_create(name);

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

/*
 * A suite of one test case, both named name, with the fixture setup
 * and teardown (NULL for none); *tc gets the case for the tests.
 */
static inline Suite *
unit_suite(const char *name, TCase **tc, void (*setup)(void),
    void (*teardown)(void))
{
	Suite	*s = suite_create(name);

	*tc = unit_tcase(s, name, setup, teardown);
	return s;
}

/* The number of elements of the array a. */
#define UNIT_N(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * One line of a suite's table of tests (unit_tests()): a test
 * (START_TEST) run once or as a loop test with _i from 0 to loops - 1,
 * or a line that starts another test case, for the tests below it, with
 * its name, fixture setup and teardown (NULL for none) and timeout in
 * seconds (0: Check's default).
 */
struct unit_test {
	const TTest	*fn;
	int		 loops;
	const char	*tcase;
	void		(*setup)(void);
	void		(*teardown)(void);
	int		 timeout;
};

#define UNIT_TEST(f)		{ .fn = (f) }
#define UNIT_LOOP(f, n)		{ .fn = (f), .loops = (int)(n) }
/* A loop test over every case of the array table. */
#define UNIT_TABLE(f, table)	UNIT_LOOP(f, UNIT_N(table))
#define UNIT_CASE(name, set, tear, secs) \
	{ .tcase = (name), .setup = (set), .teardown = (tear), \
	  .timeout = (secs) }

/* Adds the test case of the UNIT_CASE line c to s. */
static inline TCase *
unit_case_add(Suite *s, const struct unit_test *c)
{
	TCase	*tc = unit_tcase(s, c->tcase, c->setup, c->teardown);

	if (c->timeout > 0)
		tcase_set_timeout(tc, c->timeout);
	return tc;
}

/*
 * The suite name of the n lines of t, in order.  The tests before the
 * first UNIT_CASE line make a test case named name, with the fixture
 * setup and teardown and the timeout as UNIT_CASE's.
 */
static inline Suite *
unit_tests(const char *name, void (*setup)(void), void (*teardown)(void),
    int timeout, const struct unit_test *t, size_t n)
{
	const struct unit_test	 first = UNIT_CASE(name, setup, teardown,
				    timeout);
	Suite			*s = suite_create(name);
	TCase			*tc = NULL;
	size_t			 i;

	if (n > 0 && t[0].fn != NULL)
		tc = unit_case_add(s, &first);
	for (i = 0; i < n; i++) {
		if (t[i].fn == NULL)
			tc = unit_case_add(s, &t[i]);
		else if (t[i].loops == 0)
			tcase_add_test(tc, t[i].fn);
		else
			tcase_add_loop_test(tc, t[i].fn, 0, t[i].loops);
	}
	return s;
}

/*
 * The one integer a query returns (-1 without a row), with arg (unless
 * NULL) bound to its ?1.
 */
static inline long long
unit_int_of(struct p2p_db *db, const char *sql, const char *arg)
{
	struct db_stmt	*st;
	long long	 v = -1;

	ck_assert_int_eq(db_prepare(db, sql, &st, NULL), 0);
	if (arg != NULL)
		db_bind_text(st, 1, arg);
	if (db_step(st) == DB_ROW)
		v = db_col_int64(st, 0);
	db_finalize(st);
	return v;
}

/* The one integer a query returns (-1 without a row). */
static inline long long
unit_int(struct p2p_db *db, const char *sql)
{
	return unit_int_of(db, sql, NULL);
}

/*
 * The one text a query returns, copied to out (size bytes at most);
 * NULL without a row or for an SQL NULL.
 */
static inline const char *
unit_text(struct p2p_db *db, const char *sql, char *out, size_t size)
{
	struct db_stmt	*st;
	const char	*v = NULL;

	ck_assert_int_eq(db_prepare(db, sql, &st, NULL), 0);
	if (db_step(st) == DB_ROW &&
	    db_col_text(st, 0) != NULL) {
		snprintf(out, size, "%s", db_col_text(st, 0));
		v = out;
	}
	db_finalize(st);
	return v;
}

/* Opens a fresh in-memory database with every migration applied. */
static inline void
unit_db_open(struct p2p_db *db)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_open(db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(db, &err), 0);
}

/*
 * The fixture of the suites that test against one fresh database:
 * unit_db_setup() opens unit_db before each test, unit_db_teardown()
 * closes it after.
 */
static struct p2p_db	 unit_db;

static inline void
unit_db_setup(void)
{
	unit_db_open(&unit_db);
}

static inline void
unit_db_teardown(void)
{
	db_close(&unit_db);
}

/*
 * Classifies the resource in JSON text as the loader does: through the
 * tape of the text as read (written == 0) or of the text json-c writes
 * of it (written != 0, as for a resource json-c parsed).  lu_source as
 * scope_classify(), whose result this returns.
 */
static inline int
unit_classify(const char *text, int written, int lu_source,
    struct scope_info *info)
{
	struct jscan	 j;
	struct p2p_err	 err;
	json_object	*o = NULL;
	const char	*t = text, *type;
	int		 rc;

	jscan_init(&j);
	if (written) {
		p2p_err_init(&err);
		ck_assert_msg(fhir_parse(text, strlen(text), &o, &err) == 0,
		    "%s", err.msg);
		t = fhir_json(o);
	}
	ck_assert_int_eq(jscan_parse(&j, t, strlen(t), written ?
	    JSCAN_WRITTEN : 0), 0);
	type = jscan_getstr(&j, 1, "resourceType");
	ck_assert_ptr_nonnull(type);
	rc = scope_classify(&j, type, lu_source, info);
	jscan_free(&j);
	json_object_put(o);
	return rc;
}

/*
 * jscan refuses the len bytes of text (a case of the table line line).
 */
static inline void
unit_jscan_refuses(const char *text, size_t len, int line)
{
	struct jscan	 j;

	jscan_init(&j);
	ck_assert_msg(jscan_parse(&j, text, len, 0) == -1,
	    "line %d: jscan accepts", line);
	jscan_free(&j);
}

/*
 * True when plan scans a table: a "SCAN" of anything but a constant row
 * or b, the member set of CONSENT_ACCESS_SQL (consent.h), which is
 * walked to look each member up.
 */
static inline int
unit_scans_table(const char *plan)
{
	const char	*p;

	for (p = plan; (p = strstr(p, "SCAN ")) != NULL; p += 5)
		if (strncmp(p + 5, "CONSTANT ROW", 12) != 0 &&
		    strncmp(p + 5, "b;", 2) != 0)
			return 1;
	return 0;
}

/*
 * Every statement of the NULL-terminated queries is an index search:
 * its query plan uses an index and scans no table (printed to stderr).
 */
static inline void
unit_plans_indexed(struct p2p_db *db, const char *const *queries)
{
	const char *const	*q;
	struct db_stmt		*st;
	char			 sql[1024], plan[2048];
	size_t			 n;

	for (q = queries; *q != NULL; q++) {
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", *q);
		ck_assert_int_eq(db_prepare(db, sql, &st, NULL), 0);
		n = 0;
		plan[0] = '\0';
		while (db_step(st) == DB_ROW && n < sizeof(plan))
			n += (size_t)snprintf(plan + n, sizeof(plan) - n,
			    "%s; ", db_col_text(st, 3));
		db_finalize(st);
		fprintf(stderr, "plan: %s\n  -> %s\n", *q, plan);
		ck_assert_msg(strstr(plan, "USING") != NULL, "no index: %s: %s",
		    *q, plan);
		ck_assert_msg(!unit_scans_table(plan), "scan: %s: %s", *q,
		    plan);
	}
}

/* The text of path (at most size - 1 bytes) in buf; "" when missing. */
static inline const char *
unit_slurp(const char *path, char *buf, size_t size)
{
	FILE	*f;
	size_t	 n = 0;

	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* dir/name in one of four rotating buffers (several in one call). */
static inline const char *
unit_path(const char *dir, const char *name)
{
	static char	 p[4][512];
	static int	 k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* The e2e seed data set, under $P2P_SRCDIR (or ".", without it). */
static inline const char *
unit_seed(void)
{
	static char	 path[PATH_MAX];
	const char	*src = getenv("P2P_SRCDIR");

	snprintf(path, sizeof(path), "%s/share/seed/test-dataset.json",
	    src != NULL ? src : ".");
	return path;
}

/* A query and the one integer it must return (unit_counts()). */
struct unit_count {
	const char	*sql;
	long long	 want;
};

/*
 * Every query of the n of c returns its integer, with arg (unless NULL)
 * bound to its ?1 (a query without one ignores it).
 */
static inline void
unit_counts(struct p2p_db *db, const char *arg, const struct unit_count *c,
    size_t n)
{
	long long	 got;

	for (; n > 0; c++, n--) {
		got = unit_int_of(db, c->sql, arg);
		ck_assert_msg(got == c->want, "%s: %lld, not %lld", c->sql,
		    got, c->want);
	}
}

#endif
