/*
 * audit.c - see audit.h.
 */
#include "audit.h"
#include "util.h"

static const char *const sql_insert =
    "INSERT INTO audit (time, event, outcome, client_id, patient, cid, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int
audit_log(struct p2p_db *db, const char *event, const char *outcome,
    const char *client, const char *patient, long long cid,
    const char *detail, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	char		 ts[32];
	int		 rc;

	if ((st = db_stmt(db, sql_insert, err)) == NULL)
		return -1;
	time_instant(now_sec(), ts);
	db_bind_text(st, 1, ts);
	db_bind_text(st, 2, event);
	db_bind_text(st, 3, outcome);
	db_bind_text(st, 4, client);
	db_bind_text(st, 5, patient);
	if (cid > 0)
		sqlite3_bind_int64(st, 6, cid);
	db_bind_text(st, 7, detail);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "audit insert");
	return 0;
}
