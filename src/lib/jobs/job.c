/*
 * job.c - asynchronous jobs (see job.h): kick-off, the runner's claim /
 * heartbeat / complete / fail / expire, the ndjson writer, the status
 * manifest and signed file URLs.
 *
 * Life of a job (job.status): queued -> running -> complete | failed;
 * cancelled by its client at any time (DELETE on the status URL).  The
 * runner never lists a file it has not finished: files are written as
 * ".<name>.tmp" and renamed, and their job_file rows inserted, in the
 * transaction that marks the job complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json/fhir.h"
#include "jobs/job.h"
#include "core/log.h"
#include "core/util.h"

enum stmt {
	STMT_INSERT,		/* a new queued job */
	STMT_QUEUED,		/* the oldest queued job */
	STMT_RUNNING,		/* running jobs, to take over */
	STMT_TAKE,		/* claim a job */
	STMT_LOAD,		/* a claimed job's request */
	STMT_BEAT,		/* heartbeat and progress */
	STMT_COMPLETE,		/* mark complete */
	STMT_FAIL,		/* mark failed */
	STMT_FILE_DEL,		/* forget a job's files */
	STMT_MEMBER_DEL,	/* forget a job's members */
	STMT_FILE_INS,		/* record a finished file */
	STMT_MEMBER_INS,	/* record a member of the output */
	STMT_EXPIRED,		/* jobs past their time */
	STMT_CANCELLED,		/* cancelled jobs */
	STMT_DELETE,		/* remove a job */
	STMT_GET,		/* a client's job */
	STMT_FILES,		/* a job's files, for the manifest */
	STMT_CANCEL,		/* cancel a client's job */
	STMT_FILE,		/* one listed file of a job */
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
	" started = ?2, transaction_time = ?3, progress = NULL WHERE id = ?4",
	/* STMT_LOAD */
	"SELECT client_id, kind, request, params, transaction_time FROM job"
	" WHERE id = ?1",
	/* STMT_BEAT */
	"UPDATE job SET heartbeat = ?1, progress = coalesce(?2, progress)"
	" WHERE id = ?3 AND status = 'running' AND runner = ?4",
	/* STMT_COMPLETE */
	"UPDATE job SET status = 'complete', finished = ?1, expires = ?2,"
	" progress = NULL WHERE id = ?3 AND status = 'running' AND runner = ?4",
	/* STMT_FAIL */
	"UPDATE job SET status = 'failed', finished = ?1, expires = ?2,"
	" error = ?3, progress = NULL"
	" WHERE id = ?4 AND status = 'running' AND runner = ?5",
	/* STMT_FILE_DEL */
	"DELETE FROM job_file WHERE job_id = ?1",
	/* STMT_MEMBER_DEL */
	"DELETE FROM job_member WHERE job_id = ?1",
	/* STMT_FILE_INS */
	"INSERT INTO job_file (job_id, seq, kind, type, name, count, bytes)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* STMT_MEMBER_INS */
	"INSERT OR REPLACE INTO job_member (job_id, patient, cid)"
	" VALUES (?1, ?2, ?3)",
	/* STMT_EXPIRED */
	"SELECT id FROM job WHERE expires < ?1 LIMIT 100",
	/* STMT_CANCELLED */
	"SELECT id FROM job WHERE status = 'cancelled' LIMIT 100",
	/* STMT_DELETE */
	"DELETE FROM job WHERE id = ?1",
	/* STMT_GET */
	"SELECT kind, status, request, progress, transaction_time, error,"
	" expires FROM job WHERE id = ?1 AND client_id = ?2",
	/* STMT_FILES */
	"SELECT kind, type, name, count FROM job_file WHERE job_id = ?1"
	" ORDER BY seq",
	/* STMT_CANCEL */
	"UPDATE job SET status = 'cancelled', progress = NULL"
	" WHERE id = ?1 AND client_id = ?2 AND status != 'cancelled'",
	/* STMT_FILE */
	"SELECT count FROM job_file WHERE job_id = ?1 AND name = ?2"
	" AND kind IN ('output', 'error')",
};

