/*
 * peer/provenance.h - the Provenance we store with what a previous payer
 * sent (PDex pdex-provenance; consent-and-scope.md §3): the sending
 * payer as transmitter, this payer as custodian, recorded = when it was
 * received, target = the resources received (under our ids), the source
 * entity with ProvenanceSourceFrom = FHIR R4.  One per member and
 * received file (or Bundle), under an id derived from both, so that
 * receiving the same file again replaces it.  Pure.
 */
#ifndef P2P_PEER_PROVENANCE_H
#define P2P_PEER_PROVENANCE_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "peer/idmap.h"

#define PROV_PROFILE \
	"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/pdex-provenance"

struct prov_info {
	const char	*member;	/* our member (Patient id) */
	const char	*source;	/* what was received: file URL path,
					   or "Patient/x/$everything" */
	const char	*recorded;	/* instant received */
	const char	*peer_npi;	/* transmitter */
	const char	*peer_name;
	const char	*our_npi;	/* custodian */
	const char	*our_name;
	char		**targets;	/* "Type/id", our ids */
	size_t		 ntargets;	/* at least 1 */
};

/* The id of the Provenance for (sender, member, source).  Pure. */
void	 prov_id(const char *peer_npi, const char *member, const char *source,
	    char out[IDMAP_ID_MAX]);

/* A new Provenance (caller puts), or NULL with err set. */
json_object *prov_new(const struct prov_info *, struct p2p_err *);

#endif
