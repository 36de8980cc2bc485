/*
 * peer/due.c - see due.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "peer/due.h"
#include "peer/matchreq.h"
#include "peer/peer.h"
#include "peer/state.h"

#define DUE_SOURCES	8	/* source actors read per consent */

#define DUE_BATCH	256	/* consents read at a time */

/* Keyset pages in cid order (the partial index consent_optin). */
static const char *const sql_all =
    "SELECT cid, id, patient, status, json FROM consent"
    " WHERE source = 'loaded' AND provision = 'permit' AND cid > ?1"
    " ORDER BY cid LIMIT 256";
static const char *const sql_one =
    "SELECT cid, id, patient, status, json FROM consent"
    " WHERE patient = ?2 AND source = 'loaded' AND provision = 'permit'"
    " AND cid > ?1"
    " ORDER BY cid LIMIT 256";

/* The queries of a sync, for the query-plan test. */
const char *const due_queries[] = { sql_all, sql_one, NULL };

void
due_deadline(const char *coverage_start, const char *opted_in, char out[16])
{
	time_t	 a = 0, b = 0, t;
	int	 ha, hb;

	out[0] = '\0';
	ha = coverage_start != NULL && coverage_start[0] != '\0' &&
	    time_parse(coverage_start, 0, &a) == 0;
	hb = opted_in != NULL && opted_in[0] != '\0' &&
	    time_parse(opted_in, 0, &b) == 0;
	if (!ha && !hb)
		return;
	t = !ha ? b : !hb ? a : a > b ? a : b;
	time_date(t + (time_t)DUE_DAYS * 86400, out);
}

/* One loaded permit consent: its rows for every peer it names. */
static int
sync_consent(struct p2p_db *db, const struct p2p_config *cfg,
    const char *id, const char *patient, const char *status,
    const char *text, struct due_stats *ds, FILE *note, struct p2p_err *err)
{
	json_object	*c = NULL, *cov = NULL;
	struct peer	 p;
	char		 npis[DUE_SOURCES][16], covid[72], start[40] = "";
	char		 deadline[16];
	const char	*opted, *s;
	size_t		 i, n;
	int		 rc, created, ret = -1;

	if (fhir_parse(text, strlen(text), &c, err) == -1)
		return -1;
	if (matchreq_consent_sources(db, c, npis, DUE_SOURCES, &n, err) == -1)
		goto out;
	ds->consents++;
	/* The opt-in date: Consent.dateTime, else the provision's start. */
	if ((opted = fhir_str(c, "dateTime")) == NULL)
		opted = fhir_path_str(c, "provision.period.start");
	/* Our coverage's start. */
	if ((rc = matchreq_coverage(db, patient, cfg->org_npi, &cov, covid,
	    err)) == -1)
		goto out;
	if (rc == 0 && (s = fhir_path_str(cov, "period.start")) != NULL)
		snprintf(start, sizeof(start), "%s", s);
	due_deadline(start, opted, deadline);
	for (i = 0; i < n; i++) {
		if ((rc = peer_by_npi(db, npis[i], &p, err)) == -1)
			goto out;
		if (rc == 1) {
			ds->unknown++;
			if (note != NULL && strcmp(status, "active") == 0)
				fprintf(note, "Consent/%s of Patient/%s names "
				    "the payer with NPI %s, which is no active "
				    "peer (p2p-admin peer add)\n", id, patient,
				    npis[i]);
			continue;
		}
		if (inbound_sync(db, patient, p.name, id, opted ? opted : "",
		    start, deadline, strcmp(status, "active") == 0, &created,
		    err) == -1)
			goto out;
		if (created)
			ds->created++;
		else if (strcmp(status, "active") != 0)
			ds->withdrawn++;
	}
	ret = 0;
out:
	json_object_put(c);
	json_object_put(cov);
	return ret;
}

/*
 * Reads the next page of consents after *last into rows (id, patient,
 * status, json, NUL-separated): the work per consent runs other
 * statements, so the page is copied before it starts.  Sets *n.
 */
static int
page(struct p2p_db *db, const char *member, long long *last,
    struct p2p_buf *rows, int *n, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*p;
	size_t		 k;
	int		 rc;

	*n = 0;
	buf_reset(rows);
	if ((st = db_query(db, member ? sql_one : sql_all, err, "I",
	    *last)) == NULL)
		return -1;
	if (member != NULL)
		db_bind_text(st, 2, member);
	while ((rc = db_step(st)) == DB_ROW) {
		*last = db_col_int64(st, 0);
		(*n)++;
		for (k = 1; k <= 4; k++) {
			p = db_col_text(st, (int)k);
			if (buf_add(rows, p ? p : "", (p ? strlen(p) : 0) +
			    1) == -1) {
				db_done(st);
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
			}
		}
	}
	return db_end(db, st, rc, err, "opt-in consents");
}

int
due_sync(struct p2p_db *db, const struct p2p_config *cfg, const char *member,
    struct due_stats *ds, FILE *note, struct p2p_err *err)
{
	struct p2p_buf	 rows = { 0 };
	const char	*f[4];
	long long	 last = 0;
	size_t		 off, k;
	int		 n;

	memset(ds, 0, sizeof(*ds));
	if (db_begin(db, err) == -1)
		return -1;
	do {
		if (page(db, member, &last, &rows, &n, err) == -1)
			goto fail;
		for (off = 0; off < rows.len;) {
			for (k = 0; k < 4; k++) {
				f[k] = rows.p + off;
				off += strlen(f[k]) + 1;
			}
			if (sync_consent(db, cfg, f[0], f[1], f[2], f[3], ds,
			    note, err) == -1)
				goto fail;
		}
	} while (n == DUE_BATCH);
	buf_free(&rows);
	if (db_commit(db, err) == 0)
		return 0;
fail:
	buf_free(&rows);
	db_rollback(db);
	return -1;
}
