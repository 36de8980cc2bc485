/*
 * fhir.c - see fhir.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/fhir.h"
#include "json/jscan.h"

/*
 * The number at s[*pos] (a '-' or a digit): RFC 8259
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, and a value a C
 * number holds: an integer within int64 or uint64, else a double that
 * does not overflow (one too small rounds, as any decimal fraction).
 * Sets *pos after it; returns NULL or why it is refused, *pos at its
 * start.
 */
static const char *
number_check(const unsigned char *s, size_t len, size_t *pos)
{
	char		 tmp[64], *copy, *end;
	size_t		 i = *pos, n;
	int		 integer = 1, ok;

#define DIGIT(k)	((k) < len && s[k] >= '0' && s[k] <= '9')
	if (s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (DIGIT(i))
		while (DIGIT(i))
			i++;
	else
		return "malformed number";
	if (i < len && s[i] == '.') {
		integer = 0;
		if (!DIGIT(i + 1))
			return "malformed number";
		for (i++; DIGIT(i); i++)
			;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		integer = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return "malformed number";
		while (DIGIT(i))
			i++;
	}
	if (i < len && (DIGIT(i) || s[i] == '.' || s[i] == '-' ||
	    s[i] == '+'))
		return "malformed number";	/* "01", "1.2.3", "1-" */
#undef DIGIT
	n = i - *pos;
	copy = n < sizeof(tmp) ? tmp : malloc(n + 1);
	if (copy == NULL)
		return "number too long";
	memcpy(copy, s + *pos, n);
	copy[n] = '\0';
	errno = 0;
	if (!integer)
		ok = !isinf(strtod(copy, &end));
	else {
		if (copy[0] == '-')
			(void)strtoll(copy, &end, 10);
		else
			(void)strtoull(copy, &end, 10);
		ok = errno == 0;
	}
	if (copy != tmp)
		free(copy);
	if (!ok)
		return "number out of range";
	*pos = i;
	return NULL;
}

/*
 * What json-c 0.16 lets through even with JSON_TOKENER_STRICT |
 * JSON_TOKENER_VALIDATE_UTF8 is refused here, before it parses:
 *   - a single-quoted string (a ' outside a string), NaN, Infinity
 *     (a letter outside a string that no literal has);
 *   - a number RFC 8259 does not allow ("00", "-01", "1.", "1.e3"), or
 *     one json-c would change in silence (clamped to the int64 or
 *     uint64 range, or to an infinity or zero);
 *   - in a string (jscan_string(), the scanner's own check): a control
 *     character (U+0000..U+001F) unescaped (RFC 8259 section 7);
 *     malformed UTF-8: overlong forms, surrogates, code points above
 *     U+10FFFF (RFC 3629; json-c checks the byte pattern only); an
 *     escaped NUL (FHIR strings have none, C strings would end there),
 *     or an escaped surrogate without its pair (json-c would make it
 *     U+FFFD in silence).
 * Anything else malformed is left to json-c.  Returns the offset of the
 * first such byte with *why set, or len.
 */
static size_t
lexical_reject_at(const char *buf, size_t len, const char **why)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i = 0;
	unsigned char		 c;
	int			 esc;

	while (i < len) {
		c = s[i];
		if (c == '"')
			*why = jscan_string(s, len, &i, &esc);
		else if (c == '-' || (c >= '0' && c <= '9'))
			*why = number_check(s, len, &i);
		else if (c == '\'' || (((c | 0x20) >= 'a' &&
		    (c | 0x20) <= 'z') && strchr("truefalsn", c) == NULL))
			*why = "unexpected character";
		else {
			i++;
			continue;
		}
		if (*why != NULL)
			return i;
	}
	return len;
}

int
fhir_parse(const char *buf, size_t len, json_object **out,
    struct p2p_err *err)
{
	json_tokener	*tok;
	int		 rc;

