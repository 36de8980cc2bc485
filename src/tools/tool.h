/*
 * tool.h - what a command of the command-line tools (p2p-admin,
 * p2p-request) works with: the configuration, the database and the
 * error, opened and ended the same way, messages on stderr prefixed
 * with the program's name.
 */
#ifndef P2P_TOOL_H
#define P2P_TOOL_H

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

struct tool {
	const char		*prog;	/* "p2p-admin": prefixes messages */
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	struct p2p_err		 err;
};

enum tool_open_flag {
	TOOL_USER = 1 << 0,	/* refuse root unless allow_root (the files
				   it makes stay the directory owner's) */
	TOOL_CURRENT = 1 << 1,	/* refuse a schema not at this build's
				   version (p2p-admin migrate) */
};

/*
 * Loads the configuration conf (NULL: the default) and opens its
 * database, with the checks of flags (TOOL_*).  0, or -1 after a message.
 */
int	 tool_open(struct tool *, const char *prog, const char *conf,
	    unsigned flags);

/*
 * Ends a command that tool_open() began: when rc is -1, prints
 * "prog: what: <the error>" (without "what: " when what is NULL); closes
 * the database.  Returns rc.
 */
int	 tool_end(struct tool *, int rc, const char *what);

/* The exit status of a command that tool_end()s with rc: 1 or 0. */
#define TOOL_STATUS(rc)	((rc) == -1 ? 1 : 0)

#endif
