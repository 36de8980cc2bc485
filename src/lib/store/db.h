/*
 * db.h - the SQLite store: one connection per process, opened before
 * the request loop; prepared statements kept for the life of the
 * process; writes in BEGIN IMMEDIATE transactions; schema migrations
 * tracked by PRAGMA user_version.
 *
 * This is the storage seam: the modules reach the database only through
 * these functions (struct db_stmt is opaque to them, and they never
 * include <sqlite3.h>).  Only store/db.c calls SQLite itself.
 *
 * Statements: each module keeps its own closed set of SQL strings
 * (static const char *const sql[FOO__MAX]) and asks db_stmt() for the
 * prepared statement, which is prepared once (SQLITE_PREPARE_PERSISTENT)
 * and cached by the address of its SQL text.  After use, db_done()
 * resets it, so no read snapshot stays open between requests.
 */
#ifndef P2P_DB_H
#define P2P_DB_H

#include <stddef.h>

#include "core/err.h"

#define DB_STMT_MAX	192	/* statements one process may cache */

/* A prepared statement of the backend, opaque to the modules. */
struct db_stmt;
struct sqlite3;
struct sqlite3_stmt;

/*
 * What db_step() returns, and the other result codes the modules look
 * at (the backend's own numbers: db.c checks they are SQLite's).
 */
#define DB_ERROR	1	/* an error without a more precise code */
#define DB_NOMEM	7	/* out of memory */
#define DB_CORRUPT	11	/* a row that should not be */
#define DB_CONSTRAINT	19	/* a UNIQUE, CHECK or FOREIGN KEY said no */
#define DB_ROW		100	/* the statement stands on a row */
#define DB_DONE		101	/* the statement ran to its end */

struct db_migration {
	int		 version;	/* NNNN of db/migrations/NNNN-x.sql */
	const char	*name;		/* file name without .sql */
	const char	*sql;		/* the whole file */
};

/* Terminated by an entry with name NULL (generated: schema_sql.c). */
extern const struct db_migration db_migrations[];

struct p2p_db {
	struct sqlite3	*h;			/* the connection */
	const char	*key[DB_STMT_MAX];	/* SQL text addresses */
	struct sqlite3_stmt *stmt[DB_STMT_MAX];	/* prepared statements */
	int		 nstmt;			/* slots used */
	int		 in_tx;			/* inside db_begin() */
	int		 batch;			/* inside db_batch_begin() */
	int		 wal_next;		/* see db_defer_checkpoints */
	int		 wal_valve_runs;	/* checkpoints the valve ran */
};

/*
 * Opens path with busy_timeout, foreign_keys=ON, synchronous=NORMAL.
 * With create != 0 the file may be created and is switched to WAL.
 * Returns 0, or -1 with err set (the reason is logged).
 */
/*
 * Sets the connection's page cache to mib MiB.  SQLite's default (2 MiB)
 * is smaller than one large member's rows: $everything of ~1,000
 * resources then reads every page again on every request.
 */
int	 db_cache(struct p2p_db *, long long mib, struct p2p_err *);

int	 db_open(struct p2p_db *, const char *path, int create,
	    struct p2p_err *);
/*
 * db_open() with create, giving a new database page_size-byte pages
 * (0: SQLite's default).  An existing database keeps its page size.
 */
int	 db_create(struct p2p_db *, const char *path, long long page_size,
	    struct p2p_err *);
/*
 * For request processes: no automatic checkpoint after commits (the
 * runner and p2p-admin checkpoint), except the safety valve, a PASSIVE
 * checkpoint once the WAL holds 10,000 pages (~40 MB), so that it
 * cannot grow without bound when no runner runs.
 */
void	 db_defer_checkpoints(struct p2p_db *);
/*
 * Copies the WAL into the database: PASSIVE (never waits; what other
 * connections still read stays), or with truncate != 0 TRUNCATE (waits
 * for writers and readers through the busy handler, then empties the
 * WAL file).  A busy database is not an error.  1 when the whole WAL
 * was copied, 0 when some of it could not be yet, -1 with err set.
 */
int	 db_checkpoint(struct p2p_db *, int truncate, struct p2p_err *);
/*
 * PRAGMA journal_mode: sets mode ("WAL", "DELETE"; NULL: only reads
 * it) and writes the mode in force after it into out ("wal" ...).  The
 * mode is a constant, never input.  Leaving WAL needs the only
 * connection to the database: without wait, a database another
 * connection has open is no error: 1 and the mode unchanged.  0, 1,
 * or -1 with err set.
 */
