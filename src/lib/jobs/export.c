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
 *
 * What a member's files hold (as the synchronous $everything Bundle):
 * the member's released rows; the Provenance loaded from source systems
 * whose every target is among them; and this payer's transmitter
 * Provenance (PDex, provenance.h) targeting all of those, one per
 * member.  The resources they reference outside any member's record
 * (release.h RELEASE_REF_TYPES: Organizations, Practitioners, ...) are
 * written once per export, after the members, each the target of a
 * transmitter Provenance too; so is this payer's Organization, which
 * every transmitter Provenance names.  _type narrows all of it (no
 * Provenance file unless Provenance is asked for).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strset.h"
#include "datascope/provenance.h"
#include "datascope/release.h"
#include "jobs/export.h"
#include "jobs/members.h"
#include "json/fhir.h"
#include "member/consent.h"

/*
 * A job's walk over its members.  A batch is up to WALK_MEMBERS members
 * (fewer when they hold more than WALK_ROWS resources): their release
 * check is one statement (consent.h CONSENT_ACCESS_SQL over a keyset
 * page of the group), their rows are read in the same read
 * transaction, and their job_member rows (members.h: pending release
 * records, published when the job completes) are written together in
 * one statement after it: per member, no statement of its own but the
 * release query, no lock round trip and no commit.  Each member's
 * consent is checked against a snapshot at most one batch old.  The
 * heartbeat (and the cancellation check) runs between batches, outside
 * any transaction.
 */
#define WALK_MEMBERS	256
#define WALK_ROWS	20000
#define REFS_MAX	1000000	/* referenced resources an export includes */
#define REFS_PER_PROV	1000	/* targets of a Provenance of them */

enum stmt {
	STMT_GROUP,		/* a group's owner and kind */
	STMT_SIZE,		/* how many members it has */
	STMT_PAGE,		/* a keyset page of them, release-checked */
	STMT_IS_MEMBER,		/* one member of it? */
	STMT_MATCHED_SIZE,	/* how many members a client matched */
	STMT_MATCHED_PAGE,	/* a keyset page of them, release-checked */
	STMT__MAX
};

/* Also the query-plan test's list (NULL-terminated). */
const char *const export_queries[STMT__MAX + 1] = {
	/* STMT_GROUP */
	"SELECT client_id, kind FROM grp WHERE id = ?1",
	/* STMT_SIZE */
	"SELECT count(*) FROM grp_member WHERE group_id = ?1",
	/* STMT_PAGE */
	CONSENT_ACCESS_SQL("(SELECT patient FROM grp_member WHERE group_id = ?2"
	    " AND patient > ?3 ORDER BY patient LIMIT ?4)"),
	/* STMT_IS_MEMBER */
	"SELECT 1 FROM grp_member WHERE group_id = ?1 AND patient = ?2",
	/* STMT_MATCHED_SIZE (index match_client_patient) */
	"SELECT count(DISTINCT patient) FROM match WHERE client_id = ?1",
	/* STMT_MATCHED_PAGE: ?2 is the client too */
	CONSENT_ACCESS_SQL("(SELECT DISTINCT patient FROM match"
	    " WHERE client_id = ?2 AND patient > ?3 ORDER BY patient"
	    " LIMIT ?4)"),
	NULL
};

