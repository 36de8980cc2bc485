/* Unit tests for the consent lifecycle (issue #7): history versions,
 * revocation by the submitting client only (src/cgi/consent.c), opt-outs,
 * the release check after each, and the AuditEvent mapping (audit.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "member/audit.h"
#include "member/consent.h"
#include "json/fhir.h"
#include "request.h"
#include "unit.h"

#define CONSENT_JSON "{\"resourceType\":\"Consent\",\"id\":\"theirs\"," \
	"\"status\":\"active\",\"patient\":{\"reference\":\"Patient/m1\"}}"

static struct p2p_db	 db;
static struct p2p_config cfg;
static char		 cid_a[72];	/* client-a's consent for m1 */
static char		 cid_b[72];	/* client-b's consent for m1 */

static long long
qint(const char *sql, const char *arg)
{
	return unit_int_of(&db, sql, arg);
}

/* Stores a submitted consent and a match for client, as $member-match. */
static void
capture(const char *client, char *id)
{
	struct consent_terms	 t;
	struct consent_row	 r;
	struct p2p_err		 err;
	json_object		*c;
	struct db_stmt		*st;
	long long		 cid;

	p2p_err_init(&err);
	memset(&t, 0, sizeof(t));
	snprintf(t.start, sizeof(t.start), "2020-01-01T00:00:00Z");
	snprintf(t.end, sizeof(t.end), "2099-01-01T00:00:00Z");
	snprintf(t.recipient, sizeof(t.recipient), "npi:1111111111");
	ck_assert_int_eq(fhir_parse(CONSENT_JSON, strlen(CONSENT_JSON), &c,
	    &err), 0);
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(consent_store(&db, c, &t, "m1", client, &cid, &err), 0);
	ck_assert_int_eq(consent_record_match(&db, client, "m1", cid, NULL, 0,
	    &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
	json_object_put(c);
	ck_assert_int_eq(db_prepare(&db, "SELECT id FROM consent"
	    " WHERE cid = ?1", &st, NULL), 0);
	db_bind_int64(st, 1, cid);
	ck_assert_int_eq(db_step(st), DB_ROW);
	snprintf(id, 72, "%s", db_col_text(st, 0));
	db_finalize(st);
	ck_assert_int_eq(consent_get(&db, id, &r, &err), 0);
	ck_assert_int_eq(r.version, 1);
	ck_assert_str_eq(r.status, "active");
	consent_row_free(&r);
}

static void
setup(void)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp");
	config_defaults(&cfg);
	snprintf(cfg.base_url, sizeof(cfg.base_url), "http://127.0.0.1:8080");
	snprintf(cfg.fhir_base, sizeof(cfg.fhir_base), "http://127.0.0.1:8080/fhir");
	snprintf(cfg.org_npi, sizeof(cfg.org_npi), "9999999999");
	snprintf(cfg.org_name, sizeof(cfg.org_name), "Old Plan");
	ck_assert_int_eq(db_open(&db, ":memory:", 1, &err), 0);
	ck_assert_int_eq(db_migrate(&db, &err), 0);
	unit_key(&cfg);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO client (id, npi, created)"
	    " VALUES ('client-a', '1111111111', 'x'), ('client-b', '2222222222',"
	    " 'x'), ('nobody', '', 'x')", &err), 0);
	capture("client-a", cid_a);
	capture("client-b", cid_b);
}

static void
teardown(void)
{
	db_close(&db);
	unlink(cfg.key_file);
}

extern const struct p2p_op op_consent;	/* src/cgi/consent.c */

/*
 * A request to the Consent operation (its whole contract: gates, then
 * the handler) by client, with a token for the consent scopes.
 */
static int
handle(int method, const char *path, const char *query, const char *body,
    const char *client, int *status, json_object **reply)
{
	static struct p2p_ctx	 ctx;
	struct unit_reply	 r;
	char			 uri[300], *auth;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.db = db;
	ctx.op = &op_consent;
	snprintf(uri, sizeof(uri), "%s%s%s", path, query ? "?" : "",
	    query ? query : "");
	auth = unit_bearer(&cfg, client, "", "system/Consent.rs"
	    " system/Consent.u");
	unit_request(&ctx, method == P2P_PUT ? "PUT" : method == P2P_GET ?
	    "GET" : "POST", uri, "application/fhir+json", body, auth, NULL,
	    &r);
	free(auth);
	db = ctx.db;		/* statements cached meanwhile */
	*status = r.status;
	if (reply != NULL)
		*reply = r.body;
	else
		json_object_put(r.body);
	return r.status < 300 ? 0 : -1;
}

