/*
 * release.h - what a payer may receive of one member's record: the
 * CMS-0057-F payer-to-payer release rules applied to the stored rows of
 * table resource.  Patient/$everything (sync and async) and
 * Group/$davinci-data-export both stream through here, so both give the
 * same data for the same member.
 *
 * The rules are SQL conditions on columns decided at load time (see
 * classify.h): no JSON is parsed per released resource.
 *   - data window: dos >= transaction time - data_years (rows without a
 *     date of service are kept);
 *   - SCOPE_EXCLUDED rows never (denied PAs);
 *   - SCOPE_DRUG rows (drug PAs) only with release_drug_pa = 1 (p2p.conf:
 *     applied here, so that switching it needs no reload);
 *   - SCOPE_PA_CLOSED rows only when changed within pa_change_months
 *     (compared by day);
 *   - SCOPE_SENSITIVE rows only under a #sensitive consent;
 *   - the released text is p2p_json when set (the CARIN BB
 *     non-financial EOB), else json.
 * Request narrowing (_type, _since, _until, start/end, _typeFilter) is
 * added on top; a _typeFilter status test is the one per-row check done
 * in C (a scan for the top-level "status" member, no parse).
 */
#ifndef P2P_RELEASE_H
#define P2P_RELEASE_H

#include <stddef.h>
#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "store/db.h"

#include <json-c/json.h>

#define RELEASE_TYPES_MAX	1024	/* bytes of the ",A,B," type list */
#define RELEASE_TF_MAX		32	/* _typeFilter queries */
#define RELEASE_COND_MAX	8	/* search parameters per query */

/* One search parameter of a _typeFilter query. */
enum release_cond_kind {
	RC_DOS,			/* a date search parameter: stored dos */
	RC_UPDATED,		/* _lastUpdated: stored last_updated */
	RC_STATUS,		/* status: the top-level status code */
};

enum release_cmp { RC_EQ, RC_NE, RC_GE, RC_GT, RC_LE, RC_LT };

struct release_cond {
	enum release_cond_kind	 kind;
	enum release_cmp	 cmp;		/* date comparator */
	char			 first[32];	/* first moment of the value */
	char			 last[32];	/* last moment ("~" ends a day) */
	char			 codes[256];	/* status: ",a,b," */
};

/*
 * Parses a date search value with its prefix (eq ne ge gt le lt; none
 * is eq) into c->cmp, c->first, c->last: a date covers its whole
 * period; with instant, a value longer than a date is that instant.
 * 0, or -1 with a 400 naming what (not-supported for another prefix).
 */
int	 release_cond_parse(const char *value, int instant,
	    struct release_cond *c, const char *what, struct p2p_err *);

/* 1 when the stored date or instant v (none: no) satisfies c. */
int	 release_cond_holds(const struct release_cond *c, const char *v);

struct release_tf {
	char			 type[64];	/* resource type */
	struct release_cond	 cond[RELEASE_COND_MAX]; /* all must hold */
	size_t			 ncond;
};

/* The rules and narrowing for one request or job. */
struct release_rules {
	char		 dos_min[16];	/* window floor YYYY-MM-DD */
	char		 pa_min[16];	/* closed PAs: changed >= this day */
	int		 sensitive;	/* consent policy #sensitive */
	int		 drug_pa;	/* release drug PAs (release_drug_pa) */
	char		 types[RELEASE_TYPES_MAX]; /* ",A,B," or "" = all */
	char		 since[32];	/* last_updated > since, or "" */
	char		 until[32];	/* last_updated <= until, or "" */
	char		 start[16];	/* dos >= start, or "" */
	char		 end[16];	/* dos <= end, or "" */
	struct release_tf tf[RELEASE_TF_MAX]; /* _typeFilter; any matches */
	size_t		 ntf;
};

/* One released row; the pointers live until the next step. */
struct release_row {
	long long	 rid;		/* keyset position */
	const char	*type;		/* resourceType */
	const char	*id;		/* its id */
	const char	*json;		/* the released text */
	size_t		 len;		/* its length */
};

/*
 * Sets the rules for transaction time now, the configuration (data_years,
 * pa_change_months, release_drug_pa) and the consent policy (sensitive
 * != 0 for #sensitive), with no narrowing.
 */
void	 release_init(struct release_rules *, const struct p2p_config *,
	    time_t now, int sensitive);

/*
 * Adds a comma list of resource types to the _type narrowing.  Returns
 * 0, or -1 with a 400 naming an unknown or malformed type.
 */
int	 release_add_types(struct release_rules *, const char *list,
	    struct p2p_err *);
