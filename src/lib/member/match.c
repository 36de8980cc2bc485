/*
 * match.c - see match.h; the rules are in README.md ("Matching").
 *
 * HRex $member-match leaves the algorithm to the server.  Ours is
 * deterministic and cheap:
 *  1. Identifiers nominate candidates: every MemberPatient.identifier
 *     value (ident kind 1), CoverageToMatch.subscriberId (kind 2) and
 *     CoverageToMatch.identifier values (kind 3); a value typed
 *     v2-0203#MB (the member id) is looked up as all three kinds.
 *     Values are compared exactly; systems are not compared (the
 *     demographics below decide).
 *  2. Demographics decide: a candidate stays when one of its demog rows
 *     agrees with every demographic the request gives (family and given
 *     folded with norm_name(), birth date exact, gender normalised).
 *  3. Without any identifier, demographics alone: the demog_lookup index
 *     on (birth_date, family), then given and gender as in 2.
 *  Exactly one distinct patient is a match.  Every lookup is an index
 *  search (tests/unit/check_match.c shows the query plans).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json/fhir.h"
#include "json/params.h"
#include "member/audit.h"
#include "member/consent.h"
#include "member/match.h"
#include "member/norm.h"
#include "core/util.h"

#define MATCH_MAX_LOOKUPS	48	/* (value, kind) pairs per request */
#define MATCH_MAX_CAND		64	/* candidate patients per request */
#define MATCH_VALUE_MAX		256	/* longest identifier value used */
#define MATCH_ID_MAX		65	/* FHIR id (64) + NUL */

#define SYS_V2_0203	"http://terminology.hl7.org/CodeSystem/v2-0203"
#define SYS_HREX_TEMP	"http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp"
#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"

static const char sql_ident[] =
    "SELECT patient FROM ident WHERE value = ?1 AND kind = ?2";
static const char sql_demog_patient[] =
    "SELECT family, given, birth_date, gender FROM demog WHERE patient = ?1";
static const char sql_demog_lookup[] =
    "SELECT patient, given, gender FROM demog"
    " WHERE birth_date = ?1 AND family = ?2";
static const char sql_probe_prune[] =
    "DELETE FROM probe WHERE client_id = ?1 AND person = ?2 AND time < ?3";
static const char sql_probe_add[] =
    "INSERT OR IGNORE INTO probe (client_id, person, card, time) VALUES (?1, ?2, ?3, ?4)";
static const char sql_probe_count[] =
    "SELECT COUNT(DISTINCT card) FROM probe"
    " WHERE client_id = ?1 AND person = ?2 AND time >= ?3";

/* Every query a request runs, for the query-plan test. */
const char *const match_queries[] = {
	sql_ident, sql_demog_patient, sql_demog_lookup, sql_probe_prune,
	sql_probe_count, NULL
};

struct lookup {
	const char	*value;		/* borrowed from the request */
	int		 kind;		/* ident.kind */
};

struct cands {
	char	 id[MATCH_MAX_CAND][MATCH_ID_MAX];
	size_t	 n;
	int	 overflow;	/* more than MATCH_MAX_CAND */
};

void
match_demog_of(json_object *patient, struct match_demog *d)
{
	json_object	*names, *nm, *given, *g;
	const char	*family, *s;
	char		 joined[512], part[128];
	size_t		 i, j, n, len;

	memset(d, 0, sizeof(*d));
	d->gender = norm_gender(fhir_str(patient, "gender"));
	if ((s = fhir_str(patient, "birthDate")) != NULL && strlen(s) < 16)
		snprintf(d->birth, sizeof(d->birth), "%s", s);
	if ((names = fhir_get(patient, "name", json_type_array)) == NULL)
		return;
	n = json_object_array_length(names);
	for (i = 0; i < n; i++) {
		nm = json_object_array_get_idx(names, i);
		if ((family = fhir_str(nm, "family")) != NULL)
			break;
	}
	if (i == n)
		return;
	norm_name(family, d->family, sizeof(d->family));
	if ((given = fhir_get(nm, "given", json_type_array)) == NULL)
		return;
	joined[0] = '\0';
	len = 0;
	for (j = 0; j < json_object_array_length(given); j++) {
		g = json_object_array_get_idx(given, j);
		if (!json_object_is_type(g, json_type_string))
			continue;
		norm_name(json_object_get_string(g), part, sizeof(part));
		if (d->given[0] == '\0')
			snprintf(d->given, sizeof(d->given), "%s", part);
		len += (size_t)snprintf(joined + len, sizeof(joined) - len,
		    "%s", part);
		if (len >= sizeof(joined))
			len = sizeof(joined) - 1;
	}
	snprintf(d->given_all, sizeof(d->given_all), "%s", joined);
}