	*out = NULL;
	if ((tok = json_tokener_new_ex(FHIR_MAX_DEPTH)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	rc = fhir_parse_tok(tok, buf, len, out, err);
	json_tokener_free(tok);
	return rc;
}

int
fhir_parse_tok(json_tokener *tok, const char *buf, size_t len,
    json_object **out, struct p2p_err *err)
{
	json_object		*obj;
	enum json_tokener_error	 jerr;
	const char		*why;
	size_t			 used;

	*out = NULL;
	if (len == 0)
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "request body is empty; expected a JSON resource");
	if (len > (size_t)INT32_MAX)
		return p2p_fail(err, 413, P2P_ISSUE_TOO_COSTLY,
		    "request body too large");
	if ((used = lexical_reject_at(buf, len, &why)) < len)
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "invalid JSON at byte %zu: %s", used, why);
	json_tokener_reset(tok);
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (jerr != json_tokener_success) {
		p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "invalid JSON at byte %zu: %s", used,
		    jerr == json_tokener_continue ? "unexpected end of input" :
		    json_tokener_error_desc(jerr));
		json_object_put(obj);
		return -1;
	}
	for (; used < len; used++)
		if (memchr(" \t\r\n", buf[used], 4) == NULL) {
			json_object_put(obj);
			return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
			    "invalid JSON: unexpected data after the "
			    "document at byte %zu", used);
		}
	*out = obj;
	return 0;
}

int
fhir_parse_resource(const char *buf, size_t len, const char *want,
    json_object **out, struct p2p_err *err)
{
	json_object	*obj;
	const char	*type;

	if (fhir_parse(buf, len, &obj, err) == -1)
		return -1;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "expected a JSON object (a FHIR resource)");
	}
	if ((type = fhir_type(obj)) == NULL) {
		json_object_put(obj);
		return p2p_fail_at(err, 400, P2P_ISSUE_REQUIRED,
		    "resourceType", "resourceType is missing");
	}
	if (want != NULL && strcmp(type, want) != 0) {
		p2p_fail_at(err, 400, P2P_ISSUE_STRUCTURE, "resourceType",
		    "expected a %s resource, got %.64s", want, type);
		json_object_put(obj);
		return -1;
	}
	*out = obj;
	return 0;
}

