/*
 * firstload.h - a first load into empty tables: the rows first, then the
 * secondary indexes, each built once by a sort.
 *
 * Inserting a row costs one b-tree insert per index of its table, at a
 * random place of an ever larger b-tree; a sort of the finished table
 * builds each index once, in order.  firstload_begin(),
 * inside the load's write transaction and only when the tables the
 * loader writes (resource, ident, demog) are empty, drops their
 * secondary indexes, remembering each one's CREATE INDEX text as
 * sqlite_schema holds it; firstload_indexes() runs those texts again.  The
 * UNIQUE (type, id) index of table resource is a constraint and stays:
 * a resource repeated in the file is still found and replaced.
 *
 * Safe while the server runs: all of it happens inside the one write
 * transaction (WAL readers keep seeing the committed schema and rows;
 * other writers wait for the lock as for any load), the schema after
 * the commit is the one before (the same CREATE INDEX texts), and a
 * failed load rolls the drops back with everything else.  Other
 * connections re-prepare their statements once after the commit
 * (SQLITE_SCHEMA is handled by sqlite3_prepare_v3's statements).
 */
#ifndef P2P_FIRSTLOAD_H
#define P2P_FIRSTLOAD_H

#include "core/err.h"
#include "store/db.h"

#define FIRSTLOAD_INDEX_MAX	16	/* secondary indexes that may be deferred */

struct firstload {
	int	 n;			/* indexes dropped, not yet rebuilt */
	char	*name[FIRSTLOAD_INDEX_MAX];	/* index names (owned) */
	char	*sql[FIRSTLOAD_INDEX_MAX];	/* their CREATE INDEX text (owned) */
};

/*
 * In the caller's write transaction: when resource, ident and demog
 * hold no row, drops their secondary indexes into b and returns 1;
 * returns 0 (b empty) when they hold rows or there are more than
 * FIRSTLOAD_INDEX_MAX indexes, -1 with err set on a database error.
 */
int	 firstload_begin(struct p2p_db *, struct firstload *, struct p2p_err *);

/*
 * Builds the indexes b holds (once; then b is empty).  0, or -1 with
 * err set (the caller rolls the transaction back).
 */
int	 firstload_indexes(struct p2p_db *, struct firstload *, struct p2p_err *);

/*
 * Before the load's transaction: when the tables are empty and no other
 * connection has the database open, takes it out of WAL mode into a
 * rollback journal for the load.  Pages added to an empty database are
 * then written once, into the database file, where WAL writes every
 * page twice (the WAL, then a checkpoint copying it back) and most of
 * a first load's system time went there.  A rollback still
 * undoes the whole file (the journal holds the pages the load changed;
 * pages it added past the end are cut off).  SQLite refuses to leave
 * WAL while another connection has the database open: the load then
 * runs in WAL as any other, so a server that serves is never blocked
 * (a server started during such a load waits for it, as a writer
 * would: it finds nothing to read yet).  Returns 1 when the caller must
 * call firstload_wal() after the transaction (also when an earlier load
 * ended without doing so), 0 when not, -1 with err set.
 */
int	 firstload_journal(struct p2p_db *, struct p2p_err *);

/* Puts the database back in WAL mode (waiting for readers).  0 or -1. */
int	 firstload_wal(struct p2p_db *, struct p2p_err *);

/* Forgets what b holds without building it (after a rollback). */
void	 firstload_free(struct firstload *);

#endif
