/*
 * check_export.c - unit tests for jobs/export.c, the runner's side of
 * member data export: who may export a group, what each member's files
 * hold (the release rules, the consent re-check at execution time, the
 * patient and _type narrowing), the pending release records, batches
 * and progress, and stopping when the job is cancelled.
 */
#include <check.h>

#include "jobs/export.h"
#include "jobs/members.h"

#include "unit.h"
#include "jobfix.h"

#define LIVE	"2999-01-01T00:00:00Z"
#define LAPSED	"2001-01-01T00:00:00Z"

/*
 * m1: Patient, Coverage (payor org-1), Observation (performer pr-1);
 * m2: Patient, Observation, its consent lapsed; m3: Patient and a
 * Condition labelled restricted (released under #sensitive only).
 * Group g1 of client c1 holds all three; g-no is a nomatch group.
 */
static void
members(void)
{
	static const char *const res[] = {
	    "{\"resourceType\":\"Organization\",\"id\":\"org-1\",\"name\":\"O\"}",
	    "{\"resourceType\":\"Practitioner\",\"id\":\"pr-1\"}",
	    "{\"resourceType\":\"Patient\",\"id\":\"m1\"}",
	    "{\"resourceType\":\"Coverage\",\"id\":\"cov-m1\",\"status\":"
	    "\"active\",\"beneficiary\":{\"reference\":\"Patient/m1\"},"
	    "\"payor\":[{\"reference\":\"Organization/org-1\"}]}",
	    "{\"resourceType\":\"Observation\",\"id\":\"obs-m1\",\"status\":"
	    "\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":"
	    "\"Patient/m1\"},\"performer\":[{\"reference\":"
	    "\"Practitioner/pr-1\"}]}",
	    "{\"resourceType\":\"Patient\",\"id\":\"m2\"}",
	    "{\"resourceType\":\"Observation\",\"id\":\"obs-m2\",\"status\":"
	    "\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":"
	    "\"Patient/m2\"}}",
	    "{\"resourceType\":\"Patient\",\"id\":\"m3\"}",
	    "{\"resourceType\":\"Condition\",\"id\":\"cond-m3\",\"meta\":"
	    "{\"security\":[{\"system\":\"http://terminology.hl7.org/"
	    "CodeSystem/v3-Confidentiality\",\"code\":\"R\"}]},\"subject\":"
	    "{\"reference\":\"Patient/m3\"}}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		put_json(res[i]);
	consent_of("c1", "m1", 1, LIVE);
	consent_of("c1", "m2", 2, LAPSED);
	consent_of("c1", "m3", 3, LIVE);
	exec_sql("INSERT INTO grp (id, client_id, kind, created, json) VALUES"
	    " ('g1', 'c1', 'match', 'x', '{}'), ('g-no', 'c1', 'nomatch', 'x',"
	    " '{}');"
	    " INSERT INTO grp_member (group_id, patient) VALUES ('g1', 'm1'),"
	    " ('g1', 'm2'), ('g1', 'm3'), ('g-no', 'm1')");
}

struct prog {
	int		 calls;		/* progress reports */
	int		 stop_at;	/* answer 409 at this call (0: never) */
};

static int
progress(void *arg, long long done, long long total, struct p2p_err *err)
{
	struct prog	*p = arg;

	(void)done;
	(void)total;
	if (++p->calls == p->stop_at)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "cancelled");
	return 0;
}

/*
 * Queues an export (export_queue()) of target with args, claims it and
 * runs export_run(), which must succeed (want 0: the job is then
 * completed) or fail with the HTTP status want.  job is the claimed job
 * (job_free()).
 */
static void
run_export(const char *kind, const char *target,
    const struct p2p_kvlist *args, struct prog *prog, struct job *job,
    int want)
{
	struct p2p_kvlist	 none = { NULL, 0 };
	struct p2p_err		 err;
	struct job_out		*o;
	char			 id[JOB_ID_LEN + 1];
	int			 rc;

	p2p_err_init(&err);
	ck_assert_int_eq(export_queue(&db, &cfg, "c1", kind, target,
	    args ? args : &none, "http://x/k", id, &err), 0);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:1", 300, job, &err), 1);
	ck_assert_str_eq(job->id, id);
	ck_assert_ptr_nonnull(o = job_out_new(job, &cfg, &err));
	if (prog != NULL)
		job_out_set_progress(o, progress, prog);
	rc = export_run(&db, &cfg, job, o, &err);
	if (want == 0) {
		ck_assert_msg(rc == 0, "%s %s: %d %s", kind, target, err.status,
		    err.msg);
		ck_assert_int_eq(job_complete(&db, &cfg, job, "h:1", o, &err),
		    0);
	} else {
		ck_assert_msg(rc == -1, "%s %s: not refused", kind, target);
		ck_assert_int_eq(err.status, want);
	}
	job_out_free(o);
}

