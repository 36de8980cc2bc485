/*
 * fuzz.h - what the libFuzzer harnesses share (tests/fuzz/README.md).
 *
 * Each harness is thin: it hands the raw bytes to one library parser
 * (or a pair of them, for a differential) and checks the invariants the
 * parser's header promises.  A broken invariant calls fuzz_fail(),
 * which aborts, so libFuzzer keeps the input as a crash artifact.
 */
#ifndef P2P_FUZZ_H
#define P2P_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "json/fhir.h"
#include "store/db.h"
#include "store/loader.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

static void	 fuzz_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn, unused));

/* An invariant does not hold: say which, and crash for libFuzzer. */
static void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	fputs("fuzz invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The input as a NUL-terminated string (caller frees).  Never NULL. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Configuration as p2p-admin init writes it (defaults), for harnesses
 * whose functions read it.
 */
static inline void
fuzz_config(struct p2p_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "/nonexistent");
	config_defaults(cfg);
	snprintf(cfg->org_npi, sizeof(cfg->org_npi), "1234567893");
	snprintf(cfg->org_name, sizeof(cfg->org_name), "Fuzz Health Plan");
}

/*
 * A fresh in-memory database with every migration, and with seed (a
 * file the loader reads, or NULL) loaded.  Exits when it cannot: a
 * harness without its fixture tests nothing.
 */
static inline void
fuzz_db_open(struct p2p_db *db, const char *seed)
{
	struct load_stats	 st;
	struct p2p_err		 err;

	p2p_err_init(&err);
	if (db_open(db, ":memory:", 1, &err) == -1 ||
	    db_migrate(db, &err) == -1 ||
	    (seed != NULL && load_file(db, seed, 0, &st, &err) == -1)) {
		fprintf(stderr, "fuzz fixture: %s\n", err.msg);
		exit(2);
	}
}

/* A copy of the database's contents, to put back with fuzz_db_restore(). */
struct fuzz_snap {
	unsigned char	*data;
	long long	 size;
};

static inline void
fuzz_db_snapshot(struct p2p_db *db, struct fuzz_snap *snap)
{
	if ((snap->data = sqlite3_serialize(db->h, "main", &snap->size,
	    0)) == NULL) {
		fprintf(stderr, "fuzz fixture: cannot serialize\n");
		exit(2);
	}
}

/*
 * The fixture of LLVMFuzzerInitialize(): a quiet log; cfg (unless NULL)
 * as fuzz_config() fills it; db (unless NULL) as fuzz_db_open() opens
 * it with seed, copied to snap unless that is NULL.
 */
static inline void
fuzz_setup(struct p2p_config *cfg, struct p2p_db *db, const char *seed,
    struct fuzz_snap *snap)
{
	log_quiet(1);
	if (cfg != NULL)
		fuzz_config(cfg);
	if (db != NULL) {
		fuzz_db_open(db, seed);
		if (snap != NULL)
			fuzz_db_snapshot(db, snap);
	}
}

/*
 * The input as a FastCGI program has the request body after its syntax
 * gate: a JSON object with a resourceType (the caller puts it), or NULL
 * for what that gate refuses with 400.
 */
static inline json_object *
fuzz_body(const uint8_t *data, size_t size)
{
	struct p2p_err	 err;
	json_object	*body = NULL;

	p2p_err_init(&err);
	if (fhir_parse((const char *)data, size, &body, &err) == -1)
		return NULL;
	if (fhir_type(body) == NULL) {
		json_object_put(body);
		return NULL;
	}
	return body;
}

/*
 * Puts the snapshot back, so that what one input wrote (audit rows,
 * probe rows, loaded resources) never changes what the next one sees.
 * The cached statements are prepared again by SQLite when next used.
 */
static inline void
fuzz_db_restore(struct p2p_db *db, const struct fuzz_snap *snap)
{
	unsigned char	*copy;

	if ((copy = sqlite3_malloc64((sqlite3_uint64)snap->size)) == NULL)
		abort();
	memcpy(copy, snap->data, (size_t)snap->size);
	if (sqlite3_deserialize(db->h, "main", copy, snap->size, snap->size,
	    SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
	    SQLITE_OK)
		fuzz_fail("cannot restore the database: %s",
		    sqlite3_errmsg(db->h));
}

/* The seed data set of the e2e tests (FUZZ_SRCDIR is set by fuzz.mk). */
#define FUZZ_SEED	FUZZ_SRCDIR "/share/seed/test-dataset.json"

/* The seed's payer client, as the authentication gate leaves it. */
#define FUZZ_PAYER_CLIENT	"test-payer-client"
#define FUZZ_PAYER_NPI		"5555555555"
#define FUZZ_PAYER_ORG		"test-payer-001"

#endif
