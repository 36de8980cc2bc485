/*
 * match.h - finding the one member a request describes (HRex
 * $member-match rules, also used for each MemberBundle of PDex
 * $bulk-member-match).  See README.md ("Matching") for the rules.
 */
#ifndef P2P_MATCH_H
#define P2P_MATCH_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "store/db.h"
#include "core/err.h"

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

/* The lookup statements (NULL-terminated), for EXPLAIN QUERY PLAN. */
extern const char *const match_queries[];

/* Folded demographics of one MemberPatient (see README "Matching"). */
struct match_demog {
	char		 family[128];	/* norm_name(name.family), "" if none */
	char		 given[128];	/* norm_name(first given), "" if none */
	char		 given_all[256]; /* norm_name(all givens joined) */
	char		 birth[16];	/* birthDate as sent, "" if none */
	const char	*gender;	/* norm_gender(gender), "" if none */
};

/*
 * Folds the demographics of a Patient: the first name that has a
 * family, its given names, birthDate and gender.  Pure (no database).
 */
void	 match_demog_of(json_object *patient, struct match_demog *);

/*
 * True when a stored demog row (folded family and given as the loader
 * wrote them, birth date, gender) agrees with every demographic the
 * request gives.  Pure.
 */
int	 match_agrees(const struct match_demog *, const char *family,
	    const char *given, const char *birth, const char *gender);

/*
 * The brute-force guard (HRex: "same demographics resubmitted with
 * varying card data").  Records this attempt of client in table probe
 * and fails with 429 (Retry-After = window) when the client sent more
 * than limit distinct card data (CoverageToMatch identifiers and
 * subscriberId) for the same demographics within window seconds.
 * Returns 0 or -1 with err set.  Runs in the caller's write
 * transaction (db_begin()), which the caller commits even on the 429:
 * the attempt itself counts.
 */
int	 match_probe(struct p2p_db *, const char *client,
	    const struct match_input *, long long limit, long long window,
	    time_t now, struct p2p_err *);

/* --- $member-match (HRex) ------------------------------------------- */

/*
 * Reads a $member-match Parameters body into in (pointers borrowed from
 * body): the HRex 1.x form (MemberPatient, CoverageToMatch, optional
 * CoverageToLink, Consent) or the PDex STU1 form (OldCoverage,
 * NewCoverage, optional Consent), and the demographics HRex requires
 * (name.family, birthDate).  0, or -1 with a 400 naming the element.
 */
int	 match_parse(json_object *body, struct match_input *in,
	    struct p2p_err *);

/*
 * The operation for client, whose requesting payer is npi / org_id, at
 * now, in one write transaction: the Consent validated (422; without
 * one, the legacy form only when allow_legacy_consentless), the member
 * found and the opt-outs read, the probing guard's row (429), the
 * outcome (422 not-found, multiple-matches; forbidden for an opt-out),
 * then the Consent stored, the match recorded and the success audited
 * (event match).  A refusal keeps the probe row (the attempt counts)
 * and writes nothing else: its record is the caller's.  Returns 0 with
 * patient set to the member id; -1 with err, patient "" unless the
 * refusal concerns that member (an opt-out, a failed store).
 */
int	 match_member(struct p2p_db *, const struct p2p_config *,
	    const struct match_input *, const char *client, const char *npi,
	    const char *org_id, time_t now, char *patient, size_t patientsz,
	    struct p2p_err *);

/*
 * The output Parameters for the member patient: HRex 1.1+ MemberIdentifier
 * (UMB) and MemberId, or for the STU1 form MemberPatient (with the UMB
 * identifier added) and NewCoverage.  Caller puts; NULL when out of
 * memory.
 */
json_object *match_reply(const struct p2p_config *, const struct match_input *,
	    const char *patient);

#endif