/* The text of file name of job id ("" when there is none). */
static const char *
file_of(const char *id, const char *name)
{
	static char	 buf[1024 * 1024];
	char		 path[PATH_MAX + 160];

	snprintf(path, sizeof(path), "%s/%s/%s", cfg.output_dir, id, name);
	return unit_slurp(path, buf, sizeof(buf));
}

/* The number of lines of s that hold needle. */
static int
lines_with(const char *s, const char *needle)
{
	const char	*nl;
	int		 n = 0;

	for (; *s != '\0'; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		if (memmem(s, (size_t)(nl - s), needle, strlen(needle)) != NULL)
			n++;
	}
	return n;
}

/* A file of the job and how many of its lines hold needle. */
struct lines {
	const char	*file, *needle;
	int		 n;
};

/* Each file of the job id holds its lines as the n of l say. */
static void
files_hold(const char *id, const struct lines *l, size_t n)
{
	int	 got;

	for (; n > 0; l++, n--) {
		got = lines_with(file_of(id, l->file), l->needle);
		ck_assert_msg(got == l->n, "%s: %d lines with %s, not %d",
		    l->file, got, l->needle, l->n);
	}
}

/*
 * What an export of the members() of c1 writes: m1 and m3, and m2
 * (its consent lapsed) left out.
 */
static const struct lines	 m1_m3_not_m2[] = {
	{ "Patient-1.ndjson", "\"resourceType\"", 2 },
	{ "Patient-1.ndjson", "\"id\":\"m1\"", 1 },
	{ "Patient-1.ndjson", "\"id\":\"m3\"", 1 },
	{ "OperationOutcome-error-1.ndjson", "Patient/m2 left out", 1 },
};

START_TEST(test_group_owned)
{
	struct p2p_err	 err;

	members();
	p2p_err_init(&err);
	ck_assert_int_eq(export_group_owned(&db, "g1", "c1", &err), 0);
	/* Another client's, a nomatch group, none: the same 404. */
	ck_assert_int_eq(export_group_owned(&db, "g1", "c2", &err), -1);
	ck_assert_int_eq(err.status, 404);
	p2p_err_init(&err);
	ck_assert_int_eq(export_group_owned(&db, "g-no", "c1", &err), -1);
	ck_assert_int_eq(err.status, 404);
	p2p_err_init(&err);
	ck_assert_int_eq(export_group_owned(&db, "nothing", "c1", &err), -1);
	ck_assert_int_eq(err.status, 404);
}
END_TEST

/*
 * The group: each member's released rows by type, consent re-checked
 * (m2 left out, named in the error file), the restricted Condition
 * kept back under a #regular consent; pending records per member.
 */
START_TEST(test_group_export)
{
	static const struct lines	 observations[] = {
		{ "Observation-1.ndjson", "\"resourceType\"", 1 },
		{ "Observation-1.ndjson", "obs-m1", 1 },
	};
	struct job			 job;

	members();
	run_export(JOB_DATA_EXPORT, "g1", NULL, NULL, &job, 0);
	files_hold(job.id, m1_m3_not_m2, UNIT_N(m1_m3_not_m2));
	files_hold(job.id, observations, UNIT_N(observations));
	ck_assert_str_eq(file_of(job.id, "Condition-1.ndjson"), "");
	/* Each member's rows and its Provenance. */
	ck_assert_int_eq(qint("SELECT n FROM job_member WHERE job_id = ?1 AND"
	    " patient = 'm1' AND released AND cid = 1", job.id), 4);
	ck_assert_int_eq(qint("SELECT n FROM job_member WHERE job_id = ?1 AND"
	    " patient = 'm3' AND released AND cid = 3", job.id), 2);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id ="
	    " ?1 AND patient = 'm2' AND NOT released AND cid IS NULL", job.id),
	    1);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'release' AND outcome = 'success'", NULL), 2);
	job_free(&job);
}
END_TEST

/*
 * PDex: a transmitter Provenance per member targets each of its
 * resources; what they reference outside the record (org-1 by the
 * Coverage, pr-1 by the Observation) is written once, targeted by a
 * Provenance of its own.
 */
