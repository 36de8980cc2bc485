/*
 * err.c - recording failures (see err.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/err.h"

static const char *const issue_codes[P2P_ISSUE__MAX] = {
	"invalid",		/* P2P_ISSUE_INVALID */
	"structure",		/* P2P_ISSUE_STRUCTURE */
	"required",		/* P2P_ISSUE_REQUIRED */
	"value",		/* P2P_ISSUE_VALUE */
	"security",		/* P2P_ISSUE_SECURITY */
	"login",		/* P2P_ISSUE_LOGIN */
	"expired",		/* P2P_ISSUE_EXPIRED */
	"forbidden",		/* P2P_ISSUE_FORBIDDEN */
	"processing",		/* P2P_ISSUE_PROCESSING */
	"not-supported",	/* P2P_ISSUE_NOT_SUPPORTED */
	"duplicate",		/* P2P_ISSUE_DUPLICATE */
	"multiple-matches",	/* P2P_ISSUE_MULTIPLE_MATCHES */
	"not-found",		/* P2P_ISSUE_NOT_FOUND */
	"deleted",		/* P2P_ISSUE_DELETED */
	"too-long",		/* P2P_ISSUE_TOO_LONG */
	"too-costly",		/* P2P_ISSUE_TOO_COSTLY */
	"business-rule",	/* P2P_ISSUE_BUSINESS_RULE */
	"conflict",		/* P2P_ISSUE_CONFLICT */
	"transient",		/* P2P_ISSUE_TRANSIENT */
	"exception",		/* P2P_ISSUE_EXCEPTION */
	"timeout",		/* P2P_ISSUE_TIMEOUT */
	"incomplete",		/* P2P_ISSUE_INCOMPLETE */
	"throttled",		/* P2P_ISSUE_THROTTLED */
	"informational",	/* P2P_ISSUE_INFORMATIONAL */
};

void
p2p_err_init(struct p2p_err *err)
{
	memset(err, 0, sizeof(*err));
}

const char *
p2p_issue_code(enum p2p_issue issue)
{
	if ((unsigned)issue >= P2P_ISSUE__MAX)
		return "exception";
	return issue_codes[issue];
}

int
p2p_vfail(struct p2p_err *err, int status, enum p2p_issue issue,
    const char *fmt, va_list ap)
{
	if (err == NULL || err->status != 0)
		return -1;
	err->status = status;
	err->issue = issue;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -1;
}

int
p2p_fail(struct p2p_err *err, int status, enum p2p_issue issue,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	p2p_vfail(err, status, issue, fmt, ap);
	va_end(ap);
	return -1;
}

int
p2p_fail_at(struct p2p_err *err, int status, enum p2p_issue issue,
    const char *expr, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || err->status != 0)
		return -1;
	va_start(ap, fmt);
	p2p_vfail(err, status, issue, fmt, ap);
	va_end(ap);
	snprintf(err->expr, sizeof(err->expr), "%s", expr);
	return -1;
}

int
p2p_fail_oauth(struct p2p_err *err, int status, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || err->status != 0)
		return -1;
	va_start(ap, fmt);
	p2p_vfail(err, status, P2P_ISSUE_SECURITY, fmt, ap);
	va_end(ap);
	snprintf(err->oauth, sizeof(err->oauth), "%s", code);
	return -1;
}
