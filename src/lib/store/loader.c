/*
 * loader.c - see loader.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bq.h"
#include "core/log.h"
#include "json/fhir.h"
#include "json/jscan.h"
#include "json/valid.h"
#include "store/firstload.h"
#include "store/loader.h"

/* A bounded line reader over a stream (ndjson). */
struct reader {
	FILE	*f;
	char	*buf;		/* data read, [start, end) not yet returned */
	size_t	 cap;		/* bytes allocated (<= LOAD_LINE_MAX + 1) */
	size_t	 start;
	size_t	 end;
	int	 eof;		/* the stream is exhausted */
	long long consumed;	/* bytes of the lines returned */
};

/* Progress on stderr (see load_file()). */
struct progress {
	const char	*name;
	int		 mode;		/* LOAD_PROGRESS_TTY, an interval in
					   ms, or 0: none */
	int64_t		 start;		/* ms */
	int64_t		 last;		/* ms of the last line */
	int		 drawn;		/* a terminal line is on screen */
	long long	 done, total;	/* bytes (ndjson) or entries
					   (Bundle); total 0: unknown */
};

/* Rewrites err->msg as "<where>: <msg>". */
static void
prefix(struct p2p_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
prefix(struct p2p_err *err, const char *fmt, ...)
{
	char	 msg[sizeof(err->msg)];
	va_list	 ap;
	int	 n;

	memcpy(msg, err->msg, sizeof(msg));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(err->msg) - 2)
		return;
	err->msg[n++] = ':';
	err->msg[n++] = ' ';
	memcpy(err->msg + n, msg, sizeof(err->msg) - (size_t)n - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
}

/*
 * The next line (without its newline) as a pointer into the reader's
 * buffer, valid until the next call.  1 with *line and *len set, 0 at the
 * end, -1 with err set when a line is too long or reading fails.
 */
static int
read_line(struct reader *r, char **line, size_t *len, struct p2p_err *err)
{
	char	*nl, *p;
	size_t	 n, ncap;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start += *len + 1;
			r->consumed += (long long)*len + 1;
			return 1;
		}
		if (r->eof) {
			if (r->start == r->end)
				return 0;
			*line = r->buf + r->start;
			*len = r->end - r->start;
			r->start = r->end;
			r->consumed += (long long)*len;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			if (r->cap > (size_t)LOAD_LINE_MAX)
				return p2p_fail(err, 413, P2P_ISSUE_TOO_LONG,
				    "line longer than %ld bytes",
				    LOAD_LINE_MAX);
			ncap = r->cap * 2;
			if (ncap > (size_t)LOAD_LINE_MAX + 1)
				ncap = (size_t)LOAD_LINE_MAX + 1;
			if ((p = realloc(r->buf, ncap)) == NULL)
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
			r->buf = p;
			r->cap = ncap;
		}
		n = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
		r->end += n;
		if (n == 0) {
			if (ferror(r->f))
				return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "read error: %s", strerror(errno));
			r->eof = 1;
		}
	}
}

