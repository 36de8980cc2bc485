/*
 * metadata - FastCGI executable: GET /fhir/metadata, GET /.well-known/smart-configuration, 404 for other /fhir paths.
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "metadata",
	.methods = P2P_GET | P2P_HEAD,
	.body = P2P_BODY_NONE,
	.bulk_body = 0,
	.auth = P2P_AUTH_NONE,
	.oauth_errors = 0,
};

int
main(void)
{
	return p2p_main(&op, metadata_handle, metadata_free);
}
