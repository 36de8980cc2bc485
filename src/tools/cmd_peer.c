/*
 * cmd_peer.c - p2p-admin peer: the previous payers p2p-request asks,
 * and our signing keys (published at /.well-known/jwks.json).
 *
 *   peer add --name NAME --base-url URL --client-id ID --npi NPI
 *       [--key PRIVATE_KEY.pem [--alg ES384|RS384] [--kid KID]]
 *       [--scope "..."] [--replace]
 *   peer list
 *   peer disable|enable|remove NAME
 *   peer key list | key rotate [--alg ES384|RS384] [--activate-in S]
 *       | key retire KID
 *   peer jwks			the key set we publish
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cmds.h"
#include "auth/client.h"
#include "core/util.h"
#include "peer/httpc.h"
#include "peer/keys.h"
#include "peer/peer.h"

const char cmd_peer_usage[] =
    "usage: p2p-admin peer add --name NAME --base-url URL --client-id ID"
    " --npi NPI\n"
    "           [--key PRIVATE_KEY.pem [--alg ES384|RS384] [--kid KID]]\n"
    "           [--scope \"...\"] [--replace]\n"
    "       p2p-admin peer list\n"
    "       p2p-admin peer disable|enable|remove NAME\n"
    "       p2p-admin peer key list\n"
    "       p2p-admin peer key rotate [--alg ES384|RS384]"
    " [--activate-in SECONDS]\n"
    "       p2p-admin peer key retire KID\n"
    "       p2p-admin peer jwks\n"
    "A peer is a previous payer p2p-request asks for a new member's\n"
    "history: its FHIR base URL, its NPI (how members' opt-in Consents\n"
    "and old Coverages name it), the client id it issued to us.  We sign\n"
    "with the shared key (made on the first peer add; rotate publishes\n"
    "the next one ahead of its use, retire unpublishes the old one) or\n"
    "with --key, a key of our own for this peer.  Register us at the\n"
    "peer by our JWKS URL, <base_url>/.well-known/jwks.json.  See\n"
    "p2p-request(8).\n";

static int
peer_usage(FILE *f)
{
	fputs(cmd_peer_usage, f);
	return f == stdout ? 0 : 2;
}

static int
valid_client(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > 127)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void
show_key(const struct skey *k, long long now)
{
	char	 nb[32], cr[32];

	time_instant((time_t)k->not_before, nb);
	time_instant((time_t)k->created, cr);
	printf("%s  %s  %s  %s  created %s  %s\n", k->kid, k->alg,
	    k->shared ? "shared" : "peer's own", k->file, cr, k->retired ?
	    "retired (not published)" : k->not_before > now ?
	    "published, signs from" : "published, signing");
	if (!k->retired && k->not_before > now)
		printf("    signs from %s\n", nb);
}

/*
 * A shared key exists (made now, signing at once, when none does).
 * 0, or -1 with t->err set.
 */
static int
ensure_key(struct tool *t)
{
	struct skey	 k;
	int		 rc;

	if ((rc = keys_pick(&t->db, NULL, now_sec(), &k, &t->err)) == 0)
		return 0;
	if (rc == -1 || keys_generate(&t->cfg, &t->db, "ES384",
	    (long long)now_sec(), &k, &t->err) == -1)
		return -1;
	printf("made our signing key %s (ES384), %s\n", k.kid, k.file);
	return 0;
}

