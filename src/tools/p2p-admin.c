/*
 * p2p-admin - administration: data directory, data loading, clients,
 * statistics, synthetic data.  See p2p-admin(8) and
 * docs/operations.md ("Administration").
 *
 * Exit status: 0 success, 1 failure (the reason on stderr), 2 usage.
 * --help anywhere after a command prints that command's usage on
 * stdout and exits 0 without reading any configuration.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_cmds.h"
#include "core/log.h"
#include "store/datadir.h"
#include "store/db.h"

static const char init_usage[] =
    "usage: p2p-admin init [--demo] [--base-url URL] [--share DIR] "
    "[--runner PATH]\n"
    "           [--owner USER[:GROUP]] [--update] DATADIR\n"
    "       p2p-admin [-c p2p.conf] init [--owner USER[:GROUP]] [--update]\n"
    "Creates a data directory: p2p.conf, keys/, the database, bulk/, log/, "
    "run/, www/,\n"
    "errors/.  The second form makes the one an existing p2p.conf names "
    "(its data_dir).\n"
    "  --demo          demo settings: Basic credentials on API calls, "
    "consent-less\n"
    "                  $member-match, running as root (never in "
    "production)\n"
    "  --base-url URL  public origin (default http://127.0.0.1:8080)\n"
    "  --share DIR     CapabilityStatement and SMART templates "
    "(default: installed)\n"
    "  --runner PATH   export runner started at each bulk kick-off\n"
    "  --owner U[:G]   give the directory and its files to this user "
    "(as root), e.g. p2p\n"
    "  --update        the directory is initialised already: create what "
    "is missing and\n"
    "                  apply migrations; configuration and keys are kept\n"
    "An initialised directory (p2p.conf or the database there) is refused "
    "without --update.\n";

static const char migrate_usage[] =
    "usage: p2p-admin [-c p2p.conf] migrate\n"
    "Applies pending schema migrations (with the server stopped).\n";

static const char checkpoint_usage[] =
    "usage: p2p-admin [-c p2p.conf] checkpoint [--truncate]\n"
    "Copies the WAL into the database (--truncate: waits for readers, "
    "then empties it).\n";

static int
usage(FILE *to, int status)
{
	fprintf(to,
	    "usage: p2p-admin [-c p2p.conf] command [args]\n"
	    "       p2p-admin command --help\n"
	    "commands:\n"
	    "  init [--demo] [--base-url URL] [--owner USER] [--update] "
	    "[DATADIR]\n"
	    "  migrate                 apply schema migrations\n"
	    "  load [--progress S] FILE...  FHIR Bundles (JSON) or ndjson\n"
	    "  stats                   what is loaded\n"
	    "  generate --members N [--seed S] --out FILE\n"
	    "  client add|list|disable|enable ...\n"
	    "  consent list|optout|matches --patient ID, consent revoke ID\n"
	    "  audit export [--patient ID] [--since DATE] [--until DATE]"
	    " [--out FILE]\n"
	    "  checkpoint [--truncate]  copy the WAL into the database\n"
	    "  peer add|list|disable|enable|remove|key|jwks ...  previous payers"
	    " (p2p-request)\n"
	    "-c FILE: the configuration; default $P2P_CONF, else "
	    "$P2P_DATA/p2p.conf,\n"
	    "else %s.  See p2p-admin(8), p2p.conf(5).\n",
	    config_default_path());
	return status;
}

static int
cmd_init(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "demo", no_argument, NULL, 'D' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "share", required_argument, NULL, 's' },
		{ "runner", required_argument, NULL, 'r' },
		{ "owner", required_argument, NULL, 'o' },
		{ "update", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct admin_init_opts	 o;
	struct p2p_err		 err;
	int			 c;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': o.demo = 1; break;
		case 'b': o.base_url = optarg; break;
		case 's': o.share_dir = optarg; break;
		case 'r': o.runner = optarg; break;
		case 'o': o.owner = optarg; break;
		case 'u': o.update = 1; break;
		default:
			fputs(init_usage, stderr);
			return 2;
		}
	}
	/* DATADIR, or the data directory of the configuration -c names
	 * (-c or $P2P_CONF: never both). */
	if (optind + 1 == argc && conf == NULL)
		o.data_dir = argv[optind];
	else if (optind == argc && (conf != NULL ||
	    getenv("P2P_CONF") != NULL))
		o.conf = conf;
	else {
		fputs(init_usage, stderr);
		return 2;
	}
	p2p_err_init(&err);
	if (admin_init(&o, &err) == -1) {
		fprintf(stderr, "p2p-admin: init: %s\n", err.msg);
		return 1;
	}
	printf("%s %s\n", o.update ? "updated" : "initialised",
	    o.data_dir ? o.data_dir : "the data directory");
	if (geteuid() == 0 && o.owner == NULL && !o.demo)
		fprintf(stderr, "p2p-admin: note: the server programs and the "
		    "runner refuse to run as root: give the directory to their "
		    "user (--owner p2p --update)\n");
	return 0;
}

