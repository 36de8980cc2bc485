/*
 * bulkmatch.c - PDex $bulk-member-match (see bulkmatch.h): request
 * checks shared with the kick-off, and the runner's work.
 *
 * The runner works in three steps, so that a runner killed half way
 * leaves nothing a retry would duplicate:
 *   1. sort every member, reading only (match_find, consent_validate,
 *      consent_optout); a MemberBundle that fails is reported in the
 *      error file and never affects the others (PDex 2.2 §pdex-154a);
 *   2. one transaction: forget Groups an earlier attempt of this job
 *      stored (reusing the Consents it stored, so a retry stores none
 *      twice), store each matched member's Consent and match record
 *      (a Consent that cannot be stored moves its member to
 *      ConsentConstrainedMembers), insert the Groups;
 *   3. write the Group ndjson (PDex 2.2) and the Parameters ndjson
 *      holding the same Groups (PDex 2.1).
 * The matched members are the job's members (job_member, stored in
 * step 2), so a revoked consent withdraws the files like any export
 * file; a job that fails after step 2 keeps no member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "jobs/members.h"
#include "json/fhir.h"
#include "member/audit.h"
#include "member/bulkmatch.h"
#include "member/consent.h"

/* --- request checks ---------------------------------------------------- */

struct part_rule {
	const char	*name;		/* part name */
	const char	*type;		/* resourceType required */
	int		 required;	/* 1..1 rather than 0..1 */
};

/* PDex pdex-parameters-multi-member-match-bundle-in, MemberBundle parts. */
static const struct part_rule parts[] = {
	{ "MemberPatient", "Patient", 1 },
	{ "CoverageToMatch", "Coverage", 1 },
	{ "CoverageToLink", "Coverage", 0 },
	{ "Consent", "Consent", 1 },
};
#define NPARTS	(sizeof(parts) / sizeof(parts[0]))

/*
 * Reads the parts of one MemberBundle.  A malformed one (no parts, an
 * unknown or repeated part, a part with the wrong resource) is always
 * an error; a missing required part only when require is set: the
 * kick-off accepts such a MemberBundle and the runner reports it alone
 * in the error file (PDex 2.2 pdex-154a: one bad member never fails the
 * others).  With k, what matching reads of a MemberPatient (and its
 * CoverageToMatch) is checked and read into it (match_key_of(), the
 * same rules as $member-match); k->family stays "" without a
 * MemberPatient.
 */
static int
parts_scan(json_object *param, size_t index, int require,
    struct match_input *in, struct match_key *k, struct p2p_err *err)
{
	json_object	*arr, *p, *res, *found[NPARTS] = { NULL };
	const char	*name;
	char		 pbase[64], cbase[64];
	size_t		 i, kk, n, at[NPARTS] = { 0 };

