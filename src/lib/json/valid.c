/*
 * json/valid.c - see valid.h.  Sources: FHIR R4 (4.0.1) datatypes
 * (id, date, dateTime, instant regexes), references (§2.3.0), the
 * ResourceType value set, and the JSON format (§2.6.2: a repeating
 * element is always an array, a single one never is).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "json/valid.h"

/* FHIR R4 resource types (ResourceType value set), sorted. */
static const char *const r4_types[] = {
	"Account", "ActivityDefinition", "AdverseEvent",
	"AllergyIntolerance", "Appointment", "AppointmentResponse",
	"AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
	"BodyStructure", "Bundle", "CapabilityStatement", "CarePlan",
	"CareTeam", "CatalogEntry", "ChargeItem", "ChargeItemDefinition",
	"Claim", "ClaimResponse", "ClinicalImpression", "CodeSystem",
	"Communication", "CommunicationRequest", "CompartmentDefinition",
	"Composition", "ConceptMap", "Condition", "Consent", "Contract",
	"Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device",
	"DeviceDefinition", "DeviceMetric", "DeviceRequest",
	"DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
	"DocumentReference", "EffectEvidenceSynthesis", "Encounter",
	"Endpoint", "EnrollmentRequest", "EnrollmentResponse",
	"EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
	"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory",
	"Flag", "Goal", "GraphDefinition", "Group", "GuidanceResponse",
	"HealthcareService", "ImagingStudy", "Immunization",
	"ImmunizationEvaluation", "ImmunizationRecommendation",
	"ImplementationGuide", "InsurancePlan", "Invoice", "Library",
	"Linkage", "List", "Location", "Measure", "MeasureReport", "Media",
	"Medication", "MedicationAdministration", "MedicationDispense",
	"MedicationKnowledge", "MedicationRequest", "MedicationStatement",
	"MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication",
	"MedicinalProductIngredient", "MedicinalProductInteraction",
	"MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical",
	"MedicinalProductUndesirableEffect", "MessageDefinition",
	"MessageHeader", "MolecularSequence", "NamingSystem",
	"NutritionOrder", "Observation", "ObservationDefinition",
	"OperationDefinition", "OperationOutcome", "Organization",
	"OrganizationAffiliation", "Parameters", "Patient",
	"PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition",
	"Practitioner", "PractitionerRole", "Procedure", "Provenance",
	"Questionnaire", "QuestionnaireResponse", "RelatedPerson",
	"RequestGroup", "ResearchDefinition", "ResearchElementDefinition",
	"ResearchStudy", "ResearchSubject", "RiskAssessment",
	"RiskEvidenceSynthesis", "Schedule", "SearchParameter",
	"ServiceRequest", "Slot", "Specimen", "SpecimenDefinition",
	"StructureDefinition", "StructureMap", "Subscription", "Substance",
	"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
	"SubstanceReferenceInformation", "SubstanceSourceMaterial",
	"SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
	"VerificationResult", "VisionPrescription",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
fhir_type_known(const char *t)
{
	size_t	 lo = 0, hi = NELEM(r4_types), mid;
	int	 c;

	if (t == NULL)
		return 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((c = strcmp(t, r4_types[mid])) == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Length of the FHIR id at the start of s (up to end or a '/'), or 0. */
static size_t
id_len(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0' && s[n] != '/'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '.'))
			return 0;
	return n <= 64 ? n : 0;
}

/* 8-4-4-4-12 hex digits (RFC 4122 text form). */
static int
uuid_ok(const char *s)
{
	size_t	 i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hex_val((unsigned char)s[i]) < 0)
			return 0;
	}
	return s[36] == '\0';
}

/* An OID: [0-2](\.(0|[1-9][0-9]*))+ */
static int
oid_ok(const char *s)
{
	int	 arcs = 0;

	if (*s < '0' || *s > '2')
		return 0;
	s++;
	while (*s == '.') {
		s++;
		if (*s == '0')
			s++;
		else if (*s >= '1' && *s <= '9')
			while (*s >= '0' && *s <= '9')
				s++;
		else
			return 0;
		arcs++;
	}
	return *s == '\0' && arcs > 0;
}

int
fhir_valid_ref(const char *s)
{
	char		 type[65];
	const char	*p;
	size_t		 n;

	if (s == NULL || *s == '\0')
		return 0;
	if (s[0] == '#')
		return s[1] == '\0' || fhir_valid_id(s + 1);
	if (strncmp(s, "urn:uuid:", 9) == 0)
		return uuid_ok(s + 9);
	if (strncmp(s, "urn:oid:", 8) == 0)
		return oid_ok(s + 8);
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) {
		p = s + (s[4] == 's' ? 8 : 7);
		if (*p == '\0' || *p == '/')
			return 0;
		for (; *p != '\0'; p++)	/* no white space or controls */
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return 0;
		return 1;
	}
	/* Type/id[/_history/vid] */
	if ((p = strchr(s, '/')) == NULL ||
	    (n = (size_t)(p - s)) >= sizeof(type))
		return 0;
	memcpy(type, s, n);
	type[n] = '\0';
	if (!fhir_type_known(type) || (n = id_len(++p)) == 0)
		return 0;
	p += n;
	if (*p == '\0')
		return 1;
	return strncmp(p, "/_history/", 10) == 0 && fhir_valid_id(p + 10);
}

