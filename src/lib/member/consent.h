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

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

/* HRex consent policies (value set hrex-consent-policy). */
#define CONSENT_POLICY_REGULAR \
	"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"
#define CONSENT_POLICY_SENSITIVE \
	"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#sensitive"

/* What a validated consent allows (kept in table consent). */
struct consent_terms {
	int	 sensitive;		/* policy #sensitive (else #regular) */
	char	 start[32];		/* provision.period.start (UTC instant) */
	char	 end[32];		/* provision.period.end (UTC instant,
					   last second of a partial date) */
	char	 recipient[64];		/* the IRCP actor's NPI or reference */
};

/*
 * Validates a submitted HRex Consent for the requesting payer (its NPI
 * and Organization id, either may be "") at time now.  Returns 0 with
 * terms filled, or -1 with a 422 whose message says which rule failed.
 */
int	 consent_validate(const struct p2p_config *, json_object *consent,
	    const char *npi, const char *org_id, time_t now,
	    struct consent_terms *, struct p2p_err *);

/*
 * Sets *optout when the member has an active opt-out on file: a consent
 * row for the patient with provision 'deny' and status 'active' (loaded
 * by the payer, or recorded when a member revokes).  A revoked permit
 * (status no longer 'active') stops access under that consent only, in
 * consent_access().  0 or -1.
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

/* The release-check statements (NULL-terminated), for EXPLAIN. */
extern const char *const consent_queries[];

/*
 * The release check of a set of members in one statement (an export
 * batch, the members of a file): src is a subquery with a column
 * "patient" naming them, whose parameters are numbered from ?2; ?1 is
 * the client.  One row per match the client holds for a member (one
 * row with NULL match columns when it holds none), a member's newest
 * match first, members in patient order.  Every index read is covering
 * (0006-export-accounting.sql: consent_release; 0007-match-writes.sql:
 * consent_loaded, the opt-outs).  Step it with consent_access_next(),
 * which decides as consent_access() does.
 */
#define CONSENT_ACCESS_SQL(src) \
	"SELECT b.patient, m.mid, m.cid, m.consentless, c.status, c.policy," \
	" c.period_start, c.period_end, m.mid IS NOT NULL AND EXISTS" \
	" (SELECT 1 FROM consent o WHERE o.patient = b.patient" \
	" AND o.source = 'loaded' AND o.status = 'active'" \
	" AND o.provision = 'deny')" \
	" FROM " src " b LEFT JOIN match m ON m.client_id = ?1" \
	" AND m.patient = b.patient LEFT JOIN consent c INDEXED BY" \
	" consent_release ON c.cid = m.cid" \
	" ORDER BY b.patient, m.mid DESC"

/* One member's release check (consent_access_next()). */
struct consent_decision {
	char		 patient[128];	/* the member */
	long long	 cid;		/* consent released under (0: none,
					   or a consent-less legacy match) */
	int		 sensitive;	/* its policy is #sensitive */
	int		 ok;		/* released; else why says why */
	struct p2p_err	 why;		/* 404 no match, 403 lapsed/opt-out */
};

/*
 * The next member of st, a CONSENT_ACCESS_SQL statement bound and
 * stepped once by the caller (*rc holds that db_step() result and
 * is kept up to date): 1 with d filled, 0 after the last member, -1 with
 * err on a database failure.  allow_consentless and now as in
 * consent_access_cfg().
 */
int	 consent_access_next(struct p2p_db *, struct db_stmt *st, int *rc,
	    int allow_consentless, time_t now, struct consent_decision *d,
	    struct p2p_err *);

/*
 * consent_access() honours consent-less legacy matches (they exist only
 * when allow_legacy_consentless was on at match time).  This variant
 * honours them only while cfg->allow_legacy_consentless is still on;
 * otherwise identical.
 */
int	 consent_access_cfg(struct p2p_db *, const struct p2p_config *,
	    const char *client, const char *patient, time_t now,
	    long long *cid, int *sensitive, struct p2p_err *);

/*
 * Consent lifecycle: a consent's current row, its versions,
 * status changes (revocation) and opt-outs recorded by the payer.
 */

/* One row of table consent, with its latest version number. */
struct consent_row {
	long long	 cid;			/* internal key */
	char		 id[72];		/* server id (Consent.id) */
	char		 patient[72];		/* member (Patient id) */
	char		 client_id[128];	/* submitter, "" when loaded */
	char		 source[16];		/* submitted | loaded */
	char		 status[24];		/* FHIR Consent.status */
	char		 provision[16];		/* permit | deny | "" */
	char		 policy[160];		/* regular | sensitive | uri */
	char		 period_start[40];	/* or "" */
	char		 period_end[40];	/* or "" */
	char		 updated[32];		/* last change (UTC instant) */
	int		 version;		/* latest consent_history version */
	char		*json;			/* current JSON, caller frees
						   (consent_row_free) */
};

