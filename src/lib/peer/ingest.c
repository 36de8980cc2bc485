/*
 * peer/ingest.c - see ingest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "peer/idmap.h"
#include "peer/ingest.h"
#include "peer/provenance.h"
#include "store/loader.h"
#include "store/store.h"

#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"

static const char *const sql_alias_get =
    "SELECT local_id FROM peer_alias WHERE npi = ?1 AND type = ?2"
    " AND remote_id = ?3";
static const char *const sql_alias_put =
    "INSERT INTO peer_alias (npi, type, remote_id, local_id)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (npi, type, remote_id)"
    " DO UPDATE SET local_id = excluded.local_id";
static const char *const sql_current =
    "SELECT json, last_updated FROM resource WHERE type = ?1 AND id = ?2";
static const char *const sql_org_by_npi =
    "SELECT patient FROM ident WHERE value = ?1 AND kind = 4"
    " AND system = '" SYS_NPI "' ORDER BY rid LIMIT 1";

/* The lookups per received resource, for the query-plan test. */
const char *const ingest_queries[] = { sql_alias_get, sql_org_by_npi,
	sql_current, NULL };

void
ingest_init(struct ingest *g, struct p2p_db *db, const struct p2p_config *cfg,
    const struct peer *peer)
{
	memset(g, 0, sizeof(*g));
	g->db = db;
	g->cfg = cfg;
	g->peer = peer;
	jscan_init(&g->js);
	time_instant(now_sec(), g->recorded);
}

static void
targets_clear(struct ingest_member *m)
{
	size_t	 i;

	for (i = 0; i < m->ntargets; i++)
		free(m->targets[i]);
	m->ntargets = 0;
}

void
ingest_free(struct ingest *g)
{
	size_t	 i;

	for (i = 0; i < g->nm; i++) {
		targets_clear(&g->m[i]);
		free(g->m[i].targets);
	}
	free(g->m);
	g->m = NULL;
	g->nm = g->cap = 0;
	jscan_free(&g->js);
}

int
ingest_member(struct ingest *g, const char *local, const char *remote)
{
	struct ingest_member	*nm;

	if (strlen(local) >= sizeof(nm->local) ||
	    strlen(remote) >= sizeof(nm->remote) ||
	    array_grow(&g->m, g->nm, &g->cap, sizeof(*nm), 16) == -1)
		return -1;
	nm = &g->m[g->nm++];
	memset(nm, 0, sizeof(*nm));
	snprintf(nm->local, sizeof(nm->local), "%s", local);
	snprintf(nm->remote, sizeof(nm->remote), "%s", remote);
	return 0;
}

/* The member whose local (or, local == 0, remote) id is id, or NULL. */
static struct ingest_member *
member_by(struct ingest *g, const char *id, int local)
{
	size_t	 i;

	for (i = 0; i < g->nm; i++)
		if (strcmp(local ? g->m[i].local : g->m[i].remote, id) == 0)
			return &g->m[i];
	return NULL;
}

struct ingest_member *
ingest_find(struct ingest *g, const char *remote)
{
	return member_by(g, remote, 0);
}

/* idmap callbacks */
static int
cb_member(void *arg, const char *remote, char *local, size_t sz)
{
	struct ingest_member	*m = ingest_find(arg, remote);

	if (m == NULL)
		return 0;
	snprintf(local, sz, "%s", m->local);
	return 1;
}

static int
cb_alias(void *arg, const char *type, const char *remote, char *local,
    size_t sz)
{
	struct ingest	*g = arg;
	struct p2p_err	 e;
	struct db_stmt	*st;
	int		 rc, found = 0;

	/* Only Organizations are ever aliased (by NPI). */
	if (strcmp(type, "Organization") != 0)
		return 0;
	p2p_err_init(&e);
	if ((st = db_stmt(g->db, sql_alias_get, &e)) == NULL)
		return -1;
	db_bind_text(st, 1, g->peer->npi);
	db_bind_text(st, 2, type);
	db_bind_text(st, 3, remote);
	if ((rc = db_step(st)) == DB_ROW && db_col_text(st, 0)) {
		snprintf(local, sz, "%s", db_col_text(st, 0));
		found = 1;
	}
	db_done(st);
	return rc == DB_ROW || rc == DB_DONE ? found : -1;
}

/*
 * An Organization the peer sent: when one of its NPIs is an
 * Organization we hold, record the alias and return 1 (not stored).
 */
static int
org_alias(struct ingest *g, json_object *org, const char *remote_id,
    struct p2p_err *err)
{
	json_object	*ids, *e;
	struct db_stmt	*st;
	const char	*sys, *val;
	char		 local[72] = "", mapped[IDMAP_ID_MAX];
	size_t		 i, n;
	int		 rc;

