/*
 * Unit tests for the loader's fast path (issue #8): the jscan.c scanner,
 * store_prepare_scan(), and that a load through it leaves the database
 * exactly as the json-c tree path does (P2P_LOAD_TREE=1); and that a
 * first load into empty tables (store/firstload.h) leaves what the
 * ordinary path does (P2P_LOAD_NOFIRST=1), or nothing when it fails.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "store/loader.h"
#include "core/util.h"
#include "unit.h"

/* --- the scanner ----------------------------------------------------- */

/* Texts the scanner refuses (the loader then asks json-c). */
static const struct {
	int		 line;
	const char	*text;
	size_t		 len;	/* 0: strlen */
} refused[] = {
	{ __LINE__, "", 0 },
	{ __LINE__, "   ", 0 },
	{ __LINE__, "{", 0 },
	{ __LINE__, "{\"a\":1,}", 0 },
	{ __LINE__, "[1,]", 0 },
	{ __LINE__, "{\"a\" 1}", 0 },
	{ __LINE__, "{\"a\":1 \"b\":2}", 0 },
	{ __LINE__, "{a:1}", 0 },
	{ __LINE__, "{'a':1}", 0 },
	{ __LINE__, "{\"a\":'x'}", 0 },
	{ __LINE__, "{\"a\":\"x}", 0 },
	{ __LINE__, "{\"a\":tru}", 0 },
	{ __LINE__, "{\"a\":True}", 0 },
	{ __LINE__, "{\"a\":nul}", 0 },
	{ __LINE__, "{} {}", 0 },
	{ __LINE__, "{}x", 0 },
	{ __LINE__, "{\"a\":1}]", 0 },
	{ __LINE__, "[1}", 0 },
	{ __LINE__, "{\"a\":[1}", 0 },
	/* numbers */
	{ __LINE__, "[01]", 0 },
	{ __LINE__, "[1.]", 0 },
	{ __LINE__, "[.5]", 0 },
	{ __LINE__, "[-]", 0 },
	{ __LINE__, "[+1]", 0 },
	{ __LINE__, "[1e5]", 0 },		/* outside the subset */
	{ __LINE__, "[1234567890123456789]", 0 },	/* 19 digits */
	{ __LINE__, "[NaN]", 0 },
	/* strings: escapes and control characters */
	{ __LINE__, "[\"a\\u0000b\"]", 0 },	/* escaped NUL */
	{ __LINE__, "[\"\\x41\"]", 0 },
	{ __LINE__, "[\"\\u12\"]", 0 },
	{ __LINE__, "[\"\\u12G4\"]", 0 },
	{ __LINE__, "[\"\\ud800\"]", 0 },	/* lone high surrogate */
	{ __LINE__, "[\"\\ud800\\u0041\"]", 0 },
	{ __LINE__, "[\"\\udc00\"]", 0 },	/* lone low surrogate */
	{ __LINE__, "[\"a\tb\"]", 0 },		/* raw control character */
	{ __LINE__, "[\"a\nb\"]", 0 },
	{ __LINE__, "[\"a\\", 0 },
	/* UTF-8 */
	{ __LINE__, "[\"\x80\"]", 0 },		/* lone continuation */
	{ __LINE__, "[\"\xc0\x80\"]", 0 },	/* overlong NUL */
	{ __LINE__, "[\"\xc1\xbf\"]", 0 },	/* overlong */
	{ __LINE__, "[\"\xe0\x80\xaf\"]", 0 },	/* overlong 3-byte */
	{ __LINE__, "[\"\xed\xa0\x80\"]", 0 },	/* UTF-16 surrogate */
	{ __LINE__, "[\"\xf4\x90\x80\x80\"]", 0 },	/* above U+10FFFF */
	{ __LINE__, "[\"\xf5\x80\x80\x80\"]", 0 },
	{ __LINE__, "[\"\xc3\"]", 0 },		/* truncated */
	{ __LINE__, "[\"\xe2\x82\"]", 0 },
	{ __LINE__, "[\"\xff\"]", 0 },
	/* a raw NUL byte */
	{ __LINE__, "[\"a\0b\"]", 7 },
	{ __LINE__, "[1]\0", 4 },
};

START_TEST(test_refused)
{
	unit_jscan_refuses(refused[_i].text, refused[_i].len ?
	    refused[_i].len : strlen(refused[_i].text), refused[_i].line);
}
END_TEST

/* Nesting: JSCAN_MAX_DEPTH containers pass, one more is refused. */
START_TEST(test_depth)
{
	struct jscan	 j;
	char		 buf[2 * JSCAN_MAX_DEPTH + 8];
	int		 d, i;

	jscan_init(&j);
	for (d = JSCAN_MAX_DEPTH; d <= JSCAN_MAX_DEPTH + 1; d++) {
		for (i = 0; i < d; i++) {
			buf[i] = '[';
			buf[2 * d - 1 - i] = ']';
		}
		ck_assert_int_eq(jscan_parse(&j, buf, (size_t)(2 * d), 0),
		    d <= JSCAN_MAX_DEPTH ? 0 : -1);
	}
	jscan_free(&j);
}
END_TEST

/*
 * JSCAN_WRITTEN takes whatever json-c writes of what it parsed: every
 * nesting depth fhir_parse() accepts, and numbers outside the strict
 * subset (exponents, integers of 19 digits and more, as json-c writes
 * them back).
 */
START_TEST(test_written)
{
	static const char *const nums = "[1.5e3,1E300,-2.5E-3,"
	    "12345678901234567890,-9223372036854775808,-0,-0.0]";
	struct jscan	 j;
	struct p2p_err	 err;
	json_object	*o;
	const char	*w;
	char		 buf[2 * 80 + 8];
	int		 d, i, parsed = 0;

	jscan_init(&j);
	p2p_err_init(&err);
	ck_assert_int_eq(jscan_parse(&j, nums, strlen(nums), 0), -1);
	ck_assert_int_eq(fhir_parse(nums, strlen(nums), &o, &err), 0);
	w = fhir_json(o);
	ck_assert_int_eq(jscan_parse(&j, w, strlen(w), JSCAN_WRITTEN), 0);
	ck_assert_int_eq(jscan_count(&j, 1), 7);
	json_object_put(o);
	for (d = 1; d <= 80; d++) {
		for (i = 0; i < d; i++) {
			buf[i] = '[';
			buf[2 * d - 1 - i] = ']';
		}
		p2p_err_init(&err);
		if (fhir_parse(buf, (size_t)(2 * d), &o, &err) == -1)
			continue;
		parsed = d;
		w = fhir_json(o);
		ck_assert_msg(jscan_parse(&j, w, strlen(w), JSCAN_WRITTEN) == 0,
		    "depth %d", d);
		json_object_put(o);
	}
	ck_assert_int_gt(parsed, JSCAN_MAX_DEPTH);
	ck_assert_int_lt(parsed, 80);
	jscan_free(&j);
}
END_TEST