/* Copies src into a fixed buffer; -1 when it does not fit. */
static int
copy(char *dst, size_t sz, const char *src)
{
	int	 n = snprintf(dst, sz, "%s", src ? src : "");

	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

/* True for a job id as job_create() makes them (32 lowercase hex). */
static int
valid_job_id(const char *id)
{
	size_t	 i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return i == JOB_ID_LEN;
}

/*
 * Removes a job's directory and the files in it (the directory is
 * flat: the writer never makes subdirectories).  Missing is fine.
 */
static void
rm_job_dir(const struct p2p_config *cfg, const char *id)
{
	char		 dir[PATH_MAX], path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;

	if (!valid_job_id(id) ||
	    snprintf(dir, sizeof(dir), "%s/%s", cfg->output_dir, id) >=
	    (int)sizeof(dir))
		return;
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		    (int)sizeof(path) && unlink(path) == -1)
			log_warn("unlink %s: %s", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) == -1 && errno != ENOENT)
		log_warn("rmdir %s: %s", dir, strerror(errno));
}

/* --- kick-off ---------------------------------------------------------- */

int
job_create(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *kind, const char *request,
    json_object *params, char id[JOB_ID_LEN + 1], struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*text;
	time_t		 now = now_sec();
	int		 rc;

	id[0] = '\0';
	if (rand_hex(id, JOB_ID_LEN / 2) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "no random bytes for a job id");
	text = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((st = db_stmt(db, sql[STMT_INSERT], err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, client);
	db_bind_text(st, 3, kind);
	db_bind_text(st, 4, request);
	db_bind_text(st, 5, text);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)(now + cfg->job_ttl));
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "insert job");
	if (cfg->runner[0] != '\0')
		job_wake(cfg);
	return 0;
}

int
job_format_valid(const char *name, const char *value, struct p2p_err *err)
{
	if (strcmp(value, "application/fhir+ndjson") != 0 &&
	    strcmp(value, "application/ndjson") != 0 &&
	    strcmp(value, "ndjson") != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, name,
		    "%s must be application/fhir+ndjson", name);
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

/* --- the ndjson writer ------------------------------------------------- */

#define OUT_BUF		(64 * 1024)	/* stdio buffer per open file */

struct out_file {
	char		 kind[8];	/* output | error */
	char		 type[64];	/* resource type */
	char		 name[96];	/* final name in the job directory */
	FILE		*fp;		/* open while being written */
	char		*buf;		/* its stdio buffer, OUT_BUF bytes */
	long long	 count;		/* resources */
	long long	 bytes;		/* bytes written */
	int		 done;		/* renamed */
};

struct out_member {
	char		*patient;	/* member id */
	long long	 cid;		/* consent */
};

struct job_out {
	char			 dir[PATH_MAX];	/* output_dir/id */
	char			 id[JOB_ID_LEN + 1];
	long long		 max;		/* resources per file */
	struct out_file		*f;		/* every file, in order */
	size_t			 nf;
	struct out_member	*m;		/* members in the output */
	size_t			 nm;
	size_t			 am;		/* room in m */
	job_progress_fn		 progress;	/* runner's callback */
	void			*progress_arg;
};

struct job_out *
job_out_new(const struct job *job, const struct p2p_config *cfg,
    struct p2p_err *err)
{
	struct job_out	*o;

	if (!valid_job_id(job->id)) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "bad job id");
		return NULL;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		return NULL;
	}
	snprintf(o->id, sizeof(o->id), "%s", job->id);
	o->max = cfg->export_file_max > 0 ? cfg->export_file_max : 100000;
	if (snprintf(o->dir, sizeof(o->dir), "%s/%s", cfg->output_dir,
	    job->id) >= (int)sizeof(o->dir)) {
		free(o);
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "output path too long");
		return NULL;
	}
	/* A job taken back from a dead runner starts from scratch. */
	rm_job_dir(cfg, job->id);
	if (mkdir(o->dir, 0750) == -1) {
		log_err("mkdir %s: %s", o->dir, strerror(errno));
		free(o);
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot create the job's output directory");
		return NULL;
	}
	return o;
}

void
job_out_set_progress(struct job_out *o, job_progress_fn fn, void *arg)
{
	o->progress = fn;
	o->progress_arg = arg;
}

int
job_progress(struct job_out *o, long long done, long long total,
    struct p2p_err *err)
{
	if (o == NULL || o->progress == NULL)
		return 0;
	return o->progress(o->progress_arg, done, total, err);
}

