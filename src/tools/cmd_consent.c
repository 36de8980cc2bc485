/*
 * cmd_consent.c - p2p-admin consent: a member's consents and who may
 * receive their data.
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
#include "core/util.h"
#include "json/fhir.h"
#include "member/consent.h"
#include "store/store.h"

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

static void
print_version(void *arg, const struct consent_version *v)
{
	(void)arg;
	printf("  version %d\t%s\t%s\tby %s\n", v->version, v->status, v->time,
	    v->changed_by ? v->changed_by : "-");
}

struct listing {
	struct p2p_db	*db;
	struct p2p_err	*err;
	int		 n;
};

static int
print_consent(void *arg, const char *id)
{
	struct listing		*l = arg;
	struct consent_row	 r;
	int			 rc;

	if (consent_get(l->db, id, &r, l->err) != 0)
		return 1;
	printf("%s\t%s\t%s\tclient %s\t%s\tpolicy %s\tperiod %s..%s"
	    "\tupdated %s\n", r.id, r.status, r.source,
	    r.client_id[0] ? r.client_id : "-",
	    r.provision[0] ? r.provision : "-",
	    r.policy[0] ? r.policy : "-",
	    r.period_start[0] ? r.period_start : "-",
	    r.period_end[0] ? r.period_end : "-", r.updated);
	l->n++;
	rc = consent_versions(l->db, r.cid, print_version, NULL, l->err);
	consent_row_free(&r);
	return rc != 0;
}

static int
do_list(struct p2p_db *db, const char *patient, struct p2p_err *err)
{
	struct listing	 l = { db, err, 0 };

	if (consent_each_of(db, patient, print_consent, &l, err) == -1)
		return -1;
	if (l.n == 0)
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

struct holders {
	struct p2p_db	*db;
	const char	*patient;
	int		 n;
};

static void
print_match(void *arg, const struct consent_match *m)
{
	struct holders	*h = arg;
	struct p2p_err	 e;
	char		 verdict[300];
	long long	 cid;
	int		 sensitive;

	/* The same check every data path runs. */
	p2p_err_init(&e);
	if (consent_access(h->db, m->client, h->patient, now_sec(), &cid,
	    &sensitive, &e) == 0)
		snprintf(verdict, sizeof(verdict), "valid (%s)",
		    sensitive ? "sensitive" : "regular");
	else
		snprintf(verdict, sizeof(verdict), "refused: %s", e.msg);
	printf("%s\t%s\t%s\t%s\t%s\n", m->client, m->consent ? m->consent :
	    (m->consentless ? "(none, legacy)" : "-"), m->group ? m->group : "-",
	    m->created, verdict);
	h->n++;
}

static int
do_matches(struct p2p_db *db, const char *patient, struct p2p_err *err)
{
	struct holders	 h = { db, patient, 0 };

	printf("client\tconsent\tgroup\tcreated\trelease now\n");
	if (consent_matches(db, patient, print_match, &h, err) == -1)
		return -1;
	if (h.n == 0)
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
	struct tool		 t;
	const char		*sub, *patient = NULL, *id = NULL;
	const char		*status = "inactive";
	char			 what[32];
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

	if (admin_open(&t, conf) == -1)
		return 1;
	if (id != NULL)
		rc = do_revoke(&t.db, id, status, &t.err);
	else if (strcmp(sub, "list") == 0)
		rc = do_list(&t.db, patient, &t.err);
	else if (strcmp(sub, "optout") == 0)
		rc = do_optout(&t.db, patient, &t.err);
	else
		rc = do_matches(&t.db, patient, &t.err);
	snprintf(what, sizeof(what), "consent %s", sub);
	return TOOL_STATUS(tool_end(&t, rc, what));
}