static int
blank(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* "1h02m", "3m05s", "12s". */
static void
duration(char *out, size_t sz, long long s)
{
	if (s >= 3600)
		snprintf(out, sz, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, sz, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, sz, "%llds", s);
}

void
load_progress_text(char *out, size_t sz, long long done, long long total,
    long resources, int64_t elapsed_ms)
{
	char	 eta[32];
	double	 secs = (double)elapsed_ms / 1000.0, rate;

	rate = secs > 0 ? (double)resources / secs : 0.0;
	if (total <= 0 || done <= 0 || done > total) {
		snprintf(out, sz, "%ld resources, %.0f/s", resources, rate);
		return;
	}
	/* The rest at the pace so far. */
	duration(eta, sizeof(eta), (long long)((double)elapsed_ms *
	    (double)(total - done) / (double)done / 1000.0 + 0.5));
	snprintf(out, sz, "%lld%%, %ld resources, %.0f/s, ETA %s",
	    done * 100 / total, resources, rate, eta);
}

static void
progress_tick(struct progress *p, const struct load_stats *st, int force)
{
	char	 text[160];
	int64_t	 now;
	long	 n;

	if (p->mode == 0)
		return;
	now = now_ms();
	if (p->mode == LOAD_PROGRESS_TTY ? !force && now - p->last < 500 :
	    force || now - p->last < p->mode)
		return;
	p->last = now;
	n = st->resources + st->clients + st->consents + st->ignored +
	    st->deleted;
	load_progress_text(text, sizeof(text), p->done, p->total, n,
	    now - p->start);
	if (p->mode == LOAD_PROGRESS_TTY) {
		fprintf(stderr, "\r\033[K%.60s: %s", p->name, text);
		p->drawn = 1;
	} else
		fprintf(stderr, "load %s: %s\n", p->name, text);
}

static void
progress_end(struct progress *p)
{
	if (p->mode == LOAD_PROGRESS_TTY && p->drawn)
		fprintf(stderr, "\r\033[K");
}

static void
count(struct load_stats *st, enum store_kind kind, const char *type,
    int deleted)
{
	size_t	 i;

	if (deleted)
		st->deleted++;
	switch (kind) {
	case STORE_CLIENT:
		st->clients += !deleted;
		return;
	case STORE_CONSENT:
		st->consents += !deleted;
		return;
	case STORE_IGNORED:
		st->ignored += !deleted;
		return;
	default:
		break;
	}
	if (deleted)
		return;
	st->resources++;
	for (i = 0; i < st->ntype; i++)
		if (strcmp(st->type[i].type, type) == 0) {
			st->type[i].n++;
			return;
		}
	if (st->ntype == LOAD_TYPES_MAX) {
		st->other++;
		return;
	}
	snprintf(st->type[st->ntype].type, sizeof(st->type[0].type), "%s",
	    type);
	st->type[st->ntype++].n = 1;
}

/* Stores one parsed resource and counts it. */
static int
put(struct p2p_db *db, json_object *res, const struct store_ctx *ctx,
    struct load_stats *st, struct p2p_err *err)
{
	enum store_kind	 kind;

	if (store_put(db, res, ctx, &kind, err) == -1)
		return -1;
	count(st, kind, fhir_type(res), 0);
	return 0;
}

/*
 * ndjson loads on several threads (issue 8: load >= 100,000 resources/s
 * on two cores).  One worker thread per core takes lines from the shared
 * reader, scans them (jscan.c: no json-c tree; json-c only for the lines
 * the scan does not take, see prepare_item()) and prepares their rows
 * (store_prepare(): validation, member, scope, all without the
 * database), while the calling thread writes the rows in file order
 * (store_write()) in the one transaction.  The ordered queue between
 * them is bounded, so memory stays constant whatever the file size.  The first error in file order wins:
 * workers stop taking lines after a bad one, and the writer stops at
 * the first failed item or write, which precedes anything after it.
 */
#define PIPE_ITEMS	256			/* lines in flight */
#define PIPE_BYTES	(32L * 1024 * 1024)	/* text in flight */
#define PIPE_WORKERS	4			/* most parsing threads */

/* One line on its way from a worker to the writer. */
struct line_item {
	long		 lineno;
	long long	 end;		/* bytes of the file up to its end */
	char		*text;		/* the line, trimmed: row.json may
					   point here */
	size_t		 len;		/* bytes of text */
	struct store_row row;		/* valid unless failed */
	int		 failed;	/* err says why; nothing to write */
	int		 scanned;	/* prepared by the fast path */
	struct p2p_err	 err;
};

/* What the workers share. */
struct pipeline {
	pthread_mutex_t		 mu;	/* guards the fields below */
	struct reader		*r;
	long			 lineno;	/* lines read so far */
	unsigned long		 seq;		/* items numbered so far */
	int			 stop;		/* a bad line or read error */
	int			 oom;		/* a line could not be taken */
	int			 running;	/* workers not yet done */
	struct bq		 q;
	const struct store_ctx	*ctx;
	int			 tree;	/* P2P_LOAD_TREE set: no fast path */
};

static void
item_free(struct line_item *it)
{
	if (it == NULL)
		return;
	if (!it->failed)
		store_row_free(&it->row);
	free(it->text);
	free(it);
}

/*
 * Takes the next non-blank line, trimmed and copied into a new item,
 * numbered under the lock so that seq follows the file.  1 with *out
 * and *seq set (the item failed when reading failed), 0 at the end or
 * after a stop.
 */
static int
take_line(struct pipeline *p, struct line_item **out, unsigned long *seq)
{
	struct line_item	*it = NULL;
	char			*line;
	size_t			 len;
	int			 rc, got = 0;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		if (it == NULL && (it = calloc(1, sizeof(*it))) == NULL) {
			p->stop = p->oom = 1;
			break;
		}
		p2p_err_init(&it->err);
		p->lineno++;
		if ((rc = read_line(p->r, &line, &len, &it->err)) == 0)
			break;
		if (rc == 1 && blank(line, len))
			continue;
		it->lineno = p->lineno;
		it->end = p->r->consumed;
		if (rc == -1) {
			it->failed = 1;
			p->stop = 1;
		} else {
			/* stored as read, unless store_prepare() changes it */
			while (len > 0 && memchr(" \t\r", line[len - 1], 3) != NULL)
				len--;
			while (len > 0 && memchr(" \t", line[0], 2) != NULL) {
				line++;
				len--;
			}
			if ((it->text = malloc(len + 1)) == NULL) {
				p2p_fail(&it->err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
				it->failed = 1;
				p->stop = 1;
			} else {
				memcpy(it->text, line, len);
				it->text[len] = '\0';
				it->len = len;
			}
		}
		*seq = p->seq++;
		*out = it;
		it = NULL;
		got = 1;
		break;
	}
	pthread_mutex_unlock(&p->mu);
	free(it);
	return got;
}

/*
 * Parses and prepares one item's line.  0, or -1 with it->err set.
 * The fast path first (unless tree): a scan without a tree
 * (jscan.c) and store_prepare_scan(); a line it does not take (a
 * special type, a line without meta.lastUpdated, anything the scanner
 * refuses) goes through json-c and store_prepare(), which read it
 * through the same tape: the checks and rules are the same either way,
 * and json-c words every JSON syntax error.
 */
static int
prepare_item(json_tokener *tok, struct jscan *js, int tree,
    const struct store_ctx *ctx, struct line_item *it)
{
	struct store_ctx	 c = *ctx;
	json_object		*res;
	int			 rc;

	c.raw = it->text;
	c.rawlen = it->len;
	if (!tree && jscan_parse(js, it->text, it->len, 0) == 0) {
		if ((rc = store_prepare_scan(js, &c, &it->row,
		    &it->err)) == 1) {
			it->scanned = 1;
			return 0;
		}
		if (rc == -1)
			return -1;
	}
	if (fhir_parse_tok(tok, it->text, it->len, &res, &it->err) == -1)
		return -1;
	if (store_prepare(res, &c, js, &it->row, &it->err) == -1)
		return -1;
	/*
	 * The tree is freed here, by the thread that allocated it: freeing
	 * it on the writer would make the threads contend for malloc
	 * arenas (measured: a third more CPU time).
	 */
	if (store_row_detach(&it->row) == -1) {
		store_row_free(&it->row);
		return p2p_fail(&it->err, 500, P2P_ISSUE_EXCEPTION,
		    "out of memory");
	}
	return 0;
}

/* A worker thread: lines to prepared items, until the end or a stop. */
static void *
worker_main(void *arg)
{
	struct pipeline		*p = arg;
	struct line_item	*it;
	json_tokener		*tok;
	struct jscan		 js;
	unsigned long		 seq;

	/* one tokener and tape for every line: no allocation per line */
	tok = json_tokener_new_ex(FHIR_MAX_DEPTH);
	jscan_init(&js);
	while (take_line(p, &it, &seq)) {
		if (!it->failed && tok == NULL) {
			p2p_fail(&it->err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
			it->failed = 1;
		} else if (!it->failed && prepare_item(tok, &js, p->tree,
		    p->ctx, it) == -1)
			it->failed = 1;
		if (it->failed) {
			pthread_mutex_lock(&p->mu);
			p->stop = 1;
			pthread_mutex_unlock(&p->mu);
		}
		if (bq_put(&p->q, seq, it, it->len) == -1) {
			item_free(it);	/* the writer has given up */
			break;
		}
	}
	if (tok != NULL)
		json_tokener_free(tok);
	jscan_free(&js);
	bq_leave(&p->q);
	pthread_mutex_lock(&p->mu);
	/* the last worker out knows how many items there are */
	if (--p->running == 0)
		bq_close(&p->q, p->seq);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Parsing threads: one per online core, at least 1, at most 4. */
static int
nworkers(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > PIPE_WORKERS ? PIPE_WORKERS : (int)n;
}

static int
load_ndjson(struct p2p_db *db, struct reader *r, long lineno,
    const struct store_ctx *ctx, struct load_stats *st, struct progress *pg,
    struct p2p_err *err)
{
	struct pipeline		 p;
	struct line_item	*it;
	pthread_t		 th[PIPE_WORKERS];
	int			 i, n = nworkers(), started, rc = 0;

	st->ndjson = 1;
	memset(&p, 0, sizeof(p));
	if (bq_init(&p.q, PIPE_ITEMS, (size_t)PIPE_BYTES) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	pthread_mutex_init(&p.mu, NULL);
	p.r = r;
	p.lineno = lineno;
	p.ctx = ctx;
	p.tree = getenv("P2P_LOAD_TREE") != NULL;
	p.running = n;
	for (started = 0; started < n; started++)
		if (pthread_create(&th[started], NULL, worker_main, &p) != 0)
			break;
	if (started < n) {
		/* those that did not start are done already */
		pthread_mutex_lock(&p.mu);
		p.running -= n - started;
		if (started == 0 || p.running == 0)
			bq_close(&p.q, p.seq);
		pthread_mutex_unlock(&p.mu);
		if (started == 0)
			rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot start a thread");
	}
	while (rc == 0 && (it = bq_take(&p.q)) != NULL) {
		if (it->failed) {
			if (err->status == 0)	/* first error wins */
				*err = it->err;
			rc = -1;
		} else if (store_write(db, &it->row, ctx, err) == -1)
			rc = -1;
		if (rc == 0) {
			count(st, it->row.kind, it->row.type, 0);
			st->scanned += it->scanned;
			pg->done = it->end;
			if ((it->lineno & 0x3ff) == 0)
				progress_tick(pg, st, 0);
		} else
			prefix(err, "line %ld", it->lineno);
		item_free(it);
	}
	/* on an error, workers blocked on the queue give up and end */
	if (rc == -1)
		bq_abort(&p.q);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	while ((it = bq_drain(&p.q)) != NULL)
		item_free(it);
	if (rc == 0 && p.oom)
		rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	bq_free(&p.q);
	pthread_mutex_destroy(&p.mu);
	return rc;
}

/*
 * Splits a request.url "Type/id" (optionally with a leading "/" or an
 * absolute base) into type and id.  Conditional URLs are refused.
 */
static int
split_url(const char *url, char *type, size_t tsz, char *id, size_t isz,
    struct p2p_err *err)
{
	const char	*slash, *t;

	if (strchr(url, '?') != NULL)
		return p2p_fail(err, 422, P2P_ISSUE_NOT_SUPPORTED,
		    "conditional request.url \"%.80s\" is not supported", url);
	if ((slash = strrchr(url, '/')) == NULL || slash[1] == '\0')
		return p2p_fail(err, 422, P2P_ISSUE_VALUE,
		    "request.url \"%.80s\" is not Type/id", url);
	for (t = slash; t > url && t[-1] != '/'; t--)
		;
	if ((size_t)(slash - t) >= tsz || strlen(slash + 1) >= isz)
		return p2p_fail(err, 422, P2P_ISSUE_VALUE,
		    "request.url \"%.80s\" is not Type/id", url);
	memcpy(type, t, (size_t)(slash - t));
	type[slash - t] = '\0';
	snprintf(id, isz, "%s", slash + 1);
	if (!store_type_valid(type) || !fhir_valid_id(id))
		return p2p_fail(err, 422, P2P_ISSUE_VALUE,
		    "request.url \"%.80s\" is not Type/id", url);
	return 0;
}

/* The id a urn:uuid fullUrl gives a resource without one (or NULL). */
static const char *
urn_id(json_object *entry)
{
	const char	*full = fhir_str(entry, "fullUrl");

	if (full == NULL || strncmp(full, "urn:uuid:", 9) != 0 ||
	    !fhir_valid_id(full + 9))
		return NULL;
	return full + 9;
}

/*
 * Before any entry is stored: gives id-less resources the id of their
 * urn:uuid fullUrl (or of a PUT's request.url), and maps every
 * urn:uuid fullUrl to "Type/id" so that references between entries
 * resolve.
 */
static int
bundle_prepare(json_object *entries, int tx, json_object *urn,
    struct p2p_err *err)
{
	json_object	*e, *res, *req;
	const char	*full, *type, *id, *method, *url;
	char		 ut[65], uid[STORE_ID_MAX + 1], ref[160];
	size_t		 i, n = json_object_array_length(entries);

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(entries, i);
		if (!json_object_is_type(e, json_type_object)) {
			p2p_fail(err, 422, P2P_ISSUE_STRUCTURE,
			    "not a JSON object");
			goto bad;
		}
		if ((res = fhir_get(e, "resource", json_type_object)) == NULL)
			continue;
		if ((type = fhir_type(res)) == NULL)
			continue;	/* reported when stored */
		if (!json_object_object_get_ex(res, "id", NULL)) {
			req = fhir_get(e, "request", json_type_object);
			method = fhir_str(req, "method");
			url = fhir_str(req, "url");
			id = urn_id(e);
			if (id == NULL && tx && method != NULL &&
			    strcmp(method, "PUT") == 0 && url != NULL) {
				if (split_url(url, ut, sizeof(ut), uid,
				    sizeof(uid), err) == -1)
					goto bad;
				id = uid;
			}
			if (id != NULL && fhir_add_str(res, "id", id) == -1) {
				p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
				    "out of memory");
				goto bad;
			}
		}
		full = fhir_str(e, "fullUrl");
		if (full == NULL || strncmp(full, "urn:uuid:", 9) != 0 ||
		    (id = fhir_id(res)) == NULL || !fhir_valid_id(id) ||
		    !store_type_valid(type))
			continue;
		snprintf(ref, sizeof(ref), "%s/%s", type, id);
		if (fhir_add_str(urn, full, ref) == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
			goto bad;
		}
	}
	return 0;
bad:
	prefix(err, "entry[%zu]", i);
	return -1;
}

/* One Bundle entry; deletes == 1 handles only DELETEs, 0 the others. */
static int
bundle_entry(struct p2p_db *db, json_object *e, int tx, int deletes,
    const struct store_ctx *ctx, struct load_stats *st, struct p2p_err *err)
{
	json_object	*res, *req;
	enum store_kind	 kind;
	const char	*method = "PUT", *url = NULL, *type, *id;
	char		 ut[65], uid[STORE_ID_MAX + 1];

	if (tx && (req = fhir_get(e, "request", json_type_object)) != NULL) {
		if ((method = fhir_str(req, "method")) == NULL)
			return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED,
			    "request.method", "request.method is missing");
		url = fhir_str(req, "url");
	}
	if (strcmp(method, "DELETE") == 0) {
		if (!deletes)
			return 0;
		if (url == NULL)
			return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED,
			    "request.url", "DELETE without request.url");
		if (split_url(url, ut, sizeof(ut), uid, sizeof(uid), err) == -1 ||
		    store_delete(db, ut, uid, &kind, err) == -1)
			return -1;
		count(st, kind, ut, 1);
		return 0;
	}
	if (deletes)
		return 0;
	if (strcmp(method, "PUT") != 0 && strcmp(method, "POST") != 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_NOT_SUPPORTED,
		    "request.method", "request.method %.16s is not supported "
		    "(PUT, POST or DELETE)", method);
	if (!json_object_object_get_ex(e, "resource", &res))
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "resource",
		    "resource is missing");
	if (!json_object_is_type(res, json_type_object))
		return p2p_fail_at(err, 422, P2P_ISSUE_STRUCTURE, "resource",
		    "resource is not a JSON object");
	if (strcmp(method, "PUT") == 0 && url != NULL &&
	    (type = fhir_type(res)) != NULL && (id = fhir_id(res)) != NULL &&
	    fhir_valid_id(id)) {	/* else store_put() names the bad id */
		if (split_url(url, ut, sizeof(ut), uid, sizeof(uid), err) == -1)
			return -1;
		if (strcmp(ut, type) != 0 || strcmp(uid, id) != 0)
			return p2p_fail_at(err, 422, P2P_ISSUE_INVALID,
			    "request.url", "request.url %s/%s does not match "
			    "the resource %.64s/%.64s", ut, uid, type, id);
	}
	if (!json_object_object_get_ex(res, "id", NULL) &&
	    strcmp(method, "POST") == 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "resource.id",
		    "POST without an id or a urn:uuid fullUrl (the loader "
		    "needs stable ids to upsert)");
	return put(db, res, ctx, st, err);
}

