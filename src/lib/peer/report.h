/*
 * peer/report.h - the operator's view of the receiving side
 * (p2p-request status): the peers and what discovery found, every
 * member's request with its dates, state and the last reason (a
 * refusal in the peer's words), the one-week deadline with late and
 * overdue requests flagged (due.h), a summary by state, and the
 * exchanges under way with their download progress.
 */
#ifndef P2P_PEER_REPORT_H
#define P2P_PEER_REPORT_H

#include <stdio.h>
#include <time.h>

#include "core/err.h"
#include "peer/state.h"
#include "store/db.h"

struct report_opts {
	const char	*peer;		/* NULL: all */
	const char	*member;	/* NULL: all */
	int		 state;		/* enum inb_state, -1: all */
	int		 overdue;	/* only late or overdue requests */
};

struct report_sum {
	long	 n[INB__MAX];	/* members by state */
	long	 overdue;	/* not requested, deadline passed */
	long	 late;		/* requested after the deadline */
	long	 open;		/* exchanges under way */
};

/*
 * The deadline verdict for a request at now: 0 in time (or no
 * deadline), 1 requested late, 2 overdue (not requested, deadline
 * passed).  *days is how many days past.  Pure.
 */
int	 report_late(const struct inbound *, time_t now, long *days);

/* Writes the view to out and fills sum.  0 or -1. */
int	 report_status(struct p2p_db *, const struct report_opts *,
	    FILE *out, struct report_sum *, struct p2p_err *);

#endif
