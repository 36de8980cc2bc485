/*
 * check_queue.c - unit tests for jobs/queue.c: claiming, takeover, heartbeat, completion, cancellation, failure.
 */
#include <check.h>
#include <sys/wait.h>

#include "jobs/status.h"

#include "unit.h"
#include "jobfix.h"

START_TEST(test_claim_each_once)
{
	struct p2p_err	 err;
	struct job	 a, b, c;
	char		 id1[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];

	make_job("c1", id1);
	set_sql("UPDATE job SET created = created - 10 WHERE id = ?1", id1);
	make_job("c1", id2);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:1", 300, &a, &err), 1);
	ck_assert_str_eq(a.id, id1);		/* oldest first */
	ck_assert_str_eq(a.client_id, "c1");
	ck_assert_str_eq(a.kind, JOB_BULK_MATCH);
	ck_assert_ptr_nonnull(a.params);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:2", 300, &b, &err), 1);
	ck_assert_str_eq(b.id, id2);
	/* Both running with fresh heartbeats: nothing left to take. */
	ck_assert_int_eq(job_claim(&db, &cfg, "h:3", 300, &c, &err), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM job WHERE status = "
	    "'running' AND heartbeat IS NOT NULL AND transaction_time IS NOT "
	    "NULL", NULL), 2);
	ck_assert_int_eq(db.in_tx, 0);		/* transaction closed */
	/* Heartbeat only for the runner that holds it. */
	ck_assert_int_eq(job_heartbeat(&db, &a, "h:1", "50%", 5, 10, &err), 0);
	ck_assert_int_eq(job_heartbeat(&db, &a, "h:2", "50%", 5, 10, &err), 1);
	job_free(&a);
	job_free(&b);
}
END_TEST

START_TEST(test_stale_takeover)
{
	struct p2p_err	 err;
	struct job	 a, b;
	char		 id[JOB_ID_LEN + 1];

	make_job("c1", id);
	p2p_err_init(&err);
	/* A runner on another host: only a stale heartbeat frees it. */
	ck_assert_int_eq(job_claim(&db, &cfg, "elsewhere.example:1", 300, &a,
	    &err), 1);
	job_free(&a);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:2", 300, &b, &err), 0);
	set_sql("UPDATE job SET heartbeat = heartbeat - 301 WHERE id = ?1", id);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:2", 300, &b, &err), 1);
	ck_assert_str_eq(b.id, id);
	ck_assert_int_eq(job_heartbeat(&db, &b, "h:2", NULL, 0, 0, &err), 0);
	/* The old runner has lost it. */
	ck_assert_int_eq(job_heartbeat(&db, &b, "elsewhere.example:1", NULL,
	    0, 0, &err), 1);
	job_free(&b);
}
END_TEST

START_TEST(test_dead_runner_takeover)
{
	struct p2p_err	 err;
	struct job	 a, b;
	char		 id[JOB_ID_LEN + 1], host[256], runner[300];
	pid_t		 pid;

	make_job("c1", id);
	/* A runner on this host whose process is gone (a reaped child). */
	if ((pid = fork()) == 0)
		_exit(0);
	ck_assert_int_gt(pid, 0);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	snprintf(runner, sizeof(runner), "%s:%ld", host, (long)pid);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, runner, 300, &a, &err), 1);
	job_free(&a);
	/* Fresh heartbeat, but the runner is dead: taken back at once. */
	ck_assert_int_eq(job_claim(&db, &cfg, "h:2", 300, &b, &err), 1);
	ck_assert_str_eq(b.id, id);
	job_free(&b);
}
END_TEST

START_TEST(test_cancelled_not_completed)
{
	struct p2p_err	 err;
	struct job	 job;
	struct job_out	*o;
	char		 id[JOB_ID_LEN + 1];
	int		 tmp;

	o = write_some(&job, id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_cancel(&db, &cfg, id, "other", &err), 1);
	ck_assert_int_eq(job_cancel(&db, &cfg, id, "c1", &err), 0);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 1);
	job_out_free(o);
	ck_assert_int_eq(count_files(id, &tmp), -1);	/* directory gone */
	ck_assert_int_eq(qint("SELECT count(*) FROM job_file WHERE job_id = ?1",
	    id), 0);
	job_free(&job);
}
END_TEST

START_TEST(test_fail_records_outcome)
{
	struct p2p_err		 err, why;
	struct job		 job;
	struct job_out		*o;
	struct job_state	 s;
	char			 id[JOB_ID_LEN + 1];
	int			 tmp;

	o = write_some(&job, id);
	job_out_free(o);
	p2p_err_init(&why);
	p2p_fail(&why, 500, P2P_ISSUE_EXCEPTION, "disk full");
	p2p_err_init(&err);
	ck_assert_int_eq(job_fail(&db, &cfg, &job, "h:1", &why, &err), 0);
	ck_assert_int_eq(count_files(id, &tmp), -1);
	ck_assert_int_eq(job_get(&db, id, "c1", now_sec(), &s, &err), 0);
	ck_assert_str_eq(s.status, "failed");
	ck_assert_ptr_nonnull(strstr(s.error, "OperationOutcome"));
	ck_assert_ptr_nonnull(strstr(s.error, "disk full"));
	job_state_free(&s);
	job_free(&job);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_claim_each_once),
		UNIT_TEST(test_stale_takeover),
		UNIT_TEST(test_dead_runner_takeover),
		UNIT_TEST(test_cancelled_not_completed),
		UNIT_TEST(test_fail_records_outcome),
	};

	return jobfix_run("queue", 0, tests, UNIT_N(tests));
}
