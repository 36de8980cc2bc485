/*
 * data-export - FastCGI executable: GET|POST /fhir/Group/{id}/$davinci-data-export.
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "data-export",
	.methods = P2P_GET | P2P_POST,
	.body = P2P_BODY_FHIR,
	.bulk_body = 0,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_EXPORT,
};

int
main(void)
{
	return p2p_main(&op, data_export_handle, NULL);
}
