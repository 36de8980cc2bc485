/*
 * queue.c - the job queue (see queue.h): kick-off, the runner's claim /
 * heartbeat / complete / fail, expiry and cancellation, and waking the
 * runner.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "jobs/members.h"
#include "jobs/ndjson.h"
#include "jobs/queue.h"
#include "json/fhir.h"

enum stmt {
	STMT_INSERT,		/* a new queued job */
	STMT_QUEUED,		/* the oldest queued job */
	STMT_RUNNING,		/* running jobs, to take over */
	STMT_TAKE,		/* claim a job */
	STMT_LOAD,		/* a claimed job's request */
	STMT_BEAT,		/* heartbeat and progress */
	STMT_COMPLETE,		/* mark complete */
	STMT_FAIL,		/* mark failed */
	STMT_EXPIRED,		/* jobs past their time */
	STMT_CANCELLED,		/* cancelled jobs */
	STMT_DELETE,		/* remove a job */
	STMT_CANCEL,		/* cancel a client's job */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_INSERT */
	"INSERT INTO job (id, client_id, kind, status, request, params,"
	" created, expires) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7)",
	/* STMT_QUEUED */
	"SELECT id FROM job WHERE status = 'queued' ORDER BY created LIMIT 1",
	/* STMT_RUNNING */
	"SELECT id, runner, heartbeat FROM job WHERE status = 'running'"
	" ORDER BY created",
	/* STMT_TAKE */
	"UPDATE job SET status = 'running', runner = ?1, heartbeat = ?2,"
	" started = ?2, transaction_time = ?3, progress = NULL,"
	" started_ms = ?5, beat_ms = NULL, done = NULL, total = NULL"
	" WHERE id = ?4",
	/* STMT_LOAD */
	"SELECT client_id, kind, request, params, transaction_time FROM job"
	" WHERE id = ?1",
	/* STMT_BEAT */
	"UPDATE job SET heartbeat = ?1, progress = coalesce(?2, progress),"
	" done = ?5, total = ?6, beat_ms = ?7"
	" WHERE id = ?3 AND status = 'running' AND runner = ?4",
	/* STMT_COMPLETE */
	"UPDATE job SET status = 'complete', finished = ?1, expires = ?2,"
	" progress = NULL WHERE id = ?3 AND status = 'running' AND runner = ?4",
	/* STMT_FAIL */
	"UPDATE job SET status = 'failed', finished = ?1, expires = ?2,"
	" error = ?3, progress = NULL"
	" WHERE id = ?4 AND status = 'running' AND runner = ?5",
	/* STMT_EXPIRED */
	"SELECT id FROM job WHERE expires < ?1 LIMIT 100",
	/* STMT_CANCELLED */
	"SELECT id FROM job WHERE status = 'cancelled' LIMIT 100",
	/* STMT_DELETE */
	"DELETE FROM job WHERE id = ?1",
	/* STMT_CANCEL */
	"UPDATE job SET status = 'cancelled', progress = NULL"
	" WHERE id = ?1 AND client_id = ?2 AND status != 'cancelled'",
};

int
job_id_valid(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == JOB_ID_LEN;
}

/* --- kick-off ---------------------------------------------------------- */

int
job_create(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *kind, const char *request,
    json_object *params, char id[JOB_ID_LEN + 1], struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*text;
	time_t		 now = now_sec();

	id[0] = '\0';
	if (rand_hex(id, JOB_ID_LEN / 2) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "no random bytes for a job id");
	text = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((st = db_query(db, sql[STMT_INSERT], err, "tttttII", id, client,
	    kind, request, text, (long long)now,
	    (long long)(now + cfg->job_ttl))) == NULL)
		return -1;
	if (db_step_done(db, st, err, "insert job") == -1)
		return -1;
	if (cfg->runner[0] != '\0')
		job_wake(cfg);
	return 0;
}

