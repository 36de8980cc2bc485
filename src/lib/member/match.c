/*
 * match.c - see match.h; the rules are in docs/matching.md.
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

#include "core/util.h"
#include "json/fhir.h"
#include "json/params.h"
#include "member/audit.h"
#include "member/consent.h"
#include "member/match.h"
#include "member/norm.h"

#define MATCH_MAX_CAND		64	/* candidate patients per request */
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
/* At most PROBE_EXPIRE_MAX rows a statement: short write transactions. */
#define PROBE_EXPIRE_MAX	5000
#define STR_(x)			#x
#define STR(x)			STR_(x)
static const char sql_probe_expire[] =
    "DELETE FROM probe WHERE (client_id, person, time, card) IN"
    " (SELECT client_id, person, time, card FROM probe WHERE time < ?1"
    " ORDER BY time LIMIT " STR(PROBE_EXPIRE_MAX) ")";
static const char sql_probe_add[] =
    "INSERT OR IGNORE INTO probe (client_id, person, card, time) VALUES (?1, ?2, ?3, ?4)";
static const char sql_probe_count[] =
    "SELECT COUNT(DISTINCT card), COALESCE(MAX(card = ?4), 0) FROM probe"
    " WHERE client_id = ?1 AND person = ?2 AND time >= ?3";

/* Every query a request runs, for the query-plan test. */
const char *const match_queries[] = {
	sql_ident, sql_demog_patient, sql_demog_lookup, sql_probe_count,
	sql_probe_expire, NULL
};

struct cands {
	char	 id[MATCH_MAX_CAND][MATCH_ID_MAX];
	size_t	 n;
	int	 overflow;	/* more than MATCH_MAX_CAND */
};

/* --- the identity: what matching reads, validated ---------------------- */

/* A 400 naming the element base.what (what may be "" for base). */
static int
refuse(struct p2p_err *err, enum p2p_issue issue, const char *base,
    const char *what, const char *why)
{
	char	 ex[200];

	snprintf(ex, sizeof(ex), "%s%s%s", base, what[0] ? "." : "", what);
	return p2p_fail_at(err, 400, issue, ex, "%s %s", ex, why);
}

/*
 * A FHIR string that matching reads: absent (NULL, 0), or a non-empty
 * JSON string of at most max bytes (FHIR R4: a string has at least one
 * character).  0 or -1 with a 400.
 */
static int
read_string(json_object *obj, const char *key, size_t max, const char *base,
    const char *what, const char **out, struct p2p_err *err)
{
	json_object	*v;
	size_t		 len;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return refuse(err, P2P_ISSUE_STRUCTURE, base, what,
		    "must be a string");
	if ((len = (size_t)json_object_get_string_len(v)) == 0)
		return refuse(err, P2P_ISSUE_VALUE, base, what,
		    "must not be empty");
	if (len > max)
		return refuse(err, P2P_ISSUE_TOO_LONG, base, what,
		    "is too long");
	*out = json_object_get_string(v);
	return 0;
}

/* An array that matching reads: absent (NULL), or a JSON array. */
static int
read_array(json_object *obj, const char *key, size_t max, const char *base,
    const char *what, json_object **out, struct p2p_err *err)
{
	json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return refuse(err, P2P_ISSUE_STRUCTURE, base, what,
		    "must be an array");
	if (json_object_array_length(v) > max)
		return refuse(err, P2P_ISSUE_TOO_COSTLY, base, what,
		    "has too many entries");
	*out = v;
	return 0;
}

static int
is_object(json_object *o)
{
	return json_object_is_type(o, json_type_object);
}

/* Entry i of array arr (what), which must be an object; NULL with a 400. */
static json_object *
object_at(json_object *arr, size_t i, const char *base, const char *what,
    struct p2p_err *err)
{
	json_object	*o = json_object_array_get_idx(arr, i);
	char		 w[160];

