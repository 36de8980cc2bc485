/* Unit tests for job.c: claiming, takeover, the ndjson writer, manifest. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "member/bulkmatch.h"
#include "json/fhir.h"
#include "jobs/job.h"
#include "core/util.h"
#include "unit.h"

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static char			 tmpl[] = "/tmp/check_job.XXXXXX";
static char			*dir;

static void
setup(void)
{
	struct p2p_err	 err;
	char		 path[PATH_MAX + 32];
	FILE		*fp;

	strcpy(tmpl, "/tmp/check_job.XXXXXX");
	dir = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(dir);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	config_defaults(&cfg);
	cfg.runner[0] = '\0';
	snprintf(cfg.output_dir, sizeof(cfg.output_dir), "%s/bulk", dir);
	ck_assert_int_eq(mkdir(cfg.output_dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/keys", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/keys/secdownload.key", dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
	    fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/p2p.db", dir);
	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&db, path, 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
}

static void
teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	db_close(&db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
make_job(const char *client, char id[JOB_ID_LEN + 1])
{
	struct p2p_err	 err;
	json_object	*p = json_object_new_object();

	p2p_err_init(&err);
	ck_assert_int_eq(job_create(&db, &cfg, client, JOB_BULK_MATCH,
	    "http://x/fhir/Group/$bulk-member-match", p, id, &err), 0);
	json_object_put(p);
	ck_assert_uint_eq(strlen(id), JOB_ID_LEN);
}

static long long
qint(const char *sql, const char *id)
{
	sqlite3_stmt	*st;
	long long	 v;

	ck_assert_int_eq(sqlite3_prepare_v2(db.h, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (id != NULL)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
set_sql(const char *sql, const char *id)
{
	sqlite3_stmt	*st;

	ck_assert_int_eq(sqlite3_prepare_v2(db.h, sql, -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* Files in the job's directory, and how many of them are temporary. */
static int
count_files(const char *id, int *tmp)
{
	char		 path[PATH_MAX + 64];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	*tmp = 0;
	snprintf(path, sizeof(path), "%s/%s", cfg.output_dir, id);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    strcmp(e->d_name, "..") == 0))
			continue;
		n++;
		if (e->d_name[0] == '.')
			(*tmp)++;
	}
	closedir(d);
	return n;
}

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
	ck_assert_int_eq(job_heartbeat(&db, &a, "h:1", "50%", &err), 0);
	ck_assert_int_eq(job_heartbeat(&db, &a, "h:2", "50%", &err), 1);
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
	ck_assert_int_eq(job_heartbeat(&db, &b, "h:2", NULL, &err), 0);
	/* The old runner has lost it. */
	ck_assert_int_eq(job_heartbeat(&db, &b, "elsewhere.example:1", NULL,
	    &err), 1);
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

/* Claims a job and writes 5 Patients (3 files at 2 per file), 1 error. */
static struct job_out *
write_some(struct job *job, char id[JOB_ID_LEN + 1])
{
	struct p2p_err	 err;
	struct job_out	*o;
	json_object	*oo;
	char		 line[64];
	int		 i;

	make_job("c1", id);
	cfg.export_file_max = 2;
	p2p_err_init(&err);
	ck_assert_int_eq(job_claim(&db, &cfg, "h:1", 300, job, &err), 1);
	o = job_out_new(job, &cfg, &err);
	ck_assert_ptr_nonnull(o);
	for (i = 0; i < 5; i++) {
		snprintf(line, sizeof(line),
		    "{\"resourceType\":\"Patient\",\"id\":\"p%d\"}", i);
		ck_assert_int_eq(job_out_write(o, "Patient", line,
		    strlen(line), &err), 0);
	}
	oo = fhir_outcome_new3("error", P2P_ISSUE_NOT_FOUND, "x");
	ck_assert_int_eq(job_out_error(o, oo, &err), 0);
	json_object_put(oo);
	ck_assert_int_eq(job_out_member(o, "p1", 7, &err), 0);
	return o;
}

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
	ck_assert_int_eq(qint("SELECT cid FROM job_member WHERE job_id = ?1",
	    id), 7);
	ck_assert_int_eq(qint("SELECT count(*) FROM job WHERE id = ?1 AND "
	    "status = 'complete'", id), 1);
	job_free(&job);
}
END_TEST

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

