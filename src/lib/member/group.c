/*
 * group.c - see group.h.
 *
 * The search walks the caller's Groups by id (index grp_client_id) and
 * tests each condition against the Group's tokens (table grp_token,
 * kept by the database from the stored JSON: db/migrations/0005), never
 * parsing a Group that does not match.  Only the page's Groups are read
 * whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datascope/release.h"
#include "json/fhir.h"
#include "member/group.h"

#define ALT_MAX		8	/* alternatives (commas) in one value */
#define COND_MAX	16	/* conditions in one search */
#define TOKEN_LEN	256	/* bytes of a token's system or value */

enum cond_kind {
	C_ID,		/* _id */
	C_TOKEN,	/* identifier, code, characteristic */
	C_PAIR,		/* characteristic-value */
	C_UPDATED,	/* _lastUpdated */
};

struct token {
	char	 system[TOKEN_LEN];	/* "" with a leading '|' */
	char	 value[TOKEN_LEN];	/* "" for "system|": any */
	int	 any_system;		/* no '|' given */
};

struct cond {
	enum cond_kind		 kind;
	const char		*name;		/* grp_token.name (C_TOKEN) */
	size_t			 nalt;		/* alternatives: any holds */
	struct token		 a[ALT_MAX];	/* the token, the composite's
						   characteristic */
	struct token		 b[ALT_MAX];	/* the composite's value */
	struct release_cond	 date;		/* C_UPDATED */
};

struct query {
	struct cond	 c[COND_MAX];
	size_t		 n;
	long long	 count;			/* _count */
	char		 cursor[65];		/* _cursor, or "" */
};

/* The parameters and what each is (a NULL name ends it). */
static const struct {
	const char	*param;
	enum cond_kind	 kind;
	const char	*token;		/* grp_token.name */
} search_params[] = {
	{ "_id", C_ID, NULL },
	{ "identifier", C_TOKEN, "identifier" },
	{ "code", C_TOKEN, "code" },
	{ "characteristic", C_TOKEN, "characteristic" },
	{ "characteristic-value", C_PAIR, NULL },
	{ "_lastUpdated", C_UPDATED, NULL },
	{ NULL, C_ID, NULL }
};

enum stmt {
	STMT_READ,		/* a client's group */
	STMT_GROUPS,		/* a client's groups, keyset */
	STMT_TOKEN,		/* a group has a token */
	STMT_PAIR,		/* a group has a characteristic and value */
	STMT__MAX
};

/* The statements, in enum stmt order (group_queries: for the query
   plan test). */
const char *const group_queries[STMT__MAX + 1] = {
	/* STMT_READ */
	"SELECT json FROM grp WHERE id = ?1 AND client_id = ?2",
	/* STMT_GROUPS (index grp_client_id) */
	("SELECT id, created FROM grp WHERE client_id = ?1 AND id > ?2"
	    " ORDER BY id"),
	/* STMT_TOKEN (grp_token's key) */
	("SELECT 1 FROM grp_token WHERE group_id = ?1 AND name = ?2"
	    " AND (?3 IS NULL OR value = ?3) AND (?4 IS NULL OR system = ?4)"
	    " LIMIT 1"),
	/* STMT_PAIR */
	("SELECT 1 FROM grp_token c JOIN grp_token v ON v.group_id ="
	    " c.group_id AND v.name = 'value' AND v.elem = c.elem"
	    " WHERE c.group_id = ?1 AND c.name = 'characteristic'"
	    " AND (?2 IS NULL OR c.value = ?2) AND (?3 IS NULL OR c.system = ?3)"
	    " AND (?4 IS NULL OR v.value = ?4) AND (?5 IS NULL OR v.system = ?5)"
	    " LIMIT 1"),
	NULL
};

