/*
 * db.c - see db.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/util.h"
#include "store/db.h"

/* The modules' opaque statement is SQLite's own. */
#define ST(s)	((sqlite3_stmt *)(void *)(s))

_Static_assert(DB_ERROR == SQLITE_ERROR && DB_NOMEM == SQLITE_NOMEM &&
    DB_CORRUPT == SQLITE_CORRUPT && DB_CONSTRAINT == SQLITE_CONSTRAINT &&
    DB_ROW == SQLITE_ROW && DB_DONE == SQLITE_DONE,
    "db.h's result codes are SQLite's");

int
db_fail(struct p2p_db *db, int rc, struct p2p_err *err, const char *what)
{
	const char	*msg = db != NULL && db->h != NULL ?
	    sqlite3_errmsg(db->h) : sqlite3_errstr(rc);

	log_err("sqlite: %s: %s (%d)", what, msg, rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		if (err != NULL && err->status == 0)
			err->retry_after = 2;
		return p2p_fail(err, 503, P2P_ISSUE_TRANSIENT,
		    "the database is busy; retry shortly");
	case SQLITE_CONSTRAINT:
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT,
		    "conflicting change: %s", what);
	default:
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "internal database error");
	}
}

int
db_exec(struct p2p_db *db, const char *sql, struct p2p_err *err)
{
	char	*msg = NULL;
	int	 rc;

	rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	sqlite3_free(msg);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "exec");
	return 0;
}

/*
 * Waits for a lock held by another process: short sleeps growing from
 * 50 us to 2 ms, about DB_BUSY_MS in all.  SQLite's own handler
 * (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ... 100 ms: with FastCGI
 * processes taking turns at write transactions that last well under a
 * millisecond, a waiter would sleep far longer than the lock is held,
 * and the waits pile up into the tail latency.
 */
#define DB_BUSY_MS	5000

