/*
 * gen.c - deterministic synthetic data, see gen.h.
 *
 * Speed matters (1,000,000 members, ~55 resources each): every resource
 * is formatted with snprintf into one line buffer and written with one
 * fwrite to a buffered FILE; there is no JSON tree.  All strings come
 * from the tables below (no quotes or backslashes), so no escaping is
 * needed.  Randomness is splitmix64 seeded from (seed, member index):
 * no rand(), no global state, member k is the same whatever N is.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "gen.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define LINE_MAX_	32768

/* Code systems and canonicals used below. */
#define S_NPI		"http://hl7.org/fhir/sid/us-npi"
#define S_MEMBER	"http://example.org/member-id"
#define S_CLAIMID	"https://syn.example.org/fhir/sid/claim-id"
#define S_PAID		"https://syn.example.org/fhir/sid/prior-auth-id"
#define S_V20203	"http://terminology.hl7.org/CodeSystem/v2-0203"
#define S_ICD10		"http://hl7.org/fhir/sid/icd-10-cm"
#define S_CPT		"http://www.ama-assn.org/go/cpt"
#define S_HCPCS		"https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
#define S_LOINC		"http://loinc.org"
#define S_UCUM		"http://unitsofmeasure.org"
#define S_RXNORM	"http://www.nlm.nih.gov/research/umls/rxnorm"
#define S_NDC		"http://hl7.org/fhir/sid/ndc"
#define S_ADJ		"http://terminology.hl7.org/CodeSystem/adjudication"
#define S_C4BB		"http://hl7.org/fhir/us/carin-bb/CodeSystem/"
#define S_C4BBSD	"http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
#define S_PDEXSD	"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"
#define S_X12_306	"https://codesystem.x12.org/005010/306"
#define S_TERM		"http://terminology.hl7.org/CodeSystem/"
#define S_POS		"https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
#define S_REV		"https://www.nubc.org/CodeSystem/RevenueCodes"

struct gen {
	FILE		*f;
	struct gen_opts	 o;
	int		 anchor;	/* days since 1970-01-01 */
	char		 npi[16];	/* payer NPI */
	char		 pnpi[GEN_PRACTITIONERS][16];
	uint64_t	 rng;		/* current member's PRNG state */
	char		 pid[32];	/* current member id */
	char		 mid[32];	/* current member identifier value */
	int		 seq;		/* per-member id counter */
	char		 line[LINE_MAX_];
	size_t		 n;		/* bytes in line */
	int		 overflow;	/* a line did not fit */
	int		 ioerr;		/* fwrite failed */
	struct gen_stats st;
};

/* --- randomness and dates ---------------------------------------------- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (multiply-shift; bias negligible here). */
static int
rnd(struct gen *g, int n)
{
	return (int)(((splitmix(&g->rng) >> 32) * (uint64_t)n) >> 32);
}

