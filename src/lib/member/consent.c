/*
 * consent.c - see consent.h.
 *
 * Validation follows the HRex Consent profile (hrex-consent, the same
 * in HRex 1.0.0-1.2.0) strictly where it protects the member (status,
 * scope, category, policy, provision type and period, recipient) and
 * tolerates what the published examples leave out (sourceReference,
 * the performer/source actor, provision.action, Consent.patient
 * pointing at a server-side id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "member/consent.h"

#define SYS_SCOPE	"http://terminology.hl7.org/CodeSystem/consentscope"
#define SYS_ACTCODE	"http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define SYS_PARTTYPE	"http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"

/*
 * Policy URIs accepted: the value set's canonical form (with
 * "StructureDefinition-hrex-consent.html#", as in the HRex value set and
 * the seeds) and the "StructureDefinition/hrex-consent#" spelling some
 * clients derive from the profile canonical.
 */
static const struct {
	const char	*uri;
	int		 sensitive;
} policies[] = {
	{ CONSENT_POLICY_REGULAR, 0 },
	{ CONSENT_POLICY_SENSITIVE, 1 },
	{ "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition/hrex-consent#regular", 0 },
	{ "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition/hrex-consent#sensitive", 1 },
};

/* The two the release check runs (also for the query-plan test). */
/* An opt-out is a consent the payer loaded or recorded (source
 * 'loaded'): submitted consents are permits (index consent_loaded). */
#define SQL_OPTOUT \
	"SELECT cid FROM consent WHERE patient = ?1 AND source = 'loaded'" \
	" AND status = 'active' AND provision = 'deny' LIMIT 1"
#define SQL_ACCESS	CONSENT_ACCESS_SQL("(SELECT ?2 AS patient)")

enum stmt {
	STMT_OPTOUT,		/* an active opt-out of a member */
	STMT_STORE,		/* a submitted consent */
	STMT_HISTORY,		/* its version 1 */
	STMT_MATCH,		/* a match under a consent */
	STMT_ACCESS,		/* the release check's matches */
	STMT_GET,		/* one consent with its version */
	STMT_SET_STATUS,	/* a status change */
	STMT_HISTORY_NEXT,	/* the next version */
	STMT_OPTOUT_STORE,	/* an opt-out the payer records */
	STMT_SEARCH,		/* a client's consents for a member */
	STMT_OF_PATIENT,	/* every consent of a member */
	STMT_VERSIONS,		/* a consent's history */
	STMT_MATCHES,		/* who holds a match of a member */
	STMT__MAX
};

static const char *const sql[STMT__MAX] = {
	/* STMT_OPTOUT */
	SQL_OPTOUT,
	/* STMT_STORE */
	"INSERT INTO consent (id, patient, client_id, source, status, provision,"
	" policy, period_start, period_end, recipient, created, updated, json)"
	" VALUES (?1, ?2, ?3, 'submitted', 'active', 'permit', ?4, ?5, ?6, ?7,"
	" ?8, ?8, ?9)",
	/* STMT_HISTORY: json NULL, version 1 is consent.json
	 * (0002-narrow-writes.sql) */
	"INSERT INTO consent_history (cid, version, status, changed_by, time, json)"
	" VALUES (?1, 1, 'active', ?2, ?3, NULL)",
	/* STMT_MATCH */
	"INSERT INTO match (client_id, patient, cid, group_id, consentless,"
	" created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* STMT_ACCESS */
	SQL_ACCESS,
	/* STMT_GET */
	"SELECT c.cid, c.id, c.patient, c.client_id, c.source, c.status,"
	" c.provision, c.policy, c.period_start, c.period_end, c.updated,"
	" c.json, (SELECT COALESCE(MAX(h.version), 0) FROM consent_history h"
	" WHERE h.cid = c.cid) FROM consent c WHERE c.id = ?1",
	/* STMT_SET_STATUS */
	"UPDATE consent SET status = ?2, updated = ?3, json = ?4 WHERE cid = ?1",
	/* STMT_HISTORY_NEXT */
	"INSERT INTO consent_history (cid, version, status, changed_by, time,"
	" json) VALUES (?1, (SELECT COALESCE(MAX(version), 0) + 1"
	" FROM consent_history WHERE cid = ?1), ?2, ?3, ?4, ?5)",
	/* STMT_OPTOUT_STORE */
	"INSERT INTO consent (id, patient, client_id, source, status, provision,"
	" policy, period_start, period_end, recipient, created, updated, json)"
	" VALUES (?1, ?2, NULL, 'loaded', 'active', 'deny', NULL, NULL, NULL,"
	" NULL, ?3, ?3, ?4)",
	/* STMT_SEARCH: every consent a client submits comes with its
	 * match (index match_client_patient, 0007-match-writes.sql) */
	"SELECT DISTINCT c.id, c.cid FROM match m JOIN consent c"
	" ON c.cid = m.cid WHERE m.client_id = ?1 AND m.patient = ?2"
	" AND c.client_id = ?1 AND c.source = 'submitted'"
	" ORDER BY c.cid LIMIT ?3",
	/* STMT_OF_PATIENT: those the payer loaded (index consent_loaded)
	 * and those clients submitted, through their matches
	 * (match_client_patient, once for each client) */
	"SELECT id, cid FROM consent WHERE patient = ?1 AND source = 'loaded'"
	" UNION SELECT c.id, c.cid FROM match m JOIN consent c ON c.cid = m.cid"
	" WHERE m.client_id IN (SELECT id FROM client) AND m.patient = ?1"
	" ORDER BY 2",
	/* STMT_VERSIONS */
	"SELECT version, status, changed_by, time FROM consent_history"
	" WHERE cid = ?1 ORDER BY version",
	/* STMT_MATCHES */
	"SELECT m.client_id, k.id, m.group_id, m.consentless, m.created"
	" FROM match m LEFT JOIN consent k ON k.cid = m.cid"
	" WHERE m.client_id IN (SELECT id FROM client) AND m.patient = ?1"
	" ORDER BY m.mid",
};

