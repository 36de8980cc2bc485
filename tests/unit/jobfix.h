/*
 * jobfix.h - the fixture the job suites share (check_queue, check_ndjson,
 * check_status, check_members, check_export, check_bulkmatch,
 * check_audit): a temporary data directory with an output directory and
 * a URL signing key, a database with every migration applied, and
 * helpers to make and inspect jobs.
 */
#ifndef P2P_JOBFIX_H
#define P2P_JOBFIX_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/util.h"
#include "jobs/ndjson.h"
#include "jobs/queue.h"
#include "json/fhir.h"
#include "store/db.h"
#include "store/store.h"
#include "unit.h"

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static char			 tmpl[] = "/tmp/check_jobs.XXXXXX";
static char			*dir;
static char			 db_path[PATH_MAX + 32];	/* the database */

static inline void
jobfix_setup(void)
{
	struct p2p_err	 err;
	char		 path[PATH_MAX + 32];
	FILE		*fp;

	strcpy(tmpl, "/tmp/check_jobs.XXXXXX");
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
	snprintf(db_path, sizeof(db_path), "%s/p2p.db", dir);
	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&db, db_path, 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
}

static inline void
jobfix_teardown(void)
{
	db_close(&db);
	ck_assert_int_eq(unit_rmtree(dir), 0);
}

/*
 * Runs the job suite name (main()'s exit status): the n tests of t, each
 * in this fixture, with the timeout as unit_tests().
 */
static inline int
jobfix_run(const char *name, int timeout, const struct unit_test *t,
    size_t n)
{
	return unit_run(unit_tests(name, jobfix_setup, jobfix_teardown,
	    timeout, t, n));
}

/* Queues a job of kind for client with parameters p (not taken). */
static inline void
make_job_of(const char *client, const char *kind, json_object *p,
    char id[JOB_ID_LEN + 1])
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	ck_assert_int_eq(job_create(&db, &cfg, client, kind,
	    "http://x/fhir/Group/$bulk-member-match", p, id, &err), 0);
	ck_assert_uint_eq(strlen(id), JOB_ID_LEN);
}

/* Queues a $bulk-member-match job with no parameters. */
static inline void
make_job(const char *client, char id[JOB_ID_LEN + 1])
{
	json_object	*p = json_object_new_object();

	make_job_of(client, JOB_BULK_MATCH, p, id);
	json_object_put(p);
}

/* unit_int_of() on the fixture's database. */
static inline long long
qint(const char *sql, const char *id)
{
	return unit_int_of(&db, sql, id);
}

static inline void
set_sql(const char *sql, const char *id)
{
	struct db_stmt	*st;

	ck_assert_int_eq(db_prepare(&db, sql, &st, NULL), 0);
	db_bind_text(st, 1, id);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
}

/* Files in the job's directory, and how many of them are temporary. */
static inline int
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

/* Claims a job and writes 5 Patients (3 files at 2 per file), 1 error. */
static inline struct job_out *
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
	return o;
}

/* Loads one resource (JSON text) as p2p-admin load would. */
static inline void
put_json(const char *text)
{
	struct store_ctx	 ctx;
	struct p2p_err		 err;
	enum store_kind		 kind;
	json_object		*res = json_tokener_parse(text);

	ck_assert_msg(res != NULL, "bad test JSON: %s", text);
	store_ctx_init(&ctx);
	p2p_err_init(&err);
	ck_assert_msg(store_put(&db, res, &ctx, &kind, &err) == 0, "%s: %s",
	    text, err.msg);
	json_object_put(res);
}

/* A consent (and its match) of client for patient, active until end. */
static inline void
consent_of(const char *client, const char *patient, long long cid,
    const char *end)
{
	char	 sql[700];

	snprintf(sql, sizeof(sql), "INSERT INTO consent (cid, id, patient,"
	    " client_id, source, status, provision, policy, period_start,"
	    " period_end, created, updated, json) VALUES (%lld, 'c%lld', '%s',"
	    " '%s', 'submitted', 'active', 'permit', 'regular',"
	    " '2000-01-01T00:00:00Z', '%s', 'x', 'x', '{}');"
	    " INSERT INTO match (client_id, patient, cid, consentless, created)"
	    " VALUES ('%s', '%s', %lld, 0, 'x')", cid, cid, patient, client,
	    end, client, patient, cid);
	ck_assert_int_eq(sqlite3_exec(db.h, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* Runs sql (no parameters, several statements allowed). */
static inline void
exec_sql(const char *sql)
{
	char	*msg = NULL;

	ck_assert_msg(sqlite3_exec(db.h, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "");
}

#endif