json_object *
fhir_get(json_object *obj, const char *key, json_type t)
{
	json_object	*v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

const char *
fhir_str(json_object *obj, const char *key)
{
	json_object	*v = fhir_get(obj, key, json_type_string);

	return v == NULL ? NULL : json_object_get_string(v);
}

const char *
fhir_type(json_object *obj)
{
	return fhir_str(obj, "resourceType");
}

const char *
fhir_id(json_object *obj)
{
	return fhir_str(obj, "id");
}

json_object *
fhir_path(json_object *obj, const char *path)
{
	char		 key[128];
	const char	*dot;
	size_t		 n;

	while (obj != NULL && *path != '\0') {
		if (json_object_is_type(obj, json_type_array))
			obj = json_object_array_length(obj) > 0 ?
			    json_object_array_get_idx(obj, 0) : NULL;
		if (obj == NULL || !json_object_is_type(obj, json_type_object))
			return NULL;
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += n + (dot != NULL);
	}
	if (obj != NULL && json_object_is_type(obj, json_type_array))
		obj = json_object_array_length(obj) > 0 ?
		    json_object_array_get_idx(obj, 0) : NULL;
	return obj;
}

const char *
fhir_path_str(json_object *obj, const char *path)
{
	obj = fhir_path(obj, path);
	if (obj == NULL || !json_object_is_type(obj, json_type_string))
		return NULL;
	return json_object_get_string(obj);
}

int
fhir_has_coding(json_object *concept, const char *system, const char *code)
{
	json_object	*codings, *c;
	const char	*s, *k;
	size_t		 i, n;

	if ((codings = fhir_get(concept, "coding", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(codings);
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(codings, i);
		s = fhir_str(c, "system");
		k = fhir_str(c, "code");
		if (k == NULL || strcmp(k, code) != 0)
			continue;
		if (system == NULL || (s != NULL && strcmp(s, system) == 0))
			return 1;
	}
	return 0;
}

int
fhir_add(json_object *obj, const char *key, json_object *value)
{
	if (value == NULL || json_object_object_add(obj, key, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int
fhir_add_str(json_object *obj, const char *key, const char *value)
{
	return fhir_add(obj, key, json_object_new_string(value));
}

int
fhir_add_int(json_object *obj, const char *key, long long value)
{
	return fhir_add(obj, key, json_object_new_int64(value));
}

int
fhir_add_bool(json_object *obj, const char *key, int value)
{
	return fhir_add(obj, key, json_object_new_boolean(value));
}

int
fhir_push(json_object *array, json_object *value)
{
	if (value == NULL || json_object_array_add(array, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

/* A new object holding the one string member key: val, or NULL. */
static json_object *
obj_with_str(const char *key, const char *val)
{
	json_object	*o;

	if ((o = json_object_new_object()) != NULL &&
	    fhir_add_str(o, key, val) == -1) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

json_object *
fhir_resource_new(const char *type)
{
	return obj_with_str("resourceType", type);
}

json_object *
fhir_outcome_new3(const char *severity, enum p2p_issue issue,
    const char *text)
{
	json_object	*oo, *issues, *is, *details;

	if ((oo = fhir_resource_new("OperationOutcome")) == NULL)
		return NULL;
	issues = json_object_new_array();
	is = json_object_new_object();
	details = json_object_new_object();
	if (fhir_add(oo, "issue", issues) == -1 || fhir_push(issues, is) == -1 ||
	    fhir_add_str(is, "severity", severity) == -1 ||
	    fhir_add_str(is, "code", p2p_issue_code(issue)) == -1 ||
	    fhir_add(is, "details", details) == -1 ||
	    fhir_add_str(details, "text", text) == -1 ||
	    fhir_add_str(is, "diagnostics", text) == -1) {
		json_object_put(oo);
		return NULL;
	}
	return oo;
}

json_object *
fhir_outcome_new(const struct p2p_err *err)
{
	json_object	*oo, *is, *ex;

	oo = fhir_outcome_new3(err->status >= 500 ? "fatal" : "error",
	    err->issue, err->msg[0] ? err->msg : "error");
	if (oo == NULL || err->expr[0] == '\0')
		return oo;
	is = json_object_array_get_idx(fhir_get(oo, "issue",
	    json_type_array), 0);
	ex = json_object_new_array();
	if (fhir_add(is, "expression", ex) == -1 ||
	    fhir_push(ex, json_object_new_string(err->expr)) == -1) {
		json_object_put(oo);
		return NULL;
	}
	return oo;
}

const char *
fhir_json(json_object *obj)
{
	return json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int
fhir_valid_id(const char *s)
{
	size_t	 n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' &&
		    s[n] != '.')
			return 0;
	return n >= 1 && n <= 64;
}

json_object *
fhir_coding_new(const char *system, const char *code, const char *display)
{
	json_object	*c;

	if ((c = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add_str(c, "system", system) == -1 ||
	    fhir_add_str(c, "code", code) == -1 ||
	    (display != NULL && fhir_add_str(c, "display", display) == -1)) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

json_object *
fhir_concept_new(const char *system, const char *code, const char *display)
{
	json_object	*o, *a;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	a = json_object_new_array();
	if (fhir_add(o, "coding", a) == -1 ||
	    fhir_push(a, fhir_coding_new(system, code, display)) == -1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
fhir_ident_new(const char *system, const char *value)
{
	json_object	*id;

	if ((id = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add_str(id, "system", system) == -1 ||
	    fhir_add_str(id, "value", value) == -1) {
		json_object_put(id);
		return NULL;
	}
	return id;
}

json_object *
fhir_prov_source_new(const char *display)
{
	json_object	*e, *exts, *x, *what;

	if ((e = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add(e, "extension", exts = json_object_new_array()) == -1 ||
	    fhir_push(exts, x = json_object_new_object()) == -1 ||
	    fhir_add_str(x, "url", "http://hl7.org/fhir/us/davinci-pdex/"
	    "StructureDefinition/ProvenanceSourceFrom") == -1 ||
	    fhir_add(x, "valueCodeableConcept", fhir_concept_new(
	    "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/"
	    "ProvenancePayerDataSource", "hl7fhirr4", "FHIR R4")) == -1 ||
	    fhir_add_str(e, "role", "source") == -1 ||
	    fhir_add(e, "what", what = json_object_new_object()) == -1 ||
	    fhir_add_str(what, "display", display) == -1) {
		json_object_put(e);
		return NULL;
	}
	return e;
}

json_object *
fhir_ref_new(const char *fmt, ...)
{
	va_list		 ap;
	char		 ref[512];
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(ref, sizeof(ref), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(ref))
		return NULL;
	return obj_with_str("reference", ref);
}

json_object *
fhir_ident_ref_new(const char *system, const char *value, const char *display)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add(o, "identifier", fhir_ident_new(system, value)) == -1 ||
	    (display != NULL && fhir_add_str(o, "display", display) == -1)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