/* The exit status, or -1 with t->err set. */
static int
cmd_add(struct tool *t, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "base-url", required_argument, NULL, 'b' },
		{ "client-id", required_argument, NULL, 'c' },
		{ "npi", required_argument, NULL, 'N' },
		{ "key", required_argument, NULL, 'k' },
		{ "alg", required_argument, NULL, 'a' },
		{ "kid", required_argument, NULL, 'K' },
		{ "scope", required_argument, NULL, 's' },
		{ "replace", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct peer	 p;
	struct skey	 k;
	const char	*key = NULL, *alg = NULL, *kid = NULL, *base = NULL;
	size_t		 n;
	int		 c, replace = 0;

	memset(&p, 0, sizeof(p));
	snprintf(p.scope, sizeof(p.scope), "%s", PEER_DEFAULT_SCOPE);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': snprintf(p.name, sizeof(p.name), "%s", optarg); break;
		case 'b': base = optarg; break;
		case 'c':
			if (!valid_client(optarg)) {
				fprintf(stderr, "p2p-admin: --client-id: 1 to 127"
				    " printable characters, no spaces\n");
				return 2;
			}
			snprintf(p.client_id, sizeof(p.client_id), "%s",
			    optarg);
			break;
		case 'N': snprintf(p.npi, sizeof(p.npi), "%.15s", optarg); break;
		case 'k': key = optarg; break;
		case 'a': alg = optarg; break;
		case 'K': kid = optarg; break;
		case 's':
			if (strlen(optarg) >= sizeof(p.scope) || optarg[0] ==
			    '\0') {
				fprintf(stderr, "p2p-admin: --scope too long\n");
				return 2;
			}
			snprintf(p.scope, sizeof(p.scope), "%s", optarg);
			break;
		case 'r': replace = 1; break;
		case 'h': return peer_usage(stdout);
		default: return peer_usage(stderr);
		}
	}
	if (optind != argc || base == NULL || p.client_id[0] == '\0' ||
	    ((alg != NULL || kid != NULL) && key == NULL))
		return peer_usage(stderr);
	if (!peer_name_valid(p.name)) {
		fprintf(stderr, "p2p-admin: --name: 1 to %d of A-Z a-z 0-9 . _ "
		    "-\n", PEER_NAME_MAX);
		return 2;
	}
	if (!client_npi_valid(p.npi)) {
		fprintf(stderr, "p2p-admin: --npi: ten digits\n");
		return 2;
	}
	if (alg != NULL && !keys_alg_ok(alg)) {
		fprintf(stderr, "p2p-admin: --alg: ES384 or RS384\n");
		return 2;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n >= sizeof(p.base_url)) {
		fprintf(stderr, "p2p-admin: --base-url too long\n");
		return 2;
	}
	memcpy(p.base_url, base, n);
	p.base_url[n] = '\0';
	if (!httpc_url_ok(&t->cfg, p.base_url)) {
		fprintf(stderr, "p2p-admin: --base-url must be an https:// URL "
		    "(http:// only on loopback, with jwks_allow_http = 1)\n");
		return 2;
	}
	if (db_begin(&t->db, &t->err) == -1)
		return -1;
	if (key != NULL) {
		if (keys_import(&t->cfg, &t->db, key, alg, kid, &k,
		    &t->err) == -1)
			goto fail;
		snprintf(p.kid, sizeof(p.kid), "%s", k.kid);
	}
	if (peer_put(&t->db, &p, replace, &t->err) == -1 ||
	    db_commit(&t->db, &t->err) == -1)
		goto fail;
	if (key == NULL && ensure_key(t) == -1)
		return -1;
	printf("peer %s: %s (NPI %s), client id %s, key %s\n", p.name,
	    p.base_url, p.npi, p.client_id, key ? p.kid : "(shared)");
	printf("register our key set at the peer: %s/.well-known/jwks.json\n",
	    t->cfg.base_url);
	return 0;
fail:
	db_rollback(&t->db);
	return -1;
}

static int
list_one(void *arg, const struct peer *p)
{
	char	 caps[160], at[32] = "never";

	(void)arg;
	peer_caps_text(p->caps, caps, sizeof(caps));
	if (p->discovered > 0)
		time_instant((time_t)p->discovered, at);
	printf("%s  NPI %s  %s  client %s  key %s  %s\n    scope: %s\n"
	    "    discovered %s: token %s; declares %s\n", p->name, p->npi,
	    p->base_url, p->client_id, p->kid[0] ? p->kid : "(shared)",
	    p->active ? "active" : "disabled", p->scope, at,
	    p->token_url[0] ? p->token_url : "-", p->discovered ? caps : "-");
	return 0;
}

