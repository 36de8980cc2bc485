/*
 * release.c - the payer-to-payer release rules as SQL over stored rows
 * (see release.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "datascope/classify.h"
#include "datascope/release.h"
#include "json/fhir.h"
#include "json/valid.h"

/*
 * The released rows of one member, in keyset order.  Every rule is a
 * condition on a stored column; the index resource_patient (patient,
 * type, rid) serves the order and the keyset start.
 *   ?1 patient  ?2 ",A,B," types or NULL  ?3/?4 keyset (type, rid)
 *   ?5 window floor  ?6/?7 start/end care dates or NULL
 *   ?8 closed-PA change floor  ?9 release sensitive (0/1)
 *   ?10/?11 _since/_until or NULL  ?12 limit (-1 none)
 *   ?13 SCOPE_EXCLUDED  ?14 SCOPE_PA_CLOSED  ?15 SCOPE_SENSITIVE
 *   ?16 SCOPE_DRUG  ?17 release drug PAs (0/1, release_drug_pa)
 */
/* Never SCOPE_EXCLUDED (e), SCOPE_SENSITIVE (s) only when ok. */
#define RELEASE_FLAGS(e, s, ok) \
	" AND (flags & " e ") = 0 AND ((flags & " s ") = 0 OR " ok ")"
#define RELEASE_WHERE \
	" FROM resource WHERE patient = ?1" \
	" AND (?2 IS NULL OR instr(?2, ',' || type || ',') > 0)" \
	" AND (type, rid) > (?3, ?4)" \
	" AND (dos IS NULL OR dos = '' OR (dos >= ?5" \
	"  AND (?6 IS NULL OR dos >= ?6) AND (?7 IS NULL OR dos <= ?7)))" \
	RELEASE_FLAGS("?13", "?15", "?9") \
	" AND ((flags & ?14) = 0 OR changed >= ?8)" \
	" AND ((flags & ?16) = 0 OR ?17)" \
	" AND (?10 IS NULL OR last_updated > ?10)" \
	" AND (?11 IS NULL OR last_updated <= ?11)"

static const char *const sql_rows =
	"SELECT rid, type, id, dos, last_updated, coalesce(p2p_json, json)"
	RELEASE_WHERE " ORDER BY type, rid LIMIT ?12";
static const char *const sql_count =
	"SELECT count(*)" RELEASE_WHERE " AND ?12 IS NOT NULL";
/* A referenced resource: ?3 SCOPE_EXCLUDED, ?4 SCOPE_SENSITIVE, ?5 ok. */
static const char *const sql_ref =
	"SELECT coalesce(p2p_json, json) FROM resource WHERE type = ?1"
	" AND id = ?2 AND patient IS NULL" RELEASE_FLAGS("?3", "?4", "?5");
/*
 * Loaded Provenance whose every target is in ?1 (a JSON array of
 * "Type/id"): ?2 SCOPE_EXCLUDED, ?3 SCOPE_SENSITIVE, ?4 ok, ?5/?6
 * _since/_until.  The columns of sql_rows, for release_next().
 */
static const char *const sql_provenance =
	"SELECT rid, type, id, dos, last_updated, coalesce(p2p_json, json)"
	" FROM resource WHERE rid IN (SELECT t.rid FROM prov_target t"
	" WHERE t.target IN (SELECT value FROM json_each(?1)))"
	" AND type = 'Provenance' AND patient IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM prov_target u WHERE u.rid = resource.rid"
	" AND u.target NOT IN (SELECT value FROM json_each(?1)))"
	RELEASE_FLAGS("?2", "?3", "?4")
	" AND (?5 IS NULL OR last_updated > ?5)"
	" AND (?6 IS NULL OR last_updated <= ?6) ORDER BY rid";
/* Is any Provenance loaded? */
static const char *const sql_any_provenance =
	"SELECT EXISTS (SELECT 1 FROM prov_target)";

/*
 * _typeFilter search parameters supported per type.  Date parameters
 * test the stored date of service (dos), which the loader derives from
 * the same element the parameter searches (EOB billable period / item
 * service dates, Encounter period, Condition onset, Observation
 * effective, MedicationRequest authoredOn, ...).
 */