/* Closes f's stream and frees its buffer; fclose()'s result. */
static int
out_close(struct out_file *f)
{
	int	 rc = 0;

	if (f->fp != NULL)
		rc = fclose(f->fp);
	f->fp = NULL;
	free(f->buf);
	f->buf = NULL;
	return rc;
}

static int
tmp_path(const struct job_out *o, const struct out_file *f, char *p,
    size_t sz)
{
	return snprintf(p, sz, "%s/.%s.tmp", o->dir, f->name) >= (int)sz ?
	    -1 : 0;
}

/* The open file for kind/type with room for one more resource. */
static struct out_file *
out_file_get(struct job_out *o, const char *kind, const char *type,
    struct p2p_err *err)
{
	struct out_file	*f, *nf;
	char		 path[PATH_MAX];
	size_t		 i;
	int		 seq = 1, fd;

	for (i = 0; i < o->nf; i++) {
		f = &o->f[i];
		if (strcmp(f->kind, kind) != 0 || strcmp(f->type, type) != 0)
			continue;
		seq++;
		if (f->fp == NULL)
			continue;
		if (f->count < o->max)
			return f;
		/* Full: close it; the next resource starts a new file. */
		if (out_close(f) != 0)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot write output"), NULL;
	}
	if ((nf = reallocarray(o->f, o->nf + 1, sizeof(*o->f))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory"), NULL;
	o->f = nf;
	f = &o->f[o->nf];
	memset(f, 0, sizeof(*f));
	if (copy(f->kind, sizeof(f->kind), kind) == -1 ||
	    copy(f->type, sizeof(f->type), type) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "bad resource type"), NULL;
	snprintf(f->name, sizeof(f->name), "%s%s-%d.ndjson", type,
	    strcmp(kind, "error") == 0 ? "-error" : "", seq);
	if (tmp_path(o, f, path, sizeof(path)) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "output path too long"), NULL;
	/*
	 * A modest buffer per open file (one per type): few writes, and
	 * memory bounded by the number of types, not by the group.  Given
	 * by the caller: glibc ignores the size of setvbuf(fp, NULL, ...)
	 * and would use st_blksize (4 KiB), a write(2) every 4 KiB.
	 */
	if ((f->buf = malloc(OUT_BUF)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory"), NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1 || (f->fp = fdopen(fd, "w")) == NULL) {
		free(f->buf);
		f->buf = NULL;
		log_err("open %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot create an output file"), NULL;
	}
	setvbuf(f->fp, f->buf, _IOFBF, OUT_BUF);
	o->nf++;
	return f;
}

static int
out_append(struct job_out *o, const char *kind, const char *type,
    const char *json, size_t len, struct p2p_err *err)
{
	struct out_file	*f;
	size_t		 i;

	/* One resource per line: its text must not hold a line break. */
	if (memchr(json, '\n', len) != NULL || memchr(json, '\r', len) != NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "resource text holds a line break");
	if (len == 0 || json[0] != '{')
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "resource text is not a JSON object");
	for (i = 0; type[i] != '\0'; i++)
		if (!((type[i] >= 'A' && type[i] <= 'Z') ||
		    (type[i] >= 'a' && type[i] <= 'z')))
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "bad resource type");
	if (i == 0)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "bad resource type");
	if ((f = out_file_get(o, kind, type, err)) == NULL)
		return -1;
	if (fwrite(json, 1, len, f->fp) != len || putc('\n', f->fp) == EOF)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot write output");
	f->count++;
	f->bytes += (long long)len + 1;
	return 0;
}

int
job_out_write(struct job_out *o, const char *type, const char *json,
    size_t len, struct p2p_err *err)
{
	return out_append(o, "output", type, json, len, err);
}

