/*
 * fuzz_ingest.c - a file a previous payer sends, stored as p2p-request
 * stores it (peer/ingest.c: ingest_file(), with peer/idmap.c rewriting
 * ids and references): the input is one ndjson file of the exchange of
 * member m1 (the peer's Patient p42).
 *
 * A file is stored whole or not at all: on a refusal (4xx with a
 * message) the store is as it was; on success every stored received
 * resource has a mapped id (r + 32 hex digits) or is a Provenance of
 * ours, and none belongs to anyone but m1 or no one.
 */
#include <unistd.h>

#include "fuzz.h"
#include "peer/ingest.h"
#include "peer/peer.h"

static struct p2p_db		 db;
static struct p2p_config	 cfg;
static struct peer		 peer;
static struct fuzz_snap		 snap;
static char			 path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 fd;

	(void)argc;
	(void)argv;
	fuzz_setup(&cfg, &db, NULL, &snap);
	memset(&peer, 0, sizeof(peer));
	snprintf(peer.name, sizeof(peer.name), "payer-a");
	snprintf(peer.npi, sizeof(peer.npi), "1111111111");
	snprintf(peer.base_url, sizeof(peer.base_url),
	    "https://payer-a.example/fhir");
	snprintf(path, sizeof(path), "/tmp/fuzz_ingest.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		exit(2);
	close(fd);
	return 0;
}

static long long
count(const char *sql)
{
	struct db_stmt	*st;
	long long	 n = -1;

	if (db_prepare(&db, sql, &st, NULL) != 0)
		fuzz_fail("%s: %s", sql, sqlite3_errmsg(db.h));
	if (db_step(st) == DB_ROW)
		n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest	 g;
	struct p2p_err	 err;
	FILE		*f;
	long long	 before;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	fuzz_db_restore(&db, &snap);
	before = count("SELECT count(*) FROM resource");
	ingest_init(&g, &db, &cfg, &peer);
	if (ingest_member(&g, "m1", "p42") == -1)
		abort();
	p2p_err_init(&err);
	if (ingest_file(&g, path, "/bulk/j/f.ndjson", &err) == -1) {
		if (err.status < 400 || err.status >= 500 || err.msg[0] == '\0')
			fuzz_fail("refused with %d: %s", err.status, err.msg);
		if (count("SELECT count(*) FROM resource") != before)
			fuzz_fail("a refused file left rows behind");
		if (db.in_tx)
			fuzz_fail("a transaction left open");
	} else {
		if (count("SELECT count(*) FROM resource WHERE NOT (id GLOB"
		    " 'r[0-9a-f]*' OR (type = 'Provenance' AND id GLOB"
		    " 'p[0-9a-f]*'))") != 0)
			fuzz_fail("a received resource kept its own id");
		if (count("SELECT count(*) FROM resource WHERE patient IS NOT"
		    " NULL AND patient <> 'm1'") != 0)
			fuzz_fail("stored under someone else");
	}
	ingest_free(&g);
	return 0;
}