int
group_read(struct p2p_db *db, const char *id, const char *client,
    char **json, struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*s;
	int		 rc;

	*json = NULL;
	if ((st = db_query(db, group_queries[STMT_READ], err, "tt", id,
	    client)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW &&
	    (s = db_col_text(st, 0)) != NULL && (*json = strdup(s)) == NULL) {
		db_done(st);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "group read");
	return *json == NULL ? 1 : 0;
}

/*
 * Copies from *p up to an unescaped character of stops into out,
 * unescaping "\x" (FHIR search: "\," "\|" "\$" "\\"); *p is left at the
 * stop.  Returns the stop ('\0' at the end), or -1 when too long or a
 * backslash ends the value.
 */
static int
scan(const char **p, const char *stops, char *out, size_t sz)
{
	const char	*s = *p;
	size_t		 n = 0;

	for (; *s != '\0' && strchr(stops, *s) == NULL; s++) {
		if (*s == '\\' && *++s == '\0')
			return -1;
		if (n + 1 >= sz)
			return -1;
		out[n++] = *s;
	}
	out[n] = '\0';
	*p = s;
	return (unsigned char)*s;
}

/* One token "[system|]value" at *p, up to a stop of more (or the end). */
static int
token(const char **p, const char *more, struct token *t)
{
	char	 stops[8];
	int	 c;

	snprintf(stops, sizeof(stops), "|%s", more);
	memset(t, 0, sizeof(*t));
	if ((c = scan(p, stops, t->value, sizeof(t->value))) == -1)
		return -1;
	t->any_system = c != '|';
	if (c == '|') {
		memcpy(t->system, t->value, sizeof(t->system));
		(*p)++;
		if ((c = scan(p, more, t->value, sizeof(t->value))) == -1)
			return -1;
		if (t->system[0] == '\0' && t->value[0] == '\0')
			return -1;	/* "|" alone */
	} else if (t->value[0] == '\0')
		return -1;
	return c;
}

/* Parses one parameter into q's next condition. */
static int
cond_parse(struct query *q, const char *name, const char *v,
    struct p2p_err *err)
{
	struct cond	*c;
	const char	*p = v;
	size_t		 i;
	int		 stop;

	for (i = 0; search_params[i].param != NULL; i++)
		if (strcmp(search_params[i].param, name) == 0)
			break;
	if (search_params[i].param == NULL)
		return p2p_fail_at(err, 400, P2P_ISSUE_NOT_SUPPORTED, name,
		    "Group search does not support %.64s", name);
	if (q->n >= COND_MAX)
		return p2p_fail_at(err, 400, P2P_ISSUE_TOO_COSTLY, name,
		    "too many search parameters");
	c = &q->c[q->n];
	memset(c, 0, sizeof(*c));
	c->kind = search_params[i].kind;
	c->name = search_params[i].token;
	if (c->kind == C_UPDATED) {
		if (release_cond_parse(v, 1, &c->date, name, err) == -1)
			return -1;
		q->n++;
		return 0;
	}
	do {
		if (c->nalt >= ALT_MAX)
			return p2p_fail_at(err, 400, P2P_ISSUE_TOO_COSTLY, name,
			    "%s: too many values", name);
		if (c->kind == C_ID) {
			stop = scan(&p, ",", c->a[c->nalt].value, 65);
			if (stop == -1 || !fhir_valid_id(c->a[c->nalt].value))
				goto bad;
		} else if (c->kind == C_TOKEN)
			stop = token(&p, ",", &c->a[c->nalt]);
		else if ((stop = token(&p, "$,", &c->a[c->nalt])) == '$') {
			p++;
			stop = token(&p, ",", &c->b[c->nalt]);
		} else
			goto bad;	/* a composite needs its "$" */
		if (stop == -1)
			goto bad;
		c->nalt++;
	} while (*p++ == ',');
	q->n++;
	return 0;
bad:
	return p2p_fail_at(err, 400, P2P_ISSUE_VALUE, name,
	    "%s: %.64s is not %s", name, v, c->kind == C_ID ? "a list of ids" :
	    c->kind == C_PAIR ? "a list of token$token" :
	    "a list of [system|]code tokens");
}

/* Parses every parameter of l into q.  0, or -1 with a 400. */
static int
query_parse(struct query *q, const struct p2p_kvlist *l, struct p2p_err *err)
{
	const char	*k, *v;
	size_t		 i;

	memset(q, 0, sizeof(*q));
	q->count = GROUP_COUNT_DEFAULT;
	for (i = 0; i < l->n; i++) {
		k = l->kv[i].key;
		v = l->kv[i].val;
		if (strcmp(k, "_count") == 0) {
			if (parse_ll(v, 1, GROUP_COUNT_MAX, &q->count) == -1)
				return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    k, "_count must be an integer from 1 to %d",
				    GROUP_COUNT_MAX);
		} else if (strcmp(k, "_cursor") == 0) {
			if (!fhir_valid_id(v))
				return p2p_fail_at(err, 400, P2P_ISSUE_VALUE,
				    k, "_cursor is not one of a next link");
			snprintf(q->cursor, sizeof(q->cursor), "%s", v);
		} else if (strcmp(k, "_format") != 0 &&
		    cond_parse(q, k, v, err) == -1)
			return -1;
	}
	return 0;
}

