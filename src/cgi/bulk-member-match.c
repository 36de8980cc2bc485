/*
 * bulk-member-match - FastCGI executable: POST /fhir/Group/$bulk-member-match (asynchronous).
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "bulk-member-match",
	.methods = P2P_POST,
	.body = P2P_BODY_FHIR,
	.bulk_body = 1,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_BULK_MATCH,
};

int
main(void)
{
	return p2p_main(&op, bulk_match_handle, NULL);
}
