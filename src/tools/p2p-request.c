/*
 * p2p-request - the receiving payer's side of Payer-to-Payer: request a
 * new member's history from the previous payer the member named, store
 * it, and show where every request stands.  The work is the library's
 * (src/lib/peer/flow.c, report.c); see docs/receiving.md
 * and docs/receiving.md.
 *
 *   p2p-request [-c p2p.conf] [-v] member MEMBER_ID --from PEER [options]
 *   p2p-request [-c p2p.conf] [-v] bulk --from PEER [options]
 *   p2p-request [-c p2p.conf] status [--peer PEER] [--member ID]
 *       [--state STATE] [--overdue]
 *
 * Exit status: 0 the run went through (members may have been refused:
 * see the lines printed and "status"); 1 some member failed or is tried
 * again later in this run (status --overdue: something is late); 2
 * usage; 3 it could not work (configuration, database, peer unknown or
 * refusing us, another run busy with the peer); 4 interrupted (a signal,
 * or the test hook): run again to resume.
 *
 * P2P_REQUEST_STOP_AFTER_FILES=N (tests only) stops a run after N files
 * are downloaded, as an interruption would.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "peer/due.h"
#include "peer/flow.h"
#include "peer/httpc.h"
#include "peer/report.h"
#include "peer/state.h"
#include "store/db.h"
#include "tool.h"

static volatile sig_atomic_t	 stop;
static const char		*conf_path;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
usage_member(FILE *f)
{
	fprintf(f,
	    "usage: p2p-request [-c p2p.conf] member MEMBER_ID --from PEER\n"
	    "           [--full] [--since INSTANT] [--timeout S] [--wait S]\n"
	    "           [--parallel N] [--interval S]\n"
	    "  $member-match for one member with what our store holds (Patient,\n"
	    "  the Coverage naming PEER, our Coverage, the opt-in Consent), then\n"
	    "  Patient/$everything (async when the peer allows), stored under\n"
	    "  the member with a Provenance.  A repeat fetch sends _since (the\n"
	    "  last transactionTime) unless --full.\n");
	return f == stdout ? 0 : 2;
}

static int
usage_bulk(FILE *f)
{
	fprintf(f,
	    "usage: p2p-request [-c p2p.conf] bulk --from PEER [--since INSTANT]\n"
	    "           [--refresh] [--retry] [--batch N] [--parallel N]\n"
	    "           [--timeout S] [--wait S] [--interval S]\n"
	    "  Every member due for PEER (opted in, named it, not fetched, or\n"
	    "  retried after a fault) in $bulk-member-match requests of at most\n"
	    "  --batch (%d) members, then $davinci-data-export of the matched\n"
	    "  members, every file downloaded (--parallel at a time), checked and\n"
	    "  stored.  Unfinished work of an earlier run is resumed first.\n"
	    "  --refresh: fetched members again (with _since); --retry: failed,\n"
	    "  not matched and consent-constrained members again.  --wait S: how\n"
	    "  long to wait for the peer's jobs (default %d) before leaving them\n"
	    "  to the next run; --timeout S: per API call and download stall.\n",
	    FLOW_BATCH, FLOW_WAIT);
	return f == stdout ? 0 : 2;
}

static int
usage_status(FILE *f)
{
	fprintf(f,
	    "usage: p2p-request [-c p2p.conf] status [--peer PEER] [--member ID]\n"
	    "           [--state due|requested|matched|nomatch|consent|fetched|"
	    "failed|withdrawn]\n"
	    "           [--overdue]\n"
	    "  Peers, every member's request (dates, state, the peer's words),\n"
	    "  the one-week deadline (LATE, OVERDUE), transfers under way.\n"
	    "  --overdue: only late or overdue requests; exit 1 when any.\n");
	return f == stdout ? 0 : 2;
}

/* The usage of the command named in argv (all when none is). */
static int
help(int argc, char *argv[])
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "member") == 0)
			return usage_member(stdout);
		if (strcmp(argv[i], "bulk") == 0)
			return usage_bulk(stdout);
		if (strcmp(argv[i], "status") == 0)
			return usage_status(stdout);
	}
	usage_member(stdout);
	usage_bulk(stdout);
	return usage_status(stdout);
}

static int
usage(void)
{
	fprintf(stderr, "usage: p2p-request [-c p2p.conf] [-v] "
	    "member|bulk|status ... (--help for each)\n");
	return 2;
}

/*
 * The configuration and the database, at this build's schema; not as
 * root: the files it makes (keys read, downloads, locks) must stay the
 * data directory owner's, as the runner's do.
 */
static int
request_open(struct tool *t)
{
	return tool_open(t, "p2p-request", conf_path, TOOL_USER |
	    TOOL_CURRENT);
}

static int
num(const char *s, long long min, long long max, long long *out,
    const char *what)
{
	if (parse_ll(s, min, max, out) == -1) {
		fprintf(stderr, "p2p-request: %s must be a number from %lld to "
		    "%lld\n", what, min, max);
		return -1;
	}
	return 0;
}

