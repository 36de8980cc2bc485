/* Unit tests for util.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "unit.h"

START_TEST(test_buf)
{
	struct p2p_buf	 b = { 0 };
	int		 i;

	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_printf(&b, "%d,", i), 0);
	ck_assert_uint_eq(strlen(b.p), b.len);
	ck_assert(strncmp(b.p, "0,1,2,", 6) == 0);
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.p, "");
	buf_free(&b);
}
END_TEST

START_TEST(test_b64url_roundtrip)
{
	unsigned char	 in[40], *out;
	char		 enc[80];
	size_t		 n, len;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(n * 37 + 250);
	for (n = 0; n <= sizeof(in); n++) {
		b64url_encode(in, n, enc);
		ck_assert(strchr(enc, '=') == NULL);
		ck_assert(strchr(enc, '+') == NULL);
		out = b64_decode(enc, strlen(enc), &len);
		ck_assert_ptr_nonnull(out);
		ck_assert_uint_eq(len, n);
		ck_assert(memcmp(in, out, n) == 0);
		free(out);
	}
	/* Standard alphabet with padding decodes too. */
	out = b64_decode("dGVzdC1wYXllci1jbGllbnQ6dGVzdC1wYXllci1zZWNyZXQ=", 48, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert(len == 35 && memcmp(out, "test-payer-client:test-payer-secret", 35) == 0);
	free(out);
	ck_assert_ptr_null(b64_decode("a", 1, &len));
	ck_assert_ptr_null(b64_decode("ab$d", 4, &len));
}
END_TEST

/* ok: the precision time_parse_prec() returns, or -1 for a refusal */
static const struct {
	const char	*in;
	int		 end;
	int		 ok;
	long long	 t;
	int		 line;
} times[] = {
	{ "2026-01-02", 0, TIME_DAY, 1767312000LL, __LINE__ },
	{ "2026-01-02", 1, TIME_DAY, 1767398399LL, __LINE__ },
	{ "2026", 0, TIME_YEAR, 1767225600LL, __LINE__ },
	{ "2026-02", 1, TIME_MONTH, 1772323199LL, __LINE__ },
	{ "2026-01-02T03:04:05Z", 0, TIME_SECOND, 1767323045LL, __LINE__ },
	{ "2026-01-02T03:04:05.123+01:00", 0, TIME_SECOND, 1767319445LL,
	  __LINE__ },
	{ "2026-01-02T03:04:05", 0, -1, 0, __LINE__ },	/* no zone */
	{ "2026-13-01", 0, -1, 0, __LINE__ },
	{ "2026-02-30", 0, -1, 0, __LINE__ },
	{ "2026-1-1", 0, -1, 0, __LINE__ },
	{ "", 0, -1, 0, __LINE__ },
	{ "20x6", 0, -1, 0, __LINE__ },
	{ "2026-01-02X", 0, -1, 0, __LINE__ },
	{ "0000-01-01", 0, -1, 0, __LINE__ },	/* no year 0 in FHIR */
	{ "2026-13-45", 0, -1, 0, __LINE__ },
	{ "yesterday", 0, -1, 0, __LINE__ },
	/* time zone offsets: -14:00 to +14:00, minutes below 60 */
	{ "2026-12-01T00:00:00+14:00", 0, TIME_SECOND, 1796032800LL,
	  __LINE__ },
	{ "2026-12-01T00:00:00-14:00", 0, TIME_SECOND, 1796133600LL,
	  __LINE__ },
	{ "2026-12-01T00:00:00-13:59", 0, TIME_SECOND, 1796133540LL,
	  __LINE__ },
	{ "2026-12-01T00:00:00-00:00", 0, TIME_SECOND, 1796083200LL,
	  __LINE__ },
	/* regression: issue 15 point 5, a consent valid days too long */
	{ "2026-12-01T00:00:00-99:99", 1, -1, 0, __LINE__ },
	{ "2026-12-01T00:00:00+14:01", 0, -1, 0, __LINE__ },
	{ "2026-12-01T00:00:00-15:00", 0, -1, 0, __LINE__ },
	{ "2026-12-01T00:00:00+05:60", 0, -1, 0, __LINE__ },
	{ "2026-12-01T00:00:00+5:00", 0, -1, 0, __LINE__ },
	{ "2026-12-01T00:00:00+05:00Z", 0, -1, 0, __LINE__ },
	{ "2026-12-01T24:00:00Z", 0, -1, 0, __LINE__ },
	{ "2016-12-31T23:59:60Z", 0, TIME_SECOND, 1483228800LL, __LINE__ },
};

