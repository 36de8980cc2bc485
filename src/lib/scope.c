/*
 * scope.c - the CMS-0057-F payer-to-payer data scope, decided once per
 * resource at load time (see scope.h and README.md "Payer-to-payer data
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

#include "fhir.h"
#include "jscan.h"
#include "scope.h"
#include "util.h"

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
 * Sensitive when meta.security holds confidentiality R or V or one of
 * the sensitivity codes above (spec 2, "Practical rule for #regular").
 */
static int
is_sensitive(json_object *res)
{
	json_object	*sec, *c;
	const char	*sys, *code;
	size_t		 i, j, n;

	sec = fhir_get(fhir_get(res, "meta", json_type_object), "security",
	    json_type_array);
	n = sec != NULL ? json_object_array_length(sec) : 0;
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(sec, i);
		sys = fhir_str(c, "system");
		code = fhir_str(c, "code");
		if (sys == NULL || code == NULL)
			continue;
		if (strcmp(sys, SYS_CONF) == 0 &&
		    (strcmp(code, "R") == 0 || strcmp(code, "V") == 0))
			return 1;
		if (strcmp(sys, SYS_ACTCODE) != 0)
			continue;
		for (j = 0; j < NELEM(sensitive_codes); j++)
			if (strcmp(code, sensitive_codes[j]) == 0)
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
	const char	*code, *c, *outcome;
	size_t		 i, j, n, m;
	int		 any = 0, appr = 0, pend = 0, canc = 0, deny = 0;
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
		switch (decision_of(code)) {
		case DEC_NONE: continue;
		case DEC_APPROVED: appr++; break;
		case DEC_PENDING: pend++; break;
		case DEC_DENIED: deny++; break;
		case DEC_CANCELLED: canc++; break;
		}
		any++;
	}
	if (any > 0) {
		if (appr > 0)
			return DEC_APPROVED;
		if (pend > 0)
			return DEC_PENDING;
		if (deny > 0)
			return DEC_DENIED;
		return DEC_CANCELLED;
	}
	if (denial || has_denial(fhir_get(res, "adjudication",
	    json_type_array)))
		return DEC_DENIED;
	outcome = fhir_str(res, "outcome");
	if (outcome != NULL && (strcmp(outcome, "queued") == 0 ||
	    strcmp(outcome, "partial") == 0))
		return DEC_PENDING;
	return DEC_APPROVED;
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

/* find_dos() and is_sensitive() on the tape, for types other than EOB. */
int
scope_classify_scan(struct jscan *j, const char *type,
    struct scope_info *info)
{
	uint32_t	 sec, c;
	const char	*sys, *code;
	size_t		 i, k;

	memset(info, 0, sizeof(*info));
	if (strcmp(type, "ExplanationOfBenefit") == 0)
		return -1;
	for (i = 0; i < NELEM(dos_paths); i++) {
		if (strcmp(dos_paths[i].type, type) != 0)
			continue;
		for (k = 0; k < NELEM(dos_paths[i].paths) &&
		    dos_paths[i].paths[k] != NULL; k++)
			if (date_of(jscan_path_str(j, 1, dos_paths[i].paths[k]),
			    info->dos) == 0)
				goto sensitive;
		info->dos[0] = '\0';
		break;
	}
sensitive:
	sec = jscan_get_t(j, jscan_get_t(j, 1, "meta", JS_OBJECT), "security",
	    JS_ARRAY);
	for (c = jscan_first(j, sec); c != 0; c = jscan_next(j, sec, c)) {
		sys = jscan_getstr(j, c, "system");
		code = jscan_getstr(j, c, "code");
		if (sys == NULL || code == NULL)
			continue;
		if (strcmp(sys, SYS_CONF) == 0 &&
		    (strcmp(code, "R") == 0 || strcmp(code, "V") == 0)) {
			info->flags |= SCOPE_SENSITIVE;
			break;
		}
		if (strcmp(sys, SYS_ACTCODE) != 0)
			continue;
		for (k = 0; k < NELEM(sensitive_codes); k++)
			if (strcmp(code, sensitive_codes[k]) == 0)
				break;
		if (k < NELEM(sensitive_codes)) {
			info->flags |= SCOPE_SENSITIVE;
			break;
		}
	}
	return 0;
}

void
scope_info_free(struct scope_info *info)
{
	free(info->p2p_json);
	info->p2p_json = NULL;
}
