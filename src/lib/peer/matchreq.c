/*
 * peer/matchreq.c - see matchreq.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "json/params.h"
#include "member/consent.h"
#include "peer/matchreq.h"
#include "store/store.h"

#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"
#define SYS_PT		"http://terminology.hl7.org/CodeSystem/provenance-participant-type"
#define SYS_DAR		"http://terminology.hl7.org/CodeSystem/data-absent-reason"
#define URL_BIRTHSEX	"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
#define MATCHREQ_CONSENTS	32	/* opt-ins of one member looked at */

static const char *const sql_patient =
    "SELECT json FROM resource WHERE type = 'Patient' AND id = ?1";
static const char *const sql_coverages =
    "SELECT id, json FROM resource WHERE patient = ?1 AND type = 'Coverage'"
    " ORDER BY rid";
static const char *const sql_org_npi =
    "SELECT i.value FROM resource r JOIN ident i ON i.rid = r.rid"
    " WHERE r.type = 'Organization' AND r.id = ?1 AND i.kind = 4"
    " AND i.system = '" SYS_NPI "' LIMIT 1";
static const char *const sql_our_org =
    "SELECT patient FROM ident WHERE value = ?1 AND kind = 4 LIMIT 1";
static const char *const sql_optins =
    "SELECT id, json FROM consent WHERE patient = ?1 AND source = 'loaded'"
    " AND provision = 'permit' AND status = 'active' ORDER BY cid DESC";

/* The lookups of a request build, for the query-plan test. */
const char *const matchreq_queries[] = { sql_patient, sql_coverages,
	sql_org_npi, sql_our_org, sql_optins, NULL };

void
matchreq_free(struct matchreq *m)
{
	json_object_put(m->patient);
	json_object_put(m->coverage);
	json_object_put(m->link);
	json_object_put(m->consent);
	memset(m, 0, sizeof(*m));
}

/* Parses stored JSON (the store only holds valid JSON). */
static json_object *
parse_stored(const char *text, struct p2p_err *err)
{
	json_object	*o = NULL;

	if (text == NULL || fhir_parse(text, strlen(text), &o, err) == -1)
		return NULL;
	return o;
}

int
matchreq_ref_npi(struct p2p_db *db, json_object *ref, char npi[16],
    struct p2p_err *err)
{
	json_object	*id;
	struct db_stmt	*st;
	const char	*sys, *val, *r;
	int		 rc, found = 0;

	if (!json_object_is_type(ref, json_type_object))
		return 0;
	if ((id = fhir_get(ref, "identifier", json_type_object)) != NULL &&
	    (sys = fhir_str(id, "system")) != NULL &&
	    strcmp(sys, SYS_NPI) == 0 && (val = fhir_str(id, "value")) != NULL &&
	    strlen(val) < 16) {
		snprintf(npi, 16, "%s", val);
		return 1;
	}
	if ((r = fhir_str(ref, "reference")) == NULL ||
	    strncmp(r, "Organization/", 13) != 0 || !fhir_valid_id(r + 13))
		return 0;
	if ((st = db_query(db, sql_org_npi, err, "t", r + 13)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW && db_col_text(st, 0) &&
	    strlen(db_col_text(st, 0)) < 16) {
		snprintf(npi, 16, "%s", db_col_text(st, 0));
		found = 1;
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "organization NPI");
	return found;
}

/* Does any payor of a Coverage name npi?  1, 0, -1. */
static int
payor_is(struct p2p_db *db, json_object *cov, const char *npi,
    struct p2p_err *err)
{
	json_object	*arr;
	char		 got[16];
	size_t		 i, n;
	int		 rc;

