/*
 * datascope/classify.c - the CMS-0057-F payer-to-payer data scope, decided once per
 * resource at load time (see classify.h and README.md "Payer-to-payer data
 * scope").  Sources: ../shared/spec/consent-and-scope.md sections 2, 4
 * and 5 (HL7 THO security labels, PDex 2.x prior authorizations, CARIN
 * BB 2.1 non-financial "Basis" EOB profiles).
 *
 * Everything here is pure: no clock, no database.  The rules that need
 * the time of the export (N-year window, PA change window) are left to
 * the exporter, which compares the stored dos / changed columns.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/fhir.h"
#include "json/jscan.h"
#include "datascope/classify.h"
#include "core/util.h"

#define SYS_CONF	"http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
#define SYS_ACTCODE	"http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define SYS_CLAIMTYPE	"http://terminology.hl7.org/CodeSystem/claim-type"
#define SYS_ADJ		"http://terminology.hl7.org/CodeSystem/adjudication"
#define SYS_C4BBADJ	"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
#define SYS_NDC		"http://hl7.org/fhir/sid/ndc"
#define SYS_RXNORM	"http://www.nlm.nih.gov/research/umls/rxnorm"
#define SYS_INSTSUB	"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType"
#define C4BB_SD		"http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
#define C4BB_EOB	C4BB_SD "C4BB-ExplanationOfBenefit"
#define PDEX_REVIEW	"extension-reviewAction"
#define PDEX_REVIEWCODE	"reviewActionCode"

/*
 * Where each type keeps its date of service, in order of preference
 * (issue #6: "computed from the resource's own dates").  Paths follow
 * fhir_path(): the first element of any array on the way.  Types not
 * listed (Patient, Coverage, Organization, ...) have no date of service
 * and are always inside the window.  ExplanationOfBenefit is special
 * (item dates need every item), see eob_dos().
 */
static const struct {
	const char	*type;
	const char	*paths[4];
} dos_paths[] = {
	{ "Encounter", { "period.start" } },
	{ "Condition", { "onsetDateTime", "onsetPeriod.start",
	    "recordedDate" } },
	{ "Observation", { "effectiveDateTime", "effectivePeriod.start",
	    "effectiveInstant", "issued" } },
	{ "Procedure", { "performedDateTime", "performedPeriod.start" } },
	{ "MedicationRequest", { "authoredOn" } },
	{ "MedicationDispense", { "whenHandedOver", "whenPrepared" } },
	{ "MedicationStatement", { "effectiveDateTime",
	    "effectivePeriod.start", "dateAsserted" } },
	{ "Immunization", { "occurrenceDateTime" } },
	{ "AllergyIntolerance", { "recordedDate", "onsetDateTime",
	    "onsetPeriod.start" } },
	{ "DiagnosticReport", { "effectiveDateTime", "effectivePeriod.start",
	    "issued" } },
	{ "DocumentReference", { "date", "context.period.start" } },
	{ "CarePlan", { "period.start", "created" } },
	{ "ServiceRequest", { "authoredOn", "occurrenceDateTime",
	    "occurrencePeriod.start" } },
	{ "Claim", { "billablePeriod.start", "created" } },
};

/* v3-ActCode sensitivity and law codes treated as sensitive (spec 2). */
static const char *const sensitive_codes[] = {
	"ETH", "SUD", "ETHUD", "OPIOIDUD", "HIV", "STD", "PSY", "PSYTHPN",
	"MH", "BH", "SDV", "SEX", "GDIS", "SCA", "SICKLE", "PREGNANT", "MST",
	"TBOO", "42CFRPart2",
};

/*
 * Money categories of adjudication entries (CARIN BB C4BBAdjudication
 * value set, spec 5): entries in these categories are removed whole.
 */
static const char *const amount_adj[] = {
	"submitted", "copay", "eligible", "deductible", "benefit",
};
static const char *const amount_c4bb[] = {
	"coinsurance", "noncovered", "priorpayerpaid", "paidbypatient",
	"paidbypatientcash", "paidbypatientother",
	"paidbypatienthealthaccount", "paidtoprovider", "paidtopatient",
	"memberliability", "discount", "drugcost",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Copies the date part of a FHIR date/dateTime/instant into out as
 * YYYY-MM-DD.  The date is taken as written (a local date of service is
 * not shifted to UTC); partial dates take their first day.  0 or -1.
 */
static int
date_of(const char *s, char out[11])
{
	time_t	 t;
	size_t	 n;

	if (s == NULL || time_parse(s, 0, &t) == -1)
		return -1;
	n = strlen(s);
	if (n >= 10) {
		memcpy(out, s, 10);
		out[10] = '\0';
	} else if (n == 7) {
		memcpy(out, s, 7);
		memcpy(out + 7, "-01", 4);
	} else if (n == 4) {
		memcpy(out, s, 4);
		memcpy(out + 4, "-01-01", 7);
	} else
		return -1;
	return 0;
}

/* Normalises an instant/dateTime to "YYYY-MM-DDThh:mm:ssZ" (UTC). */
static int
instant_of(const char *s, int end, char out[32])
{
	time_t	 t;

	if (s == NULL || time_parse(s, end, &t) == -1)
		return -1;
	time_instant(t, out);
	return 0;
}

/*
 * ExplanationOfBenefit: billablePeriod.start, else the earliest item
 * servicedDate / servicedPeriod.start (the claim's start, as the
 * billable period would be), else created.
 */
static void
eob_dos(json_object *res, char out[11])
{
	json_object	*items, *it;
	char		 d[11];
	size_t		 i, n;

	if (date_of(fhir_path_str(res, "billablePeriod.start"), out) == 0)
		return;
	out[0] = '\0';
	if ((items = fhir_get(res, "item", json_type_array)) != NULL) {
		n = json_object_array_length(items);
		for (i = 0; i < n; i++) {
			it = json_object_array_get_idx(items, i);
			if (date_of(fhir_str(it, "servicedDate"), d) == -1 &&
			    date_of(fhir_path_str(it, "servicedPeriod.start"),
			    d) == -1)
				continue;
			if (out[0] == '\0' || strcmp(d, out) < 0)
				memcpy(out, d, sizeof(d));
		}
	}
	if (out[0] == '\0' && date_of(fhir_str(res, "created"), out) == -1)
		out[0] = '\0';
}

static void
find_dos(json_object *res, const char *type, char out[11])
{
	size_t	 i, j;

	out[0] = '\0';
	if (strcmp(type, "ExplanationOfBenefit") == 0) {
		eob_dos(res, out);
		return;
	}
	for (i = 0; i < NELEM(dos_paths); i++) {
		if (strcmp(dos_paths[i].type, type) != 0)
			continue;
		for (j = 0; j < NELEM(dos_paths[i].paths) &&
		    dos_paths[i].paths[j] != NULL; j++)
			if (date_of(fhir_path_str(res, dos_paths[i].paths[j]),
			    out) == 0)
				return;
		out[0] = '\0';
		return;
	}
}

/*
 * True for a meta.security label of confidentiality R or V or one of
 * the sensitivity codes above (spec 2, "Practical rule for #regular").
 */
static int
label_sensitive(const char *sys, const char *code)
{
	size_t	 i;

	if (sys == NULL || code == NULL)
		return 0;
	if (strcmp(sys, SYS_CONF) == 0)
		return strcmp(code, "R") == 0 || strcmp(code, "V") == 0;
	if (strcmp(sys, SYS_ACTCODE) != 0)
		return 0;
	for (i = 0; i < NELEM(sensitive_codes); i++)
		if (strcmp(code, sensitive_codes[i]) == 0)
			return 1;
	return 0;
}

/* Sensitive when any meta.security label is (label_sensitive()). */
static int
is_sensitive(json_object *res)
{
	json_object	*sec, *c;
	size_t		 i, n;

	sec = fhir_get(fhir_get(res, "meta", json_type_object), "security",
	    json_type_array);
	n = sec != NULL ? json_object_array_length(sec) : 0;
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(sec, i);
		if (label_sensitive(fhir_str(c, "system"), fhir_str(c, "code")))
			return 1;
	}
	return 0;
}

