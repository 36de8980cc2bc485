/*
 * store.h - writing loaded FHIR resources into the database.
 *
 * store_put() upserts one resource by (type, id).  Ordinary resources
 * go to table resource, indexed under the member whose compartment they
 * are in, with their identifiers (table ident), demographics (table
 * demog) and the payer-to-payer classification of scope_classify().
 * What is not valid FHIR R4 is refused first (fhir_check(), valid.h).
 * Everything is read from the tape of json/jscan.h: the loader's fast
 * path scans a line as read, and a resource parsed by json-c is read
 * through the text json-c writes of it, so that both are checked and
 * classified by the same code.  Three resource types are special:
 *   Client        (Aidbox, non-FHIR) registers an OAuth client; its
 *                 secret is hashed and never stored anywhere else
 *   AccessPolicy  (Aidbox) accepted and ignored: p2p authorizes itself
 *   Consent       goes to table consent (source 'loaded'), never to
 *                 table resource, so it is never released to a payer
 *
 * Every function runs in the caller's transaction; statements are
 * prepared once per connection (db_stmt) and reused.
 */
#ifndef P2P_STORE_H
#define P2P_STORE_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "datascope/classify.h"
#include "store/db.h"
#include "store/firstload.h"

/* FHIR id: [A-Za-z0-9\-\.]{1,64} (FHIR R4 datatypes, id). */
#define STORE_ID_MAX	64

/*
 * Scopes given to clients registered from loaded Client resources
 * (the seed's Aidbox clients carry none): read everything by system
 * scopes, and run both member-match operations.
 */
#define STORE_CLIENT_SCOPES \
	"system/*.read system/*.rs user/*.* " \
	"http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match " \
	"http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch"

/* What store_put() or store_delete() did with a resource. */
enum store_kind {
	STORE_RESOURCE,		/* table resource */
	STORE_CLIENT,		/* registered an OAuth client */
	STORE_CONSENT,		/* table consent */
	STORE_IGNORED,		/* AccessPolicy: accepted, ignored */
	STORE__MAX
};

/* Per-load context shared by the resources of one file. */
struct store_ctx {
	/*
	 * urn:uuid fullUrls of the current Bundle mapped to "Type/id"
	 * (a JSON object, borrowed), or NULL.
	 */
	json_object	*urn;
	char		 now[32];	/* instant used when meta.lastUpdated
					   is absent */
	/*
	 * The JSON text the resource was parsed from (an ndjson line),
	 * or NULL: stored as it is when the resource needs no change,
	 * which saves serialising it again.
	 */
	const char	*raw;
	size_t		 rawlen;
	/*
	 * A first load's deferred indexes (firstload.h), or NULL: built before
	 * the first write that replaces a row, which needs them.
	 */
	struct firstload *first;
};

/* Fills ctx with no urn map and the current time. */
void	 store_ctx_init(struct store_ctx *);

/* 1 when s is a type the loader stores: FHIR R4, Client, AccessPolicy. */
int	 store_type_valid(const char *s);

/*
 * Resolves a reference string to a Patient id: "Patient/<id>",
 * "<base>/Patient/<id>" (absolute URL), either with "/_history/<v>",
 * or a "urn:uuid:..." found in ctx->urn naming a Patient.  Writes the
 * id into out (size >= STORE_ID_MAX + 1) and returns 1, or returns 0
 * when ref does not name a Patient.
 */
int	 store_patient_ref(const char *ref, const struct store_ctx *,
	    char *out, size_t outsz);

struct jscan;
/*
 * The member whose compartment the resource at the root of a tape
 * (jscan.h) is in: a Patient's own id, else the Patient named by the
 * first of patient, subject, beneficiary, ...  Returns 1 with out
 * filled, 0 when there is none.
 */
int	 store_patient_of(struct jscan *, const struct store_ctx *,
	    char *out, size_t outsz);

/*
 * Upserts one resource (which must have a valid resourceType and id).
 * May add meta.lastUpdated to res.  Sets *kind.  Returns 0, or -1 with
 * err set (a 400/422 naming what is wrong with the resource, or a
 * database error).
 */
int	 store_put(struct p2p_db *, json_object *res, const struct store_ctx *,
	    enum store_kind *kind, struct p2p_err *);