static char *
revoke_body(const char *id, const char *status)
{
	static char	 b[256];

	snprintf(b, sizeof(b), "{\"resourceType\":\"Consent\",\"id\":\"%s\","
	    "\"status\":\"%s\"}", id, status);
	return b;
}

static int
access_ok(const char *client)
{
	struct p2p_err	 err;
	long long	 cid;
	int		 sensitive;

	p2p_err_init(&err);
	return consent_access(&db, client, "m1", now_sec(), &cid, &sensitive,
	    &err) == 0 ? 0 : err.status;
}

START_TEST(test_capture_audited)
{
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'consent' AND detail LIKE 'captured%'", NULL), 2);
	ck_assert_int_eq(qint("SELECT count(*) FROM consent_history", NULL), 2);
}
END_TEST

/* Refusals of the operation (gates and handler): who, what and how. */
static const struct {
	int		 method;
	const char	*path;
	const char	*query;
	int		 body;		/* 1: revoke body for cid_a */
	const char	*status;	/* status in that body */
	const char	*client;
	int		 want;
	int		 line;
} refusals[] = {
	{ P2P_PUT, "/fhir/Consent/A", NULL, 1, "inactive", "client-b", 404, __LINE__ },
	{ P2P_GET, "/fhir/Consent/A", NULL, 0, NULL, "client-b", 404, __LINE__ },
	{ P2P_PUT, "/fhir/Consent/A", NULL, 1, "inactive", "nobody", 404, __LINE__ },
	{ P2P_PUT, "/fhir/Consent/nosuch", NULL, 1, "inactive", "client-a", 400, __LINE__ },
	{ P2P_PUT, "/fhir/Consent/A", NULL, 1, "draft", "client-a", 422, __LINE__ },
	{ P2P_PUT, "/fhir/Consent/A", NULL, 1, "entered-in-error", "client-a", 422, __LINE__ },
	{ P2P_PUT, "/fhir/Consent/A", "x=1", 1, "inactive", "client-a", 400, __LINE__ },
	{ P2P_GET, "/fhir/Consent", NULL, 0, NULL, "client-a", 400, __LINE__ },
	{ P2P_GET, "/fhir/Consent", "patient=m1&status=active", 0, NULL, "client-a", 400, __LINE__ },
	{ P2P_GET, "/fhir/Consent", "patient=m1&patient=m2", 0, NULL, "client-a", 400, __LINE__ },
	{ P2P_GET, "/fhir/Consent", "patient=a%2Fb%2Fc", 0, NULL, "client-a", 400, __LINE__ },
	{ P2P_PUT, "/fhir/Consent", NULL, 1, "inactive", "client-a", 405, __LINE__ },
	{ P2P_GET, "/fhir/Consent/A/_history", NULL, 0, NULL, "client-a", 404, __LINE__ },
};

START_TEST(test_refusals)
{
	char		 path[200], *p;
	int		 status;
	size_t		 i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		snprintf(path, sizeof(path), "%s", refusals[i].path);
		if ((p = strstr(path, "/A")) != NULL)
			snprintf(p, sizeof(path) - (p - path), "/%s%s", cid_a,
			    strstr(refusals[i].path, "/A") + 2);
		ck_assert_msg(handle(refusals[i].method, path, refusals[i].query,
		    refusals[i].body ? revoke_body(cid_a, refusals[i].status) :
		    NULL, refusals[i].client, &status, NULL) == -1,
		    "line %d accepted", refusals[i].line);
		ck_assert_msg(status == refusals[i].want, "line %d: %d, want %d",
		    refusals[i].line, status, refusals[i].want);
	}
	/* Nothing changed: still version 1, access for both. */
	ck_assert_int_eq(qint("SELECT count(*) FROM consent_history", NULL), 2);
	ck_assert_int_eq(access_ok("client-a"), 0);
	ck_assert_int_eq(access_ok("client-b"), 0);
	/* The refused revocations are audited. */
	ck_assert_int_ge(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'consent' AND outcome = 'failure'", NULL), 4);
}
END_TEST

