/*
 * fuzz_prepare.c - the loader's two ways of preparing an ndjson line
 * (store/store.c): the fast path, store_prepare_scan() on the jscan
 * tape (with scope_classify_scan()), against the tree path,
 * store_prepare() on the json-c tree (with scope_classify()).  Whenever
 * the fast path takes a line, the tree path must take it too and
 * prepare exactly the same row: type, id, lastUpdated, stored text,
 * compartment, index rows, and the data-scope classification (date of
 * service, flags, PA change time, released form).
 *
 * The two classifiers are also compared on their own, on every object
 * with a resourceType, meta or not (the fast path only takes lines with
 * meta.lastUpdated): scope_classify_scan() either defers to the tree
 * (1) or says what scope_classify() says.
 */
#include "fuzz.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "store/store.h"

static const char *
str_or_null(const char *s)
{
	return s == NULL ? "(null)" : s;
}

static void
same_str(const char *what, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		fuzz_fail("%s: scan \"%s\", tree \"%s\"", what, str_or_null(a),
		    str_or_null(b));
}

/* The stored text of a row (raw line, or NUL-terminated). */
static void
row_text(const struct store_row *r, const char **p, size_t *n)
{
	*p = r->json;
	*n = r->jsonlen == -1 ? strlen(r->json) : (size_t)r->jsonlen;
}

static const char *
ix_str(const struct store_ix *ix, int off)
{
	return off < 0 ? NULL : ix->pool + off;
}

static void
same_row(const struct store_row *a, const struct store_row *b)
{
	const char	*ta, *tb;
	size_t		 na, nb, i, k;

	if (a->kind != b->kind)
		fuzz_fail("kind: scan %d, tree %d", a->kind, b->kind);
	same_str("type", a->type, b->type);
	same_str("id", a->id, b->id);
	same_str("meta.lastUpdated", a->lu, b->lu);
	row_text(a, &ta, &na);
	row_text(b, &tb, &nb);
	if (na != nb || memcmp(ta, tb, na) != 0)
		fuzz_fail("stored text differs (%zu vs %zu bytes)", na, nb);
	if (a->has_patient != b->has_patient ||
	    (a->has_patient && strcmp(a->patient, b->patient) != 0))
		fuzz_fail("compartment: scan %d \"%s\", tree %d \"%s\"",
		    a->has_patient, a->patient, b->has_patient, b->patient);
	if (a->indexed != b->indexed)
		fuzz_fail("indexed: scan %d, tree %d", a->indexed, b->indexed);
	same_str("scope dos", a->si.dos, b->si.dos);
	if (a->si.flags != b->si.flags)
		fuzz_fail("scope flags: scan %#x, tree %#x", a->si.flags,
		    b->si.flags);
	same_str("scope changed", a->si.changed, b->si.changed);
	same_str("released form", a->si.p2p_json, b->si.p2p_json);
	if (a->ix.n != b->ix.n)
		fuzz_fail("index rows: scan %zu, tree %zu", a->ix.n, b->ix.n);
	for (i = 0; i < a->ix.n; i++) {
		if (a->ix.r[i].demog != b->ix.r[i].demog ||
		    a->ix.r[i].kind != b->ix.r[i].kind)
			fuzz_fail("index row %zu: kind differs", i);
		for (k = 0; k < 5; k++)
			same_str("index row value", ix_str(&a->ix,
			    a->ix.r[i].off[k]), ix_str(&b->ix,
			    b->ix.r[i].off[k]));
	}
}

static struct jscan	 js;
static struct store_ctx	 ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	jscan_init(&js);
	store_ctx_init(&ctx);
	log_quiet(1);
	return 0;
}

/* scope_classify_scan() against scope_classify() on one resource. */
static void
same_scope(const char *text, size_t size)
{
	struct scope_info	 a, b;
	struct p2p_err		 err;
	json_object		*res;
	const char		*type;
	int			 rc;

	if ((type = jscan_getstr(&js, 1, "resourceType")) == NULL)
		return;
	memset(&a, 0, sizeof(a));
	if ((rc = scope_classify_scan(&js, type, &a)) != 0) {
		if (rc != 1)
			fuzz_fail("scope_classify_scan() returned %d", rc);
		return;
	}
	p2p_err_init(&err);
	if (fhir_parse(text, size, &res, &err) == -1)
		fuzz_fail("jscan took a line json-c refuses: %s", err.msg);
	if (scope_classify(res, &b, &err) == -1)
		fuzz_fail("scope_classify() refused what the scan took: %s",
		    err.msg);
	same_str("scope dos", a.dos, b.dos);
	if (a.flags != b.flags)
		fuzz_fail("scope flags: scan %#x, tree %#x", a.flags, b.flags);
	same_str("scope changed", a.changed, b.changed);
	same_str("released form", a.p2p_json, b.p2p_json);
	scope_info_free(&a);
	scope_info_free(&b);
	json_object_put(res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_row	 scan, tree;
	struct p2p_err		 err;
	json_object		*res;
	char			*text;
	int			 rc;

	/* the loader hands over a trimmed, NUL-terminated line */
	text = fuzz_str(data, size);
	ctx.raw = text;
	ctx.rawlen = size;
	if (jscan_parse(&js, text, size) == -1) {
		free(text);
		return 0;
	}
	same_scope(text, size);
	if ((rc = store_prepare_scan(&js, &ctx, &scan)) != 1) {
		if (rc != 0)
			fuzz_fail("store_prepare_scan() returned %d", rc);
		free(text);
		return 0;
	}
	p2p_err_init(&err);
	if (fhir_parse(text, size, &res, &err) == -1)
		fuzz_fail("the fast path took a line json-c refuses: %s",
		    err.msg);
	if (store_prepare(res, &ctx, &tree, &err) == -1)
		fuzz_fail("the fast path took a line store_prepare() refuses:"
		    " %s", err.msg);
	same_row(&scan, &tree);
	/* as the loader does on its reading thread */
	if (store_row_detach(&tree) == -1)
		fuzz_fail("store_row_detach() failed");
	same_row(&scan, &tree);
	store_row_free(&scan);
	store_row_free(&tree);	/* and res, which store_prepare() took */
	free(text);
	return 0;
}
