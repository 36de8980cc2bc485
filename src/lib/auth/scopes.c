/*
 * scopes.c - see scopes.h.
 */
#include <stdio.h>
#include <string.h>

#include "auth/scopes.h"
#include "json/valid.h"

static int
valid_type(const char *s, size_t n)
{
	size_t	 i;

	if (n == 1 && s[0] == '*')
		return 1;
	if (n == 0 || n >= 64 || s[0] < 'A' || s[0] > 'Z')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* "read", "write", "*", or v2 letters in c r u d s order. */
static int
parse_perms(const char *s, size_t n)
{
	static const char	 order[] = "cruds";
	int			 perms = 0;
	size_t			 i, at = 0;
	const char		*p;

	if (n == 4 && strncmp(s, "read", 4) == 0)
		return SCOPE_R | SCOPE_S;
	if (n == 5 && strncmp(s, "write", 5) == 0)
		return SCOPE_C | SCOPE_U | SCOPE_D;
	if (n == 1 && s[0] == '*')
		return SCOPE_C | SCOPE_R | SCOPE_U | SCOPE_D | SCOPE_S;
	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if ((p = strchr(order + at, s[i])) == NULL || s[i] == '\0')
			return -1;
		at = (size_t)(p - order) + 1;
		perms |= 1 << (p - order);
	}
	return perms;
}

int
scope_parse(const char *s, struct scope_item *it)
{
	const char	*slash, *dot, *q, *end;
	size_t		 n = strlen(s), i;

	memset(it, 0, sizeof(*it));
	if (n == 0 || n >= sizeof(it->text))
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"' || s[i] == '\\')
			return -1;
	memcpy(it->text, s, n + 1);
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
	    strncmp(s, "urn:", 4) == 0 || strncmp(s, "system.", 7) == 0)
		return 0;	/* an operation or PDex scope, literal */
	if ((slash = strchr(s, '/')) == NULL)
		return -1;
	if ((size_t)(slash - s) >= sizeof(it->context))
		return -1;
	memcpy(it->context, s, (size_t)(slash - s));
	if (strcmp(it->context, "system") && strcmp(it->context, "user") &&
	    strcmp(it->context, "patient"))
		return -1;
	if ((dot = strchr(slash + 1, '.')) == NULL)
		return -1;
	if (!valid_type(slash + 1, (size_t)(dot - slash - 1)))
		return -1;
	memcpy(it->type, slash + 1, (size_t)(dot - slash - 1));
	q = strchr(dot + 1, '?');
	end = q ? q : s + n;
	if ((it->perms = parse_perms(dot + 1, (size_t)(end - dot - 1))) == -1)
		return -1;
	if (q != NULL) {
		if (q[1] == '\0' || strchr(q + 1, '=') == NULL)
			return -1;
		it->query = 1;
	}
	it->smart = 1;
	return 0;
}

int
scope_covers(const struct scope_item *g, const struct scope_item *n)
{
	if (!g->smart || !n->smart || g->query || n->query)
		return strcmp(g->text, n->text) == 0;
	if (strcmp(g->context, n->context) != 0)
		return 0;
	if (strcmp(g->type, "*") != 0 && strcmp(g->type, n->type) != 0)
		return 0;
	return (n->perms & ~g->perms) == 0;
}

/* Calls fn for each space-separated word of list; stops on nonzero. */
static int
each_word(const char *list, int (*fn)(const char *, void *), void *arg)
{
	char		 w[SCOPE_LEN_MAX];
	const char	*p = list, *e;
	int		 rc;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ' ');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(w))
			w[0] = '\0';	/* too long: never matches */
		else {
			memcpy(w, p, (size_t)(e - p));
			w[e - p] = '\0';
		}
		if ((rc = fn(w, arg)) != 0)
			return rc;
		p = e;
	}
	return 0;
}

struct cover_arg {
	struct scope_item	 needed;
};

static int
covers_one(const char *word, void *arg)
{
	struct cover_arg	*a = arg;
	struct scope_item	 g;

	if (scope_parse(word, &g) == -1)
		return 0;
	return scope_covers(&g, &a->needed);
}

/* 1 when some scope of list covers needed. */
static int
list_covers(const char *list, const struct scope_item *needed)
{
	struct cover_arg	 a;

	a.needed = *needed;
	return each_word(list, covers_one, &a);
}

struct permit_arg {
	const char	*list;
};

static int
permit_one(const char *word, void *arg)
{
	struct permit_arg	*a = arg;
	struct scope_item	 n;

	if (scope_parse(word, &n) == -1)
		return 0;
	return list_covers(a->list, &n);
}

int
scopes_permit(const char *list, const char *need)
{
	struct permit_arg	 a;

	if (list == NULL || need == NULL)
		return 0;
	a.list = list;
	return each_word(need, permit_one, &a) == 1;
}

struct grant_arg {
	const char	*allowed;
	char		*out;
	size_t		 outsz;
	size_t		 len;
	int		 count;
	char		*why;
	size_t		 whysz;
};

static int
grant_one(const char *word, void *arg)
{
	struct grant_arg	*a = arg;
	struct scope_item	 n;
	size_t			 wl = strlen(word);

	if (++a->count > SCOPES_MAX) {
		snprintf(a->why, a->whysz, "too many scopes requested");
		return -1;
	}
	if (scope_parse(word, &n) == -1) {
		snprintf(a->why, a->whysz, "scope not understood: %.64s",
		    word[0] ? word : "(too long)");
		return -1;
	}
	/* RFC 6749 5.2 invalid_scope: "unknown" includes a resource type
	   that FHIR R4 does not define. */
	if (n.smart && strcmp(n.type, "*") != 0 &&
	    !fhir_type_known(n.type)) {
		snprintf(a->why, a->whysz, "scope %.64s names no FHIR R4 "
		    "resource type", word);
		return -1;
	}
	if (!list_covers(a->allowed, &n))
		return 0;	/* not pre-authorised: left out */
	if (a->len + wl + 2 > a->outsz) {
		snprintf(a->why, a->whysz, "granted scopes too long");
		return -1;
	}
	if (a->len > 0)
		a->out[a->len++] = ' ';
	memcpy(a->out + a->len, word, wl + 1);
	a->len += wl;
	return 0;
}

int
scopes_grant(const char *requested, const char *allowed, char *out,
    size_t outsz, char *why, size_t whysz)
{
	struct grant_arg	 a;

	memset(&a, 0, sizeof(a));
	a.allowed = allowed ? allowed : "";
	a.out = out;
	a.outsz = outsz;
	a.why = why;
	a.whysz = whysz;
	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (each_word(requested, grant_one, &a) != 0)
		return -1;
	if (a.count == 0) {
		snprintf(why, whysz, "no scope requested");
		return -1;
	}
	if (a.len == 0) {
		snprintf(why, whysz,
		    "none of the requested scopes is allowed for this client");
		return -1;
	}
	return 0;
}
