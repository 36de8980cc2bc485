/*
 * Unit tests for store/datadir.c: p2p-admin init (refusing an
 * initialised directory, --update, the configuration-first form, modes,
 * owners).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/datadir.h"
#include "unit.h"

static char	 top[] = "/tmp/p2p-check-datadir-XXXXXX";

static const char *
path_of(const char *name)
{
	return unit_path(top, name);
}

static int
mode_of(const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1)
		return -1;
	return (int)(sb.st_mode & 07777);
}

static const char *
slurp(const char *path)
{
	static char	 buf[8192];

	return unit_slurp(path, buf, sizeof(buf));
}

static int
init_dir(const char *dir, int update, const char *owner, struct p2p_err *err)
{
	struct admin_init_opts	 o;

	memset(&o, 0, sizeof(o));
	o.data_dir = dir;
	o.update = update;
	o.owner = owner;
	p2p_err_init(err);
	return admin_init(&o, err);
}

START_TEST(test_init_modes)
{
	struct p2p_err	 err;
	char		 d[512];

	snprintf(d, sizeof(d), "%s", path_of("modes"));
	ck_assert_msg(init_dir(d, 0, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(mode_of(d), 0750);
	ck_assert_int_eq(mode_of(path_of("modes/keys")), 0700);
	ck_assert_int_eq(mode_of(path_of("modes/keys/server.key")), 0600);
	ck_assert_int_eq(mode_of(path_of("modes/keys/secdownload.key")),
	    0600);
	ck_assert_int_eq(mode_of(path_of("modes/p2p.db")), 0600);
	ck_assert_int_eq(mode_of(path_of("modes/p2p.conf")), 0640);
	ck_assert_int_eq(mode_of(path_of("modes/log")), 0750);
	ck_assert_int_eq(mode_of(path_of("modes/bulk")), 0750);
	ck_assert_int_ne(mode_of(path_of("modes/run")), -1);
	ck_assert_int_ne(mode_of(path_of("modes/errors/404.html")), -1);
	/* the written configuration logs to the data directory */
	ck_assert(strstr(slurp(path_of("modes/p2p.conf")),
	    "\nlog_file = log/p2p.log\n") != NULL);
	ck_assert(strstr(slurp(path_of("modes/p2p.conf")),
	    "\nallow_root = 0\n") != NULL);
}
END_TEST

