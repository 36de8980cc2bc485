/*
 * audit.h - the audit trail (table audit, append-only: triggers refuse
 * UPDATE and DELETE).  Never record secrets or tokens.
 */
#ifndef P2P_AUDIT_H
#define P2P_AUDIT_H

#include <stdio.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

/*
 * Events (audit.event).  Refusals are recorded by the request loop
 * (web/serve.c) under the event its operation declares, except those
 * of the identity gate (no or bad credentials, missing scope): AUDIT_AUTH
 * on every operation.
 */
#define AUDIT_AUTH	"auth"		/* authentication, scope */
#define AUDIT_TOKEN	"token"		/* /auth/token */
#define AUDIT_MATCH	"match"		/* $member-match, $bulk-member-match */
#define AUDIT_CONSENT	"consent"	/* capture, revocation, opt-out */
#define AUDIT_RELEASE	"release"	/* member data: $everything, exports */

/*
 * Appends one record.  event: "token", "match", "consent", "release",
 * ...; outcome: "success" or "failure"; client, patient and detail may
 * be NULL; cid 0 for none.  Failures are logged and returned (-1), so
 * that a caller inside a transaction can roll back.
 */
int	 audit_log(struct p2p_db *, const char *event, const char *outcome,
	    const char *client, const char *patient, long long cid,
	    const char *detail, struct p2p_err *);

/*
 * Appends the record of a refused request: outcome "failure", detail
 * "<status> <op>: <message>" (the status first, so that the export
 * tells a refusal from a server failure).  client, patient may be NULL,
 * cid 0.  0, or -1 with err (logged).
 */
int	 audit_refusal(struct p2p_db *, const char *event, const char *op,
	    const char *client, const char *patient, long long cid,
	    const struct p2p_err *why, struct p2p_err *err);

/* The p2p-specific AuditEvent.subtype system (codes: the event names). */
#define AUDIT_SUBTYPE_SYSTEM	"urn:p2p:CodeSystem:audit-event"

/* One audit record with what the export joins to it. */
struct audit_row {
	long long	 aid;		/* audit.aid */
	const char	*time;		/* UTC instant */
	const char	*event;		/* token, match, consent, release, ... */
	const char	*outcome;	/* success | failure */
	const char	*client_id;	/* the requesting client, or NULL */
	const char	*client_npi;	/* its NPI, or NULL */
	const char	*patient;	/* member (Patient id), or NULL */
	const char	*consent_id;	/* Consent.id, or NULL */
	const char	*detail;	/* free text, never secrets */
};

/*
 * Maps one record to a FHIR R4 AuditEvent (type audit-event-type#rest,
 * subtype AUDIT_SUBTYPE_SYSTEM#event, action, recorded, outcome 0/4/8,
 * agents: the client as requestor and this server, source, entities:
 * the member, the consent, what was released).  Caller puts it; NULL
 * when out of memory.
 */
json_object *audit_event_json(const struct audit_row *,
	    const struct p2p_config *);

/*
 * Writes the records about patient (NULL: all) recorded in
 * [since, until] (UTC instants, NULL: open) to out as ndjson
 * AuditEvents, oldest first; sets *count.  0 or -1.
 */
int	 audit_export(struct p2p_db *, const struct p2p_config *,
	    const char *patient, const char *since, const char *until,
	    FILE *out, long *count, struct p2p_err *);

#endif
