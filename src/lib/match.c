/*
 * match.c - see match.h.  Placeholder until issue #4 lands.
 */
#include "match.h"

int
match_find(struct p2p_db *db, const struct match_input *in,
    enum match_result *res, char *patient_id, size_t idsz,
    struct p2p_err *err)
{
	(void)db;
	(void)in;
	(void)patient_id;
	(void)idsz;
	*res = MATCH_NONE;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "member matching is not implemented yet");
}