START_TEST(test_time_parse)
{
	time_t	 t;
	int	 rc = time_parse_prec(times[_i].in, times[_i].end, &t);

	ck_assert_msg(rc == times[_i].ok, "line %d: %s: %d",
	    times[_i].line, times[_i].in, rc);
	ck_assert_int_eq(time_parse(times[_i].in, times[_i].end, &t),
	    rc == -1 ? -1 : 0);
	if (times[_i].ok != -1)
		ck_assert_msg((long long)t == times[_i].t, "line %d: %lld",
		    times[_i].line, (long long)t);
}
END_TEST

/* FHIR R4 date, strictly: what $member-match accepts as birthDate. */
static const struct {
	const char	*in;
	int		 prec;		/* 0: refused */
	int		 line;
} dates[] = {
	{ "1999", 1, __LINE__ },
	{ "1999-02", 2, __LINE__ },
	{ "1999-02-28", 3, __LINE__ },
	{ "2000-02-29", 3, __LINE__ },		/* leap: divisible by 400 */
	{ "0001-01-01", 3, __LINE__ },
	{ "9999-12-31", 3, __LINE__ },
	{ "1900-02-29", 0, __LINE__ },		/* not leap: by 100 */
	{ "1999-02-29", 0, __LINE__ },
	{ "1999-04-31", 0, __LINE__ },
	{ "1999-00-10", 0, __LINE__ },
	{ "1999-13-01", 0, __LINE__ },
	{ "1999-01-00", 0, __LINE__ },
	{ "0000", 0, __LINE__ },
	{ "0000-00-00T00:00:00", 0, __LINE__ },	/* issue 15.3 */
	{ "1999-01-01T00:00:00Z", 0, __LINE__ },	/* a dateTime */
	{ "1999-01-01Z", 0, __LINE__ },
	{ "1999-1-01", 0, __LINE__ },
	{ "1999-01-1", 0, __LINE__ },
	{ "999", 0, __LINE__ },
	{ "19999", 0, __LINE__ },
	{ "1999-", 0, __LINE__ },
	{ "1999-01-", 0, __LINE__ },
	{ " 1999", 0, __LINE__ },
	{ "1999-01-01 ", 0, __LINE__ },
	{ "+999-01-01", 0, __LINE__ },
	{ "", 0, __LINE__ },
};

START_TEST(test_time_date_valid)
{
	ck_assert_msg(time_date_valid(dates[_i].in) == dates[_i].prec,
	    "line %d: %s", dates[_i].line, dates[_i].in);
	ck_assert_int_eq(time_date_valid(NULL), 0);
}
END_TEST

START_TEST(test_time_format)
{
	char	 buf[32];

	time_instant(1767323045, buf);
	ck_assert_str_eq(buf, "2026-01-02T03:04:05Z");
	time_date(1767323045, buf);
	ck_assert_str_eq(buf, "2026-01-02");
	/* Regression (fuzz_time, corpus regress-year-20): years before
	   1000 keep four digits, or _since=0020-01-01T00:00:00Z would be
	   stored as "20-01-01..." and compare wrongly as text. */
	time_instant(-61536067200LL, buf);
	ck_assert_str_eq(buf, "0020-01-01T00:00:00Z");
	time_date(-61536067200LL, buf);
	ck_assert_str_eq(buf, "0020-01-01");
}
END_TEST

