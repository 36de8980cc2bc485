/*
 * provenance.h - the PDex transmitter Provenance this payer adds to
 * what it sends (PDex pdex-provenance, the government guide's Example
 * 05): recorded when, this payer's Organization as transmitter (its
 * org_npi and org_name, and a reference to it when it is loaded), and
 * the source format, FHIR R4 (extension ProvenanceSourceFrom).  Its
 * targets are what it covers: the Bundle of a $everything page, or the
 * resources of one member in an export.
 *
 * Written as text, one Provenance at a time: provenance_begin(), a
 * provenance_target() per target, provenance_end().  The part after the
 * targets is the same for every Provenance of a request or job and is
 * built once (with json-c) by provenance_init().
 */
#ifndef P2P_PROVENANCE_H
#define P2P_PROVENANCE_H

#include <stddef.h>
#include <time.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "store/db.h"

struct provenance {
	struct p2p_buf	 tail;	/* "],"recorded":...,"entity":[...]}" */
	char		 org[72];	/* id of this payer's Organization
					   the transmitter refers to, or "" */
};

/*
 * Prepares the Provenances of one request or job, recorded at t.
 * 0, or -1 with err (free with provenance_free() either way).
 */
int	 provenance_init(struct provenance *, struct p2p_db *,
	    const struct p2p_config *, time_t t, struct p2p_err *);
void	 provenance_free(struct provenance *);

/*
 * Appends to out the start of a Provenance with id, a target with type
 * and id (both FHIR names and ids: nothing to escape; first != 0 for
 * the first target), and its end.  0, or -1 when out of memory.
 */
int	 provenance_begin(struct p2p_buf *out, const char *id);
int	 provenance_target(struct p2p_buf *out, int first, const char *type,
	    const char *id);
int	 provenance_end(const struct provenance *, struct p2p_buf *out);

/*
 * A UUID as text: random (seed NULL, version 4), or derived from seed
 * (SHA-256, version 8: the same seed, the same id, so that an export's
 * Provenance ids do not change when a job is run again).  0, or -1
 * without random bytes.
 */
int	 provenance_uuid(const char *seed, char out[37]);

#endif
