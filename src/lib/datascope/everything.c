/*
 * everything.c - see everything.h.
 *
 * The page is written as text.  Every stored row is valid FHIR JSON
 * (checked when it was loaded), so it goes into the Bundle as it is,
 * "resource":<stored text>, never parsed nor serialised again: a page
 * of a thousand resources costs a copy, not a thousand json-c trees.
 * Strings from configuration or the request (URLs) are serialised by
 * json-c, and so is the one small Provenance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datascope/everything.h"
#include "datascope/provenance.h"
#include "json/fhir.h"

#define EV_COUNT_DEFAULT	EVERYTHING_COUNT_DEFAULT
#define EV_COUNT_MAX		EVERYTHING_COUNT_MAX
#define EV_REFS_MAX		1000	/* referenced resources per page */

struct ev_refs {
	char	(*ref)[80];	/* "Type/id", distinct */
	size_t	 n;
};

static int
ref_add(void *arg, const char *type, const char *id)
{
	struct ev_refs	*r = arg;
	char		 s[80];
	size_t		 i;

	snprintf(s, sizeof(s), "%s/%s", type, id);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->ref[i], s) == 0)
			return 0;
	if (r->n >= EV_REFS_MAX)
		return 0;
	memcpy(r->ref[r->n++], s, sizeof(s));
	return 0;
}

/* URL of this operation with the narrowing parameters of params. */
static int
ev_url(struct p2p_buf *b, const struct p2p_config *cfg, const char *id,
    const struct p2p_kvlist *params, long long count, const char *ctype,
    long long crid)
{
	size_t	 i;
	char	 c[100];

	if (buf_printf(b, "%s/Patient/%s/$everything?_count=%lld",
	    cfg->fhir_base, id, count) == -1)
		return -1;
	for (i = 0; i < params->n; i++) {
		if (strcmp(params->kv[i].key, "_count") == 0 ||
		    strcmp(params->kv[i].key, "_cursor") == 0)
			continue;
		if (buf_printf(b, "&%s=", params->kv[i].key) == -1 ||
		    url_encode(b, params->kv[i].val) == -1)
			return -1;
	}
	if (ctype != NULL) {
		snprintf(c, sizeof(c), "%s.%lld", ctype, crid);
		if (buf_puts(b, "&_cursor=") == -1 || url_encode(b, c) == -1)
			return -1;
	}
	return 0;
}

/* Parses "_count": entries per page. */
static int
parse_count(const char *v, long long *count, struct p2p_err *err)
{
	if (parse_ll(v, 1, EV_COUNT_MAX, count) == -1)
		return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, "_count",
		    "_count must be an integer from 1 to %d", EV_COUNT_MAX);
	return 0;
}

int
everything_count_valid(const char *name, const char *v, struct p2p_err *err)
{
	long long	 n;

	(void)name;
	return parse_count(v, &n, err);
}

/* Parses "_cursor=Type.rid". */
static int
parse_cursor(const char *v, char type[64], long long *rid,
    struct p2p_err *err)
{
	const char	*dot = strrchr(v, '.');
	size_t		 n, i;

	if (dot == NULL || (n = (size_t)(dot - v)) == 0 || n >= 64 ||
	    parse_ll(dot + 1, 0, 1LL << 62, rid) == -1)
		goto bad;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= 'a' && v[i] <= 'z')))
			goto bad;
	memcpy(type, v, n);
	type[n] = '\0';
	return 0;
bad:
	return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, "_cursor",
	    "_cursor is not a cursor from a next link");
}

int
everything_cursor_valid(const char *name, const char *v, struct p2p_err *err)
{
	char		 type[64];
	long long	 rid;

	(void)name;
	return parse_cursor(v, type, &rid, err);
}

/*
 * The entries of the page being built, kept between requests of this
 * process: a page of a thousand resources is about a megabyte, and
 * reusing the memory spares faulting fresh pages in every time.
 */