static int
busy_wait(void *arg, int n)
{
	struct timespec	 ts;
	long		 us;

	(void)arg;
	/* 50 + 100 + ... + 1600 us, then 2 ms a try. */
	if (n >= 6 + DB_BUSY_MS / 2)
		return 0;
	us = n < 6 ? 50L << n : 2000;
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

/* Opens path; with create, makes it (page_size: 0 for SQLite's). */
/*
 * A first load that died while it wrote without WAL (store/firstload.c)
 * leaves the database in rollback-journal mode, where readers and the
 * writer block each other: the next process to open it puts WAL back.
 * Never waits: while a load still runs, it stays as it is (the load
 * restores WAL when it commits).
 */
static void
wal_back(struct p2p_db *db, const char *path)
{
	struct p2p_err	 err;
	char		 mode[16] = "";

	p2p_err_init(&err);
	if (db_journal(db, NULL, 0, mode, sizeof(mode), &err) != 0 ||
	    strcmp(mode, "wal") == 0)
		return;
	if (db_journal(db, "WAL", 0, mode, sizeof(mode), &err) == 0 &&
	    strcmp(mode, "wal") == 0)
		log_info("sqlite: %s: journal mode WAL again", path);
}

static int
open_db(struct p2p_db *db, const char *path, int create, long long page_size,
    struct p2p_err *err)
{
	char	 sql[48];
	int	 rc, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	memset(db, 0, sizeof(*db));
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		log_err("sqlite: open %s: %s", path,
		    db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		sqlite3_close(db->h);
		db->h = NULL;
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot open the database");
	}
	sqlite3_busy_handler(db->h, busy_wait, NULL);
	sqlite3_extended_result_codes(db->h, 1);
	if (db_exec(db, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = NORMAL;"
	    "PRAGMA temp_store = MEMORY;", err) == -1) {
		db_close(db);
		return -1;
	}
	/* The page size holds only if set before the first table and
	 * before WAL mode; an existing database keeps its own. */
	snprintf(sql, sizeof(sql), "PRAGMA page_size = %lld;", page_size);
	if (create && ((page_size > 0 && db_exec(db, sql, err) == -1) ||
	    db_exec(db, "PRAGMA journal_mode = WAL;", err) == -1)) {
		db_close(db);
		return -1;
	}
	if (!create && strcmp(path, ":memory:") != 0)
		wal_back(db, path);
	return 0;
}

int
db_open(struct p2p_db *db, const char *path, int create, struct p2p_err *err)
{
	return open_db(db, path, create, 0, err);
}

int
db_create(struct p2p_db *db, const char *path, long long page_size,
    struct p2p_err *err)
{
	return open_db(db, path, 1, page_size, err);
}

int
db_cache(struct p2p_db *db, long long mib, struct p2p_err *err)
{
	char	 sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%lld;", mib * 1024);
	return db_exec(db, sql, err);
}

/*
 * Request processes leave WAL checkpoints to the export runner (every
 * pass of --once and --loop) and to p2p-admin: a checkpoint copies the
 * WAL into the database and syncs it, which took ~17% of $member-match
 * and all of its tail latency when it ran inside whichever request
 * crossed SQLite's 1,000-page mark.  The safety valve: when no runner
 * runs, a request process checkpoints (PASSIVE: it never waits for
 * other connections) once the WAL holds DB_WAL_VALVE pages, and again
 * every DB_WAL_VALVE_STEP pages while it cannot be emptied, so the WAL
 * cannot grow without bound.
 */
#define DB_WAL_VALVE		10000	/* pages: 10x SQLite's default */
#define DB_WAL_VALVE_STEP	1000

static int
wal_valve(void *arg, sqlite3 *h, const char *name, int pages)
{
	struct p2p_db	*db = arg;
	int		 log = 0, done = 0;

	if (pages < DB_WAL_VALVE) {
		db->wal_next = DB_WAL_VALVE;
		return SQLITE_OK;
	}
	if (pages < db->wal_next)
		return SQLITE_OK;
	(void)sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	db->wal_next = pages + DB_WAL_VALVE_STEP;
	db->wal_valve_runs++;
	return SQLITE_OK;
}

void
db_defer_checkpoints(struct p2p_db *db)
{
	db->wal_next = DB_WAL_VALVE;
	/* Replaces SQLite's own auto-checkpoint hook. */
	sqlite3_wal_hook(db->h, wal_valve, db);
}

int
db_journal(struct p2p_db *db, const char *mode, int wait, char *out,
    size_t outsz, struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 sql[48];
	const char	*got;
	int		 rc;

	if (mode != NULL)
		snprintf(sql, sizeof(sql), "PRAGMA journal_mode = %s", mode);
	else
		snprintf(sql, sizeof(sql), "PRAGMA journal_mode");
	if (db_prepare(db, sql, &st, err) == -1)
		return -1;
	if (!wait)
		sqlite3_busy_handler(db->h, NULL, NULL);
	rc = db_step(st);
	if (!wait)
		sqlite3_busy_handler(db->h, busy_wait, NULL);
	if (rc == SQLITE_ROW && (got = db_col_text(st, 0)) != NULL)
		snprintf(out, outsz, "%s", got);
	db_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (!wait && (rc & 0xff) == SQLITE_BUSY)
		return 1;
	return db_fail(db, rc, err, "journal_mode");
}

int
db_checkpoint(struct p2p_db *db, int truncate, struct p2p_err *err)
{
	int	 rc, log = -1, done = -1;

	rc = sqlite3_wal_checkpoint_v2(db->h, NULL, truncate ?
	    SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, &log,
	    &done);
	if ((rc & 0xff) == SQLITE_BUSY)
		return 0;
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "checkpoint");
	return log >= 0 && done == log ? 1 : 0;
}

void
db_close(struct p2p_db *db)
{
	int	 i;

	if (db->h == NULL)
		return;
	for (i = 0; i < db->nstmt; i++)
		sqlite3_finalize(db->stmt[i]);
	db->nstmt = 0;
	sqlite3_close(db->h);
	db->h = NULL;
}

