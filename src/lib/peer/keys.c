/*
 * peer/keys.c - see keys.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "core/log.h"
#include "core/util.h"
#include "json/fhir.h"
#include "peer/keys.h"

static const char *const sql_ins =
    "INSERT INTO sign_key (kid, alg, file, jwk, shared, not_before, created)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char *const sql_get =
    "SELECT kid, alg, file, shared, not_before, coalesce(retired, 0), created"
    " FROM sign_key WHERE kid = ?1";
static const char *const sql_current =
    "SELECT kid, alg, file, shared, not_before, coalesce(retired, 0), created"
    " FROM sign_key WHERE shared = 1 AND retired IS NULL AND not_before <= ?1"
    " ORDER BY not_before DESC, created DESC LIMIT 1";
static const char *const sql_all =
    "SELECT kid, alg, file, shared, not_before, coalesce(retired, 0), created"
    " FROM sign_key ORDER BY created DESC, kid";
static const char *const sql_published =
    "SELECT jwk FROM sign_key WHERE retired IS NULL ORDER BY created, kid";
static const char *const sql_in_use =
    "SELECT name FROM peer WHERE kid = ?1 AND active = 1 LIMIT 1";
static const char *const sql_retire =
    "UPDATE sign_key SET retired = ?2 WHERE kid = ?1 AND retired IS NULL";

int
keys_alg_ok(const char *alg)
{
	return alg != NULL && (strcmp(alg, "ES384") == 0 ||
	    strcmp(alg, "RS384") == 0);
}

/* base64url of a BIGNUM, left-padded to pad bytes (0: minimal). */
static int
bn_b64(const BIGNUM *bn, int pad, char *out, size_t outsz)
{
	unsigned char	 raw[1024];
	int		 n = pad > 0 ? pad : BN_num_bytes(bn);

	if (n <= 0 || n > (int)sizeof(raw) ||
	    (size_t)(4 * ((n + 2) / 3) + 1) > outsz)
		return -1;
	if (BN_bn2binpad(bn, raw, n) != n)
		return -1;
	b64url_encode(raw, (size_t)n, out);
	return 0;
}

/* Whether pkey suits ES384 (ec: EC on P-384) or RS384 (RSA, >= 2048 bits). */
static int
key_fits(EVP_PKEY *pkey, int ec)
{
	char	 grp[64];

	if (!ec)
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
		    EVP_PKEY_get_bits(pkey) >= 2048;
	return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    grp, sizeof(grp), NULL) == 1 &&
	    (strcmp(grp, "secp384r1") == 0 || strcmp(grp, "P-384") == 0);
}

