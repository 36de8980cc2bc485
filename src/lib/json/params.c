/*
 * params.c - see params.h.
 */
#include <stdio.h>
#include <string.h>

#include "json/fhir.h"
#include "json/params.h"

json_object *
params_list(json_object *res, struct p2p_err *err)
{
	json_object	*list;
	const char	*t;

	if ((t = fhir_type(res)) == NULL || strcmp(t, "Parameters") != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE,
		    "resourceType", "the body must be a Parameters resource"),
		    NULL;
	if ((list = fhir_get(res, "parameter", json_type_array)) == NULL ||
	    json_object_array_length(list) == 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
		    "Parameters.parameter", "Parameters.parameter is missing"
		    " or empty"), NULL;
	if (json_object_array_length(list) > PARAMS_MAX)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_LONG,
		    "Parameters.parameter", "more than %d parameters",
		    PARAMS_MAX), NULL;
	return list;
}

json_object *
params_find(json_object *list, const char *name, size_t *idx)
{
	json_object	*e;
	const char	*s;
	size_t		 i, n;

	if (list == NULL || !json_object_is_type(list, json_type_array))
		return NULL;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		if ((s = fhir_str(e, "name")) != NULL && strcmp(s, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return e;
		}
	}
	return NULL;
}

size_t
params_count(json_object *list, const char *name)
{
	json_object	*e;
	const char	*s;
	size_t		 i, n, c = 0;

	if (list == NULL || !json_object_is_type(list, json_type_array))
		return 0;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, i);
		if ((s = fhir_str(e, "name")) != NULL && strcmp(s, name) == 0)
			c++;
	}
	return c;
}

json_object *
params_resource(json_object *entry, const char *type)
{
	json_object	*r;
	const char	*t;

	if ((r = fhir_get(entry, "resource", json_type_object)) == NULL ||
	    (t = fhir_type(r)) == NULL)
		return NULL;
	if (type != NULL && strcmp(t, type) != 0)
		return NULL;
	return r;
}

int
params_check(json_object *list, const struct params_spec *spec, size_t n,
    const char *path, json_object **found, struct p2p_err *err)
{
	json_object	*e, *r;
	const char	*name;
	char		 ex[96];
	size_t		 i, j, len, seen[PARAMS_MAX];

	if (n > PARAMS_MAX)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "bad spec");
	for (j = 0; j < n; j++) {
		found[j] = NULL;
		seen[j] = 0;
	}
	if (list == NULL || !json_object_is_type(list, json_type_array))
		return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE, path,
		    "%s must be an array", path);
	if ((len = json_object_array_length(list)) > PARAMS_MAX)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_LONG, path,
		    "more than %d entries in %s", PARAMS_MAX, path);
	for (i = 0; i < len; i++) {
		e = json_object_array_get_idx(list, i);
		snprintf(ex, sizeof(ex), "%s[%zu]", path, i);
		if (e == NULL || !json_object_is_type(e, json_type_object))
			return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE, ex,
			    "%s is not an object", ex);
		if ((name = fhir_str(e, "name")) == NULL) {
			snprintf(ex, sizeof(ex), "%s[%zu].name", path, i);
			return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
			    "%s is missing", ex);
		}
		for (j = 0; j < n; j++)
			if (strcmp(spec[j].name, name) == 0)
				break;
		if (j == n) {
			snprintf(ex, sizeof(ex), "%s[%zu].name", path, i);
			return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, ex,
			    "unknown parameter \"%.64s\" (%s)", name, ex);
		}
		if ((int)++seen[j] > spec[j].max)
			return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE, ex,
			    "parameter %s is repeated (%s)", spec[j].name, ex);
		snprintf(ex, sizeof(ex), "%s[%zu].resource", path, i);
		if ((r = fhir_get(e, "resource", json_type_object)) == NULL)
			return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, ex,
			    "parameter %s has no resource (%s)", spec[j].name,
			    ex);
		if (params_resource(e, spec[j].type) == NULL)
			return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE, ex,
			    "parameter %s must be a %s resource (%s)",
			    spec[j].name, spec[j].type, ex);
		found[j] = r;
	}
	for (j = 0; j < n; j++)
		if ((int)seen[j] < spec[j].min)
			return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED, path,
			    "parameter %s is required", spec[j].name);
	return 0;
}

json_object *
params_new(void)
{
	json_object	*p, *a;

	if ((p = fhir_resource_new("Parameters")) == NULL)
		return NULL;
	if ((a = json_object_new_array()) == NULL ||
	    fhir_add(p, "parameter", a) == -1) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

int
params_add(json_object *out, const char *name, const char *key,
    json_object *value)
{
	json_object	*list, *e;

	if ((list = fhir_get(out, "parameter", json_type_array)) == NULL ||
	    (e = json_object_new_object()) == NULL) {
		json_object_put(value);
		return -1;
	}
	if (fhir_add_str(e, "name", name) == -1) {
		json_object_put(value);
		json_object_put(e);
		return -1;
	}
	if (fhir_add(e, key, value) == -1) {
		json_object_put(e);
		return -1;
	}
	return fhir_push(list, e);
}

/* The value[x] of a Parameters.parameter as text, or NULL. */
static const char *
param_value(json_object *p, char *num, size_t numsz)
{
	json_object_iter	 it;
	json_object		*ref;

	json_object_object_foreachC(p, it) {
		if (strncmp(it.key, "value", 5) != 0)
			continue;
		if (strcmp(it.key, "valueReference") == 0)
			return (ref = fhir_get(it.val, "reference",
			    json_type_string)) ? json_object_get_string(ref) :
			    NULL;
		if (json_object_is_type(it.val, json_type_string))
			return json_object_get_string(it.val);
		if (json_object_is_type(it.val, json_type_int)) {
			snprintf(num, numsz, "%lld",
			    (long long)json_object_get_int64(it.val));
			return num;
		}
		if (json_object_is_type(it.val, json_type_boolean))
			return json_object_get_boolean(it.val) ? "true" :
			    "false";
		return NULL;
	}
	return NULL;
}

int
params_collect(json_object *res, struct p2p_kvlist *out, size_t max,
    struct p2p_err *err)
{
	json_object	*list, *p;
	const char	*t, *name, *v;
	char		 num[32];
	size_t		 i, n;

	if ((t = fhir_type(res)) == NULL || strcmp(t, "Parameters") != 0)
		return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE,
		    "resourceType", "the body must be a Parameters resource");
	if ((list = fhir_get(res, "parameter", json_type_array)) == NULL)
		return 0;
	if ((n = json_object_array_length(list)) + out->n > max)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_COSTLY,
		    "Parameters.parameter", "more than %zu parameters", max);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(list, i);
		if ((name = fhir_str(p, "name")) == NULL ||
		    (v = param_value(p, num, sizeof(num))) == NULL)
			return p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE,
			    "Parameters.parameter", "parameter %zu needs a "
			    "name and a primitive value or reference", i);
		if (kv_add(out, name, v) == -1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
	}
	return 0;
}