/* The queries the release check runs, for the query-plan test. */
const char *const consent_queries[] = { SQL_OPTOUT, SQL_ACCESS, NULL };

/* Is r "Organization/<org>", optionally behind base + "/"? */
static int
ref_is_org(const char *r, const char *base, const char *org)
{
	size_t	 bl;

	if (base != NULL) {
		bl = strlen(base);
		if (strncmp(r, base, bl) != 0 || r[bl] != '/')
			return 0;
		r += bl + 1;
	}
	return strncmp(r, "Organization/", 13) == 0 && strcmp(r + 13, org) == 0;
}

/*
 * Does this IRCP actor's reference name the caller: a reference to its
 * Organization, or an NPI identifier equal to its NPI?
 */
static int
names_caller(const struct p2p_config *cfg, json_object *ref,
    const char *npi, const char *org_id, char recipient[64])
{
	json_object	*ident;
	const char	*r, *sys, *val;

	if ((r = fhir_str(ref, "reference")) != NULL && org_id[0] != '\0' &&
	    (ref_is_org(r, NULL, org_id) ||
	    ref_is_org(r, cfg->fhir_base, org_id))) {
		snprintf(recipient, 64, "Organization/%.48s", org_id);
		return 1;
	}
	if ((ident = fhir_get(ref, "identifier", json_type_object)) != NULL &&
	    npi[0] != '\0' &&
	    (sys = fhir_str(ident, "system")) != NULL &&
	    (val = fhir_str(ident, "value")) != NULL &&
	    strcmp(sys, SYS_NPI) == 0 && strcmp(val, npi) == 0) {
		snprintf(recipient, 64, "npi:%.31s", npi);
		return 1;
	}
	return 0;
}

int
consent_validate(const struct p2p_config *cfg, json_object *c,
    const char *npi, const char *org_id, time_t now,
    struct consent_terms *t, struct p2p_err *err)
{
	json_object	*cat, *pol, *prov, *period, *actors, *a;
	const char	*s, *start, *end;
	time_t		 t0, t1;
	size_t		 i, j, n;
	int		 found = 0, ircp = 0, named = 0;