int
job_wake(const struct p2p_config *cfg)
{
	pid_t	 pid;
	int	 status, fd;
	long	 maxfd;

	if (cfg->runner[0] == '\0')
		return 0;
	if ((pid = fork()) == -1) {
		log_warn("wake runner: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/*
		 * First child: new session, fork again and exit at once,
		 * so the grandchild is reparented to init and the FastCGI
		 * process (which waits only for this child) never blocks
		 * on the runner nor leaves a zombie behind.
		 */
		setsid();
		if ((pid = fork()) != 0)
			_exit(pid == -1 ? 1 : 0);
		fd = open("/dev/null", O_RDWR);
		if (fd == -1)
			_exit(1);
		/* FastCGI's listening socket is descriptor 0: let go. */
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		maxfd = sysconf(_SC_OPEN_MAX);
		if (maxfd < 0 || maxfd > 65536)
			maxfd = 65536;
		for (fd = 3; fd < maxfd; fd++)
			close(fd);
		execl(cfg->runner, cfg->runner, "-c", cfg->path, "--once",
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return 0;
}

/* --- runner side ------------------------------------------------------- */

/*
 * True when runner names a process on this host that no longer exists
 * ("host:pid"): its job can be taken back at once, without waiting for
 * the heartbeat to go stale.
 */
static int
runner_dead(const char *runner)
{
	char		 host[256];
	const char	*colon;
	long long	 pid;

	if (runner == NULL || (colon = strrchr(runner, ':')) == NULL)
		return 0;
	if (gethostname(host, sizeof(host)) == -1)
		return 0;
	host[sizeof(host) - 1] = '\0';
	if ((size_t)(colon - runner) != strlen(host) ||
	    strncmp(runner, host, strlen(host)) != 0)
		return 0;
	if (parse_ll(colon + 1, 1, 1LL << 30, &pid) == -1)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static int
load_job(struct p2p_db *db, const struct p2p_config *cfg, const char *id,
    struct job *job, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct p2p_err	 perr;
	const char	*params;
	int		 rc;

	memset(job, 0, sizeof(*job));
	if ((st = db_query(db, sql[STMT_LOAD], err, "t", id)) == NULL)
		return -1;
	if ((rc = db_step(st)) != DB_ROW) {
		db_done(st);
		return db_fail(db, rc == DB_DONE ? DB_ERROR : rc, err,
		    "load job");
	}
	str_copy(job->id, sizeof(job->id), id);
	str_copy(job->client_id, sizeof(job->client_id), db_col_text(st, 0));
	str_copy(job->kind, sizeof(job->kind), db_col_text(st, 1));
	str_copy(job->request, sizeof(job->request), db_col_text(st, 2));
	params = db_col_text(st, 3);
	str_copy(job->transaction_time, sizeof(job->transaction_time),
	    db_col_text(st, 4));
	p2p_err_init(&perr);
	rc = fhir_parse(params ? params : "", params ? strlen(params) : 0,
	    &job->params, &perr);
	db_done(st);
	if (rc == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "job %s has unreadable parameters", id);
	if (snprintf(job->dir, sizeof(job->dir), "%s/%.32s", cfg->output_dir,
	    id) >= (int)sizeof(job->dir))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "output path too long");
	return 0;
}

int
job_claim(struct p2p_db *db, const struct p2p_config *cfg,
    const char *runner, long long stale, struct job *job,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 id[JOB_ID_LEN + 1] = "", tt[32];
	time_t		 now = now_sec();
	int		 rc;

	memset(job, 0, sizeof(*job));
	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_QUEUED], err)) == NULL)
		goto fail;
	if ((rc = db_step(st)) == DB_ROW)
		str_copy(id, sizeof(id), db_col_text(st, 0));
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE) {
		db_fail(db, rc, err, "find queued job");
		goto fail;
	}
	if (id[0] == '\0') {
		/* Nothing queued: a job whose runner died? */
		if ((st = db_stmt(db, sql[STMT_RUNNING], err)) == NULL)
			goto fail;
		while ((rc = db_step(st)) == DB_ROW) {
			if (db_col_int64(st, 2) < now - stale ||
			    runner_dead(db_col_text(st, 1))) {
				log_info("job %s: taking over from %s",
				    db_col_text(st, 0), db_col_text(st, 1) ?
				    db_col_text(st, 1) : "-");
				str_copy(id, sizeof(id), db_col_text(st, 0));
				break;
			}
		}
		db_done(st);
		if (rc != DB_ROW && rc != DB_DONE) {
			db_fail(db, rc, err, "find running jobs");
			goto fail;
		}
	}
	if (id[0] == '\0') {
		db_rollback(db);
		return 0;
	}
	time_instant(now, tt);
	if ((st = db_stmt(db, sql[STMT_TAKE], err)) == NULL)
		goto fail;
	db_bind_text(st, 1, runner);
	db_bind_int64(st, 2, (long long)now);
	db_bind_text(st, 3, tt);
	db_bind_text(st, 4, id);
	db_bind_int64(st, 5, now_ms());
	if (db_step_done(db, st, err, "claim job") == -1)
		goto fail;
	/* A job taken back starts anew: nothing of the dead run counts. */
	if (job_members_clear(db, id, err) == -1 ||
	    load_job(db, cfg, id, job, err) == -1)
		goto fail;
	str_copy(job->runner, sizeof(job->runner), runner);
	if (db_commit(db, err) == -1)
		goto fail;
	return 1;
fail:
	db_rollback(db);
	job_free(job);
	return -1;
}

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	json_object_put(job->params);
	job->params = NULL;
}