/* RND(n): uniform in [0, n) from the current member's stream g. */
#define RND(n)	rnd(g, (int)(n))

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int
days_from_civil(int y, int m, int d)
{
	int	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int z, int *y, int *m, int *d)
{
	int	 era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* Two decimal digits of v (0-99) at p. */
static void
d2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" of day z (years 0-9999). */
static void
dstr(int z, char out[11])
{
	int	 y, m, d;

	civil_from_days(z, &y, &m, &d);
	d2(out, y / 100);
	d2(out + 2, y % 100);
	out[4] = '-';
	d2(out + 5, m);
	out[7] = '-';
	d2(out + 8, d);
	out[10] = '\0';
}

/* "YYYY-MM-DDThh:mm:ssZ" of day z plus sec seconds (< 86400). */
static void
tstr(int z, int sec, char out[21])
{
	dstr(z, out);
	out[10] = 'T';
	d2(out + 11, sec / 3600 % 24);
	out[13] = ':';
	d2(out + 14, sec / 60 % 60);
	out[16] = ':';
	d2(out + 17, sec % 60);
	out[19] = 'Z';
	out[20] = '\0';
}

/* Cents as a JSON number "123.45". */
static void
money(long cents, char out[24])
{
	snprintf(out, 24, "%ld.%02ld", cents / 100, cents % 100);
}

/* A valid NPI (Luhn over "80840" + 9 digits, NPI spec) from base9. */
static void
npi_make(long base9, char out[16])
{
	char	 d[16];
	int	 i, sum = 24, v, dbl = 1;	/* 24: the "80840" prefix */

	snprintf(d, sizeof(d), "%09ld", base9 % 1000000000L);
	for (i = 8; i >= 0; i--) {
		v = d[i] - '0';
		if (dbl && (v *= 2) > 9)
			v -= 9;
		sum += v;
		dbl = !dbl;
	}
	memcpy(out, d, 9);
	out[9] = (char)('0' + (10 - sum % 10) % 10);
	out[10] = '\0';
}

/* --- the line writer --------------------------------------------------- */

static void
put(struct gen *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct gen *g, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	if (g->overflow)
		return;
	va_start(ap, fmt);
	r = vsnprintf(g->line + g->n, sizeof(g->line) - g->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(g->line) - g->n - 1)
		g->overflow = 1;
	else
		g->n += (size_t)r;
}

/* Ends the current resource line and writes it. */
static void
emit(struct gen *g, enum gen_type t, int sensitive)
{
	if (g->overflow) {
		g->n = 0;
		return;
	}
	g->line[g->n++] = '\n';
	if (fwrite(g->line, 1, g->n, g->f) != g->n)
		g->ioerr = 1;
	g->st.bytes += g->n;
	g->st.resources++;
	g->st.by_type[t]++;
	g->st.sensitive += sensitive != 0;
	g->n = 0;
}

/* --- vocabularies ------------------------------------------------------ */

static const char *const given_f[] = {
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan",
	"Jessica", "Sarah", "Karen", "Nancy", "Zoë", "Renée", "Chloé",
	"Inés", "María", "Françoise", "Ana", "Lucía", "Mei", "Aaliyah",
	"Siobhán", "Björk", "Noémie", "Grace",
};
static const char *const given_m[] = {
	"James", "Robert", "John", "Michael", "David", "William", "Richard",
	"Joseph", "Thomas", "Charles", "José", "François", "Łukasz", "Søren",
	"Björn", "Andrés", "Jürgen", "Raúl", "Wei", "Omar", "Seán", "Jamal",
	"Mateo", "Kenji",
};
static const char *const family[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
	"Davis", "Rodriguez", "Martinez", "Hernández", "López", "González",
	"Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
	"Martin", "Müller", "Núñez", "O'Brien", "Nguyen", "Kowalski",
	"Østergaard", "Peña", "Ibáñez", "Çelik", "Dubois", "Schäfer", "Kim",
	"Patel", "Chen", "Okafor", "MacDonald",
};
static const char *const streets[] = {
	"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Rd", "Elm St",
	"Washington Blvd", "Lakeview Ter", "Hillcrest Way", "River Rd",
};
static const struct {
	const char	*city, *state, *zip;
} places[] = {
	{ "Springfield", "IL", "62701" }, { "Columbus", "OH", "43215" },
	{ "Austin", "TX", "78701" }, { "Albany", "NY", "12207" },
	{ "Sacramento", "CA", "95814" }, { "Denver", "CO", "80202" },
	{ "Raleigh", "NC", "27601" }, { "Madison", "WI", "53703" },
	{ "Tallahassee", "FL", "32301" }, { "Salem", "OR", "97301" },
	{ "Harrisburg", "PA", "17101" }, { "Richmond", "VA", "23219" },
};

struct code {
	const char	*code, *display;
};

/* Chronic conditions and the drug (RxNorm, NDC) and lab they bring. */
static const struct {
	struct code	 dx;
	struct code	 rx;
	const char	*ndc;
	int		 lab;	/* index into labtab[] */
} chronic[] = {
	{ { "E11.9", "Type 2 diabetes mellitus without complications" },
	  { "861007", "metformin hydrochloride 500 MG Oral Tablet" },
	  "00093104801", 0 },
	{ { "I10", "Essential (primary) hypertension" },
	  { "314076", "lisinopril 10 MG Oral Tablet" },
	  "68180051301", 3 },
	{ { "E78.5", "Hyperlipidemia, unspecified" },
	  { "617310", "atorvastatin 20 MG Oral Tablet" },
	  "00378395077", 1 },
	{ { "J45.909", "Unspecified asthma, uncomplicated" },
	  { "745679", "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler" },
	  "00173068220", 4 },
	{ { "K21.9", "Gastro-esophageal reflux disease without esophagitis" },
	  { "198053", "omeprazole 20 MG Delayed Release Oral Capsule" },
	  "62175013643", 2 },
	{ { "E66.9", "Obesity, unspecified" },
	  { "860975", "metformin hydrochloride 500 MG Extended Release Oral Tablet" },
	  "00093726701", 2 },
};

static const struct {
	const char	*code, *display, *cat, *unit;
	int		 lo, hi, scale;	/* value = [lo, hi) / scale */
} labtab[] = {
	{ "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood",
	  "laboratory", "%", 52, 95, 10 },
	{ "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma",
	  "laboratory", "mg/dL", 150, 260, 1 },
	{ "29463-7", "Body weight", "vital-signs", "kg", 550, 1200, 10 },
	{ "8867-4", "Heart rate", "vital-signs", "/min", 58, 96, 1 },
	{ "39156-5", "Body mass index (BMI) [Ratio]", "vital-signs",
	  "kg/m2", 190, 380, 10 },
};

/* A billed service (CPT) and its charge in cents. */
struct service {
	const char	*code, *display;
	long		 charge;
};

/* Office visits. */
static const struct service visits[] = {
	{ "99213", "Office or other outpatient visit, established patient, low", 14500 },
	{ "99214", "Office or other outpatient visit, established patient, moderate", 21000 },
	{ "99203", "Office or other outpatient visit, new patient, low", 17500 },
	{ "99396", "Preventive medicine visit, established patient, 40-64 years", 26000 },
	{ "83036", "Hemoglobin; glycosylated (A1C)", 4500 },
};

/* Procedures. */
static const struct service procs[] = {
	{ "45378", "Colonoscopy, flexible; diagnostic", 210000 },
	{ "93000", "Electrocardiogram, routine, with interpretation and report", 9000 },
	{ "71046", "Radiologic examination, chest; 2 views", 15000 },
	{ "66984", "Extracapsular cataract removal with insertion of intraocular lens", 320000 },
	{ "29881", "Arthroscopy, knee, surgical; with meniscectomy", 540000 },
};

/* Services needing prior authorization (CPT or HCPCS). */
static const struct {
	const char	*sys, *code, *display;
	int		 qty;
	long		 charge;
} pasvc[] = {
	{ S_CPT, "72148", "Magnetic resonance imaging, spinal canal, lumbar; without contrast", 1, 180000 },
	{ S_CPT, "27447", "Arthroplasty, knee, condyle and plateau (total knee arthroplasty)", 1, 3200000 },
	{ S_CPT, "70553", "Magnetic resonance imaging, brain; without contrast, followed by contrast", 1, 260000 },
	{ S_HCPCS, "E0601", "Continuous positive airway pressure (CPAP) device", 1, 95000 },
	{ S_CPT, "97110", "Therapeutic procedure, 1 or more areas, each 15 minutes; therapeutic exercises", 12, 9500 },
};

/* Specialty drugs needing prior authorization (NDC). */
static const struct code padrug[] = {
	{ "00074433902", "Humira 40 MG/0.4ML Pen Injector" },
	{ "00169413013", "Ozempic 0.25 or 0.5 MG/DOSE Pen Injector" },
	{ "00002143380", "Trulicity 1.5 MG/0.5ML Pen Injector" },
};

/* Sensitive conditions and their labels (THO v3-ActCode). */
static const struct {
	struct code	 dx;
	const char	*label;
} sensitive[] = {
	{ { "F10.20", "Alcohol dependence, uncomplicated" }, "ETH" },
	{ { "F32.9", "Major depressive disorder, single episode, unspecified" }, "MH" },
	{ { "B20", "Human immunodeficiency virus [HIV] disease" }, "HIV" },
};

static const char *const orgnames[GEN_PROVIDERS] = {
	"Riverside Community Hospital", "Lakeside Family Medicine",
	"Summit Orthopedic Associates", "Valley Imaging Center",
	"Main Street Pharmacy",
};

static const char *const type_names[GEN__MAX] = {
	"Organization",		/* GEN_ORGANIZATION */
	"Practitioner",		/* GEN_PRACTITIONER */
	"Patient",		/* GEN_PATIENT */
	"Coverage",		/* GEN_COVERAGE */
	"ExplanationOfBenefit",	/* GEN_EOB */
	"ExplanationOfBenefit",	/* GEN_PA */
	"Encounter",		/* GEN_ENCOUNTER */
	"Condition",		/* GEN_CONDITION */
	"Observation",		/* GEN_OBSERVATION */
	"MedicationRequest",	/* GEN_MEDICATIONREQUEST */
	"Procedure",		/* GEN_PROCEDURE */
};

/* --- common fragments -------------------------------------------------- */

#define CODING(sys, code)	"{\"coding\":[{\"system\":\"" sys "\",\"code\":\"" code "\"}]}"
#define USD			",\"currency\":\"USD\"}"

/* Starts a resource line: resourceType, id "<member>-<tag><n>", meta. */
static void
begin(struct gen *g, enum gen_type t, const char *tag, char id[64])
{
	snprintf(id, 64, "%s-%s%d", g->pid, tag, ++g->seq);
	g->n = 0;
	put(g, "{\"resourceType\":\"%s\",\"id\":\"%s\"", type_names[t], id);
}

/* meta with lastUpdated, an optional profile and optional labels. */
static void
meta(struct gen *g, const char *updated, const char *profile,
    const char *label)
{
	put(g, ",\"meta\":{\"lastUpdated\":\"%s\"", updated);
	if (profile != NULL)
		put(g, ",\"profile\":[\"%s\"]", profile);
	if (label != NULL)
		put(g, ",\"security\":[{\"system\":\"" S_TERM
		    "v3-Confidentiality\",\"code\":\"R\",\"display\":"
		    "\"restricted\"},{\"system\":\"" S_TERM "v3-ActCode\","
		    "\"code\":\"%s\"}]", label);
	put(g, "}");
}

/* One adjudication entry in an amount category. */
static void
adj_amount(struct gen *g, const char *sys, const char *code, long cents,
    int comma)
{
	char	 m[24];

	money(cents, m);
	put(g, "%s{\"category\":{\"coding\":[{\"system\":\"%s\",\"code\":"
	    "\"%s\"}]},\"amount\":{\"value\":%s" USD "}", comma ? "," : "",
	    sys, code, m);
}

/*
 * The money of one claim line: submitted, eligible (allowed), copay or
 * member liability, benefit (paid); all removed in the Basis form.
 */
struct amounts {
	long	 submitted, eligible, copay, benefit;
};

static void
amounts_make(struct gen *g, long charge, struct amounts *a)
{
	a->submitted = charge;
	a->eligible = charge * (55 + RND(30)) / 100;
	a->copay = 2000 + RND(3) * 500;
	if (a->copay > a->eligible / 2)
		a->copay = a->eligible / 5;
	a->benefit = a->eligible - a->copay;
}

static void
amounts_add(struct amounts *sum, const struct amounts *a)
{
	sum->submitted += a->submitted;
	sum->eligible += a->eligible;
	sum->copay += a->copay;
	sum->benefit += a->benefit;
}

/* Line adjudication: money slices plus kept slices (units, network). */
static void
line_adjudication(struct gen *g, const struct amounts *a, int units,
    int pharmacy)
{
	put(g, ",\"adjudication\":[");
	adj_amount(g, S_ADJ, "submitted", a->submitted, 0);
	adj_amount(g, S_ADJ, "eligible", a->eligible, 1);
	if (pharmacy)
		adj_amount(g, S_C4BB "C4BBAdjudication", "paidbypatient",
		    a->copay, 1);
	else
		adj_amount(g, S_ADJ, "copay", a->copay, 1);
	adj_amount(g, S_ADJ, "benefit", a->benefit, 1);
	adj_amount(g, S_C4BB "C4BBAdjudication", "paidtoprovider",
	    a->benefit, 1);
	if (!pharmacy)
		put(g, ",{\"category\":" CODING(S_C4BB
		    "C4BBAdjudicationDiscriminator", "allowedunits")
		    ",\"value\":%d}", units);
	put(g, "]");
}

/* Header totals, payment and network status of a claim EOB. */
static void
claim_totals(struct gen *g, const struct amounts *t, int payday)
{
	char	 d[11], m[24];

	put(g, ",\"adjudication\":[{\"category\":" CODING(S_C4BB
	    "C4BBAdjudicationDiscriminator", "billingnetworkstatus")
	    ",\"reason\":" CODING(S_C4BB "C4BBPayerAdjudicationStatus",
	    "%s") "}]", RND(8) == 0 ? "outofnetwork" : "innetwork");
	put(g, ",\"total\":[");
	adj_amount(g, S_ADJ, "submitted", t->submitted, 0);
	adj_amount(g, S_ADJ, "eligible", t->eligible, 1);
	adj_amount(g, S_ADJ, "benefit", t->benefit, 1);
	adj_amount(g, S_C4BB "C4BBAdjudication", "memberliability",
	    t->copay, 1);
	dstr(payday, d);
	money(t->benefit, m);
	put(g, "],\"payment\":{\"type\":" CODING(S_TERM "ex-paymenttype",
	    "complete") ",\"date\":\"%s\",\"amount\":{\"value\":%s" USD "}",
	    d, m);
}

/* The parts every EOB shares, up to and including "insurance". */
static void
eob_head(struct gen *g, const char *id, const char *claimtype,
    const char *subtype, const char *use, int day, int end,
    int created_day, const char *provider)
{
	char	 s[11], e[11], c[21];

	dstr(day, s);
	dstr(end, e);
	tstr(created_day, 36000 + RND(20000), c);
	put(g, ",\"identifier\":[{\"type\":" CODING(S_C4BB
	    "C4BBIdentifierType", "uc") ",\"system\":\"%s\",\"value\":"
	    "\"%s\"}],\"status\":\"active\",\"type\":" CODING(S_TERM
	    "claim-type", "%s"),
	    strcmp(use, "claim") == 0 ? S_CLAIMID : S_PAID, id, claimtype);
	if (subtype != NULL)
		put(g, ",\"subType\":" CODING(S_C4BB
		    "C4BBInstitutionalClaimSubType", "%s"), subtype);
	put(g, ",\"use\":\"%s\",\"patient\":{\"reference\":\"Patient/%s\"},"
	    "\"billablePeriod\":{\"start\":\"%s\",\"end\":\"%s\"},"
	    "\"created\":\"%s\",\"insurer\":{\"reference\":"
	    "\"Organization/syn-payer\"},\"provider\":{\"reference\":\"%s\"}",
	    use, g->pid, s, e, c, provider);
}

static void
eob_insurance(struct gen *g)
{
	put(g, ",\"insurance\":[{\"focal\":true,\"coverage\":{\"reference\":"
	    "\"Coverage/%s-cov\"}}]", g->pid);
}

static void
eob_diagnosis(struct gen *g, const struct code *dx)
{
	put(g, ",\"diagnosis\":[{\"sequence\":1,\"diagnosisCodeableConcept\":"
	    "{\"coding\":[{\"system\":\"" S_ICD10 "\",\"code\":\"%s\","
	    "\"display\":\"%s\"}]},\"type\":[" CODING(S_TERM
	    "ex-diagnosistype", "principal") "]}]", dx->code, dx->display);
}

static void
eob_careteam(struct gen *g, int pract, const char *role)
{
	put(g, ",\"careTeam\":[{\"sequence\":1,\"provider\":{\"reference\":"
	    "\"Practitioner/syn-pract-%d\"},\"role\":" CODING(S_C4BB
	    "C4BBClaimCareTeamRole", "%s") "}]", pract + 1, role);
}

static void
eob_received(struct gen *g, int day)
{
	char	 d[11];

	dstr(day, d);
	put(g, ",\"supportingInfo\":[{\"sequence\":1,\"category\":" CODING(
	    S_C4BB "C4BBSupportingInfoType", "clmrecvddate")
	    ",\"timingDate\":\"%s\"}]", d);
}

/* --- resources --------------------------------------------------------- */

static void
w_encounter(struct gen *g, int day, int days, int inpatient, int pract,
    int org, const struct code *dx, char id[64])
{
	char	 s[21], e[21];
	int	 t = 28800 + RND(28800);

	tstr(day, t, s);
	tstr(day + days, inpatient ? 39600 : t + 1200 + RND(2400), e);
	begin(g, GEN_ENCOUNTER, "enc", id);
	meta(g, e, NULL, NULL);
	put(g, ",\"status\":\"finished\",\"class\":{\"system\":\"" S_TERM
	    "v3-ActCode\",\"code\":\"%s\",\"display\":\"%s\"},"
	    "\"type\":[{\"coding\":[{\"system\":\"" S_CPT "\",\"code\":"
	    "\"%s\"}]}],\"subject\":{\"reference\":\"Patient/%s\"},"
	    "\"participant\":[{\"individual\":{\"reference\":"
	    "\"Practitioner/syn-pract-%d\"}}],\"period\":{\"start\":\"%s\","
	    "\"end\":\"%s\"},\"reasonCode\":[{\"coding\":[{\"system\":\""
	    S_ICD10 "\",\"code\":\"%s\",\"display\":\"%s\"}]}],"
	    "\"serviceProvider\":{\"reference\":\"Organization/syn-prov-%d\"}}",
	    inpatient ? "IMP" : "AMB", inpatient ? "inpatient encounter" :
	    "ambulatory", inpatient ? "99223" : "99213", g->pid, pract + 1,
	    s, e, dx->code, dx->display, org + 1);
	emit(g, GEN_ENCOUNTER, 0);
}

static void
w_condition(struct gen *g, int day, const struct code *dx,
    const char *label)
{
	char	 id[64], d[11], u[21];

	dstr(day, d);
	tstr(day, 43200, u);
	begin(g, GEN_CONDITION, "cond", id);
	meta(g, u, NULL, label);
	put(g, ",\"clinicalStatus\":" CODING(S_TERM "condition-clinical",
	    "active") ",\"verificationStatus\":" CODING(S_TERM
	    "condition-ver-status", "confirmed") ",\"category\":[" CODING(
	    S_TERM "condition-category", "problem-list-item") "],"
	    "\"code\":{\"coding\":[{\"system\":\"" S_ICD10 "\",\"code\":"
	    "\"%s\",\"display\":\"%s\"}]},\"subject\":{\"reference\":"
	    "\"Patient/%s\"},\"onsetDateTime\":\"%s\",\"recordedDate\":"
	    "\"%s\"}", dx->code, dx->display, g->pid, d, d);
	emit(g, GEN_CONDITION, label != NULL);
}

static void
w_observation(struct gen *g, int day, int lab, const char *enc)
{
	char	 id[64], t[21];
	int	 v, sec = 32400 + RND(25000);

	tstr(day, sec, t);
	v = labtab[lab].lo + RND(labtab[lab].hi - labtab[lab].lo);
	begin(g, GEN_OBSERVATION, "obs", id);
	meta(g, t, NULL, NULL);
	put(g, ",\"status\":\"final\",\"category\":[" CODING(S_TERM
	    "observation-category", "%s") "],\"code\":{\"coding\":[{"
	    "\"system\":\"" S_LOINC "\",\"code\":\"%s\",\"display\":\"%s\"}]},"
	    "\"subject\":{\"reference\":\"Patient/%s\"},\"encounter\":{"
	    "\"reference\":\"Encounter/%s\"},\"effectiveDateTime\":\"%s\","
	    "\"valueQuantity\":{\"value\":", labtab[lab].cat, labtab[lab].code,
	    labtab[lab].display, g->pid, enc, t);
	if (labtab[lab].scale == 10)
		put(g, "%d.%d", v / 10, v % 10);
	else
		put(g, "%d", v);
	put(g, ",\"unit\":\"%s\",\"system\":\"" S_UCUM "\",\"code\":\"%s\"}}",
	    labtab[lab].unit, labtab[lab].unit);
	emit(g, GEN_OBSERVATION, 0);
}

static void
w_medreq(struct gen *g, int day, int c, int pract)
{
	char	 id[64], t[21];

	tstr(day, 36000 + RND(20000), t);
	begin(g, GEN_MEDICATIONREQUEST, "rx", id);
	meta(g, t, NULL, NULL);
	put(g, ",\"status\":\"completed\",\"intent\":\"order\","
	    "\"medicationCodeableConcept\":{\"coding\":[{\"system\":\""
	    S_RXNORM "\",\"code\":\"%s\",\"display\":\"%s\"}]},\"subject\":"
	    "{\"reference\":\"Patient/%s\"},\"authoredOn\":\"%s\","
	    "\"requester\":{\"reference\":\"Practitioner/syn-pract-%d\"},"
	    "\"dosageInstruction\":[{\"text\":\"as directed\"}],"
	    "\"dispenseRequest\":{\"numberOfRepeatsAllowed\":%d,"
	    "\"quantity\":{\"value\":30,\"unit\":\"tablet\"}}}",
	    chronic[c].rx.code, chronic[c].rx.display, g->pid, t, pract + 1,
	    RND(6));
	emit(g, GEN_MEDICATIONREQUEST, 0);
}

static void
w_procedure(struct gen *g, int day, int p, int pract, const char *enc)
{
	char	 id[64], t[21];

	tstr(day, 30000 + RND(20000), t);
	begin(g, GEN_PROCEDURE, "proc", id);
	meta(g, t, NULL, NULL);
	put(g, ",\"status\":\"completed\",\"code\":{\"coding\":[{\"system\":\""
	    S_CPT "\",\"code\":\"%s\",\"display\":\"%s\"}]},\"subject\":{"
	    "\"reference\":\"Patient/%s\"}", procs[p].code, procs[p].display,
	    g->pid);
	if (enc != NULL)
		put(g, ",\"encounter\":{\"reference\":\"Encounter/%s\"}", enc);
	put(g, ",\"performedDateTime\":\"%s\",\"performer\":[{\"actor\":{"
	    "\"reference\":\"Practitioner/syn-pract-%d\"}}]}", t, pract + 1);
	emit(g, GEN_PROCEDURE, 0);
}

/* Professional claim for an office visit (and a procedure or lab). */
static void
w_eob_professional(struct gen *g, int day, int pract, const char *enc,
    const struct code *dx, int proc)
{
	struct amounts	 a, b, t;
	char		 id[64], u[21], d[11], p[40];
	int		 v = RND(NELEM(visits)), paid = day + 14 + RND(20);

	begin(g, GEN_EOB, "eob", id);
	tstr(paid, 50000, u);
	meta(g, u, S_C4BBSD "C4BB-ExplanationOfBenefit-Professional-NonClinician",
	    NULL);
	/* the billing provider is the rendering practitioner */
	snprintf(p, sizeof(p), "Practitioner/syn-pract-%d", pract + 1);
	eob_head(g, id, "professional", NULL, "claim", day, day, day + 3, p);
	put(g, ",\"outcome\":\"complete\"");
	eob_careteam(g, pract, "performing");
	eob_received(g, day + 3);
	eob_diagnosis(g, dx);
	eob_insurance(g);
	dstr(day, d);
	amounts_make(g, visits[v].charge, &a);
	t = a;
	put(g, ",\"item\":[{\"sequence\":1,\"diagnosisSequence\":[1],"
	    "\"productOrService\":{\"coding\":[{\"system\":\"" S_CPT "\","
	    "\"code\":\"%s\",\"display\":\"%s\"}]},\"servicedDate\":\"%s\","
	    "\"locationCodeableConcept\":" CODING(S_POS, "11")
	    ",\"quantity\":{\"value\":1}", visits[v].code, visits[v].display,
	    d);
	put(g, ",\"net\":{\"value\":%ld.%02ld" USD, a.submitted / 100,
	    a.submitted % 100);
	if (enc != NULL)
		put(g, ",\"encounter\":[{\"reference\":\"Encounter/%s\"}]", enc);
	line_adjudication(g, &a, 1, 0);
	put(g, "}");
	if (proc >= 0) {
		amounts_make(g, procs[proc].charge, &b);
		amounts_add(&t, &b);
		put(g, ",{\"sequence\":2,\"diagnosisSequence\":[1],"
		    "\"productOrService\":{\"coding\":[{\"system\":\"" S_CPT
		    "\",\"code\":\"%s\",\"display\":\"%s\"}]},\"servicedDate\":"
		    "\"%s\",\"locationCodeableConcept\":" CODING(S_POS, "22")
		    ",\"quantity\":{\"value\":1},\"net\":{\"value\":%ld.%02ld"
		    USD, procs[proc].code, procs[proc].display, d,
		    b.submitted / 100, b.submitted % 100);
		line_adjudication(g, &b, 1, 0);
		put(g, "}");
	}
	put(g, "]");
	claim_totals(g, &t, paid);
	put(g, "}");
	emit(g, GEN_EOB, 0);
}

/* Institutional claim: inpatient stay (days > 0) or outpatient visit. */
static void
w_eob_institutional(struct gen *g, int day, int days, int org,
    const char *enc, const struct code *dx, int proc)
{
	struct amounts	 a, b, t;
	char		 id[64], u[21], s[11], p[40];
	int		 paid = day + days + 20 + RND(25), inp = days > 0;

	begin(g, GEN_EOB, "eob", id);
	tstr(paid, 50000, u);
	meta(g, u, inp ? S_C4BBSD "C4BB-ExplanationOfBenefit-Inpatient-Institutional" :
	    S_C4BBSD "C4BB-ExplanationOfBenefit-Outpatient-Institutional", NULL);
	snprintf(p, sizeof(p), "Organization/syn-prov-%d", org + 1);
	eob_head(g, id, "institutional", inp ? "inpatient" : "outpatient",
	    "claim", day, day + days, day + days + 5, p);
	put(g, ",\"outcome\":\"complete\"");
	eob_received(g, day + days + 5);
	eob_diagnosis(g, dx);
	eob_insurance(g);
	dstr(day, s);
	amounts_make(g, inp ? 250000L * days : 85000, &a);
	amounts_make(g, procs[proc].charge, &b);
	t = a;
	amounts_add(&t, &b);
	put(g, ",\"item\":[{\"sequence\":1,\"revenue\":{\"coding\":[{"
	    "\"system\":\"" S_REV "\",\"code\":\"%s\"}]},\"productOrService\":"
	    "{\"coding\":[{\"system\":\"" S_TERM "data-absent-reason\","
	    "\"code\":\"not-applicable\"}]},\"servicedDate\":\"%s\","
	    "\"quantity\":{\"value\":%d},\"net\":{\"value\":%ld.%02ld" USD,
	    inp ? "0120" : "0510", s, inp ? days : 1, a.submitted / 100,
	    a.submitted % 100);
	put(g, ",\"encounter\":[{\"reference\":\"Encounter/%s\"}]", enc);
	line_adjudication(g, &a, inp ? days : 1, 0);
	put(g, "},{\"sequence\":2,\"revenue\":{\"coding\":[{\"system\":\""
	    S_REV "\",\"code\":\"0360\"}]},\"productOrService\":{\"coding\":"
	    "[{\"system\":\"" S_CPT "\",\"code\":\"%s\",\"display\":\"%s\"}]},"
	    "\"servicedDate\":\"%s\",\"quantity\":{\"value\":1},\"net\":{"
	    "\"value\":%ld.%02ld" USD ",\"encounter\":[{\"reference\":"
	    "\"Encounter/%s\"}]", procs[proc].code, procs[proc].display, s,
	    b.submitted / 100, b.submitted % 100, enc);
	line_adjudication(g, &b, 1, 0);
	put(g, "}]");
	claim_totals(g, &t, paid);
	put(g, "}");
	emit(g, GEN_EOB, 0);
}

/* Pharmacy claim for a fill of chronic drug c. */
static void
w_eob_pharmacy(struct gen *g, int day, int c)
{
	struct amounts	 a;
	char		 id[64], u[21], s[11];
	int		 paid = day + 2 + RND(10), supply = RND(3) == 0 ? 90 : 30;

	begin(g, GEN_EOB, "eob", id);
	tstr(paid, 50000, u);
	meta(g, u, S_C4BBSD "C4BB-ExplanationOfBenefit-Pharmacy", NULL);
	eob_head(g, id, "pharmacy", NULL, "claim", day, day, day + 1,
	    "Organization/syn-prov-5");
	put(g, ",\"outcome\":\"complete\"");
	dstr(day, s);
	put(g, ",\"supportingInfo\":[{\"sequence\":1,\"category\":" CODING(
	    S_C4BB "C4BBSupportingInfoType", "dayssupply") ",\"value"
	    "Quantity\":{\"value\":%d}},{\"sequence\":2,\"category\":" CODING(
	    S_C4BB "C4BBSupportingInfoType", "clmrecvddate")
	    ",\"timingDate\":\"%s\"}]", supply, s);
	eob_insurance(g);
	amounts_make(g, (long)(1500 + RND(9000)) * (supply / 30), &a);
	put(g, ",\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":"
	    "[{\"system\":\"" S_NDC "\",\"code\":\"%s\",\"display\":\"%s\"}]},"
	    "\"servicedDate\":\"%s\",\"quantity\":{\"value\":%d},\"net\":{"
	    "\"value\":%ld.%02ld" USD, chronic[c].ndc, chronic[c].rx.display,
	    s, supply, a.submitted / 100, a.submitted % 100);
	line_adjudication(g, &a, supply, 1);
	put(g, "}]");
	claim_totals(g, &a, paid);
	put(g, "}");
	emit(g, GEN_EOB, 0);
}

/* A PDex reviewAction extension carrying X12 306 code. */
static void
review(struct gen *g, const char *num, const char *code,
    const char *display)
{
	put(g, "{\"url\":\"" S_PDEXSD "extension-reviewAction\","
	    "\"extension\":[{\"url\":\"number\",\"valueString\":\"%s\"},"
	    "{\"url\":\"" S_PDEXSD "extension-reviewActionCode\","
	    "\"valueCodeableConcept\":{\"coding\":[{\"system\":\"" S_X12_306
	    "\",\"code\":\"%s\",\"display\":\"%s\"}]}}]}", num, code,
	    display);
}

/*
 * A prior authorization (PDex pdex-priorauthorization) of kind k,
 * requested on day; see enum gen_pa.
 */
static void
w_pa(struct gen *g, enum gen_pa k, int day, int pract)
{
	char		 id[64], u[21], s[11], e[11], num[40], m[24], p[40];
	const char	*sys, *code, *display;
	int		 decided, qty, from, to, svc;
	long		 charge;

	begin(g, GEN_PA, "pa", id);
	decided = day + 1 + RND(5);
	if (k == GEN_PA_PENDING)
		decided = day;
	else if (k == GEN_PA_APPEAL)
		decided = day + 30 + RND(20);
	from = day + 7;
	to = from + (k == GEN_PA_DRUG ? 365 : 90 + RND(90));
	tstr(decided, 39600 + RND(18000), u);
	meta(g, u, S_PDEXSD "pdex-priorauthorization", NULL);
	if (k == GEN_PA_DRUG) {
		svc = RND(NELEM(padrug));
		sys = S_NDC;
		code = padrug[svc].code;
		display = padrug[svc].display;
		qty = 1;
		charge = 550000 + RND(300000);
	} else {
		svc = RND(NELEM(pasvc));
		sys = pasvc[svc].sys;
		code = pasvc[svc].code;
		display = pasvc[svc].display;
		qty = pasvc[svc].qty;
		charge = pasvc[svc].charge * qty;
	}
	snprintf(p, sizeof(p), "Practitioner/syn-pract-%d", pract + 1);
	eob_head(g, id, k == GEN_PA_DRUG ? "pharmacy" : "professional", NULL,
	    "preauthorization", from, to, day, p);
	put(g, ",\"outcome\":\"%s\"", k == GEN_PA_PENDING ? "queued" :
	    "complete");
	snprintf(num, sizeof(num), "PA%s%d", g->mid, g->seq);
	dstr(from, s);
	dstr(to, e);
	if (k != GEN_PA_PENDING && k != GEN_PA_DENIED)
		put(g, ",\"preAuthRef\":[\"%s\"],\"preAuthRefPeriod\":[{"
		    "\"start\":\"%s\",\"end\":\"%s\"}]", num, s, e);
	eob_careteam(g, pract, "performing");
	eob_insurance(g);
	money(charge, m);
	put(g, ",\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":"
	    "[{\"system\":\"%s\",\"code\":\"%s\",\"display\":\"%s\"}]},"
	    "\"servicedPeriod\":{\"start\":\"%s\",\"end\":\"%s\"},"
	    "\"quantity\":{\"value\":%d},\"adjudication\":[{\"extension\":[",
	    sys, code, display, s, e, qty);
	switch (k) {
	case GEN_PA_PENDING:
		review(g, num, "A4", "Pended");
		break;
	case GEN_PA_DENIED:
		review(g, num, "A3", "Not Certified");
		break;
	case GEN_PA_APPEAL:
		review(g, num, "A3", "Not Certified");
		put(g, ",");
		review(g, num, "A1", "Certified in total");
		break;
	default:
		review(g, num, "A1", "Certified in total");
		break;
	}
	put(g, "],\"category\":" CODING(S_ADJ, "submitted")
	    ",\"amount\":{\"value\":%s" USD "}", m);
	if (k == GEN_PA_DENIED)
		put(g, ",{\"category\":" CODING(S_C4BB
		    "C4BBAdjudicationDiscriminator", "denialreason")
		    ",\"reason\":{\"coding\":[{\"system\":\"https://x12.org/"
		    "codes/claim-adjustment-reason-codes\",\"code\":\"50\"}]}}");
	put(g, "]}]}");
	g->st.by_pa[k]++;
	emit(g, GEN_PA, 0);
}

/* --- members ----------------------------------------------------------- */

static void
w_patient(struct gen *g, unsigned long long idx, int *female)
{
	const char	*given, *fam;
	char		 bd[11], u[21];
	int		 pl, age;

	*female = RND(2);
	given = *female ? given_f[RND(NELEM(given_f))] :
	    given_m[RND(NELEM(given_m))];
	fam = family[RND(NELEM(family))];
	age = 18 + RND(70);
	dstr(g->anchor - age * 365 - RND(365), bd);
	tstr(g->anchor - 30 - RND(300), RND(86400), u);
	pl = RND(NELEM(places));
	g->n = 0;
	put(g, "{\"resourceType\":\"Patient\",\"id\":\"%s\"", g->pid);
	meta(g, u, "http://hl7.org/fhir/us/core/StructureDefinition/"
	    "us-core-patient", NULL);
	put(g, ",\"identifier\":[{\"type\":" CODING(S_V20203, "MB")
	    ",\"system\":\"" S_MEMBER "\",\"value\":\"%s\"}],"
	    "\"active\":true,\"name\":[{\"use\":\"official\",\"family\":"
	    "\"%s\",\"given\":[\"%s\"]}],\"telecom\":[{\"system\":\"phone\","
	    "\"value\":\"555-%03d-%04d\",\"use\":\"home\"}],\"gender\":\"%s\","
	    "\"birthDate\":\"%s\",\"address\":[{\"use\":\"home\",\"line\":["
	    "\"%d %s\"],\"city\":\"%s\",\"state\":\"%s\",\"postalCode\":"
	    "\"%s\",\"country\":\"US\"}]}", g->mid, fam, given,
	    (int)(idx % 1000), RND(10000), *female ? "female" : "male", bd,
	    1 + RND(9999), streets[RND(NELEM(streets))], places[pl].city,
	    places[pl].state, places[pl].zip);
	emit(g, GEN_PATIENT, 0);
}

static void
w_coverage(struct gen *g, int start)
{
	char	 s[11], u[21];
	int	 grp = 1 + RND(200), plan = 'A' + RND(4);

	dstr(start, s);
	tstr(start, 3600, u);
	g->n = 0;
	put(g, "{\"resourceType\":\"Coverage\",\"id\":\"%s-cov\"", g->pid);
	meta(g, u, S_C4BBSD "C4BB-Coverage", NULL);
	put(g, ",\"identifier\":[{\"type\":" CODING(S_V20203, "MB")
	    ",\"system\":\"" S_MEMBER "\",\"value\":\"%s\"}],"
	    "\"status\":\"active\",\"type\":{\"coding\":[{\"system\":\""
	    S_TERM "v3-ActCode\",\"code\":\"HIP\",\"display\":\"health "
	    "insurance plan policy\"}]},\"subscriberId\":\"%s\","
	    "\"beneficiary\":{\"reference\":\"Patient/%s\"},"
	    "\"relationship\":" CODING(S_TERM "subscriber-relationship", "self")
	    ",\"period\":{\"start\":\"%s\"},\"payor\":[{\"reference\":"
	    "\"Organization/syn-payer\"}],\"class\":[{\"type\":" CODING(S_TERM
	    "coverage-class", "group") ",\"value\":\"GRP-%03d\",\"name\":"
	    "\"Synthetic Group %03d\"},{\"type\":" CODING(S_TERM
	    "coverage-class", "plan") ",\"value\":\"PLAN-%c\",\"name\":"
	    "\"Synthetic Plan %c\"}]}", g->mid, g->mid, g->pid, s,
	    grp, grp, plan, plan);
	emit(g, GEN_COVERAGE, 0);
}

int
gen_member(struct gen *g, unsigned long long idx, struct p2p_err *err)
{
	char	 enc[64];
	int	 female, c1, c2, start, y, base, day, n, v, pract, days, k;
	int	 years = g->o.years, j;

	g->rng = g->o.seed ^ (idx * 0xd1342543de82ef95ULL);
	(void)splitmix(&g->rng);
	g->seq = 0;
	gen_member_id(idx, g->pid);
	snprintf(g->mid, sizeof(g->mid), "SYN%09llu", idx + 1);
	start = g->anchor - years * 365 - RND(60);

	w_patient(g, idx, &female);
	w_coverage(g, start);
	if (g->o.members_only)
		goto done;	/* --history members: Patient + Coverage */

	/* Chronic conditions diagnosed during the history. */
	c1 = RND(NELEM(chronic));
	c2 = (c1 + 1 + RND(NELEM(chronic) - 1)) % (int)NELEM(chronic);
	w_condition(g, start + 20 + RND(200), &chronic[c1].dx, NULL);
	if (!g->o.small)
		w_condition(g, start + 400 + RND(years * 300), &chronic[c2].dx,
		    NULL);
	/* Every fifth member has a sensitive diagnosis (labelled). */
	if (idx % 5 == 0) {
		k = (int)((idx / 5) % NELEM(sensitive));
		w_condition(g, start + 100 + RND(years * 300),
		    &sensitive[k].dx, sensitive[k].label);
	}

	/* Yearly: office visits with claims and labs, pharmacy fills. */
	for (y = 0; y < years; y++) {
		base = start + y * 365;
		n = g->o.small ? 1 : 1 + (RND(3) == 0);
		for (v = 0; v < n; v++) {
			day = base + RND(365);
			if (day > g->anchor - 1)
				day = g->anchor - 1;
			pract = RND(GEN_PRACTITIONERS);
			w_encounter(g, day, 0, 0, pract, 1, &chronic[c1].dx,
			    enc);
			w_eob_professional(g, day, pract, enc, &chronic[c1].dx,
			    !g->o.small && RND(4) == 0 ?
			    RND(3) : -1);
			if (!g->o.small)
				w_observation(g, day, chronic[c1].lab, enc);
		}
		if (!g->o.small || y == years - 1) {
			day = base + RND(360);
			if (day > g->anchor - 2)
				day = g->anchor - 2;
			w_medreq(g, day, c1, RND(GEN_PRACTITIONERS));
			w_eob_pharmacy(g, day + 1, c1);
		}
	}

	/* Hospital: inpatient stays and an outpatient procedure. */
	n = g->o.small ? 0 : 1 + RND(2);
	for (j = 0; j < n; j++) {
		day = start + 30 + RND(years * 365 - 60);
		days = 1 + RND(5);
		pract = RND(GEN_PRACTITIONERS);
		k = RND(NELEM(procs));
		w_encounter(g, day, days, 1, pract, 0, &chronic[c2].dx, enc);
		w_procedure(g, day + 1, k, pract, enc);
		w_eob_institutional(g, day, days, 0, enc, &chronic[c2].dx, k);
	}
	if (!g->o.small) {
		day = start + 30 + RND(years * 365 - 60);
		pract = RND(GEN_PRACTITIONERS);
		k = RND(NELEM(procs));
		w_encounter(g, day, 0, 0, pract, 2, &chronic[c1].dx, enc);
		w_procedure(g, day, k, pract, enc);
		w_eob_institutional(g, day, 0, 2, enc, &chronic[c1].dx, k);
	}

	/*
	 * Prior authorizations: three a member (two with --history
	 * small), kinds rotating so that any two consecutive members
	 * cover all six.  Recent ones fall in the last months before the
	 * anchor, the expired one years back.
	 */
	n = g->o.small ? 2 : 3;
	for (j = 0; j < n; j++) {
		k = (int)((idx * 3 + (unsigned)j) % GEN_PA__MAX);
		if (k == GEN_PA_EXPIRED)
			day = g->anchor - 365 * 3 - RND(365);
		else if (k == GEN_PA_PENDING)
			day = g->anchor - 1 - RND(20);
		else
			day = g->anchor - 60 - RND(240);
		if (day < start)
			day = start;
		w_pa(g, (enum gen_pa)k, day, RND(GEN_PRACTITIONERS));
	}

done:
	g->st.members++;
	if (g->overflow)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "generator line buffer overflow");
	if (g->ioerr)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "write failed");
	return 0;
}