/* True when type is allowed by the _type narrowing. */
int	 release_type_ok(const struct release_rules *, const char *type);

/*
 * Parses a FHIR date/dateTime/instant into the first (end == 0) or last
 * (end != 0) day it covers, YYYY-MM-DD (last days of months are written
 * as day 31: the comparisons are textual).  0 or -1 (400 in err, naming
 * what).
 */
int	 release_date(const char *value, int end, char out[16],
	    const char *what, struct p2p_err *);
/* Parses an instant for _since/_until into RFC 3339 UTC.  0 or -1. */
int	 release_instant(const char *value, char out[32], const char *what,
	    struct p2p_err *);

/*
 * Adds a comma list of _typeFilter queries ("Type?param=value&...",
 * values percent-encoded).  Every parameter must be supported for the
 * type (date parameters against dos, _lastUpdated, status): anything
 * else is a 400, never ignored.
 */
int	 release_add_typefilter(struct release_rules *, const char *list,
	    struct p2p_err *);

/*
 * Applies one request parameter to the narrowing: _type, _since,
 * _until, start, end, _typeFilter.  Returns 0, 1 when key is none of
 * these (the caller decides), or -1 with a 400.
 */
int	 release_apply(struct release_rules *, const char *key,
	    const char *value, struct p2p_err *);

/*
 * A parameter validator (struct p2p_param, web/op.h) for the narrowing
 * parameters release_apply() knows: checks value as it would be
 * applied.  0, or -1 with a 400 naming name.
 */
int	 release_param_valid(const char *name, const char *value,
	    struct p2p_err *);

/* The list as a JSON array of [key, value] pairs (caller owns). */
json_object *release_kv_json(const struct p2p_kvlist *);
/* Back from release_kv_json() form into out (kv_free()).  0 or -1. */
int	 release_kv_parse(json_object *, struct p2p_kvlist *out,
	    struct p2p_err *);

/*
 * Opens the released rows of patient after keyset position
 * (after_type, after_rid) ("" and 0 for the start), in (type, rid)
 * order, at most limit rows (<= 0: no limit).  Step with
 * release_next(); db_done() the statement after use.  NULL with err.
 */
struct db_stmt *release_open(struct p2p_db *, const struct release_rules *,
	    const char *patient, const char *after_type, long long after_rid,
	    long long limit, struct p2p_err *);
/*
 * The next released row: 1 with row filled, 0 at the end, -1 with err.
 * Rows failing a _typeFilter are skipped.
 */
int	 release_next(struct p2p_db *, const struct release_rules *,
	    struct db_stmt *, struct release_row *, struct p2p_err *);

/*
 * Provenance loaded from source systems (not in any member's record)
 * whose every target is among targets (a JSON array of "Type/id", the
 * rows released of one member), released by the same flags and
 * _since/_until: step with release_next(), db_done() after use.  NULL
 * with err.  release_provenance_any() sets *any when some Provenance is
 * loaded at all (else there is nothing to look for).  0 or -1.
 */
struct db_stmt *release_provenance_open(struct p2p_db *,
	    const struct release_rules *, const char *targets,
	    struct p2p_err *);
int	 release_provenance_any(struct p2p_db *, int *any, struct p2p_err *);

/* Counts the released rows of patient (all pages).  0 or -1. */
int	 release_count(struct p2p_db *, const struct release_rules *,
	    const char *patient, long long *n, struct p2p_err *);

/*
 * Finds the value of the top-level string member key of a JSON object
 * text without parsing it (skips nested objects, arrays and strings).
 * Returns 1 and copies it (truncated to outsz), else 0.
 */
int	 release_top_str(const char *json, size_t len, const char *key,
	    char *out, size_t outsz);

/*
 * Calls fn for every reference in a JSON text to a resource outside any
 * member's record that a record names (RELEASE_REF_TYPES:
 * "reference":"Organization/x", "Practitioner/x", ...; a light scan, no
 * parse; "\/" is read as "/").  Stops and returns -1 when fn does.
 */
#define RELEASE_REF_TYPES	"Organization, Practitioner, PractitionerRole, " \
	"Location, Medication"
int	 release_refs(const char *json, size_t len,
	    int (*fn)(void *, const char *type, const char *id), void *arg);

/*
 * The released text of a resource release_refs() found (type, id): when
 * it is stored outside any member's record, not excluded, and not
 * sensitive unless rules allow.  Returns 1 with its text in out (reset
 * first), 0 when it is not released, -1 with err.
 */
int	 release_ref(struct p2p_db *, const struct release_rules *,
	    const char *type, const char *id, struct p2p_buf *out,
	    struct p2p_err *);

#endif
