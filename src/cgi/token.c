/*
 * token - FastCGI executable: POST /auth/token (SMART Backend Services).
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "token",
	.methods = P2P_POST,
	.body = P2P_BODY_FORM,
	.bulk_body = 0,
	.auth = P2P_AUTH_NONE,
	.oauth_errors = 1,
};

int
main(void)
{
	return p2p_main(&op, token_handle, NULL);
}
