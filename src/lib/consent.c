/*
 * consent.c - see consent.h.  Placeholder until issue #4 lands.
 */
#include "consent.h"

int
consent_validate(const struct p2p_config *cfg, json_object *consent,
    const struct p2p_principal *who, time_t now, struct consent_terms *t,
    struct p2p_err *err)
{
	(void)cfg; (void)consent; (void)who; (void)now; (void)t;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "consent validation is not implemented yet");
}

int
consent_optout(struct p2p_db *db, const char *patient, int *optout,
    struct p2p_err *err)
{
	(void)db; (void)patient;
	*optout = 1;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "consent checks are not implemented yet");
}

int
consent_store(struct p2p_db *db, json_object *consent,
    const struct consent_terms *t, const char *patient, const char *client,
    long long *cid, struct p2p_err *err)
{
	(void)db; (void)consent; (void)t; (void)patient; (void)client;
	*cid = 0;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "consent storage is not implemented yet");
}

int
consent_record_match(struct p2p_db *db, const char *client,
    const char *patient, long long cid, const char *group_id,
    int consentless, struct p2p_err *err)
{
	(void)db; (void)client; (void)patient; (void)cid; (void)group_id;
	(void)consentless;
	return p2p_fail(err, 501, P2P_ISSUE_NOT_SUPPORTED,
	    "match records are not implemented yet");
}

int
consent_access(struct p2p_db *db, const char *client, const char *patient,
    time_t now, long long *cid, int *sensitive, struct p2p_err *err)
{
	(void)db; (void)client; (void)patient; (void)now;
	*cid = 0;
	*sensitive = 0;
	return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no such member");
}