static const struct {
	const char		*type;
	const char		*param;
	enum release_cond_kind	 kind;
} tf_params[] = {
	{ "ExplanationOfBenefit", "service-date", RC_DOS },
	{ "ExplanationOfBenefit", "status", RC_STATUS },
	{ "Encounter", "date", RC_DOS },
	{ "Encounter", "status", RC_STATUS },
	{ "Condition", "onset-date", RC_DOS },
	{ "Observation", "date", RC_DOS },
	{ "Observation", "status", RC_STATUS },
	{ "Procedure", "date", RC_DOS },
	{ "Procedure", "status", RC_STATUS },
	{ "MedicationRequest", "authoredon", RC_DOS },
	{ "MedicationRequest", "status", RC_STATUS },
	{ "MedicationDispense", "status", RC_STATUS },
	{ "Immunization", "date", RC_DOS },
	{ "Immunization", "status", RC_STATUS },
	{ "DiagnosticReport", "date", RC_DOS },
	{ "DiagnosticReport", "status", RC_STATUS },
	{ "DocumentReference", "status", RC_STATUS },
	{ "CarePlan", "date", RC_DOS },
	{ "CarePlan", "status", RC_STATUS },
	{ "Coverage", "status", RC_STATUS },
	{ NULL, "_lastUpdated", RC_UPDATED },	/* every type */
};

static void
years_back(time_t now, long long years, long long months, char out[16])
{
	struct tm	 tm;
	long long	 m;

	gmtime_r(&now, &tm);
	m = (long long)tm.tm_year * 12 + tm.tm_mon - years * 12 - months;
	/* A day past the month's end sorts after every real day of it. */
	if (m < 0)
		m = 0;
	snprintf(out, 16, "%04d-%02d-%02d", (int)(m / 12 + 1900) % 10000,
	    (int)(m % 12 + 1), tm.tm_mday % 100);
}

void
release_init(struct release_rules *r, const struct p2p_config *cfg,
    time_t now, int sensitive)
{
	memset(r, 0, sizeof(*r));
	years_back(now, cfg->data_years, 0, r->dos_min);
	years_back(now, 0, cfg->pa_change_months, r->pa_min);
	r->sensitive = sensitive != 0;
	r->drug_pa = cfg->release_drug_pa != 0;
}

int
release_add_types(struct release_rules *r, const char *list,
    struct p2p_err *err)
{
	char	 t[64];
	const char *p = list, *e;
	size_t	 n;

	for (;;) {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n >= sizeof(t))
			return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, "_type",
			    "_type must be a comma-separated list of "
			    "resource types");
		memcpy(t, p, n);
		t[n] = '\0';
		if (!fhir_type_known(t))
			return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
			    "_type", "_type: unknown resource type %.64s", t);
		if (!release_type_ok(r, t) || r->types[0] == '\0') {
			if (r->types[0] == '\0')
				r->types[0] = ',';
			n = strlen(r->types);
			if (n + strlen(t) + 2 > sizeof(r->types))
				return p2p_fail_at(err, 400,
				    P2P_ISSUE_TOO_COSTLY, "_type",
				    "_type lists too many types");
			snprintf(r->types + n, sizeof(r->types) - n, "%s,",
			    t);
		}
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

int
release_type_ok(const struct release_rules *r, const char *type)
{
	const char	*p, *e;
	size_t		 n = strlen(type);

	if (r->types[0] == '\0')
		return 1;
	if (n == 0)
		return 0;	/* no type is no type of the list */
	/* ",A,B,": each name between two commas */
	for (p = r->types + 1; (e = strchr(p, ',')) != NULL; p = e + 1)
		if ((size_t)(e - p) == n && memcmp(p, type, n) == 0)
			return 1;
	return 0;
}

int
release_date(const char *v, int end, char out[16], const char *what,
    struct p2p_err *err)
{
	time_t	 t;
	int	 prec = strlen(v) > 40 ? -1 : time_parse_prec(v, 0, &t);

	if (prec == -1)
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, what,
		    "%s: %.40s is not a FHIR date", what, v);
	if (prec >= TIME_DAY)
		snprintf(out, 16, "%.10s", v);
	else if (prec == TIME_MONTH)
		snprintf(out, 16, "%.7s-%s", v, end ? "31" : "01");
	else
		snprintf(out, 16, "%.4s-%s", v, end ? "12-31" : "01-01");
	return 0;
}

int
release_instant(const char *v, char out[32], const char *what,
    struct p2p_err *err)
{
	time_t	 t;

