/*
 * fhir.h - json-c helpers for FHIR R4 JSON: strict parsing with bounds,
 * typed lookups that fail with a useful message, and builders for
 * OperationOutcome, Parameters and Bundle.
 *
 * Ownership follows json-c: a *_new function returns one reference the
 * caller owns (json_object_put() it); fhir_get_* return pointers
 * borrowed from their parent.
 */
#ifndef P2P_FHIR_H
#define P2P_FHIR_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"

#define FHIR_MAX_DEPTH	64	/* nesting accepted from callers */

/*
 * Parses one JSON document: UTF-8 validated, strict, at most
 * FHIR_MAX_DEPTH deep, nothing but white space after it.  Returns 0 and
 * sets *out (caller owns), or -1 with a 400 in err.
 */
int	 fhir_parse(const char *buf, size_t len, json_object **out,
	    struct p2p_err *);
/*
 * Like fhir_parse() with a tokener the caller keeps between documents
 * (made by json_tokener_new_ex(FHIR_MAX_DEPTH)): for parsing many.
 */
int	 fhir_parse_tok(json_tokener *, const char *buf, size_t len,
	    json_object **out, struct p2p_err *);

/*
 * Like fhir_parse(), also requiring a JSON object (else 400 structure)
 * whose resourceType is a string (else 400 required); when want is not
 * NULL it must equal want (else 400 structure), all at "resourceType".
 */
int	 fhir_parse_resource(const char *buf, size_t len, const char *want,
	    json_object **out, struct p2p_err *);

/*
 * 1 when s is a valid FHIR id ([A-Za-z0-9.-]{1,64}, R4 datatypes), else
 * 0 (also for NULL).
 */
int	 fhir_valid_id(const char *s);

/* resourceType of obj, or NULL when obj is not a resource. */
const char *fhir_type(json_object *);
/* id of obj, or NULL. */
const char *fhir_id(json_object *);

/* Member key of obj when it is of json type t, else NULL (borrowed). */
json_object *fhir_get(json_object *obj, const char *key, json_type t);
/* String member, or NULL when absent or not a string. */
const char *fhir_str(json_object *obj, const char *key);
/*
 * Follows a dotted path through objects, taking the first element of
 * any array on the way ("name.family" on a Patient).  NULL if absent.
 */
json_object *fhir_path(json_object *obj, const char *path);
const char *fhir_path_str(json_object *obj, const char *path);

/*
 * True when a CodeableConcept (or an object with "coding") has a coding
 * with this system (NULL: any) and code.
 */
int	 fhir_has_coding(json_object *concept, const char *system,
	    const char *code);

/* Adds key: value, taking value even on failure.  0 or -1. */
int	 fhir_add(json_object *obj, const char *key, json_object *value);
int	 fhir_add_str(json_object *obj, const char *key, const char *value);
int	 fhir_add_int(json_object *obj, const char *key, long long value);
int	 fhir_add_bool(json_object *obj, const char *key, int value);
/* Appends value to array, taking it even on failure.  0 or -1. */
int	 fhir_push(json_object *array, json_object *value);

/* A new {"resourceType": type}.  NULL when out of memory. */
json_object *fhir_resource_new(const char *type);

/*
 * Builders for the small datatypes (caller puts; NULL when out of
 * memory, so that they nest in fhir_add() and fhir_push()): a Coding,
 * a CodeableConcept of one Coding, an Identifier, a Reference by
 * identifier.  display may be NULL.
 */
json_object *fhir_coding_new(const char *system, const char *code,
	    const char *display);
json_object *fhir_concept_new(const char *system, const char *code,
	    const char *display);
json_object *fhir_ident_new(const char *system, const char *value);
/* A Reference {"reference": ...} to the printf-formatted text (at most
 * 511 bytes: NULL for a longer one, as when out of memory). */
json_object *fhir_ref_new(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
json_object *fhir_ident_ref_new(const char *system, const char *value,
	    const char *display);
/*
 * A PDex Provenance entity for data from another payer's FHIR API:
 * role "source", the ProvenanceSourceFrom extension (hl7fhirr4), what
 * with display.  New, or NULL when out of memory.
 */
json_object *fhir_prov_source_new(const char *display);

/*
 * An OperationOutcome with one issue (severity "error", or "fatal" for
 * 5xx) carrying err's issue code, message and expression.
 */
json_object *fhir_outcome_new(const struct p2p_err *);
/* An OperationOutcome with one issue of the given severity/code/text. */
json_object *fhir_outcome_new3(const char *severity, enum p2p_issue,
	    const char *text);

/* Serialises compactly; the string lives inside obj. */
const char *fhir_json(json_object *);

#endif
