/*
 * json/valid.h - what a FHIR R4 resource must be for p2p to store and
 * release it: a known resource type, a valid id, well-formed dates,
 * dateTimes, instants and references, and the right JSON shape for the
 * elements the data-scope rules, the release and member matching read.
 *
 * (fhir_valid_id() is in json/fhir.h.)  This is no StructureDefinition
 * engine: elements outside the tables in valid.c are checked only by
 * name (a "reference" string anywhere; date and time elements by their
 * names, see docs/operations.md "Administration", load).
 * The checks read a resource through the tape of json/jscan.h, so the
 * loader refuses the same things whichever way it parsed the line.
 */
#ifndef P2P_VALID_H
#define P2P_VALID_H

#include <stdint.h>

#include "core/err.h"

/* True when type is a FHIR R4 (4.0.1) resource type. */
int	 fhir_type_known(const char *type);

/*
 * True when s is a Reference.reference p2p can store: a relative
 * "Type/id" or "Type/id/_history/vid" (Type a FHIR R4 resource type),
 * an absolute http(s) URL, "#id" (a contained resource, "#" alone the
 * container), "urn:uuid:" with a UUID, or "urn:oid:" with an OID.
 */
int	 fhir_valid_ref(const char *s);

/* FHIR R4 date (YYYY[-MM[-DD]]), dateTime, instant (time_parse()). */
int	 fhir_valid_date(const char *s);
int	 fhir_valid_datetime(const char *s);
int	 fhir_valid_instant(const char *s);

struct jscan;

/*
 * Checks the resource at node res of a tape: a JSON object whose
 * resourceType is a FHIR R4 type (or one of extra, a NULL-terminated
 * list or NULL: types accepted with only their id checked), a valid id,
 * then its elements as described above, contained resources included.
 * Returns 0, or -1 with a 422 in err: the message names the resource
 * and the element ("Observation/o1: effectiveDateTime \"2026-13-45\" is
 * not a valid FHIR dateTime"), err->expr holds its FHIRPath.
 */
int	 fhir_check(struct jscan *, uint32_t res, const char *const *extra,
	    struct p2p_err *);

#endif
