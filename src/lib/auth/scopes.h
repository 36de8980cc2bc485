/*
 * scopes.h - OAuth scopes: SMART v1 ("system/Patient.read") and v2
 * ("system/Patient.rs") resource scopes, the government guide's
 * user-level wildcard scope (user, any type, any access), and the
 * PDex operation URIs (matched literally).
 *
 * A scope list is a space-separated string.  "covers" means: every
 * permission the needed scope names is granted by the other one
 * (same context, same or wildcard type).  v1 .read = v2 .rs, .write =
 * .cud, .* = .cruds.  Scopes with "?param" restrictions only match
 * literally.
 */
#ifndef P2P_SCOPES_H
#define P2P_SCOPES_H

#include <stddef.h>

/*
 * What each operation needs (struct p2p_op.scope): space-separated
 * alternatives, one of which a token must cover.
 */
#define P2P_SCOPE_MATCH \
	"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" system/*.rs user/*.rs"
#define P2P_SCOPE_BULK_MATCH \
	"http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match" \
	" system/*.rs user/*.rs"
#define P2P_SCOPE_EVERYTHING	"system/Patient.rs user/*.rs"
#define P2P_SCOPE_EXPORT \
	"system/Group.rs user/*.rs system.Group.u?code=" \
	"http://hl7.org/fhir/us/davinci-pdex/ValueSet/PDexMultiMemberMatchResultVS|match"
/* A client's own consents: whoever may submit them. */
#define P2P_SCOPE_CONSENT \
	"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match" \
	" system/Consent.rs system/Consent.u user/*.rs"

#define SCOPES_MAX	32	/* scopes in one list */
#define SCOPE_LEN_MAX	256	/* bytes in one scope */

/* Permission bits in v2 order. */
enum { SCOPE_C = 1, SCOPE_R = 2, SCOPE_U = 4, SCOPE_D = 8, SCOPE_S = 16 };

struct scope_item {
	char	 text[SCOPE_LEN_MAX];	/* as written */
	int	 smart;			/* 1: context/type.perms */
	char	 context[8];		/* "system", "user", "patient" */
	char	 type[64];		/* resource type or "*" */
	int	 perms;			/* SCOPE_* bits */
	int	 query;			/* had "?..." (literal matching) */
};

/*
 * Parses one scope.  Returns 0, or -1 when it is neither a valid SMART
 * scope nor an absolute URI (operation scopes).
 */
int	 scope_parse(const char *, struct scope_item *);

/* 1 when granted covers needed (both parsed), else 0. */
int	 scope_covers(const struct scope_item *granted,
	    const struct scope_item *needed);

/* 1 when any scope of the list covers one of need's alternatives. */
int	 scopes_permit(const char *list, const char *need);

/*
 * The token request's scope check: each requested scope is kept (as
 * written) when some allowed scope covers it; a requested scope that
 * does not parse, or names a resource type FHIR R4 does not define, or
 * too many, or none kept, is an error.  out gets the
 * kept scopes, space separated.  Returns 0, or -1 with why filled.
 */
int	 scopes_grant(const char *requested, const char *allowed,
	    char *out, size_t outsz, char *why, size_t whysz);

#endif
