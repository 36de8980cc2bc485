/*
 * Unit tests for peer/state.c, peer/due.c, peer/matchreq.c and
 * peer/report.c: the per-member state machine, the work list kept in
 * step with the loaded opt-ins, the one-week deadline, and the request
 * built from our store.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/due.h"
#include "peer/flow.h"
#include "peer/ingest.h"
#include "peer/matchreq.h"
#include "peer/peer.h"
#include "peer/report.h"
#include "peer/state.h"
#include "store/loader.h"
#include "unit.h"

#define NPI_A	"1111111111"
#define NPI_B	"1234567893"

/* --- the state machine (pure) ------------------------------------------- */

/* Every allowed transition; anything else must be refused. */
static const struct {
	enum inb_state	 from;
	enum inb_event	 ev;
	enum inb_state	 to;
} allowed[] = {
	{ INB_DUE, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_DUE, INB_EV_FAILED, INB_FAILED },
	{ INB_DUE, INB_EV_RETRY, INB_DUE },
	{ INB_REQUESTED, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_REQUESTED, INB_EV_MATCHED, INB_MATCHED },
	{ INB_REQUESTED, INB_EV_NOMATCH, INB_NOMATCH },
	{ INB_REQUESTED, INB_EV_CONSENT, INB_CONSENT },
	{ INB_REQUESTED, INB_EV_FAILED, INB_FAILED },
	{ INB_REQUESTED, INB_EV_RETRY, INB_DUE },
	{ INB_MATCHED, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_MATCHED, INB_EV_MATCHED, INB_MATCHED },
	{ INB_MATCHED, INB_EV_CONSENT, INB_CONSENT },
	{ INB_MATCHED, INB_EV_FETCHED, INB_FETCHED },
	{ INB_MATCHED, INB_EV_FAILED, INB_FAILED },
	{ INB_MATCHED, INB_EV_RETRY, INB_DUE },
	{ INB_NOMATCH, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_CONSENT, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_FETCHED, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_FAILED, INB_EV_REQUEST, INB_REQUESTED },
	{ INB_FAILED, INB_EV_FAILED, INB_FAILED },
	{ INB_WITHDRAWN, INB_EV_REOPEN, INB_DUE },
};

START_TEST(machine)
{
	int	 s, ev, want;
	size_t	 i;

	for (s = 0; s < INB__MAX; s++)
		for (ev = 0; ev < INB_EV__MAX; ev++) {
			want = -1;
			for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]);
			    i++)
				if ((int)allowed[i].from == s &&
				    (int)allowed[i].ev == ev)
					want = (int)allowed[i].to;
			/* withdrawal is possible from anywhere */
			if (ev == INB_EV_WITHDRAW)
				want = INB_WITHDRAWN;
			ck_assert_msg(inb_next(s, ev) == want, "%s + %s: %d, "
			    "want %d", inb_state_name(s), inb_event_name(ev),
			    inb_next(s, ev), want);
		}
	ck_assert_int_eq(inb_next(INB__MAX, INB_EV_REQUEST), -1);
	ck_assert_int_eq(inb_next(INB_DUE, INB_EV__MAX), -1);
	for (s = 0; s < INB__MAX; s++)
		ck_assert_int_eq(inb_state_parse(inb_state_name(s)), s);
	ck_assert_int_eq(inb_state_parse("nonsense"), -1);
}
END_TEST

START_TEST(backoff)
{
	ck_assert_int_eq(inb_backoff(1), INB_BACKOFF_MIN);
	ck_assert_int_eq(inb_backoff(2), 2 * INB_BACKOFF_MIN);
	ck_assert_int_eq(inb_backoff(4), 8 * INB_BACKOFF_MIN);
	ck_assert_int_eq(inb_backoff(40), INB_BACKOFF_MAX);
}
END_TEST

START_TEST(deadline)
{
	char	 d[16];

	due_deadline("2027-01-01", "2026-12-20", d);
	ck_assert_str_eq(d, "2027-01-08");	/* a week after coverage */
	due_deadline("2027-01-01", "2027-01-15T09:00:00Z", d);
	ck_assert_str_eq(d, "2027-01-22");	/* a week after a later opt-in */
	due_deadline("", "2027-01-15", d);
	ck_assert_str_eq(d, "2027-01-22");
	due_deadline("2027-02-26", NULL, d);
	ck_assert_str_eq(d, "2027-03-05");
	due_deadline(NULL, "garbage", d);
	ck_assert_str_eq(d, "");
}
END_TEST

