/*
 * match.h - finding the one member a request describes (HRex
 * $member-match rules, also used for each MemberBundle of PDex
 * $bulk-member-match).  See docs/matching.md for the rules.
 */
#ifndef P2P_MATCH_H
#define P2P_MATCH_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

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

/* Bounds of what matching reads (a larger request is refused, 400). */
#define MATCH_MAX_IDENT		10	/* identifiers per resource */
#define MATCH_MAX_NAMES		16	/* Patient.name entries, given names */
#define MATCH_NAME_MAX		255	/* bytes of a family name, of the given
					   names of one name together */
#define MATCH_VALUE_MAX		256	/* bytes of an identifier value */
#define MATCH_MAX_LOOKUPS	(1 + 6 * MATCH_MAX_IDENT) /* (value, kind) */

/* One identifier value to look up, and where (ident.kind). */
struct match_lookup {
	const char	*value;		/* borrowed from the request */
	int		 kind;		/* 1 Patient.identifier, 2 subscriberId,
					   3 Coverage.identifier */
};

/*
 * What matching reads of one member's request, validated and folded:
 * the identity that match_find() decides on and that the probing guard
 * (match_probe()) counts, computed once by match_key_of().  Values are
 * borrowed from the request's JSON, which must outlive the key.
 */
struct match_key {
	char		 family[MATCH_NAME_MAX + 1];	/* norm_name(name.family) */
	char		 given[MATCH_NAME_MAX + 1];	/* norm_name(first given),
							   "" if none */
	char		 given_all[MATCH_NAME_MAX + 1];	/* norm_name(all given
							   names joined) */
	char		 birth[11];	/* birthDate, a FHIR date */
	const char	*gender;	/* norm_gender(gender), "" if none */
	struct match_lookup look[MATCH_MAX_LOOKUPS];	/* identifiers */
	size_t		 nlook;		/* entries of look used */
};

/*
 * The one validator of both match operations: reads patient (the
 * MemberPatient) and coverage (the CoverageToMatch, or NULL) into k,
 * checking the type and the value of every element matching reads:
 * name[] (objects; family a string; given an array of strings), the
 * first name with a family (required), birthDate (required, a FHIR
 * date), gender (an AdministrativeGender code), identifier[] of both
 * (objects; value a string; type a CodeableConcept) and subscriberId.
 * Returns 0, or -1 with a 400 naming the element under pbase or cbase
 * (e.g. "Parameters.parameter[0].resource").  Pure (no database).
 */
int	 match_key_of(json_object *patient, json_object *coverage,
	    const char *pbase, const char *cbase, struct match_key *k,
	    struct p2p_err *);

/*
 * Finds the member k describes.  Lookups go through the ident and demog
 * indexes only.  Returns 0 with *res (and patient_id for MATCH_ONE), or
 * -1 with err set (database failure).
 */
int	 match_find(struct p2p_db *, const struct match_key *k,
	    enum match_result *res, char *patient_id, size_t idsz,
	    struct p2p_err *);

/* The lookup statements (NULL-terminated), for EXPLAIN QUERY PLAN. */
extern const char *const match_queries[];

/*
 * True when a stored demog row (folded family and given as the loader
 * wrote them, birth date, gender) agrees with every demographic k
 * gives.  Pure.
 */
int	 match_agrees(const struct match_key *k, const char *family,
	    const char *given, const char *birth, const char *gender);

/*
 * The probing guard's two hashes of k (lowercase hex SHA-256): the
 * person, folded family name and birth date (what every match requires
 * and compares exactly), and the card, everything else matching reads
 * (given names, gender, the identifier values with their kinds, in a
 * fixed order).  0, or -1 when out of memory.
 */
int	 match_probe_keys(const struct match_key *k, char person[65],
	    char card[65]);

/*
 * The brute-force guard (HRex: "same demographics resubmitted with
 * varying card data"), one for both match operations.  Fails with 429
 * (Retry-After = window) when client's recorded attempts for the same
 * person within window seconds, with this one, hold more than limit
 * distinct cards (match_probe_keys()); a refused attempt is recorded in
 * table probe.  With record, the attempt is recorded either way (the
 * bulk kick-off: decided before the match); without, the caller records
 * it with match_probe_record() unless it succeeds ($member-match: a
 * success is on record as the match).  Returns 0 or -1 with err set.
 * Runs in the caller's write transaction (db_begin()), which the caller
 * commits even on the 429: the attempt itself counts.
 */
int	 match_probe(struct p2p_db *, const char *client,
	    const struct match_key *k, long long limit, long long window,
	    time_t now, int record, struct p2p_err *);

/* Records an attempt of client for the guard.  0 or -1 with err. */
int	 match_probe_record(struct p2p_db *, const char *client,
	    const struct match_key *k, time_t now, struct p2p_err *);

/*
 * Deletes the guard's rows older than window seconds before now, a few
 * thousand per statement (each its own transaction, so that a large
 * backlog never holds the write lock long); sets *n to how many.  The
 * runner calls it on every pass.  0, or -1 with err.
 */
int	 match_probe_expire(struct p2p_db *, long long window, time_t now,
	    long long *n, struct p2p_err *);

/* --- $member-match (HRex) ---------------------------------------------- */

/*
 * Reads a $member-match Parameters body into in (pointers borrowed from
 * body): the HRex 1.x form (MemberPatient, CoverageToMatch, optional
 * CoverageToLink, Consent) or the PDex STU1 form (OldCoverage,
 * NewCoverage, optional Consent), and what matching reads of it into k
 * (match_key_of(); borrowed from body too).  0, or -1 with a 400 naming
 * the element.
 */
int	 match_parse(json_object *body, struct match_input *in,
	    struct match_key *k, struct p2p_err *);

/*
 * The operation on in (its identity k) for client, whose requesting
 * payer is npi / org_id, at now, in one write transaction: the Consent validated (422; without
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
	    const struct match_input *, const struct match_key *,
	    const char *client, const char *npi,
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