int
job_out_error(struct job_out *o, json_object *outcome, struct p2p_err *err)
{
	const char	*s = fhir_json(outcome);

	if (s == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return out_append(o, "error", "OperationOutcome", s, strlen(s), err);
}

int
job_out_member(struct job_out *o, const char *patient, long long cid,
    struct p2p_err *err)
{
	struct out_member	*nm;
	size_t			 am;

	if (o->nm == o->am) {
		/* Grows by half: no realloc per member. */
		am = o->am < 64 ? 64 : o->am + o->am / 2;
		if ((nm = reallocarray(o->m, am, sizeof(*o->m))) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		o->m = nm;
		o->am = am;
	}
	if ((o->m[o->nm].patient = strdup(patient)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	o->m[o->nm++].cid = cid;
	return 0;
}

int
job_out_finish(struct job_out *o, struct p2p_db *db, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	struct out_file	*f;
	char		 tmp[PATH_MAX], fin[PATH_MAX];
	size_t		 i;
	int		 rc;

	/* Close everything first: a failed write shows up at fclose. */
	for (i = 0; i < o->nf; i++) {
		f = &o->f[i];
		if (f->fp != NULL) {
			if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
				out_close(f);
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "cannot write output");
			}
			if (out_close(f) != 0)
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "cannot write output");
		}
	}
	if ((st = db_stmt(db, sql[STMT_FILE_DEL], err)) == NULL)
		return -1;
	db_bind_text(st, 1, o->id);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "clear job files");
	for (i = 0; i < o->nf; i++) {
		f = &o->f[i];
		if (tmp_path(o, f, tmp, sizeof(tmp)) == -1 ||
		    snprintf(fin, sizeof(fin), "%s/%s", o->dir, f->name) >=
		    (int)sizeof(fin))
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "output path too long");
		if (!f->done && rename(tmp, fin) == -1) {
			log_err("rename %s: %s", tmp, strerror(errno));
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot finish an output file");
		}
		f->done = 1;
		if ((st = db_stmt(db, sql[STMT_FILE_INS], err)) == NULL)
			return -1;
		db_bind_text(st, 1, o->id);
		sqlite3_bind_int(st, 2, (int)i + 1);
		db_bind_text(st, 3, f->kind);
		db_bind_text(st, 4, f->type);
		db_bind_text(st, 5, f->name);
		sqlite3_bind_int64(st, 6, f->count);
		sqlite3_bind_int64(st, 7, f->bytes);
		rc = sqlite3_step(st);
		db_done(st);
		if (rc != SQLITE_DONE)
			return db_fail(db, rc, err, "insert job file");
	}
	for (i = 0; i < o->nm; i++)
		if (job_member_add(db, o->id, o->m[i].patient, o->m[i].cid,
		    err) == -1)
			return -1;
	return 0;
}

int
job_member_add(struct p2p_db *db, const char *job_id, const char *patient,
    long long cid, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_MEMBER_INS], err)) == NULL)
		return -1;
	db_bind_text(st, 1, job_id);
	db_bind_text(st, 2, patient);
	if (cid > 0)
		sqlite3_bind_int64(st, 3, cid);
	rc = sqlite3_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, "insert job member");
}

int
job_members_clear(struct p2p_db *db, const char *job_id, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_MEMBER_DEL], err)) == NULL)
		return -1;
	db_bind_text(st, 1, job_id);
	rc = sqlite3_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, "clear job members");
}

