/* Unit tests for config.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static char	 dir[] = "/tmp/p2p-check-config-XXXXXX";

static const char *
write_conf(const char *text)
{
	static char	 path[256];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/p2p.conf", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_defaults_and_paths)
{
	struct p2p_config	 c;
	struct p2p_err		 err;
	char			 want[PATH_MAX + 16];

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf(
	    "# comment\nbase_url = http://example.org:9/\n"
	    "database = db/x.db\noutput_dir = /srv/bulk\ntoken_ttl = 120\n"),
	    &err), 0);
	ck_assert_str_eq(c.base_url, "http://example.org:9");
	ck_assert_str_eq(c.fhir_base, "http://example.org:9/fhir");
	ck_assert_str_eq(c.token_url, "http://example.org:9/auth/token");
	snprintf(want, sizeof(want), "%s/db/x.db", c.data_dir);
	ck_assert_str_eq(c.database, want);
	ck_assert_str_eq(c.output_dir, "/srv/bulk");
	ck_assert_int_eq(c.token_ttl, 120);
	ck_assert_int_eq(c.data_years, 5);		/* default */
	ck_assert_int_eq(c.db_cache_mib, 32);
	ck_assert_int_eq(c.db_page_size, 16384);
	ck_assert_int_eq(c.allow_basic_api, 0);		/* off by default */
	ck_assert_int_eq(c.allow_legacy_consentless, 0);
}
END_TEST

static const struct {
	const char	*text;
	const char	*want;
	int		 line;
} bad[] = {
	{ "nokey\n", "expected key = value", __LINE__ },
	{ "colour = blue\n", "unknown key \"colour\"", __LINE__ },
	{ "token_ttl = 5\n", "token_ttl must be an integer", __LINE__ },
	{ "token_ttl = 12x\n", "token_ttl must be an integer", __LINE__ },
	{ "\n\nmax_body = -1\n", ":3: max_body", __LINE__ },
	{ "db_cache_mib = 0\n", "db_cache_mib must be an integer", __LINE__ },
	{ "db_page_size = 5000\n", "a power of two", __LINE__ },
	{ "db_page_size = 1024\n", "from 4096 to 65536", __LINE__ },
};

START_TEST(test_bad)
{
	struct p2p_config	 c;
	struct p2p_err		 err;

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf(bad[_i].text), &err), -1);
	ck_assert_msg(strstr(err.msg, bad[_i].want) != NULL, "line %d: %s",
	    bad[_i].line, err.msg);
}
END_TEST

START_TEST(test_write_read_back)
{
	struct p2p_config	 c, d;
	struct p2p_err		 err;
	char			 path[256];

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf("org_npi = 5555555555\n"),
	    &err), 0);
	c.job_ttl = 777;
	snprintf(path, sizeof(path), "%s/p2p.conf", dir);
	ck_assert_int_eq(config_write(&c, path), 0);
	ck_assert_int_eq(config_load(&d, path, &err), 0);
	ck_assert_int_eq(d.job_ttl, 777);
	ck_assert_str_eq(d.org_npi, "5555555555");
	ck_assert_str_eq(d.database, c.database);
}
END_TEST

START_TEST(test_missing_file)
{
	struct p2p_config	 c;
	struct p2p_err		 err;

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, "/nonexistent/p2p.conf", &err), -1);
	ck_assert(strstr(err.msg, "/nonexistent/p2p.conf") != NULL);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");
	SRunner	*sr;
	int	 nf;

	if (mkdtemp(dir) == NULL)
		return 1;
	tcase_add_test(tc, test_defaults_and_paths);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_write_read_back);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			nf++;
	}
	return nf == 0 ? 0 : 1;
}