int
fhir_valid_date(const char *s)
{
	int	 p = time_parse_prec(s, 0, NULL);

	return p != -1 && p <= TIME_DAY;
}

int
fhir_valid_datetime(const char *s)
{
	return time_parse_prec(s, 0, NULL) != -1;
}

int
fhir_valid_instant(const char *s)
{
	return time_parse_prec(s, 0, NULL) == TIME_SECOND;
}

/* --- the element checks ------------------------------------------------ */

/* What a checked element holds. */
enum vt {
	VT_ANY,			/* not described: checked by name only */
	VT_STRING,		/* a JSON string (code, uri, string ...) */
	VT_DATE,
	VT_DATETIME,
	VT_INSTANT,
	VT_OBJECT,		/* an object, members not described */
	VT_CODING,
	VT_CONCEPT,		/* CodeableConcept */
	VT_PERIOD,
	VT_REFERENCE,
	VT_IDENTIFIER,
	VT_NAME,		/* HumanName */
	VT_EXTENSION,
	VT_META,
	VT_ADJUDICATION,	/* ExplanationOfBenefit adjudication */
	VT_LINE,		/* EOB item, addItem, detail, subDetail */
	VT_PAYMENT,		/* EOB payment */
	VT_PROVISION,		/* Consent provision */
	VT_POLICY,		/* Consent policy */
	VT_DOCCONTEXT,		/* DocumentReference context */
	VT_RESOURCE,		/* a contained resource */
	VT__MAX
};

/* How often: a single value, an array, or either (compartment links). */
enum { ONE, MANY, EITHER };

struct vel {
	const char	*name;
	size_t		 len;		/* of name */
	unsigned char	 card;		/* ONE, MANY, EITHER */
	unsigned char	 type;		/* enum vt */
};

#define E(name, card, type)	{ name, sizeof(name) - 1, card, type }

