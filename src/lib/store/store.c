/*
 * store.c - see store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/client.h"
#include "core/util.h"
#include "datascope/classify.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "json/valid.h"
#include "member/audit.h"
#include "member/consent.h"
#include "member/norm.h"
#include "store/store.h"

/*
 * Every type inserts first: a new (type, id) (the common case in a
 * load) makes one plain insert, whose rid is db_last_id()
 * and which has no old index rows to delete; only when it exists (no
 * change) is it updated, and an indexed type's rows replaced.  An
 * upsert (ON CONFLICT DO UPDATE) or RETURNING would cost a statement
 * journal or an ephemeral table on every row.
 */
static const char *const sql_res_ins =
    "INSERT INTO resource (type, id, patient, dos, flags, changed,"
    " last_updated, json, p2p_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (type, id) DO NOTHING";
static const char *const sql_res_upd =
    "UPDATE resource SET patient = ?3, dos = ?4, flags = ?5, changed = ?6,"
    " last_updated = ?7, json = ?8, p2p_json = ?9"
    " WHERE type = ?1 AND id = ?2 RETURNING rid";
static const char *const sql_res_exists =
    "SELECT 1 FROM resource WHERE type = ?1 AND id = ?2";
static const char *const sql_res_del =
    "DELETE FROM resource WHERE type = ?1 AND id = ?2";
/*
 * A deleted resource's index rows go explicitly, not only by ON DELETE
 * CASCADE: a load runs with foreign_keys off (loader.c).
 */
static const char *const sql_res_del_ident =
    "DELETE FROM ident WHERE rid IN"
    " (SELECT rid FROM resource WHERE type = ?1 AND id = ?2)";
static const char *const sql_res_del_demog =
    "DELETE FROM demog WHERE rid IN"
    " (SELECT rid FROM resource WHERE type = ?1 AND id = ?2)";
static const char *const sql_res_del_prov =
    "DELETE FROM prov_target WHERE rid IN"
    " (SELECT rid FROM resource WHERE type = ?1 AND id = ?2)";
/*
 * A Provenance's targets (release.c exports the Provenance of what it
 * releases), kept here rather than by triggers: a trigger's WHEN runs
 * on every row of a load, Provenance or not (+10-15% of its time).
 */
static const char *const sql_prov_del =
    "DELETE FROM prov_target WHERE rid = ?1";
static const char *const sql_prov_put =
    "INSERT OR IGNORE INTO prov_target (target, rid) VALUES (?1, ?2)";
static const char *const sql_ident_del =
    "DELETE FROM ident WHERE rid = ?1";
static const char *const sql_ident_put =
    "INSERT INTO ident (rid, kind, system, value, patient)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char *const sql_demog_del =
    "DELETE FROM demog WHERE rid = ?1";
static const char *const sql_demog_put =
    "INSERT INTO demog (rid, patient, family, given, birth_date, gender)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* A load never replaces a consent a payer submitted with a match. */
static const char *const sql_consent_put =
    "INSERT INTO consent (id, patient, client_id, source, status, provision,"
    " policy, period_start, period_end, recipient, created, updated, json)"
    " VALUES (?1, ?2, NULL, 'loaded', ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?8, ?9)"
    " ON CONFLICT (id) DO UPDATE SET patient = excluded.patient,"
    " status = excluded.status, provision = excluded.provision,"
    " policy = excluded.policy, period_start = excluded.period_start,"
    " period_end = excluded.period_end, updated = excluded.updated,"
    " json = excluded.json WHERE consent.source = 'loaded' RETURNING cid";
static const char *const sql_consent_del =
    "UPDATE consent SET status = 'inactive', updated = ?2"
    " WHERE id = ?1 AND source = 'loaded' RETURNING cid, json";

/* Identifier kinds of table ident (db/migrations/0001-initial.sql). */
enum {
	IDENT_PATIENT = 1,	/* Patient.identifier */
	IDENT_SUBSCRIBER = 2,	/* Coverage.subscriberId */
	IDENT_COVERAGE = 3,	/* Coverage.identifier */
	IDENT_ORG = 4,		/* Organization.identifier */
};

#define NPI_SYSTEM	"http://hl7.org/fhir/sid/us-npi"
#define SECRET_MAX	512	/* longest client secret accepted */
#define NAME_MAX_	256	/* longest name part indexed */

