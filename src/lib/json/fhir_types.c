/*
 * fhir_types.c - see fhir_types.h.  The table is FHIR R4 4.0.1's list of
 * resources (resourcelist.html), sorted for bsearch().
 */
#include <stdlib.h>
#include <string.h>

#include "json/fhir_types.h"

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
	"OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice",
	"PaymentReconciliation", "Person", "PlanDefinition", "Practitioner",
	"PractitionerRole", "Procedure", "Provenance", "Questionnaire",
	"QuestionnaireResponse", "RelatedPerson", "RequestGroup",
	"ResearchDefinition", "ResearchElementDefinition", "ResearchStudy",
	"ResearchSubject", "RiskAssessment", "RiskEvidenceSynthesis",
	"Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
	"SpecimenDefinition", "StructureDefinition", "StructureMap",
	"Subscription", "Substance", "SubstanceNucleicAcid",
	"SubstancePolymer", "SubstanceProtein",
	"SubstanceReferenceInformation", "SubstanceSourceMaterial",
	"SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
	"VerificationResult", "VisionPrescription",
};

static int
cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

int
fhir_r4_type_known(const char *name)
{
	if (name == NULL)
		return 0;
	return bsearch(name, r4_types, sizeof(r4_types) / sizeof(r4_types[0]),
	    sizeof(r4_types[0]), cmp) != NULL;
}

size_t
fhir_r4_type_count(void)
{
	return sizeof(r4_types) / sizeof(r4_types[0]);
}