/*
 * $bulk-member-match kick-off checks: malformed MemberBundles are a 400
 * naming the index; one merely missing a required part is accepted (the
 * runner fails that member alone) but bulk_match_parts() refuses it.
 */
#define MB_PAT	"{\"name\":\"MemberPatient\",\"resource\":{\"resourceType\":\"Patient\"," \
		"\"name\":[{\"family\":\"Doe\"}],\"birthDate\":\"1980-02-03\"}}"
#define MB_COV	"{\"name\":\"CoverageToMatch\",\"resource\":{\"resourceType\":\"Coverage\"}}"
#define MB_CON	"{\"name\":\"Consent\",\"resource\":{\"resourceType\":\"Consent\"}}"
#define MB(parts) "{\"name\":\"MemberBundle\",\"part\":[" parts "]}"
#define PARAMS(mbs) "{\"resourceType\":\"Parameters\",\"parameter\":[" mbs "]}"

START_TEST(test_bulk_match_check)
{
	static const struct {
		int		 line;
		const char	*body;
		int		 status;	/* 0: accepted */
		const char	*words;		/* in the message */
		int		 parts_ok;	/* last bundle complete */
	} t[] = {
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON)), 0, NULL, 1 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON) ","
		    MB(MB_PAT "," MB_COV)), 0, NULL, 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_CON)), 0, NULL, 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_COV "," MB_CON) ","
		    MB(MB_PAT "," MB_COV "," MB_CON "," MB_CON)), 400,
		    "MemberBundle 2", 0 },
		{ __LINE__, PARAMS(MB(MB_PAT "," MB_PAT "," MB_CON)), 400,
		    "MemberBundle 1", 0 },
		{ __LINE__, PARAMS(MB("{\"name\":\"Consent\",\"resource\":"
		    "{\"resourceType\":\"Patient\"}}")), 400, "Consent", 0 },
		{ __LINE__, PARAMS(MB("{\"name\":\"Other\",\"resource\":"
		    "{\"resourceType\":\"Patient\"}}")), 400, "Other", 0 },
		{ __LINE__, PARAMS("{\"name\":\"MemberBundle\"}"), 400,
		    "MemberBundle 1", 0 },
		{ __LINE__, PARAMS("{\"name\":\"x\",\"valueString\":\"y\"}"), 400,
		    "MemberBundle", 0 },
		{ __LINE__, PARAMS(""), 400, "MemberBundle", 0 },
		{ __LINE__, "{\"resourceType\":\"Patient\"}", 400, "Parameters",
		    0 },
		{ __LINE__, PARAMS(MB(MB_PAT) "," MB(MB_PAT) "," MB(MB_PAT)), 413,
		    "limit", 0 },
		/* What matching reads, checked as for $member-match. */
		{ __LINE__, PARAMS(MB(MB_COV ",{\"name\":\"MemberPatient\","
		    "\"resource\":{\"resourceType\":\"Patient\",\"name\":[{"
		    "\"family\":\"Doe\"}]}}")), 400,
		    "MemberBundle 1: Parameters.parameter[0].part[1].resource"
		    ".birthDate is required", 0 },
	};
	struct match_input	 in;
	struct match_key	 k;
	struct p2p_err		 err;
	json_object		*body, *bundles, *arr;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p2p_err_init(&err);
		body = json_tokener_parse(t[i].body);
		ck_assert_msg(body != NULL, "line %d: bad test JSON", t[i].line);
		rc = bulk_match_check(body, 2, &bundles, &err);
		if (t[i].status == 0) {
			ck_assert_msg(rc == 0, "line %d: refused: %s", t[i].line,
			    err.msg);
			arr = bundles;
			p2p_err_init(&err);
			rc = bulk_match_parts(json_object_array_get_idx(arr,
			    json_object_array_length(arr) - 1), 0, &in, &k,
			    &err);
			ck_assert_msg(rc == (t[i].parts_ok ? 0 : -1),
			    "line %d: parts %d", t[i].line, rc);
			if (!t[i].parts_ok)
				ck_assert_msg(err.status == 400 &&
				    strstr(err.msg, "required") != NULL,
				    "line %d: %d %s", t[i].line, err.status,
				    err.msg);
			json_object_put(bundles);
		} else {
			ck_assert_msg(rc == -1 && err.status == t[i].status,
			    "line %d: %d %s", t[i].line, err.status, err.msg);
			ck_assert_msg(strstr(err.msg, t[i].words) != NULL,
			    "line %d: %s", t[i].line, err.msg);
			ck_assert_ptr_null(bundles);
		}
		json_object_put(body);
	}
}
END_TEST

