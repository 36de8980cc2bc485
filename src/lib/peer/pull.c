/*
 * peer/pull.c - see pull.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/util.h"
#include "peer/pull.h"

static const char *const kind_names[PULL_KIND__MAX] = {
	"match",	/* PULL_MATCH */
	"export",	/* PULL_EXPORT */
	"everything",	/* PULL_EVERYTHING */
};
static const char *const state_names[PULL_STATE__MAX] = {
	"polling",	/* PULL_POLLING */
	"downloading",	/* PULL_DOWNLOADING */
	"loading",	/* PULL_LOADING */
	"done",		/* PULL_DONE */
	"failed",	/* PULL_FAILED */
};
static const char *const fstate_names[PF__MAX] = {
	"pending",	/* PF_PENDING */
	"done",		/* PF_DONE */
	"loaded",	/* PF_LOADED */
	"failed",	/* PF_FAILED */
};

static const char *const sql_ins =
    "INSERT INTO pull (peer, kind, state, status_url, group_id, since,"
    " created, updated) VALUES (?1, ?2, 'polling', ?3, nullif(?4, ''),"
    " nullif(?5, ''), ?6, ?6)";
static const char *const sql_get =
    "SELECT pid, peer, kind, state, status_url, coalesce(group_id, ''),"
    " coalesce(since, ''), coalesce(transaction_time, ''), created,"
    " next_poll, attempts, coalesce(reason, '') FROM pull WHERE pid = ?1";
static const char *const sql_open =
    "SELECT pid FROM pull WHERE peer = ?1 AND state IN ('polling',"
    " 'downloading', 'loading') ORDER BY pid";
static const char *const sql_set =
    "UPDATE pull SET state = ?2, reason = ?3, next_poll = ?4, attempts = ?5,"
    " updated = ?6 WHERE pid = ?1";
static const char *const sql_tt =
    "UPDATE pull SET transaction_time = ?2 WHERE pid = ?1";
static const char *const sql_mem_ins =
    "INSERT INTO pull_member (pid, patient, seq, remote_id)"
    " VALUES (?1, ?2, ?3, nullif(?4, ''))"
    " ON CONFLICT (pid, patient) DO UPDATE SET seq = excluded.seq,"
    " remote_id = coalesce(excluded.remote_id, remote_id)";
static const char *const sql_mem_remote =
    "UPDATE pull_member SET remote_id = ?3 WHERE pid = ?1 AND patient = ?2";
static const char *const sql_mem_all =
    "SELECT patient, seq, coalesce(remote_id, '') FROM pull_member"
    " WHERE pid = ?1 ORDER BY seq, patient";
static const char *const sql_files =
    "SELECT seq, kind, type, url, coalesce(count, -1), bytes,"
    " coalesce(lines, -1), state, attempts, coalesce(reason, '')"
    " FROM pull_file WHERE pid = ?1 ORDER BY seq";
static const char *const sql_file_ins =
    "INSERT INTO pull_file (pid, seq, kind, type, url, count, state)"
    " VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, -1), 'pending')";
static const char *const sql_file_url =
    "UPDATE pull_file SET url = ?3 WHERE pid = ?1 AND seq = ?2";
static const char *const sql_file_set =
    "UPDATE pull_file SET bytes = ?3, lines = nullif(?4, -1), state = ?5,"
    " attempts = ?6, reason = nullif(?7, '') WHERE pid = ?1 AND seq = ?2";

const char *
pull_kind_name(enum pull_kind k)
{
	return name_of(kind_names, PULL_KIND__MAX, (int)k);
}

const char *
pull_state_name(enum pull_state s)
{
	return name_of(state_names, PULL_STATE__MAX, (int)s);
}

int
pull_create(struct p2p_db *db, const char *peer, enum pull_kind kind,
    const char *status_url, const char *group_id, const char *since,
    long long *pid, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql_ins, err, "tttttI", peer,
	    pull_kind_name(kind), status_url, group_id ? group_id : "",
	    since ? since : "", (long long)now_sec())) == NULL)
		return -1;
	if (db_step_done(db, st, err, "pull insert") == -1)
		return -1;
	*pid = db_last_id(db);
	return 0;
}

int
pull_get(struct p2p_db *db, long long pid, struct pull *p,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, k;

	if ((st = db_query(db, sql_get, err, "I", pid)) == NULL)
		return -1;
	if ((rc = db_step_row(db, st, err, "pull")) != 0)
		return rc;
	memset(p, 0, sizeof(*p));
	db_row(st, "Ic--ccccIIic", &p->pid, p->peer, sizeof(p->peer),
	    p->status_url, sizeof(p->status_url), p->group_id,
	    sizeof(p->group_id), p->since, sizeof(p->since),
	    p->transaction_time, sizeof(p->transaction_time), &p->created,
	    &p->next_poll, &p->attempts, p->reason, sizeof(p->reason));
	k = name_index(kind_names, PULL_KIND__MAX, db_col_text(st, 2));
	p->kind = k < 0 ? PULL_EVERYTHING : (enum pull_kind)k;
	k = name_index(state_names, PULL_STATE__MAX, db_col_text(st, 3));
	p->state = k < 0 ? PULL_FAILED : (enum pull_state)k;
	db_done(st);
	return 0;
}

