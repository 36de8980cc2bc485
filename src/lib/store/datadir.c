/*
 * store/datadir.c - p2p-admin init: the data directory (see datadir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/util.h"
#include "json/fhir.h"
#include "store/datadir.h"
#include "store/db.h"

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
	if (mkdir_mode(path, 0750, err) == -1)
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
admin_owner(const char *spec, uid_t *uid, gid_t *gid, struct p2p_err *err)
{
	char		 user[256];
	const char	*colon;
	struct passwd	*pw;
	struct group	*gr;

	colon = strchr(spec, ':');
	if (snprintf(user, sizeof(user), "%.*s", colon ? (int)(colon - spec) :
	    (int)strlen(spec), spec) >= (int)sizeof(user) || user[0] == '\0')
		return p2p_fail(err, 400, P2P_ISSUE_VALUE,
		    "owner \"%s\": expected USER or USER:GROUP", spec);
	if ((pw = getpwnam(user)) == NULL)
		return p2p_fail(err, 400, P2P_ISSUE_VALUE,
		    "no user \"%s\" (create it first, e.g. adduser --system "
		    "--group --home /var/lib/p2p p2p)", user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (colon != NULL && colon[1] != '\0') {
		if ((gr = getgrnam(colon + 1)) == NULL)
			return p2p_fail(err, 400, P2P_ISSUE_VALUE,
			    "no group \"%s\"", colon + 1);
		*gid = gr->gr_gid;
	}
	return 0;
}

/* nftw() passes no argument: the owner being given, for give_one(). */
static uid_t	 give_uid;
static gid_t	 give_gid;

static int
give_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	/* lchown: a symbolic link is given, never what it points to. */
	return lchown(path, give_uid, give_gid) == -1 ? -1 : 0;
}

/* Gives dir and everything under it to uid:gid (not across mounts). */
static int
give_tree(const char *dir, uid_t uid, gid_t gid, struct p2p_err *err)
{
	give_uid = uid;
	give_gid = gid;
	if (nftw(dir, give_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot give %s to uid %ld: %s", dir, (long)uid,
		    strerror(errno));
	return 0;
}

/*
 * The data directory's subdirectories; existing ones are kept as they
 * are, except keys/, which is tightened.
 */
static int
make_dirs(const struct p2p_config *cfg, struct p2p_err *err)
{
	static const struct {
		const char	*name;
		mode_t		 mode;
	} dirs[] = {
		/* run/ holds the FastCGI sockets, log/ and www/ what the
		 * web server configurations expect (logs, an empty
		 * document root). */
		{ "keys", 0700 },
		{ "run", 0750 },
		{ "log", 0750 },
		{ "www", 0750 },
	};
	char	 path[PATH_MAX + 32];
	size_t	 i;

	if (mkdir_mode(cfg->output_dir, 0750, err) == -1)
		return -1;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir,
		    dirs[i].name);
		if (mkdir_mode(path, dirs[i].mode, err) == -1)
			return -1;
	}
	/* keys/ may predate the tight modes: tighten it. */
	snprintf(path, sizeof(path), "%s/keys", cfg->data_dir);
	if (chmod(path, 0700) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "chmod %s: %s",
		    path, strerror(errno));
	return 0;
}

/*
 * The directory of a log file outside the data directory (say
 * /var/log/p2p/p2p.log), made when missing so that nothing waits for a
 * directory nothing creates.  dir is set to it when this call made it
 * (then it is the owner's too), else "".
 */
static int
log_dir(const struct p2p_config *cfg, char *dir, size_t sz,
    struct p2p_err *err)
{
	char	 tmp[PATH_MAX];
	size_t	 dl = strlen(cfg->data_dir);

	dir[0] = '\0';
	if (cfg->log_file[0] != '/' || (strncmp(cfg->log_file, cfg->data_dir,
	    dl) == 0 && cfg->log_file[dl] == '/'))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s", cfg->log_file);
	snprintf(dir, sz, "%s", dirname(tmp));
	if (access(dir, F_OK) == 0) {
		dir[0] = '\0';
		return 0;
	}
	return mkdir_mode(dir, 0750, err);
}

