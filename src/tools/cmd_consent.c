/*
 * cmd_consent.c - p2p-admin consent: a member's consents and who may
 * receive their data (issue #7).
 *
 *   consent list --patient ID	consents with status and history
 *   consent revoke ID [--status inactive|rejected]
 *   consent optout --patient ID	records an opt-out (deny, loaded)
 *   consent matches --patient ID	who holds a match, and whether the
 *					release check passes for it now
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "admin_cmds.h"
#include "json/fhir.h"
#include "member/consent.h"
#include "store/store.h"
#include "core/util.h"

/*
 * A member's consents: those the payer loaded (index consent_loaded) and
 * those clients submitted, through their matches (0007-match-writes.sql:
 * match_client_patient, once for each client).
 */
static const char *const sql_list =
    "SELECT id, cid FROM consent WHERE patient = ?1 AND source = 'loaded'"
    " UNION SELECT c.id, c.cid FROM match m JOIN consent c ON c.cid = m.cid"
    " WHERE m.client_id IN (SELECT id FROM client) AND m.patient = ?1"
    " ORDER BY 2";
static const char *const sql_hist =
    "SELECT version, status, changed_by, time FROM consent_history"
    " WHERE cid = ?1 ORDER BY version";
static const char *const sql_matches =
    "SELECT m.client_id, k.id, m.group_id, m.consentless, m.created"
    " FROM match m LEFT JOIN consent k ON k.cid = m.cid"
    " WHERE m.client_id IN (SELECT id FROM client) AND m.patient = ?1"
    " ORDER BY m.mid";

const char cmd_consent_usage[] =
    "usage: p2p-admin consent list --patient ID\n"
    "       p2p-admin consent revoke ID [--status inactive|rejected]\n"
    "       p2p-admin consent optout --patient ID\n"
    "       p2p-admin consent matches --patient ID\n"
    "  list      a member's consents, with status and history\n"
    "  revoke    ends a consent (default status inactive)\n"
    "  optout    records the member's opt-out of payer-to-payer "
    "exchange\n"
    "  matches   which payers hold a match, and whether data would be "
    "released now\n";

static int
consent_usage(void)
{
	fputs(cmd_consent_usage, stderr);
	return 2;
}

/* Parses "--patient ID" (the only option of list/optout/matches). */
static const char *
patient_arg(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "patient", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*p = NULL;
	int		 c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'p')
			return NULL;
		p = optarg;
	}
	if (optind != argc || p == NULL)
		return NULL;
	if (strncmp(p, "Patient/", 8) == 0)
		p += 8;
	return p;
}

static int
print_history(struct p2p_db *db, long long cid, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	const char	*by;
	int		 rc;

	if ((st = db_stmt(db, sql_hist, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, cid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		by = db_col_text(st, 2);
		printf("  version %d\t%s\t%s\tby %s\n", sqlite3_column_int(st, 0),
		    db_col_text(st, 1), db_col_text(st, 3), by ? by : "-");
	}
	db_done(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, "history");
}

static int
do_list(struct p2p_db *db, const char *patient, struct p2p_err *err)
{
	sqlite3_stmt		*st;
	struct consent_row	 r;
	int			 rc, n = 0;

	if ((st = db_stmt(db, sql_list, err)) == NULL)
		return -1;
	db_bind_text(st, 1, patient);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (consent_get(db, db_col_text(st, 0), &r, err) != 0)
			break;
		printf("%s\t%s\t%s\tclient %s\t%s\tpolicy %s\tperiod %s..%s"
		    "\tupdated %s\n", r.id, r.status, r.source,
		    r.client_id[0] ? r.client_id : "-",
		    r.provision[0] ? r.provision : "-",
		    r.policy[0] ? r.policy : "-",
		    r.period_start[0] ? r.period_start : "-",
		    r.period_end[0] ? r.period_end : "-", r.updated);
		n++;
		if (print_history(db, r.cid, err) == -1) {
			consent_row_free(&r);
			break;
		}
		consent_row_free(&r);
	}
	db_done(st);
	if (err->status != 0)
		return -1;
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "consent list");
	if (n == 0)
		printf("no consents for %s\n", patient);
	return 0;
}

static int
do_revoke(struct p2p_db *db, const char *id, const char *status,
    struct p2p_err *err)
{
	struct consent_row	 r;
	int			 rc, changed = 0;

