/*
 * peer/peer.c - see peer.h.
 */
#include <stdio.h>
#include <string.h>

#include "auth/client.h"
#include "core/util.h"
#include "peer/peer.h"

#define COLS "name, npi, base_url, client_id, coalesce(kid, ''), scope," \
	" active, coalesce(token_url, ''), caps, coalesce(discovered, 0)," \
	" created"

static const char *const sql_get =
    "SELECT " COLS " FROM peer WHERE name = ?1";
static const char *const sql_npi =
    "SELECT " COLS " FROM peer WHERE npi = ?1 AND active = 1"
    " ORDER BY name LIMIT 1";
static const char *const sql_all =
    "SELECT " COLS " FROM peer ORDER BY name";
static const char *const sql_ins =
    "INSERT INTO peer (name, npi, base_url, client_id, kid, scope, active,"
    " created) VALUES (?1, ?2, ?3, ?4, nullif(?5, ''), ?6, 1, ?7)";
static const char *const sql_upd =
    "UPDATE peer SET npi = ?2, client_id = ?4, kid = nullif(?5, ''),"
    " scope = ?6, active = 1, token_url = CASE WHEN base_url = ?3"
    " THEN token_url END, caps = CASE WHEN base_url = ?3 THEN caps ELSE 0"
    " END, discovered = CASE WHEN base_url = ?3 THEN discovered END,"
    " base_url = ?3 WHERE name = ?1";
static const char *const sql_active =
    "UPDATE peer SET active = ?2 WHERE name = ?1";
static const char *const sql_del =
    "DELETE FROM peer WHERE name = ?1";
static const char *const sql_disc =
    "UPDATE peer SET token_url = ?2, caps = ?3, discovered = ?4"
    " WHERE name = ?1";

static const char *const cap_names[] = {
	"member-match",		/* PEER_CAP_MEMBER_MATCH */
	"everything",		/* PEER_CAP_EVERYTHING */
	"bulk-member-match",	/* PEER_CAP_BULK_MATCH */
	"davinci-data-export",	/* PEER_CAP_DATA_EXPORT */
};

int
peer_name_valid(const char *s)
{
	return client_name_valid(s, PEER_NAME_MAX);
}

void
peer_caps_text(unsigned caps, char *out, size_t outsz)
{
	size_t	 i, n = 0;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (caps & (1u << i))
			n += (size_t)snprintf(out + n, n < outsz ? outsz - n : 0,
			    "%s%s", n ? " " : "", cap_names[i]);
	if (out[0] == '\0')
		snprintf(out, outsz, "(none)");
}

/* Fills the struct peer arg from a row of COLS. */
static void
row_peer(struct db_stmt *st, void *arg)
{
	struct peer	*p = arg;

	memset(p, 0, sizeof(*p));
	db_row(st, "ccccccic-Ic", p->name, sizeof(p->name), p->npi,
	    sizeof(p->npi), p->base_url, sizeof(p->base_url), p->client_id,
	    sizeof(p->client_id), p->kid, sizeof(p->kid), p->scope,
	    sizeof(p->scope), &p->active, p->token_url, sizeof(p->token_url),
	    &p->discovered, p->created, sizeof(p->created));
	p->caps = (unsigned)db_col_int(st, 8);
}

/* The peer the statement sql finds by key (its ?1) into p: 0, 1, -1. */
static int
peer_by(struct p2p_db *db, const char *sql, const char *key,
    struct peer *p, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql, err, "t", key)) == NULL)
		return -1;
	return db_one(db, st, row_peer, p, err, "peer");
}

int
peer_get(struct p2p_db *db, const char *name, struct peer *p,
    struct p2p_err *err)
{
	return peer_by(db, sql_get, name, p, err);
}

int
peer_by_npi(struct p2p_db *db, const char *npi, struct peer *p,
    struct p2p_err *err)
{
	return peer_by(db, sql_npi, npi, p, err);
}

int
peer_put(struct p2p_db *db, const struct peer *p, int replace,
    struct p2p_err *err)
{
	struct peer	 old;
	struct db_stmt	*st;
	char		 now[32];
	int		 rc;

	if ((rc = peer_get(db, p->name, &old, err)) == -1)
		return -1;
	if (rc == 0 && !replace)
		return p2p_fail(err, 409, P2P_ISSUE_DUPLICATE, "peer %s exists "
		    "(--replace to change it)", p->name);
	time_instant(now_sec(), now);
	if ((st = db_query(db, rc == 0 ? sql_upd : sql_ins, err, "tttttt",
	    p->name, p->npi, p->base_url, p->client_id, p->kid,
	    p->scope)) == NULL)
		return -1;
	if (rc != 0)
		db_bind_text(st, 7, now);
	return db_step_done(db, st, err, "peer put");
}

/* Runs a one-name update; 0, 1 when nothing changed, -1. */
static int
by_name(struct p2p_db *db, const char *sql, const char *name, int arg,
    int bind_arg, struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql, err, "t", name)) == NULL)
		return -1;
	if (bind_arg)
		db_bind_int(st, 2, arg);
	if (db_step_done(db, st, err, "peer update") == -1)
		return -1;
	return db_changes(db) == 0 ? 1 : 0;
}

int
peer_set_active(struct p2p_db *db, const char *name, int active,
    struct p2p_err *err)
{
	return by_name(db, sql_active, name, active, 1, err);
}

int
peer_remove(struct p2p_db *db, const char *name, struct p2p_err *err)
{
	return by_name(db, sql_del, name, 0, 0, err);
}

int
peer_set_discovery(struct p2p_db *db, const char *name,
    const char *token_url, unsigned caps, long long when,
    struct p2p_err *err)
{
	return db_run(db, sql_disc, err, "peer discovery", "ttiI", name,
	    token_url, (int)caps, when);
}

int
peer_each(struct p2p_db *db, int (*fn)(void *, const struct peer *),
    void *arg, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct peer	 p;
	int		 rc;

	if ((st = db_stmt(db, sql_all, err)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		row_peer(st, &p);
		if (fn(arg, &p) == -1) {
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "peer listing stopped");
		}
	}
	return db_end(db, st, rc, err, "peer list");
}