	if ((ids = fhir_get(org, "identifier", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(ids);
	for (i = 0; i < n && local[0] == '\0'; i++) {
		e = json_object_array_get_idx(ids, i);
		if ((sys = fhir_str(e, "system")) == NULL ||
		    strcmp(sys, SYS_NPI) != 0 ||
		    (val = fhir_str(e, "value")) == NULL)
			continue;
		if ((st = db_query(g->db, sql_org_by_npi, err, "t",
		    val)) == NULL)
			return -1;
		if ((rc = db_step(st)) == DB_ROW && db_col_text(st, 0))
			snprintf(local, sizeof(local), "%s", db_col_text(st, 0));
		db_done(st);
		if (rc != DB_ROW && rc != DB_DONE)
			return db_fail(g->db, rc, err, "organization by NPI");
	}
	idmap_id(g->peer->npi, "Organization", remote_id, mapped);
	/* Unknown, or our earlier copy of this very one: store it. */
	if (local[0] == '\0' || strcmp(local, mapped) == 0)
		return 0;
	if ((st = db_query(g->db, sql_alias_put, err, "tttt", g->peer->npi,
	    "Organization", remote_id, local)) == NULL)
		return -1;
	if (db_step_done(g->db, st, err, "alias") == -1)
		return -1;
	g->aliased++;
	return 1;
}

static int
target_add(struct ingest_member *m, const char *type, const char *id)
{
	char	*t;
	size_t	 len = strlen(type) + strlen(id) + 2;

	if (array_grow(&m->targets, m->ntargets, &m->cap, sizeof(*m->targets),
	    64) == -1 || (t = malloc(len)) == NULL)
		return -1;
	snprintf(t, len, "%s/%s", type, id);
	m->targets[m->ntargets++] = t;
	return 0;
}

/*
 * The stored text of res (after idmap) in *old (malloc'd) or NULL when
 * it is new.  A version received without meta.lastUpdated takes the
 * stored one, so that the same content compares equal.  0 or -1.
 */
static int
stored_version(struct ingest *g, json_object *res, char **old,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	json_object	*meta;
	const char	*lu;
	int		 rc;

	*old = NULL;
	if ((st = db_query(g->db, sql_current, err, "tt", fhir_type(res),
	    fhir_id(res))) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		*old = xstrdup(db_col_text(st, 0));
		lu = db_col_text(st, 1);
		meta = fhir_get(res, "meta", json_type_object);
		if (lu != NULL && (meta == NULL || fhir_str(meta,
		    "lastUpdated") == NULL)) {
			if (meta == NULL && fhir_add(res, "meta", meta =
			    json_object_new_object()) == -1)
				rc = DB_NOMEM;
			else if (fhir_add_str(meta, "lastUpdated", lu) == -1)
				rc = DB_NOMEM;
		}
	}
	db_done(st);
	if (rc == DB_ROW && *old != NULL)
		return 0;
	free(*old);
	*old = NULL;
	if (rc == DB_DONE)
		return 0;
	return rc == DB_NOMEM || rc == DB_ROW ? p2p_fail(err, 500,
	    P2P_ISSUE_EXCEPTION, "out of memory") :
	    db_fail(g->db, rc, err, "received resource");
}

/*
 * True when res, a Provenance, is the peer's own record of sending it:
 * an agent of type transmitter that is the peer (its NPI).  PDex senders
 * (p2p included) add one per member to what they send; it is new at
 * every transmission, and finish() records the same fact as ours.
 */
static int
peer_transmission(const struct ingest *g, json_object *res)
{
	json_object	*agents, *a, *who;
	size_t		 i, n;

	if ((agents = fhir_get(res, "agent", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(agents);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(agents, i);
		if (!fhir_has_coding(fhir_get(a, "type", json_type_object),
		    NULL, "transmitter") ||
		    (who = fhir_get(a, "who", json_type_object)) == NULL)
			continue;
		if (fhir_path_str(who, "identifier.value") != NULL &&
		    strcmp(fhir_path_str(who, "identifier.value"),
		    g->peer->npi) == 0 &&
		    (fhir_path_str(who, "identifier.system") == NULL ||
		    strcmp(fhir_path_str(who, "identifier.system"),
		    SYS_NPI) == 0))
			return 1;
	}
	return 0;
}

/* Stores one received resource (takes res).  0 or -1. */
static int
take(struct ingest *g, json_object *res, const struct store_ctx *sctx,
    struct p2p_err *err)
{
	struct idmap		 map;
	struct store_row	 row;
	struct ingest_member	*m;
	const char		*type = fhir_type(res), *id = fhir_id(res);
	char			 remote[STORE_ID_MAX + 1], *old = NULL;
	int			 rc;

	if (type == NULL || !store_type_valid(type) || !fhir_valid_id(id)) {
		json_object_put(res);
		return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE, "a resource "
		    "without a valid resourceType and id");
	}
	snprintf(remote, sizeof(remote), "%s", id);
	if (strcmp(type, "Patient") == 0) {
		/* Our member's Patient is ours; theirs is not stored. */
		json_object_put(res);
		if (ingest_find(g, remote) == NULL)
			return p2p_fail(err, 422, P2P_ISSUE_BUSINESS_RULE,
			    "Patient/%s is none of the members of this "
			    "exchange", remote);
		g->skipped++;
		return 0;
	}
	if (strcmp(type, "Provenance") == 0 && peer_transmission(g, res)) {
		/* Not kept: ours of this transmission replaces it. */
		json_object_put(res);
		g->transmissions++;
		return 0;
	}
	if (strcmp(type, "Organization") == 0) {
		if ((rc = org_alias(g, res, remote, err)) != 0) {
			json_object_put(res);
			return rc == 1 ? 0 : -1;
		}
	}
	memset(&map, 0, sizeof(map));
	map.npi = g->peer->npi;
	map.base = g->peer->base_url;
	map.member = cb_member;
	map.alias = cb_alias;
	map.arg = g;
	if (idmap_rewrite(&map, res, err) == -1) {
		json_object_put(res);
		return -1;
	}
	if (stored_version(g, res, &old, err) == -1) {
		json_object_put(res);
		return -1;
	}
	if (store_prepare(res, sctx, &g->js, &row, err) == -1) {
		free(old);
		return -1;
	}
	/* The same resource again (a repeated or resumed request): it is
	 * stored already, and it is not received anew. */
	if (old != NULL && strcmp(old, row.json) == 0) {
		free(old);
		store_row_free(&row);
		g->unchanged++;
		return 0;
	}
	free(old);
	if (row.has_patient && (m = member_by(g, row.patient, 1)) == NULL) {
		p2p_fail(err, 422, P2P_ISSUE_BUSINESS_RULE, "%s/%s belongs to "
		    "%s, who is none of the members of this exchange", type,
		    remote, map.stranger[0] ? map.stranger : "another person");
		store_row_free(&row);
		return -1;
	}
	if (store_write(g->db, &row, sctx, err) == -1) {
		store_row_free(&row);
		return -1;
	}
	m = row.has_patient ? member_by(g, row.patient, 1) : NULL;
	if (m != NULL && target_add(m, row.type, row.id) == -1) {
		store_row_free(&row);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if (m != NULL)
		m->stored++;
	store_row_free(&row);
	return 0;
}

/* The Provenance of each member this load touched, and its audit. */
static int
finish(struct ingest *g, const struct store_ctx *sctx, const char *source,
    struct p2p_err *err)
{
	struct prov_info	 pi;
	struct store_row	 row;
	json_object		*p;
	char			 detail[500];
	size_t			 i;

	for (i = 0; i < g->nm; i++) {
		if (g->m[i].ntargets == 0)
			continue;
		memset(&pi, 0, sizeof(pi));
		pi.member = g->m[i].local;
		pi.source = source;
		pi.recorded = g->recorded;
		pi.peer_npi = g->peer->npi;
		pi.peer_name = g->peer->name;
		pi.our_npi = g->cfg->org_npi;
		pi.our_name = g->cfg->org_name;
		pi.targets = g->m[i].targets;
		pi.ntargets = g->m[i].ntargets;
		if ((p = prov_new(&pi, err)) == NULL ||
		    store_prepare(p, sctx, &g->js, &row, err) == -1)
			return -1;
		/* R4 Patient compartment: a Provenance is the member's
		 * through its targets; the store looks at patient-like
		 * elements only, so say whose it is. */
		row.has_patient = 1;
		snprintf(row.patient, sizeof(row.patient), "%.64s",
		    g->m[i].local);
		if (store_write(g->db, &row, sctx, err) == -1) {
			store_row_free(&row);
			return -1;
		}
		store_row_free(&row);
		snprintf(detail, sizeof(detail), "received %zu resources from "
		    "%.64s (NPI %.15s): %.300s", g->m[i].ntargets, g->peer->name,
		    g->peer->npi, source);
		if (audit_log(g->db, "receive", "success", NULL,
		    g->m[i].local, 0, detail, err) == -1)
			return -1;
	}
	return 0;
}

static void
reset_targets(struct ingest *g)
{
	size_t	 i;

	for (i = 0; i < g->nm; i++)
		targets_clear(&g->m[i]);
}

/* Undoes a failed load: rollback, and the counts it had added. */
static int
abandon(struct ingest *g, long long *before)
{
	size_t	 i;

	db_rollback(g->db);
	for (i = 0; i < g->nm; i++)
		g->m[i].stored = before[i];
	reset_targets(g);
	free(before);
	return -1;
}

static long long *
snapshot(struct ingest *g)
{
	long long	*v;
	size_t		 i;

	if ((v = calloc(g->nm ? g->nm : 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < g->nm; i++)
		v[i] = g->m[i].stored;
	return v;
}

int
ingest_file(struct ingest *g, const char *path, const char *source,
    struct p2p_err *err)
{
	struct store_ctx	 sctx;
	json_object		*res;
	json_tokener		*tok = NULL;
	long long		*before;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 len;
	long			 lineno = 0;
	struct p2p_err		 e;

	if ((f = fopen(path, "r")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	if ((before = snapshot(g)) == NULL ||
	    (tok = json_tokener_new_ex(FHIR_MAX_DEPTH)) == NULL) {
		free(before);
		fclose(f);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	store_ctx_init(&sctx);
	snprintf(sctx.now, sizeof(sctx.now), "%s", g->recorded);
	reset_targets(g);
	if (db_begin(g->db, err) == -1)
		goto fail;
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (len > LOAD_LINE_MAX) {
			p2p_fail(err, 422, P2P_ISSUE_TOO_LONG, "%s: line %ld is "
			    "longer than %ld bytes", source, lineno,
			    (long)LOAD_LINE_MAX);
			goto fail_tx;
		}
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		p2p_err_init(&e);
		if (fhir_parse_tok(tok, line, (size_t)len, &res, &e) == -1 ||
		    take(g, res, &sctx, &e) == -1) {
			p2p_fail(err, e.status ? e.status : 422, e.issue,
			    "%s: line %ld: %s", source, lineno, e.msg);
			goto fail_tx;
		}
	}
	if (ferror(f)) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
		goto fail_tx;
	}
	if (finish(g, &sctx, source, err) == -1 || db_commit(g->db, err) == -1)
		goto fail_tx;
	reset_targets(g);
	free(before);
	free(line);
	json_tokener_free(tok);
	fclose(f);
	return 0;
fail_tx:
	free(line);
	json_tokener_free(tok);
	fclose(f);
	return abandon(g, before);
fail:
	free(before);
	free(line);
	json_tokener_free(tok);
	fclose(f);
	return -1;
}

int
ingest_entries(struct ingest *g, json_object *entries, const char *source,
    struct p2p_err *err)
{
	struct store_ctx	 sctx;
	json_object		*e, *res, *copy;
	long long		*before;
	size_t			 i, n;
	struct p2p_err		 pe;
	int			 pass;
	const char		*t;

	if ((before = snapshot(g)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	store_ctx_init(&sctx);
	snprintf(sctx.now, sizeof(sctx.now), "%s", g->recorded);
	reset_targets(g);
	if (db_begin(g->db, err) == -1) {
		free(before);
		return -1;
	}
	n = entries ? json_object_array_length(entries) : 0;
	/* Organizations first, so that references to one we hold already
	 * find its alias. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(entries, i);
			if ((res = fhir_get(e, "resource", json_type_object)) ==
			    NULL || (t = fhir_type(res)) == NULL)
				continue;
			if ((strcmp(t, "Organization") == 0) != (pass == 0))
				continue;
			/* The Bundle's own Provenance of the transmission
			 * targets the Bundle, which we do not keep. */
			if (strcmp(t, "Provenance") == 0 &&
			    fhir_path_str(res, "target.reference") != NULL &&
			    strncmp(fhir_path_str(res, "target.reference"),
			    "Bundle/", 7) == 0)
				continue;
			copy = NULL;
			p2p_err_init(&pe);
			if (json_object_deep_copy(res, &copy, NULL) != 0) {
				p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
				return abandon(g, before);
			}
			if (take(g, copy, &sctx, &pe) == -1) {
				p2p_fail(err, pe.status ? pe.status : 422,
				    pe.issue, "%s: entry %zu: %s", source, i,
				    pe.msg);
				return abandon(g, before);
			}
		}
	if (finish(g, &sctx, source, err) == -1 || db_commit(g->db, err) == -1)
		return abandon(g, before);
	reset_targets(g);
	free(before);
	return 0;
}