START_TEST(test_provenance_and_references)
{
	struct job	 job;
	const char	*s, *m1;

	members();
	/* m3 references org-1 too: still written once. */
	put_json("{\"resourceType\":\"Coverage\",\"id\":\"cov-m3\","
	    "\"status\":\"active\",\"beneficiary\":{\"reference\":"
	    "\"Patient/m3\"},\"payor\":[{\"reference\":"
	    "\"Organization/org-1\"}]}");
	run_export(JOB_DATA_EXPORT, "g1", NULL, NULL, &job, 0);
	s = file_of(job.id, "Organization-1.ndjson");
	ck_assert_int_eq(lines_with(s, "\"resourceType\""), 1);
	ck_assert_int_eq(lines_with(s, "\"id\":\"org-1\""), 1);
	ck_assert_int_eq(lines_with(file_of(job.id, "Practitioner-1.ndjson"),
	    "\"id\":\"pr-1\""), 1);
	s = file_of(job.id, "Provenance-1.ndjson");
	ck_assert_int_eq(lines_with(s, "\"resourceType\":\"Provenance\""), 3);
	ck_assert_int_eq(lines_with(s, "\"code\":\"transmitter\""), 3);
	ck_assert_int_eq(lines_with(s, "ProvenanceSourceFrom"), 3);
	m1 = strstr(s, "{\"reference\":\"Patient/m1\"}");
	ck_assert_ptr_nonnull(m1);
	ck_assert_int_eq(lines_with(s, "\"target\":[{\"reference\":"
	    "\"Coverage/cov-m1\"},{\"reference\":\"Observation/obs-m1\"},"
	    "{\"reference\":\"Patient/m1\"}]"), 1);
	ck_assert_int_eq(lines_with(s, "\"target\":[{\"reference\":"
	    "\"Organization/org-1\"},{\"reference\":\"Practitioner/pr-1\"}]"),
	    1);
	/* Recorded at the job's transaction time; no left-out member. */
	ck_assert_int_eq(lines_with(s, job.transaction_time), 3);
	ck_assert_int_eq(lines_with(s, "m2"), 0);
	job_free(&job);
}
END_TEST

/*
 * This payer's Organization (cfg.org_npi), once loaded, is the
 * transmitter every Provenance of ours refers to: it is exported once,
 * like what the members reference, and is a target of ours too; left
 * out with Provenance when _type leaves Provenance out.
 */
START_TEST(test_transmitter_organization)
{
	static const struct lines	 ours[] = {
		{ "Organization-1.ndjson", "\"resourceType\"", 2 },
		{ "Organization-1.ndjson", "\"id\":\"org-us\"", 1 },
		{ "Organization-1.ndjson", "\"id\":\"org-1\"", 1 },
		{ "Provenance-1.ndjson", "\"code\":\"transmitter\"", 3 },
		/* a target of the Provenance of included ones */
		{ "Provenance-1.ndjson",
		  "{\"reference\":\"Organization/org-us\"}", 1 },
		{ "Provenance-1.ndjson", "\"who\":{\"identifier\"", 3 },
		/* every transmitter names it */
		{ "Provenance-1.ndjson",
		  "\"reference\":\"Organization/org-us\"", 3 },
	};
	struct job			 job;
	struct p2p_kvlist		 args = { NULL, 0 };
	char				 org[200];
	const char			*s;

	members();
	snprintf(org, sizeof(org), "{\"resourceType\":\"Organization\","
	    "\"id\":\"org-us\",\"identifier\":[{\"system\":"
	    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"%s\"}]}",
	    cfg.org_npi);
	put_json(org);
	run_export(JOB_DATA_EXPORT, "g1", NULL, NULL, &job, 0);
	files_hold(job.id, ours, UNIT_N(ours));
	job_free(&job);
	/* Without Provenance nothing names it: not included. */
	ck_assert_int_eq(kv_add(&args, "_type", "Patient,Coverage,Organization"),
	    0);
	run_export(JOB_DATA_EXPORT, "g1", &args, NULL, &job, 0);
	s = file_of(job.id, "Organization-1.ndjson");
	ck_assert_int_eq(lines_with(s, "\"resourceType\""), 1);
	ck_assert_int_eq(lines_with(s, "org-us"), 0);
	ck_assert_str_eq(file_of(job.id, "Provenance-1.ndjson"), "");
	kv_free(&args);
	job_free(&job);
}
END_TEST

/*
 * Patient/$export: every member the client matched, each once however
 * many matches it has, consent re-checked (m2 lapsed: left out).
 */