START_TEST(late)
{
	struct inbound	 r;
	time_t		 now;
	long		 days;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(time_parse("2027-01-20T12:00:00Z", 0, &now), 0);
	r.state = INB_DUE;
	ck_assert_int_eq(report_late(&r, now, &days), 0);	/* no deadline */
	snprintf(r.deadline, sizeof(r.deadline), "2027-01-08");
	ck_assert_int_eq(report_late(&r, now, &days), 2);
	ck_assert_int_eq(days, 12);
	snprintf(r.requested, sizeof(r.requested), "2027-01-08T23:00:00Z");
	ck_assert_int_eq(report_late(&r, now, &days), 0);	/* on the day */
	snprintf(r.requested, sizeof(r.requested), "2027-01-10T01:00:00Z");
	ck_assert_int_eq(report_late(&r, now, &days), 1);
	ck_assert_int_eq(days, 2);
	r.requested[0] = '\0';
	snprintf(r.deadline, sizeof(r.deadline), "2027-01-25");
	ck_assert_int_eq(report_late(&r, now, &days), 0);	/* not yet */
	snprintf(r.deadline, sizeof(r.deadline), "2027-01-08");
	r.state = INB_WITHDRAWN;
	ck_assert_int_eq(report_late(&r, now, &days), 0);
}
END_TEST

/* --- with a store ------------------------------------------------------ */

static struct p2p_db		 db;
static struct p2p_config	 cfg;

static void
load(const char *text)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	FILE			*f;

	p2p_err_init(&err);
	f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_msg(load_stream(&db, f, "t", LOAD_NDJSON, 0, &st, &err) == 0,
	    "%s", err.msg);
	fclose(f);
}

/* An opt-in loaded at B for patient, naming source as previous payer. */
static void
optin(const char *id, const char *patient, const char *source,
    const char *status, const char *start, const char *end)
{
	char	 line[4096];

	snprintf(line, sizeof(line),
	    "{\"resourceType\":\"Consent\",\"id\":\"%s\",\"status\":\"%s\","
	    "\"scope\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
	    "CodeSystem/consentscope\",\"code\":\"patient-privacy\"}]},"
	    "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org"
	    "/CodeSystem/v3-ActCode\",\"code\":\"IDSCL\"}]}],"
	    "\"patient\":{\"reference\":\"Patient/%s\"},"
	    "\"performer\":[{\"reference\":\"Patient/%s\"}],"
	    "\"dateTime\":\"%s\","
	    "\"sourceReference\":{\"reference\":\"DocumentReference/form-1\"},"
	    "\"meta\":{\"lastUpdated\":\"2026-01-01T00:00:00Z\"},"
	    "\"policy\":[{\"uri\":\"http://hl7.org/fhir/us/davinci-hrex/"
	    "StructureDefinition-hrex-consent.html#regular\"}],"
	    "\"provision\":{\"type\":\"permit\",\"period\":{\"start\":\"%s\","
	    "\"end\":\"%s\"},\"actor\":[{\"role\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/provenance-participant-"
	    "type\",\"code\":\"performer\"}]},\"reference\":{\"identifier\":{"
	    "\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"%s\"}}},"
	    "{\"role\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
	    "CodeSystem/v3-ParticipationType\",\"code\":\"IRCP\"}]},"
	    "\"reference\":{\"reference\":\"Organization/org-b\"}}]}}\n",
	    id, status, patient, patient, start, start, end, source);
	load(line);
}

static const char store_b[] =
    "{\"resourceType\":\"Organization\",\"id\":\"org-a\",\"identifier\":[{"
    "\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"" NPI_A "\"}]}\n"
    "{\"resourceType\":\"Organization\",\"id\":\"org-b\",\"identifier\":[{"
    "\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"" NPI_B "\"}]}\n"
    "{\"resourceType\":\"Patient\",\"id\":\"m1\",\"identifier\":[{\"system\":"
    "\"urn:b\",\"value\":\"B1\"}],\"name\":[{\"family\":\"Doe\",\"given\":"
    "[\"Ann\"]}],\"gender\":\"female\",\"birthDate\":\"1980-02-03\","
    "\"extension\":[{\"url\":\"urn:x\",\"valueString\":\"private\"}]}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"m1-cov\",\"status\":\"active\","
    "\"subscriberId\":\"B1\",\"beneficiary\":{\"reference\":\"Patient/m1\"},"
    "\"period\":{\"start\":\"2027-01-01\"},\"payor\":[{\"reference\":"
    "\"Organization/org-b\"}]}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"m1-prev\",\"status\":"
    "\"cancelled\",\"subscriberId\":\"A-77\",\"identifier\":[{\"type\":{"
    "\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
    "v2-0203\",\"code\":\"MB\"}]},\"value\":\"A-77\"}],\"beneficiary\":{"
    "\"reference\":\"Patient/m1\"},\"policyHolder\":{\"reference\":"
    "\"RelatedPerson/r1\"},\"payor\":[{\"reference\":\"Organization/org-a\"}]}"
    "\n";