	memset(t, 0, sizeof(*t));
	if ((s = fhir_type(c)) == NULL || strcmp(s, "Consent") != 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE, "Consent",
		    "Consent: not a Consent resource");
	if ((s = fhir_str(c, "status")) == NULL || strcmp(s, "active") != 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.status", "Consent.status must be active");
	if (!fhir_has_coding(fhir_get(c, "scope", json_type_object),
	    SYS_SCOPE, "patient-privacy"))
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.scope", "Consent.scope must be consentscope"
		    "#patient-privacy");
	if ((cat = fhir_get(c, "category", json_type_array)) != NULL)
		for (i = 0; i < json_object_array_length(cat) && !found; i++)
			found = fhir_has_coding(json_object_array_get_idx(cat, i),
			    SYS_ACTCODE, "IDSCL");
	if (!found)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.category", "Consent.category must include"
		    " v3-ActCode#IDSCL");

	/* HRex 1.1 (FHIR-42737): exactly one HRex policy. */
	found = 0;
	if ((pol = fhir_get(c, "policy", json_type_array)) != NULL)
		for (i = 0; i < json_object_array_length(pol); i++) {
			s = fhir_str(json_object_array_get_idx(pol, i), "uri");
			for (j = 0; s != NULL &&
			    j < sizeof(policies) / sizeof(policies[0]); j++)
				if (strcmp(s, policies[j].uri) == 0) {
					found++;
					t->sensitive = policies[j].sensitive;
				}
		}
	if (found != 1)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.policy", "Consent.policy must carry exactly one"
		    " HRex policy uri (#regular or #sensitive), found %d", found);

	if ((prov = fhir_get(c, "provision", json_type_object)) == NULL ||
	    (s = fhir_str(prov, "type")) == NULL || strcmp(s, "permit") != 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.type", "Consent.provision.type must be"
		    " permit");
	if ((period = fhir_get(prov, "period", json_type_object)) == NULL ||
	    (start = fhir_str(period, "start")) == NULL ||
	    (end = fhir_str(period, "end")) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.period", "Consent.provision.period needs"
		    " both start and end");
	if (time_parse(start, 0, &t0) == -1 || time_parse(end, 1, &t1) == -1 ||
	    t1 < t0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.period", "Consent.provision.period is"
		    " not a valid period");
	if (now < t0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.period.start", "the consent is not in"
		    " effect yet (provision.period.start)");
	if (now > t1)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.period.end", "the consent has expired"
		    " (provision.period.end)");
	time_instant(t0, t->start);
	time_instant(t1, t->end);

	/* The recipient (IRCP) must be the caller: HRex "SHALL include the
	 * requester". */
	if ((actors = fhir_get(prov, "actor", json_type_array)) != NULL) {
		n = json_object_array_length(actors);
		for (i = 0; i < n && !named; i++) {
			a = json_object_array_get_idx(actors, i);
			if (!fhir_has_coding(fhir_get(a, "role",
			    json_type_object), SYS_PARTTYPE, "IRCP"))
				continue;
			ircp++;
			named = names_caller(cfg, fhir_get(a, "reference",
			    json_type_object), npi, org_id, t->recipient);
		}
	}
	if (ircp == 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Consent.provision.actor", "the consent has no recipient"
		    " actor (role v3-ParticipationType#IRCP)");
	if (!named)
		return p2p_fail_at(err, 422, P2P_ISSUE_FORBIDDEN,
		    "Consent.provision.actor", "the consent's recipient (IRCP)"
		    " is not the requesting payer");
	return 0;
}

int
consent_optout(struct p2p_db *db, const char *patient, int *optout,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	*optout = 0;
	if ((st = db_query(db, sql[STMT_OPTOUT], err, "t", patient)) == NULL)
		return -1;
	rc = db_step(st);
	if (rc == DB_ROW)
		*optout = 1;
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "opt-out lookup");
	return 0;
}

int
consent_store(struct p2p_db *db, json_object *consent,
    const struct consent_terms *t, const char *patient, const char *client,
    long long *cid, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*json;
	char		 id[40], ts[32];

	*cid = 0;
	/*
	 * 'c', the capture time in milliseconds (12 hex digits) and 80
	 * random bits: as unguessable as needed, and each new id sorts
	 * after the previous ones, so the unique index on id takes it on
	 * the same page (one page written for a batch of captures, not one
	 * at a random place each: web/batch.c).
	 */
	snprintf(id, sizeof(id), "c%012llx",
	    (unsigned long long)now_ms() & 0xffffffffffffULL);
	if (rand_hex(id + 13, 10) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "no randomness");
	time_instant(now_sec(), ts);
	json = fhir_json(consent);
	if ((st = db_query(db, sql[STMT_STORE], err, "ttttttttt", id, patient,
	    client, t->sensitive ? "sensitive" : "regular", t->start, t->end,
	    t->recipient, ts, json)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "consent insert") == -1)
		return -1;
	*cid = db_last_id(db);

	if ((st = db_query(db, sql[STMT_HISTORY], err, "Itt", *cid, client,
	    ts)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "consent history insert") == -1)
		return -1;
	/* Every consent captured is in the audit trail. */
	return audit_log(db, "consent", "success", client, patient, *cid,
	    "captured (submitted, version 1)", err);
}