int
match_agrees(const struct match_demog *q, const char *family,
    const char *given, const char *birth, const char *gender)
{
	if (q->family[0] != '\0' &&
	    (family == NULL || strcmp(q->family, family) != 0))
		return 0;
	/* The loader may fold the first given name or all of them. */
	if (q->given[0] != '\0' && (given == NULL ||
	    (strcmp(q->given, given) != 0 && strcmp(q->given_all, given) != 0)))
		return 0;
	if (q->birth[0] != '\0' &&
	    (birth == NULL || strcmp(q->birth, birth) != 0))
		return 0;
	if (q->gender[0] != '\0' &&
	    strcmp(q->gender, norm_gender(gender)) != 0)
		return 0;
	return 1;
}

static void
add_lookup(struct lookup *l, size_t *n, const char *value, int kind)
{
	size_t	 i, len;

	if (value == NULL || (len = strlen(value)) == 0 ||
	    len > MATCH_VALUE_MAX || *n >= MATCH_MAX_LOOKUPS)
		return;
	for (i = 0; i < *n; i++)
		if (l[i].kind == kind && strcmp(l[i].value, value) == 0)
			return;
	l[*n].value = value;
	l[*n].kind = kind;
	(*n)++;
}

/* Identifier values of a resource: kind, plus all kinds for MB ones. */
static void
add_identifiers(struct lookup *l, size_t *n, json_object *res, int kind)
{
	json_object	*ids, *id;
	const char	*v;
	size_t		 i;

	if ((ids = fhir_get(res, "identifier", json_type_array)) == NULL)
		return;
	for (i = 0; i < json_object_array_length(ids); i++) {
		id = json_object_array_get_idx(ids, i);
		if ((v = fhir_str(id, "value")) == NULL)
			continue;
		add_lookup(l, n, v, kind);
		if (fhir_has_coding(fhir_get(id, "type", json_type_object),
		    SYS_V2_0203, "MB")) {
			add_lookup(l, n, v, 1);
			add_lookup(l, n, v, 2);
			add_lookup(l, n, v, 3);
		}
	}
}

static void
cand_add(struct cands *c, const char *id)
{
	size_t	 i;

	if (id == NULL || strlen(id) >= MATCH_ID_MAX)
		return;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->id[i], id) == 0)
			return;
	if (c->n == MATCH_MAX_CAND) {
		c->overflow = 1;
		return;
	}
	snprintf(c->id[c->n++], MATCH_ID_MAX, "%s", id);
}

/* Does one of patient's demog rows agree with q?  1, 0 or -1. */
static int
patient_agrees(struct p2p_db *db, const char *patient,
    const struct match_demog *q, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	int		 rc, ok = 0;

	if ((st = db_stmt(db, sql_demog_patient, err)) == NULL)
		return -1;
	db_bind_text(st, 1, patient);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (match_agrees(q, db_col_text(st, 0), db_col_text(st, 1),
		    db_col_text(st, 2), db_col_text(st, 3))) {
			ok = 1;
			break;
		}
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, rc, err, "demog by patient");
	return ok;
}