void
store_ctx_init(struct store_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	time_instant(now_sec(), ctx->now);
}

/* The Aidbox types of the seed data (store.h), not FHIR. */
static const char *const aidbox_types[] = { "Client", "AccessPolicy", NULL };

static int
is_aidbox(const char *type)
{
	return strcmp(type, "Client") == 0 || strcmp(type, "AccessPolicy") == 0;
}

int
store_type_valid(const char *s)
{
	return s != NULL && (fhir_type_known(s) || is_aidbox(s));
}

int
store_patient_ref(const char *ref, const struct store_ctx *ctx, char *out,
    size_t outsz)
{
	char		 buf[1024], *p, *slash;
	json_object	*v;
	size_t		 n;

	if (ref == NULL)
		return 0;
	/* Bundle-internal references (FHIR R4 Bundle §2.36.4.1). */
	if (strncmp(ref, "urn:uuid:", 9) == 0) {
		if (ctx == NULL || ctx->urn == NULL ||
		    !json_object_object_get_ex(ctx->urn, ref, &v) ||
		    !json_object_is_type(v, json_type_string))
			return 0;
		ref = json_object_get_string(v);
		if (strncmp(ref, "urn:", 4) == 0)
			return 0;
	}
	if ((n = strlen(ref)) >= sizeof(buf))
		return 0;
	memcpy(buf, ref, n + 1);
	if ((p = strstr(buf, "/_history/")) != NULL)
		*p = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return 0;
	*slash = '\0';
	/* "Patient/<id>" or ".../Patient/<id>" */
	n = strlen(buf);
	if (n < 7 || strcmp(buf + n - 7, "Patient") != 0 ||
	    (n > 7 && buf[n - 8] != '/'))
		return 0;
	if (!fhir_valid_id(slash + 1) || strlen(slash + 1) >= outsz)
		return 0;
	snprintf(out, outsz, "%s", slash + 1);
	return 1;
}

/* A Reference (or the first resolvable one of an array) to a Patient. */
static int
ref_patient(struct jscan *j, uint32_t v, const struct store_ctx *ctx,
    char *out, size_t outsz)
{
	uint32_t	 e;
	size_t		 i;

	if (jscan_type(j, v) == JS_OBJECT)
		return store_patient_ref(jscan_getstr(j, v, "reference"), ctx,
		    out, outsz);
	for (e = jscan_first(j, v), i = 0; e != 0 && i < 16;
	    e = jscan_next(j, v, e), i++)
		if (ref_patient(j, e, ctx, out, outsz))
			return 1;
	return 0;
}

int
store_patient_of(struct jscan *j, const struct store_ctx *ctx, char *out,
    size_t outsz)
{
	/*
	 * The elements that put a resource in the Patient compartment
	 * (FHIR R4 compartmentdefinition-patient), most common first:
	 * EOB/Claim/Consent/Immunization .patient, Encounter/Observation/
	 * Condition .subject, Coverage .beneficiary, ...
	 */
	static const char *const keys[] = {
		"patient", "subject", "beneficiary", "individual",
		"subscriber", "policyHolder",
	};
	const char	*type = jscan_getstr(j, 1, "resourceType"), *id;
	size_t		 i;

	if (type != NULL && strcmp(type, "Patient") == 0) {
		id = jscan_getstr(j, 1, "id");
		if (!fhir_valid_id(id) || strlen(id) >= outsz)
			return 0;
		snprintf(out, outsz, "%s", id);
		return 1;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ref_patient(j, jscan_get(j, 1, keys[i]), ctx, out, outsz))
			return 1;
	return 0;
}

/*
 * Adds meta.lastUpdated = ctx->now to res when it has none, so that the
 * stored JSON carries one (_since and the export read it); sets
 * *stamped then.  A meta that is no object is left for fhir_check() to
 * refuse.  0, or -1 when out of memory.
 */
