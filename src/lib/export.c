/*
 * export.c - the runner side of member data export: jobs of kind
 * JOB_EVERYTHING (Patient/$everything with Prefer: respond-async) and
 * JOB_DATA_EXPORT (Group/$davinci-data-export).
 *
 * Memory stays flat whatever the size of the group: members are walked
 * one at a time by keyset over grp_member, and each member's released
 * rows (release.c, the same rules as the synchronous $everything) are
 * streamed from a prepared statement straight into job_out_write().
 * Nothing is parsed per resource.
 *
 * PDex payer-to-payer bulk: "consent status SHALL be re-checked for
 * every member at execution time": a member whose consent lapsed is
 * left out and named in the error file.  ATR: patient references that
 * are not in the group are ignored, with an OperationOutcome each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "consent.h"
#include "fhir.h"
#include "job.h"
#include "release.h"

static const char *const sql_group =
	"SELECT client_id, kind FROM grp WHERE id = ?1";
static const char *const sql_next_member =
	"SELECT patient FROM grp_member WHERE group_id = ?1 AND patient > ?2"
	" ORDER BY patient LIMIT 1";
static const char *const sql_is_member =
	"SELECT 1 FROM grp_member WHERE group_id = ?1 AND patient = ?2";

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

/* Exports one member's released rows, after the consent check. */
static int
export_member(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o,
    struct release_rules *rules, const char *patient, time_t now,
    long long *nres, struct p2p_err *err)
{
	struct release_row	 row;
	struct p2p_err		 cerr, aerr;
	sqlite3_stmt		*st;
	char			 text[256];
	long long		 cid = 0;
	long long		 before = *nres;
	int			 sensitive = 0, rc;

	p2p_err_init(&cerr);
	p2p_err_init(&aerr);
	if (consent_access_cfg(db, cfg, job->client_id, patient, now, &cid, &sensitive,
	    &cerr) == -1) {
		if (cerr.status >= 500)
			return p2p_fail(err, cerr.status, cerr.issue, "%s",
			    cerr.msg);
		audit_log(db, "release", "failure", job->client_id, patient,
		    0, "export: consent no longer valid", &aerr);
		snprintf(text, sizeof(text), "Patient/%.64s left out of the "
		    "export: no valid consent for this client (%.100s)", patient,
		    cerr.msg);
		return out_note(o, "error", cerr.status == 404 ?
		    P2P_ISSUE_NOT_FOUND : P2P_ISSUE_FORBIDDEN, text, err);
	}
	if (job_out_member(o, patient, cid, err) == -1)
		return -1;
	rules->sensitive = sensitive != 0;
	if ((st = release_open(db, rules, patient, "", 0, 0, err)) == NULL)
		return -1;
	while ((rc = release_next(db, rules, st, &row, err)) == 1) {
		if (job_out_write(o, row.type, row.json, row.len, err) == -1) {
			rc = -1;
			break;
		}
		(*nres)++;
	}
	db_done(st);
	if (rc == -1)
		return -1;
	/* Issue #7: which job and how much, for the disclosure report. */
	snprintf(text, sizeof(text), "%s job %s: %lld resources into the"
	    " job's files", job->kind, job->id, *nres - before);
	audit_log(db, "release", "success", job->client_id, patient, cid,
	    text, &aerr);
	return 0;
}

/* 0 when group is still a MatchedMembers group of the job's client. */
static int
group_ok(struct p2p_db *db, const struct job *job, const char *group,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*c, *k;
	int		 ok = 0;

	if ((st = db_stmt(db, sql_group, err)) == NULL)
		return -1;
	db_bind_text(st, 1, group);
	if (sqlite3_step(st) == SQLITE_ROW) {
		c = db_col_text(st, 0);
		k = db_col_text(st, 1);
		ok = c != NULL && k != NULL && strcmp(c, job->client_id) == 0 &&
		    strcmp(k, "match") == 0;
	}
	db_done(st);
	return ok ? 0 : p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
	    "the group is gone");
}

