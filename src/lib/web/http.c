/*
 * http.c - requests and responses (see http.h).
 *
 * CGI variables follow RFC 3875; lighttpd passes the original request
 * target in REQUEST_URI, which is what routing uses, so URL rewrites in
 * the server configuration do not change what the programs see.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "json/fhir.h"
#include "web/http.h"
#include "web/op.h"

static volatile sig_atomic_t	 stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int
p2p_open(struct p2p_ctx *ctx, const struct p2p_op *op)
{
	struct p2p_err		 err;
	struct sigaction	 sa;

	memset(ctx, 0, sizeof(*ctx));
	ctx->op = op;
	ctx->in = stdin;
	ctx->out = stdout;
	log_init(op->name);
	p2p_err_init(&err);
	if (config_load(&ctx->cfg, NULL, &err) == -1) {
		log_err("configuration: %s", err.msg);
		return -1;
	}
	/* Before the log file is opened: root would leave it root's. */
	if (config_check_user(&ctx->cfg, &err) == -1) {
		log_err("%s", err.msg);
		return -1;
	}
	if (log_open(ctx->cfg.log_file, &err) == -1)
		log_warn("%s; logging to stderr", err.msg);
	if (db_open(&ctx->db, ctx->cfg.database, 0, &err) == -1)
		return -1;
	if (db_cache(&ctx->db, ctx->cfg.db_cache_mib, &err) == -1) {
		log_err("database: %s", err.msg);
		db_close(&ctx->db);
		return -1;
	}
	db_defer_checkpoints(&ctx->db);
	/* Pages come from the mapping instead of a pread each (~37 of
	 * the ~41 preads of a $member-match).  SQLite caps the size at
	 * its compile-time limit (2 GiB by default); past it, pread. */
	if (op->db_mmap && db_exec(&ctx->db, "PRAGMA mmap_size = 2147483648",
	    &err) == -1) {
		db_close(&ctx->db);
		return -1;
	}
	if (db_version(&ctx->db) != db_latest_version()) {
		log_err("%s: schema version %d, this build needs %d "
		    "(run p2p-admin migrate)", ctx->cfg.database,
		    db_version(&ctx->db), db_latest_version());
		db_close(&ctx->db);
		return -1;
	}
	if (FCGX_Init() != 0) {
		log_err("FCGX_Init failed");
		db_close(&ctx->db);
		return -1;
	}
	ctx->cgi = FCGX_IsCGI();
	if (!ctx->cgi) {
		FCGX_InitRequest(&ctx->fcgx, 0, FCGI_FAIL_ACCEPT_ON_INTR);
		/* SIGTERM from the web server ends the loop so that main()
		 * returns and cleans up (sanitizers report leaks then). */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	return 0;
}

void
p2p_close(struct p2p_ctx *ctx)
{
	db_close(&ctx->db);
	buf_free(&ctx->spare);
	if (!ctx->cgi)
		FCGX_Free(&ctx->fcgx, 1);
	log_close();
}

static const char *
getparam(struct p2p_req *req, const char *name)
{
	if (req->ctx->cgi)
		return getenv(name);
	return FCGX_GetParam(name, req->fx->envp);
}

const char *
p2p_env(struct p2p_req *req, const char *name)
{
	return getparam(req, name);
}

static int
method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return P2P_GET;
	if (strcmp(m, "POST") == 0)
		return P2P_POST;
	if (strcmp(m, "PUT") == 0)
		return P2P_PUT;
	if (strcmp(m, "DELETE") == 0)
		return P2P_DELETE;
	if (strcmp(m, "HEAD") == 0)
		return P2P_HEAD;
	return 0;
}

#define P2P_SPARE_MAX	(16 * 1024 * 1024)	/* response memory kept */

/*
 * Waits up to ms milliseconds (-1: for ever) for a connection on the
 * FastCGI listening socket (descriptor 0, FCGI_LISTENSOCK_FILENO):
 * 0 when one waits, 1 when none, -1 when the program should exit (or
 * poll failed).
 */
static int
listen_wait(int ms)
{
	struct pollfd	 p;
	int		 n;

	for (;;) {
		if (stopping)
			return -1;
		p.fd = 0;
		p.events = POLLIN;
		p.revents = 0;
		if ((n = poll(&p, 1, ms)) > 0)
			return 0;
		if (n == 0)
			return 1;
		if (errno != EINTR)
			return -1;
	}
}

/* Fills req from the request just accepted on fx (NULL in CGI). */
static void
accepted(struct p2p_ctx *ctx, struct p2p_req *req, FCGX_Request *fx);

int
p2p_accept(struct p2p_ctx *ctx, struct p2p_req *req)
{
	memset(req, 0, sizeof(*req));
	req->ctx = ctx;
	if (ctx->cgi) {
		if (ctx->turns > 0)
			return -1;
	} else {
		if (stopping || FCGX_Accept_r(&ctx->fcgx) < 0)
			return -1;
	}
	accepted(ctx, req, ctx->cgi ? NULL : &ctx->fcgx);
	return 0;
}