static void
setup(void)
{
	struct peer	 p;
	struct p2p_err	 err;

	unit_db_open(&db);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp");
	config_defaults(&cfg);
	snprintf(cfg.org_npi, sizeof(cfg.org_npi), NPI_B);
	load(store_b);
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "payer-a");
	snprintf(p.npi, sizeof(p.npi), NPI_A);
	snprintf(p.base_url, sizeof(p.base_url), "https://a.example/fhir");
	snprintf(p.client_id, sizeof(p.client_id), "b");
	snprintf(p.scope, sizeof(p.scope), PEER_DEFAULT_SCOPE);
	p2p_err_init(&err);
	ck_assert_int_eq(peer_put(&db, &p, 0, &err), 0);
}

static void
teardown(void)
{
	db_close(&db);
}

static struct inbound
row(const char *patient)
{
	struct inbound	 r;
	struct p2p_err	 err;

	p2p_err_init(&err);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(inbound_get(&db, patient, "payer-a", &r, &err), 0);
	return r;
}

START_TEST(sync_and_events)
{
	struct due_stats	 ds;
	struct inbound		 r;
	struct p2p_err		 err;
	int			 i;

	optin("c1", "m1", NPI_A, "active", "2026-12-30", "2099-01-01");
	/* an opt-in for a payer we have no peer for is only counted */
	optin("c2", "m1", "9999999999", "active", "2026-12-30", "2099-01-01");
	p2p_err_init(&err);
	ck_assert_int_eq(due_sync(&db, &cfg, NULL, &ds, NULL, &err), 0);
	ck_assert_int_eq(ds.consents, 2);
	ck_assert_int_eq(ds.created, 1);
	ck_assert_int_eq(ds.unknown, 1);
	r = row("m1");
	ck_assert_int_eq(r.state, INB_DUE);
	ck_assert_str_eq(r.consent_id, "c1");
	ck_assert_str_eq(r.coverage_start, "2027-01-01");
	ck_assert_str_eq(r.deadline, "2027-01-08");
	/* a second sync changes nothing */
	ck_assert_int_eq(due_sync(&db, &cfg, NULL, &ds, NULL, &err), 0);
	ck_assert_int_eq(ds.created, 0);
	/* the life of a request */
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_REQUEST,
	    NULL, 0, &err), INB_REQUESTED);
	r = row("m1");
	ck_assert_str_ne(r.requested, "");
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_FETCHED,
	    NULL, 0, &err), -1);
	ck_assert_int_eq(err.status, 409);	/* not matched yet */
	p2p_err_init(&err);
	/* transient faults: retried with backoff, then given up */
	for (i = 1; i < INB_MAX_ATTEMPTS; i++) {
		ck_assert_int_eq(inbound_event(&db, "m1", "payer-a",
		    INB_EV_RETRY, "HTTP 503: busy", 0, &err), INB_DUE);
		r = row("m1");
		ck_assert_int_eq(r.attempts, i);
		ck_assert(r.next_try >= (long long)now_sec() + inb_backoff(i) -
		    1);
		ck_assert_str_eq(r.reason, "HTTP 503: busy");
		ck_assert_int_eq(inbound_event(&db, "m1", "payer-a",
		    INB_EV_REQUEST, NULL, 0, &err), INB_REQUESTED);
	}
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_RETRY,
	    "HTTP 503: busy", 0, &err), INB_FAILED);
	r = row("m1");
	ck_assert_msg(strstr(r.reason, "gave up after 8 attempts") != NULL,
	    "%s", r.reason);
	/* Retry-After is honoured */
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_REQUEST,
	    NULL, 0, &err), INB_REQUESTED);
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_MATCHED,
	    NULL, 0, &err), INB_MATCHED);
	ck_assert_int_eq(inbound_fetched(&db, "m1", "payer-a",
	    "2027-01-02T00:00:00Z", 42, &err), 0);
	r = row("m1");
	ck_assert_int_eq(r.state, INB_FETCHED);
	ck_assert_str_eq(r.since, "2027-01-02T00:00:00Z");
	ck_assert_int_eq(r.resources, 42);
	ck_assert_str_eq(r.reason, "");
	/* the member withdraws: the next sync says so */
	optin("c1", "m1", NPI_A, "inactive", "2026-12-30", "2099-01-01");
	ck_assert_int_eq(due_sync(&db, &cfg, NULL, &ds, NULL, &err), 0);
	ck_assert_int_eq(row("m1").state, INB_WITHDRAWN);
	ck_assert_int_eq(ds.withdrawn, 1);
	/* and opts in again */
	optin("c1", "m1", NPI_A, "active", "2026-12-30", "2099-01-01");
	ck_assert_int_eq(due_sync(&db, &cfg, NULL, &ds, NULL, &err), 0);
	ck_assert_int_eq(row("m1").state, INB_DUE);
}
END_TEST

