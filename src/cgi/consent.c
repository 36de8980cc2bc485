/*
 * consent - FastCGI executable: GET /fhir/Consent?patient=,
 * GET|PUT /fhir/Consent/{id} (a receiving payer's own consents; PUT
 * with status inactive or rejected revokes).
 */
#include "web/http.h"
#include "web/ops.h"

static const struct p2p_op op = {
	.name = "consent",
	.methods = P2P_GET | P2P_PUT,
	.body = P2P_BODY_FHIR,
	.bulk_body = 0,
	.auth = P2P_AUTH_BEARER,
	.oauth_errors = 0,
	.scope = P2P_SCOPE_CONSENT,
};

int
main(void)
{
	return p2p_main(&op, consent_handle, NULL);
}