void
job_out_free(struct job_out *o)
{
	char	 tmp[PATH_MAX];
	size_t	 i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nf; i++) {
		out_close(&o->f[i]);
		if (!o->f[i].done && tmp_path(o, &o->f[i], tmp,
		    sizeof(tmp)) == 0)
			unlink(tmp);
	}
	for (i = 0; i < o->nm; i++)
		free(o->m[i].patient);
	free(o->m);
	free(o->f);
	free(o);
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
	sqlite3_stmt	*st;
	struct p2p_err	 perr;
	const char	*params;
	int		 rc;

	memset(job, 0, sizeof(*job));
	if ((st = db_stmt(db, sql[STMT_LOAD], err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		db_done(st);
		return db_fail(db, rc == SQLITE_DONE ? SQLITE_ERROR : rc, err,
		    "load job");
	}
	copy(job->id, sizeof(job->id), id);
	copy(job->client_id, sizeof(job->client_id), db_col_text(st, 0));
	copy(job->kind, sizeof(job->kind), db_col_text(st, 1));
	copy(job->request, sizeof(job->request), db_col_text(st, 2));
	params = db_col_text(st, 3);
	copy(job->transaction_time, sizeof(job->transaction_time),
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
	sqlite3_stmt	*st;
	char		 id[JOB_ID_LEN + 1] = "", tt[32];
	time_t		 now = now_sec();
	int		 rc;

	memset(job, 0, sizeof(*job));
	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_QUEUED], err)) == NULL)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		copy(id, sizeof(id), db_col_text(st, 0));
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(db, rc, err, "find queued job");
		goto fail;
	}
	if (id[0] == '\0') {
		/* Nothing queued: a job whose runner died? */
		if ((st = db_stmt(db, sql[STMT_RUNNING], err)) == NULL)
			goto fail;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (sqlite3_column_int64(st, 2) < now - stale ||
			    runner_dead(db_col_text(st, 1))) {
				log_info("job %s: taking over from %s",
				    db_col_text(st, 0), db_col_text(st, 1) ?
				    db_col_text(st, 1) : "-");
				copy(id, sizeof(id), db_col_text(st, 0));
				break;
			}
		}
		db_done(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
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
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	db_bind_text(st, 3, tt);
	db_bind_text(st, 4, id);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE) {
		db_fail(db, rc, err, "claim job");
		goto fail;
	}
	if (load_job(db, cfg, id, job, err) == -1 || db_commit(db, err) == -1)
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
    const char *progress, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(db, sql[STMT_BEAT], err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_sec());
	db_bind_text(st, 2, progress);
	db_bind_text(st, 3, job->id);
	db_bind_text(st, 4, runner);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "job heartbeat");
	return sqlite3_changes(db->h) == 1 ? 0 : 1;
}

int
job_complete(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, const char *runner, struct job_out *o,
    struct p2p_err *err)
{
	sqlite3_stmt	*st;
	time_t		 now = now_sec();
	int		 rc;

	if (db_begin(db, err) == -1)
		return -1;
	if ((st = db_stmt(db, sql[STMT_COMPLETE], err)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now + cfg->job_ttl));
	db_bind_text(st, 3, job->id);
	db_bind_text(st, 4, runner);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE) {
		db_fail(db, rc, err, "complete job");
		goto fail;
	}
	if (sqlite3_changes(db->h) != 1) {
		/* Cancelled meanwhile, or taken over: not ours to list. */
		db_rollback(db);
		rm_job_dir(cfg, job->id);
		return 1;
	}
	if (job_out_finish(o, db, err) == -1 || db_commit(db, err) == -1)
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
	sqlite3_stmt	*st;
	json_object	*oo;
	time_t		 now = now_sec();
	int		 rc;

	rm_job_dir(cfg, job->id);
	if ((oo = fhir_outcome_new(why)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((st = db_stmt(db, sql[STMT_FAIL], err)) == NULL) {
		json_object_put(oo);
		return -1;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now + cfg->job_ttl));
	db_bind_text(st, 3, fhir_json(oo));
	db_bind_text(st, 4, job->id);
	db_bind_text(st, 5, runner);
	rc = sqlite3_step(st);
	db_done(st);
	json_object_put(oo);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "fail job");
	return 0;
}

/* Collects up to 100 ids from a one-column query. */
static int
collect_ids(struct p2p_db *db, enum stmt which, time_t now,
    char ids[][JOB_ID_LEN + 1], int *n, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	*n = 0;
	if ((st = db_stmt(db, sql[which], err)) == NULL)
		return -1;
	if (which == STMT_EXPIRED)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < 100)
		if (copy(ids[*n], JOB_ID_LEN + 1, db_col_text(st, 0)) == 0)
			(*n)++;
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, err, "list jobs");
	return 0;
}

int
job_expire(struct p2p_db *db, const struct p2p_config *cfg, time_t now,
    int *n, struct p2p_err *err)
{
	static char	 ids[100][JOB_ID_LEN + 1];
	sqlite3_stmt	*st;
	const enum stmt	 which[2] = { STMT_EXPIRED, STMT_CANCELLED };
	int		 k, i, cnt, rc;

	*n = 0;
	for (k = 0; k < 2; k++) {
		if (collect_ids(db, which[k], now, ids, &cnt, err) == -1)
			return -1;
		for (i = 0; i < cnt; i++) {
			/* Row first: then no status URL lists the files. */
			if ((st = db_stmt(db, sql[STMT_DELETE], err)) == NULL)
				return -1;
			db_bind_text(st, 1, ids[i]);
			rc = sqlite3_step(st);
			db_done(st);
			if (rc != SQLITE_DONE)
				return db_fail(db, rc, err, "delete job");
			rm_job_dir(cfg, ids[i]);
			(*n)++;
		}
	}
	return 0;
}

