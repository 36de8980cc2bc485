/*
 * check_members.c - unit tests for jobs/members.c: the members a job's files hold.
 */
#include <check.h>

#include "jobs/members.h"

#include "unit.h"
#include "jobfix.h"

/* An export's members are written as it goes; a retaken run starts anew. */
START_TEST(test_members_direct)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];

	o = write_some(&job, id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_member_add(&db, id, "stale", 3, &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id = "
	    "?1", id), 1);
	ck_assert_int_eq(job_members_clear(&db, id, &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id = "
	    "?1", id), 0);
	ck_assert_int_eq(job_member_add(&db, id, "p2", 9, &err), 0);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	/* Both the row written at once and the in-memory one (p1). */
	ck_assert_int_eq(qint("SELECT count(*) FROM job_member WHERE job_id = "
	    "?1", id), 2);
	ck_assert_int_eq(qint("SELECT cid FROM job_member WHERE job_id = ?1 "
	    "AND patient = 'p2'", id), 9);
	job_free(&job);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("members", &tc, jobfix_setup, jobfix_teardown);

	tcase_add_test(tc, test_members_direct);
	return unit_run(s);
}
