/*
 * cmd_load.c - p2p-admin load FILE... and p2p-admin stats.
 *
 * load: each file loads on its own, all or nothing (loader.h).  One
 * summary line per file on stdout; a failed file is named on stderr
 * with the entry or line at fault.  Progress on stderr: redrawn on a
 * terminal, else a plain line every --progress seconds (default 5).  Exit 0 when every file loaded,
 * 1 when any failed (the others are still loaded), 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_cmds.h"
#include "core/util.h"
#include "store/loader.h"
#include "store/stats.h"

const char cmd_load_usage[] =
    "usage: p2p-admin [-c p2p.conf] load [--progress S] FILE...\n"
    "Loads FHIR R4 JSON: a Bundle (transaction, batch or collection) or "
    "ndjson.\n"
    "Each file loads all or nothing; one summary line per file on "
    "stdout.\n"
    "  --progress S   seconds between progress lines (percentage, ETA) "
    "on stderr when\n"
    "                 it is not a terminal (default 5; 0: none); a "
    "terminal gets one\n"
    "                 line redrawn in place\n";

const char cmd_stats_usage[] =
    "usage: p2p-admin [-c p2p.conf] stats\n"
    "Counts: resources by type, members, clients, consents, matches, "
    "jobs, database size.\n";

/* Seconds as milliseconds: 0 to a day, decimals allowed; -1 if bad. */
static long long
seconds_ms(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v >= 0) || v > 86400)
		return -1;
	return (long long)(v * 1000.0 + 0.5);
}

int
cmd_load(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "progress", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool		 t;
	struct load_stats	 st;
	struct p2p_buf		 b;
	long long		 every = 5000;
	int			 i, c, failed = 0, progress;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'p' || (every = seconds_ms(optarg)) == -1) {
			fputs(cmd_load_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(cmd_load_usage, stderr);
		return 2;
	}
	/* A terminal gets a line redrawn in place; a log file or a pipe
	 * plain lines now and then (0: none). */
	if (isatty(STDERR_FILENO))
		progress = LOAD_PROGRESS_TTY;
	else
		progress = every > 0x7fffffff ? 0x7fffffff : (int)every;
	if (admin_open(&t, conf) == -1)
		return 1;
	memset(&b, 0, sizeof(b));
	for (i = optind; i < argc; i++) {
		p2p_err_init(&t.err);
		if (load_file(&t.db, argv[i], progress, &st, &t.err) == -1) {
			fprintf(stderr, "p2p-admin: load %s: %s (nothing "
			    "from this file was kept)\n", argv[i], t.err.msg);
			failed = 1;
			continue;
		}
		buf_reset(&b);
		if (load_summary(&st, &b) == 0)
			printf("%s: %s\n", argv[i], b.p);
		fflush(stdout);
	}
	buf_free(&b);
	tool_end(&t, 0, NULL);
	return failed;
}

/* "label: total" then "  key: n" per key, the total first. */
struct grouped {
	struct p2p_buf	 lines;
	long long	 total;
};

static void
grouped_row(void *arg, const char *key, long long n)
{
	struct grouped	*g = arg;

	g->total += n;
	buf_printf(&g->lines, "  %s: %lld\n", key, n);
}

static int
grouped(struct p2p_db *db, enum stats_group which, const char *label,
    struct p2p_err *err)
{
	struct grouped	 g;

	memset(&g, 0, sizeof(g));
	if (stats_grouped(db, which, grouped_row, &g, err) == -1) {
		buf_free(&g.lines);
		return -1;
	}
	printf("%s: %lld\n%s", label, g.total, g.lines.p ? g.lines.p : "");
	buf_free(&g.lines);
	return 0;
}

int
cmd_stats(const char *conf, int argc, char *argv[])
{
	struct tool		 t;
	struct stats_totals	 n;
	int			 rc = -1;

	(void)argv;
	if (argc != 1) {
		fputs(cmd_stats_usage, stderr);
		return 2;
	}
	if (admin_open(&t, conf) == -1)
		return 1;
	if (stats_begin(&t.db, &t.err) == -1)
		goto out;
	if (grouped(&t.db, STATS_TYPES, "resources", &t.err) == -1 ||
	    stats_totals(&t.db, &n, &t.err) == -1)
		goto out;
	printf("members: %lld\n", n.members);
	printf("clients: %lld active, %lld disabled\n", n.clients_active,
	    n.clients_disabled);
	if (grouped(&t.db, STATS_CONSENTS, "consents", &t.err) == -1)
		goto out;
	printf("matches: %lld\n", n.matches);
	if (grouped(&t.db, STATS_JOBS, "jobs", &t.err) == -1)
		goto out;
	printf("database: %lld bytes (%.1f MiB) %s\n", n.bytes,
	    (double)n.bytes / 1048576.0, t.cfg.database);
	rc = 0;
out:
	stats_end(&t.db);
	return TOOL_STATUS(tool_end(&t, rc, "stats"));
}