/* RFC 3629, shared by fhir_parse() and the JSON scanner. */
START_TEST(test_utf8_len)
{
	static const struct {
		const char	*s;
		size_t		 want;
	} t[] = {
		{ "a", 1 }, { "\xc3\xa9", 2 }, { "\xe2\x82\xac", 3 },
		{ "\xf0\x9f\x98\x80", 4 }, { "\xf4\x8f\xbf\xbf", 4 },
		{ "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },	/* overlong */
		{ "\xe0\x80\xaf", 0 }, { "\xf0\x80\x80\xaf", 0 },
		{ "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 },	/* surrogates */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },
		{ "\x80", 0 }, { "\xff", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 },
		{ "\xc3(", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(utf8_len((const unsigned char *)t[i].s,
		    strlen(t[i].s)) == t[i].want, "case %zu", i);
}
END_TEST

START_TEST(test_kv_parse)
{
	struct p2p_kvlist	 l;
	const char		*q = "a=1&b=x%20y+z&&c&_type=Patient%2CCoverage&a=2";

	ck_assert_int_eq(kv_parse(&l, q, strlen(q), 1, 16), 0);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_str_eq(kv_get(&l, "a"), "1");
	ck_assert_uint_eq(kv_count(&l, "a"), 2);
	ck_assert_str_eq(kv_get(&l, "b"), "x y z");
	ck_assert_str_eq(kv_get(&l, "c"), "");
	ck_assert_str_eq(kv_get(&l, "_type"), "Patient,Coverage");
	ck_assert_ptr_null(kv_get(&l, "d"));
	kv_free(&l);
	/* Bad escapes, embedded NUL and too many pairs are refused. */
	ck_assert_int_eq(kv_parse(&l, "a=%zz", 5, 1, 16), -1);
	ck_assert_int_eq(kv_parse(&l, "a=%00", 5, 1, 16), -1);
	ck_assert_int_eq(kv_parse(&l, "a&b&c", 5, 1, 2), -1);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

START_TEST(test_parse_ll)
{
	long long	 v;

	ck_assert_int_eq(parse_ll("42", 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(parse_ll("101", 0, 100, &v), -1);
	ck_assert_int_eq(parse_ll("4x", 0, 100, &v), -1);
	ck_assert_int_eq(parse_ll(" 4", 0, 100, &v), -1);
	ck_assert_int_eq(parse_ll("", 0, 100, &v), -1);
	ck_assert_int_eq(parse_ll("99999999999999999999", 0, 100, &v), -1);
}
END_TEST

START_TEST(test_rand_hex)
{
	char	 a[33], b[33];

	ck_assert_int_eq(rand_hex(a, 16), 0);
	ck_assert_int_eq(rand_hex(b, 16), 0);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
}
END_TEST

START_TEST(test_hex_decode)
{
	unsigned char	 out[4];

	ck_assert_int_eq(hex_decode("00fFa5", 3, out), 0);
	ck_assert(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xa5);
	ck_assert_int_eq(hex_decode("0g", 1, out), -1);
	ck_assert_int_eq(hex_decode("1", 1, out), -1);	/* NUL is not hex */
}
END_TEST

START_TEST(test_url_encode)
{
	struct p2p_buf	 b = { 0 };

	url_encode(&b, "hl7.fhir.us.davinci-pdex#payertopayer a/b");
	ck_assert_str_eq(b.p, "hl7.fhir.us.davinci-pdex%23payertopayer%20a%2Fb");
	buf_free(&b);
}
END_TEST

START_TEST(test_array_grow)
{
	int	*v = NULL;
	size_t	 cap = 0, n;

	for (n = 0; n < 100; n++) {
		ck_assert_int_eq(array_grow(&v, n, &cap, sizeof(*v), 4), 0);
		ck_assert(cap > n);
		v[n] = (int)n;
	}
	ck_assert_uint_eq(cap, 128);		/* 4, 8, ..., 128 */
	for (n = 0; n < 100; n++)
		ck_assert_int_eq(v[n], (int)n);
	/* a size that cannot be allocated leaves the array as it was */
	ck_assert_int_eq(array_grow(&v, cap, &cap, SIZE_MAX / 2, 4), -1);
	ck_assert_uint_eq(cap, 128);
	free(v);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_buf),
		UNIT_TEST(test_b64url_roundtrip),
		UNIT_TABLE(test_time_parse, times),
		UNIT_TABLE(test_time_date_valid, dates),
		UNIT_TEST(test_time_format),
		UNIT_TEST(test_utf8_len),
		UNIT_TEST(test_kv_parse),
		UNIT_TEST(test_parse_ll),
		UNIT_TEST(test_rand_hex),
		UNIT_TEST(test_url_encode),
		UNIT_TEST(test_hex_decode),
		UNIT_TEST(test_array_grow),
	};

	return unit_run(unit_tests("util", NULL, NULL, 0, tests,
	    UNIT_N(tests)));
}
