/*
 * fuzz_loader.c - a file given to p2p-admin load (store/loader.c:
 * load_stream() with the format guessed, LOAD_AUTO: the line reader,
 * ndjson through the parsing threads, or one Bundle), into an empty
 * database in memory.
 *
 * A file loads whole or not at all: a refusal is a 4xx with a message
 * naming the place, and leaves every table as it was.  The database
 * goes back to empty after every input.
 */
#include "fuzz.h"

static struct p2p_db	 db;
static struct fuzz_snap	 empty;

/* Rows of the tables a load writes; -1 when one cannot be counted. */
static long long
rows(void)
{
	static const char *const sql =
	    "SELECT (SELECT count(*) FROM resource) +"
	    " (SELECT count(*) FROM ident) + (SELECT count(*) FROM demog) +"
	    " (SELECT count(*) FROM consent) + (SELECT count(*) FROM client)";
	struct db_stmt	*st;
	long long	 n = -1;

	if (db_prepare(&db, sql, &st, NULL) != 0)
		fuzz_fail("count: %s", sqlite3_errmsg(db.h));
	if (db_step(st) == DB_ROW)
		n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(NULL, &db, NULL, &empty);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	FILE			*f;
	int			 rc;

	if (size == 0)
		return 0;	/* fmemopen() wants a buffer */
	if ((f = fmemopen((void *)data, size, "r")) == NULL)
		abort();
	p2p_err_init(&err);
	rc = load_stream(&db, f, "fuzz", LOAD_AUTO, 0, &st, &err);
	fclose(f);
	if (rc == -1) {
		if (err.status < 400 || err.status >= 500 ||
		    err.msg[0] == '\0')
			fuzz_fail("load refused with %d: %s", err.status,
			    err.msg);
		if (rows() != 0)
			fuzz_fail("a refused load left rows behind");
	} else if (rc != 0)
		fuzz_fail("load_stream() returned %d", rc);
	if (db.in_tx)
		fuzz_fail("the load left a transaction open");
	fuzz_db_restore(&db, &empty);
	return 0;
}
