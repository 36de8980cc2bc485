/*
 * stats.c - see stats.h.
 */
#include <stddef.h>

#include "store/stats.h"

enum {
	STMT_MEMBERS,
	STMT_CLIENTS,
	STMT_MATCHES,
	STMT_SIZE,
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* Patient rows, counted through the (type, id) index */
	"SELECT count(*) FROM resource WHERE type = 'Patient'",
	"SELECT coalesce(sum(active <> 0), 0), coalesce(sum(active = 0), 0)"
	" FROM client",
	"SELECT count(*) FROM match",
	"SELECT page_count * page_size FROM pragma_page_count,"
	" pragma_page_size",
};

static const char *const sql_grouped[STATS__GROUPS] = {
	"SELECT type, count(*) FROM resource GROUP BY type ORDER BY type",
	"SELECT status, count(*) FROM consent GROUP BY status ORDER BY status",
	"SELECT status, count(*) FROM job GROUP BY status ORDER BY status",
};

int
stats_begin(struct p2p_db *db, struct p2p_err *err)
{
	return db_exec(db, "BEGIN", err);
}

void
stats_end(struct p2p_db *db)
{
	db_rollback(db);
}

/* The first one or two integer columns of a one-row query. */
static int
scalar(struct p2p_db *db, int which, long long *a, long long *b,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[which], err)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		*a = db_col_int64(st, 0);
		if (b != NULL)
			*b = db_col_int64(st, 1);
	}
	db_done(st);
	return rc == DB_ROW ? 0 : db_fail(db, rc, err, "stats");
}

int
stats_totals(struct p2p_db *db, struct stats_totals *t, struct p2p_err *err)
{
	*t = (struct stats_totals){ 0 };
	if (scalar(db, STMT_MEMBERS, &t->members, NULL, err) == -1 ||
	    scalar(db, STMT_CLIENTS, &t->clients_active,
	    &t->clients_disabled, err) == -1 ||
	    scalar(db, STMT_MATCHES, &t->matches, NULL, err) == -1 ||
	    scalar(db, STMT_SIZE, &t->bytes, NULL, err) == -1)
		return -1;
	return 0;
}

int
stats_grouped(struct p2p_db *db, enum stats_group g, stats_row_fn *fn,
    void *arg, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql_grouped[g], err)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW)
		fn(arg, db_col_text(st, 0), db_col_int64(st, 1));
	return db_end(db, st, rc, err, "stats");
}