json_object *
keys_public_jwk(EVP_PKEY *pkey, const char *alg, const char *kid,
    char *kidout, struct p2p_err *err)
{
	BIGNUM		*a = NULL, *b = NULL;
	char		 ea[1400], eb[1400], canon[3000], tp[64];
	unsigned char	 h[SHA256_DIGEST_LENGTH];
	json_object	*jwk = NULL;
	int		 ec, n;

	if (!keys_alg_ok(alg)) {
		p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED, "algorithm %.16s "
		    "not supported (ES384 or RS384)", alg ? alg : "(none)");
		return NULL;
	}
	ec = strcmp(alg, "ES384") == 0;
	if (!key_fits(pkey, ec)) {
		p2p_fail(err, 400, P2P_ISSUE_VALUE, "%s", ec ? "ES384 needs an "
		    "EC key on P-384" : "RS384 needs an RSA key of at least "
		    "2048 bits");
		return NULL;
	}
	/* the public numbers: EC x and y (48 bytes each), RSA n and e */
	if (EVP_PKEY_get_bn_param(pkey, ec ? OSSL_PKEY_PARAM_EC_PUB_X :
	    OSSL_PKEY_PARAM_RSA_N, &a) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, ec ? OSSL_PKEY_PARAM_EC_PUB_Y :
	    OSSL_PKEY_PARAM_RSA_E, &b) != 1 ||
	    bn_b64(a, ec ? 48 : 0, ea, sizeof(ea)) == -1 ||
	    bn_b64(b, ec ? 48 : 0, eb, sizeof(eb)) == -1)
		goto bad;
	/* RFC 7638 3.2: the required members, sorted, no space. */
	if (ec)
		n = snprintf(canon, sizeof(canon), "{\"crv\":\"P-384\",\"kty\":"
		    "\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", ea, eb);
	else
		n = snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":"
		    "\"RSA\",\"n\":\"%s\"}", eb, ea);
	if (n < 0 || (size_t)n >= sizeof(canon))
		goto bad;
	SHA256((unsigned char *)canon, (size_t)n, h);
	b64url_encode(h, sizeof(h), tp);
	if (kid == NULL || kid[0] == '\0')
		kid = tp;
	if (strlen(kid) >= KEYS_KID_MAX) {
		p2p_fail(err, 400, P2P_ISSUE_VALUE, "kid longer than %d bytes",
		    KEYS_KID_MAX - 1);
		goto out;
	}
	if ((jwk = json_object_new_object()) == NULL ||
	    fhir_add_str(jwk, "kty", ec ? "EC" : "RSA") == -1 ||
	    (ec && (fhir_add_str(jwk, "crv", "P-384") == -1 ||
	    fhir_add_str(jwk, "x", ea) == -1 ||
	    fhir_add_str(jwk, "y", eb) == -1)) ||
	    (!ec && (fhir_add_str(jwk, "n", ea) == -1 ||
	    fhir_add_str(jwk, "e", eb) == -1)) ||
	    fhir_add_str(jwk, "kid", kid) == -1 ||
	    fhir_add_str(jwk, "alg", alg) == -1 ||
	    fhir_add_str(jwk, "use", "sig") == -1) {
		json_object_put(jwk);
		jwk = NULL;
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	if (kidout != NULL)
		snprintf(kidout, KEYS_KID_MAX, "%s", kid);
	goto out;
bad:
	p2p_fail(err, 400, P2P_ISSUE_VALUE, "cannot read the public key");
out:
	BN_free(a);
	BN_free(b);
	return jwk;
}

/* <data>/<rel> or rel when absolute. */
static int
abs_path(const struct p2p_config *cfg, const char *rel, char *out,
    size_t outsz)
{
	int	 n;

	n = rel[0] == '/' ? snprintf(out, outsz, "%s", rel) :
	    snprintf(out, outsz, "%s/%s", cfg->data_dir, rel);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Writes pkey as PKCS#8 PEM to rel under the data directory, 0600. */
static int
write_pem(const struct p2p_config *cfg, EVP_PKEY *pkey, const char *rel,
    struct p2p_err *err)
{
	char		 path[PATH_MAX], dir[PATH_MAX];
	BIO		*bio;
	char		*mem;
	long		 len;
	ssize_t		 w;
	int		 fd, rc = -1;

	if (abs_path(cfg, rel, path, sizeof(path)) == -1 ||
	    abs_path(cfg, "keys", dir, sizeof(dir)) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "path too long");
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_err("%s: %s", dir, strerror(errno));
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot create %s: %s", dir, strerror(errno));
	}
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (len = BIO_get_mem_data(bio, &mem)) <= 0) {
		BIO_free(bio);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot encode the key");
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		p2p_fail(err, errno == EEXIST ? 409 : 500, errno == EEXIST ?
		    P2P_ISSUE_DUPLICATE : P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
		BIO_free(bio);
		return -1;
	}
	w = write(fd, mem, (size_t)len);
	if (w == (ssize_t)len && fsync(fd) == 0)
		rc = 0;
	else
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	close(fd);
	if (rc == -1)
		unlink(path);
	BIO_free(bio);
	return rc;
}

static int
insert(struct p2p_db *db, const struct skey *k, json_object *jwk,
    struct p2p_err *err)
{
	return db_run(db, sql_ins, err, "sign_key insert", "ttttiII", k->kid,
	    k->alg, k->file, fhir_json(jwk), k->shared, k->not_before,
	    k->created);
}

/* Records pkey as a key (shared or not): file, then row. */
static int
record(const struct p2p_config *cfg, struct p2p_db *db, EVP_PKEY *pkey,
    const char *alg, const char *kid, int shared, long long not_before,
    struct skey *out, struct p2p_err *err)
{
	json_object	*jwk;
	char		 path[PATH_MAX];
	int		 rc;