static int
stamp(json_object *res, const struct store_ctx *ctx, int *stamped)
{
	json_object	*meta;

	*stamped = 0;
	if (!json_object_object_get_ex(res, "meta", &meta)) {
		if ((meta = json_object_new_object()) == NULL ||
		    fhir_add(res, "meta", meta) == -1)
			return -1;
	} else if (!json_object_is_type(meta, json_type_object))
		return 0;
	if (json_object_object_get_ex(meta, "lastUpdated", NULL))
		return 0;
	*stamped = 1;
	return fhir_add_str(meta, "lastUpdated", ctx->now);
}

/* Copies s (NULL: -1) into the pool; the offset, or -2 out of memory. */
static int
ix_str(struct store_ix *ix, const char *s)
{
	size_t	 n, ncap;
	char	*p;
	int	 off;

	if (s == NULL)
		return -1;
	n = strlen(s) + 1;
	if (ix->plen + n > (size_t)INT32_MAX)
		return -2;
	if (ix->plen + n > ix->pcap) {
		ncap = ix->pcap ? ix->pcap * 2 : 256;
		while (ncap < ix->plen + n)
			ncap *= 2;
		if ((p = realloc(ix->pool, ncap)) == NULL)
			return -2;
		ix->pool = p;
		ix->pcap = ncap;
	}
	memcpy(ix->pool + ix->plen, s, n);
	off = (int)ix->plen;
	ix->plen += n;
	return off;
}

/* Appends a row of up to 5 strings.  0, or -1 when out of memory. */
static int
ix_row(struct store_ix *ix, int demog, int kind, const char *a,
    const char *b, const char *c, const char *d, const char *e)
{
	struct store_ixrow	*r;
	const char		*v[5] = { a, b, c, d, e };
	size_t			 i, ncap;

	if (ix->n == ix->cap) {
		ncap = ix->cap ? ix->cap * 2 : 4;
		if ((r = realloc(ix->r, ncap * sizeof(*r))) == NULL)
			return -1;
		ix->r = r;
		ix->cap = ncap;
	}
	r = &ix->r[ix->n];
	r->demog = demog;
	r->kind = kind;
	for (i = 0; i < 5; i++)
		if ((r->off[i] = ix_str(ix, v[i])) == -2)
			return -1;
	ix->n++;
	return 0;
}

/* An ident row, when it has a value and a member (as always). */
static int
ix_ident(struct store_ix *ix, int kind, const char *system,
    const char *value, const char *patient)
{
	if (value == NULL || *value == '\0' || patient == NULL)
		return 0;
	return ix_row(ix, 0, kind, system, value, patient, NULL, NULL);
}

/* Given names of one Patient.name, joined by spaces (bounded). */
struct given_acc {
	char	 all[2 * NAME_MAX_];
	size_t	 len;
	int	 full;
};

static void
given_add(struct given_acc *g, const char *s)
{
	if (g->full)
		return;
	g->len += (size_t)snprintf(g->all + g->len, sizeof(g->all) - g->len,
	    "%s%s", g->len ? " " : "", s);
	if (g->len >= sizeof(g->all)) {
		g->len = sizeof(g->all) - 1;
		g->full = 1;
	}
}

/* One demog row per Patient.name with a family or given name. */
static int
ix_demog(struct store_ix *ix, const char *patient, const char *family,
    const struct given_acc *g, const char *birth, const char *gender)
{
	char	 fam[NAME_MAX_], giv[NAME_MAX_];

	if (family == NULL && g->len == 0)
		return 0;
	norm_name(family ? family : "", fam, sizeof(fam));
	norm_name(g->all, giv, sizeof(giv));
	return ix_row(ix, 1, 0, patient, fam, giv, birth,
	    *gender ? gender : NULL);
}

/*
 * The index rows of an indexed resource (the root of tape j): its
 * identifiers, and a Patient's names with birthDate and gender.
 */
static int
ix_collect(struct store_ix *ix, const char *type, const char *id,
    struct jscan *j, const char *patient)
{
	uint32_t	 arr, e, names, given, gv;
	struct given_acc g;
	const char	*birth, *gender, *who;
	int		 kind;