	if (strlen(v) > 40 || time_parse(v, 0, &t) == -1)
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, what,
		    "%s: %.40s is not a FHIR instant", what, v);
	time_instant(t, out);
	return 0;
}

/*
 * _since: an instant, not in the future (it would select nothing, and
 * a client that sends one has a clock or a bookkeeping problem).
 */
static int
release_since(const char *v, char out[32], struct p2p_err *err)
{
	char	 now[32];

	if (release_instant(v, out, "_since", err) == -1)
		return -1;
	time_instant(now_sec(), now);
	if (strcmp(out, now) > 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, "_since",
		    "_since %.40s is in the future", v);
	return 0;
}

static int
valid_code(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && *s != '-' &&
		    !isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Parses one "param=value" of a _typeFilter query for type. */
static int
tf_cond(const char *type, char *kv, struct release_cond *c,
    struct p2p_err *err)
{
	char		*v, *code, *next;
	size_t		 i, n;
	int		 found = 0;

	if ((v = strchr(kv, '=')) == NULL)
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "_typeFilter",
		    "_typeFilter: %.64s has no value", kv);
	*v++ = '\0';
	if (url_decode(kv, 1) == -1 || url_decode(v, 1) == -1)
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "_typeFilter",
		    "_typeFilter: malformed escape");
	for (i = 0; i < sizeof(tf_params) / sizeof(tf_params[0]); i++)
		if ((tf_params[i].type == NULL ||
		    strcmp(tf_params[i].type, type) == 0) &&
		    strcmp(tf_params[i].param, kv) == 0) {
			c->kind = tf_params[i].kind;
			found = 1;
			break;
		}
	if (!found)
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    "_typeFilter", "_typeFilter: search parameter %.64s is "
		    "not supported for %.64s (supported: date parameters, "
		    "status, _lastUpdated)", kv, type);
	if (c->kind == RC_STATUS) {
		/* status=a,b: any of the codes. */
		n = strlen(v);
		if (n == 0 || n + 3 > sizeof(c->codes))
			return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
			    "_typeFilter", "_typeFilter: bad status value");
		snprintf(c->codes, sizeof(c->codes), ",%s,", v);
		for (code = c->codes + 1; *code != '\0'; code = next + 1) {
			next = strchr(code, ',');
			*next = '\0';
			if (!valid_code(code))
				return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    "_typeFilter", "_typeFilter: bad status "
				    "code");
			*next = ',';
		}
		return 0;
	}
	return release_cond_parse(v, c->kind == RC_UPDATED, c, "_typeFilter",
	    err);
}

int
release_cond_parse(const char *v, int instant, struct release_cond *c,
    const char *what, struct p2p_err *err)
{
	static const char *const cmps[] = { "eq", "ne", "ge", "gt", "le",
	    "lt" };
	size_t		 i;

	c->cmp = RC_EQ;
	for (i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
		if (strncmp(v, cmps[i], 2) == 0) {
			c->cmp = (enum release_cmp)i;
			v += 2;
			break;
		}
	if (isalpha((unsigned char)v[0]))
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, what,
		    "%s: only the eq, ne, ge, gt, le and lt prefixes are "
		    "supported", what);
	if (instant && strlen(v) > 10) {
		/* An instant compares as an instant. */
		if (release_instant(v, c->first, what, err) == -1)
			return -1;
		memcpy(c->last, c->first, sizeof(c->last));
		return 0;
	}
	if (release_date(v, 0, c->first, what, err) == -1 ||
	    release_date(v, 1, c->last, what, err) == -1)
		return -1;
	/* "~" sorts after the "T..." of any instant on that day. */
	strncat(c->last, "~", sizeof(c->last) - strlen(c->last) - 1);
	return 0;
}