	memset(out, 0, sizeof(*out));
	if ((jwk = keys_public_jwk(pkey, alg, kid, out->kid, err)) == NULL)
		return -1;
	snprintf(out->alg, sizeof(out->alg), "%s", alg);
	snprintf(out->file, sizeof(out->file), "keys/sign-%s.pem", out->kid);
	out->shared = shared;
	out->created = (long long)now_sec();
	out->not_before = not_before;
	if (write_pem(cfg, pkey, out->file, err) == -1) {
		json_object_put(jwk);
		return -1;
	}
	rc = insert(db, out, jwk, err);
	json_object_put(jwk);
	if (rc == -1 && abs_path(cfg, out->file, path, sizeof(path)) == 0)
		unlink(path);
	return rc;
}

int
keys_generate(const struct p2p_config *cfg, struct p2p_db *db,
    const char *alg, long long not_before, struct skey *out,
    struct p2p_err *err)
{
	EVP_PKEY	*pkey;
	int		 rc;

	if (!keys_alg_ok(alg))
		return p2p_fail(err, 400, P2P_ISSUE_NOT_SUPPORTED, "algorithm "
		    "%.16s not supported (ES384 or RS384)", alg ? alg : "");
	pkey = strcmp(alg, "ES384") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	if (pkey == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot generate a key");
	rc = record(cfg, db, pkey, alg, NULL, 1, not_before, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Never prompts for a passphrase: encrypted keys are refused. */
static int
no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/* Reads a whole small file; malloc'd, NUL-terminated, or NULL. */
static char *
slurp(const char *path, size_t *len, struct p2p_err *err)
{
	FILE	*f;
	char	*p;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		p2p_fail(err, 400, P2P_ISSUE_NOT_FOUND, "%s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if ((p = malloc(KEYS_PEM_MAX + 1)) == NULL) {
		fclose(f);
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		return NULL;
	}
	n = fread(p, 1, KEYS_PEM_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > KEYS_PEM_MAX) {
		OPENSSL_cleanse(p, KEYS_PEM_MAX + 1);
		free(p);
		p2p_fail(err, 400, P2P_ISSUE_VALUE, "%s: empty or larger than "
		    "%d bytes", path, KEYS_PEM_MAX);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

int
keys_import(const struct p2p_config *cfg, struct p2p_db *db,
    const char *path, const char *alg, const char *kid, struct skey *out,
    struct p2p_err *err)
{
	EVP_PKEY	*pkey = NULL;
	BIO		*bio;
	json_object	*jwk;
	struct stat	 sb;
	char		*pem, want[KEYS_KID_MAX];
	size_t		 len;
	int		 rc = -1;

	if ((pem = slurp(path, &len, err)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_pass, NULL);
		BIO_free(bio);
	}
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (pkey == NULL)
		return p2p_fail(err, 400, P2P_ISSUE_VALUE, "%s: not an "
		    "unencrypted PEM private key", path);
	if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warn("%s is readable by others than its owner; the copy "
		    "under keys/ is 0600: remove or protect the original",
		    path);
	if (alg == NULL || alg[0] == '\0')
		alg = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ? "RS384" :
		    "ES384";
	/* Already recorded (the same key imported again)? */
	if ((jwk = keys_public_jwk(pkey, alg, kid, want, err)) == NULL)
		goto out;
	json_object_put(jwk);
	if ((rc = keys_get(db, want, out, err)) == 0) {
		if (strcmp(out->alg, alg) != 0 || out->shared) {
			rc = p2p_fail(err, 409, P2P_ISSUE_DUPLICATE, "kid %s is "
			    "recorded already for another use", want);
			goto out;
		}
		goto out;
	}
	if (rc == -1)
		goto out;
	rc = record(cfg, db, pkey, alg, want, 0, (long long)now_sec(), out,
	    err);
out:
	EVP_PKEY_free(pkey);
	return rc;
}

/* Fills the struct skey arg from a row of the key statements. */
static void
row_key(struct db_stmt *st, void *arg)
{
	struct skey	*k = arg;

	memset(k, 0, sizeof(*k));
	snprintf(k->kid, sizeof(k->kid), "%s", db_col_text(st, 0) ?
	    db_col_text(st, 0) : "");
	snprintf(k->alg, sizeof(k->alg), "%s", db_col_text(st, 1) ?
	    db_col_text(st, 1) : "");
	snprintf(k->file, sizeof(k->file), "%s", db_col_text(st, 2) ?
	    db_col_text(st, 2) : "");
	k->shared = db_col_int(st, 3);
	k->not_before = db_col_int64(st, 4);
	k->retired = db_col_int64(st, 5);
	k->created = db_col_int64(st, 6);
}

int
keys_get(struct p2p_db *db, const char *kid, struct skey *k,
    struct p2p_err *err)
{
	struct db_stmt	*st;

	if ((st = db_query(db, sql_get, err, "t", kid)) == NULL)
		return -1;
	return db_one(db, st, row_key, k, err, "sign_key");
}

int
keys_pick(struct p2p_db *db, const char *kid, time_t now, struct skey *k,
    struct p2p_err *err)
{
	struct db_stmt	*st;
	int		 rc;

	if (kid != NULL && kid[0] != '\0') {
		if ((rc = keys_get(db, kid, k, err)) != 0)
			return rc;
		return k->retired ? 1 : 0;
	}
	if ((st = db_query(db, sql_current, err, "I", (long long)now)) == NULL)
		return -1;
	return db_one(db, st, row_key, k, err, "sign_key");
}

char *
keys_read_pem(const struct p2p_config *cfg, const struct skey *k,
    size_t *len, struct p2p_err *err)
{
	char	 path[PATH_MAX];

	if (abs_path(cfg, k->file, path, sizeof(path)) == -1) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "path too long");
		return NULL;
	}
	return slurp(path, len, err);
}

int
keys_jwks(struct p2p_db *db, char **out, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct p2p_buf	 b = { 0 };
	const char	*jwk;
	int		 rc, n = 0;

	*out = NULL;
	if ((st = db_stmt(db, sql_published, err)) == NULL)
		return -1;
	if (buf_puts(&b, "{\"keys\":[") == -1)
		goto oom;
	/* Stored JWKs are compact JSON written by keys_public_jwk(). */
	while ((rc = db_step(st)) == DB_ROW)
		if ((jwk = db_col_text(st, 0)) != NULL &&
		    (buf_puts(&b, n++ ? "," : "") == -1 ||
		    buf_puts(&b, jwk) == -1)) {
			db_done(st);
			goto oom;
		}
	db_done(st);
	if (rc != DB_DONE) {
		buf_free(&b);
		return db_fail(db, rc, err, "published keys");
	}
	if (buf_puts(&b, "]}") == -1)
		goto oom;
	*out = b.p;
	return 0;
oom:
	buf_free(&b);
	return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
}

int
keys_retire(struct p2p_db *db, const char *kid, time_t now,
    struct p2p_err *err)
{
	struct skey	 k, cur;
	struct db_stmt	*st;
	char		 peer[80] = "";
	int		 rc;

	if ((rc = keys_get(db, kid, &k, err)) != 0)
		return rc;
	if (k.retired)
		return 0;
	if (k.shared && (rc = keys_pick(db, NULL, now, &cur, err)) == -1)
		return -1;
	if (k.shared && rc == 0 && strcmp(cur.kid, k.kid) == 0)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "key %s signs "
		    "now: rotate first (p2p-admin peer key rotate) and retire "
		    "it once the next key signs", kid);
	if ((st = db_query(db, sql_in_use, err, "t", kid)) == NULL)
		return -1;
	if ((rc = db_step(st)) == DB_ROW)
		snprintf(peer, sizeof(peer), "%s", db_col_text(st, 0));
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(db, rc, err, "sign_key use");
	if (peer[0] != '\0')
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "key %s signs for"
		    " peer %s", kid, peer);
	return db_run(db, sql_retire, err, "sign_key retire", "tI", kid,
	    (long long)now);
}

int
keys_each(struct p2p_db *db, int (*fn)(void *, const struct skey *),
    void *arg, struct p2p_err *err)
{
	struct db_stmt	*st;
	struct skey	 k;
	int		 rc;

	if ((st = db_stmt(db, sql_all, err)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		row_key(st, &k);
		if (fn(arg, &k) == -1) {
			db_done(st);
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "key listing stopped");
		}
	}
	return db_end(db, st, rc, err, "sign_key list");
}