	memset(in, 0, sizeof(*in));
	if (k != NULL)
		memset(k, 0, sizeof(*k));
	if (!json_object_is_type(param, json_type_object) ||
	    (arr = fhir_get(param, "part", json_type_array)) == NULL)
		return p2p_fail(err, 400, P2P_ISSUE_REQUIRED,
		    "MemberBundle %zu: no parts", index + 1);
	n = json_object_array_length(arr);
	if (n > 16)
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "MemberBundle %zu: too many parts", index + 1);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(arr, i);
		name = json_object_is_type(p, json_type_object) ?
		    fhir_str(p, "name") : NULL;
		if (name == NULL)
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "MemberBundle %zu: part %zu has no name",
			    index + 1, i + 1);
		for (kk = 0; kk < NPARTS; kk++)
			if (strcmp(name, parts[kk].name) == 0)
				break;
		if (kk == NPARTS)
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "MemberBundle %zu: unknown part %.64s",
			    index + 1, name);
		if (found[kk] != NULL)
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "MemberBundle %zu: part %s given twice",
			    index + 1, parts[kk].name);
		res = fhir_get(p, "resource", json_type_object);
		if (res == NULL || fhir_type(res) == NULL ||
		    strcmp(fhir_type(res), parts[kk].type) != 0)
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "MemberBundle %zu: part %s must hold a %s resource",
			    index + 1, parts[kk].name, parts[kk].type);
		found[kk] = res;
		at[kk] = i;
	}
	for (kk = 0; require && kk < NPARTS; kk++)
		if (parts[kk].required && found[kk] == NULL)
			return p2p_fail(err, 400, P2P_ISSUE_REQUIRED,
			    "MemberBundle %zu: part %s is required",
			    index + 1, parts[kk].name);
	in->patient = found[0];
	in->coverage = found[1];
	in->link = found[2];
	in->consent = found[3];
	if (k == NULL || in->patient == NULL)
		return 0;
	snprintf(pbase, sizeof(pbase), "Parameters.parameter[%zu].part[%zu]"
	    ".resource", index, at[0]);
	snprintf(cbase, sizeof(cbase), "Parameters.parameter[%zu].part[%zu]"
	    ".resource", index, at[1]);
	if (match_key_of(in->patient, in->coverage, pbase, cbase, k,
	    err) == -1) {
		/* The message names the MemberBundle as the others do. */
		snprintf(pbase, sizeof(pbase), "MemberBundle %zu: ", index + 1);
		memmove(err->msg + strlen(pbase), err->msg,
		    sizeof(err->msg) - strlen(pbase) - 1);
		memcpy(err->msg, pbase, strlen(pbase));
		err->msg[sizeof(err->msg) - 1] = '\0';
		return -1;
	}
	return 0;
}

int
bulk_match_parts(json_object *param, size_t index, struct match_input *in,
    struct match_key *k, struct p2p_err *err)
{
	return parts_scan(param, index, 1, in, k, err);
}

int
bulk_match_check(json_object *body, long long max, json_object **bundles,
    struct p2p_err *err)
{
	json_object		*arr, *p, *out;
	struct match_input	 in;
	struct match_key	 k;
	const char		*name;
	size_t			 i, n;