int
gen_header(struct gen *g, struct p2p_err *err)
{
	char	 u[21], npi[16];
	int	 i;

	tstr(g->anchor - 400, 0, u);
	g->n = 0;
	put(g, "{\"resourceType\":\"Organization\",\"id\":\"syn-payer\"");
	meta(g, u, "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
	    "C4BB-Organization", NULL);
	put(g, ",\"identifier\":[{\"system\":\"" S_NPI "\",\"value\":\"%s\"}],"
	    "\"active\":true,\"type\":[{\"coding\":[{\"system\":\"" S_TERM
	    "organization-type\",\"code\":\"pay\",\"display\":\"Payer\"}]}],"
	    "\"name\":\"%s\",\"telecom\":[{\"system\":\"phone\",\"value\":"
	    "\"555-010-0000\"}],\"address\":[{\"line\":[\"1 Plan Plaza\"],"
	    "\"city\":\"Hartford\",\"state\":\"CT\",\"postalCode\":\"06103\","
	    "\"country\":\"US\"}]}", g->npi, g->o.payer_name);
	emit(g, GEN_ORGANIZATION, 0);
	for (i = 0; i < GEN_PROVIDERS; i++) {
		npi_make(184000000L + i * 7919, npi);
		g->n = 0;
		put(g, "{\"resourceType\":\"Organization\",\"id\":"
		    "\"syn-prov-%d\"", i + 1);
		meta(g, u, NULL, NULL);
		put(g, ",\"identifier\":[{\"system\":\"" S_NPI "\",\"value\":"
		    "\"%s\"}],\"active\":true,\"type\":[{\"coding\":[{"
		    "\"system\":\"" S_TERM "organization-type\",\"code\":"
		    "\"prov\",\"display\":\"Healthcare Provider\"}]}],"
		    "\"name\":\"%s\",\"address\":[{\"city\":\"%s\","
		    "\"state\":\"%s\",\"postalCode\":\"%s\",\"country\":"
		    "\"US\"}]}", npi, orgnames[i], places[i].city,
		    places[i].state, places[i].zip);
		emit(g, GEN_ORGANIZATION, 0);
	}
	for (i = 0; i < GEN_PRACTITIONERS; i++) {
		g->n = 0;
		put(g, "{\"resourceType\":\"Practitioner\",\"id\":"
		    "\"syn-pract-%d\"", i + 1);
		meta(g, u, NULL, NULL);
		put(g, ",\"identifier\":[{\"system\":\"" S_NPI "\",\"value\":"
		    "\"%s\"}],\"active\":true,\"name\":[{\"family\":\"%s\","
		    "\"given\":[\"%s\"],\"prefix\":[\"Dr.\"]}]}", g->pnpi[i],
		    family[(i * 7) % NELEM(family)],
		    i % 2 ? given_f[(i * 5) % NELEM(given_f)] :
		    given_m[(i * 5) % NELEM(given_m)]);
		emit(g, GEN_PRACTITIONER, 0);
	}
	if (g->overflow || g->ioerr)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    g->ioerr ? "write failed" : "generator overflow");
	return 0;
}

