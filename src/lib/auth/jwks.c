/*
 * jwks.c - see jwks.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "auth/jwks.h"
#include "core/log.h"
#include "core/util.h"

static const char *const sql_get =
    "SELECT jwks, expires, last_try FROM jwks_cache WHERE client_id = ?1";
static const char *const sql_put =
    "INSERT INTO jwks_cache (client_id, jwks, fetched, expires, last_try)"
    " VALUES (?1, ?2, ?3, ?4, ?3) ON CONFLICT (client_id) DO UPDATE SET"
    " jwks = excluded.jwks, fetched = excluded.fetched,"
    " expires = excluded.expires, last_try = excluded.last_try";
static const char *const sql_tried =
    "INSERT INTO jwks_cache (client_id, jwks, fetched, expires, last_try)"
    " VALUES (?1, NULL, 0, 0, ?2) ON CONFLICT (client_id) DO UPDATE SET"
    " last_try = excluded.last_try";

int
jwks_url_ok(const struct p2p_config *cfg, const char *url)
{
	return url_fetch_ok(cfg, url, 512);
}

int
url_fetch_ok(const struct p2p_config *cfg, const char *url, size_t max)
{
	static const char *const loop[] = { "http://127.0.0.1:",
		"http://127.0.0.1/", "http://localhost:", "http://localhost/",
		"http://[::1]:", "http://[::1]/" };
	size_t	 i;

	if (url == NULL || strlen(url) >= max)
		return 0;
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return 0;
	if (strncmp(url, "https://", 8) == 0 && url[8] != '\0')
		return 1;
	if (!cfg->jwks_allow_http)
		return 0;
	for (i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
		if (strncmp(url, loop[i], strlen(loop[i])) == 0)
			return 1;
	return 0;
}

struct fetch {
	struct p2p_buf	 body;
	long long	 max_age;	/* -1: none given */
	int		 no_store;
	int		 too_big;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct fetch	*f = arg;

	if (f->body.len + sz * n > JWKS_MAX_BYTES) {
		f->too_big = 1;
		return 0;
	}
	if (buf_add(&f->body, p, sz * n) == -1)
		return 0;
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct fetch	*f = arg;
	char		 line[512], *v, *tok, *save = NULL;
	size_t		 len = sz * n;
	long long	 age;

	if (len >= sizeof(line) || len < 14 ||
	    strncasecmp(p, "cache-control:", 14) != 0)
		return len;
	memcpy(line, p + 14, len - 14);
	line[len - 14] = '\0';
	for (tok = strtok_r(line, ", \t\r\n", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t\r\n", &save)) {
		if (strcasecmp(tok, "no-store") == 0 ||
		    strcasecmp(tok, "no-cache") == 0)
			f->no_store = 1;
		else if (strncasecmp(tok, "max-age=", 8) == 0) {
			v = tok + 8;
			if (parse_ll(v, 0, 1LL << 40, &age) == 0)
				f->max_age = age;
		}
	}
	return len;
}

/* Fetches url into *out (malloc'd JSON text).  0 or -1 (logged). */
static int
fetch(const struct p2p_config *cfg, const char *client_id, const char *url,
    char **out, long long *ttl)
{
	struct fetch	 f;
	CURL		*c;
	CURLcode	 rc;
	long		 code = 0;
	json_object	*o = NULL, *keys;
	int		 ret = -1;

	memset(&f, 0, sizeof(f));
	f.max_age = -1;
	if ((c = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg->jwks_allow_http ?
	    "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 3L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "p2p-jwks/1");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || code != 200 || f.body.p == NULL) {
		log_warn("jwks fetch for client %s failed: %s (HTTP %ld)",
		    client_id, f.too_big ? "too large" : curl_easy_strerror(rc),
		    code);
		goto out;
	}
	if ((o = json_tokener_parse(f.body.p)) == NULL ||
	    !json_object_object_get_ex(o, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		log_warn("jwks fetch for client %s: not a JWKS", client_id);
		goto out;
	}
	*out = xstrdup(f.body.p);
	*ttl = f.no_store ? 0 : f.max_age >= 0 ? f.max_age : JWKS_DEFAULT_TTL;
	if (*ttl > JWKS_MAX_TTL)
		*ttl = JWKS_MAX_TTL;
	ret = *out == NULL ? -1 : 0;
out:
	json_object_put(o);
	buf_free(&f.body);
	return ret;
}

int
jwks_get(struct p2p_db *db, const struct p2p_config *cfg,
    const char *client_id, const char *url, int refetch, char **out,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	char		*cached = NULL, *fresh = NULL;
	long long	 expires = 0, last_try = 0, ttl = 0, now = now_sec();
	int		 rc, have = 0;

	*out = NULL;
	if ((st = db_query(db, sql_get, err, "t", client_id)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		have = 1;
		cached = xstrdup(db_col_text(st, 0));
		expires = db_col_int64(st, 1);
		last_try = db_col_int64(st, 2);
	}
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "jwks_cache select");
	if (have && cached != NULL && now < expires && !refetch) {
		*out = cached;
		return 0;
	}
	/* cool-down: a flood of unknown kids or a dead endpoint */
	if (have && now - last_try < cfg->jwks_cooldown) {
		*out = cached;
		return 0;
	}
	if (!jwks_url_ok(cfg, url)) {
		log_warn("jwks URL of client %s not allowed", client_id);
		*out = cached;
		return 0;
	}
	if (fetch(cfg, client_id, url, &fresh, &ttl) == 0) {
		if ((st = db_stmt(db, sql_put, err)) == NULL) {
			free(fresh);
			free(cached);
			return -1;
		}
		db_bind_text(st, 1, client_id);
		db_bind_text(st, 2, fresh);
		db_bind_int64(st, 3, now);
		db_bind_int64(st, 4, now + ttl);
		rc = db_step(st);
		db_done(st);
		free(cached);
		*out = fresh;
	} else {
		/* keep the last good set */
		if ((st = db_stmt(db, sql_tried, err)) == NULL) {
			free(cached);
			return -1;
		}
		db_bind_text(st, 1, client_id);
		db_bind_int64(st, 2, now);
		rc = db_step(st);
		db_done(st);
		*out = cached;
	}
	if (rc != DB_DONE)
		log_warn("jwks_cache update for %s: %s", client_id,
		    db_errstr(rc));
	return 0;
}
