/*
 * provenance.c - see provenance.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/access.h"
#include "datascope/provenance.h"
#include "json/fhir.h"

#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"
#define SYS_PARTICIPANT	"http://hl7.org/fhir/us/core/CodeSystem/" \
	"us-core-provenance-participant-type"

/*
 * {recorded, agent: transmitter = this payer, entity: source, R4};
 * pv->org is set to the id of this payer's Organization when it is
 * referred to.
 */
static json_object *
tail_new(struct provenance *pv, struct p2p_db *db,
    const struct p2p_config *cfg, time_t t, struct p2p_err *err)
{
	char		*org = pv->org;
	json_object	*p, *o, *a, *x;
	char		 when[32], ref[100];
	int		 n;

	time_instant(t, when);
	/* This payer's Organization, when it is loaded (and only one). */
	if (auth_org_by_npi(db, cfg->org_npi, org, sizeof(pv->org), &n,
	    err) == -1)
		return NULL;
	ref[0] = '\0';
	if (n == 1 && fhir_valid_id(org))
		snprintf(ref, sizeof(ref), "Organization/%s", org);
	else
		org[0] = '\0';
	if ((p = json_object_new_object()) == NULL ||
	    fhir_add_str(p, "recorded", when) == -1)
		goto oom;
	/* agent: transmitter = this payer */
	if ((a = json_object_new_array()) == NULL || fhir_add(p, "agent", a) ||
	    (o = json_object_new_object()) == NULL || fhir_push(a, o) ||
	    fhir_add(o, "type", fhir_concept_new(SYS_PARTICIPANT, "transmitter",
	    "Transmitter")) ||
	    (x = fhir_ident_ref_new(SYS_NPI, cfg->org_npi, cfg->org_name)) ==
	    NULL || fhir_add(o, "who", x) ||
	    (ref[0] != '\0' && fhir_add_str(x, "reference", ref) == -1))
		goto oom;
	/* entity: source, with ProvenanceSourceFrom */
	if ((a = json_object_new_array()) == NULL || fhir_add(p, "entity", a) ||
	    fhir_push(a, fhir_prov_source_new("No reference available")))
		goto oom;
	return p;
oom:
	json_object_put(p);
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return NULL;
}

int
provenance_init(struct provenance *pv, struct p2p_db *db,
    const struct p2p_config *cfg, time_t t, struct p2p_err *err)
{
	json_object	*p;
	const char	*s;
	int		 rc = -1;

	memset(pv, 0, sizeof(*pv));
	if ((p = tail_new(pv, db, cfg, t, err)) == NULL)
		return -1;
	/* "{...}" closes the target array and continues the object. */
	if ((s = fhir_json(p)) != NULL && s[0] == '{' &&
	    buf_puts(&pv->tail, "],") == 0 && buf_puts(&pv->tail, s + 1) == 0)
		rc = 0;
	else
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	json_object_put(p);
	return rc;
}

void
provenance_free(struct provenance *pv)
{
	buf_free(&pv->tail);
}

int
provenance_begin(struct p2p_buf *out, const char *id)
{
	return buf_printf(out, "{\"resourceType\":\"Provenance\",\"id\":\"%s\","
	    "\"target\":[", id);
}

int
provenance_target(struct p2p_buf *out, int first, const char *type,
    const char *id)
{
	return buf_printf(out, "%s{\"reference\":\"%s/%s\"}", first ? "" : ",",
	    type, id);
}

int
provenance_end(const struct provenance *pv, struct p2p_buf *out)
{
	return buf_add(out, pv->tail.p, pv->tail.len);
}

int
provenance_uuid(const char *seed, char out[37])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		 h[33];
	int		 i;

	if (seed == NULL) {
		if (rand_hex(h, 16) == -1)
			return -1;
	} else {
		if (EVP_Digest(seed, strlen(seed), md, &mdlen, EVP_sha256(),
		    NULL) != 1 || mdlen < 16)
			return -1;
		for (i = 0; i < 16; i++)
			snprintf(h + 2 * i, 3, "%02x", md[i]);
	}
	/* RFC 9562: version 4 (random) or 8 (derived), variant 10. */
	h[12] = seed == NULL ? '4' : '8';
	h[16] = "89ab"[(h[16] - '0') & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
	return 0;
}