int	 db_journal(struct p2p_db *, const char *mode, int wait, char *out,
	    size_t outsz, struct p2p_err *);
/* Finalises cached statements and closes; accepts a closed db. */
void	 db_close(struct p2p_db *);

/* Applies pending migrations, each in its own transaction. */
int	 db_migrate(struct p2p_db *, struct p2p_err *);
/* The schema version of the open database, or -1. */
int	 db_version(struct p2p_db *);
/* The newest schema version this build knows. */
int	 db_latest_version(void);

/*
 * The cached statement for sql (a string with static storage: the
 * cache is keyed by its address), reset and with no bindings.  NULL
 * with err set when it does not prepare.
 */
struct db_stmt *db_stmt(struct p2p_db *, const char *sql, struct p2p_err *);
/*
 * A statement for SQL that is not a static string (it is not cached):
 * 0 with *out set, to be freed by db_finalize(), or -1 with err set
 * (err may be NULL).
 */
int	 db_prepare(struct p2p_db *, const char *sql, struct db_stmt **out,
	    struct p2p_err *);
/* Frees a statement from db_prepare(); accepts NULL. */
void	 db_finalize(struct db_stmt *);
/* Resets a statement from db_stmt() and clears its bindings. */
void	 db_done(struct db_stmt *);
/*
 * Resets a statement from db_stmt() (db_done()) that the last step
 * left at rc: 0 when that was DB_DONE (a loop over its rows ran to
 * the end), else -1 with err set by db_fail() naming what.
 */
int	 db_end(struct p2p_db *, struct db_stmt *, int rc, struct p2p_err *,
	    const char *what);
/*
 * Runs a statement from db_stmt() that returns no row (an INSERT,
 * UPDATE or DELETE) and resets it (db_done()).  0, or -1 with err set
 * by db_fail() naming what.
 */
int	 db_step_done(struct p2p_db *, struct db_stmt *, struct p2p_err *,
	    const char *what);
/*
 * db_step_done() of the cached statement sql with arg (NULL: SQL NULL)
 * bound to its ?1.  0, or -1 with err set.
 */
int	 db_run_text(struct p2p_db *, const char *sql, const char *arg,
	    struct p2p_err *, const char *what);
/*
 * Steps a statement from db_stmt() that returns at most one row: 0 when
 * it stands on that row (read it, then db_done()), 1 when there is
 * none, -1 with err set by db_fail() naming what (reset in both).
 */
int	 db_step_row(struct p2p_db *, struct db_stmt *, struct p2p_err *,
	    const char *what);
/*
 * Steps a statement from db_stmt() and resets it: 1 when it gave a row
 * (the query found something), 0 when none, -1 with err set by
 * db_fail() naming what.
 */
int	 db_exists(struct p2p_db *, struct db_stmt *, struct p2p_err *,
	    const char *what);
/*
 * db_step_row() that hands the row to row(st, arg) and resets the
 * statement: 0, 1 no row, or -1 with err set.
 */
int	 db_one(struct p2p_db *, struct db_stmt *,
	    void (*row)(struct db_stmt *, void *), void *arg, struct p2p_err *,
	    const char *what);

/*
 * Parameters and columns by a format, one letter each, in order from
 * ?1 or column 0: 't' text (const char *; NULL is SQL NULL), 'i' int,
 * 'I' long long.  Each argument must have exactly the letter's type
 * (cast where it has not): the format is not checked by the compiler.
 */

/*
 * db_stmt() of sql with the arguments bound as fmt says.  NULL with err
 * set when it does not prepare.
 */
struct db_stmt *db_query(struct p2p_db *, const char *sql, struct p2p_err *,
	    const char *fmt, ...);
/*
 * db_step_done() of db_query(): runs sql, which returns no row, with
 * the arguments bound as fmt says.  0, or -1 with err set naming what.
 */
int	 db_run(struct p2p_db *, const char *sql, struct p2p_err *,
	    const char *what, const char *fmt, ...);
/*
 * Reads the row st stands on: its columns are stored through the
 * arguments as fmt says: 't' const char ** (text that lives until the
 * next step or reset), 'c' char * and size_t, a buffer the text is
 * copied into (str_copy(): NULL gives ""), 'i' int *, 'I' long long *;
 * '-' passes a column over (no argument).
 */
void	 db_row(struct db_stmt *, const char *fmt, ...);
/*
 * Steps a statement from db_stmt(), on DB_ROW reading the row as
 * db_row() does.  Returns the step's result code, for a loop
 * while ((rc = db_next(st, ...)) == DB_ROW) ... and db_end().
 */
