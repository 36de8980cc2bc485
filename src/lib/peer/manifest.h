/*
 * peer/manifest.h - reading a Bulk Data 2.0 completion manifest
 * (export.html, "Response - Complete Status"; data-export.md §3.4) the
 * way a careful client must: every required field present and typed,
 * file URLs absolute and on the peer's own origin (our bearer token goes
 * with them when requiresAccessToken is true), counts non-negative,
 * bounded sizes.  Pure: no database, no network.
 */
#ifndef P2P_PEER_MANIFEST_H
#define P2P_PEER_MANIFEST_H

#include <stddef.h>

#include "core/err.h"

#define MANIFEST_FILES_MAX	10000	/* output + error entries */
#define MANIFEST_URL_MAX	2048

struct manifest_file {
	int		 error;		/* 1: an entry of error[] */
	char		 type[65];	/* resource type */
	char		 url[MANIFEST_URL_MAX];
	long long	 count;		/* lines announced, -1 when absent */
};

struct manifest {
	char			 transaction_time[40];
	char			 request[MANIFEST_URL_MAX];
	int			 requires_token;
	struct manifest_file	*files;		/* output first, then error */
	size_t			 nfiles;
};

/*
 * Parses body (the 200 answer of a status URL) into m; origin is the
 * peer's base URL, which every file URL must share.  Returns 0, or -1
 * with a 502 whose message says what is malformed.  Free with
 * manifest_free() either way.
 */
int	 manifest_parse(const char *body, size_t len, const char *origin,
	    struct manifest *m, struct p2p_err *);
void	 manifest_free(struct manifest *);

/* The path of a file URL (without scheme, host or query), into out. */
void	 manifest_url_path(const char *url, char *out, size_t outsz);

#endif