static void
decide(const struct cands *c, enum match_result *res, char *patient_id,
    size_t idsz)
{
	if (c->overflow || c->n > 1)
		*res = MATCH_MANY;
	else if (c->n == 0)
		*res = MATCH_NONE;
	else {
		*res = MATCH_ONE;
		snprintf(patient_id, idsz, "%s", c->id[0]);
	}
}

int
match_find(struct p2p_db *db, const struct match_input *in,
    enum match_result *res, char *patient_id, size_t idsz,
    struct p2p_err *err)
{
	struct lookup		 l[MATCH_MAX_LOOKUPS];
	struct match_demog	 q;
	struct cands		*cand = NULL, *kept = NULL;
	sqlite3_stmt		*st;
	size_t			 n = 0, i;
	int			 rc, a, ret = -1;

	*res = MATCH_NONE;
	if (idsz > 0)
		patient_id[0] = '\0';
	match_demog_of(in->patient, &q);
	add_identifiers(l, &n, in->patient, 1);
	add_lookup(l, &n, fhir_str(in->coverage, "subscriberId"), 2);
	add_identifiers(l, &n, in->coverage, 3);

	if ((cand = calloc(1, sizeof(*cand))) == NULL ||
	    (kept = calloc(1, sizeof(*kept))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}

	if (n == 0) {
		/* Demographics alone need at least family and birth date. */
		if (q.family[0] == '\0' || q.birth[0] == '\0') {
			ret = 0;
			goto out;
		}
		if ((st = db_stmt(db, sql_demog_lookup, err)) == NULL)
			goto out;
		db_bind_text(st, 1, q.birth);
		db_bind_text(st, 2, q.family);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (match_agrees(&q, q.family, db_col_text(st, 1),
			    q.birth, db_col_text(st, 2)))
				cand_add(kept, db_col_text(st, 0));
		db_done(st);
		if (rc != SQLITE_DONE) {
			db_fail(db, rc, err, "demog lookup");
			goto out;
		}
		decide(kept, res, patient_id, idsz);
		ret = 0;
		goto out;
	}

	for (i = 0; i < n; i++) {
		if ((st = db_stmt(db, sql_ident, err)) == NULL)
			goto out;
		db_bind_text(st, 1, l[i].value);
		sqlite3_bind_int(st, 2, l[i].kind);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			cand_add(cand, db_col_text(st, 0));
		db_done(st);
		if (rc != SQLITE_DONE) {
			db_fail(db, rc, err, "ident lookup");
			goto out;
		}
	}
	for (i = 0; i < cand->n && kept->n < 2; i++) {
		if ((a = patient_agrees(db, cand->id[i], &q, err)) == -1)
			goto out;
		if (a)
			cand_add(kept, cand->id[i]);
	}
	/* Candidates left unexamined can only add ambiguity. */
	if (cand->overflow && kept->n == 1)
		kept->overflow = 1;
	decide(kept, res, patient_id, idsz);
	ret = 0;
out:
	free(cand);
	free(kept);
	return ret;
}

/* Lowercase hex SHA-256 of buf into out[65]. */
static int
sha256_hex(const struct p2p_buf *b, char out[65])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	if (EVP_Digest(b->p != NULL ? b->p : "", b->len, md, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
match_probe(struct p2p_db *db, const char *client,
    const struct match_input *in, long long limit, long long window,
    time_t now, struct p2p_err *err)
{
	struct match_demog	 q;
	struct p2p_buf		 b = { NULL, 0, 0 };
	json_object		*ids, *id;
	sqlite3_stmt		*st;
	char			 person[65], card[65];
	long long		 distinct = 0;
	size_t			 i;
	int			 rc, oom = 0;

	/* Only hashes are kept: the probe table holds no demographics. */
	match_demog_of(in->patient, &q);
	oom |= buf_printf(&b, "%s\x1f%s\x1f%s\x1f%s", q.family, q.given_all,
	    q.birth, q.gender);
	if (oom || sha256_hex(&b, person) == -1) {
		buf_free(&b);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	buf_reset(&b);
	oom |= buf_printf(&b, "s=%s",
	    fhir_str(in->coverage, "subscriberId") != NULL ?
	    fhir_str(in->coverage, "subscriberId") : "");
	if ((ids = fhir_get(in->coverage, "identifier", json_type_array)) !=
	    NULL)
		for (i = 0; i < json_object_array_length(ids) && i < 32; i++) {
			id = json_object_array_get_idx(ids, i);
			oom |= buf_printf(&b, "\x1f%s|%s",
			    fhir_str(id, "system") ? fhir_str(id, "system") : "",
			    fhir_str(id, "value") ? fhir_str(id, "value") : "");
		}
	if (oom || sha256_hex(&b, card) == -1) {
		buf_free(&b);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	buf_free(&b);

	if ((st = db_stmt(db, sql_probe_prune, err)) == NULL)
		return -1;
	db_bind_text(st, 1, client);
	db_bind_text(st, 2, person);
	sqlite3_bind_int64(st, 3, (long long)now - window);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "probe prune");
	if ((st = db_stmt(db, sql_probe_add, err)) == NULL)
		return -1;
	db_bind_text(st, 1, client);
	db_bind_text(st, 2, person);
	db_bind_text(st, 3, card);
	sqlite3_bind_int64(st, 4, (long long)now);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "probe insert");
	if ((st = db_stmt(db, sql_probe_count, err)) == NULL)
		return -1;
	db_bind_text(st, 1, client);
	db_bind_text(st, 2, person);
	sqlite3_bind_int64(st, 3, (long long)now - window);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		distinct = sqlite3_column_int64(st, 0);
	db_done(st);
	if (rc != SQLITE_ROW)
		return db_fail(db, rc, err, "probe count");
	if (distinct > limit) {
		p2p_fail(err, 429, P2P_ISSUE_THROTTLED, "too many member-match"
		    " attempts for the same demographics with different"
		    " coverage data; retry later");
		err->retry_after = (int)window;
		return -1;
	}
	return 0;
}

/* --- $member-match (HRex) ---------------------------------------------- */

enum { HP_PATIENT, HP_MATCH, HP_LINK, HP_CONSENT, HP__MAX };

/* HRex 1.x hrex-parameters-member-match-in; Consent required (PDex). */
static const struct params_spec hrex_spec[HP__MAX] = {
	{ "MemberPatient", "Patient", 1, 1 },	/* HP_PATIENT */
	{ "CoverageToMatch", "Coverage", 1, 1 },	/* HP_MATCH */
	{ "CoverageToLink", "Coverage", 0, 1 },	/* HP_LINK */
	{ "Consent", "Consent", 1, 1 },		/* HP_CONSENT */
};

/* PDex STU1 / HRex 0.2.0 form (the government guide's Example 01). */
static const struct params_spec legacy_spec[HP__MAX] = {
	{ "MemberPatient", "Patient", 1, 1 },	/* HP_PATIENT */
	{ "OldCoverage", "Coverage", 1, 1 },	/* HP_MATCH */
	{ "NewCoverage", "Coverage", 1, 1 },	/* HP_LINK */
	{ "Consent", "Consent", 0, 1 },		/* HP_CONSENT */
};

/* The UMB Identifier naming patient in this payer's member namespace. */
static json_object *
umb_identifier(const struct p2p_config *cfg, const char *patient, int legacy)
{
	json_object	*id, *type, *codings;
	char		 sys[600];

	snprintf(sys, sizeof(sys), "%s/member-id", cfg->base_url);
	if ((id = json_object_new_object()) == NULL)
		return NULL;
	type = json_object_new_object();
	codings = json_object_new_array();
	if (fhir_add(id, "type", type) == -1 ||
	    fhir_add(type, "coding", codings) == -1)
		goto fail;
	/* HRex 1.1/1.2 pattern: hrex-temp#UMB.  The STU1 guide's Example
	 * 02 used v2-0203#UMB; HRex 1.0 expects v2-0203#MB. */
	if ((legacy && fhir_push(codings, fhir_coding_new(SYS_V2_0203, "UMB",
	    "Member Number")) == -1) ||
	    fhir_push(codings, fhir_coding_new(SYS_HREX_TEMP, "UMB",
	    "Unique Product-independent Payer Person Identifier")) == -1 ||
	    (!legacy && fhir_push(codings, fhir_coding_new(SYS_V2_0203, "MB",
	    "Member Number")) == -1))
		goto fail;
	if (fhir_add_str(id, "system", sys) == -1 ||
	    fhir_add_str(id, "value", patient) == -1 ||
	    fhir_add(id, "assigner", fhir_ident_ref_new(SYS_NPI, cfg->org_npi,
	    cfg->org_name)) == -1)
		goto fail;
	return id;
fail:
	json_object_put(id);
	return NULL;
}

/* HRex 1.1+: MemberIdentifier and MemberId. */
static json_object *
reply_hrex(const struct p2p_config *cfg, const char *patient)
{
	json_object	*out, *ref;
	char		 r[80];

	if ((out = params_new()) == NULL)
		return NULL;
	snprintf(r, sizeof(r), "Patient/%s", patient);
	ref = json_object_new_object();
	if (params_add(out, "MemberIdentifier", "valueIdentifier",
	    umb_identifier(cfg, patient, 0)) == -1 ||
	    fhir_add_str(ref, "reference", r) == -1 ||
	    params_add(out, "MemberId", "valueReference", ref) == -1) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

/* PDex STU1 (guide Example 02): MemberPatient + UMB, NewCoverage. */
static json_object *
reply_legacy(const struct p2p_config *cfg, json_object *patient,
    json_object *newcov, const char *id)
{
	json_object	*out, *pat = NULL, *cov = NULL, *ids;

	if ((out = params_new()) == NULL)
		return NULL;
	if (json_object_deep_copy(patient, &pat, NULL) != 0 ||
	    json_object_deep_copy(newcov, &cov, NULL) != 0)
		goto fail;
	if ((ids = fhir_get(pat, "identifier", json_type_array)) == NULL) {
		ids = json_object_new_array();
		if (fhir_add(pat, "identifier", ids) == -1)
			goto fail;
	}
	if (fhir_push(ids, umb_identifier(cfg, id, 1)) == -1)
		goto fail;
	if (params_add(out, "MemberPatient", "resource", pat) == -1) {
		pat = NULL;
		goto fail;
	}
	pat = NULL;
	if (params_add(out, "NewCoverage", "resource", cov) == -1) {
		cov = NULL;
		goto fail;
	}
	return out;
fail:
	json_object_put(pat);
	json_object_put(cov);
	json_object_put(out);
	return NULL;
}

int
match_parse(json_object *body, struct match_input *in, struct p2p_err *err)
{
	json_object	*list, *found[HP__MAX], *p;
	char		 ex[96];
	size_t		 idx = 0;

	memset(in, 0, sizeof(*in));
	if ((list = params_list(body, err)) == NULL)
		return -1;
	/* PDex STU1: any OldCoverage/NewCoverage means the older form. */
	in->legacy = params_count(list, "OldCoverage") > 0 ||
	    params_count(list, "NewCoverage") > 0;
	if (params_check(list, in->legacy ? legacy_spec : hrex_spec, HP__MAX,
	    "Parameters.parameter", found, err) == -1)
		return -1;
	in->patient = found[HP_PATIENT];
	in->coverage = found[HP_MATCH];
	in->link = found[HP_LINK];
	in->consent = found[HP_CONSENT];

	/* hrex-patient-demographics: name.family and birthDate 1..1. */
	p = in->patient;
	(void)params_find(list, "MemberPatient", &idx);
	if (fhir_path_str(p, "name.family") == NULL) {
		snprintf(ex, sizeof(ex), "Parameters.parameter[%zu].resource"
		    ".name.family", idx);
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
		    "MemberPatient needs name.family (%s)", ex);
	}
	if (fhir_str(p, "birthDate") == NULL) {
		snprintf(ex, sizeof(ex), "Parameters.parameter[%zu].resource"
		    ".birthDate", idx);
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
		    "MemberPatient needs birthDate (%s)", ex);
	}
	return 0;
}

/*
 * One write transaction per request, from the first read on: the
 * match reads, the opt-out check, the probe row, then either the
 * consent, match and audit rows, or, on a refusal, the probe row alone.
 * member-match runs as one process, so holding the write lock for the
 * reads costs no concurrency, and the locks are taken once instead of
 * once per statement.  The probing guard is decided before the match
 * result is told, so a throttled caller learns nothing from it.
 */
int
match_member(struct p2p_db *db, const struct p2p_config *cfg,
    const struct match_input *in, const char *client, const char *npi,
    const char *org_id, time_t now, char *patient, size_t patientsz,
    struct p2p_err *err)
{
	struct consent_terms	 terms;
	enum match_result	 res;
	struct p2p_err		 e2;
	char			 detail[64];
	long long		 cid = 0;
	int			 optout = 0, consentless = 0;

	patient[0] = '\0';
	if (db_begin(db, err) == -1)
		return -1;
	if (in->consent != NULL) {
		if (consent_validate(cfg, in->consent, npi, org_id, now,
		    &terms, err) == -1)
			goto refused;
	} else if (cfg->allow_legacy_consentless) {
		consentless = 1;	/* only the legacy form gets here */
	} else {
		p2p_fail_at(err, 422, P2P_ISSUE_BUSINESS_RULE,
		    "Parameters.parameter", "a Consent parameter is required"
		    " (consent-less legacy matching is disabled)");
		goto refused;
	}
	if (match_find(db, in, &res, patient, patientsz, err) == -1 ||
	    (res == MATCH_ONE && consent_optout(db, patient, &optout,
	    err) == -1) ||
	    match_probe(db, client, in, cfg->probe_limit, cfg->probe_window,
	    now, err) == -1)
		goto refused;
	if (res == MATCH_NONE) {
		/* Wording of the government guide's Example 03. */
		p2p_fail(err, 422, P2P_ISSUE_NOT_FOUND,
		    "No member match found");
		goto refused;
	}
	if (res == MATCH_MANY) {
		p2p_fail(err, 422, P2P_ISSUE_MULTIPLE_MATCHES, "More than one"
		    " member matches; send the member id or more demographics");
		goto refused;
	}
	/* HRex 1.1 / PDex: a consent that cannot be honoured returns no
	 * patient id. */
	if (optout) {
		p2p_fail(err, 422, P2P_ISSUE_FORBIDDEN, "the consent request"
		    " cannot be complied with: the member has opted out of"
		    " payer-to-payer exchange");
		goto keep_probe;	/* the refusal names the member */
	}
	snprintf(detail, sizeof(detail), "%s%s",
	    in->legacy ? "legacy form" : "hrex form",
	    consentless ? ", consent-less" : "");
	if ((!consentless && consent_store(db, in->consent, &terms, patient,
	    client, &cid, err) == -1) ||
	    consent_record_match(db, client, patient, cid, NULL, consentless,
	    err) == -1 ||
	    audit_log(db, AUDIT_MATCH, "success", client, patient, cid, detail,
	    err) == -1 ||
	    db_commit(db, err) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
refused:
	patient[0] = '\0';
keep_probe:
	/* The probe row counts; nothing else was written. */
	p2p_err_init(&e2);
	if (err->status >= 500 || db_commit(db, &e2) == -1)
		db_rollback(db);
	return -1;
}

json_object *
match_reply(const struct p2p_config *cfg, const struct match_input *in,
    const char *patient)
{
	return in->legacy ? reply_legacy(cfg, in->patient, in->link, patient) :
	    reply_hrex(cfg, patient);
}