/*
 * The kick-off's probing guard over more MemberBundles than one of its
 * transactions holds: 300 guesses of one person, limit 5; the
 * decisions go with the job, each refusal audited, every attempt kept.
 */
START_TEST(test_bulk_match_guard)
{
	struct p2p_buf	 b = { NULL, 0, 0 };
	struct p2p_err	 err;
	sqlite3_stmt	*st;
	json_object	*body, *params, *thr;
	char		 id[JOB_ID_LEN + 1];
	int		 i;

	buf_puts(&b, "{\"resourceType\":\"Parameters\",\"parameter\":[");
	for (i = 0; i < 300; i++)
		buf_printf(&b, "%s" MB("{\"name\":\"MemberPatient\",\"resource\":"
		    "{\"resourceType\":\"Patient\",\"name\":[{\"family\":"
		    "\"Doe\"}],\"birthDate\":\"1980-02-03\"}},{\"name\":"
		    "\"CoverageToMatch\",\"resource\":{\"resourceType\":"
		    "\"Coverage\",\"subscriberId\":\"G%d\"}}," MB_CON),
		    i ? "," : "", i);
	buf_puts(&b, "]}");
	ck_assert_ptr_nonnull(body = json_tokener_parse(b.p));
	buf_free(&b);
	p2p_err_init(&err);
	cfg.probe_limit = 5;
	cfg.bulk_max_members = 1000;
	ck_assert_int_eq(bulk_match_queue(&db, &cfg, "cl", "1234567893", "org",
	    body, 5000, id, &err), 0);
	json_object_put(body);
	ck_assert_int_eq(qint("SELECT count(*) FROM probe WHERE client_id ="
	    " 'cl'", NULL), 300);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE outcome ="
	    " 'failure' AND detail LIKE '429 bulk-member-match: MemberBundle %'",
	    NULL), 295);
	ck_assert_int_eq(sqlite3_prepare_v2(db.h, "SELECT params FROM job"
	    " WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_ptr_nonnull(params = json_tokener_parse((const char *)
	    sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	ck_assert_ptr_nonnull(thr = fhir_get(params, "throttled",
	    json_type_array));
	ck_assert_uint_eq(json_object_array_length(thr), 295);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(thr, 0)),
	    5);
	ck_assert_int_eq(json_object_get_int(json_object_array_get_idx(thr,
	    294)), 299);
	json_object_put(params);
	ck_assert_int_eq(db.in_tx, 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("job");
	TCase	*tc = tcase_create("job");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_claim_each_once);
	tcase_add_test(tc, test_stale_takeover);
	tcase_add_test(tc, test_dead_runner_takeover);
	tcase_add_test(tc, test_writer_temp_rename_split);
	tcase_add_test(tc, test_writer_free_removes_temp);
	tcase_add_test(tc, test_members_direct);
	tcase_add_test(tc, test_cancelled_not_completed);
	tcase_add_test(tc, test_manifest);
	tcase_add_test(tc, test_fail_records_outcome);
	tcase_add_test(tc, test_bulk_match_check);
	tcase_add_test(tc, test_bulk_match_guard);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