static int
load_bundle(struct p2p_db *db, json_object *b, struct store_ctx *ctx,
    struct load_stats *st, struct progress *pg, struct p2p_err *err)
{
	json_object	*entries, *urn = NULL, *v;
	const char	*type;
	size_t		 i, n;
	int		 tx, pass, rc = -1;

	if (!json_object_is_type(b, json_type_object) ||
	    (type = fhir_type(b)) == NULL)
		return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE,
		    "expected a FHIR Bundle or ndjson (one resource a line)");
	if (strcmp(type, "Bundle") != 0)
		return p2p_fail(err, 422, P2P_ISSUE_NOT_SUPPORTED,
		    "a single %.64s is not a Bundle; load single resources as "
		    "ndjson (one resource a line)", type);
	if ((type = fhir_str(b, "type")) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_REQUIRED, "Bundle.type",
		    "Bundle.type is missing");
	if (strcmp(type, "transaction") != 0 && strcmp(type, "batch") != 0 &&
	    strcmp(type, "collection") != 0)
		return p2p_fail_at(err, 422, P2P_ISSUE_NOT_SUPPORTED,
		    "Bundle.type", "unsupported Bundle type \"%.32s\" "
		    "(transaction, batch or collection)", type);
	tx = strcmp(type, "collection") != 0;
	if (!json_object_object_get_ex(b, "entry", &v))
		return 0;
	if ((entries = fhir_get(b, "entry", json_type_array)) == NULL)
		return p2p_fail_at(err, 422, P2P_ISSUE_STRUCTURE,
		    "Bundle.entry", "Bundle.entry is not an array");
	if ((urn = json_object_new_object()) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if (bundle_prepare(entries, tx, urn, err) == -1)
		goto out;
	ctx->urn = urn;
	n = json_object_array_length(entries);
	/* From here on progress counts entries (both passes). */
	pg->done = 0;
	pg->total = (long long)n * (tx ? 2 : 1);
	/*
	 * FHIR R4 transaction processing (http §3.1.0.11.2): DELETEs
	 * first, then creates and updates; batches and collections in
	 * order (a batch's DELETEs too: one pass handles both).
	 */
	for (pass = tx ? 1 : 0; pass >= 0; pass--)
		for (i = 0; i < n; i++) {
			if (bundle_entry(db, json_object_array_get_idx(entries,
			    i), tx, pass, ctx, st, err) == -1) {
				prefix(err, "entry[%zu]", i);
				goto out;
			}
			pg->done++;
			if ((i & 0x3ff) == 0)
				progress_tick(pg, st, 0);
		}
	rc = 0;
out:
	ctx->urn = NULL;
	json_object_put(urn);
	return rc;
}

