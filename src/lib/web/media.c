/*
 * media.c - see media.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/media.h"

#define RANGE_MAX	256	/* bytes of one media range we look at */

/* The media types each kind answers in, and its _format short form. */
static const struct {
	const char	*brief;		/* _format short form */
	const char	*types[4];	/* full media types */
} kinds[] = {
	{ "json", { "application/fhir+json", "application/json",
	    "application/json+fhir", NULL } },		/* P2P_MEDIA_FHIR */
	{ "ndjson", { "application/fhir+ndjson", "application/ndjson",
	    NULL } },					/* P2P_MEDIA_NDJSON */
};

/* Skips optional white space (RFC 9110 5.6.3). */
static const char *
ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * Reads the parameters of one range (p at the first ';' or end): sets
 * *q (0 to 1000) and returns 0, or -1 for a fhirVersion other than R4
 * (4.0, 4.0.1).
 */
static int
range_params(const char *p, const char *end, int *q)
{
	const char	*name, *eq, *val, *semi;
	size_t		 nlen, vlen;

	*q = 1000;
	while (p < end && *p == ';') {
		name = ows(p + 1, end);
		if ((semi = memchr(name, ';', (size_t)(end - name))) == NULL)
			semi = end;
		if ((eq = memchr(name, '=', (size_t)(semi - name))) == NULL) {
			p = semi;
			continue;
		}
		for (nlen = (size_t)(eq - name); nlen > 0 &&
		    (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'); nlen--)
			;
		val = ows(eq + 1, semi);
		for (vlen = (size_t)(semi - val); vlen > 0 &&
		    (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'); vlen--)
			;
		if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
			val++;
			vlen -= 2;
		}
		if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q')) {
			/* qvalue: "0" / "0." 1*3DIGIT / "1" ... */
			*q = vlen > 0 && val[0] == '1' ? 1000 : 0;
			if (vlen > 2 && val[0] == '0' && val[1] == '.')
				*q = atoi(val + 2) > 0 ? 1 : 0;
		} else if (nlen == 11 && strncasecmp(name, "fhirVersion",
		    11) == 0 && (vlen < 3 || strncmp(val, "4.0", 3) != 0 ||
		    (vlen > 3 && val[3] != '.')))
			return -1;
		p = semi;
	}
	return 0;
}

/*
 * 1 when the media type of the n bytes at s (before any ';') is one m
 * answers in, or, with wild, a wildcard covering one.
 */
static int
type_ok(const char *s, size_t n, enum p2p_media m, int wild)
{
	size_t	 i;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (wild && ((n == 3 && memcmp(s, "*/*", 3) == 0) ||
	    (n == 13 && strncasecmp(s, "application/*", 13) == 0)))
		return 1;
	for (i = 0; kinds[m].types[i] != NULL; i++)
		if (strlen(kinds[m].types[i]) == n &&
		    strncasecmp(s, kinds[m].types[i], n) == 0)
			return 1;
	return 0;
}

int
media_format_ok(const char *f, enum p2p_media m)
{
	char		 v[RANGE_MAX];
	const char	*semi;
	size_t		 n, i;
	int		 q;

	if (m == P2P_MEDIA_ANY)
		return 1;
	if (f == NULL || (n = strlen(f)) == 0 || n >= sizeof(v))
		return 0;
	memcpy(v, f, n + 1);
	/* An unescaped '+' in a query string arrives as a space. */
	for (i = 0; i < n && v[i] != ';'; i++)
		if (v[i] == ' ')
			v[i] = '+';
	if (strcasecmp(v, kinds[m].brief) == 0)
		return 1;
	if ((semi = strchr(v, ';')) == NULL)
		semi = v + n;
	return type_ok(v, (size_t)(semi - v), m, 0) &&
	    range_params(semi, v + n, &q) == 0;
}

int
media_accept_ok(const char *accept, enum p2p_media m)
{
	const char	*p, *end, *comma, *semi;
	int		 q, any = 0;

	if (m == P2P_MEDIA_ANY || accept == NULL)
		return 1;
	for (p = accept; *p != '\0'; p = *comma ? comma + 1 : comma) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		p = ows(p, comma);
		end = comma;
		if (p == end)
			continue;
		if ((size_t)(end - p) >= RANGE_MAX ||
		    memchr(p, '/', (size_t)(end - p)) == NULL)
			return 1;	/* malformed: not a refusal */
		any = 1;
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		if (type_ok(p, (size_t)(semi - p), m, 1) &&
		    range_params(semi, end, &q) == 0 && q > 0)
			return 1;
	}
	return !any;
}