	if ((arr = fhir_get(cov, "payor", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(arr);
	for (i = 0; i < n && i < 8; i++) {
		rc = matchreq_ref_npi(db, json_object_array_get_idx(arr, i), got,
		    err);
		if (rc == -1)
			return -1;
		if (rc == 1 && strcmp(got, npi) == 0)
			return 1;
	}
	return 0;
}

int
matchreq_coverage(struct p2p_db *db, const char *member, const char *npi,
    json_object **cov, char id[72], struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*c;
	int		 rc, is;

	*cov = NULL;
	if ((st = db_query(db, sql_coverages, err, "t", member)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		if ((c = parse_stored(db_col_text(st, 1), err)) == NULL) {
			db_done(st);
			return -1;
		}
		/* Statement reuse: payor_is() uses another statement. */
		if ((is = payor_is(db, c, npi, err)) == 1) {
			snprintf(id, 72, "%s", db_col_text(st, 0));
			*cov = c;
			break;
		}
		json_object_put(c);
		if (is == -1) {
			db_done(st);
			return -1;
		}
	}
	db_done(st);
	if (*cov != NULL)
		return 0;
	return rc == DB_DONE || rc == DB_ROW ? 1 :
	    db_fail(db, rc, err, "coverages");
}

int
matchreq_consent_sources(struct p2p_db *db, json_object *consent,
    char (*npis)[16], size_t max, size_t *n, struct p2p_err *err)
{
	json_object	*actors, *a;
	size_t		 i, k;
	int		 rc;

	*n = 0;
	actors = fhir_get(fhir_get(consent, "provision", json_type_object),
	    "actor", json_type_array);
	if (actors == NULL)
		return 0;
	k = json_object_array_length(actors);
	for (i = 0; i < k && *n < max; i++) {
		a = json_object_array_get_idx(actors, i);
		/* HRex: the source (data holder) has role performer. */
		if (!fhir_has_coding(fhir_get(a, "role", json_type_object),
		    SYS_PT, "performer"))
			continue;
		rc = matchreq_ref_npi(db, fhir_get(a, "reference",
		    json_type_object), npis[*n], err);
		if (rc == -1)
			return -1;
		if (rc == 1)
			(*n)++;
	}
	return 0;
}

/* Our own Organization id (by our NPI), or "" when not loaded. */
static int
our_org(struct p2p_db *db, const struct p2p_config *cfg, char out[128],
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	out[0] = '\0';
	if ((st = db_query(db, sql_our_org, err, "t", cfg->org_npi)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW && db_col_text(st, 0))
		snprintf(out, 128, "%s", db_col_text(st, 0));
	db_done(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 :
	    db_fail(db, rc, err, "our organization");
}

int
matchreq_consent_ok(struct p2p_db *db, const struct p2p_config *cfg,
    json_object *consent, time_t now, struct p2p_err *err)
{
	struct consent_terms	 t;
	char			 org[128];

	if (our_org(db, cfg, org, err) == -1)
		return -1;
	return consent_validate(cfg, consent, cfg->org_npi, org, now, &t, err);
}

/*
 * Makes a Reference portable in place: an Organization of ours becomes
 * its NPI identifier (display kept); a Patient becomes MemberPatient.
 */
static int
portable(struct p2p_db *db, json_object *ref, const char *member,
    struct p2p_err *err)
{
	char		 npi[16], pat[96];
	const char	*r;
	int		 rc;

	if (!json_object_is_type(ref, json_type_object) ||
	    (r = fhir_str(ref, "reference")) == NULL)
		return 0;
	if (strncmp(r, "Patient/", 8) == 0) {
		snprintf(pat, sizeof(pat), "Patient/%s", member);
		return fhir_add_str(ref, "reference", pat) == -1 ?
		    p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory") : 0;
	}
	if ((rc = matchreq_ref_npi(db, ref, npi, err)) != 1)
		return rc;
	json_object_object_del(ref, "reference");
	if (fhir_add(ref, "identifier", fhir_ident_new(SYS_NPI, npi)) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return 0;
}

/* Copies key from src to dst when present. */
static int
keep(json_object *dst, json_object *src, const char *key)
{
	json_object	*v, *c = NULL;

	if (!json_object_object_get_ex(src, key, &v))
		return 0;
	if (json_object_deep_copy(v, &c, NULL) != 0)
		return -1;
	return fhir_add(dst, key, c);
}

/* MemberPatient from our Patient. */
static json_object *
member_patient(json_object *pat, const char *member)
{
	static const char *const keys[] = { "name", "gender", "birthDate",
	    "address", "telecom" };
	json_object	*p, *exts, *e, *out;
	const char	*url;
	size_t		 i, n;

	if ((p = fhir_resource_new("Patient")) == NULL)
		return NULL;
	if (fhir_add_str(p, "id", member) == -1)
		goto fail;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keep(p, pat, keys[i]) == -1)
			goto fail;
	/* hrex-pat-1: gender or US Core birth sex; keep only that one. */
	if ((exts = fhir_get(pat, "extension", json_type_array)) != NULL) {
		n = json_object_array_length(exts);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(exts, i);
			if ((url = fhir_str(e, "url")) == NULL ||
			    strcmp(url, URL_BIRTHSEX) != 0)
				continue;
			out = json_object_new_array();
			if (fhir_add(p, "extension", out) == -1 ||
			    fhir_push(out, json_object_get(e)) == -1)
				goto fail;
			break;
		}
	}
	return p;
fail:
	json_object_put(p);
	return NULL;
}

/* A Coverage to send: card and plan elements only (HRex hrex-coverage). */
static json_object *
portable_coverage(json_object *cov, const char *id, const char *member,
    const char *payor_npi, struct p2p_err *err)
{
	static const char *const keys[] = { "status", "type", "identifier",
	    "subscriberId", "dependent", "relationship", "period", "class" };
	json_object	*c, *arr;
	size_t		 i;

	if ((c = fhir_resource_new("Coverage")) == NULL ||
	    fhir_add_str(c, "id", id) == -1)
		goto oom;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keep(c, cov, keys[i]) == -1)
			goto oom;
	if (fhir_get(c, "status", json_type_string) == NULL &&
	    fhir_add_str(c, "status", "active") == -1)
		goto oom;
	if (fhir_add(c, "beneficiary", fhir_ref_new("Patient/%s",
	    member)) == -1)
		goto oom;
	/* relationship 1..1: "unknown" is in the HRex value set for this. */
	if (fhir_get(c, "relationship", json_type_object) == NULL) {
		if (fhir_add(c, "relationship", fhir_concept_new(SYS_DAR,
		    "unknown", NULL)) == -1)
			goto oom;
	}
	/* payor 1..1, as the NPI the responder knows its payers by. */
	if (fhir_add(c, "payor", arr = json_object_new_array()) == -1 ||
	    fhir_push(arr, fhir_ident_ref_new(SYS_NPI, payor_npi, NULL)) == -1)
		goto oom;
	return c;
oom:
	json_object_put(c);
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return NULL;
}

/* The Consent to send, from ours. */
static json_object *
portable_consent(struct p2p_db *db, json_object *consent, const char *member,
    struct p2p_err *err)
{
	json_object	*c = NULL, *v, *actors, *a;
	const char	*s;
	size_t		 i, n;

	if (json_object_deep_copy(consent, &c, NULL) != 0)
		goto oom;
	json_object_object_del(c, "meta");
	json_object_object_del(c, "text");
	if (fhir_add(c, "patient", fhir_ref_new("Patient/%s", member)) == -1)
		goto oom;
	if ((v = fhir_get(c, "performer", json_type_array)) != NULL) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (portable(db, json_object_array_get_idx(v, i), member,
			    err) == -1)
				goto fail;
	}
	actors = fhir_get(fhir_get(c, "provision", json_type_object), "actor",
	    json_type_array);
	n = actors ? json_object_array_length(actors) : 0;
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(actors, i);
		if (portable(db, fhir_get(a, "reference", json_type_object),
		    member, err) == -1)
			goto fail;
	}
	/* Our own evidence document means nothing to the peer. */
	if ((v = fhir_get(c, "sourceReference", json_type_object)) != NULL &&
	    ((s = fhir_str(v, "reference")) == NULL ||
	    strstr(s, "://") == NULL))
		json_object_object_del(c, "sourceReference");
	return c;
oom:
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
fail:
	json_object_put(c);
	return NULL;
}

/* The member's newest active opt-in naming npi: 0 found, 1 none, -1. */
static int
find_optin(struct p2p_db *db, const char *member, const char *npi,
    json_object **out, char id[72], struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*c, *list[MATCHREQ_CONSENTS];
	char		 ids[MATCHREQ_CONSENTS][72], src[8][16];
	size_t		 i, k, n = 0, ns;
	int		 rc = DB_DONE, found = -1, bad = 0;

	*out = NULL;
	if ((st = db_query(db, sql_optins, err, "t", member)) == NULL)
		return -1;
	while (n < MATCHREQ_CONSENTS && (rc = db_step(st)) == DB_ROW) {
		if ((c = parse_stored(db_col_text(st, 1), err)) == NULL) {
			bad = 1;
			break;
		}
		snprintf(ids[n], sizeof(ids[n]), "%s", db_col_text(st, 0));
		list[n++] = c;
	}
	db_done(st);
	if (!bad && rc != DB_ROW && rc != DB_DONE) {
		db_fail(db, rc, err, "opt-in consents");
		bad = 1;
	}
	for (i = 0; i < n && found < 0 && !bad; i++) {
		if (matchreq_consent_sources(db, list[i], src, 8, &ns,
		    err) == -1) {
			bad = 1;
			break;
		}
		for (k = 0; k < ns; k++)
			if (strcmp(src[k], npi) == 0)
				found = (int)i;
	}
	if (found >= 0 && !bad) {
		*out = list[found];
		list[found] = NULL;
		snprintf(id, 72, "%s", ids[found]);
	}
	for (i = 0; i < n; i++)
		json_object_put(list[i]);
	if (bad)
		return -1;
	return *out != NULL ? 0 : 1;
}

int
matchreq_build(struct p2p_db *db, const struct p2p_config *cfg,
    const char *peer_npi, const char *member, time_t now,
    struct matchreq *m, char *why, size_t whysz, struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*pat = NULL, *old = NULL, *ours = NULL, *consent = NULL;
	struct p2p_err	 ce;
	char		 ourid[72];
	int		 rc, ret = -1;

	memset(m, 0, sizeof(*m));
	why[0] = '\0';
	if ((st = db_query(db, sql_patient, err, "t", member)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		pat = parse_stored(db_col_text(st, 0), err);
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "member");
	if (rc == DB_DONE) {
		snprintf(why, whysz, "no Patient/%s in our store", member);
		return 1;
	}
	if (pat == NULL)
		return -1;
	if ((rc = find_optin(db, member, peer_npi, &consent, m->consent_id,
	    err)) == -1)
		goto out;
	if (rc == 1) {
		snprintf(why, whysz, "no active opt-in Consent of Patient/%s "
		    "names the payer with NPI %s as source (provision.actor, "
		    "role performer)", member, peer_npi);
		ret = 1;
		goto out;
	}
	p2p_err_init(&ce);
	if ((rc = matchreq_consent_ok(db, cfg, consent, now, &ce)) == -1 &&
	    ce.status >= 500) {
		*err = ce;
		goto out;
	}
	if (rc == -1) {
		snprintf(why, whysz, "Consent/%s cannot be sent: %s",
		    m->consent_id, ce.msg);
		ret = 1;
		goto out;
	}
	if ((rc = matchreq_coverage(db, member, peer_npi, &old,
	    m->coverage_id, err)) == -1)
		goto out;
	if (rc == 1) {
		snprintf(why, whysz, "no Coverage of Patient/%s names the payer"
		    " with NPI %s as payor (the coverage the member declared)",
		    member, peer_npi);
		ret = 1;
		goto out;
	}
	if (fhir_str(old, "subscriberId") == NULL &&
	    fhir_get(old, "identifier", json_type_array) == NULL) {
		snprintf(why, whysz, "Coverage/%s has neither subscriberId nor "
		    "identifier (HRex us-core-15): the peer cannot match the "
		    "card", m->coverage_id);
		ret = 1;
		goto out;
	}
	if ((rc = matchreq_coverage(db, member, cfg->org_npi, &ours, ourid,
	    err)) == -1)
		goto out;
	if ((m->patient = member_patient(pat, member)) == NULL ||
	    (m->coverage = portable_coverage(old, m->coverage_id, member,
	    peer_npi, err)) == NULL ||
	    (ours != NULL && (m->link = portable_coverage(ours, ourid,
	    member, cfg->org_npi, err)) == NULL) ||
	    (m->consent = portable_consent(db, consent, member, err)) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		matchreq_free(m);
		goto out;
	}
	ret = 0;
out:
	json_object_put(pat);
	json_object_put(old);
	json_object_put(ours);
	json_object_put(consent);
	return ret;
}

/* Adds {name, resource: copy of res} to a parameter or part array. */
static int
add_part(json_object *arr, const char *name, json_object *res)
{
	json_object	*p, *c = NULL;

	if (res == NULL)
		return 0;
	if (json_object_deep_copy(res, &c, NULL) != 0)
		return -1;
	if (fhir_push(arr, p = json_object_new_object()) == -1 ||
	    fhir_add_str(p, "name", name) == -1) {
		json_object_put(c);
		return -1;
	}
	return fhir_add(p, "resource", c);
}

/* The four parts, in HRex order, into arr. */
static int
add_all(json_object *arr, const struct matchreq *m)
{
	return add_part(arr, "MemberPatient", m->patient) == -1 ||
	    add_part(arr, "CoverageToMatch", m->coverage) == -1 ||
	    add_part(arr, "CoverageToLink", m->link) == -1 ||
	    add_part(arr, "Consent", m->consent) == -1 ? -1 : 0;
}

json_object *
matchreq_parameters(const struct matchreq *m)
{
	json_object	*p;

	if ((p = params_new()) == NULL)
		return NULL;
	if (add_all(fhir_get(p, "parameter", json_type_array), m) == -1) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

json_object *
matchreq_member_bundle(const struct matchreq *m)
{
	json_object	*mb, *parts;

	if ((mb = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add_str(mb, "name", "MemberBundle") == -1 ||
	    fhir_add(mb, "part", parts = json_object_new_array()) == -1 ||
	    add_all(parts, m) == -1) {
		json_object_put(mb);
		return NULL;
	}
	return mb;
}