#define EV_KEEP_MAX	(16 * 1024 * 1024)
#define EV_TALLY	12	/* resource types named in the audit */
static struct p2p_buf	 ev_ents;

struct ev_page {
	struct p2p_buf	*ents;		/* entries, comma separated */
	struct p2p_buf	 base;		/* "fhir_base as JSON text, no
					   closing quote */
	const char	*fhir_base;	/* the same, as configured */
	struct ev_refs	 refs;		/* distinct references of the rows */
	long long	 count;		/* entries per page (_count) */
	long long	 n;		/* match entries so far */
	int		 more;		/* a row is left after the page */
	char		 last_type[64];	/* keyset of the last entry */
	long long	 last_rid;
	char		 types[EV_TALLY][64];	/* entries per type, for */
	int		 counts[EV_TALLY];	/* the audit trail */
	size_t		 ntypes;
};

/* Counts an entry of type (the first EV_TALLY types). */
static void
tally(struct ev_page *pg, const char *type)
{
	size_t	 i;

	for (i = 0; i < pg->ntypes && strcmp(pg->types[i], type) != 0; i++)
		;
	if (i == pg->ntypes) {
		if (i == EV_TALLY)
			return;
		snprintf(pg->types[i], sizeof(pg->types[i]), "%s", type);
		pg->counts[pg->ntypes++] = 0;
	}
	pg->counts[i]++;
}

/*
 * "$everything: Patient x1, Coverage x2, ..." (which
 * resources went out, for the disclosure report).
 */
static void
page_summary(const struct ev_page *pg, char *out, size_t n)
{
	size_t	 i, len;

	snprintf(out, n, "$everything:");
	for (i = 0; i < pg->ntypes; i++) {
		len = strlen(out);
		if (len + 1 >= n)
			break;
		snprintf(out + len, n - len, "%s %s x%d", i ? "," : "",
		    pg->types[i], pg->counts[i]);
	}
	if (pg->ntypes == 0 && strlen(out) + 8 < n)
		strcat(out, " none");
}

/* Appends s as a JSON string (quoted and escaped by json-c). */
static int
put_jstr(struct p2p_buf *b, const char *s)
{
	json_object	*o;
	const char	*t;
	int		 rc = -1;

	if ((o = json_object_new_string(s)) != NULL &&
	    (t = fhir_json(o)) != NULL)
		rc = buf_puts(b, t);
	json_object_put(o);
	return rc;
}

/* True when s is a resource type name (letters only). */
static int
plain_type(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
			return 0;
	return 1;
}

/*
 * Appends one entry {fullUrl, resource, search.mode}; json is the
 * resource's stored text.  The fullUrl is fhir_base/type/id, or urn
 * when type is NULL.  0, or -1 with err.
 */
static int
put_entry(struct ev_page *pg, const char *type, const char *id,
    const char *urn, const char *json, size_t len, const char *mode,
    struct p2p_err *err)
{
	struct p2p_buf	*b = pg->ents;
	char		 full[800];
	int		 oom = 0;

	if (len == 0 || json[0] != '{')
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "stored resource text is not a JSON object");
	if (b->len > 0)
		oom |= buf_add(b, ",", 1);
	oom |= buf_puts(b, "{\"fullUrl\":");
	if (urn != NULL)
		oom |= put_jstr(b, urn);
	else if (plain_type(type) && fhir_valid_id(id)) {
		/* Nothing to escape in a type or an id: the common case. */
		oom |= buf_add(b, pg->base.p, pg->base.len);
		oom |= buf_add(b, "/", 1);
		oom |= buf_puts(b, type);
		oom |= buf_add(b, "/", 1);
		oom |= buf_puts(b, id);
		oom |= buf_add(b, "\"", 1);
	} else {
		snprintf(full, sizeof(full), "%s/%s/%s", pg->fhir_base, type,
		    id);
		oom |= put_jstr(b, full);
	}
	oom |= buf_puts(b, ",\"resource\":");
	oom |= buf_add(b, json, len);
	oom |= buf_puts(b, ",\"search\":{\"mode\":\"");
	oom |= buf_puts(b, mode);
	oom |= buf_puts(b, "\"}}");
	tally(pg, type != NULL ? type : "Provenance");
	return oom ? p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory") :
	    0;
}

