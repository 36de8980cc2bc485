/*
 * audit.c - see audit.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "member/audit.h"

static const char *const sql_insert =
    "INSERT INTO audit (time, event, outcome, client_id, patient, cid, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int
audit_log(struct p2p_db *db, const char *event, const char *outcome,
    const char *client, const char *patient, long long cid,
    const char *detail, struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 ts[32];

	if ((st = db_stmt(db, sql_insert, err)) == NULL)
		return -1;
	time_instant(now_sec(), ts);
	db_bind_text(st, 1, ts);
	db_bind_text(st, 2, event);
	db_bind_text(st, 3, outcome);
	db_bind_text(st, 4, client);
	db_bind_text(st, 5, patient);
	if (cid > 0)
		db_bind_int64(st, 6, cid);
	db_bind_text(st, 7, detail);
	return db_step_done(db, st, err, "audit insert");
}

int
audit_refusal(struct p2p_db *db, const char *event, const char *op,
    const char *client, const char *patient, long long cid,
    const struct p2p_err *why, struct p2p_err *err)
{
	char	 detail[400];

	snprintf(detail, sizeof(detail), "%d %s: %s", why->status, op,
	    why->msg);
	return audit_log(db, event, "failure", client != NULL &&
	    client[0] != '\0' ? client : NULL, patient != NULL &&
	    patient[0] != '\0' ? patient : NULL, cid, detail, err);
}

/* --- export as FHIR R4 AuditEvent -------------------------------------- */

#define SYS_EVENT_TYPE	"http://terminology.hl7.org/CodeSystem/audit-event-type"
#define SYS_ENTITY_TYPE	"http://terminology.hl7.org/CodeSystem/audit-entity-type"
#define SYS_OBJECT_ROLE	"http://terminology.hl7.org/CodeSystem/object-role"
#define SYS_PART_TYPE	"http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"

/* Index: patient first when given, else time (see 0001-initial.sql). */
static const char *const sql_export_patient =
    "SELECT a.aid, a.time, a.event, a.outcome, a.client_id, c.npi,"
    " a.patient, k.id, a.detail FROM audit a"
    " LEFT JOIN client c ON c.id = a.client_id"
    " LEFT JOIN consent k ON k.cid = a.cid"
    " WHERE a.patient = ?1 AND a.time >= ?2 AND a.time <= ?3"
    " ORDER BY a.time, a.aid";
static const char *const sql_export_time =
    "SELECT a.aid, a.time, a.event, a.outcome, a.client_id, c.npi,"
    " a.patient, k.id, a.detail FROM audit a"
    " LEFT JOIN client c ON c.id = a.client_id"
    " LEFT JOIN consent k ON k.cid = a.cid"
    " WHERE a.time >= ?2 AND a.time <= ?3 ORDER BY a.time, a.aid";

