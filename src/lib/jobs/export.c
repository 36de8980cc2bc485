/*
 * export.c - the runner side of member data export: jobs of kind
 * JOB_EVERYTHING (Patient/$everything with Prefer: respond-async),
 * JOB_DATA_EXPORT (Group/$davinci-data-export, Group/$export) and
 * JOB_PATIENT_EXPORT (Patient/$export: every member the client matched).
 *
 * Memory stays flat whatever the size of the group: members are walked
 * by keyset over grp_member in batches (struct walk below), and each
 * member's released rows (release.c, the same rules as the synchronous
 * $everything) are streamed from a prepared statement straight into
 * job_out_write().  Nothing is parsed per resource.
 *
 * PDex payer-to-payer bulk: "consent status SHALL be re-checked for
 * every member at execution time": a member whose consent lapsed is
 * left out and named in the error file.  ATR: patient references that
 * are not in the group are ignored, with an OperationOutcome each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "member/audit.h"
#include "member/consent.h"
#include "json/fhir.h"
#include "jobs/export.h"
#include "jobs/job.h"
#include "datascope/release.h"

enum stmt {
	STMT_GROUP,		/* a group's owner and kind */
	STMT_MEMBERS,		/* its members, keyset */
	STMT_IS_MEMBER,		/* one member of it? */
	STMT_JOB_MEMBERS,	/* the members a job's files hold */
	STMT_MATCHED,		/* the members a client matched, keyset */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_GROUP */
	"SELECT client_id, kind FROM grp WHERE id = ?1",
	/* STMT_MEMBERS */
	("SELECT patient FROM grp_member WHERE group_id = ?1 AND patient > ?2"
	    " ORDER BY patient"),
	/* STMT_IS_MEMBER */
	"SELECT 1 FROM grp_member WHERE group_id = ?1 AND patient = ?2",
	/* STMT_JOB_MEMBERS */
	"SELECT patient FROM job_member WHERE job_id = ?1",
	/* STMT_MATCHED (index match_client_patient) */
	("SELECT DISTINCT patient FROM match WHERE client_id = ?1"
	    " AND patient > ?2 ORDER BY patient"),
};