/* True when any coding of concept has system sys. */
static int
has_system(json_object *concept, const char *sys)
{
	json_object	*codings;
	const char	*s;
	size_t		 i, n;

	codings = fhir_get(concept, "coding", json_type_array);
	n = codings != NULL ? json_object_array_length(codings) : 0;
	for (i = 0; i < n; i++) {
		s = fhir_str(json_object_array_get_idx(codings, i), "system");
		if (s != NULL && strcmp(s, sys) == 0)
			return 1;
	}
	return 0;
}

/* A URL names ext when it is ext itself or ends in "/ext". */
static int
url_is(const char *url, const char *ext)
{
	size_t	 n, m;

	if (url == NULL)
		return 0;
	if (strcmp(url, ext) == 0)
		return 1;
	n = strlen(url);
	m = strlen(ext);
	return n > m && url[n - m - 1] == '/' && strcmp(url + n - m, ext) == 0;
}

/* The code of the first coding of a CodeableConcept, or NULL. */
static const char *
first_code(json_object *concept)
{
	return fhir_path_str(concept, "coding.code");
}

/*
 * The X12 306 review action code held by one extension array (PDex
 * extension-reviewAction with its reviewActionCode sub-extension, or a
 * bare reviewActionCode extension).  When several are present (a PA
 * denied and then approved on appeal lists both), the last one in
 * document order is the current decision.  NULL when none.
 */
static const char *
review_code(json_object *exts)
{
	json_object	*e, *subs, *s;
	const char	*url, *code = NULL, *c;
	size_t		 i, j, n, m;

	n = exts != NULL ? json_object_array_length(exts) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(exts, i);
		url = fhir_str(e, "url");
		if (url_is(url, "extension-" PDEX_REVIEWCODE) ||
		    url_is(url, PDEX_REVIEWCODE)) {
			if ((c = first_code(fhir_get(e, "valueCodeableConcept",
			    json_type_object))) != NULL)
				code = c;
			continue;
		}
		if (!url_is(url, PDEX_REVIEW))
			continue;
		subs = fhir_get(e, "extension", json_type_array);
		m = subs != NULL ? json_object_array_length(subs) : 0;
		for (j = 0; j < m; j++) {
			s = json_object_array_get_idx(subs, j);
			url = fhir_str(s, "url");
			if (!url_is(url, "extension-" PDEX_REVIEWCODE) &&
			    !url_is(url, PDEX_REVIEWCODE) &&
			    !url_is(url, "code"))
				continue;
			if ((c = first_code(fhir_get(s, "valueCodeableConcept",
			    json_type_object))) != NULL)
				code = c;
		}
	}
	return code;
}

enum decision {
	DEC_NONE,	/* no decision recorded */
	DEC_APPROVED,	/* A1 certified in total, A2 partial, A6 modified */
	DEC_PENDING,	/* A4 pended, or anything not final */
	DEC_DENIED,	/* A3 not certified */
	DEC_CANCELLED,	/* C cancelled */
};

static enum decision
decision_of(const char *code)
{
	if (code == NULL)
		return DEC_NONE;
	if (strcmp(code, "A1") == 0 || strcmp(code, "A2") == 0 ||
	    strcmp(code, "A6") == 0)
		return DEC_APPROVED;
	if (strcmp(code, "A3") == 0)
		return DEC_DENIED;
	if (strcmp(code, "C") == 0)
		return DEC_CANCELLED;
	return DEC_PENDING;	/* A4 pended, CT, D, NA, unknown */
}

/* The decided items of a PA, counted by decision. */
struct pa_tally {
	int	 any, appr, pend, deny, canc;
};

/* Counts one item whose last reviewAction code is code (or NULL). */
static void
pa_tally_item(struct pa_tally *t, const char *code)
{
	switch (decision_of(code)) {
	case DEC_NONE: return;
	case DEC_APPROVED: t->appr++; break;
	case DEC_PENDING: t->pend++; break;
	case DEC_DENIED: t->deny++; break;
	case DEC_CANCELLED: t->canc++; break;
	}
	t->any++;
}

/*
 * The PA's decision from its items' tally; without decided items, from
 * denial (a denialreason adjudication anywhere) and the outcome.
 */
static enum decision
pa_verdict(const struct pa_tally *t, int denial, const char *outcome)
{
	if (t->any > 0) {
		if (t->appr > 0)
			return DEC_APPROVED;
		if (t->pend > 0)
			return DEC_PENDING;
		if (t->deny > 0)
			return DEC_DENIED;
		return DEC_CANCELLED;
	}
	if (denial)
		return DEC_DENIED;
	if (outcome != NULL && (strcmp(outcome, "queued") == 0 ||
	    strcmp(outcome, "partial") == 0))
		return DEC_PENDING;
	return DEC_APPROVED;
}

/* True when an adjudication array has a denialreason entry. */
static int
has_denial(json_object *adjs)
{
	size_t	 i, n;

	n = adjs != NULL ? json_object_array_length(adjs) : 0;
	for (i = 0; i < n; i++)
		if (fhir_has_coding(fhir_get(json_object_array_get_idx(adjs, i),
		    "category", json_type_object), NULL, "denialreason"))
			return 1;
	return 0;
}

/*
 * The current decision of a PA (spec 4, "PA filter for export").  Each
 * item's decision is the last reviewAction code on its adjudications.
 * The PA is approved when any item is approved (a partly approved PA
 * authorizes something and is released with its decisions), pending
 * when any is pending, cancelled when every decided item is, and denied
 * when every decided item is denied.  Without review actions: a
 * denialreason adjudication (header or item) means denied; otherwise
 * outcome "queued" or "partial" is pending and "complete" approved.
 */
static enum decision
pa_decision(json_object *res)
{
	json_object	*items, *it, *adjs;
	const char	*code, *c;
	struct pa_tally	 t = { 0, 0, 0, 0, 0 };
	size_t		 i, j, n, m;
	int		 denial = 0;

	items = fhir_get(res, "item", json_type_array);
	n = items != NULL ? json_object_array_length(items) : 0;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		adjs = fhir_get(it, "adjudication", json_type_array);
		denial |= has_denial(adjs);
		m = adjs != NULL ? json_object_array_length(adjs) : 0;
		code = review_code(fhir_get(it, "extension", json_type_array));
		for (j = 0; j < m; j++)
			if ((c = review_code(fhir_get(
			    json_object_array_get_idx(adjs, j), "extension",
			    json_type_array))) != NULL)
				code = c;
		pa_tally_item(&t, code);
	}
	if (t.any == 0 && !denial)
		denial = has_denial(fhir_get(res, "adjudication",
		    json_type_array));
	return pa_verdict(&t, denial, fhir_str(res, "outcome"));
}