/* Parses one "Type?a=1&b=2" query into r->tf[r->ntf]. */
static int
tf_query(struct release_rules *r, char *q, struct p2p_err *err)
{
	struct release_tf	*tf;
	char			*qm, *p, *amp;

	if (r->ntf >= RELEASE_TF_MAX)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_COSTLY,
		    "_typeFilter", "too many _typeFilter queries");
	tf = &r->tf[r->ntf];
	memset(tf, 0, sizeof(*tf));
	if ((qm = strchr(q, '?')) == NULL || qm == q ||
	    (size_t)(qm - q) >= sizeof(tf->type) || qm[1] == '\0')
		return p2p_fail_at(err, 400, P2P_ISSUE_INVALID, "_typeFilter",
		    "_typeFilter must hold queries of the form "
		    "Type?param=value");
	*qm = '\0';
	snprintf(tf->type, sizeof(tf->type), "%s", q);
	if (!fhir_type_known(tf->type))
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED,
		    "_typeFilter", "_typeFilter: unknown resource type %.64s",
		    tf->type);
	for (p = qm + 1; p != NULL; p = amp) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if (tf->ncond >= RELEASE_COND_MAX)
			return p2p_fail_at(err, 400, P2P_ISSUE_TOO_COSTLY,
			    "_typeFilter", "_typeFilter: too many parameters");
		if (tf_cond(tf->type, p, &tf->cond[tf->ncond], err) == -1)
			return -1;
		tf->ncond++;
	}
	r->ntf++;
	return 0;
}

int
release_add_typefilter(struct release_rules *r, const char *list,
    struct p2p_err *err)
{
	char	*copy, *p, *comma;
	int	 rc = 0;

	if (strlen(list) > 4096)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_LONG, "_typeFilter",
		    "_typeFilter is too long");
	if ((copy = strdup(list)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	/* Commas separate queries; a comma inside a value is %2C. */
	for (p = copy; p != NULL && rc == 0; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		rc = tf_query(r, p, err);
	}
	free(copy);
	return rc;
}

/* Binds ?1..?17 of RELEASE_WHERE and the limit ?12. */
static void
bind_where(struct db_stmt *st, const struct release_rules *r,
    const char *patient, const char *after_type, long long after_rid,
    long long limit)
{
	db_bind_text(st, 1, patient);
	db_bind_text(st, 2, r->types[0] ? r->types : NULL);
	db_bind_text(st, 3, after_type ? after_type : "");
	db_bind_int64(st, 4, after_rid);
	db_bind_text(st, 5, r->dos_min);
	db_bind_text(st, 6, r->start[0] ? r->start : NULL);
	db_bind_text(st, 7, r->end[0] ? r->end : NULL);
	db_bind_text(st, 8, r->pa_min);
	db_bind_int(st, 9, r->sensitive);
	db_bind_text(st, 10, r->since[0] ? r->since : NULL);
	db_bind_text(st, 11, r->until[0] ? r->until : NULL);
	db_bind_int64(st, 12, limit > 0 ? limit : -1);
	db_bind_int(st, 13, SCOPE_EXCLUDED);
	db_bind_int(st, 14, SCOPE_PA_CLOSED);
	db_bind_int(st, 15, SCOPE_SENSITIVE);
	db_bind_int(st, 16, SCOPE_DRUG);
	db_bind_int(st, 17, r->drug_pa);
}

struct db_stmt *
release_open(struct p2p_db *db, const struct release_rules *r,
    const char *patient, const char *after_type, long long after_rid,
    long long limit, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_stmt(db, sql_rows, err)) == NULL)
		return NULL;
	bind_where(st, r, patient, after_type, after_rid, limit);
	return st;
}

int
release_cond_holds(const struct release_cond *c, const char *v)
{
	if (v == NULL || *v == '\0')
		return 0;	/* no value: a date search does not match */
	switch (c->cmp) {
	case RC_EQ:
		return strcmp(v, c->first) >= 0 && strcmp(v, c->last) <= 0;
	case RC_NE:
		return strcmp(v, c->first) < 0 || strcmp(v, c->last) > 0;
	case RC_GE:
		return strcmp(v, c->first) >= 0;
	case RC_GT:
		return strcmp(v, c->last) > 0;
	case RC_LE:
		return strcmp(v, c->last) <= 0;
	case RC_LT:
		return strcmp(v, c->first) < 0;
	}
	return 0;
}

static int
tf_match(const struct release_rules *r, const char *type, const char *dos,
    const char *updated, const char *json, size_t len)
{
	const struct release_tf	*tf;
	const struct release_cond *c;
	char			 st[64], pat[70];
	size_t			 i, j;
	int			 any = 0, ok;

	for (i = 0; i < r->ntf; i++) {
		tf = &r->tf[i];
		if (strcmp(tf->type, type) != 0)
			continue;
		any = 1;
		ok = 1;
		for (j = 0; j < tf->ncond && ok; j++) {
			c = &tf->cond[j];
			if (c->kind == RC_DOS)
				ok = release_cond_holds(c, dos);
			else if (c->kind == RC_UPDATED)
				ok = release_cond_holds(c, updated);
			else {
				ok = release_top_str(json, len, "status", st,
				    sizeof(st));
				snprintf(pat, sizeof(pat), ",%s,", st);
				ok = ok && strstr(c->codes, pat) != NULL;
			}
		}
		if (ok)
			return 1;
	}
	return !any;
}