/* Writes an OperationOutcome (severity, code, text) to the error file. */
static int
out_note(struct job_out *o, const char *severity, enum p2p_issue issue,
    const char *text, struct p2p_err *err)
{
	json_object	*oo;
	int		 rc;

	if ((oo = fhir_outcome_new3(severity, issue, text)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	rc = job_out_error(o, oo, err);
	json_object_put(oo);
	return rc;
}

/*
 * A job's walk over its members.  The reads of up to WALK_MEMBERS
 * members (or WALK_ROWS resources) share one read transaction, and
 * their audit records are written together in one write transaction
 * after it: per member, no lock round trip and no commit.  Each member's
 * consent is still checked when the member's turn comes, against a
 * snapshot at most one batch old.  The heartbeat (and the cancellation
 * check) runs between batches, outside any transaction.
 */
#define WALK_MEMBERS	256
#define WALK_ROWS	20000

struct walk_audit {		/* one audit record to write */
	char		 patient[128];
	long long	 cid;		/* the consent; 0 refused */
	long long	 n;		/* resources released */
	int		 ok;		/* released (1) or refused (0) */
};

struct walk {
	struct p2p_db		*db;
	const struct p2p_config	*cfg;
	const struct job	*job;
	struct job_out		*o;
	struct release_rules	*rules;
	time_t			 now;
	long long		 nres;		/* resources so far */
	long long		 rows;		/* resources this batch */
	int			 reading;	/* in the read transaction */
	size_t			 na;
	struct walk_audit	 a[WALK_MEMBERS];
};

/* Opens the batch's read transaction when none is open. */
static int
walk_read(struct walk *w, struct p2p_err *err)
{
	if (w->reading)
		return 0;
	if (db_exec(w->db, "BEGIN", err) == -1)
		return -1;
	w->reading = 1;
	return 0;
}

/* True when the batch is full. */
static int
walk_full(const struct walk *w)
{
	return w->na >= WALK_MEMBERS || w->rows >= WALK_ROWS;
}

/*
 * Ends the batch: closes the read transaction, writes its audit records
 * (issue #7: which job and how much, for the disclosure report) in one
 * transaction, then reports progress.  A release that cannot be audited
 * fails the job.
 */
static int
walk_flush(struct walk *w, struct p2p_err *err)
{
	struct walk_audit	*a;
	struct p2p_err		 aerr;
	char			 text[256];
	size_t			 i;

	p2p_err_init(&aerr);
	if (w->reading) {
		w->reading = 0;
		if (db_commit(w->db, err) == -1)
			return -1;
	}
	if (w->na > 0) {
		if (db_begin(w->db, err) == -1)
			return -1;
		for (i = 0; i < w->na; i++) {
			a = &w->a[i];
			if (a->ok)
				snprintf(text, sizeof(text), "%s job %s: %lld "
				    "resources into the job's files",
				    w->job->kind, w->job->id, a->n);
			if ((a->ok && job_member_add(w->db, w->job->id,
			    a->patient, a->cid, &aerr) == -1) ||
			    audit_log(w->db, "release", a->ok ? "success" :
			    "failure", w->job->client_id, a->patient,
			    a->ok ? a->cid : 0, a->ok ? text :
			    "export: consent no longer valid", &aerr) == -1) {
				db_rollback(w->db);
				/* Never a 409: the runner reads that as
				 * "cancelled" and would leave the job. */
				return aerr.status == 503 ? p2p_fail(err, 503,
				    P2P_ISSUE_TRANSIENT, "%s", aerr.msg) :
				    p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "cannot audit the release");
			}
		}
		if (db_commit(w->db, err) == -1) {
			db_rollback(w->db);
			return -1;
		}
	}
	w->na = 0;
	w->rows = 0;
	/* Heartbeat and cancellation check (resources so far). */
	return job_progress(w->o, w->nres, 0, err);
}

/* Leaves an unfinished batch (after an error): nothing is written. */
static void
walk_abort(struct walk *w)
{
	if (w->reading)
		db_rollback(w->db);
	w->reading = 0;
	w->na = 0;
}

/* Exports one member's released rows, after the consent check. */
static int
export_member(struct walk *w, const char *patient, struct p2p_err *err)
{
	struct release_row	 row;
	struct walk_audit	*a;
	struct p2p_err		 cerr;
	sqlite3_stmt		*st;
	char			 text[256];
	long long		 cid = 0;
	long long		 before = w->nres;
	int			 sensitive = 0, rc;

	if (w->na >= WALK_MEMBERS)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "export batch overrun");
	if (walk_read(w, err) == -1)
		return -1;
	a = &w->a[w->na];
	if (snprintf(a->patient, sizeof(a->patient), "%s", patient) >=
	    (int)sizeof(a->patient))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "member id too long");
	p2p_err_init(&cerr);
	if (consent_access_cfg(w->db, w->cfg, w->job->client_id, patient,
	    w->now, &cid, &sensitive, &cerr) == -1) {
		if (cerr.status >= 500)
			return p2p_fail(err, cerr.status, cerr.issue, "%s",
			    cerr.msg);
		a->ok = 0;
		a->cid = 0;
		a->n = 0;
		w->na++;
		snprintf(text, sizeof(text), "Patient/%.64s left out of the "
		    "export: no valid consent for this client (%.100s)", patient,
		    cerr.msg);
		return out_note(w->o, "error", cerr.status == 404 ?
		    P2P_ISSUE_NOT_FOUND : P2P_ISSUE_FORBIDDEN, text, err);
	}
	w->rules->sensitive = sensitive != 0;
	if ((st = release_open(w->db, w->rules, patient, "", 0, 0,
	    err)) == NULL)
		return -1;
	while ((rc = release_next(w->db, w->rules, st, &row, err)) == 1) {
		if (job_out_write(w->o, row.type, row.json, row.len,
		    err) == -1) {
			rc = -1;
			break;
		}
		w->nres++;
	}
	db_done(st);
	if (rc == -1)
		return -1;
	a->ok = 1;
	a->cid = cid;
	a->n = w->nres - before;
	w->rows += a->n;
	w->na++;
	return 0;
}