static int
starts(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The subtype code and the action (C R U D E) of a record. */
static void
classify(const struct audit_row *r, const char **code, const char **action)
{
	*action = "E";
	*code = r->event;
	if (strcmp(r->event, "match") == 0)
		*code = "member-match";
	else if (strcmp(r->event, "release") == 0)
		*action = "R";
	else if (strcmp(r->event, "consent") == 0) {
		if (starts(r->detail, "captured")) {
			*code = "consent-capture";
			*action = "C";
		} else if (starts(r->detail, "opt-out")) {
			*code = "consent-optout";
			*action = "C";
		} else if (starts(r->detail, "revoke")) {
			*code = "consent-revoke";
			*action = "U";
		} else {
			*code = "consent-update";
			*action = "U";
		}
	}
}

/*
 * R4 AuditEvent.outcome: 0 success, 4 minor failure (the request was
 * refused), 8 serious failure (the server failed: a 5xx in the detail).
 */
static const char *
outcome_code(const struct audit_row *r)
{
	if (strcmp(r->outcome, "success") == 0)
		return "0";
	if (r->detail != NULL && r->detail[0] == '5' &&
	    r->detail[1] >= '0' && r->detail[1] <= '9' &&
	    r->detail[2] >= '0' && r->detail[2] <= '9' &&
	    (r->detail[3] == ' ' || r->detail[3] == '\0'))
		return "8";
	return "4";
}

/* The agent for this server (the data holder, custodian). */
static json_object *
server_agent(const struct p2p_config *cfg)
{
	json_object	*a, *who;

	if ((a = json_object_new_object()) == NULL)
		return NULL;
	who = cfg->org_npi[0] != '\0' ?
	    fhir_ident_ref_new(SYS_NPI, cfg->org_npi, cfg->org_name) :
	    json_object_new_object();
	if (fhir_add(a, "type", fhir_concept_new(SYS_PART_TYPE, "CST",
	    "custodian")) == -1 ||
	    fhir_add(a, "who", who) == -1 ||
	    (cfg->org_npi[0] == '\0' &&
	    fhir_add_str(who, "display", cfg->org_name[0] != '\0' ?
	    cfg->org_name : "p2p") == -1) ||
	    fhir_add_bool(a, "requestor", 0) == -1) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/* The agent for the requesting client (the receiving payer). */
static json_object *
client_agent(const struct audit_row *r, const struct p2p_config *cfg)
{
	json_object	*a, *who, *alt;
	char		 sys[600];

	if ((a = json_object_new_object()) == NULL)
		return NULL;
	snprintf(sys, sizeof(sys), "%s/client-id", cfg->base_url);
	who = r->client_npi != NULL && r->client_npi[0] != '\0' ?
	    fhir_ident_ref_new(SYS_NPI, r->client_npi, r->client_id) :
	    fhir_ident_ref_new(sys, r->client_id, r->client_id);
	alt = json_object_new_string(r->client_id);
	if (fhir_add(a, "type", fhir_concept_new(SYS_PART_TYPE, "IRCP",
	    "information recipient")) == -1 ||
	    fhir_add(a, "who", who) == -1 ||
	    fhir_add(a, "altId", alt) == -1 ||
	    fhir_add_bool(a, "requestor", 1) == -1) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/* An entity: what (a reference string, or NULL), type, role. */
static json_object *
entity(const char *reference, const char *type, const char *role,
    const char *role_display)
{
	json_object	*e;

	if ((e = json_object_new_object()) == NULL)
		return NULL;
	if (reference != NULL &&
	    fhir_add(e, "what", fhir_ref_new("%s", reference)) == -1)
		goto fail;
	if (fhir_add(e, "type", fhir_coding_new(SYS_ENTITY_TYPE, type, NULL)) == -1 ||
	    fhir_add(e, "role", fhir_coding_new(SYS_OBJECT_ROLE, role,
	    role_display)) == -1)
		goto fail;
	return e;
fail:
	json_object_put(e);
	return NULL;
}

json_object *
audit_event_json(const struct audit_row *r, const struct p2p_config *cfg)
{
	json_object	*ev, *a, *src, *ents, *e, *d, *dd;
	const char	*code, *action;
	char		 id[40], ref[160];

	classify(r, &code, &action);
	if ((ev = fhir_resource_new("AuditEvent")) == NULL)
		return NULL;
	snprintf(id, sizeof(id), "audit-%lld", r->aid);
	if (fhir_add_str(ev, "id", id) == -1 ||
	    fhir_add(ev, "type", fhir_coding_new(SYS_EVENT_TYPE, "rest",
	    "RESTful Operation")) == -1)
		goto fail;
	a = json_object_new_array();
	if (fhir_add(ev, "subtype", a) == -1 ||
	    fhir_push(a, fhir_coding_new(AUDIT_SUBTYPE_SYSTEM, code, NULL)) == -1 ||
	    fhir_add_str(ev, "action", action) == -1 ||
	    fhir_add_str(ev, "recorded", r->time) == -1 ||
	    fhir_add_str(ev, "outcome", outcome_code(r)) == -1)
		goto fail;
	/* Release details go with the data entity; others here. */
	if (r->detail != NULL && r->detail[0] != '\0' &&
	    strcmp(r->event, "release") != 0 &&
	    fhir_add_str(ev, "outcomeDesc", r->detail) == -1)
		goto fail;

	a = json_object_new_array();
	if (fhir_add(ev, "agent", a) == -1 ||
	    (r->client_id != NULL && fhir_push(a, client_agent(r, cfg)) == -1) ||
	    fhir_push(a, server_agent(cfg)) == -1)
		goto fail;
	src = json_object_new_object();
	if (fhir_add(ev, "source", src) == -1 ||
	    fhir_add_str(src, "site", cfg->base_url) == -1 ||
	    fhir_add(src, "observer", cfg->org_npi[0] != '\0' ?
	    fhir_ident_ref_new(SYS_NPI, cfg->org_npi, cfg->org_name) :
	    json_object_new_object()) == -1)
		goto fail;
	if (cfg->org_npi[0] == '\0' && fhir_add_str(fhir_get(src, "observer",
	    json_type_object), "display", "p2p") == -1)
		goto fail;

	ents = json_object_new_array();
	if (fhir_add(ev, "entity", ents) == -1)
		goto fail;
	if (r->patient != NULL) {
		snprintf(ref, sizeof(ref), "Patient/%s", r->patient);
		if (fhir_push(ents, entity(ref, "1", "1", "Patient")) == -1)
			goto fail;
	}
	if (r->consent_id != NULL) {
		snprintf(ref, sizeof(ref), "Consent/%s", r->consent_id);
		if (fhir_push(ents, entity(ref, "2", "13",
		    "Security Resource")) == -1)
			goto fail;
	}
	if (strcmp(r->event, "release") == 0 && r->detail != NULL) {
		/* What was released: the resource list or the file. */
		e = entity(NULL, "2", "4", "Domain Resource");
		if (fhir_push(ents, e) == -1 ||
		    fhir_add_str(e, "description", "data released") == -1)
			goto fail;
		d = json_object_new_array();
		dd = json_object_new_object();
		if (fhir_add(e, "detail", d) == -1 || fhir_push(d, dd) == -1 ||
		    fhir_add_str(dd, "type", "released") == -1 ||
		    fhir_add_str(dd, "valueString", r->detail) == -1)
			goto fail;
	}
	if (json_object_array_length(ents) == 0)
		json_object_object_del(ev, "entity");
	return ev;
fail:
	json_object_put(ev);
	return NULL;
}

int
audit_export(struct p2p_db *db, const struct p2p_config *cfg,
    const char *patient, const char *since, const char *until, FILE *out,
    long *count, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct audit_row r;
	json_object	*ev;
	int		 rc;

	*count = 0;
	if ((st = db_stmt(db, patient != NULL ? sql_export_patient :
	    sql_export_time, err)) == NULL)
		return -1;
	if (patient != NULL)
		db_bind_text(st, 1, patient);
	db_bind_text(st, 2, since != NULL ? since : "");
	db_bind_text(st, 3, until != NULL ? until : "9999");
	while ((rc = db_next(st, "Itttttttt", &r.aid, &r.time, &r.event,
	    &r.outcome, &r.client_id, &r.client_npi, &r.patient,
	    &r.consent_id, &r.detail)) == DB_ROW) {
		if (r.time == NULL || r.event == NULL || r.outcome == NULL) {
			rc = DB_CORRUPT;
			break;
		}
		if ((ev = audit_event_json(&r, cfg)) == NULL) {
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		}
		if (fprintf(out, "%s\n", fhir_json(ev)) < 0) {
			json_object_put(ev);
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "write failed");
		}
		json_object_put(ev);
		(*count)++;
	}
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "audit export");
	return 0;
}
