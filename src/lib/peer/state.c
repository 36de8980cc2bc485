/*
 * peer/state.c - see state.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "peer/state.h"

static const char *const state_names[INB__MAX] = {
	"due",		/* INB_DUE */
	"requested",	/* INB_REQUESTED */
	"matched",	/* INB_MATCHED */
	"nomatch",	/* INB_NOMATCH */
	"consent",	/* INB_CONSENT */
	"fetched",	/* INB_FETCHED */
	"failed",	/* INB_FAILED */
	"withdrawn",	/* INB_WITHDRAWN */
};

static const char *const event_names[INB_EV__MAX] = {
	"request",	/* INB_EV_REQUEST */
	"matched",	/* INB_EV_MATCHED */
	"nomatch",	/* INB_EV_NOMATCH */
	"consent",	/* INB_EV_CONSENT */
	"fetched",	/* INB_EV_FETCHED */
	"failed",	/* INB_EV_FAILED */
	"retry",	/* INB_EV_RETRY */
	"withdraw",	/* INB_EV_WITHDRAW */
	"reopen",	/* INB_EV_REOPEN */
};

#define X	-1
#define DUE	INB_DUE
#define REQ	INB_REQUESTED
#define MAT	INB_MATCHED
#define NOM	INB_NOMATCH
#define CON	INB_CONSENT
#define FET	INB_FETCHED
#define FAI	INB_FAILED
#define WDR	INB_WITHDRAWN

/* next[state][event]; the rows follow enum inb_state. */
static const int next[INB__MAX][INB_EV__MAX] = {
/*		request	matched	nomatch	consent	fetched	failed	retry	withdr.	reopen */
/* due */	{ REQ,	X,	X,	X,	X,	FAI,	DUE,	WDR,	X },
/* requested */	{ REQ,	MAT,	NOM,	CON,	X,	FAI,	DUE,	WDR,	X },
/* matched */	{ REQ,	MAT,	X,	CON,	FET,	FAI,	DUE,	WDR,	X },
/* nomatch */	{ REQ,	X,	X,	X,	X,	X,	X,	WDR,	X },
/* consent */	{ REQ,	X,	X,	X,	X,	X,	X,	WDR,	X },
/* fetched */	{ REQ,	X,	X,	X,	X,	X,	X,	WDR,	X },
/* failed */	{ REQ,	X,	X,	X,	X,	FAI,	X,	WDR,	X },
/* withdrawn */	{ X,	X,	X,	X,	X,	X,	X,	WDR,	DUE },
};

#undef X
#undef DUE
#undef REQ
#undef MAT
#undef NOM
#undef CON
#undef FET
#undef FAI
#undef WDR

int
inb_next(enum inb_state s, enum inb_event ev)
{
	if ((int)s < 0 || s >= INB__MAX || (int)ev < 0 || ev >= INB_EV__MAX)
		return -1;
	return next[s][ev];
}

const char *
inb_state_name(enum inb_state s)
{
	return name_of(state_names, INB__MAX, (int)s);
}

const char *
inb_event_name(enum inb_event ev)
{
	return name_of(event_names, INB_EV__MAX, (int)ev);
}

int
inb_state_parse(const char *s)
{
	return name_index(state_names, INB__MAX, s);
}

long long
inb_backoff(int n)
{
	long long	 d = INB_BACKOFF_MIN;

	while (n-- > 1 && d < INB_BACKOFF_MAX)
		d *= 2;
	return d > INB_BACKOFF_MAX ? INB_BACKOFF_MAX : d;
}

static const char *const sql_get =
    "SELECT " INBOUND_COLS " FROM inbound WHERE patient = ?1 AND peer = ?2";
static const char *const sql_sync_ins =
    "INSERT INTO inbound (patient, peer, state, consent_id, opted_in,"
    " coverage_start, deadline, updated) VALUES (?1, ?2, ?3, ?4,"
    " nullif(?5, ''), nullif(?6, ''), nullif(?7, ''), ?8)"
    " ON CONFLICT (patient, peer) DO UPDATE SET consent_id = excluded.consent_id,"
    " opted_in = excluded.opted_in, coverage_start = excluded.coverage_start,"
    " deadline = excluded.deadline"
    " WHERE consent_id IS NOT excluded.consent_id"
    " OR opted_in IS NOT excluded.opted_in"
    " OR coverage_start IS NOT excluded.coverage_start"
    " OR deadline IS NOT excluded.deadline";
static const char *const sql_set =
    "UPDATE inbound SET state = ?3, updated = ?4, reason = ?5, attempts = ?6,"
    " next_try = ?7,"
    " requested = CASE WHEN ?8 THEN coalesce(requested, ?4) ELSE requested END,"
    " answered = CASE WHEN ?9 THEN ?4 ELSE answered END"
    " WHERE patient = ?1 AND peer = ?2";
static const char *const sql_remote =
    "UPDATE inbound SET remote_id = ?3 WHERE patient = ?1 AND peer = ?2";
static const char *const sql_fetched =
    "UPDATE inbound SET fetched = ?3, since = ?4,"
    " resources = resources + ?5 WHERE patient = ?1 AND peer = ?2";