int
p2p_accept_on(struct p2p_ctx *ctx, struct p2p_req *req, FCGX_Request *fx,
    int wait)
{
	int	 fl, rc;

	memset(req, 0, sizeof(*req));
	req->ctx = ctx;
	/* libfcgi's accept loops back to accept(2) when a connection
	 * turns out dead: non-blocking, it cannot wait there. */
	if (!ctx->nonblock) {
		if ((fl = fcntl(0, F_GETFL)) == -1 ||
		    fcntl(0, F_SETFL, fl | O_NONBLOCK) == -1)
			return -1;
		ctx->nonblock = 1;
	}
	for (;;) {
		if (stopping)
			return -1;
		if ((rc = FCGX_Accept_r(fx)) == 0)
			break;
		if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR)
			return -1;
		if (!wait)
			return 1;
		if ((rc = listen_wait(-1)) != 0)
			return -1;
	}
	accepted(ctx, req, fx);
	return 0;
}

static void
accepted(struct p2p_ctx *ctx, struct p2p_req *req, FCGX_Request *fx)
{
	const char	*uri, *q, *m;
	size_t		 plen;

	req->fx = fx;
	/* The last response's memory: a large body (a $everything page)
	 * is written without fresh pages to fault in every time.  Taken
	 * only once a request came: when the loop ends instead, it stays
	 * in ctx for p2p_close() to free. */
	req->out = ctx->spare;
	memset(&ctx->spare, 0, sizeof(ctx->spare));
	ctx->turns++;
	req->t0 = now_ms();
	if (rand_hex(req->id, 8) == -1)
		snprintf(req->id, sizeof(req->id), "%016llx",
		    (unsigned long long)req->t0);
	m = getparam(req, "REQUEST_METHOD");
	snprintf(req->method_name, sizeof(req->method_name), "%s",
	    m ? m : "-");
	req->method = m ? method_bit(m) : 0;
	if ((uri = getparam(req, "REQUEST_URI")) == NULL)
		uri = getparam(req, "SCRIPT_NAME");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	plen = q ? (size_t)(q - uri) : strlen(uri);
	req->path = strndup(uri, plen);
	req->query = strdup(q ? q + 1 : "");
	if (req->path == NULL || req->query == NULL ||
	    url_decode(req->path, 0) == -1)
		req->bad_path = 1;
	req->content_type = xstrdup(getparam(req, "CONTENT_TYPE"));
	req->authorization = xstrdup(getparam(req, "HTTP_AUTHORIZATION"));
	req->prefer = xstrdup(getparam(req, "HTTP_PREFER"));
	req->accept = xstrdup(getparam(req, "HTTP_ACCEPT"));
	req->remote = xstrdup(getparam(req, "REMOTE_ADDR"));
	req->status = 200;
}

long long
p2p_content_length(struct p2p_req *req)
{
	const char	*cl = getparam(req, "CONTENT_LENGTH");
	long long	 len = 0;

	if (cl != NULL && *cl != '\0' &&
	    parse_ll(cl, 0, (long long)1 << 40, &len) == -1)
		return -1;
	return len;
}

