/*
 * metadata.c - GET /fhir/metadata (CapabilityStatement) and
 * GET [/fhir]/.well-known/smart-configuration, from the templates in
 * share/ with this server's absolute URLs filled in; and the
 * OperationOutcome 404 for any other /fhir path nothing else serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/fhir.h"
#include "core/log.h"
#include "web/ops.h"

#ifndef P2P_SHAREDIR
#define P2P_SHAREDIR	"/usr/local/share/p2p"
#endif

struct meta {
	json_object	*capability;	/* CapabilityStatement */
	json_object	*smart;		/* smart-configuration */
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

int
metadata_handle(struct p2p_ctx *ctx, struct p2p_req *req, struct p2p_err *err)
{
	struct meta	*m = ctx->app;
	json_object	*doc;
	const char	*ctype;

	if (m == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
		m->capability = load_template(&ctx->cfg,
		    "capability-statement.json");
		m->smart = load_template(&ctx->cfg, "smart-configuration.json");
		ctx->app = m;
	}
	if (strcmp(req->path, "/fhir/metadata") == 0) {
		doc = m->capability;
		ctype = "application/fhir+json";
	} else if (strcmp(req->path, "/.well-known/smart-configuration") == 0 ||
	    strcmp(req->path, "/fhir/.well-known/smart-configuration") == 0) {
		doc = m->smart;
		ctype = "application/json";
	} else
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no resource or operation at %.200s", req->path);
	if (doc == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "server metadata is unavailable");
	p2p_set_json(req, 200, ctype, json_object_get(doc));
	return 0;
}

void
metadata_free(struct p2p_ctx *ctx)
{
	struct meta	*m = ctx->app;

	if (m == NULL)
		return;
	json_object_put(m->capability);
	json_object_put(m->smart);
	free(m);
	ctx->app = NULL;
}
