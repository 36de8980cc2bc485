/*
 * datascope/classify.c - the CMS-0057-F payer-to-payer data scope, decided
 * once per resource at load time (see classify.h and docs/data-scope.md).
 * Sources: ../shared/spec/consent-and-scope.md sections 2, 4 and 5
 * (HL7 THO security labels, PDex 2.x prior authorizations, CARIN BB 2.1
 * non-financial "Basis" EOB profiles).
 *
 * Every rule is written once, over the scanned form of the resource
 * (json/jscan.h): the loader scans each ndjson line, and a resource it
 * parsed with json-c (a Bundle entry, a line it had to change) is read
 * through the text json-c writes of it (JSCAN_WRITTEN).
 *
 * Everything here is pure: no clock, no database, no configuration.  The
 * rules that need the time of the export (N-year window, PA change
 * window) or a setting (release_drug_pa) are left to the exporter, which
 * compares the stored dos / changed / flags columns (release.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "datascope/classify.h"
#include "json/jscan.h"

#define SYS_CONF	"http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
#define SYS_ACTCODE	"http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define SYS_CLAIMTYPE	"http://terminology.hl7.org/CodeSystem/claim-type"
#define SYS_ADJ		"http://terminology.hl7.org/CodeSystem/adjudication"
#define SYS_C4BBADJ	"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
#define SYS_INSTSUB	"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType"
#define C4BB_SD		"http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
#define C4BB_EOB	C4BB_SD "C4BB-ExplanationOfBenefit"
#define PDEX_REVIEW	"extension-reviewAction"
#define PDEX_REVIEWCODE	"reviewActionCode"

/*
 * Where each type keeps its date of service, in order of preference
 * ("computed from the resource's own dates").  Paths follow
 * jscan_path(): the first element of any array on the way.  Types not
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

/*
 * Drug PAs (CMS-0057-F excludes prior authorizations for drugs of any
 * kind, physician-administered drugs included).  A productOrService
 * coding names a drug when its system is one of drug_systems (any
 * code), or one of code_systems with a code in drug_codes.
 * docs/data-scope.md lists the same, with what is left out.
 */
static const char *const drug_systems[] = {
	"http://hl7.org/fhir/sid/ndc",			/* NDC */
	"urn:oid:2.16.840.1.113883.6.69",		/* NDC, as an OID */
	"http://www.nlm.nih.gov/research/umls/rxnorm",	/* RxNorm */
	"urn:oid:2.16.840.1.113883.6.88",		/* RxNorm, as an OID */
};
static const char *const code_systems[] = {
	"https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
	"urn:oid:2.16.840.1.113883.6.285",		/* HCPCS Level II */
	/* CPT (HCPCS Level I), where Level II codes are also sent */
	"http://www.ama-assn.org/go/cpt",
	"urn:oid:2.16.840.1.113883.6.12",
};
/* Codes of five characters: a letter (or the first digit) + 4 digits. */
static const struct {
	char		 first;		/* 'J' ('9' for CPT 9xxxx) */
	unsigned short	 lo, hi;	/* the 4 digits after it */
} drug_codes[] = {
	{ 'A', 9500, 9699 },	/* diagnostic and therapeutic
				   radiopharmaceuticals */
	{ 'J', 0, 9999 },	/* drugs administered other than oral
				   method; chemotherapy drugs */
	{ 'Q', 138, 139 },	/* ferumoxytol */
	{ 'Q', 144, 144 },	/* azithromycin, oral */
	{ 'Q', 161, 181 },	/* oral anti-emetics */
	{ 'Q', 515, 515 },	/* sermorelin */
	{ 'Q', 2009, 2009 },	/* fosphenytoin */
	{ 'Q', 2017, 2017 },	/* teniposide */
	{ 'Q', 2043, 2043 },	/* sipuleucel-T */
	{ 'Q', 2049, 2050 },	/* doxorubicin, liposomal */
	{ 'Q', 3027, 3028 },	/* interferon beta-1a */
	{ 'Q', 4074, 4074 },	/* iloprost, inhalation */
	{ 'Q', 4081, 4081 },	/* epoetin alfa (ESRD) */
	{ 'Q', 5101, 5199 },	/* biosimilars */
	{ 'Q', 9950, 9969 },	/* contrast and imaging agents */
	{ 'Q', 9991, 9992 },	/* buprenorphine, extended release */
	{ 'S', 12, 197 },	/* drugs (S0012 butorphanol ... S0197
				   prenatal vitamins) */
	{ 'S', 4993, 4993 },	/* contraceptive pills */
	{ 'S', 5000, 5001 },	/* prescription drug, generic / brand */
	{ 'S', 5010, 5014 },	/* infusion solutions */
	{ '9', 281, 399 },	/* CPT 90281-90399 immune globulins */
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

	switch (time_parse_prec(s, 0, &t)) {
	case TIME_YEAR:
		memcpy(out, s, 4);
		memcpy(out + 4, "-01-01", 7);
		return 0;
	case TIME_MONTH:
		memcpy(out, s, 7);
		memcpy(out + 7, "-01", 4);
		return 0;
	case TIME_DAY:
	case TIME_SECOND:
		memcpy(out, s, 10);
		out[10] = '\0';
		return 0;
	default:
		return -1;
	}
}