int
export_group_owned(struct p2p_db *db, const char *group, const char *client,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*owner, *kind;
	int		 ok = 0, rc;

	if ((st = db_stmt(db, sql[STMT_GROUP], err)) == NULL)
		return -1;
	db_bind_text(st, 1, group);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		owner = db_col_text(st, 0);
		kind = db_col_text(st, 1);
		ok = owner != NULL && kind != NULL &&
		    strcmp(owner, client) == 0 && strcmp(kind, "match") == 0;
	}
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, err, "group lookup");
	if (!ok)
		/* Not telling a stranger that someone else's group exists. */
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no MatchedMembers group %.64s of this client", group);
	return 0;
}

/* Where a job kind's params hold its target. */
static const char *
target_key(const char *kind)
{
	if (strcmp(kind, JOB_EVERYTHING) == 0)
		return "patient";
	if (strcmp(kind, JOB_PATIENT_EXPORT) == 0)
		return "client";
	return "group";
}

int
export_queue(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *kind, const char *target,
    const struct p2p_kvlist *args, const char *request,
    char id[JOB_ID_LEN + 1], struct p2p_err *err)
{
	json_object	*jp, *a;
	int		 rc;

	/* What export_run() reads: the member, group or client, the
	   parameters. */
	if ((jp = json_object_new_object()) == NULL ||
	    fhir_add_str(jp, target_key(kind), target) == -1 ||
	    (a = release_kv_json(args)) == NULL ||
	    fhir_add(jp, "args", a) == -1) {
		json_object_put(jp);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	rc = job_create(db, cfg, client, kind, request, jp, id, err);
	json_object_put(jp);
	return rc;
}

/*
 * Every member the keyset statement sql lists for key (a group, or the
 * client for its matches) in order, in batches (see struct walk).
 */
static int
export_group(struct walk *w, const char *sql_members, const char *group,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	char		 last[128] = "", pat[128];
	const char	*p;
	int		 rc;

	for (;;) {
		if (walk_read(w, err) == -1 ||
		    (st = db_stmt(w->db, sql_members, err)) == NULL)
			return -1;
		db_bind_text(st, 1, group);
		db_bind_text(st, 2, last);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if ((p = db_col_text(st, 0)) == NULL ||
			    strlen(p) >= sizeof(pat)) {
				rc = SQLITE_CORRUPT;
				break;
			}
			memcpy(pat, p, strlen(p) + 1);
			if (export_member(w, pat, err) == -1) {
				db_done(st);
				return -1;
			}
			memcpy(last, pat, sizeof(last));
			if (walk_full(w))
				break;
		}
		db_done(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return db_fail(w->db, rc, err, "group members");
		if (walk_flush(w, err) == -1)
			return -1;
		if (rc == SQLITE_DONE)
			return 0;
	}
}

/* The members named by patient parameters, each once. */
static int
export_listed(struct walk *w, const char *group,
    const struct p2p_kvlist *args, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*ref, *id;
	char		 text[300];
	size_t		 i, j;
	int		 member, dup;

	for (i = 0; i < args->n; i++) {
		if (strcmp(args->kv[i].key, "patient") != 0)
			continue;
		ref = args->kv[i].val;
		for (dup = 0, j = 0; j < i && !dup; j++)
			dup = strcmp(args->kv[j].key, "patient") == 0 &&
			    strcmp(args->kv[j].val, ref) == 0;
		if (dup)
			continue;
		id = strncmp(ref, "Patient/", 8) == 0 ? ref + 8 : "";
		member = 0;
		if (fhir_valid_id(id)) {
			if (walk_read(w, err) == -1 ||
			    (st = db_stmt(w->db, sql[STMT_IS_MEMBER], err)) == NULL)
				return -1;
			db_bind_text(st, 1, group);
			db_bind_text(st, 2, id);
			member = sqlite3_step(st) == SQLITE_ROW;
			db_done(st);
		}
		if (!member) {
			snprintf(text, sizeof(text), "patient %.200s is not a "
			    "member of the group: ignored", ref);
			if (out_note(w->o, "warning", P2P_ISSUE_NOT_FOUND, text,
			    err) == -1)
				return -1;
			continue;
		}
		if (export_member(w, id, err) == -1 ||
		    (walk_full(w) && walk_flush(w, err) == -1))
			return -1;
	}
	return walk_flush(w, err);
}

int
export_run(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o, struct p2p_err *err)
{
	struct walk		*w;
	struct p2p_kvlist	 args;
	const char		*k, *target;
	time_t			 now;
	size_t			 i;
	int			 rc = -1, everything, matched, listed = 0, r;

	memset(&args, 0, sizeof(args));
	everything = strcmp(job->kind, JOB_EVERYTHING) == 0;
	matched = strcmp(job->kind, JOB_PATIENT_EXPORT) == 0;
	if (!everything && !matched &&
	    strcmp(job->kind, JOB_DATA_EXPORT) != 0)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "export_run: job kind %s", job->kind);
	/* The window is relative to the export's transaction time. */
	if (job->transaction_time[0] == '\0' ||
	    time_parse(job->transaction_time, 0, &now) == -1)
		now = now_sec();
	target = fhir_str(job->params, target_key(job->kind));
	if (target == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "malformed job parameters");
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->rules = calloc(1, sizeof(*w->rules))) == NULL) {
		free(w);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	w->db = db;
	w->cfg = cfg;
	w->job = job;
	w->o = o;
	w->now = now;
	/* A run taken over from a dead runner starts its member list anew. */
	if (job_members_clear(db, job->id, err) == -1)
		goto out;
	if (release_kv_parse(fhir_get(job->params, "args", json_type_array),
	    &args, err) == -1)
		goto out;
	release_init(w->rules, cfg, now, 0);
	for (i = 0; i < args.n; i++) {
		k = args.kv[i].key;
		if (strcmp(k, "patient") == 0)
			listed = 1;
		r = release_apply(w->rules, k, args.kv[i].val, err);
		if (r == -1)
			goto out;	/* validated at kick-off: unexpected */
	}
	if (everything)
		rc = export_member(w, target, err) == -1 ? -1 :
		    walk_flush(w, err);
	else if (matched)
		/* Each member's consent is checked as its turn comes. */
		rc = strcmp(target, job->client_id) != 0 ? p2p_fail(err, 500,
		    P2P_ISSUE_EXCEPTION, "malformed job parameters") :
		    export_group(w, sql[STMT_MATCHED], target, err);
	else if (export_group_owned(db, target, job->client_id, err) == -1)
		rc = -1;
	else if (listed)
		rc = export_listed(w, target, &args, err);
	else
		rc = export_group(w, sql[STMT_MEMBERS], target, err);
out:
	walk_abort(w);
	kv_free(&args);
	free(w->rules);
	free(w);
	return rc;
}

/*
 * One pass in one write transaction: the release check of every member
 * (the same as the export's own, so a legacy consent-less match stops
 * with the switch) and its record.  The first refusal rolls back: no
 * record of a release that does not happen.
 */
int
export_file_release(struct p2p_db *db, const struct p2p_config *cfg,
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
	if ((st = db_stmt(db, sql[STMT_JOB_MEMBERS], err)) == NULL)
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
