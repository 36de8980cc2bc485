/*
 * Unit tests for peer/idmap.c, peer/provenance.c and peer/ingest.c:
 * received resources under our ids and our member, with Provenance,
 * nothing stored twice, nothing half stored.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/idmap.h"
#include "peer/ingest.h"
#include "peer/provenance.h"
#include "store/loader.h"
#include "unit.h"

#define NPI_A	"1111111111"
#define BASE_A	"https://payer-a.example/fhir"

/* --- idmap ------------------------------------------------------------- */

static int
members(void *arg, const char *remote, char *local, size_t sz)
{
	(void)arg;
	if (strcmp(remote, "p42") != 0)
		return 0;
	snprintf(local, sz, "ours-7");
	return 1;
}

static int
aliases(void *arg, const char *type, const char *remote, char *local,
    size_t sz)
{
	(void)arg;
	if (strcmp(type, "Organization") != 0 || strcmp(remote, "payer") != 0)
		return 0;
	snprintf(local, sz, "org-payer-a");
	return 1;
}

START_TEST(idmap_ids)
{
	char	 a[IDMAP_ID_MAX], b[IDMAP_ID_MAX], c[IDMAP_ID_MAX];

	idmap_id(NPI_A, "Observation", "123", a);
	idmap_id(NPI_A, "Observation", "123", b);
	ck_assert_str_eq(a, b);			/* deterministic */
	ck_assert_uint_eq(strlen(a), 33);
	ck_assert_int_eq(a[0], 'r');
	idmap_id("2222222222", "Observation", "123", c);
	ck_assert_str_ne(a, c);			/* payers never collide */
	idmap_id(NPI_A, "Condition", "123", c);
	ck_assert_str_ne(a, c);			/* nor types */
	ck_assert_int_eq(fhir_valid_id(a), 1);
}
END_TEST

/* References: input, expected output ("" = unchanged), line. */
static const struct unit_case refs[] = {
	{ "Patient/p42", "Patient/ours-7", __LINE__ },
	{ "Patient/p42/_history/3", "Patient/ours-7", __LINE__ },
	{ BASE_A "/Patient/p42", "Patient/ours-7", __LINE__ },
	{ "Organization/payer", "Organization/org-payer-a", __LINE__ },
	{ "#contained", "", __LINE__ },
	{ "urn:uuid:0b0e0e0e-0000-4000-8000-000000000000", "", __LINE__ },
	{ "https://other.example/fhir/Practitioner/9", "", __LINE__ },
	{ "Practitioner?identifier=x|1", "", __LINE__ },
	{ "not a reference", "", __LINE__ },
	{ "Bad type/1", "", __LINE__ },
};

START_TEST(idmap_refs)
{
	struct idmap	 m;
	char		 out[200];
	int		 rc;

	memset(&m, 0, sizeof(m));
	m.npi = NPI_A;
	m.base = BASE_A;
	m.member = members;
	m.alias = aliases;
	rc = idmap_ref(&m, refs[_i].in, out, sizeof(out));
	if (refs[_i].want[0] == '\0')
		ck_assert_msg(rc == 0, "line %d changed to %s", refs[_i].line,
		    out);
	else {
		ck_assert_msg(rc == 1, "line %d unchanged", refs[_i].line);
		ck_assert_str_eq(out, refs[_i].want);
	}
	ck_assert_str_eq(m.stranger, "");
}
END_TEST

START_TEST(idmap_other_refs)
{
	struct idmap	 m;
	char		 out[200], want[200], id[IDMAP_ID_MAX];

	memset(&m, 0, sizeof(m));
	m.npi = NPI_A;
	m.base = BASE_A;
	m.member = members;
	m.alias = aliases;
	/* any other resource: its mapped id, versions dropped */
	ck_assert_int_eq(idmap_ref(&m, BASE_A "/Encounter/e1/_history/2", out,
	    sizeof(out)), 1);
	idmap_id(NPI_A, "Encounter", "e1", id);
	snprintf(want, sizeof(want), "Encounter/%s", id);
	ck_assert_str_eq(out, want);
	/* a Patient that is none of our members: mapped, and noted */
	ck_assert_int_eq(idmap_ref(&m, "Patient/p43", out, sizeof(out)), 1);
	ck_assert_str_eq(m.stranger, "Patient/p43");
}
END_TEST