	if (strcmp(type, "Coverage") == 0) {
		if (patient == NULL)
			return 0;
		if (ix_ident(ix, IDENT_SUBSCRIBER, NULL,
		    jscan_getstr(j, 1, "subscriberId"), patient) == -1)
			return -1;
		kind = IDENT_COVERAGE;
		who = patient;
	} else {
		kind = strcmp(type, "Patient") == 0 ? IDENT_PATIENT : IDENT_ORG;
		who = id;
	}
	arr = jscan_get_t(j, 1, "identifier", JS_ARRAY);
	for (e = jscan_first(j, arr); e != 0; e = jscan_next(j, arr, e))
		if (ix_ident(ix, kind, jscan_getstr(j, e, "system"),
		    jscan_getstr(j, e, "value"), who) == -1)
			return -1;
	if (kind != IDENT_PATIENT ||
	    (names = jscan_get_t(j, 1, "name", JS_ARRAY)) == 0)
		return 0;
	birth = jscan_getstr(j, 1, "birthDate");
	gender = norm_gender(jscan_getstr(j, 1, "gender"));
	for (e = jscan_first(j, names); e != 0; e = jscan_next(j, names, e)) {
		memset(&g, 0, sizeof(g));
		given = jscan_get_t(j, e, "given", JS_ARRAY);
		for (gv = jscan_first(j, given); gv != 0 && !g.full;
		    gv = jscan_next(j, given, gv))
			if (jscan_type(j, gv) == JS_STRING)
				given_add(&g, jscan_str(j, gv));
		if (ix_demog(ix, id, jscan_getstr(j, e, "family"), &g, birth,
		    gender) == -1)
			return -1;
	}
	return 0;
}

static void
ix_free(struct store_ix *ix)
{
	free(ix->r);
	free(ix->pool);
	memset(ix, 0, sizeof(*ix));
}

/* Runs one of the DELETE ... WHERE rid = ?1 statements. */
static int
rows_del(struct p2p_db *db, const char *sql, long long rid,
    struct p2p_err *err)
{
	return db_run(db, sql, err, "index rows delete", "I", rid);
}

#define IXS(ix, r, i)	((r)->off[i] < 0 ? NULL : (ix)->pool + (r)->off[i])

/*
 * Writes the ident and demog rows of resource rid, replacing the old
 * ones unless the resource is fresh (inserted, not updated).
 */
static int
index_rows(struct p2p_db *db, long long rid, int fresh, const char *type,
    const struct store_ix *ix, struct p2p_err *err)
{
	const struct store_ixrow *r;
	struct db_stmt	*st;
	size_t		 i;

	/*
	 * A new rid has no rows: those of a deleted resource went with it
	 * (ON DELETE CASCADE), so only a replaced resource deletes.
	 */
	if (!fresh && rows_del(db, sql_ident_del, rid, err) == -1)
		return -1;
	if (!fresh && strcmp(type, "Patient") == 0 &&
	    rows_del(db, sql_demog_del, rid, err) == -1)
		return -1;
	for (i = 0; i < ix->n; i++) {
		r = &ix->r[i];
		if ((st = db_stmt(db, r->demog ? sql_demog_put : sql_ident_put,
		    err)) == NULL)
			return -1;
		db_bind_int64(st, 1, rid);
		/* the pool outlives the step: no copies */
		if (r->demog) {
			db_bind_static(st, 2, IXS(ix, r, 0), -1);
			db_bind_static(st, 3, IXS(ix, r, 1), -1);
			db_bind_static(st, 4, IXS(ix, r, 2), -1);
			db_bind_static(st, 5, IXS(ix, r, 3), -1);
			db_bind_static(st, 6, IXS(ix, r, 4), -1);
		} else {
			db_bind_int(st, 2, r->kind);
			db_bind_static(st, 3, IXS(ix, r, 0), -1);
			db_bind_static(st, 4, IXS(ix, r, 1), -1);
			db_bind_static(st, 5, IXS(ix, r, 2), -1);
		}
		if (db_step_done(db, st, err, r->demog ? "demog insert" :
		    "ident insert") == -1)
			return -1;
	}
	return 0;
}

/* Binds ?1..?9 of the resource statements; every string outlives st. */
static void
bind_row(struct db_stmt *st, const struct store_row *row)
{
	db_bind_static(st, 1, row->type, -1);
	db_bind_static(st, 2, row->id, -1);
	if (row->has_patient)
		db_bind_static(st, 3, row->patient, -1);
	if (row->si.dos[0] != '\0')
		db_bind_static(st, 4, row->si.dos, -1);
	db_bind_int64(st, 5, row->si.flags);
	if (row->si.changed[0] != '\0')
		db_bind_static(st, 6, row->si.changed, -1);
	db_bind_static(st, 7, row->lu, -1);
	db_bind_static(st, 8, row->json, row->jsonlen);
	if (row->si.p2p_json != NULL)
		db_bind_static(st, 9, row->si.p2p_json, -1);
}

