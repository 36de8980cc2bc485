/*
 * peer/download.c - see download.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/util.h"
#include "peer/download.h"
#include "peer/httpc.h"

#define ERRBODY_MAX	65536	/* refusal bodies kept */

struct xfer {
	struct dl_item		*it;
	struct smart		*s;
	CURL			*c;
	FILE			*f;
	struct curl_slist	*h;
	struct httpc_resp	 r;		/* headers; refusal body */
	long long		 offset;	/* Range start asked */
	long long		 max;		/* bytes a file may have, 0 any */
	int			 decided;	/* the body's destination */
	int			 to_file;
	int			 io_error;	/* errno of a failed write */
	int			 too_big;	/* past the run's max_bytes */
};

struct run {
	struct smart		*s;
	const struct dl_opts	*o;
	struct dl_item		*items;
	size_t			 n;
	int64_t			*next_at;	/* ms, per item */
	struct xfer		**active;	/* per item, or NULL */
	long long		*length;	/* expected size, -1 unknown */
	long long		 ok;		/* files finished OK this run */
	int			 refreshed;	/* token renewed after a 401 */
};

int
dl_count_lines(const char *path, long long *lines, int *ends_nl)
{
	FILE		*f;
	char		 buf[65536];
	size_t		 n, i;
	long long	 l = 0;
	int		 last = '\n';

	*lines = 0;
	*ends_nl = 1;
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] == '\n')
				l++;
		last = (unsigned char)buf[n - 1];
	}
	if (ferror(f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if (last != '\n') {
		l++;
		*ends_nl = 0;
	}
	*lines = l;
	return 0;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct xfer	*x = arg;

	httpc_header(&x->r, p, sz * n);
	return sz * n;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct xfer	*x = arg;
	long		 code = 0;
	size_t		 len = sz * n;

	if (!x->decided) {
		x->decided = 1;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
		if (code == 206)
			x->to_file = 1;
		else if (code == 200) {
			/* The whole file again (Range ignored): start over. */
			x->to_file = 1;
			if (x->offset > 0) {
				if (fflush(x->f) != 0 ||
				    ftruncate(fileno(x->f), 0) == -1 ||
				    fseek(x->f, 0, SEEK_SET) == -1) {
					x->io_error = errno;
					return 0;
				}
				x->offset = 0;
				x->it->bytes = 0;
			}
		}
	}
	if (!x->to_file) {
		if (x->r.body.len + len <= ERRBODY_MAX)
			(void)buf_add(&x->r.body, p, len);
		return len;
	}
	if (x->max > 0 && (x->it->bytes + (long long)len > x->max ||
	    (x->r.length >= 0 && x->offset + x->r.length > x->max))) {
		x->too_big = 1;
		return 0;		/* libcurl ends the transfer */
	}
	if (fwrite(p, 1, len, x->f) != len) {
		x->io_error = errno ? errno : EIO;
		return 0;
	}
	x->it->bytes += (long long)len;
	return len;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->f != NULL)
		fclose(x->f);
	curl_slist_free_all(x->h);
	if (x->c != NULL)
		curl_easy_cleanup(x->c);
	httpc_resp_free(&x->r);
	free(x);
}

/* Starts item i; adds it to the multi handle.  0 or -1 (err). */
static int
start(struct run *ru, CURLM *m, size_t i, struct p2p_err *err)
{
	struct dl_item	*it = &ru->items[i];
	struct xfer	*x;
	struct stat	 sb;
	struct p2p_buf	 hv = { 0 };
	long		 stall = ru->o->stall > 0 ? ru->o->stall : DL_STALL;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	x->it = it;
	x->s = ru->s;
	x->max = ru->o->max_bytes;
	httpc_resp_init(&x->r);
	x->offset = stat(it->path, &sb) == 0 ? (long long)sb.st_size : 0;
	it->bytes = x->offset;
	it->lines = -1;
	if ((x->f = fopen(it->path, x->offset > 0 ? "ab" : "wb")) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", it->path,
		    strerror(errno));
		xfer_free(x);
		return -1;
	}
	if (smart_token(ru->s, err) == -1 || (x->c = curl_easy_init()) == NULL ||
	    httpc_setup(x->c, ru->s->cfg, it->url, 10, 0) == -1) {
		if (err->status == 0)
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "cannot start a download");
		xfer_free(x);
		return -1;
	}
	/* Our token goes to the peer's own origin only (manifest.c refuses
	 * other origins when the manifest requires it). */
	if ((httpc_same_origin(it->url, ru->s->peer.base_url) &&
	    (buf_printf(&hv, "Authorization: Bearer %s", ru->s->token) == -1 ||
	    (x->h = curl_slist_append(x->h, hv.p)) == NULL)) ||
	    (x->h = curl_slist_append(x->h,
	    "Accept: application/fhir+ndjson")) == NULL) {
		buf_free(&hv);
		xfer_free(x);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	if (hv.p != NULL)
		memset(hv.p, 0, hv.len);
	buf_reset(&hv);
	if (x->offset > 0 && (buf_printf(&hv, "Range: bytes=%lld-",
	    x->offset) == -1 || (x->h = curl_slist_append(x->h, hv.p)) ==
	    NULL)) {
		buf_free(&hv);
		xfer_free(x);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	buf_free(&hv);
	curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->h);
	curl_easy_setopt(x->c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(x->c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x->c, CURLOPT_LOW_SPEED_TIME, stall);
	curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(m, x->c) != CURLM_OK) {
		xfer_free(x);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
		    "cannot start a download");
	}
	ru->active[i] = x;
	it->attempts++;
	return 0;
}

