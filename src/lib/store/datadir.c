/*
 * store/datadir.c - p2p-admin init: the data directory (see datadir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "store/datadir.h"
#include "store/db.h"
#include "json/fhir.h"
#include "core/log.h"
#include "core/util.h"

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

/*
 * The error documents the web server sends for errors it answers itself
 * (lighttpd server.errorfile-prefix, Apache ErrorDocument; see
 * share/lighttpd/ and share/apache/): OperationOutcomes, so that a
 * client gets FHIR whatever refused its request.  Rewritten each time.
 */
static int
write_error_pages(const char *data_dir, struct p2p_err *err)
{
	static const struct {
		int		 status;
		enum p2p_issue	 issue;
		const char	*text;
	} pages[] = {
		{ 400, P2P_ISSUE_INVALID, "the request is malformed" },
		{ 403, P2P_ISSUE_FORBIDDEN, "access to this URL is not allowed" },
		{ 404, P2P_ISSUE_NOT_FOUND, "no resource or operation at this URL" },
		{ 405, P2P_ISSUE_NOT_SUPPORTED,
		  "the request method is not allowed at this URL" },
		{ 408, P2P_ISSUE_TIMEOUT, "the request was not received in time" },
		{ 411, P2P_ISSUE_STRUCTURE, "a request body needs a Content-Length" },
		{ 413, P2P_ISSUE_TOO_COSTLY,
		  "the request body is larger than this server accepts" },
		{ 414, P2P_ISSUE_TOO_LONG, "the request URL is too long" },
		{ 416, P2P_ISSUE_INVALID,
		  "the requested range is not within the file" },
		{ 417, P2P_ISSUE_NOT_SUPPORTED, "the expectation is not supported" },
		{ 431, P2P_ISSUE_TOO_LONG, "the request headers are too large" },
		{ 500, P2P_ISSUE_EXCEPTION, "internal server error" },
		{ 501, P2P_ISSUE_NOT_SUPPORTED, "the request method is not supported" },
		{ 502, P2P_ISSUE_TRANSIENT,
		  "the server's program did not answer; retry shortly" },
		{ 503, P2P_ISSUE_TRANSIENT, "the server is busy; retry shortly" },
		{ 504, P2P_ISSUE_TIMEOUT,
		  "the server's program did not answer in time" },
		{ 505, P2P_ISSUE_NOT_SUPPORTED,
		  "the HTTP version is not supported" },
	};
	char		 path[PATH_MAX + 32];
	json_object	*oo;
	FILE		*f;
	size_t		 i;
	int		 ok;

	snprintf(path, sizeof(path), "%s/errors", data_dir);
	if (mkdir_mode(path, 0755, err) == -1)
		return -1;
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		snprintf(path, sizeof(path), "%s/errors/%d.html", data_dir,
		    pages[i].status);
		oo = fhir_outcome_new3(pages[i].status >= 500 ? "fatal" :
		    "error", pages[i].issue, pages[i].text);
		if (oo == NULL || (f = fopen(path, "w")) == NULL) {
			json_object_put(oo);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot write %s", path);
		}
		ok = fprintf(f, "%s\n", fhir_json(oo)) > 0;
		ok = fclose(f) == 0 && ok;
		json_object_put(oo);
		if (!ok)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot write %s", path);
	}
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
	if (write_error_pages(cfg.data_dir, err) == -1 ||
	    make_key(cfg.key_file, 32, err) == -1)
		return -1;
	/* The secret lighttpd's mod_secdownload signs file URLs with. */
	snprintf(path, sizeof(path), "%s/keys/secdownload.key", cfg.data_dir);
	if (make_key(path, 32, err) == -1)
		return -1;
	if (db_create(&db, cfg.database, cfg.db_page_size, err) == -1)
		return -1;
	rc = db_migrate(&db, err);
	db_close(&db);
	if (rc == 0 && chmod(cfg.database, 0640) == -1)
		log_warn("chmod %s: %s", cfg.database, strerror(errno));
	return rc;
}
