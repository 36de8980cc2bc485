/*
 * err.h - one error type for the whole library.
 *
 * Functions return 0 on success and -1 on failure after filling a
 * struct p2p_err.  The first failure recorded wins: later calls to
 * p2p_fail() on the same error leave it alone, so a low-level reason is
 * not overwritten by a vaguer one further up the stack.
 */
#ifndef P2P_ERR_H
#define P2P_ERR_H

#include <stdarg.h>

/* FHIR R4 IssueType codes (http://hl7.org/fhir/issue-type). */
enum p2p_issue {
	P2P_ISSUE_INVALID,		/* invalid */
	P2P_ISSUE_STRUCTURE,		/* structure */
	P2P_ISSUE_REQUIRED,		/* required */
	P2P_ISSUE_VALUE,		/* value */
	P2P_ISSUE_SECURITY,		/* security */
	P2P_ISSUE_LOGIN,		/* login */
	P2P_ISSUE_EXPIRED,		/* expired */
	P2P_ISSUE_FORBIDDEN,		/* forbidden */
	P2P_ISSUE_PROCESSING,		/* processing */
	P2P_ISSUE_NOT_SUPPORTED,	/* not-supported */
	P2P_ISSUE_DUPLICATE,		/* duplicate */
	P2P_ISSUE_MULTIPLE_MATCHES,	/* multiple-matches */
	P2P_ISSUE_NOT_FOUND,		/* not-found */
	P2P_ISSUE_DELETED,		/* deleted */
	P2P_ISSUE_TOO_LONG,		/* too-long */
	P2P_ISSUE_TOO_COSTLY,		/* too-costly */
	P2P_ISSUE_BUSINESS_RULE,	/* business-rule */
	P2P_ISSUE_CONFLICT,		/* conflict */
	P2P_ISSUE_TRANSIENT,		/* transient */
	P2P_ISSUE_EXCEPTION,		/* exception */
	P2P_ISSUE_TIMEOUT,		/* timeout */
	P2P_ISSUE_INCOMPLETE,		/* incomplete */
	P2P_ISSUE_THROTTLED,		/* throttled */
	P2P_ISSUE_INFORMATIONAL,	/* informational */
	P2P_ISSUE__MAX
};

struct p2p_err {
	int		 status;	/* HTTP status to send; 0 = no error yet */
	enum p2p_issue	 issue;		/* OperationOutcome issue.code */
	char		 msg[256];	/* diagnostics, safe to show the caller */
	char		 oauth[32];	/* OAuth error code (token endpoint only) */
	char		 expr[96];	/* FHIRPath of the offending element, or "" */
	int		 retry_after;	/* seconds for Retry-After, 0 = none */
};

/* Clears an error before reuse. */
void		 p2p_err_init(struct p2p_err *);

/*
 * Records a failure unless one is already recorded.  Always returns -1
 * so that callers can write "return p2p_fail(...)".
 */
int		 p2p_fail(struct p2p_err *, int status, enum p2p_issue,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
int		 p2p_vfail(struct p2p_err *, int, enum p2p_issue,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

/* Like p2p_fail(), also naming the element (FHIRPath) at fault. */
int		 p2p_fail_at(struct p2p_err *, int status, enum p2p_issue,
		    const char *expr, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));

/*
 * An OAuth 2.0 error (RFC 6749 section 5.2) for the token endpoint:
 * code is "invalid_request", "invalid_client", ...
 */
int		 p2p_fail_oauth(struct p2p_err *, int status, const char *code,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));

/* The IssueType code string for an issue, e.g. "not-found". */
const char	*p2p_issue_code(enum p2p_issue);

#endif