/*
 * Steps a statement ending in RETURNING rid: 1 with *rid set when it
 * returned a row, 0 when none, -1 with err set.
 */
static int
step_rid(struct p2p_db *db, struct db_stmt *st, long long *rid,
    struct p2p_err *err)
{
	int	 rc = db_step(st), got = rc == DB_ROW;

	if (got) {
		*rid = db_col_int64(st, 0);
		rc = db_step(st);
	}
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "resource upsert");
	return got;
}

/*
 * The targets of Provenance rid (target[].reference), replacing its old
 * ones unless fresh.  Read with json-c: Provenance rows are few.
 */
static int
prov_targets(struct p2p_db *db, long long rid, int fresh,
    const struct store_row *row, struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*res, *targets, *ref;
	size_t		 i, n;
	int		 rc = 0;

	if (!fresh) {
		if ((st = db_query(db, sql_prov_del, err, "I", rid)) == NULL)
			return -1;
		if (db_step_done(db, st, err, "provenance targets") == -1)
			return -1;
	}
	if (fhir_parse(row->json, row->jsonlen < 0 ? strlen(row->json) :
	    (size_t)row->jsonlen, &res, err) == -1)
		return -1;
	targets = fhir_get(res, "target", json_type_array);
	n = targets != NULL ? json_object_array_length(targets) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		ref = json_object_array_get_idx(targets, i);
		if (fhir_str(ref, "reference") == NULL)
			continue;
		if ((st = db_stmt(db, sql_prov_put, err)) == NULL) {
			rc = -1;
			break;
		}
		db_bind_text(st, 1, fhir_str(ref, "reference"));
		db_bind_int64(st, 2, rid);
		rc = db_step_done(db, st, err, "provenance targets");
	}
	json_object_put(res);
	return rc;
}

static int
write_resource(struct p2p_db *db, struct store_row *row,
    const struct store_ctx *ctx, struct p2p_err *err)
{
	struct db_stmt	*st;
	long long	 rid = 0;
	int		 fresh;

	if ((st = db_stmt(db, sql_res_ins, err)) == NULL)
		return -1;
	bind_row(st, row);
	if (db_step_done(db, st, err, "resource upsert") == -1)
		return -1;
	if ((fresh = db_changes(db) == 1))
		rid = db_last_id(db);
	else {
		/* replacing index rows looks them up by rid: build first */
		if (ctx->first != NULL && firstload_indexes(db, ctx->first, err) == -1)
			return -1;
		if ((st = db_stmt(db, sql_res_upd, err)) == NULL)
			return -1;
		bind_row(st, row);
		if (step_rid(db, st, &rid, err) != 1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "internal database error");
	}
	if (strcmp(row->type, "Provenance") == 0 &&
	    prov_targets(db, rid, fresh, row, err) == -1)
		return -1;
	if (!row->indexed)
		return 0;
	return index_rows(db, rid, fresh, row->type, &row->ix, err);
}


