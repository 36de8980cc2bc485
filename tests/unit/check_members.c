/*
 * check_members.c - unit tests for jobs/members.c: the disclosure
 * accounting of jobs.  A member is recorded once per job, only when the
 * job's files are published; a failed or retaken run leaves no record;
 * a download checks and records every member again.
 */
#include <check.h>
#include <sys/wait.h>

#include "jobs/members.h"
#include "jobs/status.h"

#include "unit.h"
#include "jobfix.h"

/* Claims a data-export job of client "c1" for runner. */
static void
claim_export(const char *runner, struct job *job, char id[JOB_ID_LEN + 1])
{
	struct p2p_err	 err;
	json_object	*p = json_object_new_object();

	make_job_of("c1", JOB_DATA_EXPORT, p, id);
	json_object_put(p);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, runner, 300, job, &err), 1);
	ck_assert_str_eq(job->id, id);
	ck_assert_str_eq(job->runner, runner);
}

/* Records the batch m of job in its own transaction. */
static void
add_batch(const struct job *job, const struct job_member_row *m, size_t n)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(job_members_add(&db, job, m, n, &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
}

static const struct job_member_row batch[] = {
	{ "m1", 11, 2, 1 },
	{ "m2", 12, 5, 1 },
	{ "m3", 0, 0, 0 },		/* left out: no valid consent */
};

/*
 * A data-export job of client "c1" that runner h:1 claimed and that
 * recorded the members of batch.
 */
static void
running_export(struct job *job, char id[JOB_ID_LEN + 1])
{
	claim_export("h:1", job, id);
	add_batch(job, batch, 3);
}

/* A new output of job, with Patient m1 written in it when m1 is set. */
static struct job_out *
output(struct job *job, int m1)
{
	struct p2p_err	 err;
	struct job_out	*o;

	p2p_err_init(&err);
	o = job_out_new(job, &cfg, &err);
	ck_assert_ptr_nonnull(o);
	if (m1)
		ck_assert_int_eq(job_out_write(o, "Patient",
		    "{\"id\":\"m1\"}", 11, &err), 0);
	return o;
}

/* The job_member rows of job id. */
static long long
members_of(const char *id)
{
	return qint("SELECT count(*) FROM job_member WHERE job_id = ?1", id);
}

static long long
release_rows(const char *outcome, const char *id)
{
	char	 sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE event ="
	    " 'release' AND outcome = '%s' AND detail LIKE '%%' || ?1 || '%%'",
	    outcome);
	return qint(sql, id);
}

/* The records are written when the job completes, once each. */
START_TEST(test_published_with_the_files)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];

	running_export(&job, id);
	ck_assert_int_eq(members_of(id), 3);
	/* Pending: nothing in the audit trail while the job runs. */
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), 0);
	o = output(&job, 1);
	p2p_err_init(&err);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	ck_assert_int_eq(release_rows("success", id), 2);
	ck_assert_int_eq(release_rows("failure", id), 1);
	ck_assert_int_eq(qint("SELECT cid FROM audit WHERE patient = 'm2'",
	    NULL), 12);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE patient = 'm2'"
	    " AND client_id = 'c1' AND detail = 'data-export job ' || ?1 ||"
	    " ': 5 resources into the job''s files'", id), 1);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE patient = 'm3'"
	    " AND cid IS NULL AND detail LIKE '%left out%'", NULL), 1);
	/* The rows stay: they withdraw the files when a consent lapses. */
	ck_assert_int_eq(members_of(id), 3);
	job_free(&job);
}
END_TEST

/* Regression (runner killed with kill -9): the retaken run counts once. */
START_TEST(test_retaken_run_starts_anew)
{
	struct p2p_err	 err;
	struct job	 a, b;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];

	claim_export("elsewhere.example:1", &a, id);
	add_batch(&a, batch, 2);
	job_free(&a);
	/* The first runner stops beating; another takes the job back. */
	set_sql("UPDATE job SET heartbeat = heartbeat - 301 WHERE id = ?1", id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:2", 300, &b, &err), 1);
	ck_assert_int_eq(members_of(id), 0);
	/* A late batch of the first runner records nothing. */
	a = b;
	a.params = NULL;
	snprintf(a.runner, sizeof(a.runner), "elsewhere.example:1");
	add_batch(&a, batch, 3);
	ck_assert_int_eq(members_of(id), 0);
	add_batch(&b, batch, 3);
	o = output(&b, 0);
	ck_assert_int_eq(job_complete(&db, &cfg, &b, "h:2", o, &err), 0);
	job_out_free(o);
	ck_assert_int_eq(release_rows("success", id), 2);
	ck_assert_int_eq(release_rows("failure", id), 1);
	job_free(&b);
}
END_TEST

