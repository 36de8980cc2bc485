/*
 * peer/ingest.h - storing what a previous payer sends, through the same
 * store path as our own loads (store_prepare/store_write: indexed under
 * the member, classified by the data-scope rules, so that it can be
 * shown to the member and shared onward like our own data):
 *
 *   - ids are mapped and references rewritten (idmap.h); the peer's
 *     Patient for our member is not stored (our member's Patient is the
 *     one), every reference to it points at ours;
 *   - an Organization whose NPI we hold already is not stored again: it
 *     becomes an alias (table peer_alias) and references point at ours;
 *   - a resource of any other person than the members of the exchange
 *     refuses the whole file: the peer sent what we did not ask for;
 *   - per member and file, a PDex Provenance (provenance.h) naming the
 *     sending payer and the time received, in the member's compartment;
 *   - one transaction per file (or Bundle): all of it or nothing; a
 *     resource received again unchanged is not written again and not
 *     counted as received (a repeated or resumed request stores
 *     nothing twice, not even a Provenance);
 *   - an audit record "receive" per member and file.
 */
#ifndef P2P_PEER_INGEST_H
#define P2P_PEER_INGEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "json/jscan.h"
#include "peer/peer.h"
#include "store/db.h"

struct ingest_member {
	char		 local[72];	/* our member */
	char		 remote[72];	/* the peer's Patient id */
	long long	 stored;	/* resources stored, all loads */
	char		**targets;	/* this load's "Type/id" */
	size_t		 ntargets, cap;
};

struct ingest {
	struct p2p_db		*db;
	const struct p2p_config	*cfg;
	const struct peer	*peer;
	struct ingest_member	*m;
	size_t			 nm, cap;
	char			 recorded[32];	/* instant received */
	long long		 aliased;	/* Organizations we had */
	long long		 skipped;	/* the peer's Patients */
	long long		 unchanged;	/* received again, the same */
	struct jscan		 js;		/* store_prepare()'s scratch */
};

/* Starts a load (free with ingest_free(), whatever happens). */
void	 ingest_init(struct ingest *, struct p2p_db *,
	    const struct p2p_config *, const struct peer *);
void	 ingest_free(struct ingest *);
/* Adds a member of the exchange (our id, the peer's id).  0 or -1. */
int	 ingest_member(struct ingest *, const char *local, const char *remote);
/* The member with this peer id, or NULL. */
struct ingest_member *ingest_find(struct ingest *, const char *remote);

/*
 * Stores one ndjson file of resources (source: its URL path, for the
 * Provenance and the audit) in one transaction.  Returns 0, or -1 with
 * err naming the line and what is wrong (nothing from the file kept).
 */
int	 ingest_file(struct ingest *, const char *path, const char *source,
	    struct p2p_err *);

/*
 * Stores the resources of a Bundle's entries (an array of entry
 * objects, e.g. the pages of a synchronous $everything) in one
 * transaction.  As ingest_file().
 */
int	 ingest_entries(struct ingest *, json_object *entries,
	    const char *source, struct p2p_err *);

/* The lookups per resource (NULL-terminated), for EXPLAIN QUERY PLAN. */
extern const char *const ingest_queries[];

#endif
