/*
 * status.c - a client's view of its jobs (see status.h): status,
 * manifest, and the signed URLs of the files, signed and checked here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/log.h"
#include "core/util.h"
#include "jobs/queue.h"
#include "jobs/status.h"
#include "json/fhir.h"

enum stmt {
	STMT_GET,		/* a client's job */
	STMT_FILES,		/* a job's files, for the manifest */
	STMT_FILE,		/* one listed file of a job */
	STMT_POLL,		/* a poll of a job in progress */
	STMT_ADVICE,		/* its Retry-After, given after a wait */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_GET */
	"SELECT kind, status, request, progress, transaction_time, error,"
	" expires, started_ms, beat_ms, done, total FROM job"
	" WHERE id = ?1 AND client_id = ?2",
	/* STMT_FILES */
	"SELECT kind, type, name, count FROM job_file WHERE job_id = ?1"
	" ORDER BY seq",
	/* STMT_FILE */
	"SELECT count FROM job_file WHERE job_id = ?1 AND name = ?2"
	" AND kind IN ('output', 'error')",
	/* STMT_POLL: ?3 now (ms), ?4 the Retry-After to give (s), ?5
	 * JOB_POLL_MIN_RA, ?6 JOB_POLL_STRIKES - 1: a poll before half a
	 * Retry-After of ?5 s or more is early; while they come in a row,
	 * the last advice stands */
	"UPDATE job SET"
	" poll_early = CASE WHEN poll_ra >= ?5 AND ?3 < poll_due - poll_ra * 500"
	" THEN poll_early + 1 ELSE 0 END,"
	" poll_due = CASE WHEN poll_ra >= ?5 AND ?3 < poll_due - poll_ra * 500"
	" AND poll_early >= ?6 THEN poll_due ELSE ?3 + ?4 * 1000 END,"
	" poll_ra = CASE WHEN poll_ra >= ?5 AND ?3 < poll_due - poll_ra * 500"
	" AND poll_early >= ?6 THEN poll_ra ELSE ?4 END"
	" WHERE id = ?1 AND client_id = ?2 RETURNING poll_early, poll_due",
	/* STMT_ADVICE */
	"UPDATE job SET poll_due = ?3 + ?4 * 1000, poll_ra = ?4"
	" WHERE id = ?1 AND client_id = ?2",
};