static int
key_each(void *arg, const struct skey *k)
{
	show_key(k, *(long long *)arg);
	return 0;
}

/* The exit status, or -1 with t->err set. */
static int
cmd_key(struct tool *t, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "alg", required_argument, NULL, 'a' },
		{ "activate-in", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct skey	 k;
	const char	*alg = "ES384";
	long long	 now = (long long)now_sec(), ahead = KEYS_AHEAD;
	int		 c, rc;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return keys_each(&t->db, key_each, &now, &t->err);
	if (argc == 3 && strcmp(argv[1], "retire") == 0) {
		if ((rc = keys_retire(&t->db, argv[2], now_sec(),
		    &t->err)) == -1)
			return -1;
		if (rc == 1) {
			fprintf(stderr, "p2p-admin: no key %s\n", argv[2]);
			return 1;
		}
		printf("key %s retired: no longer published\n", argv[2]);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "rotate") != 0)
		return peer_usage(stderr);
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': alg = optarg; break;
		case 'A':
			if (parse_ll(optarg, 0, 30 * 86400, &ahead) == -1) {
				fprintf(stderr, "p2p-admin: --activate-in: "
				    "seconds, 0 to 2592000\n");
				return 2;
			}
			break;
		case 'h': return peer_usage(stdout);
		default: return peer_usage(stderr);
		}
	}
	if (optind != argc || !keys_alg_ok(alg))
		return peer_usage(stderr);
	if (keys_generate(&t->cfg, &t->db, alg, now + ahead, &k,
	    &t->err) == -1)
		return -1;
	printf("new key %s (%s), %s: published now, signs from ", k.kid, k.alg,
	    k.file);
	{
		char	 at[32];

		time_instant((time_t)k.not_before, at);
		printf("%s\n", at);
	}
	printf("retire the key it replaces once the new one signs: p2p-admin "
	    "peer key retire KID (p2p-admin peer key list)\n");
	return 0;
}

int
cmd_peer(const char *conf, int argc, char *argv[])
{
	struct tool	 t;
	char		*jwks, what[32];
	const char	*sub;
	int		 rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return peer_usage(argc < 2 ? stderr : stdout);
	sub = argv[1];
	if (argc >= 3 && strcmp(argv[2], "--help") == 0)
		return peer_usage(stdout);
	if (admin_open(&t, conf) == -1)
		return 1;
	if (strcmp(sub, "add") == 0)
		rc = cmd_add(&t, argc - 1, argv + 1);
	else if (strcmp(sub, "list") == 0 && argc == 2)
		rc = peer_each(&t.db, list_one, NULL, &t.err);
	else if (strcmp(sub, "key") == 0)
		rc = cmd_key(&t, argc - 1, argv + 1);
	else if (strcmp(sub, "jwks") == 0 && argc == 2) {
		if ((rc = keys_jwks(&t.db, &jwks, &t.err)) == 0) {
			printf("%s\n", jwks);
			free(jwks);
		}
	} else if ((strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 ||
	    strcmp(sub, "remove") == 0) && argc == 3) {
		rc = strcmp(sub, "remove") == 0 ? peer_remove(&t.db, argv[2],
		    &t.err) : peer_set_active(&t.db, argv[2], strcmp(sub,
		    "enable") == 0, &t.err);
		if (rc == 1)
			fprintf(stderr, "p2p-admin: no peer %s\n", argv[2]);
		else if (rc == 0)
			printf("peer %s %s\n", argv[2], strcmp(sub, "remove") ==
			    0 ? "removed (the data received from it stays)" :
			    strcmp(sub, "enable") == 0 ? "enabled" : "disabled");
	} else
		rc = peer_usage(stderr);
	snprintf(what, sizeof(what), "peer %s", sub);
	rc = tool_end(&t, rc, what);
	return rc == -1 ? 1 : rc;
}