/* Schedules another try of it after delay seconds, or gives up. */
static void
retry(struct run *ru, size_t i, long long delay, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
retry(struct run *ru, size_t i, long long delay, const char *fmt, ...)
{
	struct dl_item	*it = &ru->items[i];
	int		 max = ru->o->max_attempts > 0 ? ru->o->max_attempts :
			    DL_ATTEMPTS;
	char		 why[256];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (it->attempts >= max) {
		snprintf(it->reason, sizeof(it->reason), "gave up after %d "
		    "tries: %s", it->attempts, why);
		it->outcome = DL_FAILED;
		return;
	}
	snprintf(it->reason, sizeof(it->reason), "%s", why);
	if (delay < 1) {
		delay = 1;
		while (delay < DL_BACKOFF_MAX && delay < (1LL << (it->attempts - 1)))
			delay *= 2;
	}
	if (delay > 5 * DL_BACKOFF_MAX)
		delay = 5 * DL_BACKOFF_MAX;
	ru->next_at[i] = now_ms() + delay * 1000;
	log_info("%s: %s; again in %lld s", it->url, why, delay);
}

/* A finished transfer: decide the item's outcome.  0 or -1 (local). */
static int
finish(struct run *ru, CURLM *m, struct xfer *x, CURLcode res,
    struct p2p_err *err)
{
	struct dl_item	*it = x->it;
	size_t		 i = (size_t)(it - ru->items);
	char		 text[256];
	long		 code = 0;
	int		 nl, rc = 0;

	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
	it->status = code;
	curl_multi_remove_handle(m, x->c);
	ru->active[i] = NULL;
	if (x->f != NULL && fclose(x->f) != 0 && x->io_error == 0)
		x->io_error = errno;
	x->f = NULL;
	if (x->io_error != 0) {
		rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", it->path,
		    strerror(x->io_error));
		goto out;
	}
	if (x->r.length >= 0 && x->to_file)
		ru->length[i] = x->offset + x->r.length;
	if (x->too_big) {
		/* Not retried: the peer would send the same file. */
		unlink(it->path);
		it->bytes = 0;
		it->outcome = DL_FAILED;
		snprintf(it->reason, sizeof(it->reason), "the file is larger "
		    "than peer_file_max (%lld bytes)", x->max);
		goto out;
	}
	if (res != CURLE_OK) {
		/* Broken, stalled, refused connection: the part on disk is
		 * kept and the rest asked for next time. */
		retry(ru, i, 0, "%s", curl_easy_strerror(res));
		goto out;
	}
	httpc_outcome_text(x->r.body.p, x->r.body.len, text, sizeof(text));
	switch (code) {
	case 200:
	case 206:
		if (dl_count_lines(it->path, &it->lines, &nl) == -1) {
			rc = p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s",
			    it->path, strerror(errno));
			goto out;
		}
		if (it->count >= 0 && it->lines != it->count) {
			/* Truncated (or padded): fetch it whole again. */
			unlink(it->path);
			retry(ru, i, 0, "%lld lines where the manifest says "
			    "%lld", it->lines, it->count);
			it->bytes = 0;
			break;
		}
		it->outcome = DL_OK;
		it->reason[0] = '\0';
		ru->ok++;
		break;
	case 416:
		unlink(it->path);
		it->bytes = 0;
		retry(ru, i, 0, "the peer refused to resume (416)");
		break;
	case 401:
		if (!ru->refreshed) {
			ru->refreshed = 1;
			if (smart_refresh(ru->s, err) == -1) {
				rc = -1;
				goto out;
			}
			retry(ru, i, 1, "token refused (401)");
			break;
		}
		it->outcome = DL_FAILED;
		snprintf(it->reason, sizeof(it->reason), "HTTP 401: %s", text);
		break;
	case 403:
	case 404:
	case 410:
		it->outcome = DL_STALE;
		snprintf(it->reason, sizeof(it->reason), "HTTP %ld: %s", code,
		    text);
		break;
	default:
		if (code == 429 || code >= 500)
			retry(ru, i, x->r.retry_after, "HTTP %ld: %s", code,
			    text);
		else {
			it->outcome = DL_FAILED;
			snprintf(it->reason, sizeof(it->reason), "HTTP %ld: %s",
			    code, text);
		}
		break;
	}
out:
	if (rc == 0 && it->outcome != DL_PENDING && ru->o->on_file != NULL &&
	    ru->o->on_file(ru->o->arg, it, err) == -1)
		rc = -1;
	xfer_free(x);
	return rc;
}

