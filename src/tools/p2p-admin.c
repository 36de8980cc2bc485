/*
 * p2p-admin - administration: data directory, data loading, clients,
 * statistics, synthetic data.  See README.md ("Administration").
 *
 * Exit status: 0 success, 1 failure (the reason on stderr), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/datadir.h"
#include "admin_cmds.h"
#include "store/db.h"
#include "core/log.h"

static const char	*conf_path;	/* -c FILE */

static int
usage(void)
{
	fprintf(stderr,
	    "usage: p2p-admin [-c p2p.conf] command [args]\n"
	    "commands:\n"
	    "  init [--demo] [--base-url URL] [--share DIR] [--runner PATH] DATADIR\n"
	    "  migrate\n"
	    "  load FILE...            FHIR Bundles (JSON) or ndjson\n"
	    "  stats\n"
	    "  generate --members N [--seed S] --out FILE\n"
	    "  client add|list|disable|enable ...\n"
	    "  consent list|optout|matches --patient ID, consent revoke ID\n"
	    "  audit export [--patient ID] [--since DATE] [--until DATE]"
	    " [--out FILE]\n"
	    "  checkpoint [--truncate]  copy the WAL into the database\n");
	return 2;
}

static int
cmd_init(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "demo", no_argument, NULL, 'D' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "share", required_argument, NULL, 's' },
		{ "runner", required_argument, NULL, 'r' },
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
		default: return usage();
		}
	}
	if (optind + 1 != argc)
		return usage();
	o.data_dir = argv[optind];
	p2p_err_init(&err);
	if (admin_init(&o, &err) == -1) {
		fprintf(stderr, "p2p-admin: init: %s\n", err.msg);
		return 1;
	}
	printf("initialised %s\n", o.data_dir);
	return 0;
}

int
admin_open(const char *conf, struct p2p_config *cfg, struct p2p_db *db)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	if (config_load(cfg, conf, &err) == -1) {
		fprintf(stderr, "p2p-admin: %s\n", err.msg);
		return -1;
	}
	if (db_open(db, cfg->database, 0, &err) == -1) {
		fprintf(stderr, "p2p-admin: %s: %s\n", cfg->database, err.msg);
		return -1;
	}
	return 0;
}

static int
cmd_migrate(int argc, char *argv[])
{
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	struct p2p_err		 err;
	int			 rc;

	(void)argv;
	if (argc != 1)
		return usage();
	if (admin_open(conf_path, &cfg, &db) == -1)
		return 1;
	p2p_err_init(&err);
	rc = db_migrate(&db, &err);
	if (rc == -1)
		fprintf(stderr, "p2p-admin: migrate: %s\n", err.msg);
	else
		printf("schema version %d\n", db_version(&db));
	db_close(&db);
	return rc == -1 ? 1 : 0;
}

/*
 * The request processes leave WAL checkpoints to the runner; without a
 * runner, cron can run this (PASSIVE: never waits; --truncate waits for
 * readers and writers, then empties the WAL file).
 */
static int
cmd_checkpoint(int argc, char *argv[])
{
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	struct p2p_err		 err;
	int			 rc, truncate = 0;

	if (argc == 2 && strcmp(argv[1], "--truncate") == 0)
		truncate = 1;
	else if (argc != 1)
		return usage();
	if (admin_open(conf_path, &cfg, &db) == -1)
		return 1;
	p2p_err_init(&err);
	if ((rc = db_checkpoint(&db, truncate, &err)) == -1)
		fprintf(stderr, "p2p-admin: checkpoint: %s\n", err.msg);
	else if (rc == 0)
		printf("checkpoint: part of the WAL is still in use;"
		    " run again later\n");
	else
		printf("checkpoint: done\n");
	db_close(&db);
	return rc == -1 ? 1 : 0;
}

static int
cmd_load_(int argc, char *argv[])
{
	return cmd_load(conf_path, argc, argv);
}

static int
cmd_stats_(int argc, char *argv[])
{
	return cmd_stats(conf_path, argc, argv);
}

static int
cmd_generate_(int argc, char *argv[])
{
	return cmd_generate(conf_path, argc, argv);
}

static int
cmd_client_(int argc, char *argv[])
{
	return cmd_client(conf_path, argc, argv);
}

static int
cmd_consent_(int argc, char *argv[])
{
	return cmd_consent(conf_path, argc, argv);
}

static int
cmd_audit_(int argc, char *argv[])
{
	return cmd_audit(conf_path, argc, argv);
}

static const struct {
	const char	*name;
	int		(*fn)(int, char *[]);
} cmds[] = {
	{ "init", cmd_init },
	{ "migrate", cmd_migrate },
	{ "load", cmd_load_ },
	{ "stats", cmd_stats_ },
	{ "generate", cmd_generate_ },
	{ "client", cmd_client_ },
	{ "consent", cmd_consent_ },
	{ "audit", cmd_audit_ },
	{ "checkpoint", cmd_checkpoint },
};

int
main(int argc, char *argv[])
{
	size_t	 i;
	int	 c;

	/*
	 * No allocation statistics (nothing here reads them): SQLite then
	 * takes no global mutex on every malloc and free (issue #8, load).
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	log_init("p2p-admin");
	while ((c = getopt(argc, argv, "+c:")) != -1) {
		if (c == 'c')
			conf_path = optarg;
		else
			return usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[0]) == 0)
			return cmds[i].fn(argc, argv);
	fprintf(stderr, "p2p-admin: unknown command \"%s\"\n", argv[0]);
	return usage();
}
