/*
 * consent.h - HRex Consent validation, storage, opt-outs, and the
 * release check every data path runs: a client gets a member's data only
 * while it holds a match for that member under a consent that is still
 * valid, and no opt-out or revocation is on file.
 */
#ifndef P2P_CONSENT_H
#define P2P_CONSENT_H

#include <time.h>

#include <json-c/json.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "http.h"

/* What a validated consent allows (kept in table consent). */
struct consent_terms {
	int	 sensitive;		/* policy #sensitive (else #regular) */
	char	 start[32];		/* provision.period.start */
	char	 end[32];		/* provision.period.end */
	char	 recipient[64];		/* the IRCP actor's NPI or reference */
};

/*
 * Validates a submitted HRex Consent for the caller (who) at time now.
 * Returns 0 with terms filled, or -1 with a 422 whose message says which
 * rule failed.
 */
int	 consent_validate(const struct p2p_config *, json_object *consent,
	    const struct p2p_principal *who, time_t now,
	    struct consent_terms *, struct p2p_err *);

/*
 * Sets *optout when the member has an active opt-out (provision deny)
 * or a revoked consent on file.  0 or -1.
 */
int	 consent_optout(struct p2p_db *, const char *patient, int *optout,
	    struct p2p_err *);

/*
 * Stores a submitted consent for patient by client and sets *cid.
 * Runs in the caller's transaction.
 */
int	 consent_store(struct p2p_db *, json_object *consent,
	    const struct consent_terms *, const char *patient,
	    const char *client, long long *cid, struct p2p_err *);

/*
 * Records that client matched patient under consent cid (0 with
 * consentless for the configured legacy form), for group_id (NULL for a
 * single $member-match).  Runs in the caller's transaction.
 */
int	 consent_record_match(struct p2p_db *, const char *client,
	    const char *patient, long long cid, const char *group_id,
	    int consentless, struct p2p_err *);

/*
 * The release check.  Returns 0 when client may have patient's data now
 * (setting *cid and *sensitive, the consent policy), or -1 with err:
 * 404 when the client holds no match for the member, 403 when it did
 * but the consent lapsed, was revoked, or an opt-out is on file.
 */
int	 consent_access(struct p2p_db *, const char *client,
	    const char *patient, time_t now, long long *cid, int *sensitive,
	    struct p2p_err *);

#endif
