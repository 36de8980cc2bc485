/*
 * config.c - see config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/util.h"

enum ctype {
	C_STR,
	C_PATH,		/* relative to data_dir */
	C_INT,
	C_POW2,		/* an integer, a power of two */
	C_DIR,		/* data_dir itself: absolute, "" the file's directory */
	C_LOG,		/* a C_PATH, or "syslog", "stderr", "-" */
};

struct ckey {
	const char	*name;
	enum ctype	 type;
	size_t		 off;
	size_t		 size;		/* for strings */
	long long	 min, max;	/* for integers */
	const char	*def;		/* default, as text */
	const char	*doc;		/* one line for the written file */
};

#define S(f)	offsetof(struct p2p_config, f), sizeof(((struct p2p_config *)0)->f)
#define I(f)	offsetof(struct p2p_config, f), 0

static const struct ckey keys[] = {
	{ "data_dir", C_DIR, S(data_dir), 0, 0, "",
	  "directory relative paths start from (default: this file's directory)" },
	{ "base_url", C_STR, S(base_url), 0, 0, "http://127.0.0.1:8080",
	  "public origin of this server, used in absolute URLs" },
	{ "database", C_PATH, S(database), 0, 0, "p2p.db",
	  "SQLite database" },
	{ "db_cache_mib", C_INT, I(db_cache_mib), 1, 4096, "32",
	  "SQLite page cache of each server process, MiB (filled as used)" },
	{ "db_page_size", C_POW2, I(db_page_size), 4096, 65536, "16384",
	  "page size of a database p2p-admin init creates, bytes" },
	{ "output_dir", C_PATH, S(output_dir), 0, 0, "bulk",
	  "bulk output files (served by the web server under /bulk)" },
	{ "key_file", C_PATH, S(key_file), 0, 0, "keys/server.key",
	  "server signing key, mode 0600" },
	{ "share_dir", C_PATH, S(share_dir), 0, 0, "",
	  "directory with capability-statement.json etc." },
	{ "runner", C_PATH, S(runner), 0, 0, "",
	  "export runner started at kick-off (empty: wait for cron)" },
	{ "org_npi", C_STR, S(org_npi), 0, 0, "1111111111",
	  "this payer's NPI (Provenance, Group.managingEntity)" },
	{ "org_name", C_STR, S(org_name), 0, 0, "Responding Payer",
	  "this payer's name" },
	{ "max_body", C_INT, I(max_body), 1024, 64LL << 20, "1048576",
	  "largest request body, bytes" },
	{ "max_bulk_body", C_INT, I(max_bulk_body), 1024, 1LL << 30,
	  "67108864", "largest $bulk-member-match body, bytes" },
	{ "bulk_max_members", C_INT, I(bulk_max_members), 1, 1000000,
	  "10000", "most MemberBundles in one $bulk-member-match" },
	{ "token_ttl", C_INT, I(token_ttl), 30, 3600, "300",
	  "access token lifetime, seconds" },
	{ "clock_skew", C_INT, I(clock_skew), 0, 300, "60",
	  "allowance for clock differences in assertions, seconds" },
	{ "allow_basic_api", C_INT, I(allow_basic_api), 0, 1, "0",
	  "1: accept Basic credentials on API calls (clients of grant type basic)" },
	{ "allow_legacy_consentless", C_INT, I(allow_legacy_consentless), 0,
	  1, "0", "1: accept PDex STU1 $member-match without a Consent" },
	{ "data_years", C_INT, I(data_years), 1, 100, "5",
	  "date-of-service window released to payers, years" },
	{ "pa_change_months", C_INT, I(pa_change_months), 1, 120, "12",
	  "closed prior authorizations released if changed within, months" },
	{ "release_drug_pa", C_INT, I(release_drug_pa), 0, 1, "0",
	  "1: release prior authorizations for drugs (CMS-0057-F: 0)" },
	{ "job_ttl", C_INT, I(job_ttl), 60, 90LL * 86400, "86400",
	  "seconds bulk jobs and their files are kept" },
	{ "export_file_max", C_INT, I(export_file_max), 1, 1LL << 40,
	  "100000", "resources per ndjson file before a new file starts" },
	{ "signed_urls", C_INT, I(signed_urls), 0, 1, "1",
	  "1: bulk file URLs are signed and time-limited (checked before lighttpd sends the file)" },
	{ "url_ttl", C_INT, I(url_ttl), 60, 7LL * 86400, "3600",
	  "lifetime of a signed file URL, seconds" },
	{ "status_wait_ms", C_INT, I(status_wait_ms), 0, 10000, "2000",
	  "a status request for a job about to finish waits for it up to this, ms (0: never)" },
	{ "status_waiters", C_INT, I(status_waiters), 0, 64, "2",
	  "status requests that may wait at once (below export-status max-procs)" },
	{ "probe_limit", C_INT, I(probe_limit), 1, 1000, "5",
	  "distinct coverage data tried for one person before 429" },
	{ "probe_window", C_INT, I(probe_window), 1, 86400, "600",
	  "seconds the probe limit spans" },
	{ "jwks_cooldown", C_INT, I(jwks_cooldown), 0, 86400, "60",
	  "least seconds between two fetches of a client's JWKS URL" },
	{ "jwks_allow_http", C_INT, I(jwks_allow_http), 0, 1, "0",
	  "1: allow http:// JWKS URLs on loopback (tests only)" },
	{ "ca_file", C_PATH, S(ca_file), 0, 0, "",
	  "CA certificates (PEM) trusted for JWKS URLs and peers (empty: the system's)" },
	{ "peer_file_max", C_INT, I(peer_file_max), 1024, 1LL << 40,
	  "4294967296", "largest bulk file p2p-request takes from a peer, bytes" },
	{ "log_file", C_LOG, S(log_file), 0, 0, "log/p2p.log",
	  "request and runner log: a file, syslog, or stderr (-)" },
	{ "allow_root", C_INT, I(allow_root), 0, 1, "0",
	  "1: the server programs and the runner may run as root (demo, tests)" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static int
set_value(struct p2p_config *c, const struct ckey *k, const char *v,
    struct p2p_err *err, int line)
{
	char		*dst = (char *)c + k->off;
	long long	 n;
	int		 w;

	switch (k->type) {
	case C_INT:
	case C_POW2:
		if (parse_ll(v, k->min, k->max, &n) == -1 ||
		    (k->type == C_POW2 && (n & (n - 1)) != 0))
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s:%d: %s must be an integer from %lld to %lld%s",
			    c->path, line, k->name, k->min, k->max,
			    k->type == C_POW2 ? ", a power of two" : "");
		*(long long *)(void *)dst = n;
		return 0;
	case C_DIR:
		/* Empty: the file's directory, already in place. */
		if (*v == '\0')
			return 0;
		if (*v != '/')
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s:%d: %s must be an absolute path", c->path,
			    line, k->name);
		w = snprintf(dst, k->size, "%s", v);
		while (w > 1 && dst[w - 1] == '/')
			dst[--w] = '\0';
		break;
	default:	/* C_PATH and C_LOG are resolved by resolve() */
		w = snprintf(dst, k->size, "%s", v);
		break;
	}
	if (w < 0 || (size_t)w >= k->size)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s:%d: %s is too long", c->path, line, k->name);
	return 0;
}