	if (is_object(o))
		return o;
	snprintf(w, sizeof(w), "%s[%zu]", what, i);
	refuse(err, P2P_ISSUE_STRUCTURE, base, w, "must be an object");
	return NULL;
}

/* A CodeableConcept fhir_has_coding() reads: coding[].system, .code. */
static int
check_concept(json_object *cc, const char *base, const char *what,
    struct p2p_err *err)
{
	json_object	*codings, *c;
	const char	*s;
	char		 w[128];
	size_t		 i;

	if (!is_object(cc))
		return refuse(err, P2P_ISSUE_STRUCTURE, base, what,
		    "must be an object");
	snprintf(w, sizeof(w), "%s.coding", what);
	if (read_array(cc, "coding", MATCH_MAX_IDENT, base, w, &codings,
	    err) == -1)
		return -1;
	for (i = 0; codings != NULL &&
	    i < json_object_array_length(codings); i++) {
		snprintf(w, sizeof(w), "%s.coding", what);
		if ((c = object_at(codings, i, base, w, err)) == NULL)
			return -1;
		snprintf(w, sizeof(w), "%s.coding[%zu].system", what, i);
		if (read_string(c, "system", MATCH_VALUE_MAX, base, w, &s,
		    err) == -1)
			return -1;
		snprintf(w, sizeof(w), "%s.coding[%zu].code", what, i);
		if (read_string(c, "code", MATCH_VALUE_MAX, base, w, &s,
		    err) == -1)
			return -1;
	}
	return 0;
}

static void
add_lookup(struct match_key *k, const char *value, int kind)
{
	size_t	 i;

	for (i = 0; i < k->nlook; i++)
		if (k->look[i].kind == kind &&
		    strcmp(k->look[i].value, value) == 0)
			return;
	/* Cannot overflow: read_identifiers() bounds the identifiers. */
	if (k->nlook < MATCH_MAX_LOOKUPS) {
		k->look[k->nlook].value = value;
		k->look[k->nlook].kind = kind;
		k->nlook++;
	}
}

/*
 * The identifier values of a resource: each looked up as kind, and a
 * value typed v2-0203#MB (the member id) as all three kinds.
 */
static int
read_identifiers(json_object *res, const char *base, int kind,
    struct match_key *k, struct p2p_err *err)
{
	json_object	*ids, *id, *type;
	const char	*v;
	char		 w[64];
	size_t		 i;

	if (read_array(res, "identifier", MATCH_MAX_IDENT, base, "identifier",
	    &ids, err) == -1)
		return -1;
	for (i = 0; ids != NULL && i < json_object_array_length(ids); i++) {
		if ((id = object_at(ids, i, base, "identifier", err)) == NULL)
			return -1;
		snprintf(w, sizeof(w), "identifier[%zu].type", i);
		type = NULL;
		if (json_object_object_get_ex(id, "type", &type) &&
		    check_concept(type, base, w, err) == -1)
			return -1;
		snprintf(w, sizeof(w), "identifier[%zu].value", i);
		if (read_string(id, "value", MATCH_VALUE_MAX, base, w, &v,
		    err) == -1)
			return -1;
		if (v == NULL)
			continue;	/* nothing to look up */
		add_lookup(k, v, kind);
		if (fhir_has_coding(type, SYS_V2_0203, "MB")) {
			add_lookup(k, v, 1);
			add_lookup(k, v, 2);
			add_lookup(k, v, 3);
		}
	}
	return 0;
}

/* The names: every one checked, the first with a family name used. */
static int
read_names(json_object *p, const char *base, struct match_key *k,
    struct p2p_err *err)
{
	json_object	*names, *nm, *given, *g, *use = NULL;
	const char	*family, *s;
	char		 w[64], all[MATCH_NAME_MAX + 1];
	size_t		 i, j, len;