/*
 * Normalises a date/dateTime/instant to "YYYY-MM-DDThh:mm:ssZ" (UTC), a
 * partial one to its first second, or with end != 0 to its last.
 */
static int
instant_of(const char *s, int end, char out[32])
{
	time_t	 t;

	if (time_parse(s, end, &t) == -1)
		return -1;
	time_instant(t, out);
	return 0;
}

/* Keeps the later of the instant s (if any) and out ("" for none). */
static void
latest(const char *s, int end, char out[32])
{
	char	 t[32];

	if (instant_of(s, end, t) == 0 && (out[0] == '\0' ||
	    strcmp(t, out) > 0))
		memcpy(out, t, sizeof(t));
}

/*
 * True when CodeableConcept concept has a coding with code and with
 * system sys (NULL: any system).
 */
static int
has_coding(struct jscan *j, uint32_t concept, const char *sys,
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

/*
 * ExplanationOfBenefit: billablePeriod.start, else the earliest item
 * servicedDate / servicedPeriod.start (the claim's start, as the
 * billable period would be), else created.
 */
static void
eob_dos(struct jscan *j, char out[11])
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

/* The date of service of a resource of type type, or "". */
static void
find_dos(struct jscan *j, const char *type, char out[11])
{
	size_t	 i, k;

	out[0] = '\0';
	if (strcmp(type, "ExplanationOfBenefit") == 0) {
		eob_dos(j, out);
		return;
	}
	for (i = 0; i < NELEM(dos_paths); i++) {
		if (strcmp(dos_paths[i].type, type) != 0)
			continue;
		for (k = 0; k < NELEM(dos_paths[i].paths) &&
		    dos_paths[i].paths[k] != NULL; k++)
			if (date_of(jscan_path_str(j, 1, dos_paths[i].paths[k]),
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
is_sensitive(struct jscan *j)
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

/* The code of the first coding of extension e's valueCodeableConcept. */
static const char *
value_code(struct jscan *j, uint32_t e)
{
	return jscan_path_str(j, jscan_get_t(j, e, "valueCodeableConcept",
	    JS_OBJECT), "coding.code");
}

/*
 * The X12 306 review action code held by one extension array (PDex
 * extension-reviewAction with its reviewActionCode sub-extension, or a
 * bare reviewActionCode extension).  When several are present (a PA
 * denied and then approved on appeal lists both), the last one in
 * document order is the current decision.  NULL when none.
 */
static const char *
review_code(struct jscan *j, uint32_t exts)
{
	uint32_t	 e, subs, sb;
	const char	*url, *code = NULL, *c;

	for (e = jscan_first(j, exts); e != 0; e = jscan_next(j, exts, e)) {
		url = jscan_getstr(j, e, "url");
		if (url_is(url, "extension-" PDEX_REVIEWCODE) ||
		    url_is(url, PDEX_REVIEWCODE)) {
			if ((c = value_code(j, e)) != NULL)
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
			if ((c = value_code(j, sb)) != NULL)
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
has_denial(struct jscan *j, uint32_t adjs)
{
	uint32_t	 a;

	for (a = jscan_first(j, adjs); a != 0; a = jscan_next(j, adjs, a))
		if (has_coding(j, jscan_get_t(j, a, "category", JS_OBJECT),
		    NULL, "denialreason"))
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
pa_decision(struct jscan *j)
{
	uint32_t	 items, it, adjs, a;
	const char	*code, *c, *outcome;
	int		 any = 0, appr = 0, pend = 0, deny = 0, denial = 0;

	items = jscan_get_t(j, 1, "item", JS_ARRAY);
	for (it = jscan_first(j, items); it != 0;
	    it = jscan_next(j, items, it)) {
		adjs = jscan_get_t(j, it, "adjudication", JS_ARRAY);
		denial |= has_denial(j, adjs);
		code = review_code(j, jscan_get_t(j, it, "extension",
		    JS_ARRAY));
		for (a = jscan_first(j, adjs); a != 0;
		    a = jscan_next(j, adjs, a))
			if ((c = review_code(j, jscan_get_t(j, a,
			    "extension", JS_ARRAY))) != NULL)
				code = c;
		switch (decision_of(code)) {
		case DEC_NONE: continue;
		case DEC_APPROVED: appr++; break;
		case DEC_PENDING: pend++; break;
		case DEC_DENIED: deny++; break;
		case DEC_CANCELLED: break;
		}
		any++;
	}
	if (any > 0)
		return appr > 0 ? DEC_APPROVED : pend > 0 ? DEC_PENDING :
		    deny > 0 ? DEC_DENIED : DEC_CANCELLED;
	if (denial || has_denial(j, jscan_get_t(j, 1, "adjudication",
	    JS_ARRAY)))
		return DEC_DENIED;
	outcome = jscan_getstr(j, 1, "outcome");
	if (outcome != NULL && (strcmp(outcome, "queued") == 0 ||
	    strcmp(outcome, "partial") == 0))
		return DEC_PENDING;
	return DEC_APPROVED;
}

/* True when a coding (system, code) names a drug (drug_codes above). */
static int
coding_is_drug(const char *sys, const char *code)
{
	size_t	 i;
	long	 n;
	char	 first;

	if (sys == NULL)
		return 0;
	for (i = 0; i < NELEM(drug_systems); i++)
		if (strcmp(sys, drug_systems[i]) == 0)
			return 1;
	for (i = 0; i < NELEM(code_systems); i++)
		if (strcmp(sys, code_systems[i]) == 0)
			break;
	if (i == NELEM(code_systems) || code == NULL || strlen(code) != 5 ||
	    strspn(code + 1, "0123456789") != 4)
		return 0;
	/* a lower-case letter is no HCPCS code, but errs on excluding */
	first = code[0] >= 'a' && code[0] <= 'z' ? (char)(code[0] - 32) :
	    code[0];
	n = strtol(code + 1, NULL, 10);
	for (i = 0; i < NELEM(drug_codes); i++)
		if (first == drug_codes[i].first && n >= drug_codes[i].lo &&
		    n <= drug_codes[i].hi)
			return 1;
	return 0;
}

/*
 * True when a line of array lines (item or addItem; below them detail
 * and subDetail) has a productOrService coded as a drug.
 */
static int
lines_drug(struct jscan *j, uint32_t lines, int depth)
{
	uint32_t	 el, cs, c;

	for (el = jscan_first(j, lines); el != 0;
	    el = jscan_next(j, lines, el)) {
		cs = jscan_get_t(j, jscan_get_t(j, el, "productOrService",
		    JS_OBJECT), "coding", JS_ARRAY);
		for (c = jscan_first(j, cs); c != 0; c = jscan_next(j, cs, c))
			if (coding_is_drug(jscan_getstr(j, c, "system"),
			    jscan_getstr(j, c, "code")))
				return 1;
		if (depth < 2 && (lines_drug(j, jscan_get_t(j, el, "detail",
		    JS_ARRAY), depth + 1) || lines_drug(j, jscan_get_t(j, el,
		    "subDetail", JS_ARRAY), depth + 1)))
			return 1;
	}
	return 0;
}

/* A drug PA: EOB type pharmacy, or any line coded as a drug. */
static int
pa_is_drug(struct jscan *j)
{
	return has_coding(j, jscan_get_t(j, 1, "type", JS_OBJECT),
	    SYS_CLAIMTYPE, "pharmacy") ||
	    lines_drug(j, jscan_get_t(j, 1, "item", JS_ARRAY), 0) ||
	    lines_drug(j, jscan_get_t(j, 1, "addItem", JS_ARRAY), 0);
}

/*
 * When the authorization ends: the latest preAuthRefPeriod[].end, else
 * the latest item[].servicedPeriod.end or item[].servicedDate, else
 * billablePeriod.end, as the last second it covers (UTC).  0 with out
 * set, or -1 when it has no end.
 */
static int
pa_end(struct jscan *j, char out[32])
{
	uint32_t	 arr, e;

	out[0] = '\0';
	arr = jscan_get_t(j, 1, "preAuthRefPeriod", JS_ARRAY);
	for (e = jscan_first(j, arr); e != 0; e = jscan_next(j, arr, e))
		latest(jscan_getstr(j, e, "end"), 1, out);
	if (out[0] == '\0') {
		arr = jscan_get_t(j, 1, "item", JS_ARRAY);
		for (e = jscan_first(j, arr); e != 0;
		    e = jscan_next(j, arr, e)) {
			latest(jscan_path_str(j, e, "servicedPeriod.end"), 1,
			    out);
			latest(jscan_getstr(j, e, "servicedDate"), 1, out);
		}
	}
	if (out[0] == '\0')
		latest(jscan_path_str(j, 1, "billablePeriod.end"), 1, out);
	return out[0] != '\0' ? 0 : -1;
}

/*
 * Prior authorization rules (spec 4; PDex: "active/current PAs plus PAs
 * whose status changed in the last 12 months"; CMS-0057-F: drugs and
 * denied PAs excluded):
 *  - current decision denied: SCOPE_EXCLUDED;
 *  - a drug PA: SCOPE_DRUG (the exporter excludes it unless
 *    release_drug_pa is set: switching needs no reload);
 *  - changed = when the decision last changed, from the source alone:
 *    meta.lastUpdated as the source gave it (lu_source), else created,
 *    normalised to UTC; never the time of the load;
 *  - closed (SCOPE_PA_CLOSED, released only while changed is within
 *    pa_change_months of the export): status cancelled or
 *    entered-in-error, decision cancelled, or an approved PA whose
 *    authorization has an end (pa_end()).  Its expiry is itself a
 *    status change (active -> expired), so changed becomes the later of
 *    the decision and that end; a period ending in the future keeps the
 *    PA released until pa_change_months after it ends, with no clock
 *    needed at load time.  Pending PAs stay open.  A closed PA with no
 *    date at all has changed "" and is never released.
 */
static void
classify_pa(struct jscan *j, int lu_source, struct scope_info *info)
{
	enum decision	 d;
	const char	*status;
	char		 end[32];

	info->flags |= SCOPE_PA;
	if ((!lu_source || instant_of(jscan_path_str(j, 1, "meta.lastUpdated"),
	    0, info->changed) == -1) &&
	    instant_of(jscan_getstr(j, 1, "created"), 0, info->changed) == -1)
		info->changed[0] = '\0';
	if (pa_is_drug(j))
		info->flags |= SCOPE_DRUG;
	if ((d = pa_decision(j)) == DEC_DENIED)
		info->flags |= SCOPE_EXCLUDED;
	status = jscan_getstr(j, 1, "status");
	if (d == DEC_CANCELLED || (status != NULL &&
	    (strcmp(status, "cancelled") == 0 ||
	    strcmp(status, "entered-in-error") == 0)))
		info->flags |= SCOPE_PA_CLOSED;
	else if (d == DEC_APPROVED && pa_end(j, end) == 0) {
		info->flags |= SCOPE_PA_CLOSED;
		if (strcmp(end, info->changed) > 0)
			memcpy(info->changed, end, sizeof(end));
	}
}

/* --- CARIN BB non-financial form --------------------------------------- */

/*
 * The released form of an EOB is written from the tape in the form
 * json-c writes (fhir_json(): JSON_C_TO_STRING_PLAIN, no slash escapes):
 * no white space, members in their order, strings escaped as
 * json_escape_str() does, integers as int64, decimals as written (json-c
 * keeps a parsed double's text).  So the same resource gives the same
 * text whether its line was scanned as read or as json-c wrote it.  A
 * duplicate key is the one shape json-c writes differently (once, in
 * the first place, with the last value): it makes this give up
 * (EMIT_DUPKEY), and the caller scans the text json-c writes instead.
 */
#define EMIT_DUPKEY	(-2)

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

/* Any value, unchanged.  0 or EMIT_DUPKEY. */
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
	case JS_TRUE:
	case JS_FALSE:
	case JS_NULL:
		/* as written; but an integer "-0" is int64 0 to json-c */
		if (n->len == 2 && memcmp(e->j->text + n->start, "-0", 2) == 0)
			emit_raw(e, "0", 1);
		else
			emit_raw(e, e->j->text + n->start, n->len);
		return 0;
	case JS_ARRAY:
		emit_raw(e, "[", 1);
		for (c = v + 1; c < end; c = e->j->node[c].next) {
			if (!first)
				emit_raw(e, ",", 1);
			first = 0;
			if (emit_value(e, c) == EMIT_DUPKEY)
				return EMIT_DUPKEY;
		}
		emit_raw(e, "]", 1);
		return 0;
	default:
		break;
	}
	if (has_dup(e->j, v))
		return EMIT_DUPKEY;
	emit_raw(e, "{", 1);
	for (c = v + 1; c < end; c = e->j->node[c + 1].next) {
		emit_key(e, c, &first);
		if (emit_value(e, c + 1) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
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
is_amount_category(struct jscan *j, uint32_t cat)
{
	size_t	 i;

	for (i = 0; i < NELEM(amount_adj); i++)
		if (has_coding(j, cat, SYS_ADJ, amount_adj[i]))
			return 1;
	for (i = 0; i < NELEM(amount_c4bb); i++)
		if (has_coding(j, cat, SYS_C4BBADJ, amount_c4bb[i]))
			return 1;
	return 0;
}

/*
 * The adjudication array adjs without money (CARIN BB 2.1 Basis
 * profiles drop the adjudicationamounttype slices): entries in an
 * amount category go, except that an entry carrying extensions (a PDex
 * reviewAction, which is the PA decision the rule says to send) keeps
 * its category and extensions; every kept entry loses its amount; an
 * entry left with nothing but its category goes.  Reason-only slices
 * (network status, adjustmentreason, denialreason, rejectreason),
 * allowedunits with their value, and anything not an object stay.
 * Emits the kept entries (without the brackets) and returns how many,
 * with *changed set; or EMIT_DUPKEY.
 */
static int
emit_adj(struct emit *e, uint32_t adjs, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 a, k, end;
	int		 amount, ext, left, cat, kept = 0, first;

	*changed = 0;
	for (a = jscan_first(j, adjs); a != 0; a = jscan_next(j, adjs, a)) {
		if (jscan_type(j, a) != JS_OBJECT) {	/* not ours: kept */
			if (kept++ > 0)
				emit_raw(e, ",", 1);
			if (emit_value(e, a) == EMIT_DUPKEY)
				return EMIT_DUPKEY;
			continue;
		}
		if (has_dup(j, a))
			return EMIT_DUPKEY;
		amount = is_amount_category(j, jscan_get_t(j, a, "category",
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
			if (emit_value(e, k + 1) == EMIT_DUPKEY)
				return EMIT_DUPKEY;
		}
		emit_raw(e, "}", 1);
	}
	return kept;
}

/*
 * One member "key":value of an object being stripped, with the
 * adjudication rule: the member is left out when every entry went.
 * *first tracks the commas.  0 or EMIT_DUPKEY.
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
	if ((n = emit_adj(e, k + 1, &ch)) == EMIT_DUPKEY)
		return EMIT_DUPKEY;
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

/*
 * An item/detail/subDetail line without net, unitPrice and the money of
 * its adjudications, nor of its detail and subDetail lines below it.
 */
static int
emit_line(struct emit *e, uint32_t el, int depth, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 k, end = j->node[el].next;
	int		 first = 1, t;

	if (jscan_type(j, el) != JS_OBJECT)
		return emit_value(e, el);
	if (has_dup(j, el))
		return EMIT_DUPKEY;
	emit_raw(e, "{", 1);
	for (k = el + 1; k < end; k = j->node[k + 1].next) {
		t = jscan_type(j, k + 1);
		if (key_eq(j, k, "net") || key_eq(j, k, "unitPrice")) {
			*changed = 1;
			continue;
		}
		if (t == JS_ARRAY && key_eq(j, k, "adjudication")) {
			if (emit_adj_member(e, k, &first, changed) ==
			    EMIT_DUPKEY)
				return EMIT_DUPKEY;
			continue;
		}
		emit_key(e, k, &first);
		if (depth < 2 && t == JS_ARRAY && (key_eq(j, k, "detail") ||
		    key_eq(j, k, "subDetail"))) {
			if (emit_lines(e, k + 1, depth + 1, changed) ==
			    EMIT_DUPKEY)
				return EMIT_DUPKEY;
		} else if (emit_value(e, k + 1) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
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
		if (emit_line(e, el, depth, changed) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
	}
	emit_raw(e, "]", 1);
	return 0;
}

/*
 * The Basis canonical for an EOB's type/subType, or NULL (no CARIN BB
 * profile applies, e.g. vision).  An institutional EOB is inpatient
 * unless its subType or its current profile says outpatient.
 */
static const char *
basis_profile(struct jscan *j)
{
	uint32_t	 type = jscan_get_t(j, 1, "type", JS_OBJECT);
	uint32_t	 sub = jscan_get_t(j, 1, "subType", JS_OBJECT);
	uint32_t	 prof, p;
	const char	*s;

	if (has_coding(j, type, SYS_CLAIMTYPE, "institutional")) {
		if (has_coding(j, sub, SYS_INSTSUB, "outpatient"))
			return C4BB_EOB "-Outpatient-Institutional-Basis";
		if (has_coding(j, sub, SYS_INSTSUB, "inpatient"))
			return C4BB_EOB "-Inpatient-Institutional-Basis";
		prof = jscan_get_t(j, jscan_get_t(j, 1, "meta", JS_OBJECT),
		    "profile", JS_ARRAY);
		for (p = jscan_first(j, prof); p != 0;
		    p = jscan_next(j, prof, p))
			if ((s = jscan_str(j, p)) != NULL &&
			    strstr(s, "Outpatient") != NULL)
				return C4BB_EOB
				    "-Outpatient-Institutional-Basis";
		return C4BB_EOB "-Inpatient-Institutional-Basis";
	}
	if (has_coding(j, type, SYS_CLAIMTYPE, "professional"))
		return C4BB_EOB "-Professional-NonClinician-Basis";
	if (has_coding(j, type, SYS_CLAIMTYPE, "oral"))
		return C4BB_EOB "-Oral-Basis";
	if (has_coding(j, type, SYS_CLAIMTYPE, "pharmacy"))
		return C4BB_EOB "-Pharmacy-Basis";
	return NULL;
}

/* A profile the Basis one replaces: a full CARIN BB EOB profile. */
static int
replaced_profile(const char *s, const char *basis)
{
	return s != NULL && (strcmp(s, basis) == 0 ||
	    strncmp(s, C4BB_EOB, strlen(C4BB_EOB)) == 0);
}

/*
 * "profile":[kept profiles..., basis] (prof 0: none); a value that is
 * not a string is kept as it is.  0 or EMIT_DUPKEY.
 */
static int
emit_profile(struct emit *e, uint32_t prof, const char *basis)
{
	uint32_t	 p;
	int		 first = 1;

	emit_raw(e, "\"profile\":[", 11);
	for (p = jscan_first(e->j, prof); p != 0;
	    p = jscan_next(e->j, prof, p)) {
		if (replaced_profile(jscan_str(e->j, p), basis))
			continue;
		if (!first)
			emit_raw(e, ",", 1);
		first = 0;
		if (emit_value(e, p) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
	}
	if (!first)
		emit_raw(e, ",", 1);
	emit_raw(e, "\"", 1);
	emit_raw(e, basis, strlen(basis));
	emit_raw(e, "\"]", 2);
	return 0;
}

/*
 * meta (an object, or 0 for none) with its profile set to basis: kept
 * profiles, then basis, in place of the old profile member (or last).
 * *changed unless the profile was already right.  0 or EMIT_DUPKEY.
 */
static int
emit_meta(struct emit *e, uint32_t meta, const char *basis, int *changed)
{
	struct jscan	*j = e->j;
	uint32_t	 k, prof, p, end = meta ? j->node[meta].next : 0;
	const char	*s;
	int		 had = 0, other = 0, first = 1, done = 0;

	if (meta != 0 && has_dup(j, meta))
		return EMIT_DUPKEY;
	prof = jscan_get_t(j, meta, "profile", JS_ARRAY);
	for (p = jscan_first(j, prof); p != 0; p = jscan_next(j, prof, p)) {
		if ((s = jscan_str(j, p)) != NULL && strcmp(s, basis) == 0)
			had = 1;
		else if (replaced_profile(s, basis))
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
			if (emit_profile(e, prof, basis) == EMIT_DUPKEY)
				return EMIT_DUPKEY;
			done = 1;
			continue;
		}
		emit_string(e, k);
		emit_raw(e, ":", 1);
		if (emit_value(e, k + 1) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
	}
	if (!done) {			/* added last */
		if (!first)
			emit_raw(e, ",", 1);
		if (emit_profile(e, prof, basis) == EMIT_DUPKEY)
			return EMIT_DUPKEY;
	}
	emit_raw(e, "}", 1);
	return 0;
}

/*
 * The released form of an EOB (spec 5): the financial elements removed
 * (total, benefitBalance, payment.amount and .adjustment, the money of
 * adjudications and lines, an empty payment), and for claims (pa == 0)
 * meta.profile set to the Basis canonical, meta added last when there
 * is none.  PAs keep their PDex profile: the Basis profiles constrain
 * claim EOBs only.  The released form goes to *out (NULL when it
 * equals the original), *fin is set when money was removed.  0, -1 out
 * of memory, or EMIT_DUPKEY.
 */
static int
eob_basis(struct jscan *j, int pa, int *fin, char **out)
{
	struct emit	 e;
	uint32_t	 k, v, pk, end = j->node[1].next, pend;
	const char	*basis = NULL;
	int		 changed = 0, first = 1, t, rc = EMIT_DUPKEY,
			 left, pfirst, profile = 0, meta = 0;
	size_t		 mark;

	*out = NULL;
	*fin = 0;
	memset(&e, 0, sizeof(e));
	e.j = j;
	if (!pa)
		basis = basis_profile(j);
	if (has_dup(j, 1))
		return EMIT_DUPKEY;
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
			    EMIT_DUPKEY)
				goto out;
			continue;
		}
		if (key_eq(j, k, "meta") && basis != NULL) {
			/* after the stripping: fin does not count it */
			emit_key(&e, k, &first);
			if (emit_meta(&e, t == JS_OBJECT ? v : 0, basis,
			    &profile) == EMIT_DUPKEY)
				goto out;
			meta = 1;
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
				if (emit_value(&e, pk + 1) == EMIT_DUPKEY)
					goto out;
			}
			if (left == 0) {	/* an empty payment goes */
				e.out.len = mark;
				continue;
			}
			emit_raw(&e, "}", 1);
		} else if (t == JS_ARRAY && (key_eq(j, k, "item") ||
		    key_eq(j, k, "addItem"))) {
			if (emit_lines(&e, v, 0, &changed) == EMIT_DUPKEY)
				goto out;
		} else if (emit_value(&e, v) == EMIT_DUPKEY)
			goto out;
		first = 0;
	}
	if (basis != NULL && !meta) {
		emit_raw(&e, first ? "\"meta\":" : ",\"meta\":", first ? 7 : 8);
		if (emit_meta(&e, 0, basis, &profile) == EMIT_DUPKEY)
			goto out;
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
scope_classify(struct jscan *j, const char *type, int lu_source,
    struct scope_info *info)
{
	const char	*use;
	int		 pa, fin, rc;

	memset(info, 0, sizeof(*info));
	find_dos(j, type, info->dos);
	if (is_sensitive(j))
		info->flags |= SCOPE_SENSITIVE;
	if (strcmp(type, "ExplanationOfBenefit") != 0)
		return 0;
	use = jscan_getstr(j, 1, "use");
	if ((pa = use != NULL && strcmp(use, "preauthorization") == 0))
		classify_pa(j, lu_source, info);
	if ((rc = eob_basis(j, pa, &fin, &info->p2p_json)) != 0) {
		scope_info_free(info);
		return rc == EMIT_DUPKEY ? 1 : -1;
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