/* A Consent row: res (meta.lastUpdated stamped) and its member. */
static int
put_consent(struct p2p_db *db, const struct store_row *row,
    const struct store_ctx *ctx, struct p2p_err *err)
{
	json_object	*res = row->res;
	struct db_stmt	*st;
	long long	 cid;
	const char	*status, *policy, *json, *prov, *id = row->id,
			*patient = row->patient;
	char		 detail[96];
	int		 rc;

	if (!row->has_patient)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "patient",
		    "Consent/%s: patient does not reference a Patient", id);
	if ((status = fhir_str(res, "status")) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "status",
		    "Consent/%s: status is missing", id);
	/* HRex Consent carries policy.uri; others a policyRule code. */
	if ((policy = fhir_path_str(res, "policy.uri")) == NULL)
		policy = fhir_path_str(res, "policyRule.coding.code");
	if ((json = fhir_json(res)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((st = db_query(db, sql_consent_put, err, "tttttttt", id, patient,
	    status, fhir_path_str(res, "provision.type"), policy,
	    fhir_path_str(res, "provision.period.start"),
	    fhir_path_str(res, "provision.period.end"), ctx->now)) == NULL)
		return -1;
	db_bind_static(st, 9, json, -1);
	rc = db_step(st);
	cid = rc == DB_ROW ? db_col_int64(st, 0) : 0;
	if (rc == DB_ROW)
		rc = db_step(st);
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "consent upsert");
	if (cid == 0)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT,
		    "Consent/%s was submitted by a payer; a load cannot "
		    "replace it", id);
	if (consent_history_add(db, cid, status, "load", ctx->now, json,
	    err) == -1)
		return -1;
	/* Consents the payer loads (opt-outs) are audited too. */
	snprintf(detail, sizeof(detail), "%s (loaded, status %s)",
	    (prov = fhir_path_str(res, "provision.type")) != NULL &&
	    strcmp(prov, "deny") == 0 ? "opt-out recorded" : "loaded consent",
	    status);
	return audit_log(db, "consent", "success", NULL, patient, cid, detail,
	    err);
}

/*
 * An Aidbox Client: id, secret, grant_types, details.identifier (the
 * requesting payer's NPI).  The secret is hashed by client_put(); it
 * appears in no message.
 */
static int
put_client(struct p2p_db *db, json_object *res, const char *id,
    struct p2p_err *err)
{
	struct client_rec	 rec;
	json_object		*v, *e;
	const char		*secret = NULL, *s;
	size_t			 i, n, len = 0;
	int			 rc;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.scopes, sizeof(rec.scopes), "%s", STORE_CLIENT_SCOPES);
	rec.active = 1;
	if (json_object_object_get_ex(res, "secret", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0 ||
		    json_object_get_string_len(v) > SECRET_MAX)
			return p2p_fail_at(err, 422, P2P_ISSUE_VALUE, "secret",
			    "Client/%s: secret must be a string of 1 to %d "
			    "characters", id, SECRET_MAX);
		secret = json_object_get_string(v);
	}
	if ((v = fhir_get(res, "grant_types", json_type_array)) != NULL) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			s = json_object_is_type(e, json_type_string) ?
			    json_object_get_string(e) : NULL;
			if (s == NULL || *s == '\0' || strpbrk(s, " \t\r\n") ||
			    len + strlen(s) + 2 > sizeof(rec.grant_types))
				return p2p_fail_at(err, 422, P2P_ISSUE_VALUE,
				    "grant_types", "Client/%s: grant_types[%zu] "
				    "is not a short grant type name", id, i);
			len += (size_t)snprintf(rec.grant_types + len,
			    sizeof(rec.grant_types) - len, "%s%s",
			    len ? " " : "", s);
		}
	}
	if ((v = fhir_path(res, "details")) != NULL &&
	    (v = fhir_get(v, "identifier", json_type_array)) != NULL) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			s = fhir_str(e, "system");
			if (s == NULL || strcmp(s, NPI_SYSTEM) != 0 ||
			    (s = fhir_str(e, "value")) == NULL)
				continue;
			if (strlen(s) >= sizeof(rec.npi))
				return p2p_fail_at(err, 422, P2P_ISSUE_VALUE,
				    "details.identifier",
				    "Client/%s: NPI too long", id);
			snprintf(rec.npi, sizeof(rec.npi), "%s", s);
			break;
		}
	}
	rc = client_put(db, &rec, secret, err);
	client_rec_free(&rec);
	return rc;
}

/*
 * The row of the resource at the root of tape j (store_prepare()'s and
 * store_prepare_scan()'s common part: one check, one classification,
 * whichever way the resource was parsed).  row->res and row->json are
 * the caller's.  lu_source: meta.lastUpdated is the source's, not
 * stamped.  0, 1 when a claim's released form needs the text json-c
 * writes (scope_classify()), or -1 with err set.
 */
static int
prepare_tape(struct jscan *j, const struct store_ctx *ctx, int lu_source,
    struct store_row *row, struct p2p_err *err)
{
	const char	*type, *id, *lu;
	int		 rc;

