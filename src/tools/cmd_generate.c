/*
 * cmd_generate.c - p2p-admin generate: deterministic synthetic members
 * as ndjson for p2p-admin load (see gen.h and docs/operations.md "Synthetic
 * data").
 *
 *   p2p-admin [-c p2p.conf] generate --members N [--seed S] [--years Y]
 *       [--anchor YYYY-MM-DD] [--history small|full|members] --out FILE
 *
 * With -c, the payer Organization carries the configured org_npi and
 * org_name; without, a fixed NPI (GEN_PAYER_NPI).  --out - writes to
 * standard output.  Progress goes to stderr when it is a terminal; the
 * summary line (members, resources, bytes, seconds, rates) always.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_cmds.h"
#include "core/util.h"
#include "gen.h"

#define MAX_MEMBERS	100000000LL

const char cmd_generate_usage[] =
    "usage: p2p-admin [-c p2p.conf] generate --members N [--seed S] "
    "[--years Y]\n"
    "           [--anchor YYYY-MM-DD] [--history small|full|members] "
    "--out FILE\n"
    "Writes deterministic synthetic members as ndjson for load "
    "(--out - : stdout).\n"
    "  --members N    members to write         --seed S     stream seed "
    "(default 1)\n"
    "  --years Y      years of history         --anchor D   the \"today\" "
    "of the data\n"
    "  --history H    small, full (default) or members (Patients and "
    "Coverage only)\n"
    "With -c, the payer Organization carries org_npi and org_name.\n";

static int
usage(void)
{
	fputs(cmd_generate_usage, stderr);
	return 2;
}

int
cmd_generate(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "members", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "years", required_argument, NULL, 'y' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "history", required_argument, NULL, 'h' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static char		 fbuf[1 << 20];
	struct gen_opts		 o;
	struct p2p_config	 cfg;
	struct p2p_err		 err;
	struct gen		*g = NULL;
	const struct gen_stats	*st;
	const char		*out = NULL;
	FILE			*f = NULL;
	long long		 v, members = -1;
	unsigned long long	 i;
	int64_t			 t0, ms;
	int			 c, rc = 1, tty;

	memset(&o, 0, sizeof(o));
	o.years = 7;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_ll(optarg, 0, MAX_MEMBERS, &members) == -1)
				return usage();
			break;
		case 's':
			if (parse_ll(optarg, 0, 0x7fffffffffffffffLL, &v) == -1)
				return usage();
			o.seed = (unsigned long long)v;
			break;
		case 'y':
			if (parse_ll(optarg, 1, 50, &v) == -1)
				return usage();
			o.years = (int)v;
			break;
		case 'a':
			if (strlen(optarg) != 10)
				return usage();
			memcpy(o.anchor, optarg, 11);
			break;
		case 'h':
			if (strcmp(optarg, "small") == 0)
				o.small = 1;
			else if (strcmp(optarg, "members") == 0)
				o.members_only = 1;
			else if (strcmp(optarg, "full") != 0)
				return usage();
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || members < 0 || out == NULL)
		return usage();
	o.members = (unsigned long long)members;

	p2p_err_init(&err);
	if (conf != NULL) {
		if (config_load(&cfg, conf, &err) == -1) {
			fprintf(stderr, "p2p-admin: %s\n", err.msg);
			return 1;
		}
		o.payer_npi = cfg.org_npi;
		o.payer_name = cfg.org_name;
	}
	if (strcmp(out, "-") == 0)
		f = stdout;
	else if ((f = fopen(out, "w")) == NULL) {
		fprintf(stderr, "p2p-admin: %s: %s\n", out, strerror(errno));
		return 1;
	}
	setvbuf(f, fbuf, _IOFBF, sizeof(fbuf));
	if ((g = gen_new(f, &o, &err)) == NULL)
		goto out;
	tty = isatty(STDERR_FILENO);
	t0 = now_ms();
	if (gen_header(g, &err) == -1)
		goto out;
	for (i = 0; i < o.members; i++) {
		if (gen_member(g, i, &err) == -1)
			goto out;
		if (tty && (i + 1) % 10000 == 0)
			fprintf(stderr, "\r%llu/%llu members", i + 1,
			    o.members);
	}
	if (fflush(f) != 0 || ferror(f)) {
		p2p_fail(&err, 500, P2P_ISSUE_EXCEPTION, "write failed: %s",
		    strerror(errno));
		goto out;
	}
	ms = now_ms() - t0;
	st = gen_stats(g);
	if (tty)
		fprintf(stderr, "\r");
	fprintf(stderr, "generated %llu members, %llu resources, %llu bytes "
	    "in %.2f s (%.0f members/s, %.0f resources/s)\n", st->members,
	    st->resources, st->bytes, ms / 1000.0,
	    ms > 0 ? st->members * 1000.0 / ms : 0.0,
	    ms > 0 ? st->resources * 1000.0 / ms : 0.0);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "p2p-admin: generate: %s\n", err.msg);
	gen_free(g);
	if (f != NULL && f != stdout && fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "p2p-admin: %s: %s\n", out, strerror(errno));
		rc = 1;
	}
	if (f == stdout)
		fflush(stdout);
	return rc;
}