int
consent_record_match(struct p2p_db *db, const char *client,
    const char *patient, long long cid, const char *group_id,
    int consentless, struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 ts[32];

	if (cid <= 0 && !consentless)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "a match needs a consent");
	time_instant(now_sec(), ts);
	if ((st = db_query(db, sql[STMT_MATCH], err, "tt", client,
	    patient)) == NULL)
		return -1;
	if (cid > 0)
		db_bind_int64(st, 3, cid);
	db_bind_text(st, 4, group_id);
	db_bind_int(st, 5, consentless ? 1 : 0);
	db_bind_text(st, 6, ts);
	return db_step_done(db, st, err, "match insert");
}

/* Does the match of st's current row release the member at now? */
static int
row_releases(struct db_stmt *st, int allow_consentless, time_t now)
{
	const char	*status, *ps, *pe;
	time_t		 t0, t1;

	if (db_col_int(st, 3))		/* consent-less legacy */
		return allow_consentless;
	status = db_col_text(st, 4);
	ps = db_col_text(st, 6);
	pe = db_col_text(st, 7);
	return status != NULL && strcmp(status, "active") == 0 &&
	    ps != NULL && pe != NULL && time_parse(ps, 0, &t0) == 0 &&
	    time_parse(pe, 1, &t1) == 0 && now >= t0 && now <= t1;
}

int
consent_access_next(struct p2p_db *db, struct db_stmt *st, int *rc,
    int allow_consentless, time_t now, struct consent_decision *d,
    struct p2p_err *err)
{
	const char	*p, *policy;
	int		 rows = 0, optout = 0;

	memset(d, 0, sizeof(*d));
	p2p_err_init(&d->why);
	if (*rc != DB_ROW)
		return *rc == DB_DONE ? 0 :
		    db_fail(db, *rc, err, "release check");
	if ((p = db_col_text(st, 0)) == NULL ||
	    strlen(p) >= sizeof(d->patient))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "member id too long");
	memcpy(d->patient, p, strlen(p) + 1);
	/* The member's matches, newest first: the first that releases. */
	do {
		if (!db_col_null(st, 1)) {
			rows++;
			if (!d->ok && row_releases(st, allow_consentless,
			    now)) {
				d->ok = 1;
				d->cid = db_col_int64(st, 2);
				policy = db_col_text(st, 5);
				d->sensitive = !db_col_int(st, 3) &&
				    policy != NULL &&
				    strcmp(policy, "sensitive") == 0;
				optout = db_col_int(st, 8);
			}
		}
		*rc = db_step(st);
	} while (*rc == DB_ROW && (p = db_col_text(st, 0)) != NULL &&
	    strcmp(p, d->patient) == 0);
	if (*rc != DB_ROW && *rc != DB_DONE)
		return db_fail(db, *rc, err, "release check");
	if (rows == 0)
		p2p_fail(&d->why, 404, P2P_ISSUE_NOT_FOUND, "no member"
		    " matched by this client with that id");
	else if (!d->ok)
		p2p_fail(&d->why, 403, P2P_ISSUE_FORBIDDEN, "the consent for"
		    " this member is no longer valid (expired or revoked)");
	else if (optout)
		p2p_fail(&d->why, 403, P2P_ISSUE_FORBIDDEN, "the member has"
		    " opted out of payer-to-payer exchange");
	if (d->why.status != 0) {
		d->ok = 0;
		d->cid = 0;
		d->sensitive = 0;
	}
	return 1;
}

static int
access_check(struct p2p_db *db, int allow_consentless, const char *client,
    const char *patient, time_t now, long long *cid, int *sensitive,
    struct p2p_err *err)
{
	struct consent_decision	 d;
	struct db_stmt		*st;
	int			 rc, r;

	*cid = 0;
	*sensitive = 0;
	if ((st = db_query(db, sql[STMT_ACCESS], err, "tt", client,
	    patient)) == NULL)
		return -1;
	rc = db_step(st);
	r = consent_access_next(db, st, &rc, allow_consentless, now, &d, err);
	db_done(st);
	if (r == -1)
		return -1;
	if (r == 0)
		return db_fail(db, DB_ERROR, err, "release check");
	if (!d.ok)
		return p2p_fail(err, d.why.status, d.why.issue, "%s",
		    d.why.msg);
	*cid = d.cid;
	*sensitive = d.sensitive;
	return 0;
}

