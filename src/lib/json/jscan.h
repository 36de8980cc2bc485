/*
 * jscan.h - a strict single-pass JSON scanner for the loader's fast
 * path.  It builds no tree of allocations: one reusable
 * array of nodes ("tape") per thread, in document order, each node
 * giving its byte range in the text and where its subtree ends.
 *
 * It accepts a subset of what fhir_parse() accepts (RFC 8259, UTF-8
 * validated, no escaped NUL, nesting at most JSCAN_MAX_DEPTH, no number
 * with an exponent or more than 18 integer digits) and refuses anything
 * else; the loader then parses the line with fhir_parse(), whose error
 * message (or acceptance) is the one that counts.  Text that json-c
 * wrote (fhir_json()) is scanned with JSCAN_WRITTEN, which takes every
 * number json-c writes and its whole nesting depth: so any resource,
 * parsed by either, can be read through the tape (the data-scope rules
 * and the loader's checks are written once, over the tape).  Duplicate
 * keys: the last one wins, as in json-c.
 */
#ifndef P2P_JSCAN_H
#define P2P_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#define JSCAN_MAX_DEPTH	32	/* containers nested; deeper: refused */
#define JSCAN_WRITTEN_DEPTH 72	/* with JSCAN_WRITTEN: more than json-c
				   parses (FHIR_MAX_DEPTH) */

/* jscan_parse() flags */
#define JSCAN_WRITTEN	0x1	/* text written by json-c: numbers of any
				   form, nesting to JSCAN_WRITTEN_DEPTH */

enum jscan_type {
	JS_NONE, JS_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_TRUE,
	JS_FALSE, JS_NULL,
};

struct jscan_node {
	uint32_t	 start;		/* strings: first byte of the content */
	uint32_t	 len;		/* strings: bytes of content (raw);
					   numbers, true, false, null: of
					   the text */
	uint32_t	 next;		/* node index after this subtree */
	uint32_t	 dec;		/* strings: 1 + offset of the decoded
					   text in the arena, 0 not yet */
	uint8_t		 type;		/* enum jscan_type */
	uint8_t		 esc;		/* string has a backslash escape */
};

struct jscan {
	const char		*text;
	size_t			 textlen;
	struct jscan_node	*node;
	size_t			 nnode, cap;
	char			*arena;	/* decoded strings, NUL-terminated */
	size_t			 alen, acap;
	size_t			 where;	/* byte of the first refusal */
};

void	 jscan_init(struct jscan *);
void	 jscan_free(struct jscan *);

/*
 * Scans text (not NUL-terminated) into the tape.  0, or -1 when the text
 * is refused (malformed, or outside the subset above unless flags has
 * JSCAN_WRITTEN) or out of memory; j->where is the byte where it
 * stopped.  The root is node 1: node index 0 means "none" everywhere,
 * so lookups chain safely.
 */
int	 jscan_parse(struct jscan *, const char *text, size_t len, int flags);

/*
 * The JSON string whose opening quote is at s[*pos], checked as the
 * scanner checks every string (RFC 8259; UTF-8 by RFC 3629; no escaped
 * NUL, no unpaired surrogate): returns NULL with *pos after its closing
 * quote and *esc set when it holds an escape, or why it is refused with
 * *pos at the offending byte.  fhir_parse() checks strings with it too.
 */
const char *jscan_string(const unsigned char *s, size_t len, size_t *pos,
	    int *esc);

/* The value of key in object node obj (the last one), or 0 for none. */
uint32_t jscan_get(struct jscan *, uint32_t obj, const char *key);
/* Like jscan_get() but only a value of type t. */
uint32_t jscan_get_t(struct jscan *, uint32_t obj, const char *key, int t);
/* The type of node i (JS_NONE for 0). */
int	 jscan_type(const struct jscan *, uint32_t i);
/* First element of array node a / the one after element e; 0: none. */
uint32_t jscan_first(const struct jscan *, uint32_t a);
uint32_t jscan_next(const struct jscan *, uint32_t a, uint32_t e);
/* Elements of array node a, or members of object node a as written
   (a duplicate key counts twice). */
size_t	 jscan_count(const struct jscan *, uint32_t a);
/*
 * The decoded text of string node i (NUL-terminated, valid until the
 * next jscan_parse()), or NULL when i is not a string.
 */
const char *jscan_str(struct jscan *, uint32_t i);
/* jscan_str() of obj[key] (NULL unless a string), like fhir_str(). */
const char *jscan_getstr(struct jscan *, uint32_t obj, const char *key);
/*
 * fhir_path() on the tape: dotted keys, taking the first element of any
 * array on the way and at the end.  0 when there is nothing there.
 */
uint32_t jscan_path(struct jscan *, uint32_t obj, const char *path);
const char *jscan_path_str(struct jscan *, uint32_t obj, const char *path);

#endif