int
db_version(struct p2p_db *db)
{
	struct db_stmt	*st;
	int		 v = -1;

	if (db_prepare(db, "PRAGMA user_version", &st, NULL) == -1)
		return -1;
	if (db_step(st) == SQLITE_ROW)
		v = db_col_int(st, 0);
	db_finalize(st);
	return v;
}

int
db_latest_version(void)
{
	const struct db_migration	*m;
	int				 v = 0;

	for (m = db_migrations; m->name != NULL; m++)
		v = m->version;
	return v;
}

int
db_migrate(struct p2p_db *db, struct p2p_err *err)
{
	const struct db_migration	*m;
	char				 pragma[64];
	int				 cur;

	if ((cur = db_version(db)) < 0)
		return db_fail(db, sqlite3_errcode(db->h), err, "user_version");
	if (cur > db_latest_version())
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "database schema version %d is newer than this build "
		    "(%d)", cur, db_latest_version());
	for (m = db_migrations; m->name != NULL; m++) {
		if (m->version <= cur)
			continue;
		if (db_begin(db, err) == -1)
			return -1;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;",
		    m->version);
		if (db_exec(db, m->sql, err) == -1 ||
		    db_exec(db, pragma, err) == -1 ||
		    db_commit(db, err) == -1) {
			db_rollback(db);
			log_err("migration %s failed", m->name);
			return -1;
		}
		log_info("applied migration %s", m->name);
	}
	return 0;
}

/*
 * Prepares sql (flags: SQLITE_PREPARE_*), logging the SQL when it does
 * not prepare.  NULL with err set then.
 */
static struct db_stmt *
prepare(struct p2p_db *db, const char *sql, unsigned int flags,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	rc = sqlite3_prepare_v3(db->h, sql, -1, flags, &st, NULL);
	if (rc != SQLITE_OK) {
		log_err("sqlite: prepare: %s: %.200s", sqlite3_errmsg(db->h),
		    sql);
		db_fail(db, rc, err, "prepare");
		return NULL;
	}
	return (struct db_stmt *)(void *)st;
}

struct db_stmt *
db_stmt(struct p2p_db *db, const char *sql, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 i;

	for (i = 0; i < db->nstmt; i++)
		if (db->key[i] == sql)
			return (struct db_stmt *)(void *)db->stmt[i];
	if (db->nstmt == DB_STMT_MAX) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "statement cache full");
		return NULL;
	}
	if ((st = prepare(db, sql, SQLITE_PREPARE_PERSISTENT, err)) == NULL)
		return NULL;
	db->key[db->nstmt] = sql;
	db->stmt[db->nstmt++] = ST(st);
	return st;
}

int
db_prepare(struct p2p_db *db, const char *sql, struct db_stmt **out,
    struct p2p_err *err)
{
	return (*out = prepare(db, sql, 0, err)) == NULL ? -1 : 0;
}

void
db_finalize(struct db_stmt *st)
{
	sqlite3_finalize(ST(st));
}

void
db_done(struct db_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(ST(st));
	sqlite3_clear_bindings(ST(st));
}

int
db_end(struct p2p_db *db, struct db_stmt *st, int rc, struct p2p_err *err,
    const char *what)
{
	db_done(st);
	return rc == DB_DONE ? 0 : db_fail(db, rc, err, what);
}

int
db_step_done(struct p2p_db *db, struct db_stmt *st, struct p2p_err *err,
    const char *what)
{
	return db_end(db, st, db_step(st), err, what);
}

int
db_run_text(struct p2p_db *db, const char *sql, const char *arg,
    struct p2p_err *err, const char *what)
{
	return db_run(db, sql, err, what, "t", arg);
}

static void
db_bindv(struct db_stmt *st, const char *fmt, va_list ap)
{
	int	 i;

	for (i = 1; *fmt != '\0'; fmt++, i++)
		switch (*fmt) {
		case 't':
			db_bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'i':
			db_bind_int(st, i, va_arg(ap, int));
			break;
		case 'I':
			db_bind_int64(st, i, va_arg(ap, long long));
			break;
		default:
			abort();
		}
}

