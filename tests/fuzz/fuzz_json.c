/*
 * fuzz_json.c - the loader's JSON scanner (json/jscan.c) against
 * fhir_parse() (json-c under the project's rules, json/fhir.c), which
 * parses every request body: the same documents accepted, the same
 * values read from them.
 *
 * The rules where they may differ (jscan.h: jscan takes a subset and
 * the loader falls back to fhir_parse() for the rest):
 *   - jscan may refuse a document fhir_parse() accepts only when it
 *     nests deeper than JSCAN_MAX_DEPTH containers, or stops at a
 *     number with an exponent or with more than 18 integer digits;
 *   - jscan never accepts what fhir_parse() refuses, except a document
 *     that is a bare number, true, false or null ending at the last
 *     byte: json-c waits for more and reports the end of input (every
 *     caller of fhir_parse() wants an object anyway);
 *   - duplicate keys: the last one wins in both (jscan_get()), while
 *     jscan_count() counts members as written and json-c keeps one.
 * Independently of both, a document either accepts must be well-formed
 * UTF-8 by the decoder below (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF), and the dotted-path lookups the loader uses
 * (jscan_path_str(), fhir_path_str()) must agree.  And what json-c
 * writes of any object it parsed (fhir_json()), jscan takes whole with
 * JSCAN_WRITTEN, holding the same values: the loader reads every
 * resource json-c parsed that way.
 */
#include "fuzz.h"
#include "json/fhir.h"
#include "json/jscan.h"

/* RFC 3629 by decoding, written apart from the library's checks. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t		 i = 0, k, len;
	unsigned long	 cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2; cp = s[i] & 0x1f; min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3; cp = s[i] & 0x0f; min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4; cp = s[i] & 0x07; min = 0x10000;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Containers nested in o (a scalar is 0). */
static int
depth_of(json_object *o)
{
	struct json_object_iterator	 it, end;
	size_t				 i, n;
	int				 d, max = 0;

	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			d = depth_of(json_object_array_get_idx(o, i));
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (!json_object_is_type(o, json_type_object))
		return 0;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if ((d = depth_of(json_object_iter_peek_value(&it))) > max)
			max = d;
	return max + 1;
}

/* jscan stopped at where: is it one of the documented subset limits? */
static int
subset_refusal(const char *s, size_t len, size_t where, json_object *tree)
{
	size_t	 d = 0;

	if (depth_of(tree) > JSCAN_MAX_DEPTH)
		return 1;
	if (where < len && (s[where] == 'e' || s[where] == 'E'))
		return 1;	/* an exponent */
	while (d < where && s[where - d - 1] >= '0' && s[where - d - 1] <= '9')
		d++;
	return d > 18;		/* a long integer */
}

/* The document is one number or literal, up to its last byte. */
static int
bare_scalar(const struct jscan *j)
{
	size_t	 end = j->textlen;

	while (end > 0 && memchr(" \t\r\n", j->text[end - 1], 4) != NULL)
		end--;
	switch (jscan_type(j, 1)) {
	case JS_NUMBER:
	case JS_TRUE:
	case JS_FALSE:
	case JS_NULL:
		/* no trailing white space: json-c cannot know it ended */
		return end == j->textlen;
	default:
		return 0;
	}
}

static void	 same(struct jscan *, uint32_t, json_object *);

static void
same_number(struct jscan *j, uint32_t n, json_object *o)
{
	char		 text[512], *end;
	size_t		 len = j->node[n].len;

	if (!json_object_is_type(o, json_type_int) &&
	    !json_object_is_type(o, json_type_double))
		fuzz_fail("node %u: a number for jscan, type %d for json-c",
		    n, (int)json_object_get_type(o));
	if (len >= sizeof(text))
		return;		/* a long fraction: the types agreed */
	memcpy(text, j->text + j->node[n].start, len);
	text[len] = '\0';
	if (strpbrk(text, ".eE") == NULL) {
		if (!json_object_is_type(o, json_type_int) ||
		    strtoll(text, &end, 10) != json_object_get_int64(o))
			fuzz_fail("node %u: integer %s read as %lld", n, text,
			    (long long)json_object_get_int64(o));
	} else if (strtod(text, &end) != json_object_get_double(o))
		fuzz_fail("node %u: number %s read as %.17g", n, text,
		    json_object_get_double(o));
}

