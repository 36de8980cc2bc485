/*
 * jscan.c - see jscan.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "json/jscan.h"

void
jscan_init(struct jscan *j)
{
	memset(j, 0, sizeof(*j));
}

void
jscan_free(struct jscan *j)
{
	free(j->node);
	free(j->arena);
	jscan_init(j);
}

/* A new node of type t at byte start; 0 when out of memory. */
static uint32_t
push(struct jscan *j, int t, size_t start)
{
	struct jscan_node	*n;
	size_t			 ncap;

	if (j->nnode == j->cap) {
		ncap = j->cap ? j->cap * 2 : 1024;
		if (ncap > UINT32_MAX / 2 ||
		    (n = realloc(j->node, ncap * sizeof(*n))) == NULL)
			return 0;
		j->node = n;
		j->cap = ncap;
	}
	n = &j->node[j->nnode];
	n->start = (uint32_t)start;
	n->len = 0;
	n->next = (uint32_t)j->nnode + 1;
	n->dec = 0;
	n->type = (uint8_t)t;
	n->esc = 0;
	return (uint32_t)j->nnode++;
}

/* The 4 hex digits at s (which has them), or -1. */
static long
hex4(const unsigned char *s)
{
	int	 a = hex_val(s[0]), b = hex_val(s[1]), c = hex_val(s[2]),
		 d = hex_val(s[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

const char *
jscan_string(const unsigned char *s, size_t len, size_t *pos, int *esc)
{
	size_t		 i = *pos + 1, k;
	long		 u, lo;

	*esc = 0;
	for (;;) {
		/* the common case: plain printable ASCII */
		while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
		    s[i] != '\\')
			i++;
		*pos = i;
		if (i >= len)
			return "unterminated string";
		if (s[i] == '"')
			break;
		if (s[i] < 0x20)
			return "control character in a string";
		if (s[i] >= 0x80) {
			if ((k = utf8_len(s + i, len - i)) == 0)
				return "malformed UTF-8";
			i += k;
			continue;
		}
		/* a backslash */
		*esc = 1;
		if (i + 1 >= len)
			return "unterminated string";
		switch (s[i + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			return "invalid escape";
		}
		if (len - i < 6 || (u = hex4(s + i + 2)) == -1)
			return "invalid escape";
		if (u == 0)
			return "escaped NUL in a string";
		if (u >= 0xdc00 && u <= 0xdfff)
			return "unpaired surrogate";	/* a lone low one */
		if (u >= 0xd800 && u <= 0xdbff &&
		    (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
		    (lo = hex4(s + i + 8)) == -1 || lo < 0xdc00 || lo > 0xdfff))
			return "unpaired surrogate";
		i += u >= 0xd800 && u <= 0xdbff ? 12 : 6;
	}
	*pos = i + 1;
	return NULL;
}

/* Scans the string whose opening quote is at *pos.  0 or -1. */
static int
scan_string(struct jscan *j, const unsigned char *s, size_t len, size_t *pos)
{
	size_t		 i = *pos;
	uint32_t	 n;
	int		 esc;

	if ((n = push(j, JS_STRING, i + 1)) == 0)
		return -1;
	if (jscan_string(s, len, &i, &esc) != NULL) {
		j->where = i;
		return -1;
	}
	j->node[n].esc = (uint8_t)esc;
	j->node[n].len = (uint32_t)(i - *pos - 2);
	*pos = i;
	return 0;
}

/*
 * Numbers: -?(0|[1-9][0-9]{0,17})(\.[0-9]+)?, the forms json-c writes
 * back as they were read (exponents and longer integers are refused);
 * with any != 0 also -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
 */
static int
scan_number(struct jscan *j, const unsigned char *s, size_t len, size_t *pos,
    int any)
{
	size_t	 i = *pos, d;

	if (push(j, JS_NUMBER, i) == 0)
		return -1;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9') {
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; d++)
			i++;
		if (d > 18 && !any)
			goto bad;
	} else
		goto bad;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			goto bad;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (any && i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			goto bad;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E' ||
	    (s[i] >= '0' && s[i] <= '9')))
		goto bad;
	j->node[j->nnode - 1].len = (uint32_t)(i - *pos);
	*pos = i;
	return 0;
bad:
	j->where = i;
	return -1;
}

#define WS(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

