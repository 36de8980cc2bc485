/*
 * members.c - the members a job's files hold (see members.h).
 */
#include <stdio.h>
#include <string.h>

#include "jobs/members.h"
#include "member/audit.h"
#include "member/consent.h"

enum stmt {
	STMT_ADD,		/* record a member of the output */
	STMT_CLEAR,		/* forget a job's members */
	STMT_OF_JOB,		/* the members a job's files hold */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_ADD */
	"INSERT OR REPLACE INTO job_member (job_id, patient, cid)"
	" VALUES (?1, ?2, ?3)",
	/* STMT_CLEAR */
	"DELETE FROM job_member WHERE job_id = ?1",
	/* STMT_OF_JOB */
	"SELECT patient FROM job_member WHERE job_id = ?1",
};

int
job_member_add(struct p2p_db *db, const char *job_id, const char *patient,
    long long cid, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_ADD], err)) == NULL)
		return -1;
	db_bind_text(st, 1, job_id);
	db_bind_text(st, 2, patient);
	if (cid > 0)
		sqlite3_bind_int64(st, 3, cid);
	rc = sqlite3_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, "insert job member");
}

int
job_members_clear(struct p2p_db *db, const char *job_id, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_CLEAR], err)) == NULL)
		return -1;
	db_bind_text(st, 1, job_id);
	rc = sqlite3_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, "clear job members");
}

/*
 * One pass in one write transaction: the release check of every member
 * (the same as the export's own, so a legacy consent-less match stops
 * with the switch) and its record.  The first refusal rolls back: no
 * record of a release that does not happen.
 */
int
job_members_release(struct p2p_db *db, const struct p2p_config *cfg,
    const char *id, const char *name, const char *client, time_t now,
    char *refused, size_t refusedsz, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	struct p2p_err	 e;
	const char	*patient;
	char		 detail[200];
	long long	 cid;
	int		 rc, sensitive;

	refused[0] = '\0';
	snprintf(detail, sizeof(detail), "file %s/%s", id, name);
	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_OF_JOB], err)) == NULL)
		goto fail;
	db_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		patient = db_col_text(st, 0);
		p2p_err_init(&e);
		if (consent_access_cfg(db, cfg, client, patient, now, &cid,
		    &sensitive, &e) == -1) {
			if (e.status >= 500)
				*err = e;
			else {
				snprintf(refused, refusedsz, "%s", patient);
				p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN,
				    "file %s/%s is withdrawn: a member's "
				    "consent is no longer valid", id, name);
			}
			db_done(st);
			goto fail;
		}
		if (audit_log(db, AUDIT_RELEASE, "success", client, patient,
		    cid, detail, err) == -1) {
			db_done(st);
			goto fail;
		}
	}
	db_done(st);
	if (rc != SQLITE_DONE) {
		db_fail(db, rc, err, "job members");
		goto fail;
	}
	if (db_commit(db, err) == 0)
		return 0;
fail:
	db_rollback(db);
	return -1;
}