int
consent_access(struct p2p_db *db, const char *client, const char *patient,
    time_t now, long long *cid, int *sensitive, struct p2p_err *err)
{
	return access_check(db, 1, client, patient, now, cid, sensitive, err);
}

int
consent_access_cfg(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *patient, time_t now, long long *cid,
    int *sensitive, struct p2p_err *err)
{
	return access_check(db, cfg->allow_legacy_consentless != 0, client,
	    patient, now, cid, sensitive, err);
}

/* --- lifecycle --------------------------------------------------------- */


void
consent_row_free(struct consent_row *r)
{
	if (r == NULL)
		return;
	free(r->json);
	r->json = NULL;
}

int
consent_get(struct p2p_db *db, const char *id, struct consent_row *r,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if ((st = db_query(db, sql[STMT_GET], err, "t", id)) == NULL)
		return -1;
	if ((rc = db_step_row(db, st, err, "consent lookup")) != 0)
		return rc;
	db_row(st, "Icccccccccc-i", &r->cid, r->id, sizeof(r->id),
	    r->patient, sizeof(r->patient), r->client_id, sizeof(r->client_id),
	    r->source, sizeof(r->source), r->status, sizeof(r->status),
	    r->provision, sizeof(r->provision), r->policy, sizeof(r->policy),
	    r->period_start, sizeof(r->period_start), r->period_end,
	    sizeof(r->period_end), r->updated, sizeof(r->updated), &r->version);
	r->json = xstrdup(db_col_text(st, 11) != NULL ?
	    db_col_text(st, 11) : "{}");
	db_done(st);
	if (r->json == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return 0;
}

int
consent_revoke_status(const char *status)
{
	return status != NULL && (strcmp(status, "inactive") == 0 ||
	    strcmp(status, "rejected") == 0);
}

int
consent_history_add(struct p2p_db *db, long long cid, const char *status,
    const char *by, const char *ts, const char *json, struct p2p_err *err)
{
	return db_run(db, sql[STMT_HISTORY_NEXT], err, "consent history insert",
	    "Itttt", cid, status, by, ts, json);
}

int
consent_set_status(struct p2p_db *db, const struct consent_row *r,
    const char *status, const char *by, int *changed, struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*o = NULL, *v;
	const char	*json, *client;
	char		 ts[32], detail[160];
	int		 ret = -1;

	if (changed != NULL)
		*changed = 0;
	if (strcmp(r->status, status) == 0)
		return 0;
	/* The stored JSON is ours (validated at capture or load). */
	o = json_tokener_parse(r->json);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "stored consent %s is"
		    " not readable", r->id);
		goto out;
	}
	v = json_object_new_string(status);
	if (fhir_add(o, "status", v) == -1 ||
	    (json = fhir_json(o)) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	time_instant(now_sec(), ts);
	if ((st = db_stmt(db, sql[STMT_SET_STATUS], err)) == NULL)
		goto out;
	db_bind_int64(st, 1, r->cid);
	db_bind_text(st, 2, status);
	db_bind_text(st, 3, ts);
	db_bind_text(st, 4, json);
	if (db_step_done(db, st, err, "consent update") == -1)
		goto out;
	if (consent_history_add(db, r->cid, status, by, ts, json, err) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "%s: %s -> %s by %s",
	    consent_revoke_status(status) ? "revoked" : "status changed",
	    r->status, status, by);
	/* The agent is the client that acted; an administrator is none. */
	client = strncmp(by, "client:", 7) == 0 ? by + 7 : NULL;
	if (audit_log(db, "consent", "success", client, r->patient, r->cid,
	    detail, err) == -1)
		goto out;
	if (changed != NULL)
		*changed = 1;
	ret = 0;
out:
	json_object_put(o);
	return ret;
}

/* --- a receiving payer's own consents ---------------------------------- */

int
consent_get_own(struct p2p_db *db, const char *id, const char *client,
    struct consent_row *r, struct p2p_err *err)
{
	int	 rc;