int
jscan_parse(struct jscan *j, const char *text, size_t len, int flags)
{
	const unsigned char	*s = (const unsigned char *)text;
	uint32_t		 stack[JSCAN_WRITTEN_DEPTH];
	size_t			 i = 0, need;
	int			 depth = 0, t, written = flags & JSCAN_WRITTEN;
	int			 maxdepth = written ? JSCAN_WRITTEN_DEPTH :
				    JSCAN_MAX_DEPTH;
	uint32_t		 n;
	/* what may come next: a value, a key, or after a value */
	enum { VALUE, KEY_OR_END, KEY, VALUE_OR_END, AFTER } want = VALUE;

	j->text = text;
	j->textlen = len;
	j->nnode = 0;
	j->alen = 0;
	j->where = 0;
	if (len >= UINT32_MAX)
		return -1;
	/* node 0 stands for "none": the root is node 1 */
	(void)push(j, JS_NONE, 0);
	if (j->nnode != 1)
		return -1;	/* out of memory */
	for (;;) {
		while (i < len && WS(s[i]))
			i++;
		if (i >= len) {
			if (depth == 0 && want == AFTER)
				break;
			goto bad;
		}
		if (want == AFTER || want == KEY_OR_END || want == VALUE_OR_END) {
			if (depth == 0)
				goto bad;	/* data after the document */
			t = j->node[stack[depth - 1]].type;
			if (want == AFTER && s[i] == ',') {
				want = t == JS_OBJECT ? KEY : VALUE;
				i++;
				continue;
			}
			if (s[i] == (t == JS_OBJECT ? '}' : ']')) {
				/* the end of the innermost object or array */
				i++;
				depth--;
				j->node[stack[depth]].next = (uint32_t)j->nnode;
				want = AFTER;
				continue;
			}
			if (want == AFTER)
				goto bad;
		}
		if (want == KEY_OR_END || want == KEY) {
			if (s[i] != '"' || scan_string(j, s, len, &i) == -1)
				goto bad;
			while (i < len && WS(s[i]))
				i++;
			if (i >= len || s[i] != ':')
				goto bad;
			i++;
			want = VALUE;
			continue;
		}
		/* a value */
		switch (s[i]) {
		case '{':
		case '[':
			if (depth == maxdepth)
				goto bad;
			if ((n = push(j, s[i] == '{' ? JS_OBJECT : JS_ARRAY,
			    i)) == 0)
				goto bad;
			stack[depth++] = n;
			want = s[i] == '{' ? KEY_OR_END : VALUE_OR_END;
			i++;
			continue;
		case '"':
			if (scan_string(j, s, len, &i) == -1)
				goto bad;
			break;
		case 't':
		case 'f':
		case 'n':
			t = s[i] == 't' ? JS_TRUE : s[i] == 'f' ? JS_FALSE :
			    JS_NULL;
			need = t == JS_FALSE ? 5 : 4;
			if (len - i < need || memcmp(s + i, t == JS_TRUE ?
			    "true" : t == JS_FALSE ? "false" : "null",
			    need) != 0 || (n = push(j, t, i)) == 0)
				goto bad;
			j->node[n].len = (uint32_t)need;
			i += need;
			break;
		default:
			if (scan_number(j, s, len, &i, written) == -1)
				goto bad;
			break;
		}
		want = AFTER;
	}
	/* the arena holds every string decoded once: never more than this */
	need = len + j->nnode + 1;
	if (need > j->acap) {
		free(j->arena);
		if ((j->arena = malloc(need)) == NULL) {
			j->acap = 0;
			return -1;
		}
		j->acap = need;
	}
	return 0;
bad:
	if (j->where < i)
		j->where = i;
	return -1;
}

int
jscan_type(const struct jscan *j, uint32_t i)
{
	return i == 0 || i >= j->nnode ? JS_NONE : j->node[i].type;
}