/* Reads what is left of the stream into b (at most LOAD_BUNDLE_MAX). */
static int
slurp(FILE *f, struct p2p_buf *b, struct p2p_err *err)
{
	char	 chunk[65536];
	size_t	 n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > (size_t)LOAD_BUNDLE_MAX)
			return p2p_fail(err, 413, P2P_ISSUE_TOO_COSTLY,
			    "a Bundle file may hold at most %ld MiB; use "
			    "ndjson for larger loads", LOAD_BUNDLE_MAX >> 20);
		if (buf_add(b, chunk, n) == -1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
	}
	if (ferror(f))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "read error: %s", strerror(errno));
	return 0;
}

/* The whole stream as one Bundle document. */
static int
load_document(struct p2p_db *db, FILE *f, struct store_ctx *ctx,
    struct load_stats *st, struct progress *pg, struct p2p_err *err)
{
	struct p2p_buf	 b;
	json_object	*doc = NULL;
	int		 rc = -1;

	memset(&b, 0, sizeof(b));
	if (slurp(f, &b, err) == -1)
		goto out;
	if (b.len == 0 || blank(b.p, b.len)) {
		p2p_fail(err, 422, P2P_ISSUE_REQUIRED, "the file is empty");
		goto out;
	}
	if (fhir_parse(b.p, b.len, &doc, err) == -1)
		goto out;
	buf_free(&b);
	rc = load_bundle(db, doc, ctx, st, pg, err);
out:
	json_object_put(doc);
	buf_free(&b);
	return rc;
}