int
pull_open(struct p2p_db *db, const char *peer, long long *pids, size_t max,
    size_t *n, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	*n = 0;
	if ((st = db_query(db, sql_open, err, "t", peer)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		pids[(*n)++] = db_col_int64(st, 0);
	db_done(st);
	return rc == DB_DONE || rc == DB_ROW ? 0 :
	    db_fail(db, rc, err, "open pulls");
}

int
pull_set(struct p2p_db *db, struct pull *p, enum pull_state state,
    const char *reason, struct p2p_err *err)
{
	p->state = state;
	str_copy(p->reason, sizeof(p->reason), reason);
	return db_run(db, sql_set, err, "pull update", "IttIiI", p->pid,
	    pull_state_name(state), reason, p->next_poll, p->attempts,
	    (long long)now_sec());
}

int
pull_member_add(struct p2p_db *db, long long pid, const char *patient,
    long long seq, const char *remote_id, struct p2p_err *err)
{
	return db_run(db, sql_mem_ins, err, "pull member", "ItIt", pid, patient,
	    seq, remote_id ? remote_id : "");
}

int
pull_member_remote(struct p2p_db *db, long long pid, const char *patient,
    const char *remote_id, struct p2p_err *err)
{
	return db_run(db, sql_mem_remote, err, "pull member", "Itt", pid,
	    patient, remote_id);
}

int
pull_members(struct p2p_db *db, long long pid,
    int (*fn)(void *, const char *, long long, const char *), void *arg,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if ((st = db_query(db, sql_mem_all, err, "I", pid)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW)
		if (fn(arg, db_col_text(st, 0), db_col_int64(st, 1),
		    db_col_text(st, 2)) == -1) {
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
	return db_end(db, st, rc, err, "pull members");
}

/* db_rows() callback: a pull_file row. */
static void
row_file(struct db_stmt *st, void *elem, void *arg)
{
	struct pull_file	*f = elem;
	int			 k;

	(void)arg;
	db_row(st, "I-ccIII-ic", &f->seq, f->type, sizeof(f->type), f->url,
	    sizeof(f->url), &f->count, &f->bytes, &f->lines, &f->attempts,
	    f->reason, sizeof(f->reason));
	f->error = db_col_text(st, 1) != NULL &&
	    strcmp(db_col_text(st, 1), "error") == 0;
	k = name_index(fstate_names, PF__MAX, db_col_text(st, 7));
	f->state = k < 0 ? PF_FAILED : (enum pull_fstate)k;
}

int
pull_files(struct p2p_db *db, long long pid, struct pull_file **out,
    size_t *n, struct p2p_err *err)
{
	struct db_stmt	*st;

	*out = NULL;
	*n = 0;
	if ((st = db_query(db, sql_files, err, "I", pid)) == NULL)
		return -1;
	return db_rows(db, st, sizeof(**out), 16, row_file, NULL, out, n, err,
	    "pull files");
}

int
pull_file_set(struct p2p_db *db, long long pid, const struct pull_file *f,
    struct p2p_err *err)
{
	return db_run(db, sql_file_set, err, "pull file", "IIIItit", pid,
	    f->seq, f->bytes, f->lines, fstate_names[f->state], f->attempts,
	    f->reason);
}

int
pull_files_put(struct p2p_db *db, struct pull *p, const struct manifest *m,
    struct p2p_err *err)
{
	struct pull_file	*old = NULL;
	struct db_stmt		*st;
	char			 a[MANIFEST_URL_MAX], b[MANIFEST_URL_MAX];
	size_t			 n, i;
	int			 rc = -1;

	if (pull_files(db, p->pid, &old, &n, err) == -1)
		return -1;
	if (db_begin(db, err) == -1)
		goto out;
	if (n > 0 && n != m->nfiles) {
		p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "the manifest now lists"
		    " %zu files, before %zu", m->nfiles, n);
		goto fail;
	}
	for (i = 0; i < m->nfiles; i++) {
		if (n > 0) {
			/* Same file, fresh signature: only the query differs. */
			manifest_url_path(old[i].url, a, sizeof(a));
			manifest_url_path(m->files[i].url, b, sizeof(b));
			if (strcmp(a, b) != 0) {
				p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "the "
				    "manifest's file %zu changed (%.200s)", i,
				    b);
				goto fail;
			}
			if ((st = db_stmt(db, sql_file_url, err)) == NULL)
				goto fail;
			db_bind_int64(st, 1, p->pid);
			db_bind_int64(st, 2, (long long)i);
			db_bind_text(st, 3, m->files[i].url);
		} else {
			if ((st = db_stmt(db, sql_file_ins, err)) == NULL)
				goto fail;
			db_bind_int64(st, 1, p->pid);
			db_bind_int64(st, 2, (long long)i);
			db_bind_text(st, 3, m->files[i].error ? "error" :
			    "output");
			db_bind_text(st, 4, m->files[i].type);
			db_bind_text(st, 5, m->files[i].url);
			db_bind_int64(st, 6, m->files[i].count);
		}
		if (db_step_done(db, st, err, "pull file") == -1)
			goto fail;
	}
	if ((st = db_stmt(db, sql_tt, err)) == NULL)
		goto fail;
	db_bind_int64(st, 1, p->pid);
	db_bind_text(st, 2, m->transaction_time);
	if (db_step_done(db, st, err, "pull transaction time") == -1 ||
	    db_commit(db, err) == -1)
		goto fail;
	str_copy(p->transaction_time, sizeof(p->transaction_time),
	    m->transaction_time);
	rc = 0;
	goto out;
fail:
	db_rollback(db);
out:
	free(old);
	return rc;
}

int
pull_kickoff(struct smart *s, const char *method, const char *url,
    const char *body, struct httpc_resp *r, char *status_url, size_t sz,
    struct p2p_err *err)
{
	struct httpc_req	 q;

	status_url[0] = '\0';
	memset(&q, 0, sizeof(q));
	q.method = method;
	q.url = url;
	q.accept = "application/fhir+json";
	q.prefer = "respond-async";
	if (body != NULL) {
		q.ctype = "application/fhir+json";
		q.body = body;
		q.body_len = strlen(body);
	}
	q.timeout = s->timeout;
	if (smart_call(s, &q, r, err) == -1)
		return -1;
	if (r->status != 202)
		return 0;
	if (r->location[0] == '\0' || strlen(r->location) >= sz ||
	    !httpc_same_origin(r->location, s->peer.base_url) ||
	    !httpc_url_ok(s->cfg, r->location)) {
		httpc_resp_free(r);
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "peer %s "
		    "accepted the request without a usable Content-Location "
		    "on its own origin", s->peer.name);
	}
	snprintf(status_url, sz, "%s", r->location);
	return 0;
}

long long
pull_after(long long s)
{
	return (now_ms() + s * 1000 + 999) / 1000;
}

int
pull_poll(struct smart *s, struct pull *p, struct manifest *m,
    struct p2p_err *err)
{
	struct httpc_req	 q;
	struct httpc_resp	 r;
	char			 text[400], code[32];
	long long		 wait;
	int			 rc;

	memset(m, 0, sizeof(*m));
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.url = p->status_url;
	q.accept = "application/json";
	q.timeout = s->timeout;
	if (smart_call(s, &q, &r, err) == -1)
		return -1;
	p->progress[0] = '\0';
	switch (r.status) {
	case 200:
		rc = manifest_parse(r.body.p, r.body.len, s->peer.base_url, m,
		    err);
		if (rc == -1)
			manifest_free(m);
		httpc_resp_free(&r);
		return rc;
	case 202:
	case 429:
		/* Working (or asked to slow down): wait as told. */
		wait = r.retry_after >= 0 ? r.retry_after : PULL_POLL_DEFAULT;
		if (wait > PULL_POLL_MAX)
			wait = PULL_POLL_MAX;
		if (wait < 1)
			wait = 1;
		p->next_poll = pull_after(wait);
		snprintf(p->progress, sizeof(p->progress), "%s",
		    r.status == 429 ? "throttled (429)" : r.progress[0] ?
		    r.progress : "in progress");
		httpc_resp_free(&r);
		return 1;
	default:
		break;
	}
	httpc_outcome_text(r.body.p, r.body.len, text, sizeof(text));
	httpc_outcome_code(r.body.p, r.body.len, code, sizeof(code));
	if (r.status == 404 || r.status == 410)
		rc = p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "the peer's job is "
		    "gone (HTTP %ld: revoked, expired or deleted): %s",
		    r.status, text);
	else if (r.status == 503 || (r.status >= 500 &&
	    strcmp(code, "transient") == 0)) {
		rc = p2p_fail(err, 503, P2P_ISSUE_TRANSIENT, "status %ld: %s",
		    r.status, text);
		err->retry_after = (int)(r.retry_after > 0 ? r.retry_after : 0);
	} else
		rc = p2p_fail(err, r.status >= 500 ? 502 : (int)r.status,
		    P2P_ISSUE_PROCESSING, "the peer's job failed (HTTP %ld): "
		    "%s", r.status, text);
	httpc_resp_free(&r);
	return rc;
}

void
pull_release(struct smart *s, const struct pull *p)
{
	struct httpc_req	 q;
	struct httpc_resp	 r;
	struct p2p_err		 e;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.url = p->status_url;
	q.accept = "application/fhir+json";
	q.timeout = s->timeout;
	p2p_err_init(&e);
	if (smart_call(s, &q, &r, &e) == 0)
		httpc_resp_free(&r);
}

int
pull_dir(const struct p2p_config *cfg, long long pid, char *out, size_t sz)
{
	char	 top[PATH_MAX];
	int	 n;

	n = snprintf(top, sizeof(top), "%s/inbound", cfg->data_dir);
	if (n < 0 || (size_t)n >= sizeof(top) ||
	    (mkdir(top, 0700) == -1 && errno != EEXIST))
		return -1;
	n = snprintf(out, sz, "%s/%lld", top, pid);
	if (n < 0 || (size_t)n >= sz)
		return -1;
	if (mkdir(out, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}
