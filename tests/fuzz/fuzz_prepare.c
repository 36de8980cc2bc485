/*
 * fuzz_prepare.c - the loader's two ways of preparing an ndjson line
 * (store/store.c): the fast path, store_prepare_scan() on the tape of
 * the line as read, and the json-c path, store_prepare() on the tape of
 * the text json-c writes of the parsed line.  Both run the same checks
 * (fhir_check()) and the same rules (scope_classify()), so they must
 * agree: a line the fast path takes, the json-c path prepares into the
 * same row (type, id, lastUpdated, stored text, compartment, index
 * rows, date of service, flags, PA change time, released form); a line
 * the fast path refuses, the json-c path refuses with the same error.
 *
 * scope_classify() is also compared on its own, on every object with a
 * resourceType: on the line as read it either gives up (1, a duplicate
 * key in a claim) or says what it says on the text json-c writes.
 */
#include "fuzz.h"
#include "datascope/classify.h"
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
		fuzz_fail("%s: scan \"%s\", json-c \"%s\"", what,
		    str_or_null(a), str_or_null(b));
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
same_scope(const struct scope_info *a, const struct scope_info *b)
{
	same_str("scope dos", a->dos, b->dos);
	if (a->flags != b->flags)
		fuzz_fail("scope flags: scan %#x, json-c %#x", a->flags,
		    b->flags);
	same_str("scope changed", a->changed, b->changed);
	same_str("released form", a->p2p_json, b->p2p_json);
}

static void
same_row(const struct store_row *a, const struct store_row *b)
{
	const char	*ta, *tb;
	size_t		 na, nb, i, k;

	if (a->kind != b->kind)
		fuzz_fail("kind: scan %d, json-c %d", a->kind, b->kind);
	same_str("type", a->type, b->type);
	same_str("id", a->id, b->id);
	same_str("meta.lastUpdated", a->lu, b->lu);
	row_text(a, &ta, &na);
	row_text(b, &tb, &nb);
	if (na != nb || memcmp(ta, tb, na) != 0)
		fuzz_fail("stored text differs (%zu vs %zu bytes)", na, nb);
	if (a->has_patient != b->has_patient ||
	    (a->has_patient && strcmp(a->patient, b->patient) != 0))
		fuzz_fail("compartment: scan %d \"%s\", json-c %d \"%s\"",
		    a->has_patient, a->patient, b->has_patient, b->patient);
	if (a->indexed != b->indexed)
		fuzz_fail("indexed: scan %d, json-c %d", a->indexed,
		    b->indexed);
	same_scope(&a->si, &b->si);
	if (a->ix.n != b->ix.n)
		fuzz_fail("index rows: scan %zu, json-c %zu", a->ix.n,
		    b->ix.n);
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

static struct jscan	 js, jw;	/* the line as read; as json-c writes */
static struct store_ctx	 ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	jscan_init(&js);
	jscan_init(&jw);
	store_ctx_init(&ctx);
	log_quiet(1);
	return 0;
}

/* scope_classify() on the line as read and on what json-c writes. */
static void
classify_both(const char *text, size_t size)
{
	struct scope_info	 a, b;
	struct p2p_err		 err;
	json_object		*res;
	const char		*type, *w;
	int			 rc;

	if ((type = jscan_getstr(&js, 1, "resourceType")) == NULL)
		return;
	if ((rc = scope_classify(&js, type, 1, &a)) != 0) {
		if (rc != 1)
			fuzz_fail("scope_classify() returned %d", rc);
		return;
	}
	p2p_err_init(&err);
	if (fhir_parse(text, size, &res, &err) == -1)
		fuzz_fail("jscan took a line json-c refuses: %s", err.msg);
	w = fhir_json(res);
	if (jscan_parse(&jw, w, strlen(w), JSCAN_WRITTEN) == -1)
		fuzz_fail("jscan refuses what json-c wrote");
	same_str("resourceType", type, jscan_getstr(&jw, 1, "resourceType"));
	if (scope_classify(&jw, type, 1, &b) != 0)
		fuzz_fail("scope_classify() gave up on what json-c wrote");
	same_scope(&a, &b);
	scope_info_free(&a);
	scope_info_free(&b);
	json_object_put(res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_row	 scan, tree;
	struct p2p_err		 e1, e2;
	json_object		*res;
	char			*text;
	int			 rc, trc;

	/* the loader hands over a trimmed, NUL-terminated line */
	text = fuzz_str(data, size);
	ctx.raw = text;
	ctx.rawlen = size;
	if (jscan_parse(&js, text, size, 0) == -1) {
		free(text);
		return 0;
	}
	classify_both(text, size);
	p2p_err_init(&e1);
	if ((rc = store_prepare_scan(&js, &ctx, &scan, &e1)) == 0) {
		free(text);	/* json-c's to take (no lastUpdated, ...) */
		return 0;
	}
	if (rc != 1 && rc != -1)
		fuzz_fail("store_prepare_scan() returned %d", rc);
	p2p_err_init(&e2);
	if (fhir_parse(text, size, &res, &e2) == -1)
		fuzz_fail("the fast path read a line json-c refuses: %s",
		    e2.msg);
	trc = store_prepare(res, &ctx, &jw, &tree, &e2);
	if (rc == -1) {
		if (trc != -1)
			fuzz_fail("the fast path refused what the json-c path "
			    "takes: %s", e1.msg);
		if (e1.status != e2.status || e1.issue != e2.issue ||
		    strcmp(e1.msg, e2.msg) != 0 || strcmp(e1.expr, e2.expr) != 0)
			fuzz_fail("refused differently: scan %d \"%s\" (%s), "
			    "json-c %d \"%s\" (%s)", e1.status, e1.msg, e1.expr,
			    e2.status, e2.msg, e2.expr);
		free(text);	/* store_prepare() released res */
		return 0;
	}
	if (trc == -1)
		fuzz_fail("the json-c path refused what the fast path took: "
		    "%s", e2.msg);
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