/*
 * A Bundle is no first load (its DELETEs look index rows up): builds
 * the indexes a LOAD_AUTO file deferred before it knew.  0 or -1.
 */
static int
unfirst(struct p2p_db *db, struct store_ctx *ctx, struct p2p_err *err)
{
	if (ctx->first == NULL)
		return 0;
	if (firstload_indexes(db, ctx->first, err) == -1)
		return -1;
	ctx->first = NULL;
	return 0;
}

/*
 * LOAD_AUTO: a first line that is a whole resource other than a
 * Bundle makes the file ndjson; a one-line Bundle is loaded as such;
 * anything else is read again from the start as one document.
 */
static int
load_auto(struct p2p_db *db, struct reader *r, struct store_ctx *ctx,
    struct load_stats *st, struct progress *pg, struct p2p_err *err)
{
	struct p2p_err	 perr;
	json_object	*first = NULL;
	char		*line;
	size_t		 len;
	long		 lineno = 0;
	int		 rc;

	p2p_err_init(&perr);
	do {
		lineno++;
		rc = read_line(r, &line, &len, &perr);
	} while (rc == 1 && blank(line, len));
	if (rc == 0)
		return p2p_fail(err, 422, P2P_ISSUE_REQUIRED,
		    "the file is empty");
	if (rc == 1 && fhir_parse(line, len, &first, &perr) == 0 &&
	    fhir_type(first) != NULL) {
		if (strcmp(fhir_type(first), "Bundle") != 0) {
			rc = put(db, first, ctx, st, err);
			json_object_put(first);
			if (rc == -1) {
				prefix(err, "line %ld", lineno);
				return -1;
			}
			return load_ndjson(db, r, lineno, ctx, st, pg, err);
		}
		/* A Bundle on one line: nothing may follow it. */
		if (unfirst(db, ctx, err) == -1) {
			json_object_put(first);
			return -1;
		}
		while ((rc = read_line(r, &line, &len, err)) == 1)
			if (!blank(line, len)) {
				json_object_put(first);
				return p2p_fail(err, 422, P2P_ISSUE_STRUCTURE,
				    "data after the Bundle (a file holds one "
				    "Bundle, or ndjson resources)");
			}
		if (rc == 0)
			rc = load_bundle(db, first, ctx, st, pg, err);
		json_object_put(first);
		return rc;
	}
	json_object_put(first);
	if (unfirst(db, ctx, err) == -1)
		return -1;
	r->consumed = 0;
	if (fseek(r->f, 0, SEEK_SET) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot read the file again: %s", strerror(errno));
	return load_document(db, r->f, ctx, st, pg, err);
}

static void
fk_on(struct p2p_db *db)
{
	struct p2p_err	 e;

	p2p_err_init(&e);
	(void)db_exec(db, "PRAGMA foreign_keys = ON", &e);
}

int
load_stream(struct p2p_db *db, FILE *f, const char *name,
    enum load_format fmt, int progress, struct load_stats *st,
    struct p2p_err *err)
{
	struct store_ctx	 ctx;
	struct firstload	 first;
	struct reader		 r;
	struct progress		 pg;
	struct stat		 sb;
	struct p2p_err		 e;
	int			 rc, journal, firstok;

	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	memset(&pg, 0, sizeof(pg));
	r.f = f;
	pg.name = name;
	pg.mode = progress;
	pg.start = pg.last = now_ms();
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		pg.total = (long long)sb.st_size;
	store_ctx_init(&ctx);
	if (fmt != LOAD_BUNDLE) {
		r.cap = 1024 * 1024;
		if ((r.buf = malloc(r.cap)) == NULL)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
	}
	/*
	 * Foreign keys off for the load: with them on, every
	 * ident and demog insert looks its resource up again and runs in a
	 * statement journal of its own (a copy of each page it touches);
	 * the rows' rid comes from the resource insert just before, and
	 * store_delete() deletes index rows itself.  Set outside the
	 * transaction (SQLite ignores it inside one), restored after.
	 */
	if (db_exec(db, "PRAGMA foreign_keys = OFF", err) == -1) {
		free(r.buf);
		return -1;
	}
	/*
	 * ndjson into empty tables: a rollback journal instead
	 * of WAL when no other connection has the database open, and the
	 * rows first, the secondary indexes after them (firstload.h).
	 * P2P_LOAD_NOFIRST in the environment loads as into full tables
	 * (the tests compare both).
	 */
	firstok = fmt != LOAD_BUNDLE && getenv("P2P_LOAD_NOFIRST") == NULL;
	journal = firstok ? firstload_journal(db, err) : 0;
	rc = journal == -1 ? -1 : db_begin(db, err);
	if (rc == 0 && firstok &&
	    (rc = firstload_begin(db, &first, err)) == 1) {
		ctx.first = &first;
		rc = 0;
	}
	if (rc == -1)
		/* nothing read */;
	else if (fmt == LOAD_NDJSON)
		rc = load_ndjson(db, &r, 0, &ctx, st, &pg, err);
	else if (fmt == LOAD_BUNDLE)
		rc = load_document(db, f, &ctx, st, &pg, err);
	else
		rc = load_auto(db, &r, &ctx, st, &pg, err);
	free(r.buf);
	if (rc == 0 && ctx.first != NULL) {
		st->first = 1;
		rc = firstload_indexes(db, ctx.first, err);
	}
	if (rc == 0)
		progress_tick(&pg, st, 1);
	if (rc == 0)
		rc = db_commit(db, err);
	progress_end(&pg);
	if (rc == -1) {
		db_rollback(db);
		if (ctx.first != NULL)
			firstload_free(ctx.first);
	}
	/* the load is kept (or not) whether WAL comes back now or later */
	p2p_err_init(&e);
	if (journal == 1 && firstload_wal(db, &e) == -1)
		log_err("load %s: %s (the next load retries)", name, e.msg);
	fk_on(db);
	if (rc == 0)
		st->seconds = (double)(now_ms() - pg.start) / 1000.0;
	return rc;
}

static int
suffix(const char *s, const char *suf)
{
	size_t	 n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

int
load_file(struct p2p_db *db, const char *path, int progress,
    struct load_stats *st, struct p2p_err *err)
{
	FILE		*f;
	enum load_format fmt = LOAD_AUTO;
	int		 rc;

	memset(st, 0, sizeof(*st));
	if ((f = fopen(path, "rb")) == NULL)
		return p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "cannot open: %s", strerror(errno));
	if (suffix(path, ".ndjson") || suffix(path, ".jsonl"))
		fmt = LOAD_NDJSON;
	rc = load_stream(db, f, path, fmt, progress, st, err);
	fclose(f);
	return rc;
}

int
load_summary(const struct load_stats *st, struct p2p_buf *out)
{
	double	 secs = st->seconds > 0.0005 ? st->seconds : 0.0005;
	long	 all = st->resources + st->clients + st->consents +
		    st->ignored + st->deleted;
	size_t	 i;
	int	 rc = 0;

	rc |= buf_printf(out, "%ld resources", st->resources);
	for (i = 0; i < st->ntype; i++)
		rc |= buf_printf(out, "%s%s %ld", i ? ", " : " (",
		    st->type[i].type, st->type[i].n);
	if (st->other > 0)
		rc |= buf_printf(out, ", other types %ld", st->other);
	if (st->ntype > 0)
		rc |= buf_puts(out, ")");
	if (st->clients > 0)
		rc |= buf_printf(out, ", %ld client%s registered", st->clients,
		    st->clients == 1 ? "" : "s");
	if (st->consents > 0)
		rc |= buf_printf(out, ", %ld consent%s", st->consents,
		    st->consents == 1 ? "" : "s");
	if (st->deleted > 0)
		rc |= buf_printf(out, ", %ld deleted", st->deleted);
	if (st->ignored > 0)
		rc |= buf_printf(out, ", %ld AccessPolicy ignored (p2p "
		    "authorizes by its own rules)", st->ignored);
	rc |= buf_printf(out, " in %.2f s, %.0f resources/s", st->seconds,
	    (double)all / secs);
	return rc ? -1 : 0;
}
