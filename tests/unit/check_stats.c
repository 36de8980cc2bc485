/*
 * check_stats.c - p2p-admin stats' counts (store/stats.c) and the
 * client list (client_each()): what each holds, and that the list
 * never carries a secret.
 */
#include <stdlib.h>

#include <json-c/json.h>

#include "auth/client.h"
#include "store/stats.h"
#include "store/store.h"
#include "unit.h"

/* The suite's database: unit_db_setup() opens it for every test. */
#define db unit_db

static void
put(const char *text)
{
	struct store_ctx	 ctx;
	struct p2p_err		 err;
	enum store_kind		 kind;
	json_object		*o;

	ck_assert_ptr_nonnull(o = json_tokener_parse(text));
	store_ctx_init(&ctx);
	p2p_err_init(&err);
	ck_assert_msg(store_put(&db, o, &ctx, &kind, &err) == 0, "%s",
	    err.msg);
	json_object_put(o);
}

static void
client(const char *id, const char *secret, int active)
{
	struct client_rec	 rec;
	struct p2p_err		 err;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.npi, sizeof(rec.npi), "1234567893");
	snprintf(rec.scopes, sizeof(rec.scopes), "system/*.rs");
	snprintf(rec.grant_types, sizeof(rec.grant_types),
	    "client_credentials basic");
	snprintf(rec.jwks_url, sizeof(rec.jwks_url), "%s",
	    secret ? "" : "https://x.example/jwks.json");
	rec.active = active;
	p2p_err_init(&err);
	ck_assert_msg(client_put(&db, &rec, secret, &err) == 0, "%s",
	    err.msg);
}

struct seen {
	char		 text[1024];
	long long	 total;
	int		 rows;
};

static void
row(void *arg, const char *key, long long n)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s=%lld ", key, n);
	s->total += n;
	s->rows++;
}

START_TEST(test_counts)
{
	struct stats_totals	 t;
	struct seen		 s;
	struct p2p_err		 err;

	put("{\"resourceType\":\"Patient\",\"id\":\"a\"}");
	put("{\"resourceType\":\"Patient\",\"id\":\"b\"}");
	put("{\"resourceType\":\"Organization\",\"id\":\"o\"}");
	client("one", "one-secret-0123456789", 1);
	client("two", NULL, 0);
	p2p_err_init(&err);
	ck_assert_int_eq(stats_begin(&db, &err), 0);
	ck_assert_int_eq(stats_totals(&db, &t, &err), 0);
	ck_assert_int_eq(t.members, 2);
	ck_assert_int_eq(t.clients_active, 1);
	ck_assert_int_eq(t.clients_disabled, 1);
	ck_assert_int_eq(t.matches, 0);
	ck_assert_int_gt(t.bytes, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(stats_grouped(&db, STATS_TYPES, row, &s, &err), 0);
	ck_assert_str_eq(s.text, "Organization=1 Patient=2 ");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(stats_grouped(&db, STATS_JOBS, row, &s, &err), 0);
	ck_assert_int_eq(s.rows, 0);
	stats_end(&db);
}
END_TEST

static void
listed(void *arg, const struct client_summary *c)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len,
	    "%s npi=%s secret=%d jwks=%d url=%s active=%d grants=%s|", c->id,
	    c->npi, c->secret, c->inline_jwks,
	    c->jwks_url ? c->jwks_url : "-", c->active, c->grant_types);
	s->rows++;
}

START_TEST(test_client_list_has_no_secret)
{
	struct seen	 s;
	struct p2p_err	 err;

	client("zeta", "zeta-secret-0123456789", 1);
	client("alpha", NULL, 0);
	memset(&s, 0, sizeof(s));
	p2p_err_init(&err);
	ck_assert_int_eq(client_each(&db, listed, &s, &err), 0);
	ck_assert_int_eq(s.rows, 2);
	ck_assert_str_eq(s.text, "alpha npi=1234567893 secret=0 jwks=0 "
	    "url=https://x.example/jwks.json active=0 "
	    "grants=client_credentials basic|zeta npi=1234567893 secret=1 "
	    "jwks=0 url=- active=1 grants=client_credentials basic|");
	ck_assert_ptr_null(strstr(s.text, "0123456789|"));
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_counts),
		UNIT_TEST(test_client_list_has_no_secret),
	};

	return unit_run(unit_tests("stats", unit_db_setup, unit_db_teardown, 0,
	    tests, UNIT_N(tests)));
}
