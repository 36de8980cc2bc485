/*
 * metadata.c - GET /fhir/metadata (CapabilityStatement) and
 * GET [/fhir]/.well-known/smart-configuration, from the templates in
 * share/ with this server's absolute URLs filled in; GET
 * /.well-known/jwks.json, the public keys our client assertions are
 * signed with (peer/keys.h), so that a previous payer can register us
 * by URL; and the OperationOutcome 404 for any other /fhir path nothing
 * else serves.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "json/fhir.h"
#include "peer/keys.h"
#include "web/op.h"

#ifndef P2P_SHAREDIR
#define P2P_SHAREDIR	"/usr/local/share/p2p"
#endif

enum doc {
	DOC_CAPABILITY,		/* CapabilityStatement */
	DOC_SMART,		/* smart-configuration */
	DOC__MAX
};

static const struct {
	const char	*file;		/* template in share_dir */
	const char	*ctype;		/* served as */
} docs[DOC__MAX] = {
	{ "capability-statement.json", "application/fhir+json" }, /* DOC_CAPABILITY */
	{ "smart-configuration.json", "application/json" },	/* DOC_SMART */
};

/* The documents, expanded once per process (ctx->app). */
struct meta {
	json_object	*doc[DOC__MAX];
};

/* Replaces every {{NAME}} in text with its value; caller frees. */
static char *
expand(const char *text, const struct p2p_config *cfg)
{
	static const struct { const char *name; size_t off; } vars[] = {
		{ "{{BASE_URL}}", offsetof(struct p2p_config, base_url) },
		{ "{{FHIR_BASE}}", offsetof(struct p2p_config, fhir_base) },
		{ "{{TOKEN_URL}}", offsetof(struct p2p_config, token_url) },
	};
	struct p2p_buf	 b = { 0 };
	const char	*p = text;
	size_t		 i;

	while (*p != '\0') {
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			size_t n = strlen(vars[i].name);
			if (strncmp(p, vars[i].name, n) == 0) {
				buf_puts(&b, (const char *)cfg + vars[i].off);
				p += n;
				break;
			}
		}
		if (i == sizeof(vars) / sizeof(vars[0]))
			buf_add(&b, p++, 1);
	}
	return b.p;
}

static json_object *
load_template(const struct p2p_config *cfg, const char *name)
{
	char		 path[PATH_MAX + 64], *text = NULL, *full;
	FILE		*f;
	long		 n;
	json_object	*obj = NULL;
	struct p2p_err	 err;

	snprintf(path, sizeof(path), "%s/%s",
	    cfg->share_dir[0] ? cfg->share_dir : P2P_SHAREDIR, name);
	if ((f = fopen(path, "r")) == NULL) {
		log_err("%s: cannot open", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = calloc(1, (size_t)n + 1)) &&
	    fread(text, 1, (size_t)n, f) == (size_t)n) {
		p2p_err_init(&err);
		if ((full = expand(text, cfg)) != NULL &&
		    fhir_parse(full, strlen(full), &obj, &err) == -1)
			log_err("%s: %s", path, err.msg);
		free(full);
	}
	free(text);
	fclose(f);
	return obj;
}

/* Sends document d, read and expanded at the first request. */
static int
send_doc(struct p2p_ctx *ctx, struct p2p_req *req, enum doc d,
    struct p2p_err *err)
{
	struct meta	*m = ctx->app;
	size_t		 i;

	if (m == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		for (i = 0; i < DOC__MAX; i++)
			m->doc[i] = load_template(&ctx->cfg, docs[i].file);
		ctx->app = m;
	}
	if (m->doc[d] == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "server metadata is unavailable");
	p2p_set_json(req, 200, docs[d].ctype, json_object_get(m->doc[d]));
	return 0;
}

static int
capability(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	return send_doc(ctx, req, DOC_CAPABILITY, err);
}

static int
smart(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	return send_doc(ctx, req, DOC_SMART, err);
}

/* Our published key set, read at each request (keys rotate). */
static int
jwks(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	char	*set;

	if (keys_jwks(&ctx->db, &set, err) == -1)
		return -1;
	buf_reset(&req->out);
	if (buf_puts(&req->out, set) == -1) {
		free(set);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	free(set);
	/* Peers may cache it this long; a rotation publishes the next key
	 * twice as long before it signs (KEYS_AHEAD). */
	p2p_header(req, "Cache-Control", "public, max-age=%d", KEYS_MAX_AGE);
	req->status = 200;
	req->ctype = "application/json";
	return 0;
}

static void
metadata_free(struct p2p_ctx *ctx)
{
	struct meta	*m = ctx->app;
	size_t		 i;

	if (m == NULL)
		return;
	for (i = 0; i < DOC__MAX; i++)
		json_object_put(m->doc[i]);
	free(m);
	ctx->app = NULL;
}

/*
 * Public documents: a parameter changes nothing in them, so clients'
 * _pretty and the like are ignored rather than refused (_format is the
 * gate's: JSON, or 406).
 */
static const struct p2p_param any[] = {
	{ NULL, NULL, P2P_PARAM_OTHERS }
};

static const struct p2p_route routes[] = {
	{ "/fhir/metadata", P2P_GET | P2P_HEAD, capability, any,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_FHIR },
	/* SMART App Launch 2: application/json whatever Accept says. */
	{ "/.well-known/smart-configuration", P2P_GET | P2P_HEAD, smart, any,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_ANY },
	{ "/fhir/.well-known/smart-configuration", P2P_GET | P2P_HEAD, smart,
	  any, P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_ANY },
	{ "/.well-known/jwks.json", P2P_GET | P2P_HEAD, jwks, any,
	  P2P_BODY_NONE, NULL, P2P_SYNC, P2P_MEDIA_ANY },
	{ NULL }
};

/* Any other path lighttpd sends here is the route gate's 404. */
const struct p2p_op op_metadata = {
	.name = "metadata",
	.routes = routes,
	.limit = P2P_LIMIT_BODY,
	.auth = P2P_AUTH_NONE,
	.payer = P2P_PAYER_ANY,
	.audit = NULL,			/* public, read-only */
	.cleanup = metadata_free,
};

P2P_MAIN(op_metadata)
