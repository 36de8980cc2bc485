/*
 * check_status.c - unit tests for jobs/status.c: status, manifest, signed URLs.
 */
#include <check.h>

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

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("status", &tc, jobfix_setup, jobfix_teardown);

	tcase_add_test(tc, test_manifest);
	return unit_run(s);
}
