/*
 * peer/idmap.h - received resources under our ids.  Ids collide between
 * payers (their Observation/123 is not ours), so a received resource is
 * stored under a deterministic id: "r" and the first 32 hex digits of
 * SHA-256(sender NPI "\n" type "\n" their id).  The same resource sent
 * again lands on the same row (re-runs are idempotent), and two payers
 * never collide.  Every reference is rewritten the same way, except:
 *   - a reference to the Patient the peer matched for one of our members
 *     becomes a reference to our member's Patient (never a second
 *     Patient for the same person);
 *   - a resource we hold already (an Organization with an NPI we know,
 *     peer_alias) is referenced as ours;
 *   - contained ("#x"), urn: and other servers' absolute references stay.
 * Pure apart from the two lookups the caller supplies.
 */
#ifndef P2P_PEER_IDMAP_H
#define P2P_PEER_IDMAP_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"

#define IDMAP_ID_MAX	40	/* "r" + 32 hex + NUL, with room */

struct idmap {
	const char	*npi;		/* the sending payer's NPI */
	const char	*base;		/* its FHIR base (absolute refs) */
	/* Our member for their Patient id: 1 found (local filled), 0 not. */
	int		(*member)(void *arg, const char *remote, char *local,
			    size_t localsz);
	/* Ours already: 1 (local filled), 0 no, -1 error. */
	int		(*alias)(void *arg, const char *type,
			    const char *remote, char *local, size_t localsz);
	void		*arg;
	char		 stranger[80];	/* first Patient reference that is
					   none of our members, or "" */
};

/* The id we store their type/id under.  Pure. */
void	 idmap_id(const char *npi, const char *type, const char *id,
	    char out[IDMAP_ID_MAX]);

/*
 * The reference we store for ref: 1 with out filled when it changes, 0
 * when it stays as it is, -1 when a lookup failed.
 */
int	 idmap_ref(struct idmap *, const char *ref, char *out, size_t outsz);

/*
 * Rewrites res in place: its id (to idmap_id()) and every "reference"
 * in it, contained resources included.  0, or -1 with err set.
 */
int	 idmap_rewrite(struct idmap *, json_object *res, struct p2p_err *);

#endif
