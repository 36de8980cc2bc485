/*
 * peer/httpc.c - see httpc.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "auth/jwks.h"
#include "json/fhir.h"
#include "peer/httpc.h"

#define HTTPC_URL_MAX		4096	/* longest URL requested */
#define HTTPC_CONNECT		10	/* seconds to connect */

int
httpc_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int
httpc_url_ok(const struct p2p_config *cfg, const char *url)
{
	return url_fetch_ok(cfg, url, HTTPC_URL_MAX);
}

/* Length of "scheme://authority" at the start of url, or 0. */
static size_t
origin_len(const char *url)
{
	const char	*p;

	if ((p = strstr(url, "://")) == NULL || p == url)
		return 0;
	p += 3;
	p += strcspn(p, "/?#");
	return (size_t)(p - url);
}

int
httpc_same_origin(const char *a, const char *b)
{
	size_t	 na, nb;

	if (a == NULL || b == NULL)
		return 0;
	na = origin_len(a);
	nb = origin_len(b);
	return na > 0 && na == nb && strncasecmp(a, b, na) == 0;
}

void
httpc_resp_init(struct httpc_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	r->length = -1;
}

void
httpc_resp_free(struct httpc_resp *r)
{
	buf_free(&r->body);
	httpc_resp_init(r);
}

long long
httpc_retry_after(const char *v, time_t now)
{
	struct tm	 tm;
	long long	 s;
	const char	*end;
	time_t		 t;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		for (s = 0; *v >= '0' && *v <= '9'; v++)
			if ((s = s * 10 + (*v - '0')) > HTTPC_RETRY_MAX)
				s = HTTPC_RETRY_MAX;
		while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			v++;
		return *v == '\0' ? s : -1;
	}
	/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return -1;
	while (*end == ' ' || *end == '\r' || *end == '\n')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > HTTPC_RETRY_MAX ? HTTPC_RETRY_MAX : t - now;
}

/* Copies a header value (trimmed) into out. */
static void
hvalue(const char *p, size_t n, char *out, size_t outsz)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

void
httpc_header(struct httpc_resp *r, const char *line, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off;
		size_t		 size;
	} keep[] = {
		{ "content-type:", offsetof(struct httpc_resp, ctype),
		    sizeof(((struct httpc_resp *)0)->ctype) },
		{ "content-location:", offsetof(struct httpc_resp, location),
		    sizeof(((struct httpc_resp *)0)->location) },
		{ "x-progress:", offsetof(struct httpc_resp, progress),
		    sizeof(((struct httpc_resp *)0)->progress) },
		{ "date:", offsetof(struct httpc_resp, date),
		    sizeof(((struct httpc_resp *)0)->date) },
	};
	char		 v[64];
	long long	 n;
	size_t		 i, k;

	/* A new response (after 100 Continue): forget the earlier one. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		r->ctype[0] = r->location[0] = r->progress[0] = '\0';
		r->date[0] = '\0';
		r->retry_after = r->length = -1;
		return;
	}
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		k = strlen(keep[i].name);
		if (len > k && strncasecmp(line, keep[i].name, k) == 0) {
			hvalue(line + k, len - k, (char *)r + keep[i].off,
			    keep[i].size);
			return;
		}
	}
	if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
		hvalue(line + 12, len - 12, v, sizeof(v));
		r->retry_after = httpc_retry_after(v, now_sec());
	} else if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
		hvalue(line + 15, len - 15, v, sizeof(v));
		if (parse_ll(v, 0, 1LL << 50, &n) == 0)
			r->length = n;
	}
}

int
httpc_setup(CURL *c, const struct p2p_config *cfg, const char *url,
    long connect, long total)
{
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK)
		return -1;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg->jwks_allow_http ?
	    "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect);
	if (total > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, total);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "p2p-request/1");
	return 0;
}

struct sink {
	struct httpc_resp	*r;
	size_t			 max;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct sink	*s = arg;

	if (s->r->body.len + sz * n > s->max) {
		s->r->too_big = 1;
		return 0;
	}
	if (buf_add(&s->r->body, p, sz * n) == -1)
		return 0;
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	httpc_header(arg, p, sz * n);
	return sz * n;
}

/* Adds "Name: value" to a header list; 0 or -1. */
static int
hadd(struct curl_slist **l, const char *name, const char *value)
{
	struct curl_slist	*n;
	struct p2p_buf		 b = { 0 };

	if (value == NULL)
		return 0;
	if (buf_printf(&b, "%s: %s", name, value) == -1)
		return -1;
	n = curl_slist_append(*l, b.p);
	buf_free(&b);
	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

int
httpc_do(const struct p2p_config *cfg, const struct httpc_req *q,
    struct httpc_resp *r, struct p2p_err *err)
{
	struct curl_slist	*h = NULL;
	struct sink		 s;
	struct p2p_buf		 auth = { 0 };
	CURL			*c;
	CURLcode		 rc;
	int			 ret = -1;

	httpc_resp_init(r);
	if (!httpc_url_ok(cfg, q->url))
		return p2p_fail(err, 503, P2P_ISSUE_SECURITY, "URL not allowed "
		    "(https only; http on loopback only with jwks_allow_http):"
		    " %.200s", q->url);
	if ((c = curl_easy_init()) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot start an HTTP request");
	s.r = r;
	s.max = q->max > 0 ? q->max : (size_t)HTTPC_BODY_MAX;
	if (httpc_setup(c, cfg, q->url, HTTPC_CONNECT, q->timeout) == -1)
		goto oom;
	if (q->bearer != NULL &&
	    buf_printf(&auth, "Bearer %s", q->bearer) == -1)
		goto oom;
	if (hadd(&h, "Authorization", auth.p) == -1 ||
	    hadd(&h, "Accept", q->accept) == -1 ||
	    hadd(&h, "Prefer", q->prefer) == -1 ||
	    hadd(&h, "Content-Type", q->ctype) == -1 ||
	    hadd(&h, "Expect", "") == -1)
		goto oom;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)q->body_len);
	} else if (strcmp(q->method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_OK && r->status > 0)
		ret = 0;
	else if (r->too_big)
		p2p_fail(err, 502, P2P_ISSUE_TOO_COSTLY, "%s %.200s: the answer "
		    "is larger than %zu bytes", q->method, q->url, s.max);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		p2p_fail(err, 504, P2P_ISSUE_TIMEOUT, "%s %.200s: no complete "
		    "answer within %ld s", q->method, q->url, q->timeout);
	else
		p2p_fail(err, 503, P2P_ISSUE_TRANSIENT, "%s %.200s: %s",
		    q->method, q->url, curl_easy_strerror(rc));
	goto out;
oom:
	p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
out:
	if (ret == -1)
		httpc_resp_free(r);
	curl_slist_free_all(h);
	if (auth.p != NULL)
		memset(auth.p, 0, auth.len);
	buf_free(&auth);
	curl_easy_cleanup(c);
	return ret;
}