/* Frees what a consent_row owns (NULL fine). */
void	 consent_row_free(struct consent_row *);

/*
 * Looks up consent id.  Returns 0 with row filled (caller frees with
 * consent_row_free), 1 when there is no such consent, -1 on error.
 */
int	 consent_get(struct p2p_db *, const char *id, struct consent_row *,
	    struct p2p_err *);

/* True for the statuses a revocation may set: inactive, rejected. */
int	 consent_revoke_status(const char *status);

/*
 * Sets consent cid to status (a FHIR Consent.status code) on behalf of
 * by ("client:<id>", "admin"), recording a new consent_history version
 * and an audit "consent" event.  No change when the status is already
 * that (returns 0, *changed 0).  Runs in the caller's transaction.
 * changed may be NULL.
 */
int	 consent_set_status(struct p2p_db *, const struct consent_row *,
	    const char *status, const char *by, int *changed,
	    struct p2p_err *);
/*
 * Appends the next consent_history version of cid: its status and
 * json as set by by ("load", "client:<id>", "admin") at instant ts.
 */
int	 consent_history_add(struct p2p_db *, long long cid,
	    const char *status, const char *by, const char *ts,
	    const char *json, struct p2p_err *);

/*
 * Records an opt-out for patient as the payer: a Consent with
 * provision deny, source 'loaded', status active, version 1, audited.
 * Sets id (at least 40 bytes) and *cid.  Runs in the caller's
 * transaction.
 */
int	 consent_record_optout(struct p2p_db *, const char *patient,
	    const char *by, char *id, size_t idsz, long long *cid,
	    struct p2p_err *);

/*
 * The FHIR Consent to serve for row: its stored JSON with id,
 * meta.versionId, meta.lastUpdated and status set.  Caller puts it;
 * NULL when out of memory or the stored JSON is unreadable.
 */
json_object *consent_resource(const struct consent_row *);

/*
 * A receiving payer's own consents: those it submitted
 * (source 'submitted', its client id); any other consent does not exist
 * for it.
 */
#define CONSENT_SEARCH_MAX	100	/* consents of one client for one member */

/*
 * Consent id when client submitted it: 0 with r filled (caller frees
 * with consent_row_free()), 1 when client has no such consent, -1 on
 * error.
 */
int	 consent_get_own(struct p2p_db *, const char *id, const char *client,
	    struct consent_row *, struct p2p_err *);

/*
 * The searchset Bundle of client's consents for patient (the first
 * CONSENT_SEARCH_MAX), fullUrls under fhir_base.  Caller puts; NULL
 * with err.
 */
json_object *consent_search(struct p2p_db *, const char *fhir_base,
	    const char *client, const char *patient, struct p2p_err *);

/*
 * A FHIR update of client's consent id that may only withdraw it: to
 * status inactive or rejected (or keep it), when version (an If-Match;
 * -1 for none) is the current one, in one transaction, recorded as a new
 * version and audited (consent_set_status()).  Returns 0 with r the
 * stored state; -1 with err: 404 (not client's), 412 (version), 422 (any
 * other status, reactivation included), r filled when the refusal
 * concerns a consent of client.  The caller frees r either way.
 */
int	 consent_revoke_own(struct p2p_db *, const char *id,
	    const char *client, const char *status, int version,
	    struct consent_row *r, struct p2p_err *);

/*
 * What p2p-admin consent shows of a member.  consent_each_of() calls fn
 * with the id of each of the member's consents (loaded, or submitted by
 * a client with its match), in the order they were stored; fn returns
 * non-zero, with err set, to stop (-1 then).  consent_versions() calls
 * fn for each version of a consent's history; consent_matches() for
 * each match a client holds of the member.  Strings live until fn
 * returns.  0, or -1 with err set.
 */
typedef int	 consent_id_fn(void *arg, const char *id);
int	 consent_each_of(struct p2p_db *, const char *patient,
	    consent_id_fn *fn, void *arg, struct p2p_err *);

struct consent_version {
	int		 version;
	const char	*status;
	const char	*changed_by;	/* NULL when not recorded */
	const char	*time;
};
typedef void	 consent_version_fn(void *arg, const struct consent_version *);
int	 consent_versions(struct p2p_db *, long long cid,
	    consent_version_fn *fn, void *arg, struct p2p_err *);

struct consent_match {
	const char	*client;
	const char	*consent;	/* Consent.id, NULL for none */
	const char	*group;		/* MatchedMembers Group, or NULL */
	int		 consentless;	/* a legacy match without Consent */
	const char	*created;
};
typedef void	 consent_match_fn(void *arg, const struct consent_match *);
int	 consent_matches(struct p2p_db *, const char *patient,
	    consent_match_fn *fn, void *arg, struct p2p_err *);

#endif
