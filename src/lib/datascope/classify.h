/*
 * datascope/classify.h - the CMS-0057-F payer-to-payer data scope,
 * decided once per resource when it is loaded (store.c calls
 * scope_classify()), so that an export is a filtered stream of stored
 * rows (release.h).
 *
 * What is stored per resource (table resource):
 *   dos       date of service (YYYY-MM-DD) for the N-year window
 *   flags     SCOPE_* bits below
 *   changed   prior authorizations: when the decision last changed
 *   p2p_json  the form released to payers when it differs from the
 *             original (CARIN BB non-financial ExplanationOfBenefit)
 *
 * The rules read the resource through the tape of json/jscan.h, whether
 * the loader scanned the line as read or json-c parsed it (then the
 * tape is of the text json-c writes): written once, they cannot
 * disagree between the two.
 */
#ifndef P2P_SCOPE_H
#define P2P_SCOPE_H

enum {
	SCOPE_SENSITIVE = 1 << 0,	/* labelled sensitive (meta.security) */
	SCOPE_EXCLUDED = 1 << 1,	/* never released to a payer
					   (denied PA) */
	SCOPE_PA = 1 << 2,		/* a prior authorization */
	SCOPE_PA_CLOSED = 1 << 3,	/* PA neither active nor pending:
					   released only if changed within
					   pa_change_months */
	SCOPE_FINANCIAL = 1 << 4,	/* had financial elements (stripped
					   in p2p_json) */
	SCOPE_DRUG = 1 << 5,		/* a PA for a drug: released only
					   with release_drug_pa = 1 */
};

struct scope_info {
	char		 dos[11];	/* YYYY-MM-DD, "" when none */
	unsigned	 flags;		/* SCOPE_* */
	char		 changed[32];	/* PA decision change instant, or "" */
	char		*p2p_json;	/* released form (malloc'd) or NULL */
};

struct jscan;

/*
 * Classifies the resource at the root of a tape (jscan.h, node 1), of
 * resource type type.  lu_source says whether its meta.lastUpdated is
 * the source's own (0 when the loader added it: the PA rules then never
 * read it).  Returns 0 with info filled (free with scope_info_free()),
 * 1 when an ExplanationOfBenefit's released form cannot be written from
 * this text (a duplicate key: classify the text json-c writes of it
 * instead, which has none), -1 when out of memory.
 */
int	 scope_classify(struct jscan *, const char *type, int lu_source,
	    struct scope_info *);
void	 scope_info_free(struct scope_info *);

#endif