START_TEST(test_revoke_by_owner)
{
	json_object	*o;
	char		 path[200];
	int		 status;

	snprintf(path, sizeof(path), "/fhir/Consent/%s", cid_a);
	ck_assert_int_eq(handle(P2P_PUT, path, NULL, revoke_body(cid_a,
	    "inactive"), "client-a", &status, &o), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(fhir_str(o, "status"), "inactive");
	ck_assert_str_eq(fhir_str(o, "id"), cid_a);
	ck_assert_str_eq(fhir_path_str(o, "meta.versionId"), "2");
	json_object_put(o);
	/* Refused at once for client-a; client-b's own consent unaffected. */
	ck_assert_int_eq(access_ok("client-a"), 403);
	ck_assert_int_eq(access_ok("client-b"), 0);
	ck_assert_int_eq(qint("SELECT max(version) FROM consent_history h JOIN"
	    " consent c USING (cid) WHERE c.id = ?1", cid_a), 2);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'consent' AND client_id = 'client-a' AND detail LIKE 'revoked%'",
	    NULL), 1);
	/* The same again changes nothing; inactive -> rejected is version 3;
	 * reactivation is refused. */
	ck_assert_int_eq(handle(P2P_PUT, path, NULL, revoke_body(cid_a,
	    "inactive"), "client-a", &status, NULL), 0);
	ck_assert_int_eq(qint("SELECT count(*) FROM consent_history h JOIN"
	    " consent c USING (cid) WHERE c.id = ?1", cid_a), 2);
	ck_assert_int_eq(handle(P2P_PUT, path, NULL, revoke_body(cid_a,
	    "rejected"), "client-a", &status, NULL), 0);
	ck_assert_int_eq(qint("SELECT max(version) FROM consent_history h JOIN"
	    " consent c USING (cid) WHERE c.id = ?1", cid_a), 3);
	ck_assert_int_eq(handle(P2P_PUT, path, NULL, revoke_body(cid_a,
	    "active"), "client-a", &status, NULL), -1);
	ck_assert_int_eq(status, 422);
	ck_assert_int_eq(access_ok("client-a"), 403);
	/* The history keeps each version's JSON with its status. */
	ck_assert_int_eq(qint("SELECT count(*) FROM consent_history h JOIN"
	    " consent c USING (cid) WHERE c.id = ?1 AND h.json LIKE"
	    " '%\"status\":\"rejected\"%'", cid_a), 1);
}
END_TEST