	*bundles = NULL;
	if (body == NULL || fhir_type(body) == NULL ||
	    strcmp(fhir_type(body), "Parameters") != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE,
		    "resourceType", "the body must be a Parameters resource");
	if ((arr = fhir_get(body, "parameter", json_type_array)) == NULL ||
	    (n = json_object_array_length(arr)) == 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
		    "Parameters.parameter",
		    "at least one MemberBundle parameter is required");
	if ((long long)n > max)
		return p2p_fail(err, 413, P2P_ISSUE_TOO_COSTLY,
		    "%zu MemberBundles exceed this server's limit of %lld "
		    "per request", n, max);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(arr, i);
		name = json_object_is_type(p, json_type_object) ?
		    fhir_str(p, "name") : NULL;
		if (name == NULL || strcmp(name, "MemberBundle") != 0)
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "parameter %zu: only MemberBundle parameters are "
			    "accepted", i + 1);
		if (parts_scan(p, i, 0, &in, &k, err) == -1)
			return -1;
	}
	if ((out = json_object_get(arr)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	*bundles = out;
	return 0;
}

#define GUARD_CHUNK	256	/* MemberBundles per guard transaction */

/*
 * The probing guard of the kick-off, GUARD_CHUNK MemberBundles a
 * transaction (the attempts recorded stay recorded): each complete
 * MemberBundle is an attempt of client, in order (one guard with
 * $member-match: match_probe()).  Sets *throttled to the indexes of
 * those over the limit (a new array), each audited as refused; the
 * runner reports them in NonMatchedMembers without matching them, so
 * the answer says nothing about the member.  Deciding here keeps the
 * decision the same when a runner retries the job.
 */
static int
guard(struct p2p_db *db, const struct p2p_config *cfg, const char *client,
    json_object *bundles, time_t now, json_object **throttled,
    struct p2p_err *err)
{
	struct match_input	 in;
	struct match_key	*k;
	struct p2p_err		 e;
	char			 pre[40];
	size_t			 i, n = json_object_array_length(bundles);

	if ((*throttled = json_object_new_array()) == NULL ||
	    (k = malloc(sizeof(*k))) == NULL) {
		json_object_put(*throttled);
		*throttled = NULL;
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if (db_begin(db, err) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		/* A few hundred at a time: $member-match waits for the
		 * write lock meanwhile. */
		if (i > 0 && i % GUARD_CHUNK == 0 && (db_commit(db, err) == -1 ||
		    db_begin(db, err) == -1))
			goto fail;
		p2p_err_init(&e);
		/* An incomplete one fails alone in the runner, unmatched. */
		if (parts_scan(json_object_array_get_idx(bundles, i), i, 1,
		    &in, k, &e) == -1)
			continue;
		if (match_probe(db, client, k, cfg->probe_limit,
		    cfg->probe_window, now, 1, &e) == 0)
			continue;
		if (e.status != 429) {
			*err = e;
			goto fail;
		}
		snprintf(pre, sizeof(pre), "MemberBundle %zu: ", i + 1);
		memmove(e.msg + strlen(pre), e.msg,
		    sizeof(e.msg) - strlen(pre) - 1);
		memcpy(e.msg, pre, strlen(pre));
		e.msg[sizeof(e.msg) - 1] = '\0';
		if (audit_refusal(db, AUDIT_MATCH, "bulk-member-match", client,
		    NULL, 0, &e, err) == -1)
			goto fail;
		if (fhir_push(*throttled, json_object_new_int64(
		    (int64_t)i)) == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
			goto fail;
		}
	}
	if (db_commit(db, err) == -1)
		goto fail;
	free(k);
	return 0;
fail:
	db_rollback(db);
	free(k);
	json_object_put(*throttled);
	*throttled = NULL;
	return -1;
}

int
bulk_match_queue(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client, const char *npi, const char *org_id,
    json_object *body, time_t now, char id[JOB_ID_LEN + 1],
    struct p2p_err *err)
{
	json_object	*bundles = NULL, *throttled = NULL, *p;
	char		 date[16], url[700];
	int		 rc;

	if (bulk_match_check(body, cfg->bulk_max_members, &bundles,
	    err) == -1)
		return -1;
	if (guard(db, cfg, client, bundles, now, &throttled, err) == -1) {
		json_object_put(bundles);
		return -1;
	}
	/* What bulk_match_run() reads: the requesting payer, the date of
	 * the request, the MemberBundles, those the guard stopped. */
	time_date(now, date);
	if ((p = json_object_new_object()) == NULL)
		json_object_put(throttled);
	/* fhir_add() takes the value, even when it fails. */
	if (p == NULL || fhir_add(p, "throttled", throttled) == -1 ||
	    fhir_add_str(p, "npi", npi) == -1 ||
	    fhir_add_str(p, "org_id", org_id) == -1 ||
	    fhir_add_str(p, "date", date) == -1) {
		json_object_put(bundles);
		bundles = NULL;
	}
	if (bundles == NULL || fhir_add(p, "members", bundles) == -1) {
		json_object_put(p);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	snprintf(url, sizeof(url), "%s/Group/$bulk-member-match",
	    cfg->fhir_base);
	rc = job_create(db, cfg, client, JOB_BULK_MATCH, url, p, id, err);
	json_object_put(p);
	return rc;
}

/* --- the runner's work ------------------------------------------------- */

enum bucket {
	B_MATCH,	/* MatchedMembers */
	B_NOMATCH,	/* NonMatchedMembers */
	B_CONSENT,	/* ConsentConstrainedMembers */
	B_ERROR,	/* failed: reported in the error file only */
	B__MAX
};

static const char *const bucket_code[B__MAX] = {
	"match",		/* B_MATCH */
	"nomatch",		/* B_NOMATCH */
	"consentconstraint",	/* B_CONSENT */
	NULL,			/* B_ERROR */
};
static const char *const bucket_display[B__MAX] = {
	"Matched",		/* B_MATCH */
	"Not Matched",		/* B_NOMATCH */
	"Consent Constraint",	/* B_CONSENT */
	NULL,			/* B_ERROR */
};
static const char *const bucket_param[B__MAX] = {
	"MatchedMembers",		/* B_MATCH */
	"NonMatchedMembers",		/* B_NOMATCH */
	"ConsentConstrainedMembers",	/* B_CONSENT */
	NULL,				/* B_ERROR */
};

struct member {
	struct match_input	 in;		/* borrowed from job->params */
	enum bucket		 b;		/* where it went */
	char			 patient[128];	/* our Patient id, or "" */
	struct consent_terms	 terms;		/* validated consent */
	long long		 cid;		/* stored consent */
};

static const char *const sql_old_cid =
    "SELECT m.cid FROM match m JOIN grp g ON g.id = m.group_id"
    " WHERE g.job_id = ?1 AND m.client_id = ?2 AND m.patient = ?3"
    " AND m.cid IS NOT NULL ORDER BY m.mid LIMIT 1";
static const char *const sql_old_matches =
    "DELETE FROM match WHERE group_id IN"
    " (SELECT id FROM grp WHERE job_id = ?1)";
static const char *const sql_old_groups =
    "DELETE FROM grp WHERE job_id = ?1";
static const char *const sql_grp_ins =
    "INSERT INTO grp (id, client_id, job_id, kind, created, json)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char *const sql_grp_json =
    "UPDATE grp SET json = ?2 WHERE id = ?1";
static const char *const sql_grp_member =
    "INSERT OR IGNORE INTO grp_member (group_id, patient, cid)"
    " VALUES (?1, ?2, ?3)";

/* Reports a MemberBundle that could not be sorted in the error file. */
static int
member_error(struct job_out *o, size_t i, const struct p2p_err *why,
    struct p2p_err *err)
{
	char		 text[400];
	json_object	*oo;
	int		 rc;

	snprintf(text, sizeof(text), "MemberBundle %zu: %s", i + 1,
	    why->msg[0] ? why->msg : "could not be processed");
	if ((oo = fhir_outcome_new3("error", why->status >= 500 ?
	    P2P_ISSUE_EXCEPTION : why->issue, text)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	rc = job_out_error(o, oo, err);
	json_object_put(oo);
	return rc;
}

/* Step 1 for one member: where does it go? */
static void
sort_member(struct p2p_db *db, const struct p2p_config *cfg,
    const char *npi, const char *org_id, time_t now, json_object *param,
    size_t i, int throttled, struct match_key *k, struct member *m,
    struct p2p_err *why)
{
	enum match_result	 res;
	struct p2p_err		 e;
	int			 optout = 0;

	m->b = B_ERROR;
	if (bulk_match_parts(param, i, &m->in, k, why) == -1)
		return;
	if (throttled) {
		/* The probing guard stopped it at kick-off: never matched. */
		log_info("MemberBundle %zu: probing guard", i + 1);
		m->b = B_NOMATCH;
		return;
	}
	if (match_find(db, k, &res, m->patient, sizeof(m->patient),
	    why) == -1)
		return;
	if (res != MATCH_ONE) {
		m->patient[0] = '\0';
		m->b = B_NOMATCH;
		return;
	}
	/* Matched: can the Consent be honoured? (HRex, PDex §6.2) */
	p2p_err_init(&e);
	if (consent_validate(cfg, m->in.consent, npi, org_id, now, &m->terms,
	    &e) == -1) {
		if (e.status >= 500) {
			*why = e;
			return;
		}
		/* The reason stays in the log (PDex 2.2 §pdex-154c). */
		log_info("MemberBundle %zu: consent not honoured: %s", i + 1,
		    e.msg);
		m->b = B_CONSENT;
		return;
	}
	if (consent_optout(db, m->patient, &optout, why) == -1)
		return;
	if (optout)
		log_info("MemberBundle %zu: opt-out on file", i + 1);
	m->b = optout ? B_CONSENT : B_MATCH;
}

/*
 * A copy of the submitted Patient fit to be contained (PDex 2.2
 * §pdex-150..153): same content, without meta.versionId,
 * meta.lastUpdated, meta.security and nested contained; its id is kept
 * unless missing or already used in this Group.
 */
static json_object *
contained_patient(json_object *patient, size_t i, json_object *seen,
    char *cid, size_t cidsz)
{
	json_object	*copy = NULL, *meta;
	const char	*id;

	if (json_object_deep_copy(patient, &copy, NULL) != 0)
		return NULL;
	json_object_object_del(copy, "contained");
	if ((meta = fhir_get(copy, "meta", json_type_object)) != NULL) {
		json_object_object_del(meta, "versionId");
		json_object_object_del(meta, "lastUpdated");
		json_object_object_del(meta, "security");
		if (json_object_object_length(meta) == 0)
			json_object_object_del(copy, "meta");
	}
	id = fhir_id(copy);
	if (id != NULL && fhir_valid_id(id) &&
	    fhir_get(seen, id, json_type_boolean) == NULL)
		snprintf(cid, cidsz, "%s", id);
	else
		snprintf(cid, cidsz, "member-%zu", i + 1);
	if (fhir_add_str(copy, "id", cid) == -1 ||
	    fhir_add(seen, cid, json_object_new_boolean(1)) == -1) {
		json_object_put(copy);
		return NULL;
	}
	return copy;
}

/* The member.entity of one member (profiles in bulk-member-match.md §5). */
static json_object *
member_entry(const struct member *m, enum bucket b, const char *cid)
{
	json_object	*mem, *ent, *exts, *ext;
	char		 ref[160], local[80];

	snprintf(local, sizeof(local), "#%.70s", cid);
	if (b == B_MATCH)
		snprintf(ref, sizeof(ref), "Patient/%s", m->patient);
	else
		snprintf(ref, sizeof(ref), "%s", local);
	mem = json_object_new_object();
	ent = json_object_new_object();
	exts = json_object_new_array();
	ext = json_object_new_object();
	if (fhir_add(mem, "entity", ent) == -1 ||
	    fhir_add(ent, "extension", exts) == -1 ||
	    fhir_push(exts, ext) == -1 ||
	    fhir_add_str(ext, "url", BM_MATCH_EXT) == -1 ||
	    fhir_add(ext, "valueReference", fhir_ref_new("%s", local)) == -1 ||
	    fhir_add_str(ent, "reference", ref) == -1) {
		json_object_put(mem);
		return NULL;
	}
	return mem;
}

/* [{"system": NPI_SYSTEM, "value": npi}], or NULL out of memory. */
static json_object *
npi_identifiers(const char *npi)
{
	json_object	*a;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	if (fhir_push(a, fhir_ident_new(NPI_SYSTEM, npi)) == -1) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/*
 * One result Group with the members of bucket b, stored at created
 * (meta.lastUpdated).  Its identifier is the requesting payer's NPI, as
 * in PDex's examples: what a Group search by identifier finds.
 */
static json_object *
build_group(const struct p2p_config *cfg, enum bucket b, const char *gid,
    const char *npi, const char *date, const char *created,
    const struct member *ms, size_t n)
{
	json_object	*g, *meta, *prof, *chars, *ch, *period, *cont, *mems;
	json_object	*seen, *pat;
	char		 cid[80];
	size_t		 i, count = 0;
	int		 rc;

	g = fhir_resource_new("Group");
	meta = json_object_new_object();
	prof = json_object_new_array();
	seen = json_object_new_object();
	cont = json_object_new_array();
	mems = json_object_new_array();
	if (g == NULL || seen == NULL || cont == NULL || mems == NULL ||
	    fhir_add_str(g, "id", gid) == -1 ||
	    fhir_add(g, "meta", meta) == -1 ||
	    fhir_add_str(meta, "lastUpdated", created) == -1 ||
	    fhir_add(meta, "profile", prof) == -1 ||
	    fhir_push(prof, json_object_new_string(b == B_MATCH ?
	    BM_MATCH_PROFILE : BM_NOMATCH_PROFILE)) == -1 ||
	    fhir_add(g, "identifier", npi_identifiers(npi)) == -1 ||
	    fhir_add_str(g, "type", "person") == -1 ||
	    fhir_add_bool(g, "actual", 1) == -1 ||
	    fhir_add(g, "code", fhir_concept_new(BM_RESULT_CS,
	    bucket_code[b], bucket_display[b])) == -1)
		goto fail;
	if (b == B_MATCH) {
		/* The requesting payer and the date of the request. */
		chars = json_object_new_array();
		ch = json_object_new_object();
		period = json_object_new_object();
		if (fhir_add(g, "characteristic", chars) == -1 ||
		    fhir_push(chars, ch) == -1 ||
		    fhir_add(ch, "code", fhir_concept_new(BM_RESULT_CS, "match",
		    "Matched")) == -1 ||
		    fhir_add(ch, "valueReference", fhir_ident_ref_new(
		    NPI_SYSTEM, npi, NULL)) == -1 ||
		    fhir_add_bool(ch, "exclude", 0) == -1 ||
		    fhir_add(ch, "period", period) == -1 ||
		    fhir_add_str(period, "start", date) == -1)
			goto fail;
	}
	if (fhir_add(g, "managingEntity", fhir_ident_ref_new(NPI_SYSTEM,
	    cfg->org_npi, cfg->org_name)) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (ms[i].b != b)
			continue;
		pat = contained_patient(ms[i].in.patient, i, seen, cid,
		    sizeof(cid));
		if (fhir_push(cont, pat) == -1 ||
		    fhir_push(mems, member_entry(&ms[i], b, cid)) == -1)
			goto fail;
		count++;
	}
	if (fhir_add_int(g, "quantity", (long long)count) == -1)
		goto fail;
	/* FHIR JSON has no empty arrays. */
	if (count > 0) {
		rc = fhir_add(g, "contained", cont);
		cont = NULL;	/* adopted, or freed by fhir_add() */
		if (rc == -1)
			goto fail;
		rc = fhir_add(g, "member", mems);
		mems = NULL;
		if (rc == -1)
			goto fail;
	} else {
		json_object_put(cont);
		json_object_put(mems);
	}
	json_object_put(seen);
	return g;
fail:
	json_object_put(g);
	json_object_put(seen);
	json_object_put(cont);
	json_object_put(mems);
	return NULL;
}

/* A grp row for Group gid (its JSON is set once it is built). */
static int
insert_group(struct p2p_db *db, const struct job *job, const char *gid,
    enum bucket b, const char *created, struct p2p_err *err)
{
	return db_run(db, sql_grp_ins, err, "insert group", "tttttt", gid,
	    job->client_id, job->id, bucket_code[b], created, "{}");
}

/*
 * The consent an earlier attempt of this job stored for the member (a
 * runner that died after step 2 committed), or 0: a retry reuses it, so
 * a submitted Consent is stored, and its capture audited, once.
 */
static int
old_consent(struct p2p_db *db, const struct job *job, const char *patient,
    long long *cid, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	*cid = 0;
	if ((st = db_query(db, sql_old_cid, err, "ttt", job->id, job->client_id,
	    patient)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		*cid = db_col_int64(st, 0);
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "earlier consent");
	return 0;
}

/* Step 2 for one matched member, inside a savepoint. */
static int
store_member(struct p2p_db *db, const struct job *job, const char *gid,
    struct member *m, struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 again = m->cid > 0;

	if ((!again && consent_store(db, m->in.consent, &m->terms, m->patient,
	    job->client_id, &m->cid, err) == -1) ||
	    consent_record_match(db, job->client_id, m->patient, m->cid, gid,
	    0, err) == -1)
		return -1;
	if ((st = db_query(db, sql_grp_member, err, "ttI", gid, m->patient,
	    m->cid)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "insert group member") == -1)
		return -1;
	/*
	 * The files name the member with our Patient id: they are a release
	 * to the client, withdrawn like any export file when the member's
	 * consent is revoked or an opt-out is recorded.
	 */
	if (job_member_add(db, job->id, m->patient, m->cid, err) == -1)
		return -1;
	if (again)	/* audited by the attempt that stored it */
		return 0;
	return audit_log(db, "match", "success", job->client_id, m->patient,
	    m->cid, "bulk-member-match", err);
}

/* Step 2: everything stored in one transaction. */
static int
store(struct p2p_db *db, const struct p2p_config *cfg, const struct job *job,
    struct member *ms, size_t n, char gids[B_ERROR][40], const char *npi,
    const char *date, json_object *groups[B_ERROR], struct p2p_err *err)
{
	struct db_stmt	*st;
	struct p2p_err	 e;
	char		 created[32];
	size_t		 i;
	int		 b;

	if (db_begin(db, err) == -1)
		return -1;
	/*
	 * A retry after a dead runner replaces the Groups and matches it
	 * stored, but keeps the Consents it stored (see old_consent()).
	 */
	for (i = 0; i < n; i++)
		if (ms[i].b == B_MATCH && old_consent(db, job, ms[i].patient,
		    &ms[i].cid, err) == -1)
			goto fail;
	if (db_run_text(db, sql_old_matches, job->id, err, "bulk match") == -1 ||
	    db_run_text(db, sql_old_groups, job->id, err, "bulk match") == -1)
		goto fail;
	/* The matched Group first: grp_member rows refer to it. */
	time_instant(now_sec(), created);
	if (insert_group(db, job, gids[B_MATCH], B_MATCH, created, err) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (ms[i].b != B_MATCH)
			continue;
		if (db_exec(db, "SAVEPOINT member", err) == -1)
			goto fail;
		p2p_err_init(&e);
		if (store_member(db, job, gids[B_MATCH], &ms[i], &e) == 0) {
			if (db_exec(db, "RELEASE member", err) == -1)
				goto fail;
			continue;
		}
		/* The Consent could not be kept: consent constraint. */
		log_warn("job %s: MemberBundle %zu: %s", job->id, i + 1,
		    e.msg);
		if (db_exec(db, "ROLLBACK TO member; RELEASE member",
		    err) == -1)
			goto fail;
		ms[i].b = B_CONSENT;
		ms[i].cid = 0;
	}
	for (b = 0; b < B_ERROR; b++) {
		groups[b] = NULL;
		if (b != B_MATCH) {
			for (i = 0; i < n && ms[i].b != (enum bucket)b; i++)
				;
			if (i == n)
				continue;	/* only when it has members */
		}
		groups[b] = build_group(cfg, (enum bucket)b, gids[b], npi,
		    date, created, ms, n);
		if (groups[b] == NULL) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
			goto fail;
		}
		if (b != B_MATCH && insert_group(db, job, gids[b],
		    (enum bucket)b, created, err) == -1)
			goto fail;
		if ((st = db_stmt(db, sql_grp_json, err)) == NULL)
			goto fail;
		db_bind_text(st, 1, gids[b]);
		db_bind_text(st, 2, fhir_json(groups[b]));
		if (db_step_done(db, st, err, "store group") == -1)
			goto fail;
	}
	if (db_commit(db, err) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	for (b = 0; b < B_ERROR; b++) {
		json_object_put(groups[b]);
		groups[b] = NULL;
	}
	return -1;
}

/* Step 3: the Group file and the Parameters file. */
static int
write_output(struct job_out *o, json_object *groups[B_ERROR],
    struct p2p_err *err)
{
	json_object	*params, *arr, *p;
	const char	*s;
	int		 b;

	for (b = 0; b < B_ERROR; b++) {
		if (groups[b] == NULL)
			continue;
		s = fhir_json(groups[b]);
		if (job_out_write(o, "Group", s, strlen(s), err) == -1)
			return -1;
	}
	params = fhir_resource_new("Parameters");
	arr = json_object_new_array();
	if (params == NULL || fhir_add(params, "parameter", arr) == -1)
		goto oom;
	for (b = 0; b < B_ERROR; b++) {
		if (groups[b] == NULL)
			continue;
		p = json_object_new_object();
		if (fhir_push(arr, p) == -1 ||
		    fhir_add_str(p, "name", bucket_param[b]) == -1 ||
		    fhir_add(p, "resource", json_object_get(groups[b])) == -1)
			goto oom;
	}
	s = fhir_json(params);
	b = job_out_write(o, "Parameters", s, strlen(s), err);
	json_object_put(params);
	return b;
oom:
	json_object_put(params);
	return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
}

int
bulk_match_run(struct p2p_db *db, const struct p2p_config *cfg,
    const struct job *job, struct job_out *o, struct p2p_err *err)
{
	struct member		*ms = NULL;
	struct match_key	*k = NULL;
	json_object		*bundles, *groups[B_ERROR] = { NULL }, *thr;
	char			*stop = NULL;
	const char		*npi, *org, *date;
	char			 gids[B_ERROR][40];
	struct p2p_err		 why;
	time_t			 now = now_sec();
	size_t			 i, n;
	int			 b, rc = -1;

	bundles = fhir_get(job->params, "members", json_type_array);
	npi = fhir_str(job->params, "npi");
	org = fhir_str(job->params, "org_id");
	date = fhir_str(job->params, "date");
	if (bundles == NULL || npi == NULL || date == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "job parameters are incomplete");
	n = json_object_array_length(bundles);
	if ((ms = calloc(n ? n : 1, sizeof(*ms))) == NULL ||
	    (stop = calloc(n ? n : 1, 1)) == NULL ||
	    (k = malloc(sizeof(*k))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	/* The MemberBundles the probing guard stopped at kick-off. */
	thr = fhir_get(job->params, "throttled", json_type_array);
	for (i = 0; thr != NULL && i < json_object_array_length(thr); i++) {
		int64_t	 x = json_object_get_int64(
		    json_object_array_get_idx(thr, i));

		if (x >= 0 && (uint64_t)x < n)
			stop[x] = 1;
	}
	for (b = 0; b < B_ERROR; b++)
		if (rand_hex(gids[b], 16) == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "no random bytes");
			goto out;
		}
	for (i = 0; i < n; i++) {
		p2p_err_init(&why);
		sort_member(db, cfg, npi, org ? org : "", now,
		    json_object_array_get_idx(bundles, i), i, stop[i], k,
		    &ms[i], &why);
		if (ms[i].b == B_ERROR) {
			log_warn("job %s: MemberBundle %zu: %s", job->id, i + 1,
			    why.msg);
			if (member_error(o, i, &why, err) == -1)
				goto out;
		}
		if ((i % 16 == 15 || i + 1 == n) &&
		    job_progress(o, (long long)i + 1, (long long)n, err) == -1)
			goto out;
	}
	if (store(db, cfg, job, ms, n, gids, npi, date, groups, err) == -1 ||
	    write_output(o, groups, err) == -1)
		goto out;
	rc = 0;
out:
	for (b = 0; b < B_ERROR; b++)
		json_object_put(groups[b]);
	free(ms);
	free(stop);
	free(k);
	return rc;
}
