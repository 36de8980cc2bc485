/*
 * datascope/classify.h - the CMS-0057-F payer-to-payer data scope, decided once per
 * resource when it is loaded (store.c calls scope_classify()), so that
 * an export is a filtered stream of stored rows.
 *
 * What is stored per resource (table resource):
 *   dos       date of service (YYYY-MM-DD) for the N-year window
 *   flags     SCOPE_* bits below
 *   changed   prior authorizations: when the decision last changed
 *   p2p_json  the form released to payers when it differs from the
 *             original (CARIN BB non-financial ExplanationOfBenefit)
 */
#ifndef P2P_SCOPE_H
#define P2P_SCOPE_H

#include <json-c/json.h>

#include "core/err.h"

enum {
	SCOPE_SENSITIVE = 1 << 0,	/* labelled sensitive (meta.security) */
	SCOPE_EXCLUDED = 1 << 1,	/* never released to a payer
					   (drug PA, denied PA, ...) */
	SCOPE_PA = 1 << 2,		/* a prior authorization */
	SCOPE_PA_CLOSED = 1 << 3,	/* PA neither active nor pending:
					   released only if changed within
					   pa_change_months */
	SCOPE_FINANCIAL = 1 << 4,	/* had financial elements (stripped
					   in p2p_json) */
};

struct scope_info {
	char		 dos[11];	/* YYYY-MM-DD, "" when none */
	unsigned	 flags;		/* SCOPE_* */
	char		 changed[32];	/* PA decision change instant, or "" */
	char		*p2p_json;	/* released form (malloc'd) or NULL */
};

/*
 * Classifies one resource.  Returns 0 and fills info (free with
 * scope_info_free()), or -1 with err set.
 */
int	 scope_classify(json_object *resource, struct scope_info *,
	    struct p2p_err *);

/*
 * Like scope_classify(), but may strip the financial elements from
 * resource itself instead of from a deep copy: for a caller that no
 * longer needs the original tree (the loader, which stores the JSON
 * text it read).  Copying a claim costs as much as parsing it again.
 * Afterwards resource is the released form; the strings of
 * resourceType, id and meta.lastUpdated stay valid.
 */
int	 scope_classify_consume(json_object *resource, struct scope_info *,
	    struct p2p_err *);
void	 scope_info_free(struct scope_info *);

struct jscan;
/*
 * scope_classify() on a scanned resource (jscan.h; root node 1) of type
 * type, for the loader's fast path; an ExplanationOfBenefit's released
 * form is written from the scanned text as json-c would write the
 * stripped tree.  Returns 0 with info filled exactly as
 * scope_classify() would, 1 when the resource needs the tree (a shape
 * the text writer does not copy), -1 when out of memory.
 */
int	 scope_classify_scan(struct jscan *, const char *type,
	    struct scope_info *);

#endif
