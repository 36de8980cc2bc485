/*
 * member-match - FastCGI executable: POST /fhir/Patient/$member-match.
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "member-match",
	.methods = P2P_POST,
	.body = P2P_BODY_FHIR,
	.bulk_body = 0,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_MATCH,
	.db_mmap = 1,		/* one process (lighttpd.conf) */
};

int
main(void)
{
	return p2p_main(&op, member_match_handle, NULL);
}