/* Figures for the progress line. */
static void
show(struct run *ru, long long done_before, int force)
{
	long long	 files = done_before, bytes = 0, total = 0;
	size_t		 i;

	if (ru->o->progress == NULL)
		return;
	for (i = 0; i < ru->n; i++) {
		bytes += ru->items[i].bytes;
		if (ru->items[i].outcome == DL_OK)
			files++;
		if (total >= 0)
			total = ru->items[i].outcome == DL_OK ? total +
			    ru->items[i].bytes : ru->length[i] >= 0 ? total +
			    ru->length[i] : -1;
	}
	progress_update(ru->o->progress, files, ru->o->progress->bytes_start +
	    bytes, total > 0 ? ru->o->progress->bytes_start + total : -1,
	    force);
}

/*
 * Stops every transfer.  Partial files stay for the next run, and each
 * item is reported (bytes so far, the tries made: each was a request
 * the peer may have counted as a disclosure).  0, or -1 when reporting
 * failed.
 */
static int
abort_all(struct run *ru, CURLM *m, struct p2p_err *err)
{
	struct dl_item	*it;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < ru->n; i++) {
		if (ru->active[i] == NULL)
			continue;
		it = ru->active[i]->it;
		curl_multi_remove_handle(m, ru->active[i]->c);
		xfer_free(ru->active[i]);
		ru->active[i] = NULL;
		if (rc == 0 && ru->o->on_file != NULL &&
		    ru->o->on_file(ru->o->arg, it, err) == -1)
			rc = -1;
	}
	return rc;
}

int
dl_run(struct smart *s, struct dl_item *items, size_t n,
    const struct dl_opts *o, struct p2p_err *err)
{
	struct run	 ru;
	CURLM		*m;
	CURLMsg		*msg;
	struct xfer	*x;
	char		*pv;
	int64_t		 now, wait;
	long long	 done_before;
	size_t		 i, nactive;
	int		 running, left, rc = -1, par;

	par = o->parallel > 0 ? o->parallel : DL_PARALLEL;
	memset(&ru, 0, sizeof(ru));
	ru.s = s;
	ru.o = o;
	ru.items = items;
	ru.n = n;
	ru.next_at = calloc(n ? n : 1, sizeof(*ru.next_at));
	ru.active = calloc(n ? n : 1, sizeof(*ru.active));
	ru.length = calloc(n ? n : 1, sizeof(*ru.length));
	if ((m = curl_multi_init()) == NULL || ru.next_at == NULL ||
	    ru.active == NULL || ru.length == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ru.length[i] = -1;
		items[i].attempts = 0;
	}
	done_before = o->progress != NULL ? o->progress->files_done : 0;
	for (;;) {
		for (i = 0, left = 0; i < n; i++)
			left += items[i].outcome == DL_PENDING;
		if (left == 0)
			break;
		if ((o->stop != NULL && *o->stop) || (o->stop_after > 0 &&
		    ru.ok + (o->done ? *o->done : 0) >= o->stop_after)) {
			if (o->done != NULL)
				*o->done += ru.ok;
			rc = abort_all(&ru, m, err) == -1 ? -1 : 2;
			goto out;
		}
		/* Start what may start. */
		now = now_ms();
		wait = 1000;
		for (nactive = 0, i = 0; i < n; i++)
			nactive += ru.active[i] != NULL;
		for (i = 0; i < n; i++) {
			if (items[i].outcome != DL_PENDING)
				continue;
			if (ru.active[i] != NULL)
				continue;
			if (ru.next_at[i] > now) {
				if (ru.next_at[i] - now < wait)
					wait = ru.next_at[i] - now;
				continue;
			}
			if ((int)nactive >= par)
				continue;
			if (start(&ru, m, i, err) == -1) {
				(void)abort_all(&ru, m, err);
				goto out;
			}
			nactive++;
		}
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "download engine failed");
			(void)abort_all(&ru, m, err);
			goto out;
		}
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			pv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    &pv);
			if ((x = (struct xfer *)pv) == NULL)
				continue;
			if (finish(&ru, m, x, msg->data.result, err) == -1) {
				(void)abort_all(&ru, m, err);
				goto out;
			}
			if (o->stop_after > 0 && ru.ok + (o->done ? *o->done :
			    0) >= o->stop_after)
				break;
		}
		show(&ru, done_before, 0);
		if (wait < 10)
			wait = 10;
		curl_multi_poll(m, NULL, 0, (int)(wait > 200 ? 200 : wait),
		    NULL);
	}
	show(&ru, done_before, 1);
	if (o->done != NULL)
		*o->done += ru.ok;
	rc = 0;
	for (i = 0; i < n; i++)
		if (items[i].outcome != DL_OK)
			rc = 1;
out:
	if (m != NULL)
		curl_multi_cleanup(m);
	free(ru.next_at);
	free(ru.active);
	free(ru.length);
	return rc;
}