int
admin_open(struct tool *t, const char *conf)
{
	return tool_open(t, "p2p-admin", conf, 0);
}

static int
cmd_migrate(const char *conf, int argc, char *argv[])
{
	struct tool	 t;
	int		 rc;

	(void)argv;
	if (argc != 1) {
		fputs(migrate_usage, stderr);
		return 2;
	}
	if (admin_open(&t, conf) == -1)
		return 1;
	if ((rc = db_migrate(&t.db, &t.err)) == 0)
		printf("schema version %d\n", db_version(&t.db));
	return TOOL_STATUS(tool_end(&t, rc, "migrate"));
}

/*
 * The request processes leave WAL checkpoints to the runner; without a
 * runner, cron can run this (PASSIVE: never waits; --truncate waits for
 * readers and writers, then empties the WAL file).
 */
static int
cmd_checkpoint(const char *conf, int argc, char *argv[])
{
	struct tool	 t;
	int		 rc, truncate = 0;

	if (argc == 2 && strcmp(argv[1], "--truncate") == 0)
		truncate = 1;
	else if (argc != 1) {
		fputs(checkpoint_usage, stderr);
		return 2;
	}
	if (admin_open(&t, conf) == -1)
		return 1;
	if ((rc = db_checkpoint(&t.db, truncate, &t.err)) == 0)
		printf("checkpoint: part of the WAL is still in use;"
		    " run again later\n");
	else if (rc == 1)
		printf("checkpoint: done\n");
	return TOOL_STATUS(tool_end(&t, rc, "checkpoint"));
}

static const struct {
	const char	*name;
	int		(*fn)(const char *, int, char *[]);
	const char	*usage;		/* --help */
} cmds[] = {
	{ "init", cmd_init, init_usage },
	{ "migrate", cmd_migrate, migrate_usage },
	{ "load", cmd_load, cmd_load_usage },
	{ "stats", cmd_stats, cmd_stats_usage },
	{ "generate", cmd_generate, cmd_generate_usage },
	{ "client", cmd_client, cmd_client_usage },
	{ "consent", cmd_consent, cmd_consent_usage },
	{ "audit", cmd_audit, cmd_audit_usage },
	{ "checkpoint", cmd_checkpoint, checkpoint_usage },
	{ "peer", cmd_peer, cmd_peer_usage },
};

/* 1 when --help (or -h) is among the command's arguments. */
static int
wants_help(int argc, char *argv[])
{
	int	 i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*name, *conf = NULL;	/* -c FILE */
	size_t		 i;
	int		 c, help;

	db_no_memstats();	/* a load allocates much */
	log_init("p2p-admin");
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		if (c == 'c')
			conf = optarg;
		else if (c == 'h')
			return usage(stdout, 0);
		else
			return usage(stderr, 2);
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage(stderr, 2);
	/* "p2p-admin help [command]" as well as "command --help". */
	help = strcmp(argv[0], "help") == 0;
	if (help && argc == 1)
		return usage(stdout, 0);
	name = help ? argv[1] : argv[0];
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0) {
			if (help || wants_help(argc, argv)) {
				fputs(cmds[i].usage, stdout);
				return 0;
			}
			return cmds[i].fn(conf, argc, argv);
		}
	fprintf(stderr, "p2p-admin: unknown command \"%s\"\n", name);
	return usage(stderr, 2);
}