/* Every member of group in order, one query per member. */
static int
export_group(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o,
    struct release_rules *rules, const char *group, time_t now,
    long long *nres, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	char		 last[128] = "", pat[128];
	const char	*p;
	int		 rc;

	for (;;) {
		if ((st = db_stmt(db, sql_next_member, err)) == NULL)
			return -1;
		db_bind_text(st, 1, group);
		db_bind_text(st, 2, last);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			db_done(st);
			return 0;
		}
		if (rc != SQLITE_ROW || (p = db_col_text(st, 0)) == NULL ||
		    strlen(p) >= sizeof(pat)) {
			db_done(st);
			return db_fail(db, rc == SQLITE_ROW ? SQLITE_CORRUPT :
			    rc, err, "group members");
		}
		snprintf(pat, sizeof(pat), "%s", p);
		db_done(st);
		/* Heartbeat and cancellation check (resources so far). */
		if (export_member(db, cfg, job, o, rules, pat, now, nres,
		    err) == -1 || job_progress(o, *nres, 0, err) == -1)
			return -1;
		memcpy(last, pat, sizeof(last));
	}
}

/* The members named by patient parameters, each once. */
static int
export_listed(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o,
    struct release_rules *rules, const char *group,
    const struct p2p_kvlist *args, time_t now, long long *nres,
    struct p2p_err *err)
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
			if ((st = db_stmt(db, sql_is_member, err)) == NULL)
				return -1;
			db_bind_text(st, 1, group);
			db_bind_text(st, 2, id);
			member = sqlite3_step(st) == SQLITE_ROW;
			db_done(st);
		}
		if (!member) {
			snprintf(text, sizeof(text), "patient %.200s is not a "
			    "member of the group: ignored", ref);
			if (out_note(o, "warning", P2P_ISSUE_NOT_FOUND, text,
			    err) == -1)
				return -1;
			continue;
		}
		/* Heartbeat and cancellation check (resources so far). */
		if (export_member(db, cfg, job, o, rules, id, now, nres,
		    err) == -1 || job_progress(o, *nres, 0, err) == -1)
			return -1;
	}
	return 0;
}

int
export_run(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o, struct p2p_err *err)
{
	struct release_rules	*rules;
	struct p2p_kvlist	 args;
	const char		*k, *target;
	time_t			 now;
	long long		 nres = 0;
	size_t			 i;
	int			 rc = -1, everything, listed = 0, r;

	memset(&args, 0, sizeof(args));
	everything = strcmp(job->kind, JOB_EVERYTHING) == 0;
	if (!everything && strcmp(job->kind, JOB_DATA_EXPORT) != 0)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "export_run: job kind %s", job->kind);
	/* The window is relative to the export's transaction time. */
	if (job->transaction_time[0] == '\0' ||
	    time_parse(job->transaction_time, 0, &now) == -1)
		now = now_sec();
	target = fhir_str(job->params, everything ? "patient" : "group");
	if (target == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "malformed job parameters");
	if ((rules = calloc(1, sizeof(*rules))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	if (release_kv_parse(fhir_get(job->params, "args", json_type_array),
	    &args, err) == -1)
		goto out;
	release_init(rules, cfg, now, 0);
	for (i = 0; i < args.n; i++) {
		k = args.kv[i].key;
		if (strcmp(k, "patient") == 0)
			listed = 1;
		r = release_apply(rules, k, args.kv[i].val, err);
		if (r == -1)
			goto out;	/* validated at kick-off: unexpected */
	}
	if (everything)
		rc = export_member(db, cfg, job, o, rules, target, now, &nres, err);
	else if (group_ok(db, job, target, err) == -1)
		rc = -1;
	else if (listed)
		rc = export_listed(db, cfg, job, o, rules, target, &args, now,
		    &nres, err);
	else
		rc = export_group(db, cfg, job, o, rules, target, now, &nres, err);
out:
	kv_free(&args);
	free(rules);
	return rc;
}