/* Where the configuration is, and whether it (or the database) exists. */
static int
locate(const struct admin_init_opts *o, struct p2p_config *cfg,
    char *path, size_t sz, int *existing, struct p2p_err *err)
{
	struct stat	 sb;
	char		 db[PATH_MAX + 32];

	memset(cfg, 0, sizeof(*cfg));
	if (o->data_dir == NULL) {
		/* The configuration is there already (the Debian package's
		 * /etc/p2p/p2p.conf): make what it names. */
		if (o->base_url || o->share_dir || o->runner || o->demo)
			return p2p_fail(err, 400, P2P_ISSUE_VALUE,
			    "--base-url, --share, --runner and --demo write a "
			    "new p2p.conf: give a DATADIR, or edit the "
			    "existing file");
		if (config_load(cfg, o->conf, err) == -1)
			return -1;
		snprintf(path, sz, "%s", cfg->path);
		if (mkdir_mode(cfg->data_dir, 0750, err) == -1)
			return -1;
		*existing = stat(cfg->database, &sb) == 0;
		return 0;
	}
	if (mkdir_mode(o->data_dir, 0750, err) == -1)
		return -1;
	if (realpath(o->data_dir, cfg->data_dir) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s",
		    o->data_dir, strerror(errno));
	snprintf(path, sz, "%s/p2p.conf", cfg->data_dir);
	snprintf(db, sizeof(db), "%s/p2p.db", cfg->data_dir);
	*existing = lstat(path, &sb) == 0 || stat(db, &sb) == 0;
	if (*existing && o->update &&
	    (o->base_url || o->share_dir || o->runner || o->demo))
		return p2p_fail(err, 400, P2P_ISSUE_VALUE,
		    "--update keeps %s: edit it instead of giving --base-url, "
		    "--share, --runner or --demo", path);
	return 0;
}

/* A new p2p.conf from the defaults and the options. */
static int
write_config(const struct admin_init_opts *o, struct p2p_config *cfg,
    const char *path, struct p2p_err *err)
{
	config_defaults(cfg);
	if (o->base_url != NULL)
		snprintf(cfg->base_url, sizeof(cfg->base_url), "%s",
		    o->base_url);
	if (o->share_dir != NULL &&
	    realpath(o->share_dir, cfg->share_dir) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s: %s", o->share_dir, strerror(errno));
	if (o->runner != NULL && realpath(o->runner, cfg->runner) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s: %s", o->runner, strerror(errno));
	if (o->demo) {
		cfg->allow_basic_api = 1;
		cfg->allow_legacy_consentless = 1;
		/* The demo runs as whoever starts it, root included. */
		cfg->allow_root = 1;
	}
	if (config_write(cfg, path) == -1 || chmod(path, 0640) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot write %s", path);
	log_info("wrote %s", path);
	return 0;
}

int
admin_init(const struct admin_init_opts *o, struct p2p_err *err)
{
	struct p2p_config	 cfg;
	struct p2p_db		 db;
	struct stat		 sb;
	char			 path[PATH_MAX + 32], ldir[PATH_MAX];
	uid_t			 uid = 0;
	gid_t			 gid = 0;
	int			 rc, existing = 0, give = 0;

	if (o->owner != NULL) {
		if (admin_owner(o->owner, &uid, &gid, err) == -1)
			return -1;
		if (geteuid() != 0 && uid != geteuid())
			return p2p_fail(err, 403, P2P_ISSUE_SECURITY,
			    "--owner %s: only root may give files to another "
			    "user", o->owner);
		give = geteuid() == 0;
	}
	if (locate(o, &cfg, path, sizeof(path), &existing, err) == -1)
		return -1;
	if (existing && !o->update)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT,
		    "%s is initialised already (it holds %s): nothing "
		    "changed; --update creates what is missing and applies "
		    "migrations, keeping the configuration and keys",
		    cfg.data_dir, o->data_dir ? "p2p.conf or p2p.db" :
		    "the database");
	/* Root updating a directory that is another user's: new files
	 * are that user's too, never root's. */
	if (o->owner == NULL && geteuid() == 0 &&
	    stat(cfg.data_dir, &sb) == 0 && sb.st_uid != 0) {
		uid = sb.st_uid;
		gid = sb.st_gid;
		give = 1;
	}
	if (access(path, F_OK) != 0 && write_config(o, &cfg, path, err) == -1)
		return -1;
	if (config_load(&cfg, path, err) == -1)
		return -1;
	if (make_dirs(&cfg, err) == -1 ||
	    log_dir(&cfg, ldir, sizeof(ldir), err) == -1 ||
	    write_error_pages(cfg.data_dir, err) == -1 ||
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
	if (rc == -1)
		return -1;
	if (chmod(cfg.database, 0600) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "chmod %s: %s",
		    cfg.database, strerror(errno));
	if (give && (give_tree(cfg.data_dir, uid, gid, err) == -1 ||
	    (ldir[0] != '\0' && give_tree(ldir, uid, gid, err) == -1)))
		return -1;
	return 0;
}