int
job_heartbeat(struct p2p_db *db, const struct job *job, const char *runner,
    const char *progress, long long done, long long total,
    struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql[STMT_BEAT], err, "Ittt",
	    (long long)now_sec(), progress, job->id, runner)) == NULL)
		return -1;
	if (total > 0) {
		db_bind_int64(st, 5, done);
		db_bind_int64(st, 6, total);
		db_bind_int64(st, 7, now_ms());
	}
	if (db_step_done(db, st, err, "job heartbeat") == -1)
		return -1;
	return db_changes(db) == 1 ? 0 : 1;
}

int
job_complete(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, const char *runner, struct job_out *o,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	time_t		 now = now_sec();

	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_COMPLETE], err)) == NULL)
		goto fail;
	db_bind_int64(st, 1, (long long)now);
	db_bind_int64(st, 2, (long long)(now + cfg->job_ttl));
	db_bind_text(st, 3, job->id);
	db_bind_text(st, 4, runner);
	if (db_step_done(db, st, err, "complete job") == -1)
		goto fail;
	if (db_changes(db) != 1) {
		/* Cancelled meanwhile, or taken over: not ours to list. */
		db_rollback(db);
		job_dir_remove(cfg, job->id);
		return 1;
	}
	/* Files first: the release records say what was published. */
	if (job_out_finish(o, db, err) == -1 ||
	    job_members_publish(db, job, err) == -1 ||
	    db_commit(db, err) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return -1;
}

int
job_fail(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, const char *runner, const struct p2p_err *why,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*oo;
	time_t		 now = now_sec();
	int		 ours;

	if ((oo = fhir_outcome_new(why)) == NULL) {
		job_dir_remove(cfg, job->id);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if (db_begin(db, err) == -1)
		goto fail;
	if ((st = db_stmt(db, sql[STMT_FAIL], err)) == NULL)
		goto fail;
	db_bind_int64(st, 1, (long long)now);
	db_bind_int64(st, 2, (long long)(now + cfg->job_ttl));
	db_bind_text(st, 3, fhir_json(oo));
	db_bind_text(st, 4, job->id);
	db_bind_text(st, 5, runner);
	if (db_step_done(db, st, err, "fail job") == -1)
		goto fail;
	/* Nothing of a failed run was released: no record stays. */
	if ((ours = db_changes(db) == 1) &&
	    job_members_clear(db, job->id, err) == -1)
		goto fail;
	if (db_commit(db, err) == -1)
		goto fail;
	json_object_put(oo);
	/* A job another runner took back keeps its directory. */
	if (ours)
		job_dir_remove(cfg, job->id);
	return 0;
fail:
	db_rollback(db);
	json_object_put(oo);
	job_dir_remove(cfg, job->id);
	return -1;
}

/* Collects up to 100 ids from a one-column query. */
static int
collect_ids(struct p2p_db *db, enum stmt which, time_t now,
    char ids[][JOB_ID_LEN + 1], int *n, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	*n = 0;
	if ((st = db_stmt(db, sql[which], err)) == NULL)
		return -1;
	if (which == STMT_EXPIRED)
		db_bind_int64(st, 1, (long long)now);
	while ((rc = db_step(st)) == DB_ROW && *n < 100)
		if (str_copy(ids[*n], JOB_ID_LEN + 1, db_col_text(st, 0)) == 0)
			(*n)++;
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "list jobs");
	return 0;
}

int
job_expire(struct p2p_db *db, const struct p2p_config *cfg, time_t now,
    int *n, struct p2p_err *err)
{
	static char	 ids[100][JOB_ID_LEN + 1];
	const enum stmt	 which[2] = { STMT_EXPIRED, STMT_CANCELLED };
	int		 k, i, cnt;

	*n = 0;
	for (k = 0; k < 2; k++) {
		if (collect_ids(db, which[k], now, ids, &cnt, err) == -1)
			return -1;
		for (i = 0; i < cnt; i++) {
			/* Row first: then no status URL lists the files. */
			if (db_run_text(db, sql[STMT_DELETE], ids[i], err,
			    "delete job") == -1)
				return -1;
			job_dir_remove(cfg, ids[i]);
			(*n)++;
		}
	}
	return 0;
}

int
job_cancel(struct p2p_db *db, const struct p2p_config *cfg, const char *id,
    const char *client, struct p2p_err *err)
{
	struct db_stmt	*st;

	if (!job_id_valid(id) || client == NULL || client[0] == '\0')
		return 1;
	if ((st = db_query(db, sql[STMT_CANCEL], err, "tt", id,
	    client)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "cancel job") == -1)
		return -1;
	if (db_changes(db) != 1)
		return 1;
	/*
	 * A runner still working on it notices at its next heartbeat or
	 * at completion and writes nothing listed; the row itself goes at
	 * the runner's next expiry pass.
	 */
	job_dir_remove(cfg, id);
	return 0;
}
