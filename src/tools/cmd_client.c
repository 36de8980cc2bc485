/*
 * cmd_client.c - p2p-admin client: register receiving payers.
 *
 *   client add --id ID [--secret S | --secret-stdin] [--jwks FILE]
 *       [--jwks-url URL] --npi NPI [--org-name NAME] [--scopes "..."]
 *       [--grant basic] [--replace]
 *   client list		(never prints secrets)
 *   client disable ID / client enable ID
 *
 * The NPI must be an Organization's (the API resolves it at every call)
 * unless --org-name creates one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "admin_cmds.h"
#include "auth/client.h"
#include "auth/jwks.h"
#include "auth/scopes.h"
#include "core/util.h"

#define DEFAULT_SCOPES \
	"system/*.rs" \
	" http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match"

const char cmd_client_usage[] =
    "usage: p2p-admin client add --id ID [--secret S | --secret-stdin]\n"
    "           [--jwks FILE] [--jwks-url URL] --npi NPI [--org-name NAME]\n"
    "           [--scopes \"...\"] [--grant basic] [--replace]\n"
    "       p2p-admin client list\n"
    "       p2p-admin client disable|enable ID\n"
    "add registers a receiving payer's client:\n"
    "  --jwks FILE, --jwks-url URL   its public keys (SMART Backend "
    "Services)\n"
    "  --secret S, --secret-stdin    or a secret (client_secret_basic), "
    "16+ characters\n"
    "  --npi NPI       the payer's NPI: an Organization with it must be "
    "loaded,\n"
    "  --org-name NAME or this creates one (Organization payer-NPI)\n"
    "  --scopes \"...\"  pre-authorised scopes (default system/*.rs and "
    "the match operations)\n"
    "  --grant basic   also Basic credentials on API calls (with "
    "allow_basic_api = 1)\n"
    "  --replace       register an existing id anew\n"
    "list never shows secrets; disable stops a client's tokens at once.\n";

static int
client_usage(void)
{
	fputs(cmd_client_usage, stderr);
	return 2;
}

/* Reads and checks a public JWKS file; malloc'd text or NULL. */
static char *
read_jwks(const char *path)
{
	FILE		*f;
	char		*text;
	size_t		 n, i, nk;
	json_object	*o, *keys, *k, *v;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "p2p-admin: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	text = malloc(JWKS_MAX_BYTES + 1);
	n = text ? fread(text, 1, JWKS_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (text == NULL || n == 0 || n > JWKS_MAX_BYTES) {
		fprintf(stderr, "p2p-admin: %s: empty or larger than %d bytes\n",
		    path, JWKS_MAX_BYTES);
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if ((o = json_tokener_parse(text)) == NULL ||
	    !json_object_object_get_ex(o, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array) ||
	    (nk = json_object_array_length(keys)) == 0) {
		fprintf(stderr, "p2p-admin: %s: not a JWKS (no keys)\n", path);
		json_object_put(o);
		free(text);
		return NULL;
	}
	for (i = 0; i < nk; i++) {
		k = json_object_array_get_idx(keys, i);
		if (!json_object_is_type(k, json_type_object) ||
		    !json_object_object_get_ex(k, "kty", &v) ||
		    !json_object_object_get_ex(k, "kid", &v)) {
			fprintf(stderr, "p2p-admin: %s: key %zu lacks kty or "
			    "kid\n", path, i);
			goto bad;
		}
		if (json_object_object_get_ex(k, "d", &v) ||
		    json_object_object_get_ex(k, "p", &v) ||
		    json_object_object_get_ex(k, "k", &v)) {
			fprintf(stderr, "p2p-admin: %s: key %zu is private or "
			    "symmetric; register public keys only\n", path, i);
			goto bad;
		}
	}
	json_object_put(o);
	return text;
bad:
	json_object_put(o);
	free(text);
	return NULL;
}

static int
check_scopes(const char *list)
{
	char			*copy, *w, *save = NULL;
	struct scope_item	 it;
	int			 ok = 1;

	if ((copy = xstrdup(list)) == NULL)
		return 0;
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		if (scope_parse(w, &it) == -1) {
			fprintf(stderr, "p2p-admin: scope not understood: "
			    "%s\n", w);
			ok = 0;
		}
	free(copy);
	return ok;
}

static int
client_add(const char *conf, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 's' },
		{ "secret-stdin", no_argument, NULL, 'S' },
		{ "jwks", required_argument, NULL, 'j' },
		{ "jwks-url", required_argument, NULL, 'u' },
		{ "npi", required_argument, NULL, 'n' },
		{ "scopes", required_argument, NULL, 'c' },
		{ "grant", required_argument, NULL, 'g' },
		{ "replace", no_argument, NULL, 'r' },
		{ "org-name", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_rec	 rec;
	struct tool		 t;
	const char		*id = NULL, *jwks_file = NULL, *url = NULL;
	const char		*npi = NULL, *scopes = DEFAULT_SCOPES;
	const char		*org_name = NULL;
	char			 secret[256], *sec = NULL, org[128];
	struct client_rec	 old;
	int			 c, from_stdin = 0, basic = 0, replace = 0, rc;
	int			 created = 0;
	size_t			 n;

	memset(&rec, 0, sizeof(rec));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': id = optarg; break;
		case 's':
			snprintf(secret, sizeof(secret), "%s", optarg);
			sec = secret;
			break;
		case 'S': from_stdin = 1; break;
		case 'r': replace = 1; break;
		case 'j': jwks_file = optarg; break;
		case 'u': url = optarg; break;
		case 'n': npi = optarg; break;
		case 'c': scopes = optarg; break;
		case 'o': org_name = optarg; break;
		case 'g':
			if (strcmp(optarg, "basic") != 0)
				return client_usage();
			basic = 1;
			break;
		default: return client_usage();
		}
	}
	if (optind != argc || id == NULL || npi == NULL ||
	    (sec != NULL && from_stdin))
		return client_usage();
	if (from_stdin) {
		if (fgets(secret, sizeof(secret), stdin) == NULL) {
			fprintf(stderr, "p2p-admin: no secret on stdin\n");
			return 1;
		}
		n = strcspn(secret, "\r\n");
		secret[n] = '\0';
		sec = secret;
	}
	if (!client_name_valid(id, 127)) {
		fprintf(stderr, "p2p-admin: client id must be 1-127 of "
		    "[A-Za-z0-9._-]\n");
		return 1;
	}
	if (!client_npi_valid(npi)) {
		fprintf(stderr, "p2p-admin: NPI must be 10 digits\n");
		return 1;
	}
	if (org_name != NULL && (org_name[0] == '\0' ||
	    strlen(org_name) > 200)) {
		fprintf(stderr, "p2p-admin: --org-name must be 1-200 "
		    "characters\n");
		return 1;
	}
	if (sec != NULL && strlen(sec) < 16) {
		fprintf(stderr, "p2p-admin: secret must be at least 16 "
		    "characters\n");
		OPENSSL_cleanse(secret, sizeof(secret));
		return 1;
	}
	if (sec == NULL && jwks_file == NULL && url == NULL) {
		fprintf(stderr, "p2p-admin: give --secret, --jwks or "
		    "--jwks-url\n");
		return 1;
	}
	if (basic && sec == NULL) {
		fprintf(stderr, "p2p-admin: --grant basic needs a secret\n");
		return 1;
	}
	if (url != NULL && (strlen(url) >= sizeof(rec.jwks_url) ||
	    (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0))) {
		fprintf(stderr, "p2p-admin: --jwks-url must be an https URL\n");
		return 1;
	}
	if (strlen(scopes) >= sizeof(rec.scopes) || !check_scopes(scopes))
		return 1;
	if (jwks_file != NULL && (rec.jwks = read_jwks(jwks_file)) == NULL)
		return 1;
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.npi, sizeof(rec.npi), "%s", npi);
	snprintf(rec.scopes, sizeof(rec.scopes), "%s", scopes);
	snprintf(rec.grant_types, sizeof(rec.grant_types), "%s",
	    basic ? "client_credentials basic" : "client_credentials");
	snprintf(rec.jwks_url, sizeof(rec.jwks_url), "%s", url ? url : "");
	rec.active = 1;
	if (admin_open(&t, conf) == -1) {
		client_rec_free(&rec);
		OPENSSL_cleanse(secret, sizeof(secret));
		return 1;
	}
	if (url != NULL && !jwks_url_ok(&t.cfg, url))
		fprintf(stderr, "p2p-admin: warning: %s will not be fetched "
		    "(https only; http only on loopback with "
		    "jwks_allow_http = 1)\n", url);
	/* One transaction: the Organization made for --org-name and the
	 * client land together or not at all. */
	if ((rc = db_begin(&t.db, &t.err)) == -1)
		goto out;
	/* Re-registering replaces keys, secret and scopes: only on purpose. */
	if ((rc = client_get(&t.db, id, &old, &t.err)) == 0) {
		client_rec_free(&old);
		if (!replace) {
			fprintf(stderr, "p2p-admin: client %s exists; add "
			    "--replace to register it anew\n", id);
			rc = 1;
			goto out;
		}
	}
	if (rc == -1)
		goto out;
	/* The API resolves the caller's NPI to an Organization at every
	 * payer operation (auth_require_payer): without one, every call
	 * of this client would be refused (403). */
	rc = client_payer_org(&t.db, npi, org_name, org, sizeof(org), &created,
	    &t.err);
	if (rc == 0 || rc == 2) {
		if (rc == 0)
			fprintf(stderr, "p2p-admin: no Organization with NPI %s "
			    "is loaded, so every call of this client would be "
			    "refused (403): load the payer's Organization "
			    "first, or give --org-name NAME to create one\n",
			    npi);
		else
			fprintf(stderr, "p2p-admin: more than one "
			    "Organization has NPI %s, so the payer is "
			    "ambiguous: correct the loaded Organizations\n",
			    npi);
		rc = 1;
		goto out;
	}
	if (rc == -1 || (rc = client_put(&t.db, &rec, sec, &t.err)) == -1 ||
	    (rc = db_commit(&t.db, &t.err)) == -1)
		goto out;
	if (created)
		printf("Organization/%s created (NPI %s, \"%s\")\n", org, npi,
		    org_name);
	printf("client %s registered (payer Organization/%s)\n", id, org);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	client_rec_free(&rec);
	if (rc != 0)
		db_rollback(&t.db);
	return tool_end(&t, rc, "client add") == 0 ? 0 : 1;
}

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
client_print(void *arg, const struct client_summary *c)
{
	(void)arg;
	printf("%-24s %-10s %-8s %-6s %-6s %-6s %s\n", c->id, or_dash(c->npi),
	    c->active ? "active" : "disabled", c->secret ? "yes" : "no",
	    c->inline_jwks ? "inline" : "-", c->grant_types != NULL &&
	    strstr(c->grant_types, "basic") != NULL ? "yes" : "no",
	    or_dash(c->jwks_url));
	printf("%-24s scopes: %s\n", "", c->scopes != NULL ? c->scopes : "");
}