/* --- status side ------------------------------------------------------- */

int
job_get(struct p2p_db *db, const char *id, const char *client, time_t now,
    struct job_state *s, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc, found = 0;

	memset(s, 0, sizeof(*s));
	if (!valid_job_id(id) || client == NULL || client[0] == '\0')
		return 1;
	if ((st = db_stmt(db, sql[STMT_GET], err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, client);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy(s->kind, sizeof(s->kind), db_col_text(st, 0));
		copy(s->status, sizeof(s->status), db_col_text(st, 1));
		copy(s->request, sizeof(s->request), db_col_text(st, 2));
		copy(s->progress, sizeof(s->progress), db_col_text(st, 3));
		copy(s->transaction_time, sizeof(s->transaction_time),
		    db_col_text(st, 4));
		s->error = xstrdup(db_col_text(st, 5));
		s->expires = sqlite3_column_int64(st, 6);
		found = 1;
	}
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, err, "read job");
	if (!found || strcmp(s->status, "cancelled") == 0 || s->expires < now) {
		job_state_free(s);
		return 1;
	}
	return 0;
}

void
job_state_free(struct job_state *s)
{
	free(s->error);
	s->error = NULL;
}

int
job_url_sign(const struct p2p_config *cfg, const char *path, long long exp,
    char hex[65], struct p2p_err *err)
{
	char		 kpath[PATH_MAX], key[160], msg[1024];
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	size_t		 klen;
	FILE		*fp;
	int		 mlen;
	unsigned	 i;

	hex[0] = '\0';
	if (snprintf(kpath, sizeof(kpath), "%s/keys/secdownload.key",
	    cfg->data_dir) >= (int)sizeof(kpath) ||
	    (fp = fopen(kpath, "r")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "no URL signing key");
	klen = fread(key, 1, sizeof(key) - 1, fp);
	fclose(fp);
	while (klen > 0 && (key[klen - 1] == '\n' || key[klen - 1] == '\r'))
		klen--;
	mlen = snprintf(msg, sizeof(msg), "%s\n%lld", path, exp);
	if (klen < 32 || mlen < 0 || (size_t)mlen >= sizeof(msg)) {
		OPENSSL_cleanse(key, sizeof(key));
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot sign a file URL");
	}
	if (HMAC(EVP_sha256(), key, (int)klen, (unsigned char *)msg,
	    (size_t)mlen, mac, &maclen) == NULL || maclen != 32) {
		OPENSSL_cleanse(key, sizeof(key));
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot sign a file URL");
	}
	OPENSSL_cleanse(key, sizeof(key));
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int
job_url_check(const struct p2p_config *cfg, const char *path,
    const char *exp_s, const char *sig, time_t now, struct p2p_err *err)
{
	char		 want[65];
	long long	 exp;

	if (exp_s == NULL || sig == NULL ||
	    parse_ll(exp_s, 0, 1LL << 40, &exp) == -1 || strlen(sig) != 64)
		return p2p_fail(err, 403, P2P_ISSUE_SECURITY,
		    "the file URL is not signed; take it from the manifest");
	if (exp < (long long)now)
		return p2p_fail(err, 403, P2P_ISSUE_EXPIRED,
		    "the file URL has expired; poll the status URL again "
		    "for fresh links");
	if (job_url_sign(cfg, path, exp, want, err) == -1)
		return -1;
	if (CRYPTO_memcmp(want, sig, 64) != 0)
		return p2p_fail(err, 403, P2P_ISSUE_SECURITY,
		    "the file URL's signature does not match");
	return 0;
}

/* A file name as the writer makes them: [A-Za-z0-9-]+.ndjson. */
static int
file_name_valid(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n < 8 || n > 95 || strcmp(s + n - 7, ".ndjson") != 0)
		return 0;
	for (i = 0; i < n - 7; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int
job_file(struct p2p_db *db, const struct p2p_config *cfg, const char *id,
    const char *name, const char *client, time_t now, char *path,
    size_t pathsz, struct p2p_err *err)
{
	struct job_state	 s;
	sqlite3_stmt		*st;
	int			 rc, complete;

	if (!valid_job_id(id) || !file_name_valid(name))
		return 1;
	if ((rc = job_get(db, id, client, now, &s, err)) != 0)
		return rc;
	complete = strcmp(s.status, "complete") == 0;
	job_state_free(&s);
	if (!complete)
		return 1;
	/* Only files the manifest lists: never a temporary one. */
	if ((st = db_stmt(db, sql[STMT_FILE], err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, name);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, err, "job file");
	if (rc != SQLITE_ROW)
		return 1;
	if (snprintf(path, pathsz, "%s/%s/%s", cfg->output_dir, id, name) >=
	    (int)pathsz)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "path too long");
	return 0;
}

/* Appends {type, url, count} for one job_file row to arr. */
static int
manifest_item(const struct p2p_config *cfg, const char *id,
    const char *type, const char *name, long long count, long long exp,
    json_object *arr, struct p2p_err *err)
{
	json_object	*item;
	char		 path[256], sig[65];
	struct p2p_buf	 url = { 0 };
	int		 rc = -1;

	snprintf(path, sizeof(path), "/bulk/%s/%s", id, name);
	if (buf_printf(&url, "%s%s", cfg->base_url, path) == -1)
		goto out;
	if (cfg->signed_urls) {
		if (job_url_sign(cfg, path, exp, sig, err) == -1)
			goto out;
		if (buf_printf(&url, "?exp=%lld&sig=%s", exp, sig) == -1)
			goto out;
	}
	if ((item = json_object_new_object()) == NULL ||
	    fhir_push(arr, item) == -1 ||
	    fhir_add_str(item, "type", type) == -1 ||
	    fhir_add_str(item, "url", url.p) == -1 ||
	    fhir_add_int(item, "count", count) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&url);
	if (rc == -1)
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot build the manifest");
	return rc;
}

int
job_manifest(struct p2p_db *db, const struct p2p_config *cfg,
    const char *id, const struct job_state *s, time_t now,
    json_object **out, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	json_object	*m, *output, *errors;
	long long	 exp;
	int		 rc;

	*out = NULL;
	/* A signed URL lives url_ttl, never past the job itself. */
	exp = (long long)now + cfg->url_ttl;
	if (exp > s->expires)
		exp = s->expires;
	if ((m = json_object_new_object()) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	output = json_object_new_array();
	errors = json_object_new_array();
	if (fhir_add_str(m, "transactionTime", s->transaction_time) == -1 ||
	    fhir_add_str(m, "request", s->request) == -1 ||
	    /* Files are served only to the job's client with its token. */
	    fhir_add_bool(m, "requiresAccessToken", 1) == -1 ||
	    fhir_add(m, "output", output) == -1 ||
	    fhir_add(m, "error", errors) == -1) {
		json_object_put(m);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if ((st = db_stmt(db, sql[STMT_FILES], err)) == NULL) {
		json_object_put(m);
		return -1;
	}
	db_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = db_col_text(st, 0);

		if (manifest_item(cfg, id, db_col_text(st, 1),
		    db_col_text(st, 2), sqlite3_column_int64(st, 3), exp,
		    kind != NULL && strcmp(kind, "error") == 0 ? errors :
		    output, err) == -1) {
			db_done(st);
			json_object_put(m);
			return -1;
		}
	}
	db_done(st);
	if (rc != SQLITE_DONE) {
		json_object_put(m);
		return db_fail(db, rc, err, "list job files");
	}
	*out = m;
	return 0;
}

int
job_cancel(struct p2p_db *db, const struct p2p_config *cfg, const char *id,
    const char *client, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (!valid_job_id(id) || client == NULL || client[0] == '\0')
		return 1;
	if ((st = db_stmt(db, sql[STMT_CANCEL], err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, client);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "cancel job");
	if (sqlite3_changes(db->h) != 1)
		return 1;
	/*
	 * A runner still working on it notices at its next heartbeat or
	 * at completion and writes nothing listed; the row itself goes at
	 * the runner's next expiry pass.
	 */
	rm_job_dir(cfg, id);
	return 0;
}