int
release_next(struct p2p_db *db, const struct release_rules *r,
    struct db_stmt *st, struct release_row *row, struct p2p_err *err)
{
	int	 rc;

	while ((rc = db_step(st)) == DB_ROW) {
		row->rid = db_col_int64(st, 0);
		row->type = db_col_text(st, 1);
		row->id = db_col_text(st, 2);
		row->json = db_col_text(st, 5);
		row->len = db_col_bytes(st, 5);
		if (row->type == NULL || row->id == NULL || row->json == NULL)
			continue;
		if (r->ntf == 0 || tf_match(r, row->type, db_col_text(st, 3),
		    db_col_text(st, 4), row->json, row->len))
			return 1;
	}
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "release rows");
	return 0;
}

int
release_count(struct p2p_db *db, const struct release_rules *r,
    const char *patient, long long *n, struct p2p_err *err)
{
	struct release_row	 row;
	struct db_stmt		*st;
	int			 rc;

	*n = 0;
	if (r->ntf > 0) {
		if ((st = release_open(db, r, patient, "", 0, 0, err)) == NULL)
			return -1;
		while ((rc = release_next(db, r, st, &row, err)) == 1)
			(*n)++;
		db_done(st);
		return rc;
	}
	if ((st = db_stmt(db, sql_count, err)) == NULL)
		return -1;
	bind_where(st, r, patient, "", 0, 0);
	if ((rc = db_step(st)) != DB_ROW) {
		db_done(st);
		return db_fail(db, rc, err, "release count");
	}
	*n = db_col_int64(st, 0);
	db_done(st);
	return 0;
}

/* Skips a JSON string starting at s[i] == '"'; returns the index after. */
static size_t
skip_str(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return len;
}

int
release_top_str(const char *s, size_t len, const char *key, char *out,
    size_t outsz)
{
	size_t	 i = 0, k, klen = strlen(key), e, n;
	int	 depth = 0, want_key = 0;

	while (i < len) {
		switch (s[i]) {
		case '{':
		case '[':
			depth++;
			want_key = depth == 1 && s[i] == '{';
			i++;
			continue;
		case '}':
		case ']':
			depth--;
			i++;
			continue;
		case ',':
			want_key = depth == 1;
			i++;
			continue;
		case '"':
			e = skip_str(s, len, i);
			if (depth == 1 && want_key && e - i == klen + 2 &&
			    memcmp(s + i + 1, key, klen) == 0) {
				k = e;
				while (k < len && (s[k] == ':' ||
				    isspace((unsigned char)s[k])))
					k++;
				if (k >= len || s[k] != '"')
					return 0;
				e = skip_str(s, len, k);
				n = e >= k + 2 ? e - k - 2 : 0;
				if (n >= outsz)
					n = outsz - 1;
				memcpy(out, s + k + 1, n);
				out[n] = '\0';
				return 1;
			}
			want_key = 0;
			i = e;
			continue;
		default:
			i++;
		}
	}
	return 0;
}

int
release_refs(const char *s, size_t len,
    int (*fn)(void *, const char *, const char *), void *arg)
{
	static const char	 needle[] = "\"reference\"";
	static const char *const types[] = { "Organization", "Practitioner",
	    "PractitionerRole", "Location", "Medication" };
	const char		*p = s, *end = s + len, *v;
	char			 val[160], id[72];
	size_t			 n, t, tl;

	while ((p = memmem(p, (size_t)(end - p), needle,
	    sizeof(needle) - 1)) != NULL) {
		p += sizeof(needle) - 1;
		while (p < end && (*p == ':' || isspace((unsigned char)*p)))
			p++;
		if (p >= end || *p != '"')
			continue;
		/* Read the value, turning the escape "\/" into "/". */
		for (v = p + 1, n = 0; v < end && *v != '"' &&
		    n < sizeof(val) - 1; v++) {
			if (*v == '\\' && v + 1 < end && v[1] == '/')
				v++;
			else if (*v == '\\')
				break;
			val[n++] = *v;
		}
		val[n] = '\0';
		p = v;
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			tl = strlen(types[t]);
			if (strncmp(val, types[t], tl) != 0 || val[tl] != '/')
				continue;
			if (strlen(val + tl + 1) >= sizeof(id))
				continue;
			memcpy(id, val + tl + 1, strlen(val + tl + 1) + 1);
			if (fhir_valid_id(id) && fn(arg, types[t], id) == -1)
				return -1;
		}
	}
	return 0;
}