START_TEST(idmap_rewrite_all)
{
	static const char eob[] = "{\"resourceType\":\"ExplanationOfBenefit\","
	    "\"id\":\"eob1\",\"patient\":{\"reference\":\"Patient/p42\"},"
	    "\"insurer\":{\"reference\":\"Organization/payer\"},"
	    "\"contained\":[{\"resourceType\":\"Practitioner\",\"id\":\"c1\"}],"
	    "\"careTeam\":[{\"provider\":{\"reference\":\"#c1\"}}],"
	    "\"item\":[{\"encounter\":[{\"reference\":\"Encounter/e9\"}]}]}";
	struct idmap	 m;
	struct p2p_err	 err;
	json_object	*o;
	char		 id[IDMAP_ID_MAX], enc[80];

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(eob, strlen(eob), &o, &err), 0);
	memset(&m, 0, sizeof(m));
	m.npi = NPI_A;
	m.base = BASE_A;
	m.member = members;
	m.alias = aliases;
	ck_assert_int_eq(idmap_rewrite(&m, o, &err), 0);
	idmap_id(NPI_A, "ExplanationOfBenefit", "eob1", id);
	ck_assert_str_eq(fhir_id(o), id);
	ck_assert_str_eq(fhir_path_str(o, "patient.reference"), "Patient/ours-7");
	ck_assert_str_eq(fhir_path_str(o, "insurer.reference"),
	    "Organization/org-payer-a");
	ck_assert_str_eq(fhir_path_str(o, "careTeam.provider.reference"),
	    "#c1");
	ck_assert_str_eq(fhir_path_str(o, "contained.id"), "c1");
	idmap_id(NPI_A, "Encounter", "e9", id);
	snprintf(enc, sizeof(enc), "Encounter/%s", id);
	ck_assert_str_eq(fhir_path_str(o, "item.encounter.reference"), enc);
	json_object_put(o);
}
END_TEST

/* --- provenance ---------------------------------------------------------- */

START_TEST(provenance_shape)
{
	char		*targets[] = { "Observation/ra", "Condition/rb" };
	struct prov_info pi;
	struct p2p_err	 err;
	json_object	*p;
	char		 id1[IDMAP_ID_MAX], id2[IDMAP_ID_MAX];

	memset(&pi, 0, sizeof(pi));
	pi.member = "m1";
	pi.source = "/bulk/j/Observation-1.ndjson";
	pi.recorded = "2027-01-05T10:00:00Z";
	pi.peer_npi = NPI_A;
	pi.peer_name = "payer-a";
	pi.our_npi = "1234567893";
	pi.our_name = "Payer B";
	pi.targets = targets;
	pi.ntargets = 2;
	p2p_err_init(&err);
	ck_assert_ptr_nonnull(p = prov_new(&pi, &err));
	ck_assert_str_eq(fhir_type(p), "Provenance");
	ck_assert_str_eq(fhir_path_str(p, "meta.profile"), PROV_PROFILE);
	ck_assert_str_eq(fhir_str(p, "recorded"), "2027-01-05T10:00:00Z");
	ck_assert_int_eq(json_object_array_length(fhir_get(p, "target",
	    json_type_array)), 2);
	ck_assert_str_eq(fhir_path_str(p, "agent.type.coding.code"),
	    "transmitter");
	ck_assert_str_eq(fhir_path_str(p, "agent.who.identifier.value"), NPI_A);
	ck_assert_str_eq(fhir_str(json_object_array_get_idx(fhir_get(p, "agent",
	    json_type_array), 1) ? fhir_get(json_object_array_get_idx(fhir_get(p,
	    "agent", json_type_array), 1), "who", json_type_object) : NULL,
	    "display"), "Payer B");
	ck_assert_str_eq(fhir_path_str(p, "entity.role"), "source");
	ck_assert_str_eq(fhir_path_str(p,
	    "entity.extension.valueCodeableConcept.coding.code"), "hl7fhirr4");
	/* same member and source: same id (a reload replaces it) */
	prov_id(NPI_A, "m1", pi.source, id1);
	ck_assert_str_eq(fhir_id(p), id1);
	prov_id(NPI_A, "m2", pi.source, id2);
	ck_assert_str_ne(id1, id2);
	json_object_put(p);
	pi.ntargets = 0;
	p2p_err_init(&err);
	ck_assert_ptr_null(prov_new(&pi, &err));
}
END_TEST

/* --- ingest ---------------------------------------------------------------- */

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static struct peer		 peer;

