/*
 * peer/idmap.c - see idmap.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "json/fhir.h"
#include "peer/idmap.h"
#include "store/store.h"

void
idmap_id(const char *npi, const char *type, const char *id,
    char out[IDMAP_ID_MAX])
{
	unsigned char	 h[SHA256_DIGEST_LENGTH];
	char		 in[320];
	size_t		 i;
	int		 n;

	/* npi (10), type (<= 64) and id (<= 64) always fit */
	n = snprintf(in, sizeof(in), "%.32s\n%.64s\n%.64s", npi, type, id);
	SHA256((const unsigned char *)in, (size_t)n, h);
	out[0] = 'r';
	for (i = 0; i < 16; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", h[i]);
}

int
idmap_ref(struct idmap *m, const char *ref, char *out, size_t outsz)
{
	char		 type[65], id[STORE_ID_MAX + 1], local[IDMAP_ID_MAX + 64];
	char		 mapped[IDMAP_ID_MAX];
	const char	*p = ref, *slash, *end;
	size_t		 bl, tl, il;
	int		 rc;

	if (ref == NULL || ref[0] == '#' || strncmp(ref, "urn:", 4) == 0)
		return 0;
	/* Absolute: ours to rewrite only on the sender's own base. */
	if (strstr(ref, "://") != NULL) {
		bl = m->base != NULL ? strlen(m->base) : 0;
		if (bl == 0 || strncmp(ref, m->base, bl) != 0 ||
		    ref[bl] != '/')
			return 0;
		p = ref + bl + 1;
	}
	if ((slash = strchr(p, '/')) == NULL)
		return 0;
	tl = (size_t)(slash - p);
	end = slash + 1 + strcspn(slash + 1, "/?#");
	il = (size_t)(end - slash - 1);
	/* Only "Type/id" and "Type/id/_history/v"; search URLs stay. */
	if (tl == 0 || tl >= sizeof(type) || il == 0 || il >= sizeof(id) ||
	    (*end != '\0' && strncmp(end, "/_history/", 10) != 0))
		return 0;
	memcpy(type, p, tl);
	type[tl] = '\0';
	memcpy(id, slash + 1, il);
	id[il] = '\0';
	if (!store_type_valid(type) || !fhir_valid_id(id))
		return 0;
	if (strcmp(type, "Patient") == 0) {
		if (m->member != NULL && m->member(m->arg, id, local,
		    sizeof(local)) == 1) {
			snprintf(out, outsz, "Patient/%s", local);
			return 1;
		}
		if (m->stranger[0] == '\0')
			snprintf(m->stranger, sizeof(m->stranger),
			    "Patient/%.64s", id);
	} else if (m->alias != NULL) {
		if ((rc = m->alias(m->arg, type, id, local,
		    sizeof(local))) == -1)
			return -1;
		if (rc == 1) {
			snprintf(out, outsz, "%s/%s", type, local);
			return 1;
		}
	}
	idmap_id(m->npi, type, id, mapped);
	snprintf(out, outsz, "%s/%s", type, mapped);
	return 1;
}

/* Rewrites every "reference" string under o. */
static int
walk(struct idmap *m, json_object *o, int depth, struct p2p_err *err)
{
	char		 out[IDMAP_ID_MAX + 128];
	size_t		 i, n;
	int		 rc;

	if (depth > 2 * FHIR_MAX_DEPTH)
		return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE,
		    "resource nested too deep");
	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (walk(m, json_object_array_get_idx(o, i), depth + 1,
			    err) == -1)
				return -1;
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, key, v) {
		if (strcmp(key, "reference") == 0 &&
		    json_object_is_type(v, json_type_string)) {
			rc = idmap_ref(m, json_object_get_string(v), out,
			    sizeof(out));
			if (rc == -1)
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "reference lookup failed");
			if (rc == 1 && json_object_set_string(v, out) != 1)
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
		} else if (walk(m, v, depth + 1, err) == -1)
			return -1;
	}
	return 0;
}

int
idmap_rewrite(struct idmap *m, json_object *res, struct p2p_err *err)
{
	const char	*type = fhir_type(res), *id = fhir_id(res);
	char		 mapped[IDMAP_ID_MAX];

	if (type == NULL || !store_type_valid(type) || !fhir_valid_id(id))
		return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE, "a resource "
		    "without a valid resourceType and id");
	idmap_id(m->npi, type, id, mapped);
	if (fhir_add_str(res, "id", mapped) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return walk(m, res, 0, err);
}
