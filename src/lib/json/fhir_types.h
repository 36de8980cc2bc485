/*
 * fhir_types.h - the resource types FHIR R4 (4.0.1) defines.
 */
#ifndef P2P_FHIR_TYPES_H
#define P2P_FHIR_TYPES_H

#include <stddef.h>

/* 1 when name is a concrete FHIR R4 resource type (case-sensitive). */
int	 fhir_r4_type_known(const char *name);

/* How many there are (the table's size, for tests). */
size_t	 fhir_r4_type_count(void);

#endif
