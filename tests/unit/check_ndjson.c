/*
 * check_ndjson.c - unit tests for jobs/ndjson.c: the writer's temporary files, renames and splits.
 */
#include <check.h>

#include "unit.h"
#include "jobfix.h"

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
	ck_assert_int_eq(qint("SELECT count(*) FROM job_file WHERE job_id = ?1"
	    " AND kind = 'output'", id), 3);
	ck_assert_int_eq(qint("SELECT sum(count) FROM job_file WHERE job_id ="
	    " ?1 AND type = 'Patient'", id), 5);
	ck_assert_int_eq(qint("SELECT count FROM job_file WHERE job_id = ?1"
	    " AND name = 'Patient-3.ndjson'", id), 1);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_file WHERE job_id = ?1"
	    " AND kind = 'error' AND name = 'OperationOutcome-error-1.ndjson'",
	    id), 1);
	ck_assert_int_eq(qint("SELECT count(*) FROM job WHERE id = ?1 AND "
	    "status = 'complete'", id), 1);
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

	return unit_run(unit_tests("ndjson", jobfix_setup, jobfix_teardown, 0, tests,
	    UNIT_N(tests)));
}