void
inbound_row(struct db_stmt *st, struct inbound *r)
{
	int	 s;

	memset(r, 0, sizeof(*r));
	db_row(st, "cc-cccccccciIcccI", r->patient, sizeof(r->patient),
	    r->peer, sizeof(r->peer), r->consent_id, sizeof(r->consent_id),
	    r->opted_in, sizeof(r->opted_in), r->coverage_start,
	    sizeof(r->coverage_start), r->deadline, sizeof(r->deadline),
	    r->requested, sizeof(r->requested), r->answered,
	    sizeof(r->answered), r->fetched, sizeof(r->fetched), r->updated,
	    sizeof(r->updated), &r->attempts, &r->next_try, r->reason,
	    sizeof(r->reason), r->remote_id, sizeof(r->remote_id), r->since,
	    sizeof(r->since), &r->resources);
	s = inb_state_parse(db_col_text(st, 2));
	r->state = s < 0 ? INB_FAILED : (enum inb_state)s;
}

int
inbound_get(struct p2p_db *db, const char *patient, const char *peer,
    struct inbound *r, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if ((st = db_query(db, sql_get, err, "tt", patient, peer)) == NULL)
		return -1;
	if ((rc = db_step_row(db, st, err, "inbound")) == 0) {
		inbound_row(st, r);
		db_done(st);
	}
	return rc;
}

int
inbound_sync(struct p2p_db *db, const char *patient, const char *peer,
    const char *consent_id, const char *opted_in, const char *coverage_start,
    const char *deadline, int active, int *created, struct p2p_err *err)
{
	struct inbound	 r;
	struct db_stmt	*st;
	char		 now[32];
	int		 had;

	*created = 0;
	if ((had = inbound_get(db, patient, peer, &r, err)) == -1)
		return -1;
	/* A withdrawn opt-in is not a new member to request. */
	if (had == 1 && !active)
		return 0;
	time_instant(now_sec(), now);
	if ((st = db_query(db, sql_sync_ins, err, "tttttttt", patient, peer,
	    inb_state_name(INB_DUE), consent_id, opted_in, coverage_start,
	    deadline, now)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "inbound sync") == -1)
		return -1;
	*created = had == 1;
	if (!active && r.state != INB_WITHDRAWN)
		return inbound_event(db, patient, peer, INB_EV_WITHDRAW,
		    "the member withdrew the opt-in", 0, err) == -1 ? -1 : 0;
	if (active && had == 0 && r.state == INB_WITHDRAWN)
		return inbound_event(db, patient, peer, INB_EV_REOPEN,
		    NULL, 0, err) == -1 ? -1 : 0;
	return 0;
}

int
inbound_event(struct p2p_db *db, const char *patient, const char *peer,
    enum inb_event ev, const char *reason, long long retry_after,
    struct p2p_err *err)
{
	struct inbound	 r;
	struct db_stmt	*st;
	char		 now[32], why[600];
	long long	 next_try = 0;
	int		 rc, to, attempts = 0;

	if ((rc = inbound_get(db, patient, peer, &r, err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "member %s has no request to %s", patient, peer) : -1;
	if ((to = inb_next(r.state, ev)) == -1)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "member %s: %s "
		    "cannot happen while %s", patient, inb_event_name(ev),
		    inb_state_name(r.state));
	snprintf(why, sizeof(why), "%s", reason != NULL ? reason : "");
	if (ev == INB_EV_RETRY) {
		attempts = r.attempts + 1;
		if (attempts >= INB_MAX_ATTEMPTS) {
			to = INB_FAILED;
			snprintf(why, sizeof(why), "gave up after %d attempts: "
			    "%.480s", attempts, reason ? reason : "");
		} else
			next_try = (long long)now_sec() + (retry_after > 0 ?
			    retry_after : inb_backoff(attempts));
	} else if (ev == INB_EV_REQUEST || ev == INB_EV_MATCHED)
		attempts = r.attempts;	/* a retry is still counting */
	time_instant(now_sec(), now);
	if ((st = db_query(db, sql_set, err, "tttttiIii", patient, peer,
	    inb_state_name((enum inb_state)to), now,
	    why[0] != '\0' ? why : NULL, attempts, next_try,
	    ev == INB_EV_REQUEST, ev == INB_EV_MATCHED ||
	    ev == INB_EV_NOMATCH ||
	    (ev == INB_EV_CONSENT && r.state == INB_REQUESTED))) == NULL)
		return -1;
	rc = db_step(st);
	db_done(st);
	return rc == DB_DONE ? to : db_fail(db, rc, err, "inbound update");
}

/* An update of one row by (patient, peer) with one more text. */
static int
set_text(struct p2p_db *db, const char *sql, const char *patient,
    const char *peer, const char *a, const char *b, long long n,
    struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql, err, "ttt", patient, peer, a)) == NULL)
		return -1;
	if (b != NULL) {
		db_bind_text(st, 4, b);
		db_bind_int64(st, 5, n);
	}
	return db_step_done(db, st, err, "inbound update");
}

int
inbound_set_remote(struct p2p_db *db, const char *patient, const char *peer,
    const char *remote_id, struct p2p_err *err)
{
	return set_text(db, sql_remote, patient, peer, remote_id, NULL, 0,
	    err);
}

int
inbound_fetched(struct p2p_db *db, const char *patient, const char *peer,
    const char *since, long long resources, struct p2p_err *err)
{
	char	 now[32];

	time_instant(now_sec(), now);
	if (inbound_event(db, patient, peer, INB_EV_FETCHED, NULL, 0,
	    err) == -1)
		return -1;
	/* fetched, since and the count, in the caller's transaction */
	return set_text(db, sql_fetched, patient, peer, now, since,
	    resources, err);
}
