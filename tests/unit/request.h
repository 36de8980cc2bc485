/*
 * request.h - one request through an operation's whole contract, in
 * process: the CGI variables in the environment, the body and the
 * response in memory, then p2p_accept(), p2p_serve() and p2p_end() as
 * the program's loop runs them.  For suites that compile an operation
 * (src/cgi/<operation>.c) with -DP2P_NO_MAIN.
 */
#ifndef P2P_UNIT_REQUEST_H
#define P2P_UNIT_REQUEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/access.h"
#include "web/op.h"

struct unit_reply {
	int		 status;	/* from the Status line */
	char		 head[4096];	/* the header lines, each with CRLF */
	json_object	*body;		/* the JSON body, or NULL; caller puts */
};

/*
 * Gives cfg a fresh server key (hex in a temporary file) for tokens.
 * The key is read once per process: call it before the first request.
 */
static inline void
unit_key(struct p2p_config *cfg)
{
	char	 path[] = "/tmp/p2p-unit-key-XXXXXX";
	int	 fd;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff\n", 65), 65);
	close(fd);
	snprintf(cfg->key_file, sizeof(cfg->key_file), "%s", path);
}

/* "Bearer <token>" for client (NPI npi) granted scopes; caller frees. */
static inline char *
unit_bearer(const struct p2p_config *cfg, const char *client,
    const char *npi, const char *scopes)
{
	const unsigned char	*key;
	struct p2p_err		 err;
	char			*tok, *h;

	p2p_err_init(&err);
	ck_assert_int_eq(auth_key(cfg, &key, &err), 0);
	ck_assert_ptr_nonnull(tok = auth_token_new(cfg, key, client, npi,
	    scopes, now_sec()));
	ck_assert_ptr_nonnull(h = malloc(strlen(tok) + 8));
	snprintf(h, strlen(tok) + 8, "Bearer %s", tok);
	free(tok);
	return h;
}

static inline void
unit_env(const char *name, const char *value)
{
	if (value != NULL)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

/*
 * Sends one request to ctx's operation (ctx->cfg and ctx->db set up by
 * the caller) and reads the response into r.  body (JSON or form text)
 * may be NULL; so may auth (an Authorization value) and prefer.
 */
static inline void
unit_request(struct p2p_ctx *ctx, const char *method, const char *uri,
    const char *ctype, const char *body, const char *auth,
    const char *prefer, struct unit_reply *r)
{
	struct p2p_req	 req;
	char		*out = NULL, len[32], *sep;
	size_t		 outlen = 0;

	memset(r, 0, sizeof(*r));
	snprintf(len, sizeof(len), "%zu", body != NULL ? strlen(body) : 0);
	unit_env("REQUEST_METHOD", method);
	unit_env("REQUEST_URI", uri);
	unit_env("CONTENT_TYPE", body != NULL ? ctype : NULL);
	unit_env("CONTENT_LENGTH", body != NULL ? len : NULL);
	unit_env("HTTP_AUTHORIZATION", auth);
	unit_env("HTTP_PREFER", prefer);
	ctx->cgi = 1;
	ctx->turns = 0;
	ck_assert_ptr_nonnull(ctx->in = fmemopen(body != NULL ?
	    (void *)body : (void *)"", body != NULL ? strlen(body) + 1 : 1,
	    "r"));
	ck_assert_ptr_nonnull(ctx->out = open_memstream(&out, &outlen));
	ck_assert_int_eq(p2p_accept(ctx, &req), 0);
	p2p_serve(ctx, &req);
	p2p_end(&req);
	fclose(ctx->in);
	fclose(ctx->out);
	ctx->in = ctx->out = NULL;
	ck_assert_int_eq(sscanf(out, "Status: %d", &r->status), 1);
	ck_assert_ptr_nonnull(sep = strstr(out, "\r\n\r\n"));
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep + 2 - out), out);
	if (sep[4] != '\0')
		r->body = json_tokener_parse(sep + 4);
	free(out);
	buf_free(&ctx->spare);
}

/* The first issue's code of an OperationOutcome, or its OAuth error. */
static inline const char *
unit_issue(const struct unit_reply *r)
{
	json_object	*v, *is;

	if (json_object_object_get_ex(r->body, "error", &v))
		return json_object_get_string(v);
	if (!json_object_object_get_ex(r->body, "issue", &is) ||
	    (v = json_object_array_get_idx(is, 0)) == NULL ||
	    !json_object_object_get_ex(v, "code", &v))
		return "";
	return json_object_get_string(v);
}

#endif