static void
setup(void)
{
	static const char ours[] =
	    "{\"resourceType\":\"Organization\",\"id\":\"org-payer-a\","
	    "\"identifier\":[{\"system\":\"http://hl7.org/fhir/sid/us-npi\","
	    "\"value\":\"" NPI_A "\"}]}\n"
	    "{\"resourceType\":\"Patient\",\"id\":\"m1\",\"name\":[{\"family\":"
	    "\"Doe\",\"given\":[\"Ann\"]}],\"birthDate\":\"1980-02-03\"}\n";
	struct load_stats	 st;
	struct p2p_err		 err;
	FILE			*f;

	unit_db_open(&db);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp");
	config_defaults(&cfg);
	snprintf(cfg.org_npi, sizeof(cfg.org_npi), "1234567893");
	memset(&peer, 0, sizeof(peer));
	snprintf(peer.name, sizeof(peer.name), "payer-a");
	snprintf(peer.npi, sizeof(peer.npi), NPI_A);
	snprintf(peer.base_url, sizeof(peer.base_url), BASE_A);
	p2p_err_init(&err);
	f = fmemopen((void *)ours, strlen(ours), "r");
	ck_assert_int_eq(load_stream(&db, f, "ours", LOAD_NDJSON, 0, &st, &err),
	    0);
	fclose(f);
}

static void
teardown(void)
{
	db_close(&db);
}

/* Writes text to a temporary file; returns its path (static). */
static const char *
file_of(const char *text)
{
	static char	 path[64];
	int		 fd;

	snprintf(path, sizeof(path), "/tmp/check_peer_ingest_f.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char sent[] =
    "{\"resourceType\":\"Patient\",\"id\":\"p42\",\"name\":[{\"family\":"
    "\"Doe\"}]}\n"
    "{\"resourceType\":\"Organization\",\"id\":\"payer\",\"identifier\":[{"
    "\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"" NPI_A "\"}]}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"cov\",\"status\":\"active\","
    "\"subscriberId\":\"S1\",\"beneficiary\":{\"reference\":\"Patient/p42\"},"
    "\"payor\":[{\"reference\":\"Organization/payer\"}]}\n"
    "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"meta\":{\"lastUpdated\":"
    "\"2024-01-01T00:00:00Z\"},\"subject\":{\"reference\":\""
    BASE_A "/Patient/p42\"},\"recordedDate\":\"2024-01-01\"}\n"
    "{\"resourceType\":\"Practitioner\",\"id\":\"dr\"}\n";

/* What ingest_stores_once must find stored after the first transfer. */
static const struct unit_count	 stored[] = {
	/* their Patient is not stored; our member keeps one Patient */
	{ "SELECT count(*) FROM resource WHERE type = 'Patient'", 1 },
	/* their payer Organization is ours (same NPI): an alias */
	{ "SELECT count(*) FROM resource WHERE type = 'Organization'", 1 },
	{ "SELECT count(*) FROM peer_alias WHERE local_id = 'org-payer-a'"
	  " AND remote_id = 'payer'", 1 },
	{ "SELECT count(*) FROM resource WHERE patient = 'm1'"
	  " AND type IN ('Coverage', 'Condition')", 2 },
	{ "SELECT count(*) FROM resource WHERE patient IS NULL"
	  " AND type = 'Practitioner'", 1 },
	{ "SELECT count(*) FROM resource WHERE type = 'Coverage'"
	  " AND json LIKE '%Organization/org-payer-a%'"
	  " AND json LIKE '%Patient/m1%'", 1 },
};

START_TEST(ingest_stores_once)
{
	struct ingest		 g;
	struct p2p_err		 err;
	const char		*path = file_of(sent);
	char			 cid[IDMAP_ID_MAX], sql[300];

	ingest_init(&g, &db, &cfg, &peer);
	ck_assert_int_eq(ingest_member(&g, "m1", "p42"), 0);
	p2p_err_init(&err);
	ck_assert_msg(ingest_file(&g, path, "/bulk/j/x.ndjson", &err) == 0,
	    "%s", err.msg);
	unit_counts(&db, NULL, stored, UNIT_N(stored));
	/* classified like our own: the Condition's date of service */
	idmap_id(NPI_A, "Condition", "c1", cid);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM resource WHERE id ="
	    " '%s' AND dos = '2024-01-01' AND last_updated ="
	    " '2024-01-01T00:00:00Z'", cid);
	ck_assert_int_eq(unit_int(&db, sql), 1);
	/* one Provenance, in the member's compartment, over both */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource WHERE type ="
	    " 'Provenance' AND patient = 'm1'"), 1);
	ck_assert_int_eq(g.m[0].stored, 2);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM audit WHERE event ="
	    " 'receive' AND patient = 'm1'"), 1);
	/* again, even from another transfer: nothing twice, and nothing
	 * counted as received anew */
	p2p_err_init(&err);
	ck_assert_int_eq(ingest_file(&g, path, "/bulk/k/x.ndjson", &err), 0);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource"), 6);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource WHERE type ="
	    " 'Provenance'"), 1);
	ck_assert_int_eq(g.unchanged, 3);
	ck_assert_int_eq(g.m[0].stored, 2);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM audit WHERE event ="
	    " 'receive'"), 1);
	ingest_free(&g);
	unlink(path);
}
END_TEST