int
group_param_valid(const char *name, const char *value, struct p2p_err *err)
{
	struct p2p_kvlist	 l;
	struct p2p_kv		 kv;
	struct query		*q;
	int			 rc;

	/* The query is large (~130 KiB): not on the stack. */
	if ((q = malloc(sizeof(*q))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	kv.key = (char *)name;
	kv.val = (char *)value;
	memset(&l, 0, sizeof(l));
	l.kv = &kv;
	l.n = 1;
	rc = query_parse(q, &l, err);
	free(q);
	return rc;
}

/* Binds a token's system and value (NULL: any) at idx, idx + 1. */
static void
bind_token(struct db_stmt *st, int idx, const struct token *t)
{
	db_bind_text(st, idx, t->value[0] ? t->value : NULL);
	db_bind_text(st, idx + 1, t->any_system ? NULL : t->system);
}

/* 1 when group gid (updated at created) meets c, 0 not, -1 with err. */
static int
cond_holds(struct p2p_db *db, const char *gid, const char *created,
    const struct cond *c, struct p2p_err *err)
{
	struct db_stmt	*st;
	size_t		 i;
	int		 rc;

	if (c->kind == C_UPDATED)
		return release_cond_holds(&c->date, created);
	for (i = 0; i < c->nalt; i++) {
		if (c->kind == C_ID) {
			if (strcmp(gid, c->a[i].value) == 0)
				return 1;
			continue;
		}
		if ((st = db_query(db, group_queries[c->kind == C_TOKEN ?
		    STMT_TOKEN : STMT_PAIR], err, "t", gid)) == NULL)
			return -1;
		if (c->kind == C_TOKEN) {
			db_bind_text(st, 2, c->name);
			bind_token(st, 3, &c->a[i]);
		} else {
			bind_token(st, 2, &c->a[i]);
			bind_token(st, 4, &c->b[i]);
		}
		if ((rc = db_exists(db, st, err, "group search")) != 0)
			return rc;
	}
	return 0;
}

/* The search URL: fhir_base/Group?params (cursor: as _cursor). */
static char *
search_url(const char *fhir_base, const struct p2p_kvlist *l,
    const char *cursor)
{
	struct p2p_buf	 b = { 0 };
	size_t		 i;
	int		 oom, sep = '?';

	oom = buf_printf(&b, "%s/Group", fhir_base);
	for (i = 0; i < l->n && !oom; i++) {
		if (cursor != NULL && strcmp(l->kv[i].key, "_cursor") == 0)
			continue;
		oom |= buf_printf(&b, "%c", sep) || url_encode(&b,
		    l->kv[i].key) || buf_puts(&b, "=") || url_encode(&b,
		    l->kv[i].val);
		sep = '&';
	}
	if (cursor != NULL && !oom)
		oom |= buf_printf(&b, "%c_cursor=", sep) ||
		    url_encode(&b, cursor);
	if (oom) {
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* Adds a link {relation, url}; the url (NULL: out of memory) is freed. */
static int
add_link(json_object *links, const char *rel, char *url)
{
	json_object	*l;
	int		 rc = -1;

	if (url != NULL && (l = json_object_new_object()) != NULL)
		rc = fhir_add_str(l, "relation", rel) == -1 ||
		    fhir_add_str(l, "url", url) == -1 ? (json_object_put(l), -1) :
		    fhir_push(links, l);
	free(url);
	return rc;
}

/* Adds the entry of group gid (its stored JSON) to entries. */
static int
add_entry(struct p2p_db *db, const char *fhir_base, const char *client,
    const char *gid, json_object *entries, struct p2p_err *err)
{
	json_object	*e, *res = NULL, *s;
	char		*json, url[512];
	int		 rc;

	if ((rc = group_read(db, gid, client, &json, err)) != 0)
		return rc == 1 ? p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "group %s vanished", gid) : -1;
	rc = fhir_parse(json, strlen(json), &res, err);
	free(json);
	if (rc == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "group %s is not readable", gid);
	snprintf(url, sizeof(url), "%s/Group/%s", fhir_base, gid);
	if ((e = json_object_new_object()) == NULL) {
		json_object_put(res);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	/* fhir_add() and fhir_push() take the value, added or not. */
	if (fhir_add(e, "resource", res) == -1 ||
	    fhir_add(e, "search", s = json_object_new_object()) == -1 ||
	    fhir_add_str(s, "mode", "match") == -1 ||
	    fhir_add_str(e, "fullUrl", url) == -1) {
		json_object_put(e);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	if (fhir_push(entries, e) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	return 0;
}

/*
 * Walks client's groups: total gets how many match, page[] the ids of
 * the first q->count of them after the cursor, *more whether another
 * follows.
 */
static int
walk(struct p2p_db *db, const char *client, const struct query *q,
    char (*page)[65], size_t *npage, long long *total, int *more,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	const char	*gid, *created;
	char		 id[65], at[32];
	size_t		 i;
	int		 rc, ok;

	*npage = 0;
	*total = 0;
	*more = 0;
	if ((st = db_query(db, group_queries[STMT_GROUPS], err, "tt", client,
	    "")) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		gid = db_col_text(st, 0);
		created = db_col_text(st, 1);
		if (gid == NULL || strlen(gid) >= sizeof(id))
			continue;
		/* The conditions' statements may not reuse st's text. */
		memcpy(id, gid, strlen(gid) + 1);
		snprintf(at, sizeof(at), "%s", created ? created : "");
		for (ok = 1, i = 0; ok == 1 && i < q->n; i++)
			ok = cond_holds(db, id, at, &q->c[i], err);
		if (ok == -1) {
			db_done(st);
			return -1;
		}
		if (!ok)
			continue;
		(*total)++;
		if (strcmp(id, q->cursor) <= 0)
			continue;
		if (*npage < (size_t)q->count)
			memcpy(page[(*npage)++], id, sizeof(id));
		else
			*more = 1;
	}
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "group search");
	return 0;
}

json_object *
group_search(struct p2p_db *db, const char *fhir_base, const char *client,
    const struct p2p_kvlist *params, struct p2p_err *err)
{
	struct query	*q;
	json_object	*b = NULL, *links, *entries = NULL;
	char		(*page)[65] = NULL;
	long long	 total;
	size_t		 n, i;
	int		 more;

	if ((q = malloc(sizeof(*q))) == NULL ||
	    (page = calloc(GROUP_COUNT_MAX, sizeof(*page))) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto fail;
	}
	if (query_parse(q, params, err) == -1 ||
	    walk(db, client, q, page, &n, &total, &more, err) == -1)
		goto fail;
	if ((b = fhir_resource_new("Bundle")) == NULL ||
	    fhir_add_str(b, "type", "searchset") == -1 ||
	    fhir_add_int(b, "total", total) == -1 ||
	    fhir_add(b, "link", links = json_object_new_array()) == -1 ||
	    add_link(links, "self", search_url(fhir_base, params, NULL)) ||
	    (more && add_link(links, "next", search_url(fhir_base, params,
	    page[n - 1]))))
		goto oom;
	if (n > 0) {
		/* FHIR JSON has no empty arrays: entry only when some. */
		if ((entries = json_object_new_array()) == NULL ||
		    fhir_add(b, "entry", entries) == -1)
			goto oom;
		for (i = 0; i < n; i++)
			if (add_entry(db, fhir_base, client, page[i], entries,
			    err) == -1)
				goto fail;
	}
	free(q);
	free(page);
	return b;
oom:
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
fail:
	json_object_put(b);
	free(q);
	free(page);
	return NULL;
}
