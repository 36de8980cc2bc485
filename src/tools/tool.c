/*
 * tool.c - a command's configuration and database, opened and ended
 * (tool.h).
 */
#include <stdio.h>

#include "tool.h"

int
tool_open(struct tool *t, const char *prog, const char *conf,
    unsigned flags)
{
	t->prog = prog;
	p2p_err_init(&t->err);
	if (config_load(&t->cfg, conf, &t->err) == -1 ||
	    ((flags & TOOL_USER) && config_check_user(&t->cfg, &t->err) == -1)) {
		fprintf(stderr, "%s: %s\n", prog, t->err.msg);
		return -1;
	}
	if (db_open(&t->db, t->cfg.database, 0, &t->err) == -1) {
		fprintf(stderr, "%s: %s: %s\n", prog, t->cfg.database,
		    t->err.msg);
		return -1;
	}
	if ((flags & TOOL_CURRENT) && db_version(&t->db) !=
	    db_latest_version()) {
		fprintf(stderr, "%s: %s: schema version %d, this build needs "
		    "%d (run p2p-admin migrate)\n", prog, t->cfg.database,
		    db_version(&t->db), db_latest_version());
		db_close(&t->db);
		return -1;
	}
	return 0;
}

int
tool_end(struct tool *t, int rc, const char *what)
{
	if (rc == -1)
		fprintf(stderr, "%s: %s%s%s\n", t->prog, what ? what : "",
		    what ? ": " : "", t->err.msg);
	db_close(&t->db);
	return rc;
}
