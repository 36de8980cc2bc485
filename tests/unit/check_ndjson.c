/*
 * check_ndjson.c - unit tests for jobs/ndjson.c: the writer's temporary files, renames and splits.
 */
#include <check.h>

#include "unit.h"
#include "jobfix.h"

/* The job's files and state once write_some()'s output is complete. */
static const struct unit_count	 completed[] = {
	{ "SELECT count(*) FROM job_file WHERE job_id = ?1"
	  " AND kind = 'output'", 3 },
	{ "SELECT sum(count) FROM job_file WHERE job_id = ?1"
	  " AND type = 'Patient'", 5 },
	{ "SELECT count FROM job_file WHERE job_id = ?1"
	  " AND name = 'Patient-3.ndjson'", 1 },
	{ "SELECT count(*) FROM job_file WHERE job_id = ?1"
	  " AND kind = 'error' AND name = 'OperationOutcome-error-1.ndjson'",
	  1 },
	{ "SELECT count(*) FROM job WHERE id = ?1 AND status = 'complete'", 1 },
};

START_TEST(test_writer_temp_rename_split)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];
	int		 tmp;

	o = write_some(&job, id);
	/* Before completion only temporary names exist. */
	ck_assert_int_eq(count_files(id, &tmp), 4);
	ck_assert_int_eq(tmp, 4);
	p2p_err_init(&err);
	/* Refused: a line break would split a resource. */
	ck_assert_int_eq(job_out_write(o, "Patient", "{\"a\":\n1}", 8, &err),
	    -1);
	p2p_err_init(&err);
	ck_assert_int_eq(job_out_write(o, "../x", "{}", 2, &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	ck_assert_int_eq(count_files(id, &tmp), 4);
	ck_assert_int_eq(tmp, 0);
	unit_counts(&db, id, completed, UNIT_N(completed));
	job_free(&job);
}
END_TEST

START_TEST(test_writer_free_removes_temp)
{
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];
	int		 tmp;

	o = write_some(&job, id);
	job_out_free(o);	/* the runner failed: nothing is kept */
	ck_assert_int_eq(count_files(id, &tmp), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_file WHERE job_id = ?1",
	    id), 0);
	job_free(&job);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_writer_temp_rename_split),
		UNIT_TEST(test_writer_free_removes_temp),
	};

	return jobfix_run("ndjson", 0, tests, UNIT_N(tests));
}