START_TEST(test_matched_members)
{
	struct job	 job;

	members();
	/* m1 matched twice by c1, m4 by another client only. */
	exec_sql("INSERT INTO match (client_id, patient, cid, consentless,"
	    " created) VALUES ('c1', 'm1', 1, 0, 'y')");
	put_json("{\"resourceType\":\"Patient\",\"id\":\"m4\"}");
	consent_of("c2", "m4", 4, LIVE);
	run_export(JOB_PATIENT_EXPORT, "c1", NULL, NULL, &job, 0);
	files_hold(job.id, m1_m3_not_m2, UNIT_N(m1_m3_not_m2));
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id ="
	    " ?1", job.id), 3);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'release' AND outcome = 'success'", NULL), 2);
	ck_assert_int_eq(lines_with(file_of(job.id, "Provenance-1.ndjson"),
	    "\"code\":\"transmitter\""), 3);
	job_free(&job);
	/* A job whose target is another client is refused. */
	run_export(JOB_PATIENT_EXPORT, "c2", NULL, NULL, &job, 500);
	job_free(&job);
}
END_TEST

/*
 * Provenance loaded from a source system goes with the member when all
 * it targets is released, and is itself a target of ours.
 */
START_TEST(test_loaded_provenance)
{
	struct p2p_err	 err;
	struct job	 job;
	enum store_kind	 kind;
	const char	*s;

	members();
	put_json("{\"resourceType\":\"Provenance\",\"id\":\"src-1\","
	    "\"target\":[{\"reference\":\"Observation/obs-m1\"}],"
	    "\"recorded\":\"2026-01-01T00:00:00Z\",\"agent\":[{\"who\":"
	    "{\"reference\":\"Organization/org-1\"}}]}");
	/* Another member's resource among the targets: not released. */
	put_json("{\"resourceType\":\"Provenance\",\"id\":\"src-2\","
	    "\"target\":[{\"reference\":\"Observation/obs-m1\"},"
	    "{\"reference\":\"Observation/obs-m2\"}],\"recorded\":"
	    "\"2026-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"reference\":"
	    "\"Organization/org-1\"}}]}");
	ck_assert_int_eq(qint("SELECT count(*) FROM prov_target", NULL), 3);
	run_export(JOB_DATA_EXPORT, "g1", NULL, NULL, &job, 0);
	s = file_of(job.id, "Provenance-1.ndjson");
	ck_assert_int_eq(lines_with(s, "\"id\":\"src-1\""), 1);
	ck_assert_int_eq(lines_with(s, "\"id\":\"src-2\""), 0);
	ck_assert_int_eq(lines_with(s, "{\"reference\":\"Provenance/src-1\"}"),
	    1);
	ck_assert_int_eq(qint("SELECT n FROM job_member WHERE job_id = ?1 AND"
	    " patient = 'm1'", job.id), 5);
	/* Storing it again replaces its targets; deleting forgets them. */
	put_json("{\"resourceType\":\"Provenance\",\"id\":\"src-2\","
	    "\"target\":[{\"reference\":\"Observation/obs-m2\"}],\"recorded\":"
	    "\"2026-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"reference\":"
	    "\"Organization/org-1\"}}]}");
	ck_assert_int_eq(qint("SELECT count(*) FROM prov_target", NULL), 2);
	ck_assert_int_eq(qint("SELECT count(*) FROM prov_target WHERE target ="
	    " 'Observation/obs-m1'", NULL), 1);
	/* A target without a reference names nothing. */
	put_json("{\"resourceType\":\"Provenance\",\"id\":\"src-3\","
	    "\"target\":[{\"display\":\"a paper record\"}],\"recorded\":"
	    "\"2026-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"reference\":"
	    "\"Organization/org-1\"}}]}");
	ck_assert_int_eq(qint("SELECT count(*) FROM prov_target", NULL), 2);
	ck_assert_int_eq(store_delete(&db, "Provenance", "src-3", &kind, &err),
	    0);
	ck_assert_int_eq(store_delete(&db, "Provenance", "src-1", &kind, &err),
	    0);
	ck_assert_int_eq(store_delete(&db, "Provenance", "src-2", &kind, &err),
	    0);
	ck_assert_int_eq(qint("SELECT count(*) FROM prov_target", NULL), 0);
	job_free(&job);
}
END_TEST

/* patient parameters: members only, each once; others noted. */
START_TEST(test_listed_patients)
{
	static const struct lines	 listed[] = {
		{ "Patient-1.ndjson", "\"resourceType\"", 1 },
		{ "Patient-1.ndjson", "\"id\":\"m3\"", 1 },
		{ "OperationOutcome-error-1.ndjson",
		  "Patient/zz is not a member", 1 },
		{ "OperationOutcome-error-1.ndjson",
		  "Group/g1 is not a member", 1 },
	};
	struct p2p_kvlist		 args = { NULL, 0 };
	struct job			 job;

	members();
	ck_assert_int_eq(kv_add(&args, "patient", "Patient/m3"), 0);
	ck_assert_int_eq(kv_add(&args, "patient", "Patient/m3"), 0);
	ck_assert_int_eq(kv_add(&args, "patient", "Patient/zz"), 0);
	ck_assert_int_eq(kv_add(&args, "patient", "Group/g1"), 0);
	run_export(JOB_DATA_EXPORT, "g1", &args, NULL, &job, 0);
	kv_free(&args);
	files_hold(job.id, listed, UNIT_N(listed));
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id ="
	    " ?1", job.id), 1);
	job_free(&job);
}
END_TEST