/*
 * What a PDex sender (p2p included) adds to an export: its transmitter
 * Provenance per member, new at every transmission (id and recorded
 * differ), is not kept: ours says the same.  A source system's
 * Provenance (an author), and a transmitter that is not the peer, are.
 */
START_TEST(ingest_drops_the_peers_transmission)
{
	static const char fmt[] =
	    "{\"resourceType\":\"Patient\",\"id\":\"p42\"}\n"
	    "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":"
	    "{\"reference\":\"Patient/p42\"},\"recordedDate\":\"2024-01-01\"}\n"
	    "{\"resourceType\":\"Provenance\",\"id\":\"tx-%s\",\"target\":"
	    "[{\"reference\":\"Condition/c1\"},{\"reference\":\"Patient/p42\"}],"
	    "\"recorded\":\"2025-06-0%sT00:00:00Z\",\"agent\":[{\"type\":"
	    "{\"coding\":[{\"code\":\"transmitter\"}]},\"who\":{\"identifier\":"
	    "{\"system\":\"http://hl7.org/fhir/sid/us-npi\",\"value\":\""
	    NPI_A "\"}}}]}\n"
	    "{\"resourceType\":\"Provenance\",\"id\":\"src\",\"target\":"
	    "[{\"reference\":\"Condition/c1\"}],\"recorded\":"
	    "\"2024-01-01T00:00:00Z\",\"agent\":[{\"type\":{\"coding\":[{"
	    "\"code\":\"author\"}]},\"who\":{\"identifier\":{\"system\":"
	    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"1999999984\"}}}]}\n"
	    "{\"resourceType\":\"Provenance\",\"id\":\"other\",\"target\":"
	    "[{\"reference\":\"Condition/c1\"}],\"recorded\":"
	    "\"2024-01-01T00:00:00Z\",\"agent\":[{\"type\":{\"coding\":[{"
	    "\"code\":\"transmitter\"}]},\"who\":{\"identifier\":{\"system\":"
	    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"1999999984\"}}}]}\n";
	struct ingest		 g;
	struct p2p_err		 err;
	char			 text[2048], path[64];
	long long		 n;
	int			 i;

	ingest_init(&g, &db, &cfg, &peer);
	ck_assert_int_eq(ingest_member(&g, "m1", "p42"), 0);
	for (i = 1; i <= 2; i++) {
		snprintf(text, sizeof(text), fmt, i == 1 ? "a" : "b",
		    i == 1 ? "1" : "2");
		snprintf(path, sizeof(path), "%s", file_of(text));
		p2p_err_init(&err);
		ck_assert_msg(ingest_file(&g, path, "/bulk/j/x.ndjson", &err) ==
		    0, "%s", err.msg);
		unlink(path);
		ck_assert_int_eq(g.transmissions, i);
		/* theirs of sending: none; ours: one, once */
		ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource"
		    " WHERE type = 'Provenance' AND json LIKE '%\"recorded\":"
		    "\"2025-06-0%'"), 0);
		ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource"
		    " WHERE type = 'Provenance' AND patient = 'm1'"), 1);
		/* the author's and another transmitter's are kept, once */
		ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource"
		    " WHERE type = 'Provenance' AND patient IS NULL"), 2);
	}
	/* the second transmission stored nothing */
	n = unit_int(&db, "SELECT count(*) FROM resource");
	ck_assert_int_eq(n, 2 + 1 + 1 + 2);
	ingest_free(&g);
}
END_TEST

