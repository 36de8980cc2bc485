/*
 * store/datadir.h - the data directory that p2p-admin init creates, as a
 * library call that tests reach.
 */
#ifndef P2P_ADMIN_H
#define P2P_ADMIN_H

#include <sys/types.h>

#include "core/config.h"
#include "core/err.h"

struct admin_init_opts {
	const char	*data_dir;	/* created if missing; NULL: the
					   data_dir of the configuration
					   conf names (it must exist) */
	const char	*conf;		/* data_dir NULL: -c FILE, or NULL
					   for the default search */
	const char	*base_url;	/* NULL: default */
	const char	*share_dir;	/* NULL: compiled-in */
	const char	*runner;	/* NULL: none */
	const char	*owner;		/* "user[:group]" or NULL */
	int		 demo;		/* demo settings (see docs/operations.md) */
	int		 update;	/* an existing directory is updated */
};

/*
 * Creates the data directory (mode 0750) with bulk/, keys/ (0700),
 * run/, log/, www/, errors/, the signing keys (0600), the configuration
 * file unless one exists, and the database (0600) with every migration
 * applied; the log file's directory when it is elsewhere.
 *
 * A directory that already holds p2p.conf or the database is refused
 * (nothing is changed) unless update is set: then what is missing is
 * created, keys and configuration are kept, pending migrations applied.
 * With update, the options that would write a new configuration
 * (base_url, share_dir, runner, demo) are refused: edit the file.
 *
 * With owner (or, run as root, when the data directory already belongs
 * to another user: that user), everything in the data directory is
 * given to that user and group (the user's group when none is named);
 * only root may give files away.  Returns 0, or -1 with err set.
 */
int	 admin_init(const struct admin_init_opts *, struct p2p_err *);

/*
 * Resolves "user[:group]" to ids (the user's primary group when no
 * group is named).  Returns 0, or -1 with err naming what is unknown.
 */
int	 admin_owner(const char *spec, uid_t *, gid_t *, struct p2p_err *);

#endif