/*
 * A job cancelled while it runs (DELETE on its status URL) is never
 * published: its pending rows never reach the audit trail.
 */
START_TEST(test_cancelled_job_keeps_no_record)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];

	running_export(&job, id);
	o = output(&job, 1);
	p2p_err_init(&err);
	ck_assert_int_eq(job_cancel(&db, &cfg, id, "c1", &err), 0);
	/* The runner's completion finds it cancelled: nothing listed. */
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 1);
	job_out_free(o);
	ck_assert_int_eq(release_rows("success", id), 0);
	ck_assert_int_eq(release_rows("failure", id), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'release'", NULL), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_file WHERE job_id = ?1",
	    id), 0);
	job_free(&job);
}
END_TEST

/* Fails job as runner ("cannot write output"): job_fail()'s result. */
static int
fail_as(struct job *job, const char *runner)
{
	struct p2p_err	 err, why;

	p2p_err_init(&why);
	p2p_fail(&why, 500, P2P_ISSUE_EXCEPTION, "cannot write output");
	p2p_err_init(&err);
	return job_fail(&db, &cfg, job, runner, &why, &err);
}

/* Regression (disk full): a failed job leaves no release record. */
START_TEST(test_failed_job_keeps_no_record)
{
	struct job	 job;
	char		 id[JOB_ID_LEN + 1];

	running_export(&job, id);
	ck_assert_int_eq(fail_as(&job, "h:1"), 0);
	ck_assert_int_eq(members_of(id), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job WHERE id = ?1 AND"
	    " status = 'failed'", id), 1);
	job_free(&job);
}
END_TEST

/* A job another runner holds: its failure is not this runner's to keep. */
START_TEST(test_fail_of_a_lost_job_keeps_its_rows)
{
	struct job	 job;
	char		 id[JOB_ID_LEN + 1];

	running_export(&job, id);
	set_sql("UPDATE job SET runner = 'h:9' WHERE id = ?1", id);
	ck_assert_int_eq(fail_as(&job, "h:1"), 0);
	ck_assert_int_eq(members_of(id), 3);
	ck_assert_int_eq(qint("SELECT count(*) FROM job WHERE id = ?1 AND"
	    " status = 'running'", id), 1);
	job_free(&job);
}
END_TEST

/* A $bulk-member-match's members withdraw its files; no release record. */
START_TEST(test_bulk_match_members_not_published)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];

	o = write_some(&job, id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_member_add(&db, id, "m1", 7, &err), 0);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	ck_assert_int_eq(qint("SELECT cid FROM job_member WHERE job_id = ?1",
	    id), 7);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), 0);
	job_free(&job);
}
END_TEST

/*
 * A download releases every member the file holds again: checked and
 * recorded; one lapsed consent withdraws the file, recording nothing.
 * Members left out of the export are not in the file: never checked.
 */
START_TEST(test_download_checks_and_records)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1], refused[72];
	long long	 before;

	consent_of("c1", "m1", 11, "2999-01-01T00:00:00Z");
	consent_of("c1", "m2", 12, "2999-01-01T00:00:00Z");
	running_export(&job, id);
	o = output(&job, 0);
	p2p_err_init(&err);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	ck_assert_int_eq(job_members_release(&db, &cfg, id, "Patient-1.ndjson",
	    "c1", now_sec(), refused, sizeof(refused), &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE detail ="
	    " 'file ' || ?1 || '/Patient-1.ndjson'", id), 2);
	/* m2's consent ends: the file is withdrawn, nothing recorded. */
	exec_sql("UPDATE consent SET period_end = '2001-01-01T00:00:00Z'"
	    " WHERE cid = 12");
	before = qint("SELECT count(*) FROM audit", NULL);
	p2p_err_init(&err);
	ck_assert_int_eq(job_members_release(&db, &cfg, id, "Patient-1.ndjson",
	    "c1", now_sec(), refused, sizeof(refused), &err), -1);
	ck_assert_int_eq(err.status, 403);
	ck_assert_str_eq(refused, "m2");
	ck_assert_int_eq(qint("SELECT count(*) FROM audit", NULL), before);
	job_free(&job);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_published_with_the_files),
		UNIT_TEST(test_retaken_run_starts_anew),
		UNIT_TEST(test_cancelled_job_keeps_no_record),
		UNIT_TEST(test_failed_job_keeps_no_record),
		UNIT_TEST(test_fail_of_a_lost_job_keeps_its_rows),
		UNIT_TEST(test_bulk_match_members_not_published),
		UNIT_TEST(test_download_checks_and_records),
	};

	return jobfix_run("members", 0, tests, UNIT_N(tests));
}