/*
 * A drug PA (excluded by CMS-0057-F): EOB type pharmacy, or any item
 * coded as a drug (NDC or RxNorm productOrService).
 */
static int
pa_is_drug(json_object *res)
{
	json_object	*items, *ps;
	size_t		 i, n;

	if (fhir_has_coding(fhir_get(res, "type", json_type_object),
	    SYS_CLAIMTYPE, "pharmacy"))
		return 1;
	items = fhir_get(res, "item", json_type_array);
	n = items != NULL ? json_object_array_length(items) : 0;
	for (i = 0; i < n; i++) {
		ps = fhir_get(json_object_array_get_idx(items, i),
		    "productOrService", json_type_object);
		if (has_system(ps, SYS_NDC) || has_system(ps, SYS_RXNORM))
			return 1;
	}
	return 0;
}

/*
 * The latest end of the authorization: preAuthRefPeriod[].end, else
 * item[].servicedPeriod.end.  Copies the normalised instant (end of the
 * day for a date) to out and returns 0, or -1 when open-ended.
 */
static int
pa_end(json_object *res, char out[32])
{
	json_object	*arr;
	const char	*k, *keys[] = { "preAuthRefPeriod", "item" };
	char		 e[32];
	size_t		 i, j, n;

	out[0] = '\0';
	for (j = 0; j < NELEM(keys) && out[0] == '\0'; j++) {
		arr = fhir_get(res, keys[j], json_type_array);
		n = arr != NULL ? json_object_array_length(arr) : 0;
		for (i = 0; i < n; i++) {
			k = j == 0 ? fhir_str(json_object_array_get_idx(arr, i),
			    "end") : fhir_path_str(json_object_array_get_idx(
			    arr, i), "servicedPeriod.end");
			if (instant_of(k, 1, e) == 0 &&
			    (out[0] == '\0' || strcmp(e, out) > 0))
				memcpy(out, e, sizeof(e));
		}
	}
	return out[0] != '\0' ? 0 : -1;
}

/*
 * Prior authorization rules (spec 4; PDex: "active/current PAs plus PAs
 * whose status changed in the last 12 months"; CMS: drugs and denied
 * PAs excluded):
 *  - drug PA or current decision denied: SCOPE_EXCLUDED;
 *  - changed = the decision-change instant: meta.lastUpdated, else
 *    created (normalised to UTC);
 *  - closed (SCOPE_PA_CLOSED, released only while changed is within
 *    pa_change_months of the export): status cancelled or
 *    entered-in-error, decision cancelled, or an approved PA whose
 *    authorization period has an end.  Ending the period is itself a
 *    status change (active -> expired), so changed becomes the later of
 *    the decision instant and that end; a period ending in the future
 *    therefore keeps the PA released until pa_change_months after it
 *    ends, with no clock needed at load time.  Pending PAs stay open.
 */
static void
classify_pa(json_object *res, struct scope_info *info)
{
	enum decision	 d;
	const char	*status;
	char		 end[32];

	info->flags |= SCOPE_PA;
	if (instant_of(fhir_path_str(res, "meta.lastUpdated"), 0,
	    info->changed) == -1 &&
	    instant_of(fhir_str(res, "created"), 0, info->changed) == -1)
		info->changed[0] = '\0';
	if (pa_is_drug(res))
		info->flags |= SCOPE_EXCLUDED;
	d = pa_decision(res);
	if (d == DEC_DENIED)
		info->flags |= SCOPE_EXCLUDED;
	status = fhir_str(res, "status");
	if (d == DEC_CANCELLED || (status != NULL &&
	    (strcmp(status, "cancelled") == 0 ||
	    strcmp(status, "entered-in-error") == 0)))
		info->flags |= SCOPE_PA_CLOSED;
	else if (d == DEC_APPROVED && pa_end(res, end) == 0) {
		info->flags |= SCOPE_PA_CLOSED;
		if (strcmp(end, info->changed) > 0)
			memcpy(info->changed, end, sizeof(end));
	}
}

/* --- CARIN BB non-financial form ---------------------------------- */

/* Removes key from obj; returns 1 when it was there. */
static int
drop(json_object *obj, const char *key)
{
	if (obj == NULL || !json_object_object_get_ex(obj, key, NULL))
		return 0;
	json_object_object_del(obj, key);
	return 1;
}

static int
is_amount_category(json_object *cat)
{
	size_t	 i;

	for (i = 0; i < NELEM(amount_adj); i++)
		if (fhir_has_coding(cat, SYS_ADJ, amount_adj[i]))
			return 1;
	for (i = 0; i < NELEM(amount_c4bb); i++)
		if (fhir_has_coding(cat, SYS_C4BBADJ, amount_c4bb[i]))
			return 1;
	return 0;
}

/*
 * Filters obj.adjudication (CARIN BB 2.1 Basis profiles drop the
 * adjudicationamounttype slices): entries in an amount category go,
 * except that an entry carrying extensions (a PDex reviewAction, which
 * is the PA decision the rule says to send) keeps its category and
 * extensions; every kept entry loses its amount; an entry left with
 * nothing but its category goes.  Reason-only slices (network status,
 * adjustmentreason, denialreason, rejectreason) and allowedunits with
 * their value stay.  Returns 1 when anything was removed, -1 when out
 * of memory.
 */
static int
strip_adjudication(json_object *obj)
{
	json_object	*adjs, *kept, *a;
	size_t		 i, n;
	int		 changed = 0, amount;

	if ((adjs = fhir_get(obj, "adjudication", json_type_array)) == NULL)
		return 0;
	if ((kept = json_object_new_array()) == NULL)
		return -1;
	n = json_object_array_length(adjs);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(adjs, i);
		if (!json_object_is_type(a, json_type_object)) {
			/* not an adjudication: kept as it is (json-c asserts
			   on the length of a non-object) */
			if (a == NULL ? json_object_array_add(kept, NULL) != 0 :
			    fhir_push(kept, json_object_get(a)) == -1) {
				json_object_put(kept);
				return -1;
			}
			continue;
		}
		amount = is_amount_category(fhir_get(a, "category",
		    json_type_object));
		if (amount && !json_object_object_get_ex(a, "extension",
		    NULL)) {
			changed = 1;
			continue;
		}
		changed |= drop(a, "amount");
		if (amount) {
			changed |= drop(a, "reason");
			changed |= drop(a, "value");
		}
		if (json_object_object_length(a) <= 1 &&
		    json_object_object_get_ex(a, "category", NULL)) {
			changed = 1;
			continue;
		}
		if (fhir_push(kept, json_object_get(a)) == -1) {
			json_object_put(kept);
			return -1;
		}
	}
	if (!changed) {
		json_object_put(kept);
		return 0;
	}
	if (json_object_array_length(kept) == 0) {
		json_object_put(kept);
		json_object_object_del(obj, "adjudication");
		return 1;
	}
	return fhir_add(obj, "adjudication", kept) == -1 ? -1 : 1;
}