	if (fhir_check(j, 1, aidbox_types, err) == -1)
		return -1;
	type = jscan_getstr(j, 1, "resourceType");
	id = jscan_getstr(j, 1, "id");
	if (strcmp(type, "Bundle") == 0)
		return p2p_fail(err, 422, P2P_ISSUE_NOT_SUPPORTED,
		    "Bundle/%s: a Bundle cannot be stored as a resource "
		    "(load it as a file of its own)", id);
	/* both were checked: they fit */
	snprintf(row->typebuf, sizeof(row->typebuf), "%s", type);
	snprintf(row->idbuf, sizeof(row->idbuf), "%s", id);
	row->type = row->typebuf;
	row->id = row->idbuf;
	if (strcmp(type, "Client") == 0) {
		row->kind = STORE_CLIENT;
		return 0;
	}
	if (strcmp(type, "AccessPolicy") == 0) {
		row->kind = STORE_IGNORED;
		return 0;
	}
	row->has_patient = store_patient_of(j, ctx, row->patient,
	    sizeof(row->patient));
	if (strcmp(type, "Consent") == 0) {
		row->kind = STORE_CONSENT;
		return 0;
	}
	row->kind = STORE_RESOURCE;
	/* there is one: the source's, or stamped by store_prepare() */
	if ((lu = jscan_path_str(j, 1, "meta.lastUpdated")) == NULL ||
	    (row->lu = strdup(lu)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	row->indexed = strcmp(type, "Patient") == 0 ||
	    strcmp(type, "Coverage") == 0 ||
	    strcmp(type, "Organization") == 0;
	if (row->indexed && ix_collect(&row->ix, type, id, j,
	    row->has_patient ? row->patient : NULL) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if ((rc = scope_classify(j, type, lu_source, &row->si)) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return rc;
}

int
store_prepare(json_object *res, const struct store_ctx *ctx,
    struct jscan *j, struct store_row *row, struct p2p_err *err)
{
	const char	*type, *text;
	int		 stamped = 0;

	memset(row, 0, sizeof(*row));
	row->res = res;
	/* the Aidbox types keep their own form, without meta */
	if ((type = fhir_type(res)) != NULL && !is_aidbox(type) &&
	    stamp(res, ctx, &stamped) == -1)
		goto oom;
	/* the tape of the text json-c writes: no duplicate key, any number */
	if ((text = fhir_json(res)) == NULL ||
	    jscan_parse(j, text, strlen(text), JSCAN_WRITTEN) == -1)
		goto oom;
	/* a line needing no change is stored as it was read */
	if (!stamped && ctx->raw != NULL && ctx->rawlen < (size_t)INT32_MAX) {
		row->json = ctx->raw;
		row->jsonlen = (int)ctx->rawlen;
	} else {
		row->json = text;	/* lives in res */
		row->jsonlen = -1;
	}
	switch (prepare_tape(j, ctx, !stamped, row, err)) {
	case 0:
		return 0;
	case 1:		/* cannot be: json-c writes no duplicate key */
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "internal error");
		break;
	default:
		break;
	}
	store_row_free(row);
	return -1;
oom:
	store_row_free(row);
	return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
}

int
store_prepare_scan(struct jscan *j, const struct store_ctx *ctx,
    struct store_row *row, struct p2p_err *err)
{
	const char	*type;
	uint32_t	 meta;

	memset(row, 0, sizeof(*row));
	/* only a line stored as it is, outside a Bundle */
	if (ctx->raw == NULL || ctx->urn != NULL ||
	    ctx->rawlen >= (size_t)INT32_MAX)
		return 0;
	/* the types whose rows keep a tree for store_write() */
	if ((type = jscan_getstr(j, 1, "resourceType")) != NULL &&
	    (is_aidbox(type) || strcmp(type, "Consent") == 0))
		return 0;
	/* no meta.lastUpdated: json-c adds one (store_prepare()) */
	meta = jscan_get(j, 1, "meta");
	if (meta == 0 || (jscan_type(j, meta) == JS_OBJECT &&
	    jscan_get(j, meta, "lastUpdated") == 0))
		return 0;
	row->json = ctx->raw;
	row->jsonlen = (int)ctx->rawlen;
	switch (prepare_tape(j, ctx, 1, row, err)) {
	case 0:
		return 1;
	case 1:			/* a claim with a duplicate key */
		store_row_free(row);
		return 0;
	default:
		store_row_free(row);
		return -1;
	}
}

int
store_write(struct p2p_db *db, struct store_row *row,
    const struct store_ctx *ctx, struct p2p_err *err)
{
	switch (row->kind) {
	case STORE_CLIENT:
		return put_client(db, row->res, row->id, err);
	case STORE_IGNORED:
		/* Aidbox authorization rules: p2p authorizes on its own. */
		return 0;
	case STORE_CONSENT:
		return put_consent(db, row, ctx, err);
	default:
		return write_resource(db, row, ctx, err);
	}
}

int
store_row_detach(struct store_row *row)
{
	size_t	 n;

	if (row->res == NULL || row->kind != STORE_RESOURCE)
		return 0;
	if (row->jsonlen == -1) {	/* json lives in res */
		n = strlen(row->json) + 1;
		if ((row->own = malloc(n)) == NULL)
			return -1;
		memcpy(row->own, row->json, n);
		row->json = row->own;
	}
	json_object_put(row->res);
	row->res = NULL;
	return 0;
}

void
store_row_free(struct store_row *row)
{
	if (row == NULL)
		return;
	json_object_put(row->res);
	row->res = NULL;
	free(row->own);
	row->own = NULL;
	free(row->lu);
	row->lu = NULL;
	ix_free(&row->ix);
	scope_info_free(&row->si);
}

int
store_put(struct p2p_db *db, json_object *res, const struct store_ctx *ctx,
    enum store_kind *kind, struct p2p_err *err)
{
	struct store_row	 row;
	struct jscan		 j;
	int			 rc;

	*kind = STORE_RESOURCE;
	jscan_init(&j);
	/* the row takes a reference of its own: res stays the caller's */
	rc = store_prepare(json_object_get(res), ctx, &j, &row, err);
	jscan_free(&j);
	if (rc == -1)
		return -1;
	*kind = row.kind;
	rc = store_write(db, &row, ctx, err);
	store_row_free(&row);
	return rc;
}

int
store_exists(struct p2p_db *db, const char *type, const char *id,
    struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql_res_exists, err, "tt", type, id)) == NULL)
		return -1;
	return db_exists(db, st, err, "resource lookup");
}