/* Appends s to out (size outsz, NUL-terminated), printable only. */
static void
append(char *out, size_t outsz, const char *s)
{
	size_t	 n = strlen(out);

	for (; s != NULL && *s != '\0' && n + 1 < outsz; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
	out[n] = '\0';
}

/* Parses body as a JSON object, or NULL. */
static json_object *
body_json(const char *body, size_t len)
{
	struct p2p_err	 e;
	json_object	*o = NULL;

	p2p_err_init(&e);
	if (body == NULL || len == 0 || fhir_parse(body, len, &o, &e) == -1)
		return NULL;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void
httpc_outcome_text(const char *body, size_t len, char *out, size_t outsz)
{
	json_object	*o, *issues, *is;
	const char	*t, *code;
	size_t		 i, n;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if ((o = body_json(body, len)) == NULL) {
		char	 tmp[201];

		if (body == NULL)
			return;
		n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
		memcpy(tmp, body, n);
		tmp[n] = '\0';
		append(out, outsz, tmp);
		return;
	}
	if ((t = fhir_type(o)) != NULL && strcmp(t, "OperationOutcome") == 0 &&
	    (issues = fhir_get(o, "issue", json_type_array)) != NULL) {
		n = json_object_array_length(issues);
		for (i = 0; i < n && i < 4; i++) {
			is = json_object_array_get_idx(issues, i);
			if (i > 0)
				append(out, outsz, "; ");
			if ((code = fhir_str(is, "code")) != NULL) {
				append(out, outsz, code);
				append(out, outsz, ": ");
			}
			if ((t = fhir_str(is, "diagnostics")) == NULL)
				t = fhir_path_str(is, "details.text");
			append(out, outsz, t != NULL ? t : "(no text)");
		}
	} else if ((t = fhir_str(o, "error")) != NULL) {
		append(out, outsz, t);
		if ((t = fhir_str(o, "error_description")) != NULL) {
			append(out, outsz, ": ");
			append(out, outsz, t);
		}
	} else
		append(out, outsz, "(an answer that is no OperationOutcome)");
	json_object_put(o);
}

void
httpc_outcome_code(const char *body, size_t len, char *out, size_t outsz)
{
	json_object	*o;
	const char	*t, *code = NULL;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if ((o = body_json(body, len)) == NULL)
		return;
	if ((t = fhir_type(o)) != NULL && strcmp(t, "OperationOutcome") == 0)
		code = fhir_path_str(o, "issue.code");
	if (code != NULL)
		snprintf(out, outsz, "%s", code);
	json_object_put(o);
}
