/*
 * members.c - the members a job's files hold (see members.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "jobs/members.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "member/consent.h"

enum stmt {
	STMT_ADD,		/* a member a bulk match names */
	STMT_ADD_BATCH,		/* an export batch's members, pending */
	STMT_CLEAR,		/* forget a job's members */
	STMT_PUBLISH,		/* their release records */
	STMT_OF_JOB,		/* the members a job's files hold, checked */
	STMT_FETCHED,		/* a download's records */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_ADD */
	"INSERT OR REPLACE INTO job_member (job_id, patient, cid)"
	" VALUES (?1, ?2, ?3)",
	/* STMT_ADD_BATCH: ?2 is [[patient, cid, n, released], ...] */
	"INSERT OR REPLACE INTO job_member (job_id, patient, cid, n, released)"
	" SELECT ?1, json_extract(value, '$[0]'),"
	" nullif(json_extract(value, '$[1]'), 0), json_extract(value, '$[2]'),"
	" json_extract(value, '$[3]') FROM json_each(?2)"
	" WHERE EXISTS (SELECT 1 FROM job WHERE id = ?1"
	" AND status = 'running' AND runner = ?3)",
	/* STMT_CLEAR */
	"DELETE FROM job_member WHERE job_id = ?1",
	/* STMT_PUBLISH: an export's members (n set), in member order */
	"INSERT INTO audit (time, event, outcome, client_id, patient, cid,"
	" detail) SELECT ?2, ?5,"
	" CASE WHEN released THEN 'success' ELSE 'failure' END, ?3, patient,"
	" cid, ?4 || ' job ' || ?1 || ': ' || CASE WHEN released"
	" THEN n || ' resources into the job''s files'"
	" ELSE 'left out: no valid consent at execution time' END"
	" FROM job_member WHERE job_id = ?1 AND n IS NOT NULL ORDER BY patient",
	/* STMT_OF_JOB */
	CONSENT_ACCESS_SQL("(SELECT patient FROM job_member WHERE job_id = ?2"
	    " AND released)"),
	/* STMT_FETCHED: ?4 is [[patient, cid], ...] */
	"INSERT INTO audit (time, event, outcome, client_id, patient, cid,"
	" detail) SELECT ?1, ?2, 'success', ?3, json_extract(value, '$[0]'),"
	" nullif(json_extract(value, '$[1]'), 0), ?5 FROM json_each(?4)",
};

/*
 * A release record that cannot be written: 503 when the database is
 * busy, else 500, never a 409 (a refusing trigger is a CONSTRAINT): the
 * runner reads 409 as "the job was cancelled or taken over".
 */
static int
record_fail(struct p2p_db *db, int rc, struct p2p_err *err, const char *what)
{
	struct p2p_err	 e;

	p2p_err_init(&e);
	db_fail(db, rc, &e, what);
	if (e.status == 503)
		return p2p_fail(err, 503, P2P_ISSUE_TRANSIENT, "%s", e.msg);
	return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
	    "cannot record the release");
}

int
job_members_add(struct p2p_db *db, const struct job *job,
    const struct job_member_row *m, size_t n, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct p2p_buf	 b = { NULL, 0, 0 };
	size_t		 i;
	int		 rc, oom = 0;

	if (n == 0)
		return 0;
	oom |= buf_add(&b, "[", 1);
	for (i = 0; i < n; i++) {
		/* FHIR ids need no escaping in a JSON string. */
		if (!fhir_valid_id(m[i].patient)) {
			buf_free(&b);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "member id is not a FHIR id");
		}
		oom |= buf_printf(&b, "%s[\"%s\",%lld,%lld,%d]", i ? "," : "",
		    m[i].patient, m[i].cid, m[i].n, m[i].released ? 1 : 0);
	}
	oom |= buf_add(&b, "]", 1);
	if (oom) {
		buf_free(&b);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if ((st = db_stmt(db, sql[STMT_ADD_BATCH], err)) == NULL) {
		buf_free(&b);
		return -1;
	}
	db_bind_text(st, 1, job->id);
	db_bind_text(st, 2, b.p);
	db_bind_text(st, 3, job->runner);
	rc = db_step(st);
	db_done(st);
	buf_free(&b);
	return rc == DB_DONE ? 0 : record_fail(db, rc, err, "job members");
}