	if ((rc = consent_get(db, id, r, err)) != 0)
		return rc;
	if (strcmp(r->source, "submitted") != 0 ||
	    strcmp(r->client_id, client) != 0) {
		consent_row_free(r);
		memset(r, 0, sizeof(*r));
		return 1;
	}
	return 0;
}

json_object *
consent_search(struct p2p_db *db, const char *fhir_base, const char *client,
    const char *patient, struct p2p_err *err)
{
	struct db_stmt		*st;
	struct consent_row	 r;
	json_object		*b, *entries, *e, *res, *s, *links, *l;
	char			 url[800];
	int			 rc, n = 0;

	if ((b = fhir_resource_new("Bundle")) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/Consent?patient=%s", fhir_base,
	    patient);
	links = json_object_new_array();
	l = json_object_new_object();
	entries = json_object_new_array();
	if (fhir_add_str(b, "type", "searchset") == -1 ||
	    fhir_add(b, "link", links) == -1 || fhir_push(links, l) == -1 ||
	    fhir_add_str(l, "relation", "self") == -1 ||
	    fhir_add_str(l, "url", url) == -1 ||
	    fhir_add(b, "entry", entries) == -1) {
		json_object_put(b);
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		return NULL;
	}
	if ((st = db_stmt(db, sql[STMT_SEARCH], err)) == NULL) {
		json_object_put(b);
		return NULL;
	}
	db_bind_text(st, 1, client);
	db_bind_text(st, 2, patient);
	db_bind_int(st, 3, CONSENT_SEARCH_MAX);
	while ((rc = db_step(st)) == DB_ROW) {
		if (consent_get(db, db_col_text(st, 0), &r, err) != 0)
			break;
		res = consent_resource(&r);
		snprintf(url, sizeof(url), "%s/Consent/%s", fhir_base, r.id);
		consent_row_free(&r);
		e = json_object_new_object();
		s = json_object_new_object();
		if (fhir_push(entries, e) == -1 ||
		    fhir_add_str(e, "fullUrl", url) == -1 ||
		    fhir_add(e, "resource", res) == -1 ||
		    fhir_add(e, "search", s) == -1 ||
		    fhir_add_str(s, "mode", "match") == -1) {
			json_object_put(s);
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
			break;
		}
		n++;
	}
	db_done(st);
	if (err->status == 0 && rc != DB_DONE)
		db_fail(db, rc, err, "consent search");
	if (err->status == 0 && fhir_add_int(b, "total", n) == -1)
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if (err->status != 0) {
		json_object_put(b);
		return NULL;
	}
	return b;
}

int
consent_revoke_own(struct p2p_db *db, const char *id, const char *client,
    const char *status, int version, struct consent_row *r,
    struct p2p_err *err)
{
	char	 by[160];
	int	 rc;

	memset(r, 0, sizeof(*r));
	if (db_begin(db, err) == -1)
		return -1;
	if ((rc = consent_get_own(db, id, client, r, err)) != 0) {
		db_rollback(db);
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "Consent/%s is not known", id) : -1;
	}
	if (version >= 0 && version != r->version) {
		p2p_fail(err, 412, P2P_ISSUE_CONFLICT, "If-Match does not"
		    " match the current version W/\"%d\"", r->version);
		goto fail;
	}
	if (strcmp(status, r->status) != 0) {
		if (!consent_revoke_status(status)) {
			p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
			    "Consent.status", "%s", strcmp(status, "active") == 0 ?
			    "a withdrawn consent cannot be reactivated; submit a"
			    " new consent with $member-match" : "a consent can"
			    " only be withdrawn: status inactive or rejected");
			goto fail;
		}
		snprintf(by, sizeof(by), "client:%s", client);
		if (consent_set_status(db, r, status, by, NULL, err) == -1)
			goto fail;
	}
	if (db_commit(db, err) == -1)
		goto fail;
	/* The stored state, as a read would answer it. */
	consent_row_free(r);
	if ((rc = consent_get(db, id, r, err)) != 0)
		return rc == 1 ? p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "Consent/%s is gone", id) : -1;
	return 0;
fail:
	db_rollback(db);
	return -1;
}

