/*
 * export-status - FastCGI executable: GET|DELETE /fhir/bulkstatus/{job} (bulk job status, manifest, cancel).
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "export-status",
	.methods = P2P_GET | P2P_DELETE,
	.body = P2P_BODY_NONE,
	.bulk_body = 0,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_EXPORT,
};

int
main(void)
{
	return p2p_main(&op, export_status_handle, NULL);
}
