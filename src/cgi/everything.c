/*
 * everything - FastCGI executable: GET|POST /fhir/Patient/{id}/$everything.
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "everything",
	.methods = P2P_GET | P2P_POST,
	.body = P2P_BODY_FHIR,
	.bulk_body = 0,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_EVERYTHING,
};

int
main(void)
{
	return p2p_main(&op, everything_handle, NULL);
}
