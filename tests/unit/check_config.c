/* Unit tests for config.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "unit.h"

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

/* Configurations refused: text, what the message must say. */
static const struct unit_case bad[] = {
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
	ck_assert_int_eq(config_load(&c, write_conf(bad[_i].in), &err), -1);
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

START_TEST(test_log_file)
{
	/* want: "@" stands for the data directory */
	static const struct unit_case t[] = {
		{ "", "@/log/p2p.log", __LINE__ },
		{ "log_file = syslog\n", "syslog", __LINE__ },
		{ "log_file = stderr\n", "stderr", __LINE__ },
		{ "log_file = -\n", "-", __LINE__ },
		{ "log_file = /var/log/p2p/p2p.log\n", "/var/log/p2p/p2p.log",
		  __LINE__ },
		{ "log_file = logs/x.log\n", "@/logs/x.log", __LINE__ },
	};
	struct p2p_config	 c;
	struct p2p_err		 err;
	char			 want[PATH_MAX + 64];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p2p_err_init(&err);
		ck_assert_int_eq(config_load(&c, write_conf(t[i].in), &err), 0);
		if (t[i].want[0] == '@')
			snprintf(want, sizeof(want), "%s%s", c.data_dir,
			    t[i].want + 1);
		else
			snprintf(want, sizeof(want), "%s", t[i].want);
		ck_assert_msg(strcmp(c.log_file, want) == 0, "line %d: %s",
		    t[i].line, c.log_file);
	}
}
END_TEST

/* data_dir, wherever it stands in the file, is where relative paths start. */
START_TEST(test_data_dir)
{
	struct p2p_config	 c;
	struct p2p_err		 err;

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf(
	    "database = x.db\ndata_dir = /srv/p2p/\noutput_dir = out\n"),
	    &err), 0);
	ck_assert_str_eq(c.data_dir, "/srv/p2p");
	ck_assert_str_eq(c.database, "/srv/p2p/x.db");
	ck_assert_str_eq(c.output_dir, "/srv/p2p/out");
	ck_assert_str_eq(c.key_file, "/srv/p2p/keys/server.key");
	ck_assert_str_eq(c.log_file, "/srv/p2p/log/p2p.log");
	ck_assert_str_eq(c.ca_file, "");	/* the system's CAs */
	ck_assert_int_eq(config_load(&c, write_conf(
	    "data_dir = /srv/p2p\nca_file = tls/ca.pem\n"), &err), 0);
	ck_assert_str_eq(c.ca_file, "/srv/p2p/tls/ca.pem");
	ck_assert_int_eq(config_load(&c, write_conf("data_dir = srv\n"), &err),
	    -1);
	ck_assert(strstr(err.msg, "data_dir must be an absolute path") != NULL);
}
END_TEST

/* The server programs and the runner refuse root unless allowed. */
START_TEST(test_root)
{
	struct p2p_config	 c;
	struct p2p_err		 err;

	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf(""), &err), 0);
	ck_assert_int_eq(c.allow_root, 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(config_check_user(&c, &err), -1);
		ck_assert(strstr(err.msg, "refusing to run as root") != NULL);
		ck_assert(strstr(err.msg, "allow_root = 1") != NULL);
	} else
		ck_assert_int_eq(config_check_user(&c, &err), 0);
	p2p_err_init(&err);
	ck_assert_int_eq(config_load(&c, write_conf("allow_root = 1\n"), &err),
	    0);
	ck_assert_int_eq(config_check_user(&c, &err), 0);
	ck_assert_int_eq(config_load(&c, write_conf("allow_root = 2\n"), &err),
	    -1);
}
END_TEST