/* member and bulk share their options. */
static int
cmd_run(int argc, char *argv[], int bulk)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },
		{ "full", no_argument, NULL, 'F' },
		{ "refresh", no_argument, NULL, 'R' },
		{ "retry", no_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool		 t;
	struct flow_opts	 o;
	struct flow_result	 res;
	const char		*peer = NULL, *member = NULL, *hook;
	long long		 v;
	time_t			 since;
	int			 c, rc;

	memset(&o, 0, sizeof(o));
	o.out = stdout;
	o.prog = stderr;
	o.interval = 10;
	o.stop = &stop;
	optind = 0;	/* 0: glibc starts afresh (argument order free) */
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': peer = optarg; break;
		case 's':
			if (time_parse(optarg, 0, &since) == -1) {
				fprintf(stderr, "p2p-request: --since %s is not a "
				    "FHIR instant\n", optarg);
				return 2;
			}
			o.since = optarg;
			break;
		case 'F': o.full = 1; break;
		case 'R': o.refresh = 1; break;
		case 'r': o.retry = 1; break;
		case 'b':
			if (num(optarg, 1, 10000, &v, "--batch") == -1)
				return 2;
			o.batch = (int)v;
			break;
		case 'p':
			if (num(optarg, 1, 32, &v, "--parallel") == -1)
				return 2;
			o.parallel = (int)v;
			break;
		case 't':
			if (num(optarg, 1, 3600, &v, "--timeout") == -1)
				return 2;
			o.timeout = (long)v;
			break;
		case 'w':
			if (num(optarg, 0, 7 * 86400, &v, "--wait") == -1)
				return 2;
			o.wait = v == 0 ? 1 : (long)v;
			break;
		case 'i':
			if (num(optarg, 1, 3600, &v, "--interval") == -1)
				return 2;
			o.interval = (int)v;
			break;
		case 'h':
			return bulk ? usage_bulk(stdout) : usage_member(stdout);
		default:
			return bulk ? usage_bulk(stderr) : usage_member(stderr);
		}
	}
	if (!bulk && optind < argc)
		member = argv[optind++];
	if (peer == NULL || optind != argc || (!bulk && member == NULL) ||
	    (bulk && o.full) || (!bulk && (o.refresh || o.retry || o.batch)))
		return bulk ? usage_bulk(stderr) : usage_member(stderr);
	if ((hook = getenv("P2P_REQUEST_STOP_AFTER_FILES")) != NULL &&
	    parse_ll(hook, 1, 1LL << 30, &v) == 0)
		o.stop_after = v;
	if (request_open(&t) == -1)
		return 3;
	rc = bulk ? flow_bulk(&t.db, &t.cfg, peer, &o, &res, &t.err) :
	    flow_member(&t.db, &t.cfg, peer, member, &o, &res, &t.err);
	if (tool_end(&t, rc, NULL) == -1)
		return t.err.status == 422 ? 1 : 3;
	printf("%s from %s: %ld requested, %ld matched, %ld not matched, %ld "
	    "consent-constrained, %ld fetched (%lld resources), %ld failed, "
	    "%ld to retry, %ld transfers still running at the peer%s\n",
	    bulk ? "bulk" : member, peer, res.requested, res.matched,
	    res.nomatch, res.consent, res.fetched, res.resources, res.failed,
	    res.deferred, res.running, res.stopped ? "; interrupted: run again "
	    "to resume" : "");
	if (res.stopped)
		return 4;
	return res.failed > 0 || res.deferred > 0 ? 1 : 0;
}

static int
cmd_status(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "peer", required_argument, NULL, 'p' },
		{ "member", required_argument, NULL, 'm' },
		{ "state", required_argument, NULL, 's' },
		{ "overdue", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool		 t;
	struct report_opts	 o;
	struct report_sum	 sum;
	struct due_stats	 ds;
	int			 c, rc;

	memset(&o, 0, sizeof(o));
	o.state = -1;
	optind = 0;	/* 0: glibc starts afresh (argument order free) */
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': o.peer = optarg; break;
		case 'm': o.member = optarg; break;
		case 's':
			if ((o.state = inb_state_parse(optarg)) < 0)
				return usage_status(stderr);
			break;
		case 'o': o.overdue = 1; break;
		case 'h': return usage_status(stdout);
		default: return usage_status(stderr);
		}
	}
	if (optind != argc)
		return usage_status(stderr);
	if (request_open(&t) == -1)
		return 3;
	/* What was loaded since the last run is due now: show it. */
	rc = due_sync(&t.db, &t.cfg, o.member, &ds, stdout, &t.err);
	if (rc == 0)
		rc = report_status(&t.db, &o, stdout, &sum, &t.err);
	if (tool_end(&t, rc, "status") == -1)
		return 3;
	return o.overdue && sum.overdue + sum.late > 0 ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	int			 c, verbose = 0;

	log_init("p2p-request");
	/* --help anywhere: the usage, without reading any configuration. */
	for (c = 1; c < argc && strcmp(argv[c], "--") != 0; c++)
		if (strcmp(argv[c], "--help") == 0 ||
		    strcmp(argv[c], "-h") == 0 || (c == 1 &&
		    strcmp(argv[c], "help") == 0))
			return help(argc, argv);
	while ((c = getopt(argc, argv, "+c:v")) != -1) {
		if (c == 'c')
			conf_path = optarg;
		else if (c == 'v')
			verbose = 1;
		else
			return usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage();
	log_quiet(!verbose);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (httpc_init() == -1) {
		fprintf(stderr, "p2p-request: cannot start libcurl\n");
		return 3;
	}
	if (strcmp(argv[0], "member") == 0)
		c = cmd_run(argc, argv, 0);
	else if (strcmp(argv[0], "bulk") == 0)
		c = cmd_run(argc, argv, 1);
	else if (strcmp(argv[0], "status") == 0)
		c = cmd_status(argc, argv);
	else {
		fprintf(stderr, "p2p-request: unknown command \"%s\"\n",
		    argv[0]);
		c = usage();
	}
	curl_global_cleanup();
	return c;
}