void
gen_member_id(unsigned long long idx, char out[32])
{
	snprintf(out, 32, "syn-m%06llu", idx + 1);
}

struct gen *
gen_new(FILE *f, const struct gen_opts *o, struct p2p_err *err)
{
	struct gen	*g;
	time_t		 t;
	int		 i, y, m, d;
	char		 tail;

	if (o->years < 1 || o->years > 50) {
		p2p_fail(err, 400, P2P_ISSUE_VALUE, "years must be 1-50");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		return NULL;
	}
	g->f = f;
	g->o = *o;
	if (g->o.payer_name == NULL)
		g->o.payer_name = "Synthetic Health Plan";
	if (strpbrk(g->o.payer_name, "\"\\") != NULL ||
	    strlen(g->o.payer_name) > 120) {
		p2p_fail(err, 400, P2P_ISSUE_VALUE,
		    "payer name must not hold quotes or backslashes");
		free(g);
		return NULL;
	}
	snprintf(g->npi, sizeof(g->npi), "%s",
	    o->payer_npi != NULL ? o->payer_npi : GEN_PAYER_NPI);
	if (strlen(g->npi) != 10 || strspn(g->npi, "0123456789") != 10) {
		p2p_fail(err, 400, P2P_ISSUE_VALUE, "NPI must be 10 digits");
		free(g);
		return NULL;
	}
	if (o->anchor[0] != '\0') {
		if (sscanf(o->anchor, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
		    strlen(o->anchor) != 10 || time_parse(o->anchor, 0, &t) ==
		    -1 || y < 1900) {
			p2p_fail(err, 400, P2P_ISSUE_VALUE,
			    "anchor must be a date YYYY-MM-DD");
			free(g);
			return NULL;
		}
		g->anchor = days_from_civil(y, m, d);
	} else
		g->anchor = (int)(now_sec() / 86400);
	for (i = 0; i < GEN_PRACTITIONERS; i++)
		npi_make(176000000L + i * 104729, g->pnpi[i]);
	return g;
}

const struct gen_stats *
gen_stats(const struct gen *g)
{
	return &g->st;
}

void
gen_free(struct gen *g)
{
	free(g);
}

int
gen_write(FILE *f, const struct gen_opts *o, struct gen_stats *st,
    struct p2p_err *err)
{
	struct gen		*g;
	unsigned long long	 i;
	int			 rc = -1;

	if ((g = gen_new(f, o, err)) == NULL)
		return -1;
	if (gen_header(g, err) == -1)
		goto out;
	for (i = 0; i < o->members; i++)
		if (gen_member(g, i, err) == -1)
			goto out;
	if (fflush(f) != 0) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "write failed");
		goto out;
	}
	rc = 0;
out:
	if (st != NULL)
		*st = g->st;
	gen_free(g);
	return rc;
}