/*
 * The ident and demog rows of an indexed resource (Patient, Coverage,
 * Organization), computed by store_prepare() so that store_write() needs
 * no tree.  Strings live in pool; off[] are offsets into it, -1 NULL.
 * ident: off[0] system, [1] value, [2] patient.  demog: [0] patient,
 * [1] family and [2] given (folded), [3] birthDate, [4] gender.
 */
struct store_ixrow {
	int		 demog;		/* 0: an ident row, 1: a demog row */
	int		 kind;		/* ident kind */
	int		 off[5];
};

struct store_ix {
	struct store_ixrow *r;
	size_t		 n, cap;
	char		*pool;
	size_t		 plen, pcap;
};

/*
 * store_put() in two steps, so that the loader can do the first (pure:
 * no database, safe on another thread) while the second writes the
 * previous resource.  A row owns res from store_prepare() on.
 */
struct store_row {
	json_object	*res;		/* owned, or NULL (the fast path, or
					   after store_row_detach()) */
	enum store_kind	 kind;		/* what store_write() will do */
	const char	*type;		/* resourceType (typebuf) */
	const char	*id;		/* id (idbuf) */
	char		*lu;		/* meta.lastUpdated (owned) */
	const char	*json;		/* text to store: ctx->raw, or in res
					   (as json-c writes it), or own */
	int		 jsonlen;	/* bytes of json, -1: NUL-terminated */
	int		 has_patient;	/* patient is set */
	int		 indexed;	/* Patient, Coverage, Organization */
	char		 patient[STORE_ID_MAX + 1];	/* compartment member */
	struct scope_info si;		/* scope_classify() result */
	char		 typebuf[65];
	char		 idbuf[STORE_ID_MAX + 1];
	char		*own;		/* json after store_row_detach() */
	struct store_ix	 ix;		/* index rows (indexed types) */
};

/*
 * Validates res and computes everything store_write() needs, without
 * the database: adds meta.lastUpdated (ctx->now) when res has none,
 * then reads it through tape j (scratch, reused by the caller), which
 * scans the text json-c writes of it.  Takes res (one reference) in
 * every case: on success row owns it (free with store_row_free()); on
 * error (-1, err set as store_put() would) it is released.  ctx->raw,
 * if set, must outlive store_write().
 */
int	 store_prepare(json_object *res, const struct store_ctx *,
	    struct jscan *j, struct store_row *, struct p2p_err *);

/*
 * The loader's fast path: store_prepare() from a scanned line (jscan.h,
 * the text being ctx->raw) without a tree, for the resources stored as
 * read.  Returns 1 with row prepared exactly as store_prepare() would
 * have (it owns no tree); 0 when the line needs json-c (a Client,
 * Consent or AccessPolicy, whose rows keep a tree; no meta.lastUpdated,
 * which json-c adds; a claim with a duplicate key); -1 with err set
 * when the line is refused (the same error as store_prepare()'s) or
 * out of memory.
 */
int	 store_prepare_scan(struct jscan *, const struct store_ctx *,
	    struct store_row *, struct p2p_err *);

/* Writes a prepared row (store_put()'s second half).  0 or -1, err. */
int	 store_write(struct p2p_db *, struct store_row *,
	    const struct store_ctx *, struct p2p_err *);

/*
 * Lets row go without its parsed resource when store_write() does not
 * need it (types stored in table resource): copies the text to store
 * when it points into it, and releases it.  The loader does this on its reading thread, so that a
 * tree is freed by the thread that allocated it.  0, or -1 when out of
 * memory (row unchanged).
 */
int	 store_row_detach(struct store_row *);

/* Releases what row owns (its resource, its p2p_json); NULL-safe. */
void	 store_row_free(struct store_row *);

/*
 * Deletes type/id: a resource and its index rows; a Client is
 * disabled; a Consent becomes inactive (its history is kept).
 * Deleting what does not exist succeeds.  Sets *kind.
 */
int	 store_delete(struct p2p_db *, const char *type, const char *id,
	    enum store_kind *kind, struct p2p_err *);

/*
 * Whether resource type/id is stored (table resource, by its primary
 * key).  Returns 1 or 0, or -1 with err set.
 */
int	 store_exists(struct p2p_db *, const char *type, const char *id,
	    struct p2p_err *);

#endif