int
p2p_read_body(struct p2p_req *req, size_t len, struct p2p_err *err)
{
	size_t	 got = 0;
	int	 n;

	if ((req->body = malloc(len + 1)) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	while (got < len) {
		if (req->ctx->cgi) {
			n = (int)fread(req->body + got, 1, len - got,
			    req->ctx->in);
		} else {
			size_t want = len - got > (1u << 30) ? (1u << 30) :
			    len - got;
			n = FCGX_GetStr(req->body + got, (int)want,
			    req->fx->in);
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got != len)
		return p2p_fail(err, 400, P2P_ISSUE_STRUCTURE,
		    "request body shorter than Content-Length");
	return 0;
}

void
p2p_header(struct p2p_req *req, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	char	 val[2048];
	size_t	 i;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	/* No header splitting, whatever ends up in a value. */
	for (i = 0; val[i] != '\0'; i++)
		if (val[i] == '\r' || val[i] == '\n')
			val[i] = ' ';
	buf_printf(&req->head, "%s: %s\r\n", name, val);
}

void
p2p_set_json(struct p2p_req *req, int status, const char *ctype,
    json_object *obj)
{
	json_object_put(req->reply);
	req->reply = obj;
	req->status = status;
	req->ctype = ctype;
}

static void
put(struct p2p_req *req, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (req->ctx->cgi)
		fwrite(s, 1, n, req->ctx->out);
	else
		FCGX_PutStr(s, (int)n, req->fx->out);
}

void
p2p_reply(struct p2p_req *req)
{
	if (req->ctx->hold) {
		req->held = 1;
		return;
	}
	req->held = 1;
	p2p_reply_flush(req);
}

void
p2p_reply_flush(struct p2p_req *req)
{
	struct p2p_buf	 h = { 0 };
	const char	*body = NULL;
	size_t		 blen = 0;

	if (!req->held)
		return;
	req->held = 0;
	if (req->reply != NULL) {
		body = fhir_json(req->reply);
		blen = strlen(body);
	} else if (req->out.len > 0) {
		body = req->out.p;
		blen = req->out.len;
	}
	buf_printf(&h, "Status: %d %s\r\n", req->status,
	    http_reason(req->status));
	if (body != NULL || req->ctype != NULL)
		buf_printf(&h, "Content-Type: %s\r\n",
		    req->ctype ? req->ctype : "application/fhir+json");
	buf_printf(&h, "Content-Length: %zu\r\n", blen);
	buf_printf(&h, "X-Request-Id: %s\r\n", req->id);
	if (req->head.len > 0)
		buf_add(&h, req->head.p, req->head.len);
	buf_puts(&h, "\r\n");
	put(req, h.p, h.len);
	if (req->method != P2P_HEAD)
		put(req, body, blen);
	buf_free(&h);
	if (req->ctx->cgi)
		fflush(req->ctx->out);
}

void
p2p_reply_error(struct p2p_req *req, const struct p2p_err *err)
{
	json_object	*o;
	int		 status = err->status ? err->status : 500;

	buf_reset(&req->out);
	if (err->retry_after > 0)
		p2p_header(req, "Retry-After", "%d", err->retry_after);
	if (req->ctx->op->oauth_errors) {
		o = json_object_new_object();
		fhir_add_str(o, "error", err->oauth[0] ? err->oauth :
		    status >= 500 ? "server_error" : "invalid_request");
		fhir_add_str(o, "error_description", err->msg);
		p2p_header(req, "Cache-Control", "no-store");
		p2p_header(req, "Pragma", "no-cache");
		p2p_set_json(req, status, "application/json", o);
	} else {
		if (status == 401 && strstr(req->head.p ? req->head.p : "",
		    "WWW-Authenticate") == NULL)
			p2p_header(req, "WWW-Authenticate",
			    "Bearer realm=\"p2p\", error=\"invalid_token\"");
		p2p_set_json(req, status, "application/fhir+json",
		    fhir_outcome_new(err));
	}
	if (status >= 500)
		log_err("request %s: %d %s", req->id, status, err->msg);
	p2p_reply(req);
}

/*
 * CGI: the rest of the request body, read and dropped before the program
 * exits.  mod_cgid carries body and response over one socket, and
 * closing it with unread data resets it, cutting the response short.
 */
static void
drain_body(struct p2p_req *req)
{
	const char	*cl = getparam(req, "CONTENT_LENGTH");
	char		 buf[8192];
	long long	 left;
	size_t		 n;

	if (cl == NULL || *cl == '\0' ||
	    parse_ll(cl, 0, req->ctx->cfg.max_bulk_body, &left) == -1)
		return;
	left -= (long long)req->body_len;
	while (left > 0 && (n = fread(buf, 1, left < (long long)sizeof(buf) ?
	    (size_t)left : sizeof(buf), stdin)) > 0)
		left -= (long long)n;
}

void
p2p_end(struct p2p_req *req)
{
	if (req->ctx->cgi)
		drain_body(req);
	log_info("%s %s %d %lldms client=%s id=%s", req->method_name,
	    req->path ? req->path : "-", req->status,
	    (long long)(now_ms() - req->t0),
	    req->who.client_id[0] ? req->who.client_id : "-", req->id);
	if (!req->ctx->cgi)
		FCGX_Finish_r(req->fx);
	free(req->path);
	free(req->query);
	free(req->content_type);
	if (req->authorization != NULL)
		memset(req->authorization, 0, strlen(req->authorization));
	free(req->authorization);
	free(req->prefer);
	free(req->accept);
	free(req->remote);
	free(req->body);
	kv_free(&req->params);
	json_object_put(req->json);
	json_object_put(req->reply);
	buf_free(&req->head);
	buf_reset(&req->out);
	if (req->out.cap <= P2P_SPARE_MAX && req->ctx->spare.p == NULL)
		req->ctx->spare = req->out;
	else
		buf_free(&req->out);
	memset(req, 0, sizeof(*req));
}

int
p2p_prefer_async(const struct p2p_req *req)
{
	const char	*p = req->prefer;

	return p != NULL && strcasestr(p, "respond-async") != NULL;
}

void
p2p_accepted(struct p2p_req *req, const char *id)
{
	p2p_header(req, "Content-Location", "%s/bulkstatus/%s",
	    req->ctx->cfg.fhir_base, id);
	p2p_set_json(req, 202, "application/fhir+json",
	    fhir_outcome_new3("information", P2P_ISSUE_INFORMATIONAL,
	    "accepted; poll the Content-Location URL for the result"));
}

int
p2p_request_url(const struct p2p_req *req, char *url, size_t sz,
    struct p2p_err *err)
{
	if (snprintf(url, sz, "%s%s%s%s", req->ctx->cfg.base_url, req->path,
	    req->query[0] ? "?" : "", req->query) >= (int)sz)
		return p2p_fail(err, 414, P2P_ISSUE_TOO_LONG,
		    "request URL too long");
	return 0;
}
