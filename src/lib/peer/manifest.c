/*
 * peer/manifest.c - see manifest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "peer/httpc.h"
#include "peer/manifest.h"
#include "store/store.h"

void
manifest_free(struct manifest *m)
{
	free(m->files);
	memset(m, 0, sizeof(*m));
}

void
manifest_url_path(const char *url, char *out, size_t outsz)
{
	const char	*p = strstr(url, "://");
	size_t		 n;

	p = p != NULL ? p + 3 : url;
	p += strcspn(p, "/?#");
	n = strcspn(p, "?#");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Reads one entry of output[] or error[]. */
static int
entry(json_object *e, int error, size_t i, const char *origin,
    int requires_token, struct manifest_file *f, struct p2p_err *err)
{
	const char	*what = error ? "error" : "output";
	const char	*type, *url;
	json_object	*c;
	size_t		 k;

	memset(f, 0, sizeof(*f));
	f->error = error;
	f->count = -1;
	if (!json_object_is_type(e, json_type_object))
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "manifest %s[%zu]"
		    " is not an object", what, i);
	if ((type = fhir_str(e, "type")) == NULL || !store_type_valid(type))
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "manifest %s[%zu]"
		    " has no valid type", what, i);
	if ((url = fhir_str(e, "url")) == NULL || strlen(url) >=
	    sizeof(f->url) || strncmp(url, "http", 4) != 0 ||
	    strstr(url, "://") == NULL)
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "manifest %s[%zu]"
		    " has no absolute url", what, i);
	for (k = 0; url[k] != '\0'; k++)
		if ((unsigned char)url[k] <= 0x20 || url[k] == 0x7f)
			return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "manifest"
			    " %s[%zu]: url has spaces or control characters",
			    what, i);
	/* The bearer token goes with the file requests: only to the peer. */
	if (requires_token && !httpc_same_origin(url, origin))
		return p2p_fail(err, 502, P2P_ISSUE_SECURITY, "manifest %s[%zu]:"
		    " %.200s is not on the peer's origin, and our access token"
		    " would go with it", what, i, url);
	if (json_object_object_get_ex(e, "count", &c)) {
		if (!json_object_is_type(c, json_type_int) ||
		    json_object_get_int64(c) < 0)
			return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "manifest"
			    " %s[%zu]: count is not a non-negative integer",
			    what, i);
		f->count = json_object_get_int64(c);
	}
	snprintf(f->type, sizeof(f->type), "%s", type);
	snprintf(f->url, sizeof(f->url), "%s", url);
	return 0;
}

int
manifest_parse(const char *body, size_t len, const char *origin,
    struct manifest *m, struct p2p_err *err)
{
	json_object	*o = NULL, *v, *arr[2];
	const char	*s;
	struct p2p_err	 pe;
	time_t		 t;
	size_t		 i, k, n, total = 0;
	int		 rc = -1;

	memset(m, 0, sizeof(*m));
	p2p_err_init(&pe);
	if (body == NULL || fhir_parse(body, len, &o, &pe) == -1)
		return p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest is "
		    "not JSON: %s", body == NULL ? "empty" : pe.msg);
	if (!json_object_is_type(o, json_type_object)) {
		p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest is not a "
		    "JSON object");
		goto out;
	}
	if ((s = fhir_str(o, "transactionTime")) == NULL ||
	    strlen(s) >= sizeof(m->transaction_time) ||
	    time_parse(s, 0, &t) == -1) {
		p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest has no "
		    "valid transactionTime");
		goto out;
	}
	snprintf(m->transaction_time, sizeof(m->transaction_time), "%s", s);
	if ((s = fhir_str(o, "request")) == NULL ||
	    strlen(s) >= sizeof(m->request)) {
		p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest has no "
		    "request");
		goto out;
	}
	snprintf(m->request, sizeof(m->request), "%s", s);
	if (!json_object_object_get_ex(o, "requiresAccessToken", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest has no "
		    "boolean requiresAccessToken");
		goto out;
	}
	m->requires_token = json_object_get_boolean(v);
	arr[0] = fhir_get(o, "output", json_type_array);
	arr[1] = fhir_get(o, "error", json_type_array);
	if (arr[0] == NULL || (json_object_object_get_ex(o, "error", &v) &&
	    arr[1] == NULL)) {
		p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "the manifest's output "
		    "(and error) must be arrays");
		goto out;
	}
	for (k = 0; k < 2; k++)
		total += arr[k] ? json_object_array_length(arr[k]) : 0;
	if (total > MANIFEST_FILES_MAX) {
		p2p_fail(err, 502, P2P_ISSUE_TOO_COSTLY, "the manifest lists %zu"
		    " files (at most %d)", total, MANIFEST_FILES_MAX);
		goto out;
	}
	if (total > 0 && (m->files = calloc(total, sizeof(*m->files))) ==
	    NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	for (k = 0; k < 2; k++) {
		n = arr[k] ? json_object_array_length(arr[k]) : 0;
		for (i = 0; i < n; i++)
			if (entry(json_object_array_get_idx(arr[k], i), (int)k,
			    i, origin, m->requires_token,
			    &m->files[m->nfiles++], err) == -1)
				goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}