static void
same_object(struct jscan *j, uint32_t n, json_object *o)
{
	struct json_object_iterator	 it, end;
	json_object			*v;
	const char			*key;
	uint32_t			 k, found;

	if (!json_object_is_type(o, json_type_object))
		fuzz_fail("node %u: an object for jscan only", n);
	if ((size_t)json_object_object_length(o) > jscan_count(j, n))
		fuzz_fail("node %u: json-c has more members", n);
	/* every member jscan saw is one json-c kept, and vice versa */
	for (k = n + 1; k < j->node[n].next; k = j->node[k + 1].next) {
		if ((key = jscan_str(j, k)) == NULL)
			fuzz_fail("node %u: key %u is not a string", n, k);
		if (!json_object_object_get_ex(o, key, &v))
			fuzz_fail("node %u: key \"%s\" unknown to json-c", n,
			    key);
	}
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if ((found = jscan_get(j, n, key)) == 0)
			fuzz_fail("node %u: key \"%s\" unknown to jscan", n,
			    key);
		same(j, found, json_object_iter_peek_value(&it));
	}
}

/* Node n of the tape holds the same value as o. */
static void
same(struct jscan *j, uint32_t n, json_object *o)
{
	const char	*s;
	uint32_t	 e;
	size_t		 i, len;

	switch (jscan_type(j, n)) {
	case JS_NULL:
		if (o != NULL)
			fuzz_fail("node %u: null for jscan only", n);
		return;
	case JS_TRUE:
	case JS_FALSE:
		if (!json_object_is_type(o, json_type_boolean) ||
		    json_object_get_boolean(o) != (jscan_type(j, n) == JS_TRUE))
			fuzz_fail("node %u: boolean differs", n);
		return;
	case JS_STRING:
		if (!json_object_is_type(o, json_type_string))
			fuzz_fail("node %u: a string for jscan only", n);
		s = jscan_str(j, n);
		len = (size_t)json_object_get_string_len(o);
		if (strlen(s) != len ||
		    memcmp(s, json_object_get_string(o), len) != 0)
			fuzz_fail("node %u: string \"%s\" vs \"%s\"", n, s,
			    json_object_get_string(o));
		return;
	case JS_NUMBER:
		same_number(j, n, o);
		return;
	case JS_ARRAY:
		if (!json_object_is_type(o, json_type_array) ||
		    json_object_array_length(o) != jscan_count(j, n))
			fuzz_fail("node %u: array differs", n);
		for (i = 0, e = jscan_first(j, n); e != 0;
		    i++, e = jscan_next(j, n, e))
			same(j, e, json_object_array_get_idx(o, i));
		return;
	case JS_OBJECT:
		same_object(j, n, o);
		return;
	default:
		fuzz_fail("node %u: type %d", n, jscan_type(j, n));
	}
}

/* Paths the loader and the scope rules read with both lookups. */
static const char *const paths[] = {
	"resourceType", "id", "meta.lastUpdated", "name.family",
	"identifier.value", "subject.reference", "patient.reference",
	"beneficiary.reference", "a.b.c", NULL
};

static struct jscan	 js;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	jscan_init(&js);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*text = (const char *)data;
	const char		*a, *b, *w;
	const char *const	*p;
	json_object		*tree = NULL;
	struct p2p_err		 err;
	int			 tree_ok, scan_ok;

	p2p_err_init(&err);
	tree_ok = fhir_parse(text, size, &tree, &err) == 0;
	scan_ok = jscan_parse(&js, text, size, 0) == 0;
	if (tree_ok && err.status != 0)
		fuzz_fail("fhir_parse() succeeded with an error set");
	if (!tree_ok && (err.status != 400 || tree != NULL))
		fuzz_fail("fhir_parse() refused with status %d", err.status);
	if ((tree_ok || scan_ok) && !utf8_ok(data, size))
		fuzz_fail("accepted malformed UTF-8 (fhir_parse %d, jscan %d)",
		    tree_ok, scan_ok);
	if (scan_ok && !tree_ok && !(bare_scalar(&js) &&
	    err.status == 400 && strstr(err.msg, "end of input") != NULL))
		fuzz_fail("jscan accepts what fhir_parse() refuses: %s",
		    err.msg);
	if (tree_ok && !scan_ok && !subset_refusal(text, size, js.where, tree))
		fuzz_fail("jscan refuses at byte %zu what fhir_parse() "
		    "accepts", js.where);
	if (tree_ok && scan_ok) {
		same(&js, 1, tree);
		for (p = paths; *p != NULL; p++) {
			a = jscan_path_str(&js, 1, *p);
			b = fhir_path_str(tree, *p);
			if ((a == NULL) != (b == NULL) ||
			    (a != NULL && strcmp(a, b) != 0))
				fuzz_fail("path %s: \"%s\" vs \"%s\"", *p,
				    a ? a : "(none)", b ? b : "(none)");
		}
	}
	if (tree_ok && json_object_is_type(tree, json_type_object)) {
		w = fhir_json(tree);
		if (jscan_parse(&js, w, strlen(w), JSCAN_WRITTEN) == -1)
			fuzz_fail("jscan refuses at byte %zu the text json-c "
			    "writes", js.where);
		same(&js, 1, tree);
	}
	json_object_put(tree);
	return 0;
}
