/*
 * firstload.c - see firstload.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/firstload.h"

/* The tables store_write() fills, every one empty. */
static const char *const sql_empty =
    "SELECT NOT EXISTS (SELECT 1 FROM resource)"
    " AND NOT EXISTS (SELECT 1 FROM ident)"
    " AND NOT EXISTS (SELECT 1 FROM demog)";
/* Their indexes but the UNIQUE constraint's (which has no sql). */
static const char *const sql_indexes =
    "SELECT name, sql FROM sqlite_schema WHERE type = 'index'"
    " AND tbl_name IN ('resource', 'ident', 'demog') AND sql IS NOT NULL"
    " ORDER BY name";

void
firstload_free(struct firstload *b)
{
	int	 i;

	for (i = 0; i < b->n; i++) {
		free(b->name[i]);
		free(b->sql[i]);
	}
	memset(b, 0, sizeof(*b));
}

/* 1 when the tables are empty, 0 when not, -1 with err set. */
static int
empty(struct p2p_db *db, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, yes;

	if ((st = db_stmt(db, sql_empty, err)) == NULL)
		return -1;
	rc = db_step(st);
	yes = rc == DB_ROW && db_col_int(st, 0) != 0;
	db_done(st);
	if (rc != DB_ROW)
		return db_fail(db, rc, err, "first load: tables empty");
	return yes;
}

int
firstload_journal(struct p2p_db *db, struct p2p_err *err)
{
	char	 mode[16] = "";
	int	 rc;

	if (db_journal(db, NULL, 1, mode, sizeof(mode), err) == -1)
		return -1;
	/* a first load that ended before it put WAL back: this one will */
	if (strcmp(mode, "delete") == 0)
		return 1;
	if (strcmp(mode, "wal") != 0)	/* e.g. an in-memory database */
		return 0;
	if ((rc = empty(db, err)) != 1)
		return rc;
	if ((rc = db_journal(db, "DELETE", 0, mode, sizeof(mode), err)) == -1)
		return -1;
	return rc == 0 && strcmp(mode, "delete") == 0;
}

int
firstload_wal(struct p2p_db *db, struct p2p_err *err)
{
	char	 mode[16] = "";

	if (db_journal(db, "WAL", 1, mode, sizeof(mode), err) == -1)
		return -1;
	if (strcmp(mode, "wal") != 0)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "the database could not be put back in WAL mode");
	return 0;
}

/* Reads the indexes into b (not dropped yet).  0, 1 too many, -1. */
static int
indexes(struct p2p_db *db, struct firstload *b, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*name, *sql;
	int		 rc;

	/* not cached: the schema changes under it */
	if (db_prepare(db, sql_indexes, &st, err) == -1)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		if (b->n == FIRSTLOAD_INDEX_MAX) {
			rc = DB_DONE;
			break;
		}
		name = db_col_text(st, 0);
		sql = db_col_text(st, 1);
		if ((b->name[b->n] = strdup(name)) == NULL ||
		    (b->sql[b->n] = strdup(sql)) == NULL) {
			free(b->name[b->n]);
			db_finalize(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
		b->n++;
	}
	db_finalize(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "first load: indexes");
	return b->n == FIRSTLOAD_INDEX_MAX ? 1 : 0;
}

/*
 * Appends "DROP INDEX \"name\"" to b, the name quoted as an identifier
 * (a double quote doubled).  0, or -1 when out of memory.
 */
static int
drop_sql(struct p2p_buf *b, const char *name)
{
	const char	*q;

	if (buf_puts(b, "DROP INDEX \"") == -1)
		return -1;
	while ((q = strchr(name, '"')) != NULL) {
		if (buf_add(b, name, (size_t)(q - name) + 1) == -1 ||
		    buf_puts(b, "\"") == -1)
			return -1;
		name = q + 1;
	}
	return buf_puts(b, name) == -1 ? -1 : buf_puts(b, "\"");
}

int
firstload_begin(struct p2p_db *db, struct firstload *b, struct p2p_err *err)
{
	struct p2p_buf	 sql = { NULL, 0, 0 };
	int		 i, rc;

	memset(b, 0, sizeof(*b));
	if ((rc = empty(db, err)) != 1)
		return rc;
	if ((rc = indexes(db, b, err)) != 0) {
		firstload_free(b);
		return rc == 1 ? 0 : -1;
	}
	/*
	 * An identifier cannot be bound: the names come from sqlite_schema
	 * and are quoted as identifiers, never taken from input.
	 */
	for (i = 0, rc = 0; i < b->n && rc == 0; i++) {
		buf_reset(&sql);
		if (drop_sql(&sql, b->name[i]) == -1)
			rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		else
			rc = db_exec(db, sql.p, err);
	}
	buf_free(&sql);
	if (rc == -1) {
		firstload_free(b);
		return -1;
	}
	return 1;
}

int
firstload_indexes(struct p2p_db *db, struct firstload *b, struct p2p_err *err)
{
	int	 i;

	for (i = 0; i < b->n; i++)
		if (db_exec(db, b->sql[i], err) == -1)
			return -1;
	firstload_free(b);
	return 0;
}