static struct db_stmt *
db_queryv(struct p2p_db *db, const char *sql, struct p2p_err *err,
    const char *fmt, va_list ap)
{
	struct db_stmt	*st;

	if ((st = db_stmt(db, sql, err)) != NULL)
		db_bindv(st, fmt, ap);
	return st;
}

struct db_stmt *
db_query(struct p2p_db *db, const char *sql, struct p2p_err *err,
    const char *fmt, ...)
{
	struct db_stmt	*st;
	va_list		 ap;

	va_start(ap, fmt);
	st = db_queryv(db, sql, err, fmt, ap);
	va_end(ap);
	return st;
}

int
db_run(struct p2p_db *db, const char *sql, struct p2p_err *err,
    const char *what, const char *fmt, ...)
{
	struct db_stmt	*st;
	va_list		 ap;

	va_start(ap, fmt);
	st = db_queryv(db, sql, err, fmt, ap);
	va_end(ap);
	return st == NULL ? -1 : db_step_done(db, st, err, what);
}

static void
db_rowv(struct db_stmt *st, const char *fmt, va_list ap)
{
	char	*buf;
	int	 i;

	for (i = 0; *fmt != '\0'; fmt++, i++)
		switch (*fmt) {
		case 't':
			*va_arg(ap, const char **) = db_col_text(st, i);
			break;
		case 'c':
			buf = va_arg(ap, char *);
			str_copy(buf, va_arg(ap, size_t), db_col_text(st, i));
			break;
		case 'i':
			*va_arg(ap, int *) = db_col_int(st, i);
			break;
		case 'I':
			*va_arg(ap, long long *) = db_col_int64(st, i);
			break;
		case '-':
			break;
		default:
			abort();
		}
}

void
db_row(struct db_stmt *st, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	db_rowv(st, fmt, ap);
	va_end(ap);
}

int
db_next(struct db_stmt *st, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	if ((rc = db_step(st)) != DB_ROW)
		return rc;
	va_start(ap, fmt);
	db_rowv(st, fmt, ap);
	va_end(ap);
	return rc;
}

int
db_rows(struct p2p_db *db, struct db_stmt *st, size_t size, size_t first,
    void (*row)(struct db_stmt *, void *, void *), void *arg, void *out,
    size_t *n, struct p2p_err *err, const char *what)
{
	void		**vp = out;
	unsigned char	*v = NULL;
	size_t		 cap = 0;
	int		 rc;

	*vp = NULL;
	*n = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		if (array_grow(&v, *n, &cap, size, first) == -1) {
			db_done(st);
			free(v);
			*n = 0;
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
		memset(v + *n * size, 0, size);
		row(st, v + *n * size, arg);
		(*n)++;
	}
	db_done(st);
	if (rc != DB_DONE) {
		free(v);
		*n = 0;
		return db_fail(db, rc, err, what);
	}
	*vp = v;
	return 0;
}

int
db_step_row(struct p2p_db *db, struct db_stmt *st, struct p2p_err *err,
    const char *what)
{
	int	 rc = db_step(st);

	if (rc == DB_ROW)
		return 0;
	db_done(st);
	return rc == DB_DONE ? 1 : db_fail(db, rc, err, what);
}

int
db_exists(struct p2p_db *db, struct db_stmt *st, struct p2p_err *err,
    const char *what)
{
	int	 rc = db_step(st);

	db_done(st);
	if (rc == DB_ROW)
		return 1;
	return rc == DB_DONE ? 0 : db_fail(db, rc, err, what);
}

int
db_one(struct p2p_db *db, struct db_stmt *st,
    void (*row)(struct db_stmt *, void *), void *arg, struct p2p_err *err,
    const char *what)
{
	int	 rc = db_step_row(db, st, err, what);

	if (rc == 0) {
		row(st, arg);
		db_done(st);
	}
	return rc;
}