	if (read_array(p, "name", MATCH_MAX_NAMES, base, "name", &names,
	    err) == -1)
		return -1;
	for (i = 0; names != NULL && i < json_object_array_length(names);
	    i++) {
		if ((nm = object_at(names, i, base, "name", err)) == NULL)
			return -1;
		snprintf(w, sizeof(w), "name[%zu].family", i);
		if (read_string(nm, "family", MATCH_NAME_MAX, base, w, &family,
		    err) == -1)
			return -1;
		snprintf(w, sizeof(w), "name[%zu].given", i);
		if (read_array(nm, "given", MATCH_MAX_NAMES, base, w, &given,
		    err) == -1)
			return -1;
		len = 0;
		all[0] = '\0';
		for (j = 0; given != NULL &&
		    j < json_object_array_length(given); j++) {
			g = json_object_array_get_idx(given, j);
			snprintf(w, sizeof(w), "name[%zu].given[%zu]", i, j);
			if (!json_object_is_type(g, json_type_string))
				return refuse(err, P2P_ISSUE_STRUCTURE, base,
				    w, "must be a string");
			s = json_object_get_string(g);
			if (*s == '\0')
				return refuse(err, P2P_ISSUE_VALUE, base, w,
				    "must not be empty");
			/* Folded and joined, they must fit as the loader
			 * stores them. */
			len += strlen(s);
			snprintf(w, sizeof(w), "name[%zu].given", i);
			if (len > MATCH_NAME_MAX)
				return refuse(err, P2P_ISSUE_TOO_LONG, base, w,
				    "is too long");
			if (use == NULL && family != NULL) {
				if (j == 0)
					norm_name(s, k->given,
					    sizeof(k->given));
				strcat(all, s);
			}
		}
		if (use == NULL && family != NULL) {
			use = nm;
			norm_name(family, k->family, sizeof(k->family));
			norm_name(all, k->given_all, sizeof(k->given_all));
		}
	}
	if (use == NULL)
		return refuse(err, P2P_ISSUE_REQUIRED, base, "name.family",
		    "is required (hrex-patient-demographics)");
	return 0;
}

int
match_key_of(json_object *patient, json_object *coverage,
    const char *pbase, const char *cbase, struct match_key *k,
    struct p2p_err *err)
{
	const char	*s;

	memset(k, 0, sizeof(*k));
	k->gender = "";
	if (!is_object(patient))
		return refuse(err, P2P_ISSUE_STRUCTURE, pbase, "",
		    "must be a Patient");
	if (read_names(patient, pbase, k, err) == -1 ||
	    read_string(patient, "birthDate", 64, pbase, "birthDate", &s,
	    err) == -1)
		return -1;
	/* A FHIR date, compared exactly: a partial date ("1980") matches
	 * only a stored birth date given to the same precision. */
	if (s == NULL)
		return refuse(err, P2P_ISSUE_REQUIRED, pbase, "birthDate",
		    "is required (hrex-patient-demographics)");
	if (!time_date_valid(s))
		return refuse(err, P2P_ISSUE_VALUE, pbase, "birthDate",
		    "must be a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD");
	snprintf(k->birth, sizeof(k->birth), "%s", s);
	if (read_string(patient, "gender", 16, pbase, "gender", &s,
	    err) == -1)
		return -1;
	/* FHIR R4 AdministrativeGender, a required binding. */
	if (s != NULL && strcmp(s, "male") != 0 && strcmp(s, "female") != 0 &&
	    strcmp(s, "other") != 0 && strcmp(s, "unknown") != 0)
		return refuse(err, P2P_ISSUE_VALUE, pbase, "gender",
		    "must be male, female, other or unknown");
	k->gender = norm_gender(s);
	if (read_identifiers(patient, pbase, 1, k, err) == -1)
		return -1;
	if (coverage == NULL)
		return 0;
	if (!is_object(coverage))
		return refuse(err, P2P_ISSUE_STRUCTURE, cbase, "",
		    "must be a Coverage");
	if (read_string(coverage, "subscriberId", MATCH_VALUE_MAX, cbase,
	    "subscriberId", &s, err) == -1)
		return -1;
	if (s != NULL)
		add_lookup(k, s, 2);
	return read_identifiers(coverage, cbase, 3, k, err);
}