int
job_member_add(struct p2p_db *db, const char *job_id, const char *patient,
    long long cid, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql[STMT_ADD], err, "tt", job_id,
	    patient)) == NULL)
		return -1;
	if (cid > 0)
		db_bind_int64(st, 3, cid);
	return db_step_done(db, st, err, "insert job member");
}

int
job_members_clear(struct p2p_db *db, const char *job_id, struct p2p_err *err)
{
	return db_run_text(db, sql[STMT_CLEAR], job_id, err,
	    "clear job members");
}

int
job_members_publish(struct p2p_db *db, const struct job *job,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 ts[32];
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_PUBLISH], err)) == NULL)
		return -1;
	time_instant(now_sec(), ts);
	db_bind_text(st, 1, job->id);
	db_bind_text(st, 2, ts);
	db_bind_text(st, 3, job->client_id);
	db_bind_text(st, 4, job->kind);
	db_bind_text(st, 5, AUDIT_RELEASE);
	rc = db_step(st);
	db_done(st);
	return rc == DB_DONE ? 0 :
	    record_fail(db, rc, err, "publish release records");
}

/* Members of a download recorded by one statement. */
#define FETCHED_CHUNK	1024

/* Records the download of the members in b (a JSON array, emptied). */
static int
fetched(struct p2p_db *db, const char *client, const char *detail,
    struct p2p_buf *b, struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 ts[32];
	int		 rc;

	if (b->len == 0)
		return 0;
	if (buf_add(b, "]", 1) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((st = db_stmt(db, sql[STMT_FETCHED], err)) == NULL)
		return -1;
	time_instant(now_sec(), ts);
	db_bind_text(st, 1, ts);
	db_bind_text(st, 2, AUDIT_RELEASE);
	db_bind_text(st, 3, client);
	db_bind_text(st, 4, b->p);
	db_bind_text(st, 5, detail);
	rc = db_step(st);
	db_done(st);
	buf_reset(b);
	return rc == DB_DONE ? 0 : db_fail(db, rc, err, "audit insert");
}

/*
 * One pass in one write transaction: the release check of every member
 * (one statement, the same check as the export's own, so a legacy
 * consent-less match stops with the switch) and their records, a chunk
 * of members a statement.  The first refusal rolls back: no record of a
 * release that does not happen.
 */
int
job_members_release(struct p2p_db *db, const struct p2p_config *cfg,
    const char *id, const char *name, const char *client, time_t now,
    char *refused, size_t refusedsz, struct p2p_err *err)
{
	struct consent_decision	 d;
	struct p2p_buf		 b = { NULL, 0, 0 };
	struct db_stmt		*st;
	char			 detail[200];
	size_t			 n = 0;
	int			 rc, r;

	refused[0] = '\0';
	snprintf(detail, sizeof(detail), "file %s/%s", id, name);
	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_OF_JOB], err)) == NULL)
		goto fail;
	db_bind_text(st, 1, client);
	db_bind_text(st, 2, id);
	rc = db_step(st);
	while ((r = consent_access_next(db, st, &rc,
	    cfg->allow_legacy_consentless != 0, now, &d, err)) == 1) {
		if (!d.ok) {
			snprintf(refused, refusedsz, "%s", d.patient);
			p2p_fail(err, 403, P2P_ISSUE_FORBIDDEN, "file %s/%s is "
			    "withdrawn: a member's consent is no longer valid",
			    id, name);
			break;
		}
		/* FHIR ids need no escaping in a JSON string. */
		if (!fhir_valid_id(d.patient) || buf_printf(&b, "%c[\"%s\",%lld]",
		    b.len ? ',' : '[', d.patient, d.cid) == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot record the download");
			break;
		}
		if (++n % FETCHED_CHUNK == 0 &&
		    fetched(db, client, detail, &b, err) == -1)
			break;
	}
	db_done(st);
	if (r != 0 || fetched(db, client, detail, &b, err) == -1 ||
	    db_commit(db, err) == -1)
		goto fail;
	buf_free(&b);
	return 0;
fail:
	buf_free(&b);
	db_rollback(db);
	return -1;
}
