/*
 * check_status.c - unit tests for jobs/status.c: status, manifest, signed URLs.
 */
#include <check.h>
#include <sys/wait.h>

#include "jobs/status.h"

#include "unit.h"
#include "jobfix.h"

START_TEST(test_manifest)
{
	struct p2p_err		 err;
	struct job		 job;
	struct job_out		*o;
	struct job_state	 s;
	json_object		*m, *out, *item;
	const char		*url;
	char			 id[JOB_ID_LEN + 1], sig[65], sig2[65];
	char			 path[128];
	time_t			 now = now_sec();

	o = write_some(&job, id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_get(&db, id, "c1", now, &s, &err), 0);
	ck_assert_str_eq(s.status, "running");
	job_state_free(&s);
	ck_assert_int_eq(job_complete(&db, &cfg, &job, "h:1", o, &err), 0);
	job_out_free(o);
	/* Another client, or a malformed id: no such job. */
	ck_assert_int_eq(job_get(&db, id, "c2", now, &s, &err), 1);
	ck_assert_int_eq(job_get(&db, "../etc", "c1", now, &s, &err), 1);
	ck_assert_int_eq(job_get(&db, id, "c1", now, &s, &err), 0);
	ck_assert_str_eq(s.status, "complete");
	cfg.signed_urls = 1;
	cfg.url_ttl = 600;
	ck_assert_int_eq(job_manifest(&db, &cfg, id, &s, now, &m, &err), 0);
	ck_assert_int_eq(json_object_get_boolean(fhir_get(m,
	    "requiresAccessToken", json_type_boolean)), 1);
	ck_assert_str_eq(fhir_str(m, "request"),
	    "http://x/fhir/Group/$bulk-member-match");
	ck_assert_ptr_nonnull(fhir_str(m, "transactionTime"));
	out = fhir_get(m, "output", json_type_array);
	ck_assert_int_eq((int)json_object_array_length(out), 3);
	item = json_object_array_get_idx(out, 0);
	ck_assert_str_eq(fhir_str(item, "type"), "Patient");
	ck_assert_int_eq(json_object_get_int(fhir_get(item, "count",
	    json_type_int)), 2);
	url = fhir_str(item, "url");
	snprintf(path, sizeof(path), "/bulk/%s/Patient-1.ndjson", id);
	ck_assert_ptr_nonnull(strstr(url, path));
	ck_assert_ptr_nonnull(strstr(url, "?exp="));
	ck_assert_int_eq((int)json_object_array_length(fhir_get(m, "error",
	    json_type_array)), 1);
	/* The signature covers path and expiry. */
	ck_assert_int_eq(job_url_sign(&cfg, path, 100, sig, &err), 0);
	ck_assert_int_eq(job_url_sign(&cfg, path, 101, sig2, &err), 0);
	ck_assert_uint_eq(strlen(sig), 64);
	ck_assert_str_ne(sig, sig2);
	ck_assert_int_eq(job_url_sign(&cfg, path, 100, sig2, &err), 0);
	ck_assert_str_eq(sig, sig2);
	json_object_put(m);
	job_state_free(&s);
	/* Expired: gone from the status URL, then removed. */
	ck_assert_int_eq(job_get(&db, id, "c1", now + cfg.job_ttl + 10, &s,
	    &err), 1);
	{
		int n, tmp;

		ck_assert_int_eq(job_expire(&db, &cfg, now + cfg.job_ttl + 10,
		    &n, &err), 0);
		ck_assert_int_eq(n, 1);
		ck_assert_int_eq(count_files(id, &tmp), -1);
		ck_assert_int_eq(qint("SELECT count(*) FROM job", NULL), 0);
	}
	job_free(&job);
}
END_TEST

/* Retry-After follows the job's pace, within [1, JOB_RETRY_MAX]. */
START_TEST(test_eta_and_retry_after)
{
	struct job_state	 s;

	memset(&s, 0, sizeof(s));
	snprintf(s.status, sizeof(s.status), "queued");
	ck_assert_int_eq(job_eta_ms(&s, 5000), -1);
	ck_assert_int_eq(job_retry_after(&s, 5000), 1);
	snprintf(s.status, sizeof(s.status), "running");
	ck_assert_int_eq(job_eta_ms(&s, 5000), -1);	/* no report yet */
	s.started_ms = 10000;
	s.beat_ms = 10500;
	s.done = 50;
	s.total = 1000;
	/* Half a second of progress tells no pace yet. */
	ck_assert_int_eq(job_eta_ms(&s, 10500), -1);
	s.beat_ms = 11000;
	s.done = 100;
	/* 100 a second: 9 s left at the report, 5 s four seconds later. */
	ck_assert_int_eq(job_eta_ms(&s, 11000), 9000);
	ck_assert_int_eq(job_retry_after(&s, 11000), 9);
	ck_assert_int_eq(job_eta_ms(&s, 15000), 5000);
	ck_assert_int_eq(job_retry_after(&s, 15001), 5);
	/* Late: no less than a second. */
	ck_assert_int_eq(job_eta_ms(&s, 30000), 0);
	ck_assert_int_eq(job_retry_after(&s, 30000), 1);
	/* A huge job: no more than JOB_RETRY_MAX. */
	s.total = 100000000;
	ck_assert_int_eq(job_retry_after(&s, 11000), JOB_RETRY_MAX);
}
END_TEST