START_TEST(test_values)
{
	struct jscan	 j;
	const char	*t = " {\"a\":1,\"b\":{\"c\":[{\"d\":\"x\"},{\"d\":\"y\"}]},"
	    "\"e\\u0041\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/ \\n\","
	    "\"a\":\"last\",\"n\":null,\"t\":true,\"f\":false,"
	    "\"arr\":[],\"o\":{},\"num\":-0.5,\"u\":\"\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\"} ";
	uint32_t	 b, c;

	jscan_init(&j);
	ck_assert_int_eq(jscan_parse(&j, t, strlen(t), 0), 0);
	ck_assert_int_eq(jscan_type(&j, 1), JS_OBJECT);
	/* duplicates: the last one wins, as in json-c */
	ck_assert_str_eq(jscan_getstr(&j, 1, "a"), "last");
	ck_assert_str_eq(jscan_getstr(&j, 1, "eA"),
	    "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" / \n");
	ck_assert_str_eq(jscan_getstr(&j, 1, "u"),
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_ptr_null(jscan_getstr(&j, 1, "n"));	/* not a string */
	ck_assert_ptr_null(jscan_getstr(&j, 1, "num"));
	ck_assert_ptr_null(jscan_getstr(&j, 1, "missing"));
	ck_assert_int_eq(jscan_type(&j, jscan_get(&j, 1, "t")), JS_TRUE);
	ck_assert_int_eq(jscan_type(&j, jscan_get(&j, 1, "f")), JS_FALSE);
	ck_assert_int_eq(jscan_type(&j, jscan_get(&j, 1, "n")), JS_NULL);
	ck_assert_int_eq(jscan_first(&j, jscan_get(&j, 1, "arr")), 0);
	ck_assert_int_eq(jscan_count(&j, jscan_get(&j, 1, "o")), 0);
	ck_assert_int_eq(jscan_count(&j, 1), 11);	/* as written */
	/* paths take the first element of arrays, like fhir_path() */
	ck_assert_str_eq(jscan_path_str(&j, 1, "b.c.d"), "x");
	b = jscan_get_t(&j, 1, "b", JS_OBJECT);
	ck_assert_uint_ne(b, 0);
	ck_assert_uint_eq(jscan_get_t(&j, 1, "b", JS_ARRAY), 0);
	c = jscan_get(&j, b, "c");
	ck_assert_int_eq(jscan_count(&j, c), 2);
	ck_assert_str_eq(jscan_getstr(&j, jscan_next(&j, c,
	    jscan_first(&j, c)), "d"), "y");
	ck_assert_uint_eq(jscan_next(&j, c, jscan_next(&j, c,
	    jscan_first(&j, c))), 0);
	/* "none" (0) chains safely */
	ck_assert_ptr_null(jscan_getstr(&j, jscan_get(&j, 1, "zz"), "a"));
	ck_assert_ptr_null(jscan_path_str(&j, 1, "a.b"));
	jscan_free(&j);
}
END_TEST

/* --- loads: fast path against the tree path -------------------------- */

static struct p2p_db	 db, db2;

static void
setup(void)
{
	unit_db_open(&db);
	unit_db_open(&db2);
}

static void
teardown(void)
{
	db_close(&db);
	db_close(&db2);
}

/* Loads text as fmt; nofirst sets P2P_LOAD_NOFIRST for the load. */
static int
load_as(struct p2p_db *d, const char *text, enum load_format fmt,
    int nofirst, struct load_stats *st, struct p2p_err *err)
{
	FILE	*f;
	int	 rc;

	if (nofirst)
		setenv("P2P_LOAD_NOFIRST", "1", 1);
	p2p_err_init(err);
	f = fmemopen((void *)text, strlen(text), "r");
	ck_assert_ptr_nonnull(f);
	rc = load_stream(d, f, "test", fmt, 0, st, err);
	fclose(f);
	unsetenv("P2P_LOAD_NOFIRST");
	return rc;
}

static int
load_text(struct p2p_db *d, const char *text, int tree,
    struct load_stats *st, struct p2p_err *err)
{
	int	 rc;

	if (tree)
		setenv("P2P_LOAD_TREE", "1", 1);
	else
		unsetenv("P2P_LOAD_TREE");
	rc = load_as(d, text, LOAD_NDJSON, 0, st, err);
	unsetenv("P2P_LOAD_TREE");
	return rc;
}

/*
 * Masks instants "YYYY-MM-DDThh:mm:ssZ" within [lo, hi] (the loads'
 * own clock: meta.lastUpdated added, audit and consent times).
 */
static void
mask_now(char *s, const char *lo, const char *hi)
{
	size_t	 n = strlen(s), i;

	for (i = 0; i + 20 <= n; i++)
		if (s[i + 4] == '-' && s[i + 10] == 'T' && s[i + 19] == 'Z' &&
		    strncmp(s + i, lo, 20) >= 0 && strncmp(s + i, hi, 20) <= 0)
			memcpy(s + i, "<<<<<<load-time>>>>>", 20);
}

/*
 * Every row of every table as text, in a fixed order.  Columns that
 * hold a random salt (client.secret_hash) are left out.
 */
static void
dump(struct p2p_db *d, struct p2p_buf *out, const char *lo, const char *hi)
{
	struct db_stmt	*tabs, *st;
	char		*sql, *order;
	const char	*name, *v;
	int		 i, n, rc;

	ck_assert_int_eq(db_prepare(d, "SELECT name FROM "
	    "sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	    " ORDER BY name", &tabs, NULL), 0);
	while (db_step(tabs) == DB_ROW) {
		name = db_col_text(tabs, 0);
		buf_printf(out, "== %s\n", name);
		/* test only: the name comes from sqlite_master, quoted */
		sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
		ck_assert_int_eq(db_prepare(d, sql, &st, NULL), 0);
		n = db_col_count(st);
		db_finalize(st);
		order = sqlite3_mprintf("%s ORDER BY 1", sql);
		for (i = 2; i <= n; i++) {
			sqlite3_free(sql);
			sql = order;
			order = sqlite3_mprintf("%s, %d", sql, i);
		}
		sqlite3_free(sql);
		ck_assert_int_eq(db_prepare(d, order, &st,
		    NULL), 0);
		sqlite3_free(order);
		while ((rc = db_step(st)) == DB_ROW) {
			for (i = 0; i < n; i++) {
				v = db_col_text(st, i);
				if (strcmp(db_col_name(st, i),
				    "secret_hash") == 0)
					v = "<salted>";
				buf_printf(out, "%s%s", i ? "|" : "",
				    v ? v : "NULL");
			}
			buf_puts(out, "\n");
		}
		ck_assert_int_eq(rc, DB_DONE);
		db_finalize(st);
	}
	db_finalize(tabs);
	buf_puts(out, "");
	mask_now(out->p, lo, hi);
}

/* Fails naming the first line where a and b differ. */
static void
same(const struct p2p_buf *a, const struct p2p_buf *b)
{
	size_t	 i, line = 1, start = 0;

	for (i = 0; i < a->len && i < b->len && a->p[i] == b->p[i]; i++)
		if (a->p[i] == '\n') {
			line++;
			start = i + 1;
		}
	ck_assert_msg(a->len == b->len && i == a->len,
	    "databases differ at dump line %zu: tree \"%.200s\" fast "
	    "\"%.200s\"", line, a->p + start, b->p + start);
}

static void
compare(const char *lo)
{
	struct p2p_buf	 a, b;
	char		 hi[32];

	time_instant(now_sec(), hi);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	dump(&db, &a, lo, hi);
	dump(&db2, &b, lo, hi);
	ck_assert_uint_gt(a.len, 1000);
	same(&a, &b);
	buf_free(&a);
	buf_free(&b);
}

/*
 * Writes to f the synthetic history of members (p2p-admin generate
 * --members members --seed seed, years of it, anchored at 2026-06-01).
 */
static void
generate(FILE *f, unsigned long long members, unsigned long long seed,
    int years, struct gen_stats *gs)
{
	struct gen_opts		 o;
	struct p2p_err		 err;

	memset(&o, 0, sizeof(o));
	o.members = members;
	o.seed = seed;
	o.years = years;
	snprintf(o.anchor, sizeof(o.anchor), "2026-06-01");
	p2p_err_init(&err);
	ck_assert_msg(gen_write(f, &o, gs, &err) == 0, "%s", err.msg);
}

/*
 * Issue #8's proof: `generate --members 300 --seed 1 --anchor
 * 2026-06-01` (full history) and the seed data set, loaded through the
 * tree path into db and through the fast path into db2, leave every
 * table with the same rows.
 */
START_TEST(test_same_database)
{
	struct gen_stats	 gs;
	struct load_stats	 st;
	struct p2p_err		 err;
	const char		*seed = unit_seed();
	char			 lo[32], path[] =
				    "/tmp/check_loadfast.XXXXXX.ndjson";
	FILE			*f;
	int			 fd;

	time_instant(now_sec(), lo);
	ck_assert_int_ne(fd = mkstemps(path, 7), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	generate(f, 300, 1, 7, &gs);
	fclose(f);
	p2p_err_init(&err);

	setenv("P2P_LOAD_TREE", "1", 1);
	ck_assert_msg(load_file(&db, path, 0, &st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(st.scanned, 0);
	ck_assert_msg(load_file(&db, seed, 0, &st, &err) == 0, "%s", err.msg);
	unsetenv("P2P_LOAD_TREE");
	ck_assert_msg(load_file(&db2, path, 0, &st, &err) == 0, "%s",
	    err.msg);
	/* every line took the fast path, claims included */
	ck_assert_int_eq(st.scanned, (long)gs.resources);
	ck_assert_int_gt(gs.by_type[GEN_EOB], 1000);
	ck_assert_int_gt(gs.by_type[GEN_PA], 100);
	ck_assert_msg(load_file(&db2, seed, 0, &st, &err) == 0, "%s",
	    err.msg);
	/* loaded again: every row replaced, through both paths */
	setenv("P2P_LOAD_TREE", "1", 1);
	ck_assert_msg(load_file(&db, path, 0, &st, &err) == 0, "%s", err.msg);
	unsetenv("P2P_LOAD_TREE");
	ck_assert_msg(load_file(&db2, path, 0, &st, &err) == 0, "%s",
	    err.msg);
	unlink(path);
	compare(lo);
}
END_TEST

/*
 * Lines with odd but legal shapes (duplicates, escapes, deep nesting
 * and numbers only json-c takes, references that name no member, no
 * meta or no lastUpdated, claims the text writer must leave to json-c):
 * loaded the same by both paths.
 */
static const char odd[] =
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"meta\":{\"lastUpdated\":"
    "\"2025-01-01T00:00:00Z\",\"security\":[{\"system\":\"http://terminology"
    ".hl7.org/CodeSystem/v3-ActCode\",\"code\":\"HIV\"}]},\"identifier\":"
    "[{\"system\":\"s\",\"value\":\"v1\"},{\"value\":\"\"},{\"system\":"
    "\"s2\",\"value\":\"v2\"}],\"name\":[{\"family\":\"O'Br"
    "\\u00efen\",\"given\":[\"Mary\",\"Ann\"]},{\"given\":[]},"
    "{\"family\":\"Solo\"}],\"birthDate\":\"1980-02-03\",\"gender\":\"F\"}\n"
    "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"id\":\"p3\",\"meta\":"
    "{\"lastUpdated\":\"2025-01-01T00:00:00+05:00\"},\"name\":[{\"family\":"
    "\"x\"}],\"gender\":\"other\",\"gender\":\"female\"}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"c1\",\"meta\":{\"lastUpdated\":"
    "\"2025-01-01T12:00:00.123456789-14:00\"},\"beneficiary\":{\"reference\":"
    "\"https://x.org/fhir/Patient/p1/_history/2\"},\"subscriberId\":\"S1\","
    "\"identifier\":[{\"value\":\"C1\"}]}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"c2\",\"meta\":{\"lastUpdated\":"
    "\"2025-01-01T00:00:00Z\"},\"beneficiary\":[{\"reference\":\"Group/g\"},"
    "{\"reference\":\"Patient/p3\"}]}\n"
    "{\"resourceType\":\"Coverage\",\"id\":\"c3\",\"meta\":{\"lastUpdated\":"
    "\"2025-01-01T00:00:00Z\"},\"subscriberId\":\"S3\"}\n"
    "{\"resourceType\":\"Organization\",\"id\":\"o1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\"},\"identifier\":[{\"system\":"
    "\"http://hl7.org/fhir/sid/us-npi\",\"value\":\"1234567893\"}]}\n"
    "{\"resourceType\":\"Observation\",\"id\":\"ob1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\",\"security\":[{\"system\":"
    "\"http://terminology.hl7.org/CodeSystem/v3-Confidentiality\",\"code\":"
    "\"R\"}]},\"subject\":{\"reference\":\"Patient/p1\"},"
    "\"effectivePeriod\":{\"start\":\"2024-03\"}}\n"
    "{\"resourceType\":\"Encounter\",\"id\":\"en1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\"},\"subject\":{\"reference\":"
    "\"urn:uuid:0f8c1d9e-1111-4a2b-9c3d-000000000000\"},\"patient\":{"
    "\"reference\":\"Patient/p2\"},\"contained\":[{\"resourceType\":"
    "\"Location\",\"id\":\"l1\"}],\"location\":[{\"location\":{\"reference\":"
    "\"#l1\"}}]}\n"
    "{\"resourceType\":\"Condition\",\"id\":\"cd1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\"},\"subject\":{\"reference\":"
    "\"Patient/p1\"},\"onsetDateTime\":\"2019\",\"deep\":"
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]}\n"
    "{\"resourceType\":\"Procedure\",\"id\":\"pr1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\"},\"subject\":{\"reference\":"
    "\"Patient/p1\"},\"performedDateTime\":\"2020-05-06T07:08:09Z\","
    "\"big\":1.5e3,\"n\":12345678901234567890}\n"
    "{\"resourceType\":\"Practitioner\",\"id\":\"pt1\",\"meta\":{}}\n"
    "{\"resourceType\":\"Practitioner\",\"id\":\"pt2\"}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"e1\",\"meta\":{"
    "\"lastUpdated\":\"2025-01-01T00:00:00Z\"},\"patient\":{\"reference\":"
    "\"Patient/p1\"},\"total\":[{\"amount\":{\"value\":1}}]}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x1\",\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
    "\"patient\":{\"reference\":\"Patient/p1\"},\"note\":[{\"text\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\u0001\\ud83d\\ude00\"}],\"n\":-0,\"m\":-0.0,\"payment\":{\"amount\":{\"value\":1.50}},\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\",\"code\":\"institutional\"}]},\"item\":[{\"net\":{\"value\":1},\"detail\":[{\"unitPrice\":{\"value\":2},\"subDetail\":[{\"net\":{\"value\":3},\"detail\":[{\"net\":{\"value\":4}}]}]}],\"adjudication\":[{\"category\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/adjudication\",\"code\":\"submitted\"}]},\"amount\":{\"value\":5}},{\"category\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/adjudication\",\"code\":\"copay\"}]},\"extension\":[{\"url\":\"u\"}],\"amount\":{\"value\":1},\"reason\":{},\"value\":2},{\"category\":{\"coding\":[{\"code\":\"denialreason\"}]},\"amount\":{\"value\":0}},{\"category\":{},\"reason\":{\"text\":\"r\"}}]}]}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x2\",\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\",\"profile\":[\"http://x/p\",\"http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Oral\"],\"tag\":[]},"
    "\"payment\":{\"amount\":{\"value\":1},\"date\":\"2020-01-01\"},\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\",\"code\":\"oral\"}]},\"adjudication\":[{\"category\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/adjudication\",\"code\":\"benefit\"}]}}],\"total\":[]}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x3\",\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\",\"profile\":[\"http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Pharmacy-Basis\"]},"
    "\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\",\"code\":\"pharmacy\"}]},\"payment\":{}}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x4\",\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
    "\"use\":\"preauthorization\",\"status\":\"active\",\"created\":\"2024-01-01\",\"preAuthRefPeriod\":[{\"end\":\"2030-01-01\"}],\"item\":[{\"productOrService\":{\"coding\":[{\"system\":\"http://cpt\"}]},\"adjudication\":[{\"category\":{\"coding\":[{\"code\":\"x\"}]},\"extension\":[{\"url\":\"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/extension-reviewAction\",\"extension\":[{\"url\":\"code\",\"valueCodeableConcept\":{\"coding\":[{\"code\":\"A3\"}]}}]},{\"url\":\"extension-reviewActionCode\",\"valueCodeableConcept\":{\"coding\":[{\"code\":\"A1\"}]}}]}]}]}\n"
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x5\",\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
    "\"total\":[],\"item\":[{\"net\":{\"value\":1},\"net\":{\"value\":2}}]}\n"
    /* regression, issue 15 harness: a claim without meta */
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x6\",\"use\":"
    "\"claim\",\"patient\":{\"reference\":\"Patient/p1\"},\"type\":{\"coding\""
    ":[{\"system\":\"http://terminology.hl7.org/CodeSystem/claim-type\","
    "\"code\":\"professional\"}]},\"total\":[]}\n"
    /* a closed PA without meta.lastUpdated (issue 15 point 7) */
    "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x7\",\"use\":"
    "\"preauthorization\",\"status\":\"cancelled\",\"created\":"
    "\"2024-02-03T04:05:06+01:00\",\"patient\":{\"reference\":\"Patient/p1\"}}\n"
    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"meta\":{\"lastUpdated\":"
    "\"2025-02-01T00:00:00Z\"},\"identifier\":[{\"value\":\"v9\"}],"
    "\"name\":[{\"family\":\"New\"}]}\n";

START_TEST(test_odd_lines)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	char			 lo[32];

	time_instant(now_sec(), lo);
	ck_assert_msg(load_text(&db, odd, 1, &st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(st.scanned, 0);
	ck_assert_msg(load_text(&db2, odd, 0, &st, &err) == 0, "%s", err.msg);
	/*
	 * the deep, number and meta-less lines (cd1, pr1, pt1, pt2, x6, x7)
	 * and the claim with a duplicate key (x5) took json-c
	 */
	ck_assert_int_eq(st.scanned, 21 - 6 - 1);
	compare(lo);
}
END_TEST

/*
 * Bad lines: the same error (status, message with the line number)
 * whichever path read the line, and nothing loaded.
 */
static const struct {
	int		 line;
	const char	*text;
	const char	*want;	/* the start of the message */
} bad[] = {
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"a\":1,}\n",
	    "line 2: invalid JSON" },
	{ __LINE__, "\n\n{\"resourceType\":\"Patient\",\"id\":\"a\",}\n",
	    "line 3: invalid JSON" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"b\xc3\"}\n",
	    "line 1: invalid JSON" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"\xed\xa0\x80\"}\n",
	    "line 1: " },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\\u0000\"}\n",
	    "line 1: invalid JSON" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]}\n", "line 1: invalid JSON" },
	{ __LINE__, "[1]\n", "line 1: expected a JSON object" },
	{ __LINE__, "{\"resourceType\":7,\"id\":\"a\"}\n",
	    "line 1: resourceType is missing" },
	{ __LINE__, "{\"resourceType\":\"patient\",\"id\":\"a\"}\n",
	    "line 1: resourceType \"patient\"" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":7}\n",
	    "line 1: Patient: id is not a string" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a b\"}\n",
	    "line 1: Patient: id \"a b\"" },
	{ __LINE__, "{\"resourceType\":\"Patient\"}\n",
	    "line 1: Patient: id is missing" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":[]}\n", "line 1: Patient/a: meta must be an object" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":7}}\n",
	    "line 1: Patient/a: meta.lastUpdated must be a string" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"yesterday\"}}\n",
	    "line 1: Patient/a: meta.lastUpdated \"yesterday\" is not a valid "
	    "FHIR instant" },
	/*
	 * Regression, issue 15 point 6: what the loader stored before and
	 * now refuses, the same way through json-c and the scanner.
	 */
	{ __LINE__, "{\"resourceType\":\"Observaton\",\"id\":\"a\"}\n",
	    "line 1: resourceType \"Observaton\" is not a FHIR R4 resource "
	    "type" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01\"}}\n",
	    "line 1: Patient/a: meta.lastUpdated \"2025-01-01\" is not a valid "
	    "FHIR instant" },
	{ __LINE__, "{\"resourceType\":\"Observation\",\"id\":\"a\","
	    "\"effectiveDateTime\":\"2026-13-45\"}\n",
	    "line 1: Observation/a: effectiveDateTime \"2026-13-45\" is not a "
	    "valid FHIR dateTime" },
	{ __LINE__, "{\"resourceType\":\"Observation\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"effectiveDateTime\":7}\n",
	    "line 1: Observation/a: effectiveDateTime must be a string" },
	{ __LINE__, "{\"resourceType\":\"Observation\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"effectivePeriod\":[{\"start\":\"2024-03\"}]}\n",
	    "line 1: Observation/a: effectivePeriod must be an object" },
	{ __LINE__, "{\"resourceType\":\"Consent\",\"id\":\"a\","
	    "\"dateTime\":\"2026-12-01T00:00:00-99:99\"}\n",
	    "line 1: Consent/a: dateTime \"2026-12-01T00:00:00-99:99\" is not a "
	    "valid FHIR dateTime" },
	{ __LINE__, "{\"resourceType\":\"Encounter\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"subject\":{\"reference\":\"urn:uuid:0000\"}}\n",
	    "line 1: Encounter/a: subject.reference \"urn:uuid:0000\" is not "
	    "a valid reference" },
	{ __LINE__, "{\"resourceType\":\"Encounter\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"participant\":[{\"individual\":{\"reference\":\"Practitionr/"
	    "x\"}}]}\n", "line 1: Encounter/a: participant[0].individual."
	    "reference \"Practitionr/x\" is not a valid reference" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"identifier\":[{\"value\":5}]}\n",
	    "line 1: Patient/a: identifier[0].value must be a string" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"name\":{\"family\":\"x\"}}\n",
	    "line 1: Patient/a: name must be an array" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"name\":[{\"given\":\"notarray\"}]}\n",
	    "line 1: Patient/a: name[0].given must be an array" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"name\":[{\"given\":[\"Mary\",3]}]}\n",
	    "line 1: Patient/a: name[0].given[1] must be a string" },
	{ __LINE__, "{\"resourceType\":\"Coverage\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"beneficiary\":[[{\"reference\":\"Patient/p3\"}]]}\n",
	    "line 1: Coverage/a: beneficiary[0] must be an object" },
	{ __LINE__, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"total\":1,\"adjudication\":[7,null,{\"amount\":1}]}\n",
	    "line 1: ExplanationOfBenefit/a: total must be an array" },
	{ __LINE__, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"adjudication\":[7]}\n",
	    "line 1: ExplanationOfBenefit/a: adjudication[0] must be an object" },
	{ __LINE__, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\",\"profile\":"
	    "[7]}}\n", "line 1: ExplanationOfBenefit/a: meta.profile[0] must be "
	    "a string" },
	{ __LINE__, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"a\","
	    "\"use\":\"preauthorization\",\"item\":{\"productOrService\":{"
	    "\"coding\":[{\"code\":\"J0135\"}]}}}\n",
	    "line 1: ExplanationOfBenefit/a: item must be an array" },
	{ __LINE__, "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"a\","
	    "\"meta\":{\"lastUpdated\":\"2025-01-01T00:00:00Z\"},"
	    "\"item\":[{\"extension\":[{\"valueString\":\"x\"}]}]}\n",
	    "line 1: ExplanationOfBenefit/a: item[0].extension[0] needs a url" },
	{ __LINE__, "{\"resourceType\":\"Encounter\",\"id\":\"a\","
	    "\"contained\":[{\"resourceType\":\"Locaton\",\"id\":\"l\"}]}\n",
	    "line 1: Encounter/a: contained[0] resourceType \"Locaton\" is not "
	    "a FHIR R4 resource type" },
	{ __LINE__, "{\"resourceType\":\"Patient\",\"id\":\"a\","
	    "\"birthDate\":\"bad\",\"birthDate\":\"1990-01-01\","
	    "\"gender\":7}\n", "line 1: Patient/a: gender must be a string" },
	{ __LINE__, "{\"resourceType\":\"Bundle\",\"id\":\"a\"}\n",
	    "line 1: Bundle/a: a Bundle cannot be stored" },
};

static long long
count_rows(struct p2p_db *d)
{
	struct db_stmt	*st;
	long long	 n;

	ck_assert_int_eq(db_prepare(d, "SELECT (SELECT count(*) "
	    "FROM resource) + (SELECT count(*) FROM ident) + (SELECT count(*)"
	    " FROM demog)", &st, NULL), 0);
	ck_assert_int_eq(db_step(st), DB_ROW);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

START_TEST(test_bad_lines)
{
	struct load_stats	 st;
	struct p2p_err		 e1, e2;

	ck_assert_int_eq(load_text(&db, bad[_i].text, 1, &st, &e1), -1);
	ck_assert_int_eq(load_text(&db2, bad[_i].text, 0, &st, &e2), -1);
	ck_assert_msg(strncmp(e2.msg, bad[_i].want, strlen(bad[_i].want)) == 0,
	    "line %d: got \"%s\"", bad[_i].line, e2.msg);
	ck_assert_int_eq(e1.status, e2.status);
	ck_assert_int_eq(e1.issue, e2.issue);
	ck_assert_str_eq(e1.msg, e2.msg);
	ck_assert_str_eq(e1.expr, e2.expr);
	ck_assert_int_eq(count_rows(&db2), 0);
}
END_TEST

/*
 * Differential: lines of the generated history with random damage
 * (bytes changed, dropped or inserted: quotes, braces, backslashes,
 * UTF-8 fragments, digits), each loaded as a file of its own through
 * both paths.  The same outcome every time (the same error, or loaded),
 * and in the end the same tables.
 */
START_TEST(test_damaged_lines)
{
	static const char	 pieces[] = "\"{}[],:\\\x80\xc3\xe2\xed\xf0"
				    "0-.eEtn u/";
	struct gen_stats	 gs;
	struct load_stats	 st;
	struct p2p_err		 e1, e2;
	char			*text = NULL, *line, lo[32];
	size_t			 size = 0, n, len, pos;
	unsigned long		 rng = 12345;
	FILE			*f;
	int			 i, k, r1, r2, ok = 0;

	time_instant(now_sec(), lo);
	ck_assert_ptr_nonnull(f = open_memstream(&text, &size));
	generate(f, 3, 7, 2, &gs);
	fclose(f);
	p2p_err_init(&e1);
	line = malloc(size + 64);
	ck_assert_ptr_nonnull(line);
	for (i = 0; i < 1500; i++) {
		/* a random line of the file */
		rng = rng * 6364136223846793005UL + 1442695040888963407UL;
		pos = (size_t)(rng >> 33) % size;
		while (pos > 0 && text[pos - 1] != '\n')
			pos--;
		len = strcspn(text + pos, "\n");
		memcpy(line, text + pos, len);
		/* one to three changes */
		for (k = 0; k <= (int)((rng >> 20) % 3); k++) {
			rng = rng * 6364136223846793005UL +
			    1442695040888963407UL;
			n = (size_t)(rng >> 33) % (len + 1);
			switch ((rng >> 16) % 3) {
			case 0:		/* change a byte */
				if (n < len)
					line[n] = pieces[(rng >> 8) %
					    (sizeof(pieces) - 1)];
				break;
			case 1:		/* drop one */
				if (n < len) {
					memmove(line + n, line + n + 1,
					    len - n - 1);
					len--;
				}
				break;
			default:	/* insert one */
				memmove(line + n + 1, line + n, len - n);
				line[n] = pieces[(rng >> 8) %
				    (sizeof(pieces) - 1)];
				len++;
				break;
			}
		}
		line[len] = '\0';
		if (strchr(line, '\n') != NULL || len == 0)
			continue;
		r1 = load_text(&db, line, 1, &st, &e1);
		r2 = load_text(&db2, line, 0, &st, &e2);
		ck_assert_msg(r1 == r2, "tree %d fast %d: %s", r1, r2, line);
		if (r1 == -1) {
			ck_assert_int_eq(e1.status, e2.status);
			ck_assert_str_eq(e1.msg, e2.msg);
			ck_assert_str_eq(e1.expr, e2.expr);
		} else
			ok++;
	}
	free(line);
	free(text);
	/* some damage is harmless: those lines loaded */
	ck_assert_int_gt(ok, 50);
	compare(lo);
}
END_TEST

/* --- a first load into empty tables (store/firstload.h) ------------- */

static struct p2p_db	 fdb;		/* a database file, in WAL mode */
static char		 fdir[] = "/tmp/check_firstload.XXXXXX";

static void
file_setup(void)
{
	struct p2p_err	 err;

	setup();
	p2p_err_init(&err);
	ck_assert_ptr_nonnull(mkdtemp(fdir));
	ck_assert_int_eq(db_open(&fdb, unit_path(fdir, "p2p.db"), 1, &err), 0);
	ck_assert_int_eq(db_migrate(&fdb, &err), 0);
}

static void
file_teardown(void)
{
	static const char *const files[] = { "p2p.db", "p2p.db-wal",
	    "p2p.db-shm", "p2p.db-journal", NULL };
	const char *const	*f;

	db_close(&fdb);
	for (f = files; *f != NULL; f++)
		(void)unlink(unit_path(fdir, *f));
	ck_assert_int_eq(rmdir(fdir), 0);
	memcpy(fdir + strlen(fdir) - 6, "XXXXXX", 6);
	teardown();
}

/* The generated history of members (seed 1) as ndjson text, malloc'd. */
static char *
history(unsigned long long members)
{
	struct gen_stats	 gs;
	char			*text = NULL;
	size_t			 size = 0;
	FILE			*f;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &size));
	generate(f, members, 1, 7, &gs);
	fclose(f);
	ck_assert_uint_gt(size, 10000);
	return text;
}

/* text with its first n lines appended again (a malloc'd copy). */
static char *
repeated(const char *text, int n)
{
	const char	*end = text;
	char		*out;
	size_t		 len = strlen(text), head;

	while (n-- > 0 && (end = strchr(end, '\n')) != NULL)
		end++;
	ck_assert_ptr_nonnull(end);
	head = (size_t)(end - text);
	ck_assert_ptr_nonnull(out = malloc(len + head + 1));
	memcpy(out, text, len);
	memcpy(out + len, text, head);
	out[len + head] = '\0';
	return out;
}

/* Every schema object (the indexes' CREATE text included), in order. */
static void
schema(struct p2p_db *d, struct p2p_buf *out)
{
	struct db_stmt	*st;
	const char	*sql;
	int		 rc;

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(db_prepare(d, "SELECT type, name, "
	    "tbl_name, sql FROM sqlite_master ORDER BY type, name", &st,
	    NULL), 0);
	while ((rc = db_step(st)) == DB_ROW) {
		sql = db_col_text(st, 3);
		buf_printf(out, "%s %s %s: %s\n", db_col_text(st, 0),
		    db_col_text(st, 1), db_col_text(st, 2),
		    sql ? sql : "NULL");
	}
	ck_assert_int_eq(rc, DB_DONE);
	db_finalize(st);
	buf_puts(out, "");
	ck_assert_ptr_nonnull(strstr(out->p, "index ident_value ident: "));
}

static void
same_schema(struct p2p_db *a, struct p2p_db *b)
{
	struct p2p_buf	 x, y;

	size_t		 i;

	schema(a, &x);
	schema(b, &y);
	for (i = 0; x.p[i] != '\0' && x.p[i] == y.p[i]; i++)
		continue;
	ck_assert_msg(x.p[i] == y.p[i], "schemas differ: \"%.200s\" "
	    "against \"%.200s\"", x.p + i, y.p + i);
	buf_free(&x);
	buf_free(&y);
}

/* PRAGMA journal_mode, into a static buffer. */
static const char *
journal_mode(struct p2p_db *d)
{
	static char	 mode[16];
	struct db_stmt	*st;

	ck_assert_int_eq(db_prepare(d, "PRAGMA journal_mode", &st, NULL), 0);
	ck_assert_int_eq(db_step(st), DB_ROW);
	snprintf(mode, sizeof(mode), "%s", db_col_text(st, 0));
	db_finalize(st);
	return mode;
}

static void
intact(struct p2p_db *d)
{
	struct db_stmt	*st;

	ck_assert_int_eq(db_prepare(d, "PRAGMA integrity_check", &st, NULL),
	    0);
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_str_eq(db_col_text(st, 0), "ok");
	db_finalize(st);
}

/* A lookup through each secondary index the first load builds. */
static const char *const index_queries[] = {
	"SELECT rid FROM resource WHERE patient = 'p' AND type = 'Coverage'",
	"SELECT rid FROM ident WHERE value = 'v' AND kind = 1",
	"SELECT kind FROM ident WHERE rid = 1",
	"SELECT rid FROM demog WHERE birth_date = '1990-01-01'"
	    " AND family = 'F'",
	"SELECT family FROM demog WHERE rid = 1",
	"SELECT rid FROM demog WHERE patient = 'p'",
	NULL,
};

/*
 * The history loaded into empty tables through the first-load path
 * (db) and the ordinary one (db2, P2P_LOAD_NOFIRST): the same rows in
 * every table, the same schema as a fresh database, intact indexes
 * that the lookups use.  _i = 1: the file repeats its first 300 lines
 * (a replaced row builds the indexes mid-load, the rest goes into them).
 */
START_TEST(test_first_same)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	struct p2p_db		 fresh;
	char			*text, *t, lo[32];

	time_instant(now_sec(), lo);
	text = history(150);
	t = _i ? repeated(text, 300) : text;
	ck_assert_msg(load_as(&db, t, LOAD_NDJSON, 0, &st, &err) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(st.first, 1);
	ck_assert_int_gt(st.resources, 5000);
	ck_assert_msg(load_as(&db2, t, LOAD_NDJSON, 1, &st, &err) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(st.first, 0);
	compare(lo);
	unit_db_open(&fresh);
	same_schema(&db, &fresh);
	same_schema(&db2, &fresh);
	db_close(&fresh);
	intact(&db);
	unit_plans_indexed(&db, index_queries);
	/* the indexes answer as the ordinary load's do */
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM ident i JOIN "
	    "demog d ON d.patient = i.patient WHERE i.kind = 1"),
	    unit_int(&db2, "SELECT count(*) FROM ident i JOIN demog d ON "
	    "d.patient = i.patient WHERE i.kind = 1"));
	if (t != text)
		free(t);
	free(text);
}
END_TEST

/*
 * The first load drops each index by its name quoted as an identifier:
 * an index named with a double quote is dropped and built again (quoted
 * wrongly, its DROP INDEX would not parse and the load would fail).
 */
START_TEST(test_first_quoted_index)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	char			*text;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&db, "CREATE INDEX \"odd\"\"name\" ON"
	    " resource (dos)", &err), 0);
	text = history(20);
	ck_assert_msg(load_as(&db, text, LOAD_NDJSON, 0, &st, &err) == 0,
	    "%s", err.msg);
	ck_assert_int_eq(st.first, 1);
	ck_assert_int_eq(unit_int(&db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'index' AND name = 'odd\"name'"), 1);
	intact(&db);
	free(text);
}
END_TEST

/*
 * A first load that fails (a bad last line; _i & 1: after a repeated
 * row built the indexes mid-load) leaves the database as it was: no
 * row, every index, WAL mode (_i & 2: a database file, taken out of WAL
 * for the load).  The same file without the bad line then loads.
 */
START_TEST(test_first_failed)
{
	struct p2p_db		*d = (_i & 2) ? &fdb : &db;
	struct load_stats	 st;
	struct p2p_err		 err;
	struct p2p_buf		 before, after;
	char			*text, *t, *broken, lo[32], hi[32], mode[16];
	size_t			 len;

	time_instant(now_sec(), lo);
	text = history(20);
	t = (_i & 1) ? repeated(text, 10) : text;
	len = strlen(t);
	ck_assert_ptr_nonnull(broken = malloc(len + 64));
	snprintf(broken, len + 64, "%s{\"resourceType\":\"Nope\",\"id\":\"x\"}\n",
	    t);
	snprintf(mode, sizeof(mode), "%s", journal_mode(d));
	ck_assert_str_eq(mode, (_i & 2) ? "wal" : "memory");
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	time_instant(now_sec(), hi);
	dump(d, &before, lo, hi);
	ck_assert_int_eq(load_as(d, broken, LOAD_NDJSON, 0, &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "Nope"));
	ck_assert_int_eq(count_rows(d), 0);
	dump(d, &after, lo, hi);
	same(&before, &after);
	same_schema(d, &db2);
	ck_assert_str_eq(journal_mode(d), mode);
	intact(d);
	ck_assert_msg(load_as(d, t, LOAD_NDJSON, 0, &st, &err) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(st.first, 1);
	ck_assert_int_gt(count_rows(d), 500);
	same_schema(d, &db2);
	ck_assert_str_eq(journal_mode(d), mode);
	intact(d);
	buf_free(&before);
	buf_free(&after);
	free(broken);
	if (t != text)
		free(t);
	free(text);
}
END_TEST

/*
 * Only an ndjson load into empty tables takes the first-load path: a
 * second load goes the ordinary way (and leaves what the ordinary way
 * does), as does a Bundle into empty tables.
 */
START_TEST(test_first_once)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	struct p2p_db		 d3;
	char			*text, *half, lo[32];

	time_instant(now_sec(), lo);
	text = history(40);
	/* the header and the first members; then the whole file */
	ck_assert_ptr_nonnull(half = strdup(text));
	half[strchr(text + strlen(text) / 2, '\n') + 1 - text] = '\0';
	ck_assert_int_eq(load_as(&db, half, LOAD_NDJSON, 0, &st, &err), 0);
	ck_assert_int_eq(st.first, 1);
	ck_assert_int_eq(load_as(&db, text, LOAD_AUTO, 0, &st, &err), 0);
	ck_assert_int_eq(st.first, 0);
	ck_assert_int_eq(load_as(&db2, half, LOAD_NDJSON, 1, &st, &err), 0);
	ck_assert_int_eq(load_as(&db2, text, LOAD_AUTO, 1, &st, &err), 0);
	compare(lo);
	same_schema(&db, &db2);
	intact(&db);

	unit_db_open(&d3);
	ck_assert_msg(load_file(&d3, unit_seed(), 0, &st, &err) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(st.first, 0);
	ck_assert_int_gt(st.resources, 0);
	same_schema(&d3, &db2);
	intact(&d3);
	db_close(&d3);
	free(half);
	free(text);
}
END_TEST

/*
 * The database file stays in WAL mode when another connection has it
 * open (the indexes are still deferred), and a database an interrupted
 * first load left in rollback-journal mode is put back in WAL by the
 * next load.
 */
START_TEST(test_first_journal)
{
	struct load_stats	 st;
	struct p2p_err		 err;
	struct p2p_db		 reader;
	char			*text;

	text = history(10);
	p2p_err_init(&err);
	ck_assert_int_eq(db_open(&reader, unit_path(fdir, "p2p.db"), 0, &err),
	    0);
	ck_assert_int_eq(unit_int(&reader, "SELECT count(*) FROM resource"), 0);
	ck_assert_msg(load_as(&fdb, text, LOAD_NDJSON, 0, &st, &err) == 0,
	    "%s", err.msg);
	ck_assert_int_eq(st.first, 1);
	ck_assert_str_eq(journal_mode(&fdb), "wal");
	ck_assert_int_eq(unit_int(&reader, "SELECT count(*) FROM resource"),
	    st.resources);
	same_schema(&reader, &db2);
	db_close(&reader);

	ck_assert_int_eq(db_exec(&fdb, "PRAGMA journal_mode = DELETE", &err),
	    0);
	ck_assert_str_eq(journal_mode(&fdb), "delete");
	ck_assert_msg(load_as(&fdb, text, LOAD_NDJSON, 0, &st, &err) == 0,
	    "%s", err.msg);
	ck_assert_int_eq(st.first, 0);
	ck_assert_str_eq(journal_mode(&fdb), "wal");
	intact(&fdb);
	free(text);
}
END_TEST

/*
 * A database a dead load left in rollback-journal mode is put back in
 * WAL by the next process that opens it (a server's db_open()); not
 * while another connection keeps it busy.
 */
START_TEST(test_open_restores_wal)
{
	struct p2p_err	 err;
	struct p2p_db	 server, other;

	p2p_err_init(&err);
	ck_assert_int_eq(db_exec(&fdb, "PRAGMA journal_mode = DELETE", &err),
	    0);
	ck_assert_str_eq(journal_mode(&fdb), "delete");
	/* busy: a write transaction of the "load" holds the database */
	ck_assert_int_eq(db_exec(&fdb, "BEGIN IMMEDIATE", &err), 0);
	ck_assert_int_eq(db_open(&other, unit_path(fdir, "p2p.db"), 0, &err),
	    0);
	ck_assert_str_eq(journal_mode(&other), "delete");
	db_close(&other);
	db_rollback(&fdb);
	db_close(&fdb);
	ck_assert_int_eq(db_open(&server, unit_path(fdir, "p2p.db"), 0, &err),
	    0);
	ck_assert_str_eq(journal_mode(&server), "wal");
	db_close(&server);
	ck_assert_int_eq(db_open(&fdb, unit_path(fdir, "p2p.db"), 0, &err), 0);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_CASE("scan", NULL, NULL, 0),
		UNIT_TABLE(test_refused, refused),
		UNIT_TEST(test_depth),
		UNIT_TEST(test_values),
		UNIT_TEST(test_written),
		UNIT_CASE("load", setup, teardown, 600),
		UNIT_TEST(test_same_database),
		UNIT_TEST(test_odd_lines),
		UNIT_TEST(test_damaged_lines),
		UNIT_TABLE(test_bad_lines, bad),
		UNIT_CASE("first", file_setup, file_teardown, 600),
		UNIT_LOOP(test_first_same, 2),
		UNIT_TEST(test_first_quoted_index),
		UNIT_LOOP(test_first_failed, 4),
		UNIT_TEST(test_first_once),
		UNIT_TEST(test_first_journal),
		UNIT_TEST(test_open_restores_wal),
	};

	return unit_run(unit_tests("loadfast", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