int
match_agrees(const struct match_key *q, const char *family,
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
    const struct match_key *q, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc, ok = 0;

	if ((st = db_query(db, sql_demog_patient, err, "t", patient)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW)
		if (match_agrees(q, db_col_text(st, 0), db_col_text(st, 1),
		    db_col_text(st, 2), db_col_text(st, 3))) {
			ok = 1;
			break;
		}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
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
match_find(struct p2p_db *db, const struct match_key *q,
    enum match_result *res, char *patient_id, size_t idsz,
    struct p2p_err *err)
{
	struct cands		*cand = NULL, *kept = NULL;
	struct db_stmt		*st;
	size_t			 i;
	int			 rc, a, ret = -1;

	*res = MATCH_NONE;
	if (idsz > 0)
		patient_id[0] = '\0';
	if ((cand = calloc(1, sizeof(*cand))) == NULL ||
	    (kept = calloc(1, sizeof(*kept))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}

	if (q->nlook == 0) {
		/* Demographics alone: family and birth date (always there:
		 * match_key_of()) through the demog_lookup index. */
		if ((st = db_stmt(db, sql_demog_lookup, err)) == NULL)
			goto out;
		db_bind_text(st, 1, q->birth);
		db_bind_text(st, 2, q->family);
		while ((rc = db_step(st)) == DB_ROW)
			if (match_agrees(q, q->family, db_col_text(st, 1),
			    q->birth, db_col_text(st, 2)))
				cand_add(kept, db_col_text(st, 0));
		db_done(st);
		if (rc != DB_DONE) {
			db_fail(db, rc, err, "demog lookup");
			goto out;
		}
		decide(kept, res, patient_id, idsz);
		ret = 0;
		goto out;
	}

	for (i = 0; i < q->nlook; i++) {
		if ((st = db_stmt(db, sql_ident, err)) == NULL)
			goto out;
		db_bind_text(st, 1, q->look[i].value);
		db_bind_int(st, 2, q->look[i].kind);
		while ((rc = db_step(st)) == DB_ROW)
			cand_add(cand, db_col_text(st, 0));
		db_done(st);
		if (rc != DB_DONE) {
			db_fail(db, rc, err, "ident lookup");
			goto out;
		}
	}
	for (i = 0; i < cand->n && kept->n < 2; i++) {
		if ((a = patient_agrees(db, cand->id[i], q, err)) == -1)
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

static int
look_cmp(const void *a, const void *b)
{
	const struct match_lookup *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind - y->kind;
	return strcmp(x->value, y->value);
}

int
match_probe_keys(const struct match_key *k, char person[65], char card[65])
{
	struct match_lookup	 look[MATCH_MAX_LOOKUPS];
	struct p2p_buf		 b = { NULL, 0, 0 };
	size_t			 i;
	int			 oom = 0, rc = -1;

	/*
	 * The person: the two demographics every match requires and
	 * compares exactly (docs/matching.md, "Probing guard").  Every
	 * request that can reach a member carries that member's folded
	 * family name and birth date, whatever else it varies.
	 */
	oom |= buf_printf(&b, "%s\x1f%s", k->family, k->birth);
	if (oom || sha256_hex(&b, person) == -1)
		goto out;
	/* The card: everything else matching reads, in a fixed order. */
	memcpy(look, k->look, k->nlook * sizeof(look[0]));
	qsort(look, k->nlook, sizeof(look[0]), look_cmp);
	buf_reset(&b);
	oom |= buf_printf(&b, "%s\x1f%s\x1f%s", k->given, k->given_all,
	    k->gender);
	for (i = 0; i < k->nlook; i++)
		oom |= buf_printf(&b, "\x1f%d:%s", look[i].kind, look[i].value);
	if (oom || sha256_hex(&b, card) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* Records one attempt (person, card hashes) of client at now. */
static int
probe_add(struct p2p_db *db, const char *client, const char *person,
    const char *card, time_t now, struct p2p_err *err)
{
	return db_run(db, sql_probe_add, err, "probe insert", "tttI", client,
	    person, card, (long long)now);
}

int
match_probe(struct p2p_db *db, const char *client, const struct match_key *k,
    long long limit, long long window, time_t now, int record,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 person[65], card[65];
	long long	 distinct = 0;
	int		 rc, seen = 0;

	/* Only hashes are kept: the probe table holds no demographics. */
	if (match_probe_keys(k, person, card) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	/* The window only: older rows are the runner's to delete
	 * (match_probe_expire()). */
	if ((st = db_query(db, sql_probe_count, err, "ttIt", client, person,
	    (long long)now - window, card)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		distinct = db_col_int64(st, 0);
		seen = db_col_int(st, 1);
	}
	db_done(st);
	if (rc != DB_ROW)
		return db_fail(db, rc, err, "probe count");
	/* This attempt counts, whether it will be recorded or not. */
	if (!seen)
		distinct++;
	if ((record || distinct > limit) &&
	    probe_add(db, client, person, card, now, err) == -1)
		return -1;
	if (distinct > limit) {
		p2p_fail(err, 429, P2P_ISSUE_THROTTLED, "too many member-match"
		    " attempts for the same person (family name and birth"
		    " date) with different match data; retry later");
		err->retry_after = (int)window;
		return -1;
	}
	return 0;
}

int
match_probe_record(struct p2p_db *db, const char *client,
    const struct match_key *k, time_t now, struct p2p_err *err)
{
	char	 person[65], card[65];

	if (match_probe_keys(k, person, card) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return probe_add(db, client, person, card, now, err);
}

int
match_probe_expire(struct p2p_db *db, long long window, time_t now,
    long long *n, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 k;

	*n = 0;
	do {
		if ((st = db_query(db, sql_probe_expire, err, "I",
		    (long long)now - window)) == NULL)
			return -1;
		if (db_step_done(db, st, err, "probe expire") == -1)
			return -1;
		k = db_changes(db);
		*n += k;
	} while (k == PROBE_EXPIRE_MAX);
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
	json_object	*out;

	if ((out = params_new()) == NULL)
		return NULL;
	if (params_add(out, "MemberIdentifier", "valueIdentifier",
	    umb_identifier(cfg, patient, 0)) == -1 ||
	    params_add(out, "MemberId", "valueReference",
	    fhir_ref_new("Patient/%s", patient)) == -1) {
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
match_parse(json_object *body, struct match_input *in, struct match_key *k,
    struct p2p_err *err)
{
	json_object	*list, *found[HP__MAX];
	char		 pbase[64], cbase[64];
	size_t		 pidx = 0, cidx = 0;

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

	(void)params_find(list, "MemberPatient", &pidx);
	(void)params_find(list, in->legacy ? "OldCoverage" : "CoverageToMatch",
	    &cidx);
	snprintf(pbase, sizeof(pbase), "Parameters.parameter[%zu].resource",
	    pidx);
	snprintf(cbase, sizeof(cbase), "Parameters.parameter[%zu].resource",
	    cidx);
	return match_key_of(in->patient, in->coverage, pbase, cbase, k, err);
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
    const struct match_input *in, const struct match_key *k,
    const char *client, const char *npi,
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
	if (match_find(db, k, &res, patient, patientsz, err) == -1 ||
	    (res == MATCH_ONE && consent_optout(db, patient, &optout,
	    err) == -1) ||
	    match_probe(db, client, k, cfg->probe_limit, cfg->probe_window,
	    now, 0, err) == -1)
		goto refused;
	/* An attempt that does not end in the member's data counts for the
	 * guard; a success is on record as the match itself. */
	if ((res != MATCH_ONE || optout) &&
	    match_probe_record(db, client, k, now, err) == -1)
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