/*
 * Adds the released rows of one keyset run after (after_type,
 * after_rid) to the page.  With patient_only, the member's Patient rows
 * (the run ends at the first other type); else every row but those.
 * Stops when the page is full, setting pg->more when a row is left.
 * 0 or -1 with err.
 */
static int
page_rows(struct p2p_db *db, const struct release_rules *rules,
    const char *id, const char *after_type, long long after_rid,
    int patient_only, struct ev_page *pg, struct p2p_err *err)
{
	struct release_row	 row;
	struct db_stmt		*st;
	int			 r, is_patient;

	if ((st = release_open(db, rules, id, after_type, after_rid, 0,
	    err)) == NULL)
		return -1;
	while ((r = release_next(db, rules, st, &row, err)) == 1) {
		is_patient = strcmp(row.type, "Patient") == 0;
		if (patient_only && !is_patient)
			break;
		if (!patient_only && is_patient)
			continue;
		if (pg->n == pg->count) {
			pg->more = 1;
			break;
		}
		if (put_entry(pg, row.type, row.id, NULL, row.json, row.len,
		    "match", err) == -1) {
			r = -1;
			break;
		}
		/* Light scan for references (no parse; release.h). */
		release_refs(row.json, row.len, ref_add, &pg->refs);
		snprintf(pg->last_type, sizeof(pg->last_type), "%s", row.type);
		pg->last_rid = row.rid;
		pg->n++;
	}
	db_done(st);
	return r == -1 ? -1 : 0;
}

/* Adds the resources the rows reference (release_ref()) as includes. */
static int
add_refs(struct p2p_db *db, const struct release_rules *rules,
    struct ev_page *pg, struct p2p_err *err)
{
	struct p2p_buf	 txt = { NULL, 0, 0 };
	char		 type[32];
	size_t		 i, tl;
	int		 rc = 0;

	for (i = 0; i < pg->refs.n && rc != -1; i++) {
		tl = strcspn(pg->refs.ref[i], "/");
		snprintf(type, sizeof(type), "%.*s", (int)tl, pg->refs.ref[i]);
		if ((rc = release_ref(db, rules, type, pg->refs.ref[i] + tl + 1,
		    &txt, err)) == 1)
			rc = put_entry(pg, type, pg->refs.ref[i] + tl + 1, NULL,
			    txt.p, txt.len, "include", err);
	}
	buf_free(&txt);
	return rc == -1 ? -1 : 0;
}

/*
 * Adds the PDex transmitter Provenance of the Bundle bid (provenance.h;
 * the guide's Example 05), prepared by provenance_init().
 */
static int
add_provenance(const struct provenance *pv, const char *bid,
    struct ev_page *pg, struct p2p_err *err)
{
	struct p2p_buf		 txt = { NULL, 0, 0 };
	char			 uuid[37], urn[50];
	int			 rc = -1;

	if (provenance_uuid(NULL, uuid) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "no randomness");
		goto out;
	}
	if (provenance_begin(&txt, uuid) == -1 ||
	    provenance_target(&txt, 1, "Bundle", bid) == -1 ||
	    provenance_end(pv, &txt) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	snprintf(urn, sizeof(urn), "urn:uuid:%s", uuid);
	rc = put_entry(pg, NULL, NULL, urn, txt.p, txt.len, "include", err);
out:
	buf_free(&txt);
	return rc;
}

/* Appends a link {relation, url} (first: no leading comma). */
static int
put_link(struct p2p_buf *b, int first, const char *rel, const char *url)
{
	return buf_puts(b, first ? "{\"relation\":\"" : ",{\"relation\":\"") ||
	    buf_puts(b, rel) || buf_puts(b, "\",\"url\":") ||
	    put_jstr(b, url) || buf_puts(b, "}") ? -1 : 0;
}