struct walk {
	struct p2p_db		*db;
	const struct p2p_config	*cfg;
	const struct job	*job;
	struct job_out		*o;
	struct release_rules	*rules;
	time_t			 now;
	long long		 nres;		/* resources so far */
	long long		 done;		/* members so far */
	long long		 total;		/* members in all */
	long long		 rows;		/* resources this batch */
	int			 reading;	/* in the read transaction */
	size_t			 na;		/* members this batch */
	struct job_member_row	 a[WALK_MEMBERS];	/* their records */
	struct consent_decision	 d[WALK_MEMBERS];	/* a page's checks */
	struct provenance	 pv;		/* transmitter Provenance */
	int			 prov;		/* Provenance is exported */
	int			 loaded;	/* Provenance was loaded */
	struct p2p_buf		 ptxt;		/* a Provenance being built */
	size_t			 ntargets;	/* its targets */
	struct p2p_buf		 tlist;		/* the same, a JSON array */
	struct strset		 refs;		/* referenced, to include */
	int			 refs_oom;	/* strset_add() failed */
	int			 refs_full;	/* REFS_MAX reached */
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
 * Ends the batch: closes the read transaction, records its members
 * (which job and how much, for the disclosure report; pending
 * until the job completes) in one statement, then reports progress.  A
 * release that cannot be recorded fails the job.
 */
static int
walk_flush(struct walk *w, struct p2p_err *err)
{
	if (w->reading) {
		w->reading = 0;
		if (db_commit(w->db, err) == -1)
			return -1;
	}
	if (w->na > 0 && (db_begin(w->db, err) == -1 ||
	    job_members_add(w->db, w->job, w->a, w->na, err) == -1 ||
	    db_commit(w->db, err) == -1)) {
		db_rollback(w->db);
		return -1;
	}
	w->done += (long long)w->na;
	w->na = 0;
	w->rows = 0;
	/* Heartbeat and cancellation check (members so far). */
	return job_progress(w->o, w->done, w->total, err);
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

/* Starts a transmitter Provenance (targets to follow), seeded id. */
static int
prov_begin(struct walk *w, const char *seed, struct p2p_err *err)
{
	char	 id[37];

	buf_reset(&w->ptxt);
	buf_reset(&w->tlist);
	w->ntargets = 0;
	if (provenance_uuid(seed, id) == -1 ||
	    provenance_begin(&w->ptxt, id) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot start a Provenance");
	return 0;
}

/* Adds a target to the Provenance being built (and to its list). */
static int
prov_target(struct walk *w, const char *type, const char *id,
    struct p2p_err *err)
{
	if (provenance_target(&w->ptxt, w->ntargets == 0, type, id) == -1 ||
	    (w->loaded && buf_printf(&w->tlist, "%c\"%s/%s\"",
	    w->ntargets == 0 ? '[' : ',', type, id) == -1))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	w->ntargets++;
	return 0;
}

/* Writes the Provenance being built, when it has a target. */
static int
prov_write(struct walk *w, struct p2p_err *err)
{
	if (w->ntargets == 0)
		return 0;
	if (provenance_end(&w->pv, &w->ptxt) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	w->ntargets = 0;
	w->nres++;
	return job_out_write(w->o, "Provenance", w->ptxt.p, w->ptxt.len, err);
}

/* release_refs() callback: a resource to include, when _type allows. */
static int
ref_add(void *arg, const char *type, const char *id)
{
	struct walk	*w = arg;
	char		 ref[160];
	int		 r;

	if (!release_type_ok(w->rules, type))
		return 0;
	snprintf(ref, sizeof(ref), "%s/%s", type, id);
	if ((r = strset_add(&w->refs, ref)) == -1) {
		w->refs_oom = 1;
		return -1;
	}
	if (r == 2)
		w->refs_full = 1;
	return 0;
}

/*
 * Writes one released row: to its file, as a target of the member's
 * Provenance, and what it references to be included.
 */
static int
put_row(struct walk *w, const struct release_row *row, struct p2p_err *err)
{
	if (job_out_write(w->o, row->type, row->json, row->len, err) == -1 ||
	    (w->prov && prov_target(w, row->type, row->id, err) == -1))
		return -1;
	if (release_refs(row->json, row->len, ref_add, w) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	w->nres++;
	return 0;
}

/* Writes every row of st (release_open() or the like; NULL: failed). */
static int
put_rows(struct walk *w, struct db_stmt *st, struct p2p_err *err)
{
	struct release_row	 row;
	int			 rc;

	if (st == NULL)
		return -1;
	while ((rc = release_next(w->db, w->rules, st, &row, err)) == 1)
		if (put_row(w, &row, err) == -1) {
			rc = -1;
			break;
		}
	db_done(st);
	return rc;
}

/* The loaded Provenance of the member's rows (the targets so far). */
static int
put_loaded_provenance(struct walk *w, struct p2p_err *err)
{
	if (!w->loaded || !w->prov || w->ntargets == 0)
		return 0;
	if (buf_add(&w->tlist, "]", 1) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return put_rows(w, release_provenance_open(w->db, w->rules,
	    w->tlist.p, err), err);
}

/*
 * The resources the members' rows reference, once each, and the
 * Provenance of them (REFS_PER_PROV targets a Provenance).
 */
static int
put_refs(struct walk *w, struct p2p_err *err)
{
	struct p2p_buf	 txt = { NULL, 0, 0 };
	char		 type[64], seed[128];
	const char	*ref;
	size_t		 i, tl, k = 0;
	int		 rc = 0;

	if (w->refs_full && (rc = out_note(w->o, "warning",
	    P2P_ISSUE_TOO_COSTLY, "more referenced resources than one export "
	    "includes: some Organizations, Practitioners, ... are left out",
	    err)) == -1)
		return -1;
	if (walk_read(w, err) == -1)
		return -1;
	for (i = 0; i < w->refs.n && rc != -1; i++) {
		ref = w->refs.v[i];
		tl = strcspn(ref, "/");
		snprintf(type, sizeof(type), "%.*s", (int)tl, ref);
		if ((rc = release_ref(w->db, w->rules, type, ref + tl + 1, &txt,
		    err)) != 1)
			continue;
		if (w->prov && w->ntargets == 0) {
			snprintf(seed, sizeof(seed), "%s/included/%zu",
			    w->job->id, k++);
			if ((rc = prov_begin(w, seed, err)) == -1)
				break;
		}
		w->nres++;
		if ((rc = job_out_write(w->o, type, txt.p, txt.len, err)) == -1 ||
		    (w->prov && ((rc = prov_target(w, type, ref + tl + 1,
		    err)) == -1 || (w->ntargets == REFS_PER_PROV &&
		    (rc = prov_write(w, err)) == -1))))
			break;
	}
	buf_free(&txt);
	if (rc == -1 || prov_write(w, err) == -1)
		return -1;
	return walk_flush(w, err);
}

/*
 * Exports one member after its release check d: its released rows, or
 * a note in the error file when it is left out; either way one record
 * of the batch.  d->patient must outlive the batch.
 */
static int
export_decided(struct walk *w, const struct consent_decision *d,
    struct p2p_err *err)
{
	struct job_member_row	*a;
	char			 text[256], seed[200];
	long long		 before = w->nres;

	if (w->na >= WALK_MEMBERS)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "export batch overrun");
	a = &w->a[w->na];
	a->patient = d->patient;
	a->cid = d->ok ? d->cid : 0;
	a->n = 0;
	a->released = d->ok;
	if (!d->ok) {
		w->na++;
		snprintf(text, sizeof(text), "Patient/%.64s left out of the "
		    "export: no valid consent for this client (%.100s)",
		    d->patient, d->why.msg);
		return out_note(w->o, "error", d->why.status == 404 ?
		    P2P_ISSUE_NOT_FOUND : P2P_ISSUE_FORBIDDEN, text, err);
	}
	w->rules->sensitive = d->sensitive != 0;
	snprintf(seed, sizeof(seed), "%s/%s", w->job->id, d->patient);
	if (w->prov && prov_begin(w, seed, err) == -1)
		return -1;
	if (put_rows(w, release_open(w->db, w->rules, d->patient, "", 0, 0,
	    err), err) == -1 || put_loaded_provenance(w, err) == -1 ||
	    (w->prov && prov_write(w, err) == -1))
		return -1;
	a->n = w->nres - before;
	w->rows += a->n;
	w->na++;
	return 0;
}

/* Exports one member named on its own (a listed patient, $everything). */
static int
export_one(struct walk *w, const char *patient, struct p2p_err *err)
{
	struct consent_decision	*d;
	long long		 cid = 0;
	int			 sensitive = 0;

	if (w->na >= WALK_MEMBERS)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "export batch overrun");
	if (walk_read(w, err) == -1)
		return -1;
	d = &w->d[w->na];
	memset(d, 0, sizeof(*d));
	p2p_err_init(&d->why);
	if (snprintf(d->patient, sizeof(d->patient), "%s", patient) >=
	    (int)sizeof(d->patient))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "member id too long");
	if (consent_access_cfg(w->db, w->cfg, w->job->client_id, patient,
	    w->now, &cid, &sensitive, &d->why) == -1) {
		if (d->why.status >= 500)
			return p2p_fail(err, d->why.status, d->why.issue, "%s",
			    d->why.msg);
	} else {
		d->ok = 1;
		d->cid = cid;
		d->sensitive = sensitive;
	}
	return export_decided(w, d, err);
}

int
export_group_owned(struct p2p_db *db, const char *group, const char *client,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*owner, *kind;
	int		 ok = 0, rc;

	if ((st = db_query(db, export_queries[STMT_GROUP], err, "t",
	    group)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		owner = db_col_text(st, 0);
		kind = db_col_text(st, 1);
		ok = owner != NULL && kind != NULL &&
		    strcmp(owner, client) == 0 && strcmp(kind, "match") == 0;
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
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

/* How many members the statement size counts for key (progress). */
static int
group_size(struct walk *w, enum stmt size, const char *key,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if ((st = db_query(w->db, export_queries[size], err, "t", key)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		w->total = db_col_int64(st, 0);
	db_done(st);
	return rc == DB_ROW ? 0 : db_fail(w->db, rc, err, "group size");
}

/*
 * Every member of a set in order, a keyset page a batch: the page's
 * release checks in one statement (page: STMT_PAGE for a group, key
 * the group; STMT_MATCHED_PAGE for the members the client matched, key
 * the client), then each member's rows.  A batch that reaches WALK_ROWS
 * resources ends early; the next page starts after the last member
 * exported.
 */
static int
export_set(struct walk *w, enum stmt size, enum stmt page, const char *key,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 last[128] = "";
	size_t		 n, i;
	int		 rc, r = 0;

	if (group_size(w, size, key, err) == -1)
		return -1;
	for (;;) {
		if (walk_read(w, err) == -1 ||
		    (st = db_stmt(w->db, export_queries[page], err)) == NULL)
			return -1;
		db_bind_text(st, 1, w->job->client_id);
		db_bind_text(st, 2, key);
		db_bind_text(st, 3, last);
		db_bind_int(st, 4, WALK_MEMBERS);
		rc = db_step(st);
		n = 0;
		while (n < WALK_MEMBERS && (r = consent_access_next(w->db, st,
		    &rc, w->cfg->allow_legacy_consentless != 0, w->now,
		    &w->d[n], err)) == 1)
			n++;
		db_done(st);
		if (r == -1)
			return -1;
		for (i = 0; i < n && !walk_full(w); i++)
			if (export_decided(w, &w->d[i], err) == -1)
				return -1;
		if (i > 0)
			memcpy(last, w->d[i - 1].patient, sizeof(last));
		if (walk_flush(w, err) == -1)
			return -1;
		if (i == n && n < WALK_MEMBERS)
			return 0;
	}
}

/* The members named by patient parameters, each once. */
static int
export_listed(struct walk *w, const char *group,
    const struct p2p_kvlist *args, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*ref, *id;
	char		 text[300];
	size_t		 i, j;
	int		 member, dup;

	w->total = (long long)kv_count(args, "patient");
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
			    (st = db_stmt(w->db, export_queries[STMT_IS_MEMBER],
			    err)) == NULL)
				return -1;
			db_bind_text(st, 1, group);
			db_bind_text(st, 2, id);
			member = db_step(st) == DB_ROW;
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
		if (export_one(w, id, err) == -1 ||
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
	strset_init(&w->refs, REFS_MAX);
	w->prov = release_type_ok(w->rules, "Provenance");
	/* Recorded at the export's transaction time: a job run again
	 * writes the same Provenance. */
	if (provenance_init(&w->pv, db, cfg, now, err) == -1 ||
	    release_provenance_any(db, &w->loaded, err) == -1)
		goto out;
	/* The transmitter every Provenance of ours names: included too. */
	if (w->prov && w->pv.org[0] != '\0' &&
	    ref_add(w, "Organization", w->pv.org) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	if (everything) {
		w->total = 1;
		rc = export_one(w, target, err) == -1 ? -1 :
		    walk_flush(w, err);
	} else if (matched)
		/* Each member's consent is checked as its page comes. */
		rc = strcmp(target, job->client_id) != 0 ? p2p_fail(err, 500,
		    P2P_ISSUE_EXCEPTION, "malformed job parameters") :
		    export_set(w, STMT_MATCHED_SIZE, STMT_MATCHED_PAGE, target,
		    err);
	else if (export_group_owned(db, target, job->client_id, err) == -1)
		rc = -1;
	else if (listed)
		rc = export_listed(w, target, &args, err);
	else
		rc = export_set(w, STMT_SIZE, STMT_PAGE, target, err);
	if (rc == 0)
		rc = put_refs(w, err);
	if (rc == 0 && w->refs_oom)
		rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
out:
	walk_abort(w);
	kv_free(&args);
	provenance_free(&w->pv);
	buf_free(&w->ptxt);
	buf_free(&w->tlist);
	strset_free(&w->refs);
	free(w->rules);
	free(w);
	return rc;
}