int
job_get(struct p2p_db *db, const char *id, const char *client, time_t now,
    struct job_state *s, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, found = 0;

	memset(s, 0, sizeof(*s));
	if (!job_id_valid(id) || client == NULL || client[0] == '\0')
		return 1;
	if ((st = db_query(db, sql[STMT_GET], err, "tt", id, client)) == NULL)
		return -1;
	rc = db_step(st);
	if (rc == DB_ROW) {
		str_copy(s->kind, sizeof(s->kind), db_col_text(st, 0));
		str_copy(s->status, sizeof(s->status), db_col_text(st, 1));
		str_copy(s->request, sizeof(s->request), db_col_text(st, 2));
		str_copy(s->progress, sizeof(s->progress), db_col_text(st, 3));
		str_copy(s->transaction_time, sizeof(s->transaction_time),
		    db_col_text(st, 4));
		s->error = xstrdup(db_col_text(st, 5));
		s->expires = db_col_int64(st, 6);
		s->started_ms = db_col_int64(st, 7);
		s->beat_ms = db_col_int64(st, 8);
		s->done = db_col_int64(st, 9);
		s->total = db_col_int64(st, 10);
		found = 1;
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
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
job_in_progress(const struct job_state *s)
{
	return strcmp(s->status, "queued") == 0 ||
	    strcmp(s->status, "running") == 0;
}

long long
job_eta_ms(const struct job_state *s, int64_t now)
{
	long long	 spent, left;

	/* A pace needs some time to tell: the first batch also pays for
	 * the runner's start (a cold cache, statements to prepare). */
	if (strcmp(s->status, "running") != 0 || s->done <= 0 ||
	    s->total <= 0 || s->beat_ms - s->started_ms < JOB_PACE_MIN_MS)
		return -1;
	/* At the pace so far, from the last report. */
	spent = s->beat_ms - s->started_ms;
	left = (s->total - s->done) * spent / s->done - (now - s->beat_ms);
	return left < 0 ? 0 : left;
}

int
job_retry_after(const struct job_state *s, int64_t now)
{
	long long	 eta = job_eta_ms(s, now);

	if (eta < 0)
		return 1;
	eta = (eta + 999) / 1000;
	return eta < 1 ? 1 : eta > JOB_RETRY_MAX ? JOB_RETRY_MAX : (int)eta;
}

/*
 * One of cfg->status_waiters slots, a lock on run/status-wait.<k> that
 * dies with the process: the descriptor to close, or -1 when all are
 * taken (or cannot be had).
 */
static int
wait_slot(const struct p2p_config *cfg)
{
	char	 path[PATH_MAX];
	int	 fd;
	long long k;

	for (k = 0; k < cfg->status_waiters; k++) {
		if (snprintf(path, sizeof(path), "%s/run/status-wait.%lld",
		    cfg->data_dir, k) >= (int)sizeof(path))
			return -1;
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
			log_warn("open %s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

int
job_wait(struct p2p_db *db, const struct p2p_config *cfg, const char *id,
    const char *client, struct job_state *s, struct p2p_err *err)
{
	struct timespec	 tick = { 0, JOB_WAIT_TICK_MS * 1000000L };
	int64_t		 now = now_ms(), deadline;
	long long	 eta;
	int		 fd, rc = 0;

	if (cfg->status_wait_ms <= 0 || !job_in_progress(s) ||
	    /* Queued with no runner woken: it waits for cron. */
	    (strcmp(s->status, "queued") == 0 && cfg->runner[0] == '\0') ||
	    (eta = job_eta_ms(s, now)) > cfg->status_wait_ms)
		return 0;
	if ((fd = wait_slot(cfg)) == -1)
		return 0;
	deadline = now + cfg->status_wait_ms;
	while (now < deadline) {
		nanosleep(&tick, NULL);
		job_state_free(s);
		if ((rc = job_get(db, id, client, now_sec(), s, err)) != 0)
			break;
		now = now_ms();
		/* Ended, or its pace says it will not end in time. */
		if (!job_in_progress(s) ||
		    (eta = job_eta_ms(s, now)) > deadline - now)
			break;
	}
	close(fd);
	return rc;
}

int
job_poll(struct p2p_db *db, const char *id, const char *client,
    int64_t now, int ra, int *wait, struct p2p_err *err)
{
	struct db_stmt	*st;
	long long	 early = 0, due = 0;
	int		 rc;

	*wait = 0;
	if ((st = db_query(db, sql[STMT_POLL], err, "ttIiii", id, client,
	    (long long)now, ra, JOB_POLL_MIN_RA, JOB_POLL_STRIKES - 1)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		early = db_col_int64(st, 0);
		due = db_col_int64(st, 1);
		rc = db_step(st);
	}
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "job poll");
	if (early < JOB_POLL_STRIKES)
		return 0;
	*wait = (int)((due - now + 999) / 1000);
	if (*wait < 1)
		*wait = 1;
	return 1;
}

int
job_advise(struct p2p_db *db, const char *id, const char *client,
    int64_t now, int ra, struct p2p_err *err)
{
	return db_run(db, sql[STMT_ADVICE], err, "job poll", "ttIi", id, client,
	    (long long)now, ra);
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
	struct db_stmt		*st;
	int			 rc, complete;

	if (!job_id_valid(id) || !file_name_valid(name))
		return 1;
	if ((rc = job_get(db, id, client, now, &s, err)) != 0)
		return rc;
	complete = strcmp(s.status, "complete") == 0;
	job_state_free(&s);
	if (!complete)
		return 1;
	/* Only files the manifest lists: never a temporary one. */
	if ((st = db_query(db, sql[STMT_FILE], err, "tt", id, name)) == NULL)
		return -1;
	if ((rc = db_exists(db, st, err, "job file")) != 1)
		return rc == 0 ? 1 : -1;
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
	struct db_stmt	*st;
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
	while ((rc = db_step(st)) == DB_ROW) {
		const char *kind = db_col_text(st, 0);

		if (manifest_item(cfg, id, db_col_text(st, 1),
		    db_col_text(st, 2), db_col_int64(st, 3), exp,
		    kind != NULL && strcmp(kind, "error") == 0 ? errors :
		    output, err) == -1) {
			db_done(st);
			json_object_put(m);
			return -1;
		}
	}
	db_done(st);
	if (rc != DB_DONE) {
		json_object_put(m);
		return db_fail(db, rc, err, "list job files");
	}
	*out = m;
	return 0;
}