START_TEST(retry_after_honoured)
{
	struct due_stats	 ds;
	struct p2p_err		 err;

	optin("c1", "m1", NPI_A, "active", "2026-12-30", "2099-01-01");
	p2p_err_init(&err);
	ck_assert_int_eq(due_sync(&db, &cfg, "m1", &ds, NULL, &err), 0);
	ck_assert_int_eq(inbound_event(&db, "m1", "payer-a", INB_EV_RETRY,
	    "throttled", 600, &err), INB_DUE);
	ck_assert(row("m1").next_try >= (long long)now_sec() + 599);
}
END_TEST

START_TEST(build_request)
{
	struct matchreq	 m;
	struct p2p_err	 err;
	json_object	*p, *list, *mb;
	char		 why[400];
	time_t		 now;

	optin("c1", "m1", NPI_A, "active", "2026-12-30", "2099-01-01");
	ck_assert_int_eq(time_parse("2027-01-05T00:00:00Z", 0, &now), 0);
	p2p_err_init(&err);
	ck_assert_msg(matchreq_build(&db, &cfg, NPI_A, "m1", now, &m, why,
	    sizeof(why), &err) == 0, "%s %s", why, err.msg);
	ck_assert_str_eq(m.consent_id, "c1");
	ck_assert_str_eq(m.coverage_id, "m1-prev");
	/* MemberPatient: demographics, our id, none of our identifiers */
	ck_assert_str_eq(fhir_id(m.patient), "m1");
	ck_assert_str_eq(fhir_path_str(m.patient, "name.family"), "Doe");
	ck_assert_str_eq(fhir_str(m.patient, "birthDate"), "1980-02-03");
	ck_assert_ptr_null(fhir_get(m.patient, "identifier", json_type_array));
	ck_assert_ptr_null(fhir_get(m.patient, "extension", json_type_array));
	/* CoverageToMatch: the card of the old plan, payor by NPI */
	ck_assert_str_eq(fhir_str(m.coverage, "subscriberId"), "A-77");
	ck_assert_str_eq(fhir_path_str(m.coverage, "identifier.value"), "A-77");
	ck_assert_str_eq(fhir_path_str(m.coverage, "beneficiary.reference"),
	    "Patient/m1");
	ck_assert_str_eq(fhir_path_str(m.coverage, "payor.identifier.value"),
	    NPI_A);
	ck_assert_str_eq(fhir_path_str(m.coverage, "relationship.coding.code"),
	    "unknown");		/* 1..1: data-absent-reason */
	ck_assert_ptr_null(fhir_get(m.coverage, "policyHolder",
	    json_type_object));	/* our reference means nothing there */
	/* CoverageToLink: ours */
	ck_assert_str_eq(fhir_path_str(m.link, "payor.identifier.value"), NPI_B);
	/* Consent: actors by NPI, patient = MemberPatient, no local refs */
	ck_assert_str_eq(fhir_path_str(m.consent, "patient.reference"),
	    "Patient/m1");
	ck_assert_ptr_null(fhir_get(m.consent, "meta", json_type_object));
	ck_assert_ptr_null(fhir_get(m.consent, "sourceReference",
	    json_type_object));
	ck_assert_str_eq(fhir_str(json_object_array_get_idx(fhir_get(
	    fhir_get(m.consent, "provision", json_type_object), "actor",
	    json_type_array), 1) ? fhir_get(fhir_get(json_object_array_get_idx(
	    fhir_get(fhir_get(m.consent, "provision", json_type_object),
	    "actor", json_type_array), 1), "reference", json_type_object),
	    "identifier", json_type_object) : NULL, "value"), NPI_B);
	/* the two shapes */
	ck_assert_ptr_nonnull(p = matchreq_parameters(&m));
	list = fhir_get(p, "parameter", json_type_array);
	ck_assert_int_eq(json_object_array_length(list), 4);
	ck_assert_str_eq(fhir_str(json_object_array_get_idx(list, 0), "name"),
	    "MemberPatient");
	ck_assert_str_eq(fhir_str(json_object_array_get_idx(list, 3), "name"),
	    "Consent");
	json_object_put(p);
	ck_assert_ptr_nonnull(mb = matchreq_member_bundle(&m));
	ck_assert_str_eq(fhir_str(mb, "name"), "MemberBundle");
	ck_assert_int_eq(json_object_array_length(fhir_get(mb, "part",
	    json_type_array)), 4);
	json_object_put(mb);
	matchreq_free(&m);
}
END_TEST

