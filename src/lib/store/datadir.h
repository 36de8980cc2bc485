/*
 * store/datadir.h - the data directory that p2p-admin init creates, as a
 * library call that tests reach.
 */
#ifndef P2P_ADMIN_H
#define P2P_ADMIN_H

#include "core/config.h"
#include "core/err.h"

struct admin_init_opts {
	const char	*data_dir;	/* created if missing */
	const char	*base_url;	/* NULL: default */
	const char	*share_dir;	/* NULL: compiled-in */
	const char	*runner;	/* NULL: none */
	int		 demo;		/* demo settings (see README) */
};

/*
 * Creates the data directory (bulk/, keys/, run/, log/, www/), the server's signing
 * key (mode 0600), the configuration file unless one exists, and the
 * database with every migration applied.  Safe to run again: existing
 * keys and configuration are kept, pending migrations applied.
 */
int	 admin_init(const struct admin_init_opts *, struct p2p_err *);

#endif