int
everything_page(struct p2p_db *db, const struct p2p_config *cfg,
    const struct release_rules *rules, const char *id,
    const struct p2p_kvlist *params, struct p2p_buf *out, char *audit,
    size_t n, struct p2p_err *err)
{
	struct ev_page		 pg;
	struct provenance	 pv;
	struct p2p_buf		 url = { NULL, 0, 0 };
	const char		*v;
	char			 ctype[64] = "", bid[33];
	long long		 crid = 0, total;
	int			 rc = -1, oom = 0;

	memset(&pg, 0, sizeof(pg));
	memset(&pv, 0, sizeof(pv));
	pg.ents = &ev_ents;
	buf_reset(pg.ents);
	pg.count = EV_COUNT_DEFAULT;
	pg.fhir_base = cfg->fhir_base;
	if ((v = kv_get(params, "_count")) != NULL &&
	    parse_count(v, &pg.count, err) == -1)
		return -1;
	if ((v = kv_get(params, "_cursor")) != NULL &&
	    parse_cursor(v, ctype, &crid, err) == -1)
		return -1;
	if (release_count(db, rules, id, &total, err) == -1)
		return -1;
	if (rand_hex(bid, 16) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "no randomness");
	if ((pg.refs.ref = calloc(EV_REFS_MAX, sizeof(*pg.refs.ref))) ==
	    NULL || put_jstr(&pg.base, cfg->fhir_base) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	pg.base.p[--pg.base.len] = '\0';	/* drop the closing quote */
	/*
	 * The Patient first (FHIR convention): its rows are a keyset run
	 * of their own ahead of the others, so a cursor in it ("Patient.
	 * rid") goes on with the rest of that run, then every other row.
	 */
	if (ctype[0] == '\0' || strcmp(ctype, "Patient") == 0) {
		if (page_rows(db, rules, id, "Patient", ctype[0] ? crid : 0,
		    1, &pg, err) == -1 || (!pg.more && page_rows(db, rules,
		    id, "", 0, 0, &pg, err) == -1))
			goto out;
	} else if (page_rows(db, rules, id, ctype, crid, 0, &pg, err) == -1)
		goto out;
	/* A page with entries carries the transmitter Provenance, and the
	 * Organization it names when the record holds it (as exports do). */
	if (pg.n > 0) {
		if (provenance_init(&pv, db, cfg, now_sec(), err) == -1)
			goto out;
		if (pv.org[0] != '\0')
			ref_add(&pg.refs, "Organization", pv.org);
	}
	if (add_refs(db, rules, &pg, err) == -1 ||
	    (pg.n > 0 && add_provenance(&pv, bid, &pg, err) == -1))
		goto out;

	/* The Bundle around the entries (searchset, FHIR R4 Bundle). */
	buf_reset(out);
	oom |= buf_puts(out, "{\"resourceType\":\"Bundle\",\"id\":\"");
	oom |= buf_puts(out, bid);
	oom |= buf_printf(out, "\",\"type\":\"searchset\",\"total\":%lld,"
	    "\"link\":[", total);
	oom |= ev_url(&url, cfg, id, params, pg.count,
	    ctype[0] ? ctype : NULL, crid);
	oom |= put_link(out, 1, "self", url.p);
	if (pg.more) {
		buf_reset(&url);
		oom |= ev_url(&url, cfg, id, params, pg.count,
		    pg.last_type, pg.last_rid);
		oom |= put_link(out, 0, "next", url.p);
	}
	oom |= buf_puts(out, "],\"entry\":[");
	oom |= buf_add(out, pg.ents->p, pg.ents->len);
	oom |= buf_puts(out, "]}");
	if (oom) {
		buf_reset(out);
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	page_summary(&pg, audit, n);
	rc = 0;
out:
	if (pg.ents->cap > EV_KEEP_MAX)
		buf_free(pg.ents);
	buf_free(&pg.base);
	buf_free(&url);
	free(pg.refs.ref);
	provenance_free(&pv);
	return rc;
}