/* 1 when a C_LOG value names no file. */
static int
log_special(const char *v)
{
	return strcmp(v, "syslog") == 0 || strcmp(v, "stderr") == 0 ||
	    strcmp(v, "-") == 0;
}

/*
 * Makes relative paths absolute, once every key is read (data_dir may
 * come after them).  Returns 0, or -1 with err naming the key too long.
 */
static int
resolve(struct p2p_config *c, struct p2p_err *err)
{
	char	 tmp[PATH_MAX];
	char	*dst;
	size_t	 i;
	int	 w;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].type != C_PATH && keys[i].type != C_LOG)
			continue;
		dst = (char *)c + keys[i].off;
		if (*dst == '\0' || *dst == '/' ||
		    (keys[i].type == C_LOG && log_special(dst)))
			continue;
		w = snprintf(tmp, sizeof(tmp), "%s/%s", c->data_dir, dst);
		if (w < 0 || (size_t)w >= keys[i].size)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s: %s is too long under data_dir %s", c->path,
			    keys[i].name, c->data_dir);
		memcpy(dst, tmp, (size_t)w + 1);
	}
	return 0;
}

static void
derive(struct p2p_config *c)
{
	size_t	 n = strlen(c->base_url);

	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	snprintf(c->fhir_base, sizeof(c->fhir_base), "%s/fhir", c->base_url);
	snprintf(c->token_url, sizeof(c->token_url), "%s/auth/token",
	    c->base_url);
}

