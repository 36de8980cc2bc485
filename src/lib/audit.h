/*
 * audit.h - the audit trail (table audit, append-only: triggers refuse
 * UPDATE and DELETE).  Never record secrets or tokens.
 */
#ifndef P2P_AUDIT_H
#define P2P_AUDIT_H

#include "db.h"
#include "err.h"

/*
 * Appends one record.  event: "token", "match", "consent", "release",
 * ...; outcome: "success" or "failure"; client, patient and detail may
 * be NULL; cid 0 for none.  Failures are logged and returned (-1), so
 * that a caller inside a transaction can roll back.
 */
int	 audit_log(struct p2p_db *, const char *event, const char *outcome,
	    const char *client, const char *patient, long long cid,
	    const char *detail, struct p2p_err *);

#endif
