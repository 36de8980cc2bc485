/*
 * match.h - finding the one member a request describes (HRex
 * $member-match rules, also used for each MemberBundle of PDex
 * $bulk-member-match).  See README.md ("Matching") for the rules.
 */
#ifndef P2P_MATCH_H
#define P2P_MATCH_H

#include <stddef.h>

#include <json-c/json.h>

#include "db.h"
#include "err.h"

/* What a request submitted for one member (all borrowed). */
struct match_input {
	json_object	*patient;	/* MemberPatient */
	json_object	*coverage;	/* CoverageToMatch / OldCoverage */
	json_object	*link;		/* CoverageToLink / NewCoverage, or NULL */
	json_object	*consent;	/* Consent, or NULL */
	int		 legacy;	/* PDex STU1 form (OldCoverage) */
};

enum match_result {
	MATCH_ONE,	/* exactly one member: patient_id set */
	MATCH_NONE,	/* no member */
	MATCH_MANY,	/* more than one member */
};

/*
 * Finds the member.  Lookups go through the ident and demog indexes
 * only.  Returns 0 with *res (and patient_id for MATCH_ONE), or -1 with
 * err set (database failure).
 */
int	 match_find(struct p2p_db *, const struct match_input *,
	    enum match_result *res, char *patient_id, size_t idsz,
	    struct p2p_err *);

#endif