/* An initialised directory: refused, nothing changed; --update keeps. */
START_TEST(test_init_existing)
{
	struct admin_init_opts	 o;
	struct p2p_err		 err;
	char			 d[512], key[8192], conf[8192];
	FILE			*f;

	snprintf(d, sizeof(d), "%s", path_of("again"));
	ck_assert_int_eq(init_dir(d, 0, NULL, &err), 0);
	snprintf(key, sizeof(key), "%s",
	    slurp(path_of("again/keys/server.key")));
	/* an operator's edit must survive */
	f = fopen(path_of("again/p2p.conf"), "a");
	fputs("token_ttl = 120\n", f);
	fclose(f);
	snprintf(conf, sizeof(conf), "%s",
	    slurp(path_of("again/p2p.conf")));
	ck_assert_int_eq(init_dir(d, 0, NULL, &err), -1);
	ck_assert_int_eq(err.status, 409);
	ck_assert_msg(strstr(err.msg, "initialised already") != NULL &&
	    strstr(err.msg, "--update") != NULL, "%s", err.msg);
	ck_assert_str_eq(slurp(path_of("again/p2p.conf")), conf);
	/* --update: what is missing comes back, the rest stays */
	ck_assert_int_eq(unlink(path_of("again/keys/secdownload.key")), 0);
	ck_assert_int_eq(chmod(path_of("again/keys"), 0755), 0);
	ck_assert_msg(init_dir(d, 1, NULL, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(slurp(path_of("again/keys/server.key")), key);
	ck_assert_str_eq(slurp(path_of("again/p2p.conf")), conf);
	ck_assert_int_eq(mode_of(path_of("again/keys/secdownload.key")),
	    0600);
	ck_assert_int_eq(mode_of(path_of("again/keys")), 0700);
	/* --update with options that would write a new p2p.conf */
	memset(&o, 0, sizeof(o));
	o.data_dir = d;
	o.update = 1;
	o.base_url = "https://elsewhere.example";
	p2p_err_init(&err);
	ck_assert_int_eq(admin_init(&o, &err), -1);
	ck_assert(strstr(err.msg, "edit it") != NULL);
	ck_assert_str_eq(slurp(path_of("again/p2p.conf")), conf);
	/* a database alone also counts as initialised */
	ck_assert_int_eq(unlink(path_of("again/p2p.conf")), 0);
	ck_assert_int_eq(init_dir(d, 0, NULL, &err), -1);
}
END_TEST

/* The Debian form: /etc/p2p/p2p.conf names the data directory. */
START_TEST(test_init_from_config)
{
	struct admin_init_opts	 o;
	struct p2p_config	 cfg;
	struct p2p_err		 err;
	char			 conf[600], text[1200];
	FILE			*f;

	ck_assert_int_eq(mkdir(path_of("etc"), 0755), 0);
	snprintf(conf, sizeof(conf), "%s", path_of("etc/p2p.conf"));
	snprintf(text, sizeof(text), "data_dir = %s\nlog_file = %s\n",
	    path_of("var"), path_of("logs/p2p.log"));
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.conf = conf;
	p2p_err_init(&err);
	ck_assert_msg(admin_init(&o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(mode_of(path_of("var/p2p.db")), 0600);
	ck_assert_int_eq(mode_of(path_of("var/keys/server.key")), 0600);
	/* the configuration stays where it is; the log's directory is made */
	ck_assert_int_eq(mode_of(path_of("var/p2p.conf")), -1);
	ck_assert_int_eq(mode_of(path_of("logs")), 0750);
	ck_assert_int_eq(config_load(&cfg, conf, &err), 0);
	ck_assert_str_eq(cfg.database, path_of("var/p2p.db"));
	/* again: the database exists */
	ck_assert_int_eq(admin_init(&o, &err), -1);
	ck_assert_int_eq(err.status, 409);
	o.update = 1;
	p2p_err_init(&err);
	ck_assert_msg(admin_init(&o, &err) == 0, "%s", err.msg);
	/* options that write a configuration do not apply here */
	o.demo = 1;
	p2p_err_init(&err);
	ck_assert_int_eq(admin_init(&o, &err), -1);
	ck_assert(strstr(err.msg, "edit the existing file") != NULL);
}
END_TEST

START_TEST(test_owner_spec)
{
	struct p2p_err	 err;
	struct passwd	*pw = getpwnam("nobody");
	uid_t		 uid;
	gid_t		 gid;

	ck_assert_ptr_nonnull(pw);
	p2p_err_init(&err);
	ck_assert_int_eq(admin_owner("nobody", &uid, &gid, &err), 0);
	ck_assert_int_eq(uid, pw->pw_uid);
	ck_assert_int_eq(gid, pw->pw_gid);
	ck_assert_int_eq(admin_owner("nobody:root", &uid, &gid, &err), 0);
	ck_assert_int_eq(gid, 0);
	ck_assert_int_eq(admin_owner("no-such-user-p2p", &uid, &gid, &err), -1);
	ck_assert(strstr(err.msg, "no user \"no-such-user-p2p\"") != NULL);
	p2p_err_init(&err);
	ck_assert_int_eq(admin_owner("nobody:no-such-group-p2p", &uid, &gid,
	    &err), -1);
	p2p_err_init(&err);
	ck_assert_int_eq(admin_owner(":root", &uid, &gid, &err), -1);
}
END_TEST

static uid_t	 want_uid;
static int	 wrong;

static int
check_owner(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (sb->st_uid != want_uid) {
		fprintf(stderr, "%s: uid %ld\n", path, (long)sb->st_uid);
		wrong++;
	}
	return 0;
}

/* Every file under dir belongs to uid (symbolic links themselves). */
static int
all_owned(const char *dir, uid_t uid)
{
	want_uid = uid;
	wrong = 0;
	ck_assert_int_eq(nftw(dir, check_owner, 16, FTW_PHYS), 0);
	return wrong == 0;
}

START_TEST(test_init_owner)
{
	struct p2p_err	 err;
	struct passwd	*pw = getpwnam("nobody");
	char		 d[512];

	snprintf(d, sizeof(d), "%s", path_of("owned"));
	ck_assert_ptr_nonnull(pw);
	if (geteuid() != 0) {
		/* only root gives files away */
		ck_assert_int_eq(init_dir(d, 0, "nobody", &err), -1);
		ck_assert_int_eq(err.status, 403);
		return;
	}
	ck_assert_msg(init_dir(d, 0, "nobody", &err) == 0, "%s", err.msg);
	ck_assert(all_owned(d, pw->pw_uid));
	/*
	 * Root updating a directory that is another user's, without
	 * --owner: what it makes is that user's too, never root's.
	 */
	ck_assert_int_eq(unlink(path_of("owned/keys/server.key")), 0);
	ck_assert_int_eq(rmdir(path_of("owned/www")), 0);
	ck_assert_msg(init_dir(d, 1, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_ne(mode_of(path_of("owned/keys/server.key")), -1);
	ck_assert(all_owned(d, pw->pw_uid));
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_init_modes),
		UNIT_TEST(test_init_existing),
		UNIT_TEST(test_init_from_config),
		UNIT_TEST(test_owner_spec),
		UNIT_TEST(test_init_owner),
	};

	log_quiet(1);
	return unit_run_in(unit_tests("datadir", NULL, NULL, 30, tests,
	    UNIT_N(tests)), top);
}