/* Writes code point u as UTF-8 at out; returns the bytes written. */
static size_t
put_utf8(char *out, long u)
{
	if (u < 0x80) {
		out[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = (char)(0xc0 | (u >> 6));
		out[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		out[0] = (char)(0xe0 | (u >> 12));
		out[1] = (char)(0x80 | ((u >> 6) & 0x3f));
		out[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (u >> 18));
	out[1] = (char)(0x80 | ((u >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((u >> 6) & 0x3f));
	out[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

const char *
jscan_str(struct jscan *j, uint32_t i)
{
	struct jscan_node	*n;
	const unsigned char	*s;
	char			*out;
	size_t			 k, o;
	long			 u;

	if (jscan_type(j, i) != JS_STRING)
		return NULL;
	n = &j->node[i];
	if (n->dec != 0)
		return j->arena + n->dec - 1;
	s = (const unsigned char *)j->text + n->start;
	out = j->arena + j->alen;
	if (!n->esc) {
		memcpy(out, s, n->len);
		o = n->len;
	} else {
		/* validated by scan_string(): every escape is well formed */
		for (k = o = 0; k < n->len; ) {
			if (s[k] != '\\') {
				out[o++] = (char)s[k++];
				continue;
			}
			switch (s[k + 1]) {
			case 'b': out[o++] = '\b'; break;
			case 'f': out[o++] = '\f'; break;
			case 'n': out[o++] = '\n'; break;
			case 'r': out[o++] = '\r'; break;
			case 't': out[o++] = '\t'; break;
			case 'u': break;
			default: out[o++] = (char)s[k + 1]; break;
			}
			if (s[k + 1] != 'u') {
				k += 2;
				continue;
			}
			u = hex4(s + k + 2);
			k += 6;
			if (u >= 0xd800 && u <= 0xdbff) {
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (hex4(s + k + 2) - 0xdc00);
				k += 6;
			}
			o += put_utf8(out + o, u);
		}
	}
	out[o] = '\0';
	n->dec = (uint32_t)j->alen + 1;
	j->alen += o + 1;
	return out;
}

/* 1 when key node k holds the text key. */
static int
key_is(struct jscan *j, uint32_t k, const char *key, size_t klen)
{
	const struct jscan_node	*n = &j->node[k];
	const char		*d;

	if (!n->esc)
		return n->len == klen &&
		    memcmp(j->text + n->start, key, klen) == 0;
	return (d = jscan_str(j, k)) != NULL && strcmp(d, key) == 0;
}

uint32_t
jscan_get(struct jscan *j, uint32_t obj, const char *key)
{
	uint32_t	 i, end, found = 0;
	size_t		 klen = strlen(key);

	if (jscan_type(j, obj) != JS_OBJECT)
		return 0;
	end = j->node[obj].next;
	for (i = obj + 1; i < end; i = j->node[i + 1].next)
		if (key_is(j, i, key, klen))
			found = i + 1;	/* the last one wins, as in json-c */
	return found;
}

uint32_t
jscan_get_t(struct jscan *j, uint32_t obj, const char *key, int t)
{
	uint32_t	 v = jscan_get(j, obj, key);

	return jscan_type(j, v) == t ? v : 0;
}

uint32_t
jscan_first(const struct jscan *j, uint32_t a)
{
	if (jscan_type(j, a) != JS_ARRAY || j->node[a].next == a + 1)
		return 0;
	return a + 1;
}

uint32_t
jscan_next(const struct jscan *j, uint32_t a, uint32_t e)
{
	uint32_t	 n = j->node[e].next;

	return n < j->node[a].next ? n : 0;
}

size_t
jscan_count(const struct jscan *j, uint32_t a)
{
	uint32_t	 i, end;
	size_t		 n = 0;
	int		 t = jscan_type(j, a);

	if (t != JS_ARRAY && t != JS_OBJECT)
		return 0;
	end = j->node[a].next;
	for (i = a + 1; i < end; i = j->node[i].next) {
		if (t == JS_OBJECT)
			i++;	/* the value after its key */
		n++;
	}
	return n;
}

const char *
jscan_getstr(struct jscan *j, uint32_t obj, const char *key)
{
	return jscan_str(j, jscan_get(j, obj, key));
}

uint32_t
jscan_path(struct jscan *j, uint32_t obj, const char *path)
{
	char		 key[128];
	const char	*dot;
	size_t		 n;

	while (obj != 0 && *path != '\0') {
		if (jscan_type(j, obj) == JS_ARRAY)
			obj = jscan_first(j, obj);
		if (jscan_type(j, obj) != JS_OBJECT)
			return 0;
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return 0;
		memcpy(key, path, n);
		key[n] = '\0';
		obj = jscan_get(j, obj, key);
		path += n + (dot != NULL);
	}
	if (jscan_type(j, obj) == JS_ARRAY)
		obj = jscan_first(j, obj);
	return obj;
}

const char *
jscan_path_str(struct jscan *j, uint32_t obj, const char *path)
{
	return jscan_str(j, jscan_path(j, obj, path));
}
