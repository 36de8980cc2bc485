/*
 * admin.c - p2p-admin init (see admin.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin.h"
#include "db.h"
#include "log.h"
#include "util.h"

static int
mkdir_mode(const char *path, mode_t mode, struct p2p_err *err)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "mkdir %s: %s",
		    path, strerror(errno));
	return 0;
}

/* Writes nbytes random bytes as hex into a new file of mode 0600. */
static int
make_key(const char *path, size_t nbytes, struct p2p_err *err)
{
	char	 hex[129];
	int	 fd;
	ssize_t	 w;

	if (access(path, F_OK) == 0)
		return 0;
	if (nbytes * 2 >= sizeof(hex) || rand_hex(hex, nbytes) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "no random bytes for %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	hex[nbytes * 2] = '\n';
	w = write(fd, hex, nbytes * 2 + 1);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (fchmod(fd, 0600) == -1 || w != (ssize_t)(nbytes * 2 + 1) ||
	    close(fd) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot write %s", path);
	return 0;
}

int
admin_init(const struct admin_init_opts *o, struct p2p_err *err)
{
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	char			 path[PATH_MAX + 32];
	int			 rc;

	if (mkdir_mode(o->data_dir, 0755, err) == -1)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	if (realpath(o->data_dir, cfg.data_dir) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s",
		    o->data_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/p2p.conf", cfg.data_dir);
	if (access(path, F_OK) != 0) {
		config_defaults(&cfg);
		if (o->base_url != NULL)
			snprintf(cfg.base_url, sizeof(cfg.base_url), "%s",
			    o->base_url);
		if (o->share_dir != NULL &&
		    realpath(o->share_dir, cfg.share_dir) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s: %s", o->share_dir, strerror(errno));
		if (o->runner != NULL &&
		    realpath(o->runner, cfg.runner) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s: %s", o->runner, strerror(errno));
		if (o->demo) {
			cfg.allow_basic_api = 1;
			cfg.allow_legacy_consentless = 1;
		}
		if (config_write(&cfg, path) == -1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot write %s", path);
		log_info("wrote %s", path);
	}
	if (config_load(&cfg, path, err) == -1)
		return -1;
	if (mkdir_mode(cfg.output_dir, 0755, err) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/keys", cfg.data_dir);
	if (mkdir_mode(path, 0700, err) == -1)
		return -1;
	/* run/ holds the FastCGI sockets, log/ and www/ what lighttpd.conf
	 * expects (error log, an empty document root). */
	snprintf(path, sizeof(path), "%s/run", cfg.data_dir);
	if (mkdir_mode(path, 0755, err) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/log", cfg.data_dir);
	if (mkdir_mode(path, 0755, err) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/www", cfg.data_dir);
	if (mkdir_mode(path, 0755, err) == -1)
		return -1;
	if (make_key(cfg.key_file, 32, err) == -1)
		return -1;
	/* The secret lighttpd's mod_secdownload signs file URLs with. */
	snprintf(path, sizeof(path), "%s/keys/secdownload.key", cfg.data_dir);
	if (make_key(path, 32, err) == -1)
		return -1;
	if (db_open(&db, cfg.database, 1, err) == -1)
		return -1;
	rc = db_migrate(&db, err);
	db_close(&db);
	if (rc == 0 && chmod(cfg.database, 0640) == -1)
		log_warn("chmod %s: %s", cfg.database, strerror(errno));
	return rc;
}