void
config_defaults(struct p2p_config *c)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		set_value(c, &keys[i], keys[i].def, NULL, 0);
	(void)resolve(c, NULL);
	derive(c);
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

const char *
config_default_path(void)
{
	return P2P_SYSCONFDIR "/p2p.conf";
}

int
config_load(struct p2p_config *c, const char *path, struct p2p_err *err)
{
	FILE		*f;
	char		 line[1024], *p, *key, *val, *slash;
	char		 in_data[PATH_MAX];
	const char	*env;
	size_t		 i;
	int		 lineno = 0, searched = 0;

	memset(c, 0, sizeof(*c));
	if (path == NULL) {
		searched = 1;
		if ((env = getenv("P2P_CONF")) != NULL && *env != '\0')
			path = env;
		else if ((env = getenv("P2P_DATA")) != NULL && *env != '\0') {
			/* Not in c->path: copied there below, and a copy
			 * onto itself is undefined (it came out empty). */
			snprintf(in_data, sizeof(in_data), "%s/p2p.conf", env);
			path = in_data;
		} else
			path = config_default_path();
	}
	if (snprintf(c->path, sizeof(c->path), "%s", path) >=
	    (int)sizeof(c->path))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "configuration path too long");
	if (realpath(path, c->data_dir) == NULL) {
		if (searched && errno == ENOENT)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s: no such file (give -c FILE, or set P2P_CONF "
			    "or P2P_DATA)", path);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s: %s", path, strerror(errno));
	}
	if ((slash = strrchr(c->data_dir, '/')) != NULL)
		*(slash == c->data_dir ? slash + 1 : slash) = '\0';
	for (i = 0; i < NKEYS; i++)
		set_value(c, &keys[i], keys[i].def, NULL, 0);
	if ((f = fopen(path, "r")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((val = strchr(p, '=')) == NULL) {
			fclose(f);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s:%d: expected key = value", path, lineno);
		}
		*val++ = '\0';
		key = trim(p);
		val = trim(val);
		for (i = 0; i < NKEYS; i++)
			if (strcmp(keys[i].name, key) == 0)
				break;
		if (i == NKEYS) {
			fclose(f);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "%s:%d: unknown key \"%s\"", path, lineno, key);
		}
		if (set_value(c, &keys[i], val, err, lineno) == -1) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	if (resolve(c, err) == -1)
		return -1;
	derive(c);
	return 0;
}

size_t
config_nkeys(void)
{
	return NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

int
config_check_user(const struct p2p_config *c, struct p2p_err *err)
{
	if (geteuid() != 0 || c->allow_root)
		return 0;
	return p2p_fail(err, 500, P2P_ISSUE_SECURITY,
	    "refusing to run as root: run as the data directory's owner "
	    "(e.g. the p2p user), or set allow_root = 1 in %s", c->path);
}

int
config_write(const struct p2p_config *c, const char *path)
{
	FILE		*f;
	const char	*dst;
	size_t		 i, dl = strlen(c->data_dir);

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "# p2p configuration (see p2p.conf(5)).\n"
	    "# Relative paths start at data_dir, this file's directory "
	    "unless set.\n\n");
	for (i = 0; i < NKEYS; i++) {
		dst = (const char *)c + keys[i].off;
		fprintf(f, "# %s\n", keys[i].doc);
		if (keys[i].type == C_DIR)	/* this file's directory */
			fprintf(f, "#%s =\n\n", keys[i].name);
		else if (keys[i].type == C_INT || keys[i].type == C_POW2)
			fprintf(f, "%s = %lld\n\n", keys[i].name,
			    *(const long long *)(const void *)dst);
		else if ((keys[i].type == C_PATH || keys[i].type == C_LOG) &&
		    strncmp(dst, c->data_dir, dl) == 0 && dst[dl] == '/')
			fprintf(f, "%s = %s\n\n", keys[i].name, dst + dl + 1);
		else
			fprintf(f, "%s = %s\n\n", keys[i].name, dst);
	}
	return fclose(f) == 0 ? 0 : -1;
}
