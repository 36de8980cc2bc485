/*
 * ndjson.c - the output of a running job (see ndjson.h): a file per
 * resource type and kind (output, error), buffered, written under a
 * temporary name and renamed when the job completes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "jobs/ndjson.h"
#include "json/fhir.h"

enum stmt {
	STMT_FILE_DEL,		/* forget a job's files */
	STMT_FILE_INS,		/* record a finished file */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_FILE_DEL */
	"DELETE FROM job_file WHERE job_id = ?1",
	/* STMT_FILE_INS */
	"INSERT INTO job_file (job_id, seq, kind, type, name, count, bytes)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

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

void
job_dir_remove(const struct p2p_config *cfg, const char *id)
{
	char		 dir[PATH_MAX], path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;

	if (!job_id_valid(id) ||
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

struct job_out {
	char			 dir[PATH_MAX];	/* output_dir/id */
	char			 id[JOB_ID_LEN + 1];
	long long		 max;		/* resources per file */
	struct out_file		*f;		/* every file, in order */
	size_t			 nf;
	job_progress_fn		 progress;	/* runner's callback */
	void			*progress_arg;
};

struct job_out *
job_out_new(const struct job *job, const struct p2p_config *cfg,
    struct p2p_err *err)
{
	struct job_out	*o;

	if (!job_id_valid(job->id)) {
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
	job_dir_remove(cfg, job->id);
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
	if (strlen(kind) >= sizeof(f->kind) || strlen(type) >= sizeof(f->type))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "bad resource type"), NULL;
	memcpy(f->kind, kind, strlen(kind) + 1);
	memcpy(f->type, type, strlen(type) + 1);
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
job_out_finish(struct job_out *o, struct p2p_db *db, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct out_file	*f;
	char		 tmp[PATH_MAX], fin[PATH_MAX];
	size_t		 i;

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
	if (db_run_text(db, sql[STMT_FILE_DEL], o->id, err,
	    "clear job files") == -1)
		return -1;
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
		if ((st = db_query(db, sql[STMT_FILE_INS], err, "titttII",
		    o->id, (int)i + 1, f->kind, f->type, f->name, f->count,
		    f->bytes)) == NULL)
			return -1;
		if (db_step_done(db, st, err, "insert job file") == -1)
			return -1;
	}
	return 0;
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
	free(o->f);
	free(o);
}

