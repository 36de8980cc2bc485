/*
 * client.c - see client.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/access.h"
#include "auth/client.h"
#include "core/util.h"
#include "json/fhir.h"
#include "store/store.h"

static const char *const sql_put =
    "INSERT INTO client (id, secret_hash, npi, scopes, grant_types, jwks,"
    " jwks_url, active, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash,"
    " npi = excluded.npi, scopes = excluded.scopes,"
    " grant_types = excluded.grant_types, jwks = excluded.jwks,"
    " jwks_url = excluded.jwks_url, active = excluded.active";
static const char *const sql_get =
    "SELECT secret_hash, npi, scopes, grant_types, jwks, jwks_url, active"
    " FROM client WHERE id = ?1";
static const char *const sql_active =
    "UPDATE client SET active = ?2 WHERE id = ?1";
static const char *const sql_list =
    "SELECT id, npi, scopes, grant_types, jwks IS NOT NULL, jwks_url,"
    " secret_hash IS NOT NULL, active FROM client ORDER BY id";

int
client_put(struct p2p_db *db, const struct client_rec *rec,
    const char *secret, struct p2p_err *err)
{
	struct db_stmt	*st;
	char		 hash[SECRET_HASH_MAX], ts[32];
	int		 rc;

	if (secret != NULL) {
		if (secret_hash(secret, hash) == -1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot hash the client secret");
	} else
		snprintf(hash, sizeof(hash), "%s", rec->secret_hash);
	if ((st = db_stmt(db, sql_put, err)) == NULL)
		return -1;
	time_instant(now_sec(), ts);
	db_bind_text(st, 1, rec->id);
	db_bind_text(st, 2, hash[0] ? hash : NULL);
	db_bind_text(st, 3, rec->npi[0] ? rec->npi : NULL);
	db_bind_text(st, 4, rec->scopes);
	db_bind_text(st, 5, rec->grant_types[0] ? rec->grant_types :
	    "client_credentials");
	db_bind_text(st, 6, rec->jwks);
	db_bind_text(st, 7, rec->jwks_url[0] ? rec->jwks_url : NULL);
	db_bind_int(st, 8, rec->active);
	db_bind_text(st, 9, ts);
	rc = db_step_done(db, st, err, "client insert");
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int
client_get(struct p2p_db *db, const char *id, struct client_rec *rec,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	memset(rec, 0, sizeof(*rec));
	if ((st = db_query(db, sql_get, err, "t", id)) == NULL)
		return -1;
	if ((rc = db_step_row(db, st, err, "client select")) != 0)
		return rc;
	str_copy(rec->id, sizeof(rec->id), id);
	db_row(st, "cccc-ci", rec->secret_hash, sizeof(rec->secret_hash),
	    rec->npi, sizeof(rec->npi), rec->scopes, sizeof(rec->scopes),
	    rec->grant_types, sizeof(rec->grant_types), rec->jwks_url,
	    sizeof(rec->jwks_url), &rec->active);
	rec->jwks = xstrdup(db_col_text(st, 4));
	db_done(st);
	return 0;
}

void
client_rec_free(struct client_rec *rec)
{
	free(rec->jwks);
	rec->jwks = NULL;
	OPENSSL_cleanse(rec->secret_hash, sizeof(rec->secret_hash));
}

int
client_set_active(struct p2p_db *db, const char *id, int active,
    struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql_active, err, "ti", id, active)) == NULL)
		return -1;
	if (db_step_done(db, st, err, "client update") == -1)
		return -1;
	return db_changes(db) == 0 ? 1 : 0;
}

/* auth_org_by_npi() as a count: 0, 1 (org_id set), 2, or -1. */
static int
payer_org(struct p2p_db *db, const char *npi, char *org_id, size_t idsz,
    struct p2p_err *err)
{
	int	 n;

	if (auth_org_by_npi(db, npi, org_id, idsz, &n, err) == -1)
		return -1;
	return n == 1 && org_id[0] == '\0' ? 0 : n;
}

int
client_payer_org(struct p2p_db *db, const char *npi, const char *name,
    char *org_id, size_t idsz, int *created, struct p2p_err *err)
{
	struct store_ctx	 ctx;
	enum store_kind		 kind;
	json_object		*org = NULL, *ids;
	char			 oid[STORE_ID_MAX + 1];
	int			 n, rc;

	*created = 0;
	if ((n = payer_org(db, npi, org_id, idsz, err)) != 0 ||
	    name == NULL)
		return n;
	snprintf(oid, sizeof(oid), "payer-%s", npi);
	if (!fhir_valid_id(oid))
		return p2p_fail(err, 400, P2P_ISSUE_VALUE,
		    "NPI %s makes no valid Organization id", npi);
	/* Never overwrite another Organization that has this id. */
	if ((rc = store_exists(db, "Organization", oid, err)) != 0)
		return rc == -1 ? -1 : p2p_fail(err, 409, P2P_ISSUE_CONFLICT,
		    "Organization/%s exists without NPI %s: load the payer's "
		    "Organization instead", oid, npi);
	/* Each add takes its value even when it fails: one put frees all. */
	if ((org = fhir_resource_new("Organization")) == NULL ||
	    fhir_add_str(org, "id", oid) == -1 ||
	    fhir_add_bool(org, "active", 1) == -1 ||
	    fhir_add_str(org, "name", name) == -1 ||
	    fhir_add(org, "identifier", ids = json_object_new_array()) == -1 ||
	    fhir_push(ids, fhir_ident_new("http://hl7.org/fhir/sid/us-npi",
	    npi)) == -1) {
		json_object_put(org);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	store_ctx_init(&ctx);
	rc = store_put(db, org, &ctx, &kind, err);
	json_object_put(org);
	if (rc == -1)
		return -1;
	*created = 1;
	return payer_org(db, npi, org_id, idsz, err);
}

int
client_name_valid(const char *s, size_t max)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

int
client_npi_valid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 10)
		return 0;
	for (i = 0; i < 10; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
client_each(struct p2p_db *db, client_each_fn *fn, void *arg,
    struct p2p_err *err)
{
	struct db_stmt		*st;
	struct client_summary	 c;
	int			 rc;

	if ((st = db_stmt(db, sql_list, err)) == NULL)
		return -1;
	while ((rc = db_next(st, "ttttitii", &c.id, &c.npi, &c.scopes,
	    &c.grant_types, &c.inline_jwks, &c.jwks_url, &c.secret,
	    &c.active)) == DB_ROW)
		fn(arg, &c);
	return db_end(db, st, rc, err, "client list");
}
