/*
 * peer/due.h - which members are due a request: the work list is kept
 * in step with what the payer loads.  A member who opted in is recorded
 * with an HRex Consent (p2p-admin load, source loaded): status active,
 * provision permit, recipient (IRCP) this payer, source (performer
 * actor) the previous payer; the coverage they declared with that payer
 * is a Coverage whose payor is that payer.  due_sync() reads those
 * consents and creates or refreshes one inbound row per (member,
 * registered peer); a consent no longer active withdraws it.
 *
 * Deadline (CMS-0057-F, 89 FR 8758; 42 CFR 422.121(b)(4) and the
 * parallel Medicaid, CHIP and QHP rules; consent-and-scope.md §4
 * "Timing"): the new payer requests the data no later than one week
 * after the start of coverage; when the member opts in later, we count
 * the week from the opt-in (the digest marks that case unverified).
 * So: deadline = the later of our Coverage.period.start and the
 * Consent's dateTime, plus 7 days.
 */
#ifndef P2P_PEER_DUE_H
#define P2P_PEER_DUE_H

#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define DUE_DAYS	7	/* one week */

struct due_stats {
	long	 consents;	/* opt-in consents read */
	long	 created;	/* new requests due */
	long	 withdrawn;	/* rows whose opt-in is gone */
	long	 unknown;	/* consents naming no registered peer */
};

/*
 * The deadline (YYYY-MM-DD) for a coverage start and an opt-in date
 * (either may be NULL or ""): the later one plus DUE_DAYS; "" when
 * neither is a date.  Pure.
 */
void	 due_deadline(const char *coverage_start, const char *opted_in,
	    char out[16]);

/*
 * Brings table inbound up to date with the loaded opt-ins, of member
 * (NULL: every member), in one transaction.  Consents that name a payer
 * we have no peer for are counted and, when note is not NULL, reported
 * there one line each.  0 or -1.
 */
int	 due_sync(struct p2p_db *, const struct p2p_config *,
	    const char *member, struct due_stats *, FILE *note,
	    struct p2p_err *);

/* The sync's queries (NULL-terminated), for EXPLAIN QUERY PLAN. */
extern const char *const due_queries[];

#endif
