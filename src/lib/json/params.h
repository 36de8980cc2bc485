/*
 * params.h - FHIR Parameters as operation input and output: find
 * parameters (or parts) by name, check a whole list against a table of
 * expected names, resource types and cardinalities, and build output
 * Parameters.  Used by $member-match (parameter) and by
 * $bulk-member-match (the part list of each MemberBundle).
 *
 * All json_object pointers returned are borrowed from their parent.
 */
#ifndef P2P_PARAMS_H
#define P2P_PARAMS_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "core/util.h"

#define PARAMS_MAX	64	/* entries accepted in one list */

/* One expected parameter (kcgi keys[] style). */
struct params_spec {
	const char	*name;	/* parameter name */
	const char	*type;	/* resourceType its resource must have */
	int		 min;	/* 0 or 1 */
	int		 max;	/* 1 */
};

/*
 * The "parameter" array of a Parameters resource.  NULL with a 400 when
 * res is not a Parameters resource or has no non-empty parameter array.
 */
json_object	*params_list(json_object *res, struct p2p_err *);

/* How many entries of list (parameter or part array) are named name. */
size_t		 params_count(json_object *list, const char *name);

/*
 * The first entry of list named name, or NULL; *idx (when not NULL) is
 * set to its index.
 */
json_object	*params_find(json_object *list, const char *name, size_t *idx);

/*
 * The resource of one entry when it is a JSON object whose resourceType
 * is type (any resource when type is NULL), else NULL.
 */
json_object	*params_resource(json_object *entry, const char *type);

/*
 * Checks list against spec (n entries): every entry an object with a
 * string name listed in spec, no name more often than its max, every
 * required name present, each carrying a resource of its type.  Sets
 * found[i] to the resource for spec[i] (NULL when absent).  path names
 * the list for error expressions ("Parameters.parameter",
 * "Parameters.parameter[2].part").  Returns 0, or -1 with a 400 whose
 * expression points at the offending element.
 */
int		 params_check(json_object *list, const struct params_spec *spec,
		    size_t n, const char *path, json_object **found,
		    struct p2p_err *);

/*
 * Appends the parameters of a Parameters resource whose values are
 * primitives to out, each as (name, value[x] as text; a valueReference
 * gives its reference): the body form of an operation's query
 * parameters.  0, or -1 with a 400 (structure) naming the parameter,
 * or too-costly when out would hold more than max; 500 when out of
 * memory.
 */
int		 params_collect(json_object *res, struct p2p_kvlist *out,
		    size_t max, struct p2p_err *);

/* A new empty Parameters ({"resourceType":"Parameters","parameter":[]}). */
json_object	*params_new(void);

/*
 * Appends {"name": name, key: value} to the parameter array of out
 * (key: "resource", "valueIdentifier", "valueReference", "part", ...).
 * Takes value even on failure.  Returns 0 or -1 (out of memory).
 */
int		 params_add(json_object *out, const char *name, const char *key,
		    json_object *value);

#endif
