/*
 * peer/state.h - where each member's request to a previous payer stands
 * (table inbound), as a state machine: the transitions are a table
 * (inb_next), every change goes through inbound_event(), which also
 * keeps the dates, the reason in words and the retry schedule.
 *
 *   due --request--> requested --matched--> matched --fetched--> fetched
 *                       |  \--nomatch--> nomatch        |
 *                       |   \--consent--> consent <-----+ (export refused)
 *                       +--failed--> failed
 *   transient faults (retry): back to due, attempts + 1, next_try later;
 *   after INB_MAX_ATTEMPTS the member is failed with the last reason.
 *   nomatch, consent, fetched, failed: a new request (p2p-request member,
 *   bulk --refresh / --retry) starts over; withdraw from anywhere.
 */
#ifndef P2P_PEER_STATE_H
#define P2P_PEER_STATE_H

#include <time.h>

#include "core/err.h"
#include "store/db.h"

#define INB_MAX_ATTEMPTS	8	/* transient faults before failed */
#define INB_BACKOFF_MIN		60	/* seconds after the first fault */
#define INB_BACKOFF_MAX		21600	/* at most six hours */

enum inb_state {
	INB_DUE,		/* opted in, not requested yet (or again) */
	INB_REQUESTED,		/* a match request is out */
	INB_MATCHED,		/* matched; data not stored yet */
	INB_NOMATCH,		/* the peer found no unique member */
	INB_CONSENT,		/* the peer cannot honour the consent */
	INB_FETCHED,		/* the data is stored */
	INB_FAILED,		/* refused or given up: see reason */
	INB_WITHDRAWN,		/* the member withdrew the opt-in */
	INB__MAX
};

enum inb_event {
	INB_EV_REQUEST,		/* a match request goes out */
	INB_EV_MATCHED,		/* the peer matched the member */
	INB_EV_NOMATCH,		/* no (unique) member at the peer */
	INB_EV_CONSENT,		/* consent not honoured (match or export) */
	INB_EV_FETCHED,		/* the member's data is stored */
	INB_EV_FAILED,		/* a refusal retrying will not cure */
	INB_EV_RETRY,		/* a transient fault */
	INB_EV_WITHDRAW,	/* the opt-in was withdrawn */
	INB_EV_REOPEN,		/* a new opt-in after a withdrawal */
	INB_EV__MAX
};

/* The state after ev in s, or -1 when ev cannot happen in s.  Pure. */
int	 inb_next(enum inb_state s, enum inb_event ev);
/* "due", "requested", ...; and back (-1 when unknown). */
const char *inb_state_name(enum inb_state);
int	 inb_state_parse(const char *);
const char *inb_event_name(enum inb_event);
/* Seconds to wait after the n-th transient fault (n >= 1).  Pure. */
long long inb_backoff(int n);

struct inbound {
	char		 patient[72];		/* our member */
	char		 peer[72];		/* peer name */
	enum inb_state	 state;
	char		 consent_id[72];	/* the opt-in Consent */
	char		 opted_in[40];		/* its date, or "" */
	char		 coverage_start[40];	/* our coverage, or "" */
	char		 deadline[16];		/* YYYY-MM-DD, or "" */
	char		 requested[32];		/* first request, or "" */
	char		 answered[32];		/* last match answer, or "" */
	char		 fetched[32];		/* last complete fetch, or "" */
	char		 updated[32];
	int		 attempts;		/* transient faults in a row */
	long long	 next_try;		/* epoch s; 0 at once */
	char		 reason[512];		/* last refusal or fault */
	char		 remote_id[72];		/* the peer's Patient id */
	char		 since[40];		/* next _since, or "" */
	long long	 resources;		/* received, all runs */
};

/* 0 with r filled, 1 when there is no such row, -1. */
int	 inbound_get(struct p2p_db *, const char *patient, const char *peer,
	    struct inbound *, struct p2p_err *);

/*
 * The sync of one opt-in: creates the row as due, or refreshes its
 * consent, dates and deadline; active 0 withdraws, active 1 after a
 * withdrawal reopens.  *created tells whether the row is new.
 */
int	 inbound_sync(struct p2p_db *, const char *patient, const char *peer,
	    const char *consent_id, const char *opted_in,
	    const char *coverage_start, const char *deadline, int active,
	    int *created, struct p2p_err *);

/*
 * Applies ev with reason (NULL keeps none; the peer's words for
 * refusals).  RETRY schedules the next try (retry_after seconds when
 * > 0, else inb_backoff()) and becomes FAILED after INB_MAX_ATTEMPTS.
 * An event the state does not allow is 409.  Runs in the caller's
 * transaction, if any.  Returns the new state, or -1.
 */
int	 inbound_event(struct p2p_db *, const char *patient, const char *peer,
	    enum inb_event, const char *reason, long long retry_after,
	    struct p2p_err *);

/* Records the peer's id for the member.  0 or -1. */
int	 inbound_set_remote(struct p2p_db *, const char *patient,
	    const char *peer, const char *remote_id, struct p2p_err *);

/*
 * FETCHED with the transactionTime to send as the next _since and the
 * resources this fetch stored.  0 or -1.
 */
int	 inbound_fetched(struct p2p_db *, const char *patient,
	    const char *peer, const char *since, long long resources,
	    struct p2p_err *);

/* Fills r from a row of the inbound columns starting at column 0. */
void	 inbound_row(struct db_stmt *, struct inbound *);
/* The column list inbound_row() reads, for the listing queries. */
#define INBOUND_COLS "patient, peer, state, coalesce(consent_id, ''), " \
	"coalesce(opted_in, ''), coalesce(coverage_start, ''), " \
	"coalesce(deadline, ''), coalesce(requested, ''), " \
	"coalesce(answered, ''), coalesce(fetched, ''), updated, attempts, " \
	"next_try, coalesce(reason, ''), coalesce(remote_id, ''), " \
	"coalesce(since, ''), resources"

#endif
