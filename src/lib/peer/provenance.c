/*
 * peer/provenance.c - see provenance.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/util.h"
#include "json/fhir.h"
#include "peer/provenance.h"

#define SYS_NPI		"http://hl7.org/fhir/sid/us-npi"
#define SYS_USCORE_PT	"http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type"
#define SYS_PT		"http://terminology.hl7.org/CodeSystem/provenance-participant-type"

void
prov_id(const char *peer_npi, const char *member, const char *source,
    char out[IDMAP_ID_MAX])
{
	unsigned char	 h[SHA256_DIGEST_LENGTH];
	struct p2p_buf	 b = { 0 };
	size_t		 i;

	/* Out of memory leaves the hash of an empty key: still an id. */
	(void)buf_printf(&b, "received\n%s\n%s\n%s", peer_npi, member, source);
	SHA256((const unsigned char *)(b.p ? b.p : ""), b.len, h);
	buf_free(&b);
	out[0] = 'p';
	for (i = 0; i < 16; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", h[i]);
}

/* One agent: type, and who as an NPI identifier with a display. */
static json_object *
agent(const char *sys, const char *code, const char *display,
    const char *npi, const char *name)
{
	json_object	*a;

	if ((a = json_object_new_object()) == NULL)
		return NULL;
	if (fhir_add(a, "type", fhir_concept_new(sys, code, display)) == -1 ||
	    fhir_add(a, "who", fhir_ident_ref_new(SYS_NPI, npi,
	    name != NULL && name[0] != '\0' ? name : NULL)) == -1) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

json_object *
prov_new(const struct prov_info *p, struct p2p_err *err)
{
	json_object	*r, *meta, *prof, *tg, *agents, *ents;
	char		 id[IDMAP_ID_MAX], text[600];
	size_t		 i;

	if (p->ntargets == 0) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "a Provenance needs "
		    "a target");
		return NULL;
	}
	prov_id(p->peer_npi, p->member, p->source, id);
	snprintf(text, sizeof(text), "received from %s (NPI %s): %.400s",
	    p->peer_name, p->peer_npi, p->source);
	/* Each object is adopted as soon as it is made (fhir_add takes it
	 * even on failure), so one put frees everything. */
	if ((r = fhir_resource_new("Provenance")) == NULL)
		goto oom;
	if (fhir_add_str(r, "id", id) == -1 ||
	    fhir_add(r, "meta", meta = json_object_new_object()) == -1 ||
	    fhir_add(meta, "profile", prof = json_object_new_array()) == -1 ||
	    fhir_push(prof, json_object_new_string(PROV_PROFILE)) == -1 ||
	    fhir_add_str(meta, "lastUpdated", p->recorded) == -1 ||
	    fhir_add(r, "target", tg = json_object_new_array()) == -1)
		goto oom;
	for (i = 0; i < p->ntargets; i++)
		if (fhir_push(tg, fhir_ref_new("%s", p->targets[i])) == -1)
			goto oom;
	/* PDex: recorded SHOULD be when this payer received the data. */
	if (fhir_add_str(r, "recorded", p->recorded) == -1 ||
	    fhir_add(r, "agent", agents = json_object_new_array()) == -1 ||
	    fhir_push(agents, agent(SYS_USCORE_PT, "transmitter",
	    "Transmitter", p->peer_npi, p->peer_name)) == -1 ||
	    fhir_push(agents, agent(SYS_PT, "custodian", "Custodian",
	    p->our_npi, p->our_name)) == -1)
		goto oom;
	if (fhir_add(r, "entity", ents = json_object_new_array()) == -1 ||
	    fhir_push(ents, fhir_prov_source_new(text)) == -1)
		goto oom;
	return r;
oom:
	json_object_put(r);
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	return NULL;
}
