/*
 * p2p-runner - the export runner: completes queued asynchronous jobs
 * ($bulk-member-match, Patient/$everything async, $davinci-data-export)
 * and removes expired ones.  See docs/operations.md ("Export runner").
 *
 *   p2p-runner [-c p2p.conf] [--stale S] --once
 *   p2p-runner [-c p2p.conf] [--stale S] --loop [--interval S]
 *
 * --once takes jobs until none is queued, then exits (what cron runs);
 * --loop does the same every --interval seconds (default 5) until
 * SIGINT/SIGTERM.  Both checkpoint the WAL after each pass, --loop also
 * every second in between: request processes leave that to the runner
 * (db_defer_checkpoints).  Jobs are claimed in a BEGIN IMMEDIATE transaction,
 * so any number of runners may run at once; a running job whose
 * heartbeat is older than --stale seconds (default 300), or whose
 * runner on this host is gone, is taken back.
 *
 * Exit status: 0 every job taken completed (or there was none),
 * 1 at least one job failed (its status URL reports why), 2 usage,
 * 3 the runner could not work (configuration, database, or run as
 * root without allow_root).
 *
 * Lines go to p2p.conf's log_file (log.h), and to stderr as well when
 * that is a terminal.
 *
 * P2P_RUNNER_DELAY_MS (tests only) sleeps that long at every progress
 * report, so a test can catch a job half way.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "jobs/export.h"
#include "jobs/ndjson.h"
#include "jobs/queue.h"
#include "member/bulkmatch.h"
#include "member/match.h"
#include "store/db.h"

static volatile sig_atomic_t	 stopping;

struct runner {
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	char			 id[300];	/* host:pid */
	long long		 stale;		/* seconds */
	long long		 delay_ms;	/* test slow-down */
	int			 tty;		/* progress on stderr */
	const struct job	*job;		/* the current job */
	time_t			 last_beat;	/* last heartbeat */
};

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
usage(FILE *to, int status)
{
	fprintf(to, "usage: p2p-runner [-c p2p.conf] [--stale S] --once\n"
	    "       p2p-runner [-c p2p.conf] [--stale S] --loop "
	    "[--interval S]\n"
	    "       p2p-runner --help\n"
	    "Completes queued bulk jobs, removes expired ones, checkpoints "
	    "the database.\n"
	    "  -c FILE       configuration (default: $P2P_CONF, else "
	    "$P2P_DATA/p2p.conf,\n"
	    "                else %s)\n"
	    "  --once        take jobs until none is queued, then exit "
	    "(cron, systemd timer)\n"
	    "  --loop        the same every --interval seconds (default 5) "
	    "until SIGTERM\n"
	    "  --stale S     take back running jobs silent for S seconds "
	    "(default 300)\n"
	    "Logs go to p2p.conf's log_file (also to stderr on a terminal). "
	    "See p2p-runner(8).\n", config_default_path());
	return status;
}