int
release_provenance_any(struct p2p_db *db, int *any, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	*any = 0;
	if ((st = db_stmt(db, sql_any_provenance, err)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		*any = db_col_int(st, 0);
	db_done(st);
	return rc == DB_ROW ? 0 : db_fail(db, rc, err, "provenance");
}

struct db_stmt *
release_provenance_open(struct p2p_db *db, const struct release_rules *r,
    const char *targets, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_stmt(db, sql_provenance, err)) == NULL)
		return NULL;
	db_bind_text(st, 1, targets);
	db_bind_int(st, 2, SCOPE_EXCLUDED);
	db_bind_int(st, 3, SCOPE_SENSITIVE);
	db_bind_int(st, 4, r->sensitive);
	db_bind_text(st, 5, r->since[0] ? r->since : NULL);
	db_bind_text(st, 6, r->until[0] ? r->until : NULL);
	return st;
}

int
release_ref(struct p2p_db *db, const struct release_rules *r,
    const char *type, const char *id, struct p2p_buf *out,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*txt;
	int		 rc, found = 0;

	buf_reset(out);
	if ((st = db_query(db, sql_ref, err, "ttiii", type, id, SCOPE_EXCLUDED,
	    SCOPE_SENSITIVE, r->sensitive)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW &&
	    (txt = db_col_text(st, 0)) != NULL) {
		if (buf_add(out, txt, db_col_bytes(st, 0)) == -1) {
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
		found = 1;
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "referenced resource");
	return found;
}

int
release_apply(struct release_rules *r, const char *key, const char *value,
    struct p2p_err *err)
{
	if (strcmp(key, "_type") == 0)
		return release_add_types(r, value, err);
	if (strcmp(key, "_typeFilter") == 0)
		return release_add_typefilter(r, value, err);
	if (strcmp(key, "_since") == 0)
		return release_since(value, r->since, err);
	if (strcmp(key, "_until") == 0)
		return release_instant(value, r->until, key, err);
	if (strcmp(key, "start") == 0)
		return release_date(value, 0, r->start, key, err);
	if (strcmp(key, "end") == 0)
		return release_date(value, 1, r->end, key, err);
	return 1;
}

int
release_param_valid(const char *name, const char *value, struct p2p_err *err)
{
	/* Scratch rules, per process (the _typeFilter table is ~90 KiB):
	 * only the narrowing fields that release_apply() appends to are
	 * reset, and nothing is kept from one call to the next. */
	static struct release_rules	 scratch;
	int				 r;

	scratch.types[0] = '\0';
	scratch.ntf = 0;
	if ((r = release_apply(&scratch, name, value, err)) == 1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s is not a release parameter", name);
	return r;
}

json_object *
release_kv_json(const struct p2p_kvlist *l)
{
	json_object	*a, *pair;
	size_t		 i;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if ((pair = json_object_new_array()) == NULL ||
		    fhir_push(a, pair) == -1 ||
		    fhir_push(pair, json_object_new_string(l->kv[i].key)) ||
		    fhir_push(pair, json_object_new_string(l->kv[i].val))) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

int
release_kv_parse(json_object *a, struct p2p_kvlist *out, struct p2p_err *err)
{
	json_object	*pair, *k, *v;
	size_t		 i, n;

	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "malformed job parameters");
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		pair = json_object_array_get_idx(a, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    (k = json_object_array_get_idx(pair, 0)) == NULL ||
		    (v = json_object_array_get_idx(pair, 1)) == NULL ||
		    !json_object_is_type(k, json_type_string) ||
		    !json_object_is_type(v, json_type_string))
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "malformed job parameters");
		if (kv_add(out, json_object_get_string(k),
		    json_object_get_string(v)) == -1) {
			kv_free(out);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
	}
	return 0;
}
