/*
 * peer/flow.h - the receiving payer's requests, start to end:
 *
 * flow_member(): one member.  HRex $member-match with what our store
 *   holds (matchreq.h); on a match, Patient/{id}/$everything, async when
 *   the peer answers 202 to Prefer: respond-async (then polled,
 *   downloaded and loaded like a bulk export), else the synchronous
 *   Bundle, every page, stored in one transaction.
 *
 * flow_bulk(): every member due for one peer.  Unfinished exchanges of
 *   an earlier run are resumed first; then the members due go into
 *   $bulk-member-match requests of at most opts->batch MemberBundles
 *   (members with the same _since together); the MatchedMembers Group
 *   is exported with $davinci-data-export (exportType payertopayer,
 *   _since on repeat requests); every file is downloaded (download.h)
 *   and stored (ingest.h); each member ends matched and fetched, not
 *   matched, consent-constrained or failed, with the peer's words.
 *
 * Faults: no answer, 429/503 and 5xx are retried later (state.h); a
 * refusal is recorded with its OperationOutcome text and printed; a job
 * the peer no longer knows (404) is asked for again next run; a run that
 * stops (signal, --wait over) leaves everything to be resumed.  One run
 * per peer at a time (a lock file in <data>/run/).
 */
#ifndef P2P_PEER_FLOW_H
#define P2P_PEER_FLOW_H

#include <signal.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define FLOW_BATCH	100	/* MemberBundles per request, by default */
#define FLOW_WAIT	3600	/* seconds a run waits for a peer's job */
#define FLOW_TIMEOUT	60	/* seconds per API call */

struct flow_opts {
	const char		*since;		/* _since for every request */
	int			 refresh;	/* fetched members again */
	int			 retry;		/* failed, nomatch, consent again */
	int			 full;		/* member: no _since */
	int			 batch;		/* 0: FLOW_BATCH */
	int			 parallel;	/* downloads, 0: default */
	long			 timeout;	/* 0: FLOW_TIMEOUT */
	long			 wait;		/* 0: FLOW_WAIT */
	int			 interval;	/* progress lines, seconds */
	long long		 stop_after;	/* test hook: files */
	volatile sig_atomic_t	*stop;		/* set by a signal */
	FILE			*out;		/* what happened, one line each */
	FILE			*prog;		/* progress lines */
};

struct flow_result {
	long	 requested;	/* members asked for */
	long	 matched;
	long	 nomatch;
	long	 consent;
	long	 fetched;
	long	 failed;
	long	 deferred;	/* retried later */
	long	 running;	/* exchanges left running at the peer */
	long long resources;	/* stored */
	int	 stopped;	/* interrupted: resume with another run */
};

/*
 * Each returns 0 when the run went through (see result for what
 * happened to whom), or -1 with err when it could not work at all (no
 * such peer, another run holds the lock, database failure, discovery
 * refused).
 */
int	 flow_member(struct p2p_db *, const struct p2p_config *,
	    const char *peer, const char *member, const struct flow_opts *,
	    struct flow_result *, struct p2p_err *);
int	 flow_bulk(struct p2p_db *, const struct p2p_config *,
	    const char *peer, const struct flow_opts *, struct flow_result *,
	    struct p2p_err *);

/* The selection of members due (NULL-terminated), for EXPLAIN. */
extern const char *const flow_queries[];

#endif