/* The job_out progress callback: heartbeat, terminal line, slow-down. */
static int
progress(void *arg, long long done, long long total, struct p2p_err *err)
{
	struct runner	*r = arg;
	char		 text[100];
	time_t		 now = now_sec();
	int		 rc;

	if (r->delay_ms > 0) {
		struct timespec ts = { r->delay_ms / 1000,
		    (r->delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (total > 0)
		snprintf(text, sizeof(text), "%lld%% complete (%lld of %lld)",
		    done * 100 / total, done, total);
	else
		snprintf(text, sizeof(text), "%lld done", done);
	if (r->tty)
		fprintf(stderr, "\rjob %.8s: %s   ", r->job->id, text);
	/* At most one write a second, unless slowed down for a test. */
	if (now == r->last_beat && r->delay_ms == 0 && done != total)
		return 0;
	r->last_beat = now;
	if ((rc = job_heartbeat(&r->db, r->job, r->id, text, done, total,
	    err)) == -1)
		return -1;
	if (rc == 1)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT,
		    "the job was cancelled or taken over");
	if (stopping)
		return p2p_fail(err, 503, P2P_ISSUE_TRANSIENT,
		    "the runner is stopping");
	return 0;
}

/*
 * Runs one claimed job to its end.  Returns 0 complete, 1 failed (or
 * cancelled), -1 when the runner should stop (it was asked to, or the
 * job could not even be marked failed).
 */
static int
run_job(struct runner *r, struct job *job)
{
	struct job_out	*o = NULL;
	struct p2p_err	 err, e2;
	int		 rc;

	p2p_err_init(&err);
	r->job = job;
	r->last_beat = 0;
	log_info("job %s: %s for %s", job->id, job->kind, job->client_id);
	if ((o = job_out_new(job, &r->cfg, &err)) == NULL)
		goto failed;
	job_out_set_progress(o, progress, r);
	if (strcmp(job->kind, JOB_BULK_MATCH) == 0)
		rc = bulk_match_run(&r->db, &r->cfg, job, o, &err);
	else if (strcmp(job->kind, JOB_EVERYTHING) == 0 ||
	    strcmp(job->kind, JOB_DATA_EXPORT) == 0 ||
	    strcmp(job->kind, JOB_PATIENT_EXPORT) == 0)
		rc = export_run(&r->db, &r->cfg, job, o, &err);
	else
		rc = p2p_fail(&err, 500, P2P_ISSUE_NOT_SUPPORTED,
		    "unknown job kind %s", job->kind);
	if (r->tty)
		fputc('\n', stderr);
	if (rc == -1)
		goto failed;
	if ((rc = job_complete(&r->db, &r->cfg, job, r->id, o,
	    &err)) == -1)
		goto failed;
	job_out_free(o);
	if (rc == 1) {
		log_info("job %s: cancelled meanwhile", job->id);
		return 1;
	}
	log_info("job %s: complete", job->id);
	return 0;
failed:
	job_out_free(o);
	if (stopping && err.status == 503) {
		/* Left running: the next runner takes it back. */
		log_info("job %s: left for the next runner", job->id);
		return -1;
	}
	if (err.status == 409) {
		log_info("job %s: %s", job->id, err.msg);
		return 1;
	}
	log_err("job %s: failed: %s", job->id, err.msg);
	p2p_err_init(&e2);
	if (job_fail(&r->db, &r->cfg, job, r->id, &err, &e2) == -1) {
		log_err("job %s: cannot record the failure: %s", job->id,
		    e2.msg);
		return -1;
	}
	return 1;
}

/* Expires old jobs, then takes jobs until none is left.  See exit codes. */
/*
 * The request processes leave WAL checkpoints to the runner (see
 * db_defer_checkpoints): PASSIVE every pass; after a pass without jobs
 * that copied the whole WAL, TRUNCATE too, so that the file shrinks
 * when the server is quiet.
 */
static void
checkpoint(struct runner *r, int idle)
{
	struct p2p_err	 err;
	int		 rc;

	p2p_err_init(&err);
	if ((rc = db_checkpoint(&r->db, 0, &err)) == 1 && idle)
		rc = db_checkpoint(&r->db, 1, &err);
	if (rc == -1)
		log_err("checkpoint: %s", err.msg);
}

static int
pass(struct runner *r)
{
	struct job	 job;
	struct p2p_err	 err;
	long long	 gone;
	int		 n, rc, status = 0, jobs = 0;

	p2p_err_init(&err);
	if (job_expire(&r->db, &r->cfg, now_sec(), &n, &err) == -1) {
		log_err("expire: %s", err.msg);
		return 3;
	}
	if (n > 0)
		log_info("removed %d expired or cancelled jobs", n);
	if (match_probe_expire(&r->db, r->cfg.probe_window, now_sec(), &gone,
	    &err) == -1) {
		log_err("probe expire: %s", err.msg);
		return 3;
	}
	while (!stopping) {
		p2p_err_init(&err);
		rc = job_claim(&r->db, &r->cfg, r->id, r->stale, &job, &err);
		if (rc == -1) {
			log_err("claim: %s", err.msg);
			return 3;
		}
		if (rc == 0)
			break;
		rc = run_job(r, &job);
		job_free(&job);
		jobs++;
		if (rc == -1)
			return stopping ? status : 3;
		if (rc == 1)
			status = 1;
	}
	checkpoint(r, jobs == 0);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "loop", no_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "stale", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct runner		 r;
	struct p2p_err		 err;
	struct sigaction	 sa;
	const char		*conf = NULL, *delay;
	char			 host[256];
	struct timespec		 tick = { 0, 200000000L };
	long long		 interval = 5;
	int			 c, mode = 0, rc, i;

	memset(&r, 0, sizeof(r));
	r.stale = 300;
	log_init("p2p-runner");
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': return usage(stdout, 0);
		case 'c': conf = optarg; break;
		case 'o': mode = 'o'; break;
		case 'l': mode = 'l'; break;
		case 'i':
			if (parse_ll(optarg, 1, 86400, &interval) == -1)
				return usage(stderr, 2);
			break;
		case 's':
			if (parse_ll(optarg, 0, 86400 * 7, &r.stale) == -1)
				return usage(stderr, 2);
			break;
		default: return usage(stderr, 2);
		}
	}
	if (mode == 0 || optind != argc)
		return usage(stderr, 2);
	if ((delay = getenv("P2P_RUNNER_DELAY_MS")) != NULL &&
	    parse_ll(delay, 0, 60000, &r.delay_ms) == -1)
		return usage(stderr, 2);
	r.tty = isatty(2);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(r.id, sizeof(r.id), "%s:%ld", host, (long)getpid());

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	p2p_err_init(&err);
	if (config_load(&r.cfg, conf, &err) == -1) {
		log_err("%s", err.msg);
		return 3;
	}
	/* Before the log file is opened: root would leave it root's. */
	if (config_check_user(&r.cfg, &err) == -1) {
		log_err("%s", err.msg);
		return 3;
	}
	if (log_open(r.cfg.log_file, &err) == -1)
		log_warn("%s; logging to stderr", err.msg);
	log_tee(r.tty);
	if (db_open(&r.db, r.cfg.database, 0, &err) == -1) {
		log_err("%s: %s", r.cfg.database, err.msg);
		return 3;
	}
	/* Checkpoints grow the database file 32 MiB at a time: the
	 * member-match process maps the file (http.c) and remaps it
	 * whenever its size changes, which took ~60 ms a time. */
	db_grow_by(&r.db, 32 << 20);
	if (mode == 'o')
		rc = pass(&r);
	else {
		rc = 0;
		while (!stopping) {
			if ((rc = pass(&r)) == 3)
				break;
			/* Between passes, a PASSIVE checkpoint every 200 ms:
			 * the request processes leave them to the runner.
			 * Each one syncs the WAL written since the last; a
			 * request appending to a WAL page under writeback
			 * waits for it, so the smaller the sync, the shorter
			 * that wait (bench/mmfast.md: ~100 ms every second
			 * with 1 s checkpoints at ~1,000 matches/s). */
			for (i = 0; i < interval * 5 && !stopping; i++) {
				nanosleep(&tick, NULL);
				checkpoint(&r, 0);
			}
		}
		if (rc != 3)
			rc = 0;
	}
	db_close(&r.db);
	log_close();
	return rc;
}