/* _type narrows; Patient/$everything as a job is one member. */
START_TEST(test_everything_job_narrowed)
{
	struct p2p_kvlist	 args = { NULL, 0 };
	struct job		 job;

	members();
	ck_assert_int_eq(kv_add(&args, "_type", "Observation,Coverage"), 0);
	run_export(JOB_EVERYTHING, "m1", &args, NULL, &job, 0);
	kv_free(&args);
	ck_assert_str_eq(file_of(job.id, "Patient-1.ndjson"), "");
	ck_assert_int_eq(lines_with(file_of(job.id, "Observation-1.ndjson"),
	    "obs-m1"), 1);
	ck_assert_int_eq(lines_with(file_of(job.id, "Coverage-1.ndjson"),
	    "cov-m1"), 1);
	ck_assert_int_eq(qint("SELECT n FROM job_member WHERE job_id = ?1",
	    job.id), 2);
	job_free(&job);
}
END_TEST

/* A group larger than a batch: every member once, progress in between. */
START_TEST(test_batches)
{
	struct job	 job;
	struct prog	 prog = { 0, 0 };
	char		 text[128];
	int		 i;

	exec_sql("INSERT INTO grp (id, client_id, kind, created, json) VALUES"
	    " ('g-big', 'c1', 'match', 'x', '{}')");
	for (i = 0; i < 600; i++) {
		snprintf(text, sizeof(text), "{\"resourceType\":\"Patient\","
		    "\"id\":\"b%03d\"}", i);
		put_json(text);
		snprintf(text, sizeof(text), "b%03d", i);
		consent_of("c1", text, 100 + i, LIVE);
		snprintf(text, sizeof(text), "INSERT INTO grp_member (group_id,"
		    " patient) VALUES ('g-big', 'b%03d')", i);
		exec_sql(text);
	}
	run_export(JOB_DATA_EXPORT, "g-big", NULL, &prog, &job, 0);
	ck_assert_int_ge(prog.calls, 3);
	ck_assert_int_eq(lines_with(file_of(job.id, "Patient-1.ndjson"),
	    "\"resourceType\""), 600);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id ="
	    " ?1 AND released AND n = 2", job.id), 600);
	ck_assert_int_eq(lines_with(file_of(job.id, "Provenance-1.ndjson"),
	    "\"resourceType\":\"Provenance\""), 600);
	ck_assert_int_eq(qint("SELECT count(DISTINCT patient) FROM audit WHERE"
	    " event = 'release' AND outcome = 'success'", NULL), 600);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'release'", NULL), 600);
	job_free(&job);
}
END_TEST

/* Cancelled (or taken over): the run stops at the next report. */
START_TEST(test_stops_when_told)
{
	struct job	 job;
	struct prog	 prog = { 0, 1 };

	members();
	run_export(JOB_DATA_EXPORT, "g1", NULL, &prog, &job, 409);
	ck_assert_int_eq(db.in_tx, 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), 0);
	job_free(&job);
}
END_TEST

/* The group is checked again when the job runs. */
START_TEST(test_group_gone)
{
	struct job	 job;

	members();
	exec_sql("UPDATE grp SET client_id = 'c2' WHERE id = 'g1'");
	run_export(JOB_DATA_EXPORT, "g1", NULL, NULL, &job, 404);
	job_free(&job);
}
END_TEST

/* Every statement of the walk over members is an index search. */
START_TEST(test_query_plans)
{
	unit_plans_indexed(&db, export_queries);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_group_owned),
		UNIT_TEST(test_group_export),
		UNIT_TEST(test_provenance_and_references),
		UNIT_TEST(test_transmitter_organization),
		UNIT_TEST(test_matched_members),
		UNIT_TEST(test_loaded_provenance),
		UNIT_TEST(test_listed_patients),
		UNIT_TEST(test_everything_job_narrowed),
		UNIT_TEST(test_batches),
		UNIT_TEST(test_stops_when_told),
		UNIT_TEST(test_group_gone),
		UNIT_TEST(test_query_plans),
	};

	return jobfix_run("export", 60, tests, UNIT_N(tests));
}