/* 429 for a client that keeps polling before half its Retry-After. */
START_TEST(test_poll_too_often)
{
	struct p2p_err	 err;
	struct job	 job;
	char		 id[JOB_ID_LEN + 1];
	int		 w;

	make_job("c1", id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:1", 300, &job, &err), 1);
	/* Told 6 s each time: a poll less than 3 s later is early. */
	ck_assert_int_eq(job_poll(&db, id, "c1", 0, 6, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 1000, 6, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 1500, 6, &w, &err), 0);
	/* The third in a row: 429 until the last advice (t = 7.5 s). */
	ck_assert_int_eq(job_poll(&db, id, "c1", 2000, 6, &w, &err), 1);
	ck_assert_int_eq(w, 6);
	ck_assert_int_eq(job_poll(&db, id, "c1", 3000, 6, &w, &err), 1);
	ck_assert_int_eq(w, 5);
	/* Waiting long enough (half of it) clears it. */
	ck_assert_int_eq(job_poll(&db, id, "c1", 4500, 6, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 4600, 6, &w, &err), 0);
	/* Another client's job: nothing to count. */
	ck_assert_int_eq(job_poll(&db, id, "c2", 3200, 6, &w, &err), 0);
	/* A short Retry-After: a small job may be polled at will. */
	ck_assert_int_eq(job_poll(&db, id, "c1", 20000, 2, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 20100, 2, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 20200, 2, &w, &err), 0);
	ck_assert_int_eq(job_poll(&db, id, "c1", 20300, 2, &w, &err), 0);
	job_free(&job);
}
END_TEST

/*
 * A status request for a job about to end waits for it; not for one
 * that will not end in time, nor without a free slot.
 */
START_TEST(test_wait_for_the_end)
{
	struct p2p_err		 err;
	struct job		 job;
	struct job_state	 s;
	char			 id[JOB_ID_LEN + 1], path[PATH_MAX + 8];
	int64_t			 t0;
	pid_t			 pid;

	snprintf(path, sizeof(path), "%s/run", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	cfg.status_wait_ms = 3000;
	cfg.status_waiters = 1;
	make_job("c1", id);
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:1", 300, &job, &err), 1);
	/* A pace that says an hour: no wait. */
	ck_assert_int_eq(job_heartbeat(&db, &job, "h:1", "x", 1, 3600000,
	    &err), 0);
	set_sql("UPDATE job SET started_ms = beat_ms - 1000 WHERE id = ?1", id);
	ck_assert_int_eq(job_get(&db, id, "c1", now_sec(), &s, &err), 0);
	t0 = now_ms();
	ck_assert_int_eq(job_wait(&db, &cfg, id, "c1", &s, &err), 0);
	ck_assert_int_lt(now_ms() - t0, 500);
	job_state_free(&s);
	/* No progress yet, and another process ends it in 300 ms. */
	set_sql("UPDATE job SET done = NULL, total = NULL WHERE id = ?1", id);
	if ((pid = fork()) == 0) {
		struct p2p_db	 d2;

		usleep(300000);
		if (db_open(&d2, db_path, 0, &err) == -1 ||
		    db_exec(&d2, "UPDATE job SET status = 'complete'", &err) == -1)
			_exit(1);
		db_close(&d2);
		_exit(0);
	}
	ck_assert_int_eq(job_get(&db, id, "c1", now_sec(), &s, &err), 0);
	t0 = now_ms();
	ck_assert_int_eq(job_wait(&db, &cfg, id, "c1", &s, &err), 0);
	ck_assert_str_eq(s.status, "complete");
	ck_assert_int_lt(now_ms() - t0, 2500);
	job_state_free(&s);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	/* No slot free (another waiter holds it): no wait. */
	set_sql("UPDATE job SET status = 'running' WHERE id = ?1", id);
	cfg.status_waiters = 0;
	ck_assert_int_eq(job_get(&db, id, "c1", now_sec(), &s, &err), 0);
	t0 = now_ms();
	ck_assert_int_eq(job_wait(&db, &cfg, id, "c1", &s, &err), 0);
	ck_assert_int_lt(now_ms() - t0, 500);
	ck_assert_str_eq(s.status, "running");
	job_state_free(&s);
	job_free(&job);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_manifest),
		UNIT_TEST(test_eta_and_retry_after),
		UNIT_TEST(test_poll_too_often),
		UNIT_TEST(test_wait_for_the_end),
	};

	return jobfix_run("status", 30, tests, UNIT_N(tests));
}
