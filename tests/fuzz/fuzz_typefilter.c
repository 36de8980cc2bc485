/*
 * fuzz_typefilter.c - the bulk export narrowing parsers
 * (datascope/release.c): a _typeFilter value (release_add_typefilter()),
 * a _type list (release_add_types(), release_type_ok()), and the light
 * scans the release path runs over stored JSON instead of parsing it
 * (release_top_str() for a _typeFilter status, release_refs() for the
 * resources outside the record a release brings along, RELEASE_REF_TYPES).
 *
 * A parsed _typeFilter names known types only, within its bounds; a
 * _type list accepted admits exactly the types it names; the scans stay
 * inside their buffers and give NUL-terminated values that fit.
 */
#include "fuzz.h"
#include "datascope/release.h"
#include "json/fhir.h"
#include "web/http.h"

static struct p2p_config	 cfg;
static struct release_rules	 r;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup(&cfg, NULL, NULL, NULL);
	return 0;
}

/* Whether type is one of the comma-separated RELEASE_REF_TYPES. */
static int
ref_type_known(const char *type)
{
	static const char	 list[] = RELEASE_REF_TYPES;
	const char		*p = list;
	size_t			 n = strlen(type);

	while ((p = strstr(p, type)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static int
on_ref(void *arg, const char *type, const char *id)
{
	if (!ref_type_known(type) || !fhir_valid_id(id))
		fuzz_fail("release_refs() gave %s/%s", type, id);
	++*(int *)arg;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_err	 err;
	char		*s = fuzz_str(data, size), st[64];
	const char	*p, *e;
	char		 t[64];
	size_t		 i, n;
	int		 refs = 0;

	/* _typeFilter */
	release_init(&r, &cfg, 1790000000, 0);
	p2p_err_init(&err);
	if (release_add_typefilter(&r, s, &err) == -1) {
		if (err.status != 400 || err.msg[0] == '\0')
			fuzz_fail("_typeFilter refused with %d", err.status);
	} else {
		if (r.ntf == 0 || r.ntf > RELEASE_TF_MAX)
			fuzz_fail("_typeFilter: %zu queries", r.ntf);
		for (i = 0; i < r.ntf; i++)
			if (r.tf[i].ncond == 0 ||
			    r.tf[i].ncond > RELEASE_COND_MAX ||
			    !release_type_ok(&r, r.tf[i].type))
				fuzz_fail("_typeFilter query %zu", i);
	}

	/* _type: an empty list admits all; a list admits what it names */
	release_init(&r, &cfg, 1790000000, 0);
	if (!release_type_ok(&r, s))
		fuzz_fail("no _type narrowing, yet a type is refused");
	p2p_err_init(&err);
	if (release_add_types(&r, s, &err) == 0) {
		for (p = s; ; p = e + 1) {
			e = strchr(p, ',');
			n = e ? (size_t)(e - p) : strlen(p);
			if (n == 0 || n >= sizeof(t))
				fuzz_fail("_type accepted an empty or long "
				    "type");
			memcpy(t, p, n);
			t[n] = '\0';
			if (!release_type_ok(&r, t))
				fuzz_fail("_type %s accepted, then refused", t);
			if (e == NULL)
				break;
		}
		if (release_type_ok(&r, "") || release_type_ok(&r, ","))
			fuzz_fail("_type admits a type it does not name");
	} else if (err.status != 400)
		fuzz_fail("_type refused with %d", err.status);
	/* the input as a type against a list that does not name it */
	release_init(&r, &cfg, 1790000000, 0);
	p2p_err_init(&err);
	if (release_add_types(&r, "Patient,Coverage", &err) == -1)
		fuzz_fail("_type Patient,Coverage refused");
	if (release_type_ok(&r, s) && strcmp(s, "Patient") != 0 &&
	    strcmp(s, "Coverage") != 0)
		fuzz_fail("_type admits \"%s\"", s);

	/* the scans over stored JSON, on the raw bytes */
	memset(st, 'x', sizeof(st));
	if (release_top_str((const char *)data, size, "status", st,
	    sizeof(st)) && memchr(st, '\0', sizeof(st)) == NULL)
		fuzz_fail("release_top_str(): value not terminated");
	if (release_refs((const char *)data, size, on_ref, &refs) == -1)
		fuzz_fail("release_refs() failed");
	free(s);
	return 0;
}