static const struct vel t_coding[] = {
	E("system", ONE, VT_STRING), E("code", ONE, VT_STRING),
	E("display", ONE, VT_STRING), E("version", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_concept[] = {
	E("coding", MANY, VT_CODING), E("text", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_period[] = {
	E("start", ONE, VT_DATETIME), E("end", ONE, VT_DATETIME),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_reference[] = {
	E("reference", ONE, VT_STRING), E("type", ONE, VT_STRING),
	E("identifier", ONE, VT_IDENTIFIER), E("display", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_identifier[] = {
	E("system", ONE, VT_STRING), E("value", ONE, VT_STRING),
	E("type", ONE, VT_CONCEPT), E("period", ONE, VT_PERIOD),
	E("assigner", ONE, VT_REFERENCE), { NULL, 0, 0, 0 },
};
static const struct vel t_name[] = {
	E("family", ONE, VT_STRING), E("given", MANY, VT_STRING),
	E("text", ONE, VT_STRING), E("use", ONE, VT_STRING),
	E("prefix", MANY, VT_STRING), E("suffix", MANY, VT_STRING),
	E("period", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};
static const struct vel t_extension[] = {
	E("url", ONE, VT_STRING), E("extension", MANY, VT_EXTENSION),
	E("valueCodeableConcept", ONE, VT_CONCEPT),
	E("valueCoding", ONE, VT_CODING), E("valuePeriod", ONE, VT_PERIOD),
	E("valueReference", ONE, VT_REFERENCE),
	E("valueIdentifier", ONE, VT_IDENTIFIER), { NULL, 0, 0, 0 },
};
static const struct vel t_meta[] = {
	E("lastUpdated", ONE, VT_INSTANT), E("versionId", ONE, VT_STRING),
	E("source", ONE, VT_STRING), E("profile", MANY, VT_STRING),
	E("security", MANY, VT_CODING), E("tag", MANY, VT_CODING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_adjudication[] = {
	E("category", ONE, VT_CONCEPT), E("reason", ONE, VT_CONCEPT),
	E("amount", ONE, VT_OBJECT), E("extension", MANY, VT_EXTENSION),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_line[] = {
	E("productOrService", ONE, VT_CONCEPT),
	E("servicedDate", ONE, VT_DATE), E("servicedPeriod", ONE, VT_PERIOD),
	E("adjudication", MANY, VT_ADJUDICATION),
	E("detail", MANY, VT_LINE), E("subDetail", MANY, VT_LINE),
	E("net", ONE, VT_OBJECT), E("unitPrice", ONE, VT_OBJECT),
	E("extension", MANY, VT_EXTENSION), { NULL, 0, 0, 0 },
};
static const struct vel t_payment[] = {
	E("type", ONE, VT_CONCEPT), E("date", ONE, VT_DATE),
	E("amount", ONE, VT_OBJECT), E("adjustment", ONE, VT_OBJECT),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_provision[] = {
	E("type", ONE, VT_STRING), E("period", ONE, VT_PERIOD),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_policy[] = {
	E("uri", ONE, VT_STRING), E("authority", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_doccontext[] = {
	E("period", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};

/* The members of each datatype above, by enum vt. */
static const struct vel *const datatypes[VT__MAX] = {
	[VT_CODING] = t_coding, [VT_CONCEPT] = t_concept,
	[VT_PERIOD] = t_period, [VT_REFERENCE] = t_reference,
	[VT_IDENTIFIER] = t_identifier, [VT_NAME] = t_name,
	[VT_EXTENSION] = t_extension, [VT_META] = t_meta,
	[VT_ADJUDICATION] = t_adjudication, [VT_LINE] = t_line,
	[VT_PAYMENT] = t_payment, [VT_PROVISION] = t_provision,
	[VT_POLICY] = t_policy, [VT_DOCCONTEXT] = t_doccontext,
};

/*
 * Elements of every resource: what the release and the loader read
 * (meta, the top-level status of _typeFilter, the Patient compartment
 * links of store_patient_of()).
 */
static const struct vel t_resource[] = {
	E("meta", ONE, VT_META), E("status", ONE, VT_STRING),
	E("extension", MANY, VT_EXTENSION),
	E("modifierExtension", MANY, VT_EXTENSION),
	E("contained", MANY, VT_RESOURCE), E("text", ONE, VT_OBJECT),
	E("patient", EITHER, VT_REFERENCE), E("subject", EITHER, VT_REFERENCE),
	E("beneficiary", EITHER, VT_REFERENCE),
	E("individual", EITHER, VT_REFERENCE),
	E("subscriber", EITHER, VT_REFERENCE),
	E("policyHolder", EITHER, VT_REFERENCE), { NULL, 0, 0, 0 },
};

/*
 * Elements of some types: what member matching (Patient, Coverage,
 * Organization), the date of service (datascope/classify.c dos_paths)
 * and the rules on claims and prior authorizations read.
 */
static const struct vel t_patient[] = {
	E("identifier", MANY, VT_IDENTIFIER), E("name", MANY, VT_NAME),
	E("birthDate", ONE, VT_DATE), E("gender", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_coverage[] = {
	E("identifier", MANY, VT_IDENTIFIER),
	E("subscriberId", ONE, VT_STRING), E("period", ONE, VT_PERIOD),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_organization[] = {
	E("identifier", MANY, VT_IDENTIFIER), E("name", ONE, VT_STRING),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_eob[] = {
	E("identifier", MANY, VT_IDENTIFIER), E("use", ONE, VT_STRING),
	E("outcome", ONE, VT_STRING), E("type", ONE, VT_CONCEPT),
	E("subType", ONE, VT_CONCEPT), E("created", ONE, VT_DATETIME),
	E("billablePeriod", ONE, VT_PERIOD),
	E("preAuthRefPeriod", MANY, VT_PERIOD), E("item", MANY, VT_LINE),
	E("addItem", MANY, VT_LINE),
	E("adjudication", MANY, VT_ADJUDICATION),
	E("total", MANY, VT_OBJECT), E("benefitBalance", MANY, VT_OBJECT),
	E("payment", ONE, VT_PAYMENT), E("insurer", ONE, VT_REFERENCE),
	E("provider", ONE, VT_REFERENCE), { NULL, 0, 0, 0 },
};
static const struct vel t_claim[] = {
	E("use", ONE, VT_STRING), E("created", ONE, VT_DATETIME),
	E("billablePeriod", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};
static const struct vel t_encounter[] = {
	E("period", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};
static const struct vel t_condition[] = {
	E("onsetDateTime", ONE, VT_DATETIME), E("onsetPeriod", ONE, VT_PERIOD),
	E("recordedDate", ONE, VT_DATETIME), { NULL, 0, 0, 0 },
};
static const struct vel t_observation[] = {
	E("effectiveDateTime", ONE, VT_DATETIME),
	E("effectivePeriod", ONE, VT_PERIOD),
	E("effectiveInstant", ONE, VT_INSTANT), E("issued", ONE, VT_INSTANT),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_procedure[] = {
	E("performedDateTime", ONE, VT_DATETIME),
	E("performedPeriod", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};
static const struct vel t_medrequest[] = {
	E("authoredOn", ONE, VT_DATETIME), { NULL, 0, 0, 0 },
};
static const struct vel t_meddispense[] = {
	E("whenHandedOver", ONE, VT_DATETIME),
	E("whenPrepared", ONE, VT_DATETIME), { NULL, 0, 0, 0 },
};
static const struct vel t_medstatement[] = {
	E("effectiveDateTime", ONE, VT_DATETIME),
	E("effectivePeriod", ONE, VT_PERIOD),
	E("dateAsserted", ONE, VT_DATETIME), { NULL, 0, 0, 0 },
};
static const struct vel t_immunization[] = {
	E("occurrenceDateTime", ONE, VT_DATETIME), { NULL, 0, 0, 0 },
};
static const struct vel t_allergy[] = {
	E("recordedDate", ONE, VT_DATETIME),
	E("onsetDateTime", ONE, VT_DATETIME), E("onsetPeriod", ONE, VT_PERIOD),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_report[] = {
	E("effectiveDateTime", ONE, VT_DATETIME),
	E("effectivePeriod", ONE, VT_PERIOD), E("issued", ONE, VT_INSTANT),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_docref[] = {
	E("date", ONE, VT_INSTANT), E("context", ONE, VT_DOCCONTEXT),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_careplan[] = {
	E("period", ONE, VT_PERIOD), E("created", ONE, VT_DATETIME),
	{ NULL, 0, 0, 0 },
};
static const struct vel t_servicerequest[] = {
	E("authoredOn", ONE, VT_DATETIME),
	E("occurrenceDateTime", ONE, VT_DATETIME),
	E("occurrencePeriod", ONE, VT_PERIOD), { NULL, 0, 0, 0 },
};
static const struct vel t_consent[] = {
	E("provision", ONE, VT_PROVISION), E("policy", MANY, VT_POLICY),
	E("policyRule", ONE, VT_CONCEPT), E("dateTime", ONE, VT_DATETIME),
	{ NULL, 0, 0, 0 },
};

static const struct {
	const char		*type;
	const struct vel	*tab;
} restypes[] = {
	{ "AllergyIntolerance", t_allergy }, { "CarePlan", t_careplan },
	{ "Claim", t_claim }, { "Condition", t_condition },
	{ "Consent", t_consent }, { "Coverage", t_coverage },
	{ "DiagnosticReport", t_report }, { "DocumentReference", t_docref },
	{ "Encounter", t_encounter }, { "ExplanationOfBenefit", t_eob },
	{ "Immunization", t_immunization },
	{ "MedicationDispense", t_meddispense },
	{ "MedicationRequest", t_medrequest },
	{ "MedicationStatement", t_medstatement },
	{ "Observation", t_observation }, { "Organization", t_organization },
	{ "Patient", t_patient }, { "Procedure", t_procedure },
	{ "ServiceRequest", t_servicerequest },
};

/* One resource being checked. */
struct vctx {
	struct jscan	*j;
	struct p2p_err	*err;
	const char	*type;		/* of the resource checked */
	const char	*id;
	/*
	 * Where the walk is: a key node (an object member) or an array
	 * index per level; the path is written out only for an error.
	 */
	struct {
		uint32_t key;		/* 0: an array element */
		long	 idx;
	} at[2 * JSCAN_WRITTEN_DEPTH + 2];
	int		 depth;
};

/* The text of key node k (decoded), its length in *n. */
static const char *
key_text(struct jscan *j, uint32_t k, size_t *n)
{
	const char	*s;

	if (!j->node[k].esc) {
		*n = j->node[k].len;
		return j->text + j->node[k].start;
	}
	s = jscan_str(j, k);
	*n = strlen(s);
	return s;
}

static int
key_same(struct jscan *j, uint32_t a, uint32_t b)
{
	const struct jscan_node	*x = &j->node[a], *y = &j->node[b];
	const char		*p, *q;
	size_t			 n, m;

	if (!x->esc && !y->esc)
		return x->len == y->len && memcmp(j->text + x->start,
		    j->text + y->start, x->len) == 0;
	p = key_text(j, a, &n);
	q = key_text(j, b, &m);
	return n == m && memcmp(p, q, n) == 0;
}

/* True when k (n bytes) is name. */
static int
is(const char *k, size_t n, const char *name)
{
	return name[0] == k[0] && strncmp(name, k, n) == 0 && name[n] == '\0';
}

/* True when k (n bytes) ends in suf (and is longer). */
static int
ends(const char *k, size_t n, const char *suf)
{
	size_t	 m = strlen(suf);

	return n > m && memcmp(k + n - m, suf, m) == 0;
}

static void
enter(struct vctx *c, uint32_t key, long idx)
{
	if (c->depth < (int)(sizeof(c->at) / sizeof(c->at[0]))) {
		c->at[c->depth].key = key;
		c->at[c->depth].idx = idx;
	}
	c->depth++;
}

/* Writes the path of the element being checked ("item[0].net"). */
static void
path_of(struct vctx *c, char *out, size_t outsz)
{
	const char	*k;
	size_t		 len = 0, n;
	int		 i, w, max = sizeof(c->at) / sizeof(c->at[0]);

	out[0] = '\0';
	for (i = 0; i < c->depth && i < max && len < outsz - 1; i++) {
		if (c->at[i].key == 0)
			w = snprintf(out + len, outsz - len, "[%ld]",
			    c->at[i].idx);
		else {
			k = key_text(c->j, c->at[i].key, &n);
			w = snprintf(out + len, outsz - len, "%s%.*s",
			    len ? "." : "", (int)n, k);
		}
		if (w < 0 || (size_t)w >= outsz - len)
			break;
		len += (size_t)w;
	}
}

static int
fail(struct vctx *c, enum p2p_issue issue, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The 422 naming the resource and the element being checked. */
static int
fail(struct vctx *c, enum p2p_issue issue, const char *fmt, ...)
{
	char	 what[160], path[128], expr[sizeof(path) + 72];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	path_of(c, path, sizeof(path));
	snprintf(expr, sizeof(expr), "%s.%s", c->type, path);
	return p2p_fail_at(c->err, 422, issue, expr, "%s/%s: %s %s", c->type,
	    c->id, path, what);
}

/* What a string under a key of this name must be, whatever the type. */
static enum vt
by_name(const char *k, size_t n)
{
	/* every name below ends in one of these: most names do not */
	switch (n > 0 ? k[n - 1] : 0) {
	case 'e':
		if (is(k, n, "reference"))
			return VT_REFERENCE;
		if (is(k, n, "birthDate"))
			return VT_DATE;
		if (ends(k, n, "Date") || ends(k, n, "DateTime") ||
		    is(k, n, "date") || is(k, n, "dateTime"))
			return VT_DATETIME;
		return VT_ANY;
	case 'd':
		if (is(k, n, "lastUpdated"))
			return VT_INSTANT;
		if (is(k, n, "created") || is(k, n, "issued") ||
		    is(k, n, "recorded") || is(k, n, "end") ||
		    is(k, n, "whenPrepared") || is(k, n, "dateAsserted"))
			return VT_DATETIME;
		return VT_ANY;
	case 't':
		if (ends(k, n, "Instant"))
			return VT_INSTANT;
		return is(k, n, "start") ? VT_DATETIME : VT_ANY;
	case 'n':
		return is(k, n, "authoredOn") ? VT_DATETIME : VT_ANY;
	case 'r':
		return is(k, n, "whenHandedOver") ? VT_DATETIME : VT_ANY;
	default:
		return VT_ANY;
	}
}

/* String node v: the check its type (or its name) asks for. */
static int
check_string(struct vctx *c, uint32_t v, enum vt t)
{
	const char	*s;

	if (t == VT_ANY || t == VT_STRING)
		return 0;
	s = jscan_str(c->j, v);
	switch (t) {
	case VT_REFERENCE:
		if (!fhir_valid_ref(s))
			return fail(c, P2P_ISSUE_VALUE, "\"%.64s\" is not a "
			    "valid reference (Type/id, an absolute URL, #id, "
			    "urn:uuid: or urn:oid:)", s);
		return 0;
	case VT_DATE:
		if (!fhir_valid_date(s))
			return fail(c, P2P_ISSUE_VALUE, "\"%.40s\" is not a "
			    "valid FHIR date", s);
		return 0;
	case VT_DATETIME:
		if (!fhir_valid_datetime(s))
			return fail(c, P2P_ISSUE_VALUE, "\"%.40s\" is not a "
			    "valid FHIR dateTime", s);
		return 0;
	case VT_INSTANT:
		if (!fhir_valid_instant(s))
			return fail(c, P2P_ISSUE_VALUE, "\"%.40s\" is not a "
			    "valid FHIR instant", s);
		return 0;
	default:
		return 0;
	}
}

static int	check_value(struct vctx *, uint32_t, const char *, size_t,
		    enum vt);

/* The entry of name in tab (NULL-terminated, or NULL), or NULL. */
static const struct vel *
lookup(const struct vel *tab, const char *k, size_t n)
{
	for (; tab != NULL && tab->name != NULL; tab++)
		if (tab->len == n && memcmp(tab->name, k, n) == 0)
			return tab;
	return NULL;
}

/* The elements of array v, each a t. */
static int
check_elements(struct vctx *c, uint32_t v, const char *name, size_t n,
    enum vt t)
{
	uint32_t	 e;
	long		 i;
	int		 rc = 0;

	for (e = jscan_first(c->j, v), i = 0; e != 0 && rc == 0;
	    e = jscan_next(c->j, v, e), i++) {
		enter(c, 0, i);
		rc = check_value(c, e, name, n, t);
		c->depth--;
	}
	return rc;
}

/*
 * A cheap signature of key node k: equal keys have equal signatures
 * (an escaped key, whose raw text may differ, has 0 and is compared).
 */
static uint32_t
key_sig(struct jscan *j, uint32_t k)
{
	const struct jscan_node	*n = &j->node[k];
	const unsigned char	*t;

	if (n->esc)
		return 0;
	t = (const unsigned char *)j->text + n->start;
	return n->len == 0 ? 1 : (n->len & 0xff) | (uint32_t)t[0] << 8 |
	    (uint32_t)t[n->len / 2] << 16 | (uint32_t)t[n->len - 1] << 24;
}

/*
 * Of the members of an object (keys key[0..m), sig[] their key_sig()),
 * what json-c keeps for member a: 0 when an earlier member has the same
 * key (it was kept in that place), else the value node of the last
 * member with that key.
 */
static uint32_t
kept_value(struct jscan *j, const uint32_t *key, const uint32_t *sig,
    size_t m, size_t a)
{
	uint32_t	 v = key[a] + 1;
	size_t		 b;

	for (b = 0; b < m; b++) {
		if (b == a || (sig[b] != sig[a] && sig[a] != 0 &&
		    sig[b] != 0) || !key_same(j, key[b], key[a]))
			continue;
		if (b < a)
			return 0;
		v = key[b] + 1;
	}
	return v;
}

/*
 * The members of object o, described by tab and (for a resource) by
 * rtab, each once, in the order json-c keeps them: where a key repeats,
 * in its first place with its last value.
 */
static int
check_members(struct vctx *c, uint32_t o, const struct vel *tab,
    const struct vel *rtab)
{
	struct jscan		*j = c->j;
	const struct vel	*el;
	uint32_t		 k, v, kbuf[2 * 32], *key = kbuf, *sig;
	const char		*name;
	size_t			 n, m = jscan_count(j, o), a, b;
	int			 rc = 0, dup = 0;

	if (m > 32 && (key = malloc(2 * m * sizeof(*key))) == NULL)
		return p2p_fail(c->err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	sig = key + m;
	for (a = 0, k = o + 1; a < m; k = j->node[k + 1].next, a++) {
		key[a] = k;
		/* most objects have no two keys alike: one pass decides */
		if ((sig[a] = key_sig(j, k)) == 0)
			dup = 1;
		for (b = 0; b < a && !dup; b++)
			dup = sig[b] == sig[a];
	}
	for (a = 0; a < m && rc == 0; a++) {
		k = key[a];
		v = k + 1;
		if (dup && (v = kept_value(j, key, sig, m, a)) == 0)
			continue;	/* a repeated key: checked once */
		name = key_text(j, k, &n);
		if ((el = lookup(tab, name, n)) == NULL)
			el = lookup(rtab, name, n);
		enter(c, k, 0);
		if (el == NULL)
			rc = check_value(c, v, name, n, VT_ANY);
		else if (el->card == MANY && jscan_type(j, v) != JS_ARRAY)
			rc = fail(c, P2P_ISSUE_STRUCTURE, "must be an array");
		else if (el->card == ONE || jscan_type(j, v) != JS_ARRAY)
			rc = check_value(c, v, name, n, (enum vt)el->type);
		else
			rc = check_elements(c, v, name, n, (enum vt)el->type);
		c->depth--;
	}
	if (key != kbuf)
		free(key);
	return rc;
}

/* The element table of resource type type, or NULL. */
static const struct vel *
type_table(const char *type)
{
	size_t	 lo = 0, hi = NELEM(restypes), mid;
	int	 c;

	while (lo < hi) {	/* restypes is sorted */
		mid = (lo + hi) / 2;
		if ((c = strcmp(type, restypes[mid].type)) == 0)
			return restypes[mid].tab;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* A contained resource: known type, an id, its own elements. */
static int
check_contained(struct vctx *c, uint32_t v)
{
	const char	*type, *id;

	type = jscan_getstr(c->j, v, "resourceType");
	if (!fhir_type_known(type))
		return fail(c, P2P_ISSUE_VALUE, "resourceType \"%.64s\" is not "
		    "a FHIR R4 resource type", type ? type : "");
	id = jscan_getstr(c->j, v, "id");
	if (!fhir_valid_id(id))
		return fail(c, P2P_ISSUE_VALUE, "needs a valid FHIR id");
	/* named by the container's path: contained[0].subject ... */
	return check_members(c, v, t_resource, type_table(type));
}

/*
 * One value v of element name, which should hold a t (VT_ANY: unknown,
 * then only its name tells what a string must be).
 */
static int
check_value(struct vctx *c, uint32_t v, const char *name, size_t n,
    enum vt t)
{
	struct jscan	*j = c->j;
	int		 jt = jscan_type(j, v);

	switch (t) {
	case VT_ANY:
		if (jt == JS_STRING)
			return check_string(c, v, by_name(name, n));
		if (jt == JS_OBJECT)
			return check_members(c, v, NULL, NULL);
		return check_elements(c, v, name, n, VT_ANY);
	case VT_STRING:
	case VT_DATE:
	case VT_DATETIME:
	case VT_INSTANT:
		if (jt != JS_STRING)
			return fail(c, P2P_ISSUE_STRUCTURE, "must be a string");
		return check_string(c, v, t == VT_STRING ? by_name(name, n) :
		    t);
	default:
		break;
	}
	if (jt != JS_OBJECT)
		return fail(c, P2P_ISSUE_STRUCTURE, "must be an object");
	if (t == VT_RESOURCE)
		return check_contained(c, v);
	if (t == VT_EXTENSION && jscan_get(j, v, "url") == 0)
		return fail(c, P2P_ISSUE_REQUIRED, "needs a url");
	return check_members(c, v, datatypes[t], NULL);
}

int
fhir_check(struct jscan *j, uint32_t res, const char *const *extra,
    struct p2p_err *err)
{
	struct vctx	 c;
	const char	*type, *id;
	size_t		 i;
	uint32_t	 v;

	if (jscan_type(j, res) != JS_OBJECT)
		return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE,
		    "expected a JSON object (a FHIR resource)");
	if ((type = jscan_getstr(j, res, "resourceType")) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "resourceType",
		    "resourceType is missing");
	for (i = 0; type[i] != '\0'; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') ||
		    (type[i] >= 'A' && type[i] <= 'Z')))
			break;
	if (type[i] != '\0' || i > 64 || type[0] < 'A' || type[0] > 'Z')
		return p2p_fail_at(err, 422, P2P_ISSUE_VALUE, "resourceType",
		    "resourceType \"%.64s\" is not a resource type name", type);
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		if (strcmp(type, extra[i]) == 0)
			break;
	if ((extra == NULL || extra[i] == NULL) && !fhir_type_known(type))
		return p2p_fail_at(err, 422, P2P_ISSUE_VALUE, "resourceType",
		    "resourceType \"%.64s\" is not a FHIR R4 resource type",
		    type);
	if ((v = jscan_get(j, res, "id")) == 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "id",
		    "%s: id is missing", type);
	if ((id = jscan_str(j, v)) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_VALUE, "id",
		    "%s: id is not a string", type);
	if (!fhir_valid_id(id))
		return p2p_fail_at(err, 422, P2P_ISSUE_VALUE, "id",
		    "%s: id \"%.80s\" is not a valid FHIR id "
		    "([A-Za-z0-9-.]{1,64})", type, id);
	if (extra != NULL && extra[i] != NULL)
		return 0;	/* not FHIR: its own rules (store.c) */
	c.j = j;
	c.err = err;
	c.type = type;
	c.id = id;
	c.depth = 0;
	return check_members(&c, res, t_resource, type_table(type));
}
