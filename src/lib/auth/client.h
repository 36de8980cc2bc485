/*
 * client.h - OAuth clients (receiving payers) in table client.
 */
#ifndef P2P_CLIENT_H
#define P2P_CLIENT_H

#include <stddef.h>

#include "auth/secret.h"
#include "core/err.h"
#include "store/db.h"

struct client_rec {
	char	 id[128];		/* client_id */
	char	 secret_hash[SECRET_HASH_MAX]; /* "" when none */
	char	 npi[32];		/* requesting payer's NPI */
	char	 scopes[1024];		/* allowed scopes, space separated */
	char	 grant_types[128];	/* e.g. "client_credentials basic" */
	char	*jwks;			/* inline JWKS JSON, malloc'd, or NULL */
	char	 jwks_url[512];		/* JWKS URL, or "" */
	int	 active;		/* 0 when disabled */
};

/*
 * Inserts or replaces a client.  When secret is not NULL it is hashed
 * (rec->secret_hash is ignored then).  Runs in the caller's
 * transaction, if any.
 */
int	 client_put(struct p2p_db *, const struct client_rec *,
	    const char *secret, struct p2p_err *);

/*
 * Reads a client.  Returns 0 when found (free with client_rec_free()),
 * 1 when there is no such client, -1 with err set on failure.
 */
int	 client_get(struct p2p_db *, const char *id, struct client_rec *,
	    struct p2p_err *);
void	 client_rec_free(struct client_rec *);

/*
 * 1 when s is 1 to max characters of [A-Za-z0-9._-] (client ids, the
 * names of the payers p2p-request asks), else 0.
 */
int	 client_name_valid(const char *s, size_t max);
/* 1 when s is an NPI as p2p keeps them (ten digits), else 0. */
int	 client_npi_valid(const char *s);

/* Enables or disables a client; 1 when there is no such client. */
int	 client_set_active(struct p2p_db *, const char *id, int active,
	    struct p2p_err *);

/* A registered client as listed: never its secret or keys. */
struct client_summary {
	const char	*id;
	const char	*npi;		/* NULL when none */
	const char	*scopes;	/* NULL when none */
	const char	*grant_types;	/* NULL when none */
	const char	*jwks_url;	/* NULL when none */
	int		 inline_jwks;	/* 1 when it has an inline key set */
	int		 secret;	/* 1 when it has a secret */
	int		 active;	/* 0 when disabled */
};
typedef void	 client_each_fn(void *arg, const struct client_summary *);
/*
 * Calls fn for every client in id order (the strings live until fn
 * returns).  0, or -1 with err set.
 */
int	 client_each(struct p2p_db *, client_each_fn *fn, void *arg,
	    struct p2p_err *);

/*
 * The Organization a requesting payer with this NPI is, looked up as
 * the API does (auth_org_by_npi()).  When there is none and name is not
 * NULL, creates it: Organization "payer-<npi>" with the NPI identifier
 * and the name, stored as a loaded one is (store_put(): indexed the
 * same way), in the caller's transaction; *created is then 1.
 * Returns 0 (none), 1 (one, with org_id set), 2 (ambiguous), or -1
 * with err set.
 */
int	 client_payer_org(struct p2p_db *, const char *npi, const char *name,
	    char *org_id, size_t idsz, int *created, struct p2p_err *);

#endif