/* -c FILE, else $P2P_CONF, else $P2P_DATA/p2p.conf, else SYSCONFDIR. */
START_TEST(test_search_order)
{
	struct p2p_config	 c;
	struct p2p_err		 err;
	char			 other[300];
	FILE			*f;

	snprintf(other, sizeof(other), "%s/other.conf", dir);
	f = fopen(other, "w");
	fputs("token_ttl = 99\n", f);
	fclose(f);
	write_conf("token_ttl = 77\n");
	p2p_err_init(&err);
	setenv("P2P_CONF", other, 1);
	setenv("P2P_DATA", dir, 1);
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_int_eq(c.token_ttl, 99);
	unsetenv("P2P_CONF");
	ck_assert_int_eq(config_load(&c, NULL, &err), 0);
	ck_assert_int_eq(c.token_ttl, 77);
	unsetenv("P2P_DATA");
	ck_assert(strcmp(config_default_path() + strlen(config_default_path()) -
	    13, "/p2p/p2p.conf") == 0);
	if (access(config_default_path(), F_OK) == 0)
		return;		/* installed here: nothing to refuse */
	ck_assert_int_eq(config_load(&c, NULL, &err), -1);
	ck_assert(strstr(err.msg, config_default_path()) != NULL);
	ck_assert(strstr(err.msg, "give -c FILE, or set P2P_CONF or "
	    "P2P_DATA") != NULL);
}
END_TEST

/*
 * Every key of the table is documented in p2p.conf(5) and in the
 * Configuration table of docs/operations.md, and the manual names no
 * other key.
 */
static int
doc_has(const char *path, const char *want)
{
	static char	 text[256 * 1024];
	static char	 loaded[PATH_MAX];
	FILE		*f;
	size_t		 n;

	if (strcmp(loaded, path) != 0) {
		ck_assert_msg((f = fopen(path, "r")) != NULL, "%s", path);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		snprintf(loaded, sizeof(loaded), "%s", path);
	}
	return strstr(text, want) != NULL;
}

START_TEST(test_keys_documented)
{
	const char	*src = getenv("P2P_SRCDIR");
	char		 man[PATH_MAX], ops[PATH_MAX], line[512], *w, *save;
	char		 item[128], item2[128], quoted[128];
	size_t		 i, n = config_nkeys(), found = 0;
	FILE		*f;

	ck_assert_msg(src != NULL, "P2P_SRCDIR is not set");
	snprintf(man, sizeof(man), "%s/docs/man/p2p.conf.5", src);
	snprintf(ops, sizeof(ops), "%s/docs/operations.md", src);
	ck_assert_int_gt(n, 25);
	for (i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "\n.It Cm %s ",
		    config_key_name(i));
		snprintf(item2, sizeof(item2), " , %s Pq", config_key_name(i));
		snprintf(quoted, sizeof(quoted), "`%s`", config_key_name(i));
		ck_assert_msg(doc_has(man, item) || doc_has(man, item2),
		    "key %s is not in docs/man/p2p.conf.5", config_key_name(i));
		ck_assert_msg(doc_has(ops, quoted),
		    "key %s is not in docs/operations.md", config_key_name(i));
	}
	ck_assert_ptr_null(config_key_name(n));
	/* the other way: each ".It Cm a , b Pq ..." names table keys */
	ck_assert((f = fopen(man, "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, ".It Cm ", 7) != 0)
			continue;
		save = NULL;
		for (w = strtok_r(line + 7, " \n", &save); w != NULL &&
		    strcmp(w, "Pq") != 0; w = strtok_r(NULL, " \n", &save)) {
			if (strcmp(w, ",") == 0)
				continue;
			for (i = 0; i < n; i++)
				if (strcmp(w, config_key_name(i)) == 0)
					break;
			ck_assert_msg(i < n, "p2p.conf.5 documents \"%s\", "
			    "which config.c does not know", w);
			found++;
		}
	}
	fclose(f);
	ck_assert_int_eq(found, n);
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
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_defaults_and_paths),
		UNIT_TABLE(test_bad, bad),
		UNIT_TEST(test_write_read_back),
		UNIT_TEST(test_missing_file),
		UNIT_TEST(test_log_file),
		UNIT_TEST(test_data_dir),
		UNIT_TEST(test_root),
		UNIT_TEST(test_search_order),
		UNIT_TEST(test_keys_documented),
	};

	return unit_run_in(unit_tests("config", NULL, NULL, 0, tests,
	    UNIT_N(tests)), dir);
}
