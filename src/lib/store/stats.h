/*
 * stats.h - what the store holds, counted for p2p-admin stats: one
 * read snapshot, index scans only (no resource JSON is read).
 */
#ifndef P2P_STATS_H
#define P2P_STATS_H

#include "core/err.h"
#include "store/db.h"

/* The counts broken down by a key. */
enum stats_group {
	STATS_TYPES,		/* resources by type */
	STATS_CONSENTS,		/* consents by status */
	STATS_JOBS,		/* bulk jobs by status */
	STATS__GROUPS
};

struct stats_totals {
	long long	 members;	/* Patient resources */
	long long	 clients_active;
	long long	 clients_disabled;
	long long	 matches;	/* member matches recorded */
	long long	 bytes;		/* database size */
};

typedef void	 stats_row_fn(void *arg, const char *key, long long n);

/* Opens the read snapshot every stats_*() call then reads from. */
int	 stats_begin(struct p2p_db *, struct p2p_err *);
/* Ends it. */
void	 stats_end(struct p2p_db *);
int	 stats_totals(struct p2p_db *, struct stats_totals *,
	    struct p2p_err *);
/* Calls fn per key, in key order.  0, or -1 with err set. */
int	 stats_grouped(struct p2p_db *, enum stats_group, stats_row_fn *fn,
	    void *arg, struct p2p_err *);

#endif
