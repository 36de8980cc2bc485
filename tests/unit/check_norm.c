/* Unit tests for norm.c and secret.c. */
#include <check.h>
#include <string.h>

#include "member/norm.h"
#include "auth/secret.h"
#include "unit.h"

/* Names and their normal form. */
static const struct unit_case names[] = {
	{ "Johnson", "johnson", __LINE__ },
	{ "JOHNSON", "johnson", __LINE__ },
	{ "Jos\xc3\xa9", "jose", __LINE__ },			/* José */
	{ "M\xc3\xbcller-L\xc3\xbc\x64\x65nscheidt", "mullerludenscheidt", __LINE__ },
	{ "O'Brien", "obrien", __LINE__ },
	{ "Mary Ann", "maryann", __LINE__ },
	{ "\xc5\x81ukasz", "lukasz", __LINE__ },		/* Łukasz */
	{ "Fran\xc3\xa7oise", "francoise", __LINE__ },	/* Françoise */
	{ "\xc3\x98ystein", "oystein", __LINE__ },		/* Øystein */
	{ "", "", __LINE__ },
};

START_TEST(test_names)
{
	char	 out[64];

	norm_name(names[_i].in, out, sizeof(out));
	ck_assert_msg(strcmp(out, names[_i].want) == 0, "line %d: %s",
	    names[_i].line, out);
}
END_TEST

START_TEST(test_truncation)
{
	char	 out[4];

	ck_assert_uint_eq(norm_name("abcdef", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(test_gender)
{
	ck_assert_str_eq(norm_gender("MALE"), "male");
	ck_assert_str_eq(norm_gender("F"), "female");
	ck_assert_str_eq(norm_gender(NULL), "");
	ck_assert_str_eq(norm_gender("x"), "");
}
END_TEST

START_TEST(test_secret)
{
	char	 h1[SECRET_HASH_MAX], h2[SECRET_HASH_MAX];

	ck_assert_int_eq(secret_hash("test-payer-secret", h1), 0);
	ck_assert_int_eq(secret_hash("test-payer-secret", h2), 0);
	ck_assert_str_ne(h1, h2);	/* salted */
	ck_assert(strstr(h1, "test-payer-secret") == NULL);
	ck_assert(secret_verify("test-payer-secret", h1));
	ck_assert(secret_verify("test-payer-secret", h2));
	ck_assert(!secret_verify("test-payer-secreT", h1));
	ck_assert(!secret_verify("", h1));
	ck_assert(!secret_verify("test-payer-secret", "plain"));
	ck_assert(!secret_verify("test-payer-secret", "pbkdf2-sha256$1$00$00"));
	ck_assert(!secret_verify(NULL, h1));
	h1[strlen(h1) - 1] ^= 1;	/* tampered hash */
	ck_assert(!secret_verify("test-payer-secret", h1));
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TABLE(test_names, names),
		UNIT_TEST(test_truncation),
		UNIT_TEST(test_gender),
		UNIT_TEST(test_secret),
	};

	return unit_run(unit_tests("norm", NULL, NULL, 30, tests,
	    UNIT_N(tests)));
}