START_TEST(test_read_and_search)
{
	json_object	*o, *e;
	char		 path[200];
	int		 status;

	snprintf(path, sizeof(path), "/fhir/Consent/%s", cid_b);
	ck_assert_int_eq(handle(P2P_GET, path, NULL, NULL, "client-b", &status,
	    &o), 0);
	ck_assert_int_eq(status, 200);
	/* The server's id, not the one the client sent. */
	ck_assert_str_eq(fhir_str(o, "id"), cid_b);
	json_object_put(o);
	ck_assert_int_eq(handle(P2P_GET, "/fhir/Consent", "patient=Patient%2Fm1",
	    NULL, "client-b", &status, &o), 0);
	ck_assert_str_eq(fhir_str(o, "type"), "searchset");
	ck_assert_int_eq(json_object_get_int(fhir_get(o, "total",
	    json_type_int)), 1);
	e = json_object_array_get_idx(fhir_get(o, "entry", json_type_array), 0);
	ck_assert_str_eq(fhir_path_str(e, "resource.id"), cid_b);
	json_object_put(o);
	ck_assert_int_eq(handle(P2P_GET, "/fhir/Consent", "patient=m2", NULL,
	    "client-b", &status, &o), 0);
	ck_assert_int_eq(json_object_get_int(fhir_get(o, "total",
	    json_type_int)), 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_admin_revoke_and_optout)
{
	struct consent_row	 r;
	struct p2p_err		 err;
	char			 id[48];
	long long		 cid;
	int			 changed;

	p2p_err_init(&err);
	/* An opt-out stops release to every client. */
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(consent_record_optout(&db, "m1", "admin", id,
	    sizeof(id), &cid, &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
	ck_assert_int_eq(access_ok("client-a"), 403);
	ck_assert_int_eq(access_ok("client-b"), 403);
	ck_assert_int_eq(consent_get(&db, id, &r, &err), 0);
	ck_assert_str_eq(r.provision, "deny");
	ck_assert_str_eq(r.source, "loaded");
	ck_assert_int_eq(r.version, 1);
	/* A client cannot see or revoke the payer's opt-out. */
	{
		char	 path[200];
		int	 status;

		snprintf(path, sizeof(path), "/fhir/Consent/%s", id);
		ck_assert_int_eq(handle(P2P_PUT, path, NULL, revoke_body(id,
		    "inactive"), "client-a", &status, NULL), -1);
		ck_assert_int_eq(status, 404);
	}
	/* The administrator lifting it restores release. */
	ck_assert_int_eq(db_begin(&db, &err), 0);
	ck_assert_int_eq(consent_set_status(&db, &r, "inactive", "admin",
	    &changed, &err), 0);
	ck_assert_int_eq(db_commit(&db, &err), 0);
	ck_assert_int_eq(changed, 1);
	consent_row_free(&r);
	ck_assert_int_eq(access_ok("client-a"), 0);
	/* Admin revocation of client-b's consent. */
	ck_assert_int_eq(consent_get(&db, cid_b, &r, &err), 0);
	ck_assert_int_eq(consent_set_status(&db, &r, "inactive", "admin",
	    &changed, &err), 0);
	consent_row_free(&r);
	ck_assert_int_eq(access_ok("client-b"), 403);
	ck_assert_int_eq(qint("SELECT count(*) FROM audit WHERE event ="
	    " 'consent' AND client_id IS NULL AND detail LIKE '%by admin'",
	    NULL), 2);
	ck_assert_int_eq(consent_get(&db, "nosuch", &r, &err), 1);
}
END_TEST

/* AuditEvent mapping: one row per event kind. */
static const struct {
	const char	*event, *outcome, *client, *detail;
	const char	*subtype, *action, *code;
	int		 line;
} events[] = {
	{ "token", "success", "client-a", "client_credentials", "token", "E", "0", __LINE__ },
	{ "token", "failure", NULL, "invalid_client", "token", "E", "4", __LINE__ },
	{ "match", "failure", "client-a", "422 No member match found", "member-match", "E", "4", __LINE__ },
	{ "match", "failure", "client-a", "503 database busy", "member-match", "E", "8", __LINE__ },
	{ "consent", "success", "client-a", "captured (submitted, version 1)", "consent-capture", "C", "0", __LINE__ },
	{ "consent", "success", NULL, "opt-out recorded (deny, version 1)", "consent-optout", "C", "0", __LINE__ },
	{ "consent", "success", "client-a", "revoked: active -> inactive by client:client-a", "consent-revoke", "U", "0", __LINE__ },
	{ "release", "success", "client-a", "$everything", "release", "R", "0", __LINE__ },
	{ "release", "failure", "client-a", "$everything refused", "release", "R", "4", __LINE__ },
};

START_TEST(test_audit_event_mapping)
{
	struct audit_row r;
	json_object	*ev, *agents, *ents, *a;
	const char	*s;
	size_t		 i, j;
	int		 requestor;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.aid = (long long)i + 1;
		r.time = "2026-06-01T12:00:00Z";
		r.event = events[i].event;
		r.outcome = events[i].outcome;
		r.client_id = events[i].client;
		r.client_npi = events[i].client ? "1111111111" : NULL;
		r.patient = strcmp(r.event, "token") ? "m1" : NULL;
		r.consent_id = strcmp(r.event, "token") ? "cabc" : NULL;
		r.detail = events[i].detail;
		ck_assert_ptr_nonnull(ev = audit_event_json(&r, &cfg));
		ck_assert_str_eq(fhir_type(ev), "AuditEvent");
		ck_assert_msg(strcmp(fhir_path_str(ev, "type.system"),
		    "http://terminology.hl7.org/CodeSystem/audit-event-type") == 0 &&
		    strcmp(fhir_path_str(ev, "type.code"), "rest") == 0,
		    "line %d type", events[i].line);
		ck_assert_msg(strcmp(fhir_path_str(ev, "subtype.code"),
		    events[i].subtype) == 0 && strcmp(fhir_path_str(ev,
		    "subtype.system"), AUDIT_SUBTYPE_SYSTEM) == 0,
		    "line %d subtype %s", events[i].line,
		    fhir_path_str(ev, "subtype.code"));
		ck_assert_msg(strcmp(fhir_str(ev, "action"), events[i].action) == 0,
		    "line %d action", events[i].line);
		ck_assert_msg(strcmp(fhir_str(ev, "outcome"), events[i].code) == 0,
		    "line %d outcome %s", events[i].line, fhir_str(ev, "outcome"));
		ck_assert_str_eq(fhir_str(ev, "recorded"), r.time);
		ck_assert_str_eq(fhir_path_str(ev, "source.observer.identifier.value"),
		    "9999999999");
		agents = fhir_get(ev, "agent", json_type_array);
		ck_assert_int_eq(json_object_array_length(agents),
		    r.client_id ? 2 : 1);
		for (j = 0, requestor = 0; j < json_object_array_length(agents); j++) {
			a = json_object_array_get_idx(agents, j);
			if (json_object_get_boolean(fhir_get(a, "requestor",
			    json_type_boolean))) {
				requestor++;
				ck_assert_str_eq(fhir_str(a, "altId"), r.client_id);
				ck_assert_str_eq(fhir_path_str(a,
				    "who.identifier.value"), "1111111111");
			}
		}
		ck_assert_int_eq(requestor, r.client_id ? 1 : 0);
		ents = fhir_get(ev, "entity", json_type_array);
		if (r.patient == NULL) {
			ck_assert_ptr_null(ents);
		} else {
			ck_assert_str_eq(fhir_path_str(ev, "entity.what.reference"),
			    "Patient/m1");
			ck_assert_str_eq(fhir_path_str(json_object_array_get_idx(
			    ents, 1), "what.reference"), "Consent/cabc");
			if (strcmp(r.event, "release") == 0) {
				s = fhir_path_str(json_object_array_get_idx(ents,
				    2), "detail.valueString");
				ck_assert_str_eq(s, r.detail);
			}
		}
		/* Valid JSON throughout, and no token-looking material. */
		ck_assert_ptr_null(strstr(fhir_json(ev), "Bearer"));
		json_object_put(ev);
	}
}
END_TEST

START_TEST(test_export_filters)
{
	struct p2p_err	 err;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;
	long		 n;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "INSERT INTO audit (time, event, outcome,"
	    " client_id, patient) VALUES ('2020-01-01T00:00:00Z', 'release',"
	    " 'success', 'client-a', 'm9')", &err), 0);
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(audit_export(&db, &cfg, "m9", NULL, NULL, f, &n, &err), 0);
	fclose(f);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(buf, "\"Patient/m9\""));
	free(buf);
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(audit_export(&db, &cfg, NULL, "2020-01-02T00:00:00Z",
	    NULL, f, &n, &err), 0);
	fclose(f);
	ck_assert_int_eq(n, 2);		/* the two captures of the fixture */
	ck_assert_ptr_null(strstr(buf, "m9"));
	free(buf);
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(audit_export(&db, &cfg, "m1", NULL,
	    "2020-12-31T23:59:59Z", f, &n, &err), 0);
	fclose(f);
	ck_assert_int_eq(n, 0);
	free(buf);
	/* The trail cannot be altered. */
	ck_assert_int_eq(db_exec(&db, "UPDATE audit SET detail = 'x'", &err), -1);
	ck_assert_int_eq(db_exec(&db, "DELETE FROM audit WHERE patient = 'm9'",
	    &err), -1);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_capture_audited),
		UNIT_TEST(test_refusals),
		UNIT_TEST(test_revoke_by_owner),
		UNIT_TEST(test_read_and_search),
		UNIT_TEST(test_admin_revoke_and_optout),
		UNIT_TEST(test_audit_event_mapping),
		UNIT_TEST(test_export_filters),
	};

	return unit_run(unit_tests("consent_life", setup, teardown, 0, tests,
	    UNIT_N(tests)));
}