int
store_delete(struct p2p_db *db, const char *type, const char *id,
    enum store_kind *kind, struct p2p_err *err)
{
	struct db_stmt	*st;
	long long	 cid;
	static const char *const dels[] = {
		sql_res_del_ident, sql_res_del_demog, sql_res_del_prov,
		sql_res_del,
	};
	char		 now[32], *json;
	size_t		 i;
	int		 rc;

	*kind = STORE_RESOURCE;
	if (!store_type_valid(type) || !fhir_valid_id(id))
		return p2p_fail(err, 422, P2P_ISSUE_VALUE,
		    "not a valid Type/id to delete");
	if (strcmp(type, "AccessPolicy") == 0) {
		*kind = STORE_IGNORED;
		return 0;
	}
	if (strcmp(type, "Client") == 0) {
		*kind = STORE_CLIENT;
		return client_set_active(db, id, 0, err) == -1 ? -1 : 0;
	}
	if (strcmp(type, "Consent") == 0) {
		*kind = STORE_CONSENT;
		time_instant(now_sec(), now);
		if ((st = db_query(db, sql_consent_del, err, "tt", id,
		    now)) == NULL)
			return -1;
		rc = db_step(st);
		cid = rc == DB_ROW ? db_col_int64(st, 0) : 0;
		json = rc == DB_ROW ? xstrdup(db_col_text(st, 1)) : NULL;
		if (rc == DB_ROW)
			rc = db_step(st);
		db_done(st);
		if (rc != DB_DONE) {
			free(json);
			return db_fail(db, rc, err, "consent delete");
		}
		rc = cid == 0 ? 0 : consent_history_add(db, cid, "inactive",
		    "load", now, json, err);
		free(json);
		return rc;
	}
	for (i = 0; i < sizeof(dels) / sizeof(dels[0]); i++) {
		if ((st = db_query(db, dels[i], err, "tt", type, id)) == NULL)
			return -1;
		if (db_step_done(db, st, err, "resource delete") == -1)
			return -1;
	}
	return 0;
}
