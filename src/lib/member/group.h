/*
 * group.h - the Groups $bulk-member-match made (MatchedMembers,
 * NonMatchedMembers, ConsentConstrainedMembers), read and searched by
 * the client they were made for (PDex payer-to-payer bulk: "search
 * results and GET /Group/{id} SHALL be limited to groups created for
 * the calling payer").  Another client's Group does not exist for the
 * caller.  The resource is the one the job wrote (grp.json).
 *
 * Search parameters (FHIR R4 Group, PDex):
 *   _id                 token: the id
 *   identifier          token: Group.identifier
 *   code                token: Group.code (PdexMultiMemberMatchResultCS)
 *   characteristic      token: Group.characteristic.code
 *   characteristic-value composite characteristic$value: one
 *                       characteristic whose code matches the first
 *                       token and whose value matches the second; the
 *                       value is valueCodeableConcept, valueBoolean, or
 *                       (beyond R4's "value", for PDex's requesting
 *                       payer) valueReference.identifier
 *   _lastUpdated        date with eq ne ge gt le lt: meta.lastUpdated
 *   _count              page size 1..GROUP_COUNT_MAX
 *   _cursor             where a next link goes on (the last id sent)
 * A token is "code", "system|code", "|code" (no system) or "system|";
 * a comma separates alternatives (any), a repeated parameter adds a
 * condition (all); "\," "\|" "\$" "\\" escape.
 */
#ifndef P2P_GROUP_H
#define P2P_GROUP_H

#include <json-c/json.h>

#include "core/err.h"
#include "core/util.h"
#include "store/db.h"

/* Every statement of group.c, NULL-terminated (query plan tests). */
extern const char *const group_queries[];

#define GROUP_COUNT_DEFAULT	20	/* groups per page */
#define GROUP_COUNT_MAX		100

/*
 * Client's Group id: its JSON into *json (malloc'd, caller frees).
 * 0; 1 when client has no such Group; -1 with err.
 */
int	 group_read(struct p2p_db *, const char *id, const char *client,
	    char **json, struct p2p_err *);

/*
 * Validator of one search parameter value, _count and _cursor too
 * (struct p2p_param, web/op.h): 0, or -1 with a 400 (value;
 * not-supported for a prefix not offered).
 */
int	 group_param_valid(const char *name, const char *value,
	    struct p2p_err *);

/*
 * The searchset Bundle of client's Groups matching params (the
 * parameters above, validated), one page, with self and next links
 * under fhir_base.  Caller puts; NULL with err.
 */
json_object *group_search(struct p2p_db *, const char *fhir_base,
	    const char *client, const struct p2p_kvlist *params,
	    struct p2p_err *);

#endif