/*
 * Strips net, unitPrice and amount adjudications from each line of
 * obj[key] and, below it, from detail and subDetail lines.  1 when
 * anything was removed, 0 when not, -1 when out of memory.
 */
static int
strip_lines(json_object *obj, const char *key, int depth)
{
	json_object	*arr, *el;
	size_t		 i, n;
	int		 changed = 0, r;

	if ((arr = fhir_get(obj, key, json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		el = json_object_array_get_idx(arr, i);
		changed |= drop(el, "net");
		changed |= drop(el, "unitPrice");
		if ((r = strip_adjudication(el)) == -1)
			return -1;
		changed |= r;
		if (depth < 2) {
			if ((r = strip_lines(el, "detail", depth + 1)) == -1)
				return -1;
			changed |= r;
			if ((r = strip_lines(el, "subDetail", depth + 1)) == -1)
				return -1;
			changed |= r;
		}
	}
	return changed;
}

/*
 * The Basis canonical for an EOB's type/subType, or NULL (no CARIN BB
 * profile applies, e.g. vision).  An institutional EOB is inpatient
 * unless its subType or its current profile says outpatient.
 */
static const char *
basis_profile(json_object *res)
{
	json_object	*type = fhir_get(res, "type", json_type_object);
	json_object	*sub = fhir_get(res, "subType", json_type_object);
	json_object	*prof;
	const char	*p;
	size_t		 i, n;

	if (fhir_has_coding(type, SYS_CLAIMTYPE, "institutional")) {
		if (fhir_has_coding(sub, SYS_INSTSUB, "outpatient"))
			return C4BB_EOB "-Outpatient-Institutional-Basis";
		if (fhir_has_coding(sub, SYS_INSTSUB, "inpatient"))
			return C4BB_EOB "-Inpatient-Institutional-Basis";
		prof = fhir_get(fhir_get(res, "meta", json_type_object),
		    "profile", json_type_array);
		n = prof != NULL ? json_object_array_length(prof) : 0;
		for (i = 0; i < n; i++) {
			p = json_object_get_string(
			    json_object_array_get_idx(prof, i));
			if (p != NULL && strstr(p, "Outpatient") != NULL)
				return C4BB_EOB
				    "-Outpatient-Institutional-Basis";
		}
		return C4BB_EOB "-Inpatient-Institutional-Basis";
	}
	if (fhir_has_coding(type, SYS_CLAIMTYPE, "professional"))
		return C4BB_EOB "-Professional-NonClinician-Basis";
	if (fhir_has_coding(type, SYS_CLAIMTYPE, "oral"))
		return C4BB_EOB "-Oral-Basis";
	if (fhir_has_coding(type, SYS_CLAIMTYPE, "pharmacy"))
		return C4BB_EOB "-Pharmacy-Basis";
	return NULL;
}

/*
 * Sets meta.profile: CARIN BB EOB profiles are replaced by the Basis
 * canonical, other profiles are kept.  Returns 1 when meta changed, 0
 * when the profile was already right, -1 when out of memory.
 */
static int
set_profile(json_object *res, const char *basis)
{
	json_object	*meta, *prof, *np;
	const char	*p;
	size_t		 i, n;
	int		 had = 0, other = 0;

	if ((meta = fhir_get(res, "meta", json_type_object)) == NULL) {
		if ((meta = json_object_new_object()) == NULL ||
		    fhir_add(res, "meta", meta) == -1)
			return -1;
	}
	prof = fhir_get(meta, "profile", json_type_array);
	n = prof != NULL ? json_object_array_length(prof) : 0;
	if ((np = json_object_new_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		p = json_object_get_string(json_object_array_get_idx(prof, i));
		if (p != NULL && strcmp(p, basis) == 0)
			had = 1;
		else if (p != NULL && strncmp(p, C4BB_EOB,
		    strlen(C4BB_EOB)) == 0)
			other = 1;
		else if (fhir_push(np, json_object_get(
		    json_object_array_get_idx(prof, i))) == -1) {
			json_object_put(np);
			return -1;
		}
	}
	if (had && !other) {
		json_object_put(np);
		return 0;
	}
	if (fhir_push(np, json_object_new_string(basis)) == -1) {
		json_object_put(np);
		return -1;
	}
	return fhir_add(meta, "profile", np) == -1 ? -1 : 1;
}

/*
 * Builds the released form of an EOB (spec 5): the financial elements
 * removed, and for claims (use other than preauthorization) meta.profile
 * set to the Basis canonical.  PAs keep their PDex profile: the Basis
 * profiles constrain claim EOBs only.  Sets *fin when money was
 * removed; out NULL when the released form equals the original.
 */
static int
eob_basis(json_object *res, int pa, int inplace, int *fin, char **out)
{
	json_object	*copy = NULL, *pay;
	const char	*basis, *s;
	int		 changed = 0, r;

	*out = NULL;
	*fin = 0;
	if (inplace)
		copy = json_object_get(res);	/* put below, as a copy is */
	else if (json_object_deep_copy(res, &copy, NULL) != 0)
		return -1;
	changed |= drop(copy, "total");
	changed |= drop(copy, "benefitBalance");
	if ((pay = fhir_get(copy, "payment", json_type_object)) != NULL) {
		changed |= drop(pay, "amount");
		changed |= drop(pay, "adjustment");
		if (json_object_object_length(pay) == 0)
			drop(copy, "payment");
	}
	if ((r = strip_adjudication(copy)) == -1)
		goto fail;
	changed |= r;
	if ((r = strip_lines(copy, "item", 0)) == -1)
		goto fail;
	changed |= r;
	if ((r = strip_lines(copy, "addItem", 0)) == -1)
		goto fail;
	changed |= r;
	*fin = changed;
	if (!pa && (basis = basis_profile(copy)) != NULL) {
		if ((r = set_profile(copy, basis)) == -1)
			goto fail;
		changed |= r;
	}
	if (changed) {
		if ((s = fhir_json(copy)) == NULL ||
		    (*out = strdup(s)) == NULL)
			goto fail;
	}
	json_object_put(copy);
	return 0;
fail:
	json_object_put(copy);
	return -1;
}

static int
classify(json_object *res, int inplace, struct scope_info *info,
    struct p2p_err *err)
{
	const char	*type, *use;
	int		 pa, fin;

	memset(info, 0, sizeof(*info));
	if ((type = fhir_type(res)) == NULL)
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "not a FHIR resource (no resourceType)");
	find_dos(res, type, info->dos);
	if (is_sensitive(res))
		info->flags |= SCOPE_SENSITIVE;
	if (strcmp(type, "ExplanationOfBenefit") != 0)
		return 0;
	use = fhir_str(res, "use");
	pa = use != NULL && strcmp(use, "preauthorization") == 0;
	if (pa)
		classify_pa(res, info);
	if (eob_basis(res, pa, inplace, &fin, &info->p2p_json) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	if (fin)
		info->flags |= SCOPE_FINANCIAL;
	return 0;
}

int
scope_classify(json_object *res, struct scope_info *info,
    struct p2p_err *err)
{
	return classify(res, 0, info, err);
}

int
scope_classify_consume(json_object *res, struct scope_info *info,
    struct p2p_err *err)
{
	return classify(res, 1, info, err);
}

/* --- the same rules on a scanned resource (jscan.h) ----------------- */

/* fhir_has_coding() on the tape. */
static int
has_coding_t(struct jscan *j, uint32_t concept, const char *sys,
    const char *code)
{
	uint32_t	 cs, c;
	const char	*s, *k;

	cs = jscan_get_t(j, concept, "coding", JS_ARRAY);
	for (c = jscan_first(j, cs); c != 0; c = jscan_next(j, cs, c)) {
		s = jscan_getstr(j, c, "system");
		k = jscan_getstr(j, c, "code");
		if (k == NULL || strcmp(k, code) != 0)
			continue;
		if (sys == NULL || (s != NULL && strcmp(s, sys) == 0))
			return 1;
	}
	return 0;
}

static int
has_system_t(struct jscan *j, uint32_t concept, const char *sys)
{
	uint32_t	 cs, c;
	const char	*s;

	cs = jscan_get_t(j, concept, "coding", JS_ARRAY);
	for (c = jscan_first(j, cs); c != 0; c = jscan_next(j, cs, c))
		if ((s = jscan_getstr(j, c, "system")) != NULL &&
		    strcmp(s, sys) == 0)
			return 1;
	return 0;
}

static int
is_sensitive_t(struct jscan *j)
{
	uint32_t	 sec, c;

	sec = jscan_get_t(j, jscan_get_t(j, 1, "meta", JS_OBJECT), "security",
	    JS_ARRAY);
	for (c = jscan_first(j, sec); c != 0; c = jscan_next(j, sec, c))
		if (label_sensitive(jscan_getstr(j, c, "system"),
		    jscan_getstr(j, c, "code")))
			return 1;
	return 0;
}

static void
eob_dos_t(struct jscan *j, char out[11])
{
	uint32_t	 items, it;
	char		 d[11];

	if (date_of(jscan_path_str(j, 1, "billablePeriod.start"), out) == 0)
		return;
	out[0] = '\0';
	items = jscan_get_t(j, 1, "item", JS_ARRAY);
	for (it = jscan_first(j, items); it != 0;
	    it = jscan_next(j, items, it)) {
		if (date_of(jscan_getstr(j, it, "servicedDate"), d) == -1 &&
		    date_of(jscan_path_str(j, it, "servicedPeriod.start"),
		    d) == -1)
			continue;
		if (out[0] == '\0' || strcmp(d, out) < 0)
			memcpy(out, d, sizeof(d));
	}
	if (out[0] == '\0' && date_of(jscan_getstr(j, 1, "created"), out) == -1)
		out[0] = '\0';
}

static const char *
review_code_t(struct jscan *j, uint32_t exts)
{
	uint32_t	 e, subs, sb;
	const char	*url, *code = NULL, *c;

	for (e = jscan_first(j, exts); e != 0; e = jscan_next(j, exts, e)) {
		url = jscan_getstr(j, e, "url");
		if (url_is(url, "extension-" PDEX_REVIEWCODE) ||
		    url_is(url, PDEX_REVIEWCODE)) {
			if ((c = jscan_path_str(j, jscan_get_t(j, e,
			    "valueCodeableConcept", JS_OBJECT),
			    "coding.code")) != NULL)
				code = c;
			continue;
		}
		if (!url_is(url, PDEX_REVIEW))
			continue;
		subs = jscan_get_t(j, e, "extension", JS_ARRAY);
		for (sb = jscan_first(j, subs); sb != 0;
		    sb = jscan_next(j, subs, sb)) {
			url = jscan_getstr(j, sb, "url");
			if (!url_is(url, "extension-" PDEX_REVIEWCODE) &&
			    !url_is(url, PDEX_REVIEWCODE) &&
			    !url_is(url, "code"))
				continue;
			if ((c = jscan_path_str(j, jscan_get_t(j, sb,
			    "valueCodeableConcept", JS_OBJECT),
			    "coding.code")) != NULL)
				code = c;
		}
	}
	return code;
}

static int
has_denial_t(struct jscan *j, uint32_t adjs)
{
	uint32_t	 a;

	for (a = jscan_first(j, adjs); a != 0; a = jscan_next(j, adjs, a))
		if (has_coding_t(j, jscan_get_t(j, a, "category", JS_OBJECT),
		    NULL, "denialreason"))
			return 1;
	return 0;
}

static enum decision
pa_decision_t(struct jscan *j)
{
	uint32_t	 items, it, adjs, a;
	const char	*code, *c;
	struct pa_tally	 t = { 0, 0, 0, 0, 0 };
	int		 denial = 0;

	items = jscan_get_t(j, 1, "item", JS_ARRAY);
	for (it = jscan_first(j, items); it != 0;
	    it = jscan_next(j, items, it)) {
		adjs = jscan_get_t(j, it, "adjudication", JS_ARRAY);
		denial |= has_denial_t(j, adjs);
		code = review_code_t(j, jscan_get_t(j, it, "extension",
		    JS_ARRAY));
		for (a = jscan_first(j, adjs); a != 0;
		    a = jscan_next(j, adjs, a))
			if ((c = review_code_t(j, jscan_get_t(j, a,
			    "extension", JS_ARRAY))) != NULL)
				code = c;
		pa_tally_item(&t, code);
	}
	if (t.any == 0 && !denial)
		denial = has_denial_t(j, jscan_get_t(j, 1, "adjudication",
		    JS_ARRAY));
	return pa_verdict(&t, denial, jscan_getstr(j, 1, "outcome"));
}

static int
pa_is_drug_t(struct jscan *j)
{
	uint32_t	 items, it, ps;

	if (has_coding_t(j, jscan_get_t(j, 1, "type", JS_OBJECT),
	    SYS_CLAIMTYPE, "pharmacy"))
		return 1;
	items = jscan_get_t(j, 1, "item", JS_ARRAY);
	for (it = jscan_first(j, items); it != 0;
	    it = jscan_next(j, items, it)) {
		ps = jscan_get_t(j, it, "productOrService", JS_OBJECT);
		if (has_system_t(j, ps, SYS_NDC) ||
		    has_system_t(j, ps, SYS_RXNORM))
			return 1;
	}
	return 0;
}

static int
pa_end_t(struct jscan *j, char out[32])
{
	uint32_t	 arr, e;
	const char	*k;
	char		 end[32];

	out[0] = '\0';
	arr = jscan_get_t(j, 1, "preAuthRefPeriod", JS_ARRAY);
	for (e = jscan_first(j, arr); e != 0; e = jscan_next(j, arr, e))
		if (instant_of(jscan_getstr(j, e, "end"), 1, end) == 0 &&
		    (out[0] == '\0' || strcmp(end, out) > 0))
			memcpy(out, end, sizeof(end));
	if (out[0] == '\0') {
		arr = jscan_get_t(j, 1, "item", JS_ARRAY);
		for (e = jscan_first(j, arr); e != 0; e = jscan_next(j, arr, e)) {
			k = jscan_path_str(j, e, "servicedPeriod.end");
			if (instant_of(k, 1, end) == 0 &&
			    (out[0] == '\0' || strcmp(end, out) > 0))
				memcpy(out, end, sizeof(end));
		}
	}
	return out[0] != '\0' ? 0 : -1;
}

static void
classify_pa_t(struct jscan *j, struct scope_info *info)
{
	enum decision	 d;
	const char	*status;
	char		 end[32];

	info->flags |= SCOPE_PA;
	if (instant_of(jscan_path_str(j, 1, "meta.lastUpdated"), 0,
	    info->changed) == -1 &&
	    instant_of(jscan_getstr(j, 1, "created"), 0, info->changed) == -1)
		info->changed[0] = '\0';
	if (pa_is_drug_t(j))
		info->flags |= SCOPE_EXCLUDED;
	d = pa_decision_t(j);
	if (d == DEC_DENIED)
		info->flags |= SCOPE_EXCLUDED;
	status = jscan_getstr(j, 1, "status");
	if (d == DEC_CANCELLED || (status != NULL &&
	    (strcmp(status, "cancelled") == 0 ||
	    strcmp(status, "entered-in-error") == 0)))
		info->flags |= SCOPE_PA_CLOSED;
	else if (d == DEC_APPROVED && pa_end_t(j, end) == 0) {
		info->flags |= SCOPE_PA_CLOSED;
		if (strcmp(end, info->changed) > 0)
			memcpy(info->changed, end, sizeof(end));
	}
}

/*
 * The released form of an EOB written from the tape as json-c writes
 * the stripped tree (fhir_json(): JSON_C_TO_STRING_PLAIN, no slash
 * escapes): no white space, members in their order, strings escaped as
 * json_escape_str() does, integers as int64, decimals as written (json-c
 * keeps a parsed double's text).  The shapes json-c would treat in ways
 * this does not copy (a duplicate key, a non-object adjudication entry,
 * a non-string profile) make it give up: -2, and the tree path runs.
 */
#define EMIT_NEEDTREE	(-2)

struct emit {
	struct jscan	*j;
	struct p2p_buf	 out;
	int		 oom;
};

static void
emit_raw(struct emit *e, const char *s, size_t n)
{
	if (buf_add(&e->out, s, n) == -1)
		e->oom = 1;
}

static void
emit_string(struct emit *e, uint32_t i)
{
	static const char	 hex[] = "0123456789abcdef";
	const struct jscan_node	*n = &e->j->node[i];
	const unsigned char	*s;
	char			 esc[8];
	size_t			 k, len;

	emit_raw(e, "\"", 1);
	if (!n->esc)	/* nothing json-c would escape either */
		emit_raw(e, e->j->text + n->start, n->len);
	else {
		s = (const unsigned char *)jscan_str(e->j, i);
		len = strlen((const char *)s);
		for (k = 0; k < len; k++) {
			switch (s[k]) {
			case '\b': emit_raw(e, "\\b", 2); continue;
			case '\n': emit_raw(e, "\\n", 2); continue;
			case '\r': emit_raw(e, "\\r", 2); continue;
			case '\t': emit_raw(e, "\\t", 2); continue;
			case '\f': emit_raw(e, "\\f", 2); continue;
			case '"': emit_raw(e, "\\\"", 2); continue;
			case '\\': emit_raw(e, "\\\\", 2); continue;
			default: break;
			}
			if (s[k] < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[s[k] >> 4];
				esc[5] = hex[s[k] & 0xf];
				emit_raw(e, esc, 6);
			} else
				emit_raw(e, (const char *)s + k, 1);
		}
	}
	emit_raw(e, "\"", 1);
}

/* 1 when object o has two members of the same name. */
static int
has_dup(struct jscan *j, uint32_t o)
{
	uint32_t	 a, b, end = j->node[o].next;
	const char	*x, *y;

	for (a = o + 1; a < end; a = j->node[a + 1].next)
		for (b = j->node[a + 1].next; b < end; b = j->node[b + 1].next) {
			if (!j->node[a].esc && !j->node[b].esc) {
				if (j->node[a].len == j->node[b].len &&
				    memcmp(j->text + j->node[a].start,
				    j->text + j->node[b].start,
				    j->node[a].len) == 0)
					return 1;
				continue;
			}
			x = jscan_str(j, a);
			y = jscan_str(j, b);
			if (strcmp(x, y) == 0)
				return 1;
		}
	return 0;
}

/* The comma (unless *first) and "key": of object member k. */
static void
emit_key(struct emit *e, uint32_t k, int *first)
{
	if (!*first)
		emit_raw(e, ",", 1);
	*first = 0;
	emit_string(e, k);
	emit_raw(e, ":", 1);
}

/* Any value, unchanged.  0 or EMIT_NEEDTREE. */
static int
emit_value(struct emit *e, uint32_t v)
{
	struct jscan_node	*n = &e->j->node[v];
	uint32_t		 c, end = n->next;
	int			 first = 1;

	switch (n->type) {
	case JS_STRING:
		emit_string(e, v);
		return 0;
	case JS_NUMBER:
		/* an integer "-0" is int64 0 to json-c */
		if (n->len == 2 && memcmp(e->j->text + n->start, "-0", 2) == 0)
			emit_raw(e, "0", 1);
		else
			emit_raw(e, e->j->text + n->start, n->len);
		return 0;
	case JS_TRUE:
		emit_raw(e, "true", 4);
		return 0;
	case JS_FALSE:
		emit_raw(e, "false", 5);
		return 0;
	case JS_NULL:
		emit_raw(e, "null", 4);
		return 0;
	case JS_ARRAY:
		emit_raw(e, "[", 1);
		for (c = v + 1; c < end; c = e->j->node[c].next) {
			if (!first)
				emit_raw(e, ",", 1);
			first = 0;
			if (emit_value(e, c) == EMIT_NEEDTREE)
				return EMIT_NEEDTREE;
		}
		emit_raw(e, "]", 1);
		return 0;
	default:
		break;
	}
	if (has_dup(e->j, v))
		return EMIT_NEEDTREE;
	emit_raw(e, "{", 1);
	for (c = v + 1; c < end; c = e->j->node[c + 1].next) {
		emit_key(e, c, &first);
		if (emit_value(e, c + 1) == EMIT_NEEDTREE)
			return EMIT_NEEDTREE;
	}
	emit_raw(e, "}", 1);
	return 0;
}

static int
key_eq(struct jscan *j, uint32_t k, const char *name)
{
	const char	*s = jscan_str(j, k);

	return s != NULL && strcmp(s, name) == 0;
}

static int
is_amount_category_t(struct jscan *j, uint32_t cat)
{
	size_t	 i;

	for (i = 0; i < NELEM(amount_adj); i++)
		if (has_coding_t(j, cat, SYS_ADJ, amount_adj[i]))
			return 1;
	for (i = 0; i < NELEM(amount_c4bb); i++)
		if (has_coding_t(j, cat, SYS_C4BBADJ, amount_c4bb[i]))
			return 1;
	return 0;
}

/*
 * strip_adjudication() of array adjs: emits the kept entries (without
 * the brackets) and returns how many, with *changed set; or
 * EMIT_NEEDTREE.
 */
static int
emit_adj(struct emit *e, uint32_t adjs, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 a, k, end;
	int		 amount, ext, left, cat, kept = 0, first;

	*changed = 0;
	for (a = jscan_first(j, adjs); a != 0; a = jscan_next(j, adjs, a)) {
		if (jscan_type(j, a) != JS_OBJECT || has_dup(j, a))
			return EMIT_NEEDTREE;
		amount = is_amount_category_t(j, jscan_get_t(j, a, "category",
		    JS_OBJECT));
		ext = jscan_get(j, a, "extension") != 0;
		if (amount && !ext) {
			*changed = 1;
			continue;
		}
		/* what is left of a after the drops */
		left = 0;
		cat = 0;
		end = j->node[a].next;
		for (k = a + 1; k < end; k = j->node[k + 1].next) {
			if (key_eq(j, k, "amount") || (amount &&
			    (key_eq(j, k, "reason") || key_eq(j, k, "value")))) {
				*changed = 1;
				continue;
			}
			left++;
			cat |= key_eq(j, k, "category");
		}
		if (left <= 1 && cat) {
			*changed = 1;
			continue;
		}
		if (kept++ > 0)
			emit_raw(e, ",", 1);
		emit_raw(e, "{", 1);
		first = 1;
		for (k = a + 1; k < end; k = j->node[k + 1].next) {
			if (key_eq(j, k, "amount") || (amount &&
			    (key_eq(j, k, "reason") || key_eq(j, k, "value"))))
				continue;
			emit_key(e, k, &first);
			if (emit_value(e, k + 1) == EMIT_NEEDTREE)
				return EMIT_NEEDTREE;
		}
		emit_raw(e, "}", 1);
	}
	return kept;
}

/*
 * One member "key":value of an object being stripped, with the
 * adjudication rule: the member is left out when strip_adjudication()
 * would delete it.  *first tracks the commas.  0 or EMIT_NEEDTREE.
 */
static int
emit_adj_member(struct emit *e, uint32_t k, int *first, int *changed)
{
	size_t	 mark = e->out.len;
	int	 n, ch;

	if (!*first)
		emit_raw(e, ",", 1);
	emit_string(e, k);
	emit_raw(e, ":[", 2);
	if ((n = emit_adj(e, k + 1, &ch)) == EMIT_NEEDTREE)
		return EMIT_NEEDTREE;
	*changed |= ch;
	if (ch && n == 0) {	/* every entry went: so does the member */
		e->out.len = mark;
		return 0;
	}
	emit_raw(e, "]", 1);
	*first = 0;
	return 0;
}

static int emit_lines(struct emit *, uint32_t, int, int *);

/* An item/detail/subDetail line, stripped as strip_lines() does. */
static int
emit_line(struct emit *e, uint32_t el, int depth, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 k, end = j->node[el].next;
	int		 first = 1, t;

	if (jscan_type(j, el) != JS_OBJECT)
		return emit_value(e, el);
	if (has_dup(j, el))
		return EMIT_NEEDTREE;
	emit_raw(e, "{", 1);
	for (k = el + 1; k < end; k = j->node[k + 1].next) {
		t = jscan_type(j, k + 1);
		if (key_eq(j, k, "net") || key_eq(j, k, "unitPrice")) {
			*changed = 1;
			continue;
		}
		if (t == JS_ARRAY && key_eq(j, k, "adjudication")) {
			if (emit_adj_member(e, k, &first, changed) ==
			    EMIT_NEEDTREE)
				return EMIT_NEEDTREE;
			continue;
		}
		emit_key(e, k, &first);
		if (depth < 2 && t == JS_ARRAY && (key_eq(j, k, "detail") ||
		    key_eq(j, k, "subDetail"))) {
			if (emit_lines(e, k + 1, depth + 1, changed) ==
			    EMIT_NEEDTREE)
				return EMIT_NEEDTREE;
		} else if (emit_value(e, k + 1) == EMIT_NEEDTREE)
			return EMIT_NEEDTREE;
	}
	emit_raw(e, "}", 1);
	return 0;
}

static int
emit_lines(struct emit *e, uint32_t arr, int depth, int *changed)
{
	uint32_t	 el;
	int		 first = 1;

	emit_raw(e, "[", 1);
	for (el = jscan_first(e->j, arr); el != 0;
	    el = jscan_next(e->j, arr, el)) {
		if (!first)
			emit_raw(e, ",", 1);
		first = 0;
		if (emit_line(e, el, depth, changed) == EMIT_NEEDTREE)
			return EMIT_NEEDTREE;
	}
	emit_raw(e, "]", 1);
	return 0;
}

/* basis_profile() on the tape; NULL with *bad set on odd profiles. */
static const char *
basis_profile_t(struct jscan *j, int *bad)
{
	uint32_t	 type = jscan_get_t(j, 1, "type", JS_OBJECT);
	uint32_t	 sub = jscan_get_t(j, 1, "subType", JS_OBJECT);
	uint32_t	 prof, p;
	const char	*s;

	if (has_coding_t(j, type, SYS_CLAIMTYPE, "institutional")) {
		if (has_coding_t(j, sub, SYS_INSTSUB, "outpatient"))
			return C4BB_EOB "-Outpatient-Institutional-Basis";
		if (has_coding_t(j, sub, SYS_INSTSUB, "inpatient"))
			return C4BB_EOB "-Inpatient-Institutional-Basis";
		prof = jscan_get_t(j, jscan_get_t(j, 1, "meta", JS_OBJECT),
		    "profile", JS_ARRAY);
		for (p = jscan_first(j, prof); p != 0;
		    p = jscan_next(j, prof, p)) {
			if ((s = jscan_str(j, p)) == NULL) {
				*bad = 1;	/* json-c would print it */
				return NULL;
			}
			if (strstr(s, "Outpatient") != NULL)
				return C4BB_EOB
				    "-Outpatient-Institutional-Basis";
		}
		return C4BB_EOB "-Inpatient-Institutional-Basis";
	}
	if (has_coding_t(j, type, SYS_CLAIMTYPE, "professional"))
		return C4BB_EOB "-Professional-NonClinician-Basis";
	if (has_coding_t(j, type, SYS_CLAIMTYPE, "oral"))
		return C4BB_EOB "-Oral-Basis";
	if (has_coding_t(j, type, SYS_CLAIMTYPE, "pharmacy"))
		return C4BB_EOB "-Pharmacy-Basis";
	return NULL;
}

/* "profile":[kept profiles..., basis] */
static void
emit_profile(struct emit *e, uint32_t prof, const char *basis)
{
	uint32_t	 p;
	const char	*s;
	int		 first = 1;

	emit_raw(e, "\"profile\":[", 11);
	for (p = jscan_first(e->j, prof); p != 0;
	    p = jscan_next(e->j, prof, p)) {
		s = jscan_str(e->j, p);
		if (strcmp(s, basis) == 0 ||
		    strncmp(s, C4BB_EOB, strlen(C4BB_EOB)) == 0)
			continue;
		if (!first)
			emit_raw(e, ",", 1);
		first = 0;
		emit_string(e, p);
	}
	if (!first)
		emit_raw(e, ",", 1);
	emit_raw(e, "\"", 1);
	emit_raw(e, basis, strlen(basis));
	emit_raw(e, "\"]", 2);
}

/*
 * meta with its profile set to basis, as set_profile() does: kept
 * profiles, then basis, in place of the old profile member (or last).
 * *changed unless the profile was already right.
 */
static int
emit_meta(struct emit *e, uint32_t meta, const char *basis, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 k, prof, p, end = j->node[meta].next;
	const char	*s;
	int		 had = 0, other = 0, first = 1, done = 0;

	if (has_dup(j, meta))
		return EMIT_NEEDTREE;
	prof = jscan_get_t(j, meta, "profile", JS_ARRAY);
	for (p = jscan_first(j, prof); p != 0; p = jscan_next(j, prof, p)) {
		if ((s = jscan_str(j, p)) == NULL)
			return EMIT_NEEDTREE;
		if (strcmp(s, basis) == 0)
			had = 1;
		else if (strncmp(s, C4BB_EOB, strlen(C4BB_EOB)) == 0)
			other = 1;
	}
	if (had && !other)
		return emit_value(e, meta);
	*changed = 1;
	emit_raw(e, "{", 1);
	for (k = meta + 1; k < end; k = j->node[k + 1].next) {
		if (!first)
			emit_raw(e, ",", 1);
		first = 0;
		if (key_eq(j, k, "profile")) {	/* replaced in place */
			emit_profile(e, prof, basis);
			done = 1;
			continue;
		}
		emit_string(e, k);
		emit_raw(e, ":", 1);
		if (emit_value(e, k + 1) == EMIT_NEEDTREE)
			return EMIT_NEEDTREE;
	}
	if (!done) {			/* added last */
		if (!first)
			emit_raw(e, ",", 1);
		emit_profile(e, prof, basis);
	}
	emit_raw(e, "}", 1);
	return 0;
}

/*
 * eob_basis() on the tape: the released form into *out (NULL when it
 * equals the original), *fin when money was removed.  0, -1 out of
 * memory, EMIT_NEEDTREE.
 */
static int
eob_basis_t(struct jscan *j, int pa, int *fin, char **out)
{
	struct emit	 e;
	uint32_t	 k, v, pk, end = j->node[1].next, pend;
	const char	*basis = NULL;
	int		 changed = 0, first = 1, bad = 0, t, rc = EMIT_NEEDTREE,
			 left, pfirst, profile = 0;
	size_t		 mark;

	*out = NULL;
	*fin = 0;
	memset(&e, 0, sizeof(e));
	e.j = j;
	if (!pa && (basis = basis_profile_t(j, &bad)) == NULL && bad)
		return EMIT_NEEDTREE;
	/*
	 * A claim without a meta object gets one from set_profile(): the
	 * tree writes it (store_prepare_scan() always sees meta, but other
	 * callers need not).
	 */
	if (basis != NULL && jscan_get_t(j, 1, "meta", JS_OBJECT) == 0)
		return EMIT_NEEDTREE;
	if (has_dup(j, 1))
		return EMIT_NEEDTREE;
	emit_raw(&e, "{", 1);
	for (k = 2; k < end; k = j->node[k + 1].next) {
		v = k + 1;
		t = jscan_type(j, v);
		if (key_eq(j, k, "total") || key_eq(j, k, "benefitBalance")) {
			changed = 1;
			continue;
		}
		if (t == JS_ARRAY && key_eq(j, k, "adjudication")) {
			if (emit_adj_member(&e, k, &first, &changed) ==
			    EMIT_NEEDTREE)
				goto out;
			continue;
		}
		if (t == JS_OBJECT && key_eq(j, k, "meta") && basis != NULL) {
			/* after the stripping: fin does not count it */
			if (!first)
				emit_raw(&e, ",", 1);
			first = 0;
			emit_string(&e, k);
			emit_raw(&e, ":", 1);
			if (emit_meta(&e, v, basis, &profile) == EMIT_NEEDTREE)
				goto out;
			continue;
		}
		mark = e.out.len;
		if (!first)
			emit_raw(&e, ",", 1);
		emit_string(&e, k);
		emit_raw(&e, ":", 1);
		if (t == JS_OBJECT && key_eq(j, k, "payment")) {
			if (has_dup(j, v))
				goto out;
			emit_raw(&e, "{", 1);
			left = 0;
			pfirst = 1;
			pend = j->node[v].next;
			for (pk = v + 1; pk < pend; pk = j->node[pk + 1].next) {
				if (key_eq(j, pk, "amount") ||
				    key_eq(j, pk, "adjustment")) {
					changed = 1;
					continue;
				}
				left++;
				if (!pfirst)
					emit_raw(&e, ",", 1);
				pfirst = 0;
				emit_string(&e, pk);
				emit_raw(&e, ":", 1);
				if (emit_value(&e, pk + 1) == EMIT_NEEDTREE)
					goto out;
			}
			if (left == 0) {	/* an empty payment goes */
				e.out.len = mark;
				continue;
			}
			emit_raw(&e, "}", 1);
		} else if (t == JS_ARRAY && (key_eq(j, k, "item") ||
		    key_eq(j, k, "addItem"))) {
			if (emit_lines(&e, v, 0, &changed) == EMIT_NEEDTREE)
				goto out;
		} else if (emit_value(&e, v) == EMIT_NEEDTREE)
			goto out;
		first = 0;
	}
	emit_raw(&e, "}", 1);
	*fin = changed;
	changed |= profile;	/* changed, but not financial */
	rc = 0;
	if (e.oom)
		rc = -1;
	else if (changed) {
		emit_raw(&e, "", 1);	/* the NUL */
		if (e.oom)
			rc = -1;
		else {
			*out = e.out.p;
			e.out.p = NULL;
		}
	}
out:
	buf_free(&e.out);
	return rc;
}

int
scope_classify_scan(struct jscan *j, const char *type,
    struct scope_info *info)
{
	const char	*use;
	size_t		 i, k;
	int		 pa, fin, rc;

	memset(info, 0, sizeof(*info));
	if (strcmp(type, "ExplanationOfBenefit") == 0)
		eob_dos_t(j, info->dos);
	else
		for (i = 0; i < NELEM(dos_paths); i++) {
			if (strcmp(dos_paths[i].type, type) != 0)
				continue;
			for (k = 0; k < NELEM(dos_paths[i].paths) &&
			    dos_paths[i].paths[k] != NULL; k++)
				if (date_of(jscan_path_str(j, 1,
				    dos_paths[i].paths[k]), info->dos) == 0)
					break;
			if (k == NELEM(dos_paths[i].paths) ||
			    dos_paths[i].paths[k] == NULL)
				info->dos[0] = '\0';
			break;
		}
	if (is_sensitive_t(j))
		info->flags |= SCOPE_SENSITIVE;
	if (strcmp(type, "ExplanationOfBenefit") != 0)
		return 0;
	use = jscan_getstr(j, 1, "use");
	pa = use != NULL && strcmp(use, "preauthorization") == 0;
	if (pa)
		classify_pa_t(j, info);
	if ((rc = eob_basis_t(j, pa, &fin, &info->p2p_json)) != 0) {
		scope_info_free(info);
		return rc == EMIT_NEEDTREE ? 1 : -1;
	}
	if (fin)
		info->flags |= SCOPE_FINANCIAL;
	return 0;
}

void
scope_info_free(struct scope_info *info)
{
	free(info->p2p_json);
	info->p2p_json = NULL;
}