/* A minimal FHIR Consent recording the member's opt-out. */
static json_object *
optout_resource(const char *id, const char *patient, const char *date)
{
	json_object	*c, *o, *a;

	if ((c = fhir_resource_new("Consent")) == NULL)
		return NULL;
	if (fhir_add_str(c, "id", id) == -1 ||
	    fhir_add_str(c, "status", "active") == -1 ||
	    fhir_add(c, "scope", fhir_concept_new(SYS_SCOPE, "patient-privacy",
	    NULL)) == -1)
		goto fail;
	a = json_object_new_array();
	if (fhir_add(c, "category", a) == -1 ||
	    fhir_push(a, fhir_concept_new(SYS_ACTCODE, "IDSCL", NULL)) == -1)
		goto fail;
	if (fhir_add(c, "patient", fhir_ref_new("Patient/%s", patient)) == -1 ||
	    fhir_add_str(c, "dateTime", date) == -1)
		goto fail;
	o = json_object_new_object();
	if (fhir_add(c, "provision", o) == -1 ||
	    fhir_add_str(o, "type", "deny") == -1)
		goto fail;
	return c;
fail:
	json_object_put(c);
	return NULL;
}

int
consent_record_optout(struct p2p_db *db, const char *patient,
    const char *by, char *id, size_t idsz, long long *cid,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*c;
	const char	*json;
	char		 ts[32];
	int		 ret = -1;

	*cid = 0;
	if (idsz < 40)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "id too small");
	id[0] = 'o';
	if (rand_hex(id + 1, 16) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "no randomness");
	time_instant(now_sec(), ts);
	if ((c = optout_resource(id, patient, ts)) == NULL ||
	    (json = fhir_json(c)) == NULL) {
		json_object_put(c);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if ((st = db_stmt(db, sql[STMT_OPTOUT_STORE], err)) == NULL)
		goto out;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, patient);
	db_bind_text(st, 3, ts);
	db_bind_text(st, 4, json);
	if (db_step_done(db, st, err, "opt-out insert") == -1)
		goto out;
	*cid = db_last_id(db);
	if (consent_history_add(db, *cid, "active", by, ts, json, err) == -1 ||
	    audit_log(db, "consent", "success", NULL, patient, *cid,
	    "opt-out recorded (deny, version 1)", err) == -1)
		goto out;
	ret = 0;
out:
	json_object_put(c);
	return ret;
}

json_object *
consent_resource(const struct consent_row *r)
{
	json_object	*o, *meta;
	char		 v[16];

	o = json_tokener_parse(r->json);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	/* Replace whatever id/meta the submitter sent: the server's. */
	json_object_object_del(o, "meta");
	snprintf(v, sizeof(v), "%d", r->version > 0 ? r->version : 1);
	meta = json_object_new_object();
	if (fhir_add_str(o, "id", r->id) == -1 ||
	    fhir_add(o, "meta", meta) == -1 ||
	    fhir_add_str(meta, "versionId", v) == -1 ||
	    fhir_add_str(meta, "lastUpdated", r->updated) == -1 ||
	    fhir_add_str(o, "status", r->status) == -1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int
consent_each_of(struct p2p_db *db, const char *patient,
    consent_id_fn *fn, void *arg, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, stop = 0;

	if ((st = db_query(db, sql[STMT_OF_PATIENT], err, "t",
	    patient)) == NULL)
		return -1;
	while (!stop && (rc = db_step(st)) == DB_ROW)
		stop = fn(arg, db_col_text(st, 0));
	db_done(st);
	if (stop)
		return -1;
	return rc == DB_DONE ? 0 : db_fail(db, rc, err, "consent list");
}

int
consent_versions(struct p2p_db *db, long long cid, consent_version_fn *fn,
    void *arg, struct p2p_err *err)
{
	struct db_stmt		*st;
	struct consent_version	 v;
	int			 rc;

	if ((st = db_query(db, sql[STMT_VERSIONS], err, "I", cid)) == NULL)
		return -1;
	while ((rc = db_next(st, "ittt", &v.version, &v.status,
	    &v.changed_by, &v.time)) == DB_ROW)
		fn(arg, &v);
	return db_end(db, st, rc, err, "history");
}

int
consent_matches(struct p2p_db *db, const char *patient,
    consent_match_fn *fn, void *arg, struct p2p_err *err)
{
	struct db_stmt		*st;
	struct consent_match	 m;
	int			 rc;

	if ((st = db_query(db, sql[STMT_MATCHES], err, "t", patient)) == NULL)
		return -1;
	while ((rc = db_next(st, "tttit", &m.client, &m.consent, &m.group,
	    &m.consentless, &m.created)) == DB_ROW)
		fn(arg, &m);
	return db_end(db, st, rc, err, "matches");
}
