/*
 * config.h - the one configuration file, read by every executable and
 * tool.  Format: "key = value" lines, '#' comments.  Relative paths are
 * taken relative to the directory holding the file.  Unknown keys are
 * an error, so a typo cannot silently leave a default in force.
 *
 * Where the file is: -c FILE, else $P2P_CONF, else $P2P_DATA/p2p.conf,
 * else SYSCONFDIR/p2p/p2p.conf (/etc/p2p/p2p.conf in the Debian
 * package).  Every key is described in p2p.conf(5), docs/man/p2p.conf.5
 * (a unit test keeps it and the key table in step).
 */
#ifndef P2P_CONFIG_H
#define P2P_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "core/err.h"

struct p2p_config {
	char	 path[PATH_MAX];	/* the file read */
	char	 data_dir[PATH_MAX];	/* key data_dir, or the file's
					   directory (symlinks resolved) */
	char	 base_url[512];		/* public origin, no trailing slash */
	char	 fhir_base[600];	/* base_url + "/fhir" */
	char	 token_url[600];	/* base_url + "/auth/token" */
	char	 database[PATH_MAX];	/* SQLite file */
	long long db_cache_mib;		/* page cache per connection, MiB */
	long long db_page_size;		/* bytes, for a new database */
	char	 output_dir[PATH_MAX];	/* bulk files, served under /bulk */
	char	 key_file[PATH_MAX];	/* server signing key (0600) */
	char	 share_dir[PATH_MAX];	/* CapabilityStatement templates etc. */
	char	 runner[PATH_MAX];	/* export runner to wake, or "" */
	char	 org_npi[32];		/* this payer's NPI */
	char	 org_name[128];		/* this payer's name */
	long long max_body;		/* bytes, synchronous requests */
	long long max_bulk_body;	/* bytes, $bulk-member-match */
	long long bulk_max_members;	/* MemberBundles per request */
	long long token_ttl;		/* access token lifetime, seconds */
	long long clock_skew;		/* allowance for JWT times, seconds */
	long long allow_basic_api;	/* Basic credentials on API calls */
	long long allow_legacy_consentless; /* STU1 $member-match w/o Consent */
	long long data_years;		/* date-of-service window */
	long long pa_change_months;	/* PA status-change window */
	long long release_drug_pa;	/* drug PAs released to payers */
	long long job_ttl;		/* seconds jobs and files are kept */
	long long export_file_max;	/* resources per ndjson file */
	long long signed_urls;		/* file URLs signed (mod_secdownload) */
	long long url_ttl;		/* signed URL lifetime, seconds */
	long long status_wait_ms;	/* a status request may wait, ms */
	long long status_waiters;	/* status requests waiting at once */
	long long probe_limit;		/* distinct card data per demographics */
	long long probe_window;		/* seconds the probe limit spans */
	long long jwks_cooldown;	/* seconds between JWKS re-fetches */
	long long jwks_allow_http;	/* http:// JWKS URLs on loopback */
	char	 ca_file[PATH_MAX];	/* CAs for outgoing HTTPS, "" system's */
	long long peer_file_max;	/* largest file taken from a peer */
	char	 log_file[PATH_MAX];	/* log path, "syslog", "stderr", "-" */
	long long allow_root;		/* programs may run as root */
};

#ifndef P2P_SYSCONFDIR
#define P2P_SYSCONFDIR	"/etc/p2p"	/* set by Makefile.am */
#endif

/*
 * Reads the configuration from path (NULL: the default search above).
 * Returns 0, or -1 with err->msg naming the file and line.
 */
int	 config_load(struct p2p_config *, const char *path, struct p2p_err *);

/* The last place the search looks: SYSCONFDIR/p2p/p2p.conf. */
const char *config_default_path(void);

/* The keys, in file order, for documentation checks. */
size_t	 config_nkeys(void);
const char *config_key_name(size_t);	/* NULL past the end */

/*
 * The server programs and the runner call this first: -1 with err
 * saying why when the process runs as root (effective uid 0) and
 * allow_root is not set, else 0.
 */
int	 config_check_user(const struct p2p_config *, struct p2p_err *);

/* Sets every key to its default; data_dir must already be set. */
void	 config_defaults(struct p2p_config *);

/* Writes a commented configuration file with the given values. */
int	 config_write(const struct p2p_config *, const char *path);

#endif