/* Files that must be refused whole: content, message, line. */
static const struct unit_case refused[] = {
	{ "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{"
	    "\"reference\":\"Patient/p42\"}}\n"
	    "{\"resourceType\":\"Condition\",\"id\":\"c2\",\"subject\":{"
	    "\"reference\":\"Patient/someone\"}}\n",
	    "line 2: Condition/c2 belongs to Patient/someone, who is none of "
	    "the members", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{"
	    "\"reference\":\"Patient/p42\"}}\n"
	    "{\"resourceType\":\"Patient\",\"id\":\"someone\"}\n",
	    "line 2: Patient/someone is none of the members", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{"
	    "\"reference\":\"Patient/p42\"}}\n{\"resourceType\":\n",
	    "line 2:", __LINE__ },
	{ "{\"resourceType\":\"Condition\",\"subject\":{"
	    "\"reference\":\"Patient/p42\"}}\n", "valid resourceType and id",
	    __LINE__ },
};

START_TEST(ingest_refuses_whole_file)
{
	struct ingest	 g;
	struct p2p_err	 err;
	const char	*path = file_of(refused[_i].in);
	long long	 before = unit_int(&db, "SELECT count(*) FROM resource");

	ingest_init(&g, &db, &cfg, &peer);
	ck_assert_int_eq(ingest_member(&g, "m1", "p42"), 0);
	p2p_err_init(&err);
	ck_assert_msg(ingest_file(&g, path, "src", &err) == -1,
	    "line %d stored", refused[_i].line);
	ck_assert_msg(strstr(err.msg, refused[_i].want) != NULL,
	    "line %d: \"%s\" lacks \"%s\"", refused[_i].line, err.msg,
	    refused[_i].want);
	/* nothing half stored, no count left behind */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM resource"), before);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM audit WHERE event ="
	    " 'receive'"), 0);
	ck_assert_int_eq(g.m[0].stored, 0);
	ingest_free(&g);
	unlink(path);
}
END_TEST

/* A synchronous $everything Bundle: one transaction, same rules. */
START_TEST(ingest_bundle_entries)
{
	static const char b[] = "[{\"resource\":{\"resourceType\":\"Patient\","
	    "\"id\":\"p42\"}},{\"resource\":{\"resourceType\":\"Observation\","
	    "\"id\":\"o1\",\"subject\":{\"reference\":\"Patient/p42\"}}},"
	    "{\"resource\":{\"resourceType\":\"Provenance\",\"id\":\"t\","
	    "\"target\":[{\"reference\":\"Bundle/b1\"}],\"recorded\":"
	    "\"2027-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"display\":"
	    "\"x\"}}]}}]";
	static const struct unit_count	 kept[] = {
		{ "SELECT count(*) FROM resource WHERE patient = 'm1'"
		  " AND type = 'Observation'", 1 },
		/* the Bundle's own Provenance targets nothing we keep; ours
		 * does */
		{ "SELECT count(*) FROM resource"
		  " WHERE type = 'Provenance'", 1 },
		{ "SELECT count(*) FROM resource WHERE type = 'Provenance'"
		  " AND json LIKE '%$everything%'", 1 },
	};
	struct ingest			 g;
	struct p2p_err			 err;
	json_object			*entries;

	p2p_err_init(&err);
	ck_assert_int_eq(fhir_parse(b, strlen(b), &entries, &err), 0);
	ingest_init(&g, &db, &cfg, &peer);
	ck_assert_int_eq(ingest_member(&g, "m1", "p42"), 0);
	ck_assert_msg(ingest_entries(&g, entries, "Patient/p42/$everything",
	    &err) == 0, "%s", err.msg);
	unit_counts(&db, NULL, kept, UNIT_N(kept));
	ingest_free(&g);
	json_object_put(entries);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_CASE("idmap", NULL, NULL, 0),
		UNIT_TEST(idmap_ids),
		UNIT_TABLE(idmap_refs, refs),
		UNIT_TEST(idmap_other_refs),
		UNIT_TEST(idmap_rewrite_all),
		UNIT_TEST(provenance_shape),
		UNIT_CASE("ingest", setup, teardown, 0),
		UNIT_TEST(ingest_stores_once),
		UNIT_TEST(ingest_drops_the_peers_transmission),
		UNIT_TABLE(ingest_refuses_whole_file, refused),
		UNIT_TEST(ingest_bundle_entries),
	};

	return unit_run(unit_tests("peer_ingest", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