static int
client_list(const char *conf)
{
	struct tool	 t;

	if (admin_open(&t, conf) == -1)
		return 1;
	printf("%-24s %-10s %-8s %-6s %-6s %-6s %s\n", "ID", "NPI", "STATE",
	    "SECRET", "JWKS", "BASIC", "JWKS-URL / SCOPES");
	return TOOL_STATUS(tool_end(&t, client_each(&t.db, client_print, NULL,
	    &t.err), "client list"));
}

static int
client_active_cmd(const char *conf, const char *id, int active)
{
	struct tool	 t;
	int		 rc;

	if (admin_open(&t, conf) == -1)
		return 1;
	rc = tool_end(&t, client_set_active(&t.db, id, active, &t.err),
	    active ? "client enable" : "client disable");
	if (rc == 1)
		fprintf(stderr, "p2p-admin: no client %s\n", id);
	else if (rc == 0)
		printf("client %s %s\n", id, active ? "enabled" : "disabled");
	return rc == 0 ? 0 : 1;
}

int
cmd_client(const char *conf, int argc, char *argv[])
{
	if (argc < 2)
		return client_usage();
	if (strcmp(argv[1], "add") == 0)
		return client_add(conf, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return client_list(conf);
	if (strcmp(argv[1], "disable") == 0 && argc == 3)
		return client_active_cmd(conf, argv[2], 0);
	if (strcmp(argv[1], "enable") == 0 && argc == 3)
		return client_active_cmd(conf, argv[2], 1);
	return client_usage();
}
