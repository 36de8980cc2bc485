/*
 * peer/matchreq.h - what we send a previous payer to find a member of
 * ours (HRex $member-match; each MemberBundle of PDex
 * $bulk-member-match), built from what our store holds:
 *
 *   MemberPatient    our Patient: id, name, gender, birthDate, address,
 *                    telecom, birth sex (no identifiers: ours mean
 *                    nothing to the peer, and minimum necessary)
 *   CoverageToMatch  the coverage the member declared with the previous
 *                    plan: the member's Coverage whose payor is the
 *                    peer (its NPI), with its card data
 *   CoverageToLink   our Coverage (payor: our NPI)
 *   Consent          the member's opt-in: a Consent loaded by us, status
 *                    active, provision permit, whose source actor (role
 *                    performer) is the peer and whose recipient (IRCP)
 *                    is us; it must pass the same checks the responding
 *                    side makes (consent_validate), so that a consent
 *                    the peer must refuse is never sent
 *
 * References the peer cannot resolve are made portable: Organizations
 * become NPI identifiers, Coverage.beneficiary and Consent.patient point
 * at MemberPatient by its id (HRex: same id), elements that only make
 * sense here (meta, our references) are left out.
 */
#ifndef P2P_PEER_MATCHREQ_H
#define P2P_PEER_MATCHREQ_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

struct matchreq {
	json_object	*patient;	/* MemberPatient, owned */
	json_object	*coverage;	/* CoverageToMatch, owned */
	json_object	*link;		/* CoverageToLink, owned, or NULL */
	json_object	*consent;	/* Consent, owned */
	char		 consent_id[72];	/* our Consent's id */
	char		 coverage_id[72];	/* the old Coverage's id */
};

/*
 * Builds the request for member to the payer with NPI peer_npi at time
 * now.  Returns 0 (free with matchreq_free()), 1 when our store does
 * not hold what the request needs (why says what, in words for the
 * operator), -1 with err set.
 */
int	 matchreq_build(struct p2p_db *, const struct p2p_config *,
	    const char *peer_npi, const char *member, time_t now,
	    struct matchreq *, char *why, size_t whysz, struct p2p_err *);
void	 matchreq_free(struct matchreq *);

/* The $member-match Parameters (new object, caller puts), or NULL. */
json_object *matchreq_parameters(const struct matchreq *);
/* One MemberBundle parameter (new object, caller puts), or NULL. */
json_object *matchreq_member_bundle(const struct matchreq *);

/*
 * The NPI a Reference names: its identifier (us-npi system), or the NPI
 * of the Organization it references in our store.  1 with npi filled,
 * 0 when none, -1.
 */
int	 matchreq_ref_npi(struct p2p_db *, json_object *ref, char npi[16],
	    struct p2p_err *);

/*
 * The member's first Coverage (in load order) whose payor names npi:
 * 0 with *cov (caller puts) and id filled, 1 none, -1.
 */
int	 matchreq_coverage(struct p2p_db *, const char *member,
	    const char *npi, json_object **cov, char id[72], struct p2p_err *);

/*
 * The NPIs of the source actors (role provenance-participant-type
 * #performer) of an HRex Consent, at most max.  Sets *n.  0 or -1.
 */
int	 matchreq_consent_sources(struct p2p_db *, json_object *consent,
	    char (*npis)[16], size_t max, size_t *n, struct p2p_err *);

/* Checks consent as the peer will, with us as the requester. */
int	 matchreq_consent_ok(struct p2p_db *, const struct p2p_config *,
	    json_object *consent, time_t now, struct p2p_err *);

/* The builder's lookups (NULL-terminated), for EXPLAIN QUERY PLAN. */
extern const char *const matchreq_queries[];

#endif