	if (db_begin(db, err) == -1)
		return -1;
	if ((rc = consent_get(db, id, &r, err)) != 0) {
		db_rollback(db);
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no consent %s", id) : -1;
	}
	if (consent_set_status(db, &r, status, "admin", &changed, err) == -1 ||
	    db_commit(db, err) == -1) {
		db_rollback(db);
		consent_row_free(&r);
		return -1;
	}
	if (changed)
		printf("%s: %s -> %s\n", id, r.status, status);
	else
		printf("%s: already %s\n", id, status);
	consent_row_free(&r);
	return 0;
}

static int
do_optout(struct p2p_db *db, const char *patient, struct p2p_err *err)
{
	char		 id[48];
	long long	 cid;
	int		 rc;

	if ((rc = store_exists(db, "Patient", patient, err)) != 1)
		return rc == -1 ? -1 : p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no member %s", patient);
	if (db_begin(db, err) == -1)
		return -1;
	if (consent_record_optout(db, patient, "admin", id, sizeof(id), &cid,
	    err) == -1 || db_commit(db, err) == -1) {
		db_rollback(db);
		return -1;
	}
	printf("opt-out %s recorded for %s\n", id, patient);
	return 0;
}

static int
do_matches(struct p2p_db *db, const char *patient, struct p2p_err *err)
{
	sqlite3_stmt	*st;
	struct p2p_err	 e;
	const char	*client, *cons, *grp;
	char		 verdict[300];
	long long	 cid;
	int		 rc, sensitive, n = 0;

	if ((st = db_stmt(db, sql_matches, err)) == NULL)
		return -1;
	db_bind_text(st, 1, patient);
	printf("client\tconsent\tgroup\tcreated\trelease now\n");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		client = db_col_text(st, 0);
		cons = db_col_text(st, 1);
		grp = db_col_text(st, 2);
		/* The same check every data path runs. */
		p2p_err_init(&e);
		if (consent_access(db, client, patient, now_sec(), &cid,
		    &sensitive, &e) == 0)
			snprintf(verdict, sizeof(verdict), "valid (%s)",
			    sensitive ? "sensitive" : "regular");
		else
			snprintf(verdict, sizeof(verdict), "refused: %s", e.msg);
		printf("%s\t%s\t%s\t%s\t%s\n", client,
		    cons ? cons : (sqlite3_column_int(st, 3) ? "(none, legacy)" :
		    "-"), grp ? grp : "-", db_col_text(st, 4), verdict);
		n++;
	}
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "matches");
	if (n == 0)
		printf("no client holds a match for %s\n", patient);
	return 0;
}

int
cmd_consent(const char *conf, int argc, char *argv[])
{
	static const struct option revopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	struct p2p_err		 err;
	const char		*sub, *patient = NULL, *id = NULL;
	const char		*status = "inactive";
	int			 c, rc;

	if (argc < 2)
		return consent_usage();
	sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "revoke") == 0) {
		optind = 1;
		while ((c = getopt_long(argc, argv, "", revopts, NULL)) != -1) {
			if (c != 's')
				return consent_usage();
			status = optarg;
		}
		if (optind + 1 != argc || !consent_revoke_status(status))
			return consent_usage();
		id = argv[optind];
	} else if (strcmp(sub, "list") == 0 || strcmp(sub, "optout") == 0 ||
	    strcmp(sub, "matches") == 0) {
		if ((patient = patient_arg(argc, argv)) == NULL)
			return consent_usage();
		if (!fhir_valid_id(patient)) {
			fprintf(stderr, "p2p-admin: not a valid member id\n");
			return 1;
		}
	} else
		return consent_usage();

	if (admin_open(conf, &cfg, &db) == -1)
		return 1;
	p2p_err_init(&err);
	if (id != NULL)
		rc = do_revoke(&db, id, status, &err);
	else if (strcmp(sub, "list") == 0)
		rc = do_list(&db, patient, &err);
	else if (strcmp(sub, "optout") == 0)
		rc = do_optout(&db, patient, &err);
	else
		rc = do_matches(&db, patient, &err);
	if (rc == -1)
		fprintf(stderr, "p2p-admin: consent %s: %s\n", sub, err.msg);
	db_close(&db);
	return rc == -1 ? 1 : 0;
}