int
db_begin(struct p2p_db *db, struct p2p_err *err)
{
	if (db_exec(db, db->batch ? "SAVEPOINT req" : "BEGIN IMMEDIATE",
	    err) == -1)
		return -1;
	db->in_tx = 1;
	return 0;
}

int
db_commit(struct p2p_db *db, struct p2p_err *err)
{
	if (db_exec(db, db->batch ? "RELEASE req" : "COMMIT", err) == -1)
		return -1;
	db->in_tx = 0;
	return 0;
}

void
db_rollback(struct p2p_db *db)
{
	if (db->batch) {
		/* The request's own writes only; the batch goes on. */
		if (db->in_tx && sqlite3_get_autocommit(db->h) == 0)
			sqlite3_exec(db->h, "ROLLBACK TO req; RELEASE req",
			    NULL, NULL, NULL);
	} else if (sqlite3_get_autocommit(db->h) == 0)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_tx = 0;
}

int
db_batch_begin(struct p2p_db *db, struct p2p_err *err)
{
	if (db_exec(db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	db->batch = 1;
	db->in_tx = 0;
	return 0;
}

int
db_batch_lost(struct p2p_db *db)
{
	return db->batch && sqlite3_get_autocommit(db->h) != 0;
}

int
db_batch_end(struct p2p_db *db, struct p2p_err *err)
{
	int	 rc = 0;

	if (db_batch_lost(db)) {
		log_err("sqlite: a batch's transaction was rolled back");
		rc = p2p_fail(err, 503, P2P_ISSUE_TRANSIENT,
		    "the request could not be stored; retry shortly");
	} else if (db_exec(db, "COMMIT", err) == -1) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
	}
	db->batch = 0;
	db->in_tx = 0;
	return rc;
}

int
db_constraint(int rc)
{
	return (rc & 0xff) == SQLITE_CONSTRAINT;
}

const char *
db_errstr(int rc)
{
	return sqlite3_errstr(rc);
}

int
db_step(struct db_stmt *st)
{
	return sqlite3_step(ST(st));
}

long long
db_changes(struct p2p_db *db)
{
	return sqlite3_changes(db->h);
}

long long
db_last_id(struct p2p_db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

void
db_grow_by(struct p2p_db *db, int bytes)
{
	(void)sqlite3_file_control(db->h, "main", SQLITE_FCNTL_CHUNK_SIZE,
	    &bytes);
}

void
db_no_memstats(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
db_bind_text(struct db_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(ST(st), idx);
	return sqlite3_bind_text(ST(st), idx, s, -1, SQLITE_TRANSIENT);
}

void
db_bind_static(struct db_stmt *st, int idx, const char *s, int len)
{
	if (s == NULL)
		sqlite3_bind_null(ST(st), idx);
	else
		sqlite3_bind_text(ST(st), idx, s, len, SQLITE_STATIC);
}

void
db_bind_int(struct db_stmt *st, int idx, int v)
{
	sqlite3_bind_int(ST(st), idx, v);
}

void
db_bind_int64(struct db_stmt *st, int idx, long long v)
{
	sqlite3_bind_int64(ST(st), idx, v);
}

const char *
db_col_text(struct db_stmt *st, int idx)
{
	return (const char *)sqlite3_column_text(ST(st), idx);
}

size_t
db_col_bytes(struct db_stmt *st, int idx)
{
	return (size_t)sqlite3_column_bytes(ST(st), idx);
}

int
db_col_int(struct db_stmt *st, int idx)
{
	return sqlite3_column_int(ST(st), idx);
}

long long
db_col_int64(struct db_stmt *st, int idx)
{
	return sqlite3_column_int64(ST(st), idx);
}

int
db_col_null(struct db_stmt *st, int idx)
{
	return sqlite3_column_type(ST(st), idx) == SQLITE_NULL;
}

int
db_col_count(struct db_stmt *st)
{
	return sqlite3_column_count(ST(st));
}

const char *
db_col_name(struct db_stmt *st, int idx)
{
	return sqlite3_column_name(ST(st), idx);
}