int	 db_next(struct db_stmt *, const char *fmt, ...);
/*
 * Reads every row of st (from db_stmt(), bound) into a new array of
 * elements of size bytes (room for first at the start), each zeroed,
 * then filled by row(st, element, arg).  Resets st.  0 with *(T **)out
 * (the caller frees) and *n set, or -1 with err set (out of memory, or
 * db_fail() naming what) and *out NULL, *n 0.
 */
int	 db_rows(struct p2p_db *, struct db_stmt *, size_t size,
	    size_t first, void (*row)(struct db_stmt *, void *, void *),
	    void *arg, void *out, size_t *n, struct p2p_err *,
	    const char *what);

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK.  0 or -1 with err set.  Inside a
 * batch (db_batch_begin()) they are a savepoint of the batch's
 * transaction instead: SAVEPOINT / RELEASE / ROLLBACK TO, so that the
 * code of one request reads the same either way and undoes only its
 * own writes.
 */
int	 db_begin(struct p2p_db *, struct p2p_err *);
int	 db_commit(struct p2p_db *, struct p2p_err *);
void	 db_rollback(struct p2p_db *);

/*
 * Group commit (web/batch.c): one write transaction (BEGIN IMMEDIATE)
 * holding the writes of several requests, committed by db_batch_end().
 * Until then nothing of it is durable or visible to other connections.
 * db_batch_end() returns 0, or -1 with err when the commit failed (or
 * the transaction was lost before it, see db_batch_lost()): then
 * nothing of the batch was kept.
 */
int	 db_batch_begin(struct p2p_db *, struct p2p_err *);
int	 db_batch_end(struct p2p_db *, struct p2p_err *);
/* True when an error rolled the batch's transaction back (SQLite does
 * so on a full disk, an I/O error, out of memory). */
int	 db_batch_lost(struct p2p_db *);

/* Runs SQL without results (one or more statements). */
int	 db_exec(struct p2p_db *, const char *sql, struct p2p_err *);

/*
 * Maps a SQLite result code to an error: BUSY/LOCKED -> 503 with
 * Retry-After, CONSTRAINT -> 409, anything else 500.  The SQLite
 * message is logged, never shown to the caller.  Returns -1.
 */
int	 db_fail(struct p2p_db *, int rc, struct p2p_err *, const char *what);

/* True when rc (from db_step()) is a constraint's refusal. */
int	 db_constraint(int rc);
/* The backend's words for result code rc, for a log line. */
const char *db_errstr(int rc);

/*
 * One step of a statement from db_stmt(): DB_ROW, DB_DONE, or another
 * result code for db_fail() / db_end().
 */
int	 db_step(struct db_stmt *);
/* Rows the last INSERT, UPDATE or DELETE changed. */
long long db_changes(struct p2p_db *);
/* The rowid (INTEGER PRIMARY KEY) the last INSERT gave its row. */
long long db_last_id(struct p2p_db *);
/*
 * Asks the database file to grow bytes at a time (0: the backend's
 * default), so that a writer remaps it seldom.  Best effort.
 */
void	 db_grow_by(struct p2p_db *, int bytes);
/*
 * Before the first db_open() of a process that makes many small
 * allocations (a load): no allocation statistics, which nothing reads
 * and which take a global lock on every malloc and free.
 */
void	 db_no_memstats(void);

/*
 * Parameters, numbered from 1.  Text: NULL binds SQL NULL; db_bind_text
 * copies s, db_bind_static binds it without a copy (s must outlive the
 * step), len bytes or up to its NUL when len < 0.
 */
int	 db_bind_text(struct db_stmt *, int idx, const char *s);
void	 db_bind_static(struct db_stmt *, int idx, const char *s, int len);
void	 db_bind_int(struct db_stmt *, int idx, int);
void	 db_bind_int64(struct db_stmt *, int idx, long long);
/*
 * Columns of the row a statement stands on, numbered from 0.  Text is
 * NULL for SQL NULL and lives until the next step or reset; bytes is
 * its length.
 */
const char *db_col_text(struct db_stmt *, int idx);
size_t	 db_col_bytes(struct db_stmt *, int idx);
int	 db_col_int(struct db_stmt *, int idx);
long long db_col_int64(struct db_stmt *, int idx);
int	 db_col_null(struct db_stmt *, int idx);
/* How many columns its rows have, and the name of one. */
int	 db_col_count(struct db_stmt *);
const char *db_col_name(struct db_stmt *, int idx);

#endif
