/*
 * peer/httpc.h - the HTTP client the receiving side talks to other
 * payers with (libcurl): one request at a time with a bounded body in
 * memory, the headers the FHIR async pattern uses, and what a refusal
 * says.  Downloads to files are peer/download.h, on the same setup.
 *
 * Only https:// URLs, or http:// on a loopback host when jwks_allow_http
 * = 1 (tests).  Redirects are never followed (a bearer token must not
 * travel to another host), certificates are verified.
 */
#ifndef P2P_PEER_HTTPC_H
#define P2P_PEER_HTTPC_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"

#define HTTPC_BODY_MAX		(16L * 1024 * 1024)	/* default bound */
#define HTTPC_RETRY_MAX		86400		/* longest Retry-After kept */

struct httpc_req {
	const char	*method;	/* "GET", "POST", "DELETE" */
	const char	*url;
	const char	*bearer;	/* access token, or NULL */
	const char	*ctype;		/* Content-Type of body, or NULL */
	const char	*accept;	/* Accept, or NULL */
	const char	*prefer;	/* Prefer, or NULL */
	const char	*body;		/* request body, or NULL */
	size_t		 body_len;
	long		 timeout;	/* seconds for the whole exchange */
	size_t		 max;		/* response bytes kept (0: default) */
};

struct httpc_resp {
	long		 status;	/* HTTP status, 0 before a response */
	struct p2p_buf	 body;		/* response body (bounded) */
	char		 ctype[128];	/* Content-Type */
	char		 location[1024]; /* Content-Location */
	char		 progress[128];	/* X-Progress */
	char		 date[64];	/* Date */
	long long	 retry_after;	/* seconds, -1 when none */
	long long	 length;	/* Content-Length, -1 when none */
	int		 too_big;	/* body cut at the bound */
};

/* Once per process, before any request (curl_global_init). */
int	 httpc_init(void);

/* 1 when url may be requested under cfg (see above), else 0. */
int	 httpc_url_ok(const struct p2p_config *, const char *url);

/* 1 when a and b have the same scheme, host and port. */
int	 httpc_same_origin(const char *a, const char *b);

/*
 * Sends req.  Returns 0 when a response arrived, whatever its status
 * (resp filled; free with httpc_resp_free()), or -1 when none did:
 * err is 503 transient (no connection, broken exchange, URL refused),
 * 504 timeout, or 502 (response larger than the bound).
 */
int	 httpc_do(const struct p2p_config *, const struct httpc_req *,
	    struct httpc_resp *, struct p2p_err *);
void	 httpc_resp_init(struct httpc_resp *);
void	 httpc_resp_free(struct httpc_resp *);

/*
 * The common settings of every transfer (URL, protocols, timeouts, no
 * redirects, TLS verification, user agent) on an easy handle.  connect
 * and total are seconds (total 0: none).  0 or -1.
 */
int	 httpc_setup(CURL *, const struct p2p_config *, const char *url,
	    long connect, long total);

/* Records one response header line in resp (the header callback). */
void	 httpc_header(struct httpc_resp *, const char *line, size_t len);

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as
 * seconds from now (at most HTTPC_RETRY_MAX), or -1 when unusable.
 */
long long httpc_retry_after(const char *value, time_t now);

/*
 * What a refusal says, in one line: an OperationOutcome's issues
 * ("code: diagnostics; ..."), an OAuth error ("error: description"),
 * or the start of the body with control characters replaced.  Writes
 * "" for an empty body.  Pure.
 */
void	 httpc_outcome_text(const char *body, size_t len, char *out,
	    size_t outsz);

/*
 * The first OperationOutcome issue code in body ("not-found",
 * "forbidden", ...), or "" when body is no OperationOutcome.  Pure.
 */
void	 httpc_outcome_code(const char *body, size_t len, char *out,
	    size_t outsz);

#endif