/* What the store lacks, said in words: setup, member, why, line. */
START_TEST(build_refused)
{
	struct matchreq	 m;
	struct p2p_err	 err;
	char		 why[400];
	time_t		 now;

	ck_assert_int_eq(time_parse("2027-01-05T00:00:00Z", 0, &now), 0);
	p2p_err_init(&err);
	ck_assert_int_eq(matchreq_build(&db, &cfg, NPI_A, "nobody", now, &m,
	    why, sizeof(why), &err), 1);
	ck_assert_msg(strstr(why, "no Patient/nobody") != NULL, "%s", why);
	/* no opt-in */
	ck_assert_int_eq(matchreq_build(&db, &cfg, NPI_A, "m1", now, &m, why,
	    sizeof(why), &err), 1);
	ck_assert_msg(strstr(why, "no active opt-in Consent") != NULL, "%s",
	    why);
	/* an opt-in that has expired is not sent */
	optin("c1", "m1", NPI_A, "active", "2026-01-01", "2026-06-30");
	ck_assert_int_eq(matchreq_build(&db, &cfg, NPI_A, "m1", now, &m, why,
	    sizeof(why), &err), 1);
	ck_assert_msg(strstr(why, "expired") != NULL, "%s", why);
	/* an opt-in naming another previous payer is not for this one */
	optin("c1", "m1", "9999999999", "active", "2026-12-30", "2099-01-01");
	ck_assert_int_eq(matchreq_build(&db, &cfg, NPI_A, "m1", now, &m, why,
	    sizeof(why), &err), 1);
	ck_assert_msg(strstr(why, "no active opt-in") != NULL, "%s", why);
	/* the opt-in is there, the old coverage is not */
	optin("c1", "m1", "2222222222", "active", "2026-12-30", "2099-01-01");
	ck_assert_int_eq(matchreq_build(&db, &cfg, "2222222222", "m1", now, &m,
	    why, sizeof(why), &err), 1);
	ck_assert_msg(strstr(why, "no Coverage of Patient/m1 names the payer")
	    != NULL, "%s", why);
	ck_assert_int_eq(err.status, 0);
}
END_TEST

/* Every lookup the receiving side repeats per member is an index search. */
START_TEST(query_plans)
{
	const char *const *const sets[] = { due_queries, matchreq_queries,
	    ingest_queries, flow_queries };
	const char	*const *q;
	struct db_stmt	*st;
	char		 sql[2048], plan[1024];
	size_t		 n, i;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		for (q = sets[i]; *q != NULL; q++) {
			snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", *q);
			ck_assert_int_eq(db_prepare(&db, sql, &st,
			    NULL), 0);
			n = 0;
			plan[0] = '\0';
			while (db_step(st) == DB_ROW)
				n += (size_t)snprintf(plan + n, sizeof(plan) - n,
				    "%s; ", db_col_text(st,
				    3));
			db_finalize(st);
			fprintf(stderr, "plan: %s\n  -> %s\n", *q, plan);
			ck_assert_msg(strstr(plan, "USING") != NULL,
			    "no index: %s: %s", *q, plan);
			ck_assert_msg(strstr(plan, "SCAN") == NULL,
			    "scan: %s: %s", *q, plan);
		}
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_CASE("pure", NULL, NULL, 0),
		UNIT_TEST(machine),
		UNIT_TEST(backoff),
		UNIT_TEST(deadline),
		UNIT_TEST(late),
		UNIT_CASE("store", setup, teardown, 0),
		UNIT_TEST(sync_and_events),
		UNIT_TEST(retry_after_honoured),
		UNIT_TEST(build_request),
		UNIT_TEST(build_refused),
		UNIT_TEST(query_plans),
	};

	return unit_run(unit_tests("peer_state", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
