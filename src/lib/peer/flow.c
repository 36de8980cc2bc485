/*
 * peer/flow.c - see flow.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "json/fhir.h"
#include "json/params.h"
#include "member/bulkmatch.h"
#include "peer/download.h"
#include "peer/due.h"
#include "peer/flow.h"
#include "peer/ingest.h"
#include "peer/matchreq.h"
#include "peer/pull.h"
#include "peer/state.h"
#include "store/store.h"

#define PDEX_P2P_EXPORT	"hl7.fhir.us.davinci-pdex#payertopayer"
#define FLOW_OPEN_MAX	64	/* unfinished exchanges resumed per run */
#define FLOW_PAGES_MAX	10000	/* pages of a synchronous $everything */
#define FLOW_SYNC_MAX	(256L * 1024 * 1024) /* its bytes, all pages */
#define FLOW_POLL_FAULTS 8	/* transient polling faults per exchange */

struct flow {
	struct p2p_db		*db;
	const struct p2p_config	*cfg;
	const struct flow_opts	*o;
	struct flow_result	*res;
	struct peer		 peer;
	struct smart		 s;
	time_t			 until;		/* end of the wait budget */
	int			 lockfd;
	long long		 files;		/* downloaded in this run */
};

/* A member of an exchange, as pull_members() lists them. */
struct fmember {
	char		 local[72];
	char		 remote[72];
	long long	 seq;
	int		 done;		/* an outcome is recorded */
	char		 refusal[400];	/* the peer's words, export */
};

struct fmembers {
	struct fmember	*v;
	size_t		 n, cap;
};

static void say(struct flow *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct flow *f, const char *fmt, ...)
{
	va_list	 ap;

	if (f->o->out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(f->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', f->o->out);
	fflush(f->o->out);
}

static int
stopping(const struct flow *f)
{
	return f->o->stop != NULL && *f->o->stop;
}

/* Sleeps until t (or a stop).  1 when stopped. */
static int
sleep_until(struct flow *f, time_t t)
{
	struct timespec	 ts = { 0, 200 * 1000000L };

	while (now_sec() < t) {
		if (stopping(f))
			return 1;
		nanosleep(&ts, NULL);
	}
	return stopping(f);
}

/* Records ev for member and tells the operator.  New state or -1. */
static int
outcome(struct flow *f, const char *member, enum inb_event ev,
    const char *reason, long long retry_after, struct p2p_err *err)
{
	int	 to;

	if ((to = inbound_event(f->db, member, f->peer.name, ev, reason,
	    retry_after, err)) == -1)
		return -1;
	switch (to) {
	case INB_MATCHED: f->res->matched++; break;
	case INB_NOMATCH: f->res->nomatch++; break;
	case INB_CONSENT: f->res->consent++; break;
	case INB_FAILED: f->res->failed++; break;
	case INB_DUE: f->res->deferred++; break;
	default: break;
	}
	if (ev == INB_EV_REQUEST || ev == INB_EV_MATCHED)
		return to;
	if (to == INB_DUE)
		say(f, "member %s: not this time (retried later): %s", member,
		    reason ? reason : "");
	else
		say(f, "member %s: %s%s%s", member,
		    inb_state_name((enum inb_state)to), reason ? ": " : "",
		    reason ? reason : "");
	return to;
}

/* --- lock ----------------------------------------------------------- */

static int
lock_peer(struct flow *f, struct p2p_err *err)
{
	char	 path[PATH_MAX + 80];
	int	 n;

	snprintf(path, sizeof(path), "%.4000s/run", f->cfg->data_dir);
	(void)mkdir(path, 0700);
	n = snprintf(path, sizeof(path), "%.4000s/run/p2p-request-%.64s.lock",
	    f->cfg->data_dir, f->peer.name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "path too long");
	if ((f->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	if (flock(f->lockfd, LOCK_EX | LOCK_NB) == -1) {
		close(f->lockfd);
		f->lockfd = -1;
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "another "
		    "p2p-request is working with peer %s", f->peer.name);
	}
	return 0;
}

static int
flow_open(struct flow *f, struct p2p_db *db, const struct p2p_config *cfg,
    const char *peer, const struct flow_opts *o, struct flow_result *res,
    unsigned need, struct p2p_err *err)
{
	int	 rc;

	memset(f, 0, sizeof(*f));
	memset(res, 0, sizeof(*res));
	f->db = db;
	f->cfg = cfg;
	f->o = o;
	f->res = res;
	f->lockfd = -1;
	f->until = now_sec() + (o->wait > 0 ? o->wait : FLOW_WAIT);
	if ((rc = peer_get(db, peer, &f->peer, err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND, "no "
		    "peer %s (p2p-admin peer list)", peer) : -1;
	if (!f->peer.active)
		return p2p_fail(err, 409, P2P_ISSUE_CONFLICT, "peer %s is "
		    "disabled", peer);
	if (lock_peer(f, err) == -1)
		return -1;
	smart_init(&f->s, cfg, db, &f->peer, o->timeout > 0 ? o->timeout :
	    FLOW_TIMEOUT);
	if (smart_discover(&f->s, need, 0, err) == -1)
		return -1;
	f->peer = f->s.peer;
	return 0;
}

static void
flow_close(struct flow *f)
{
	smart_free(&f->s);
	if (f->lockfd != -1)
		close(f->lockfd);
	f->lockfd = -1;
}

/* --- what an answer means ------------------------------------------- */

/*
 * The event a refusal of a match request means, with the peer's words
 * in reason.  HRex: 422 not-found / multiple-matches is no match; 422
 * about the consent (forbidden, business-rule, ...) is consent; 429,
 * 503 and other 5xx are worth another try; anything else is final.
 */
static enum inb_event
refusal(const struct httpc_resp *r, char *reason, size_t sz)
{
	char	 text[400], code[32];

	httpc_outcome_text(r->body.p, r->body.len, text, sizeof(text));
	httpc_outcome_code(r->body.p, r->body.len, code, sizeof(code));
	snprintf(reason, sz, "HTTP %ld: %s", r->status, text[0] ? text :
	    "(no body)");
	if (r->status == 422 && (strcmp(code, "not-found") == 0 ||
	    strcmp(code, "multiple-matches") == 0))
		return INB_EV_NOMATCH;
	if (r->status == 422)
		return INB_EV_CONSENT;
	if (r->status == 429 || r->status >= 500)
		return INB_EV_RETRY;
	return INB_EV_FAILED;
}

/* The id at the end of "Patient/<id>" or ".../Patient/<id>[/_history..]". */
static int
patient_id_of(const char *ref, char *out, size_t sz)
{
	char	 buf[512], *p, *h;

	if (ref == NULL || strlen(ref) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", ref);
	if ((h = strstr(buf, "/_history/")) != NULL)
		*h = '\0';
	if ((p = strrchr(buf, '/')) == NULL || p - buf < 7 ||
	    strncmp(p - 7, "Patient", 7) != 0 || !fhir_valid_id(p + 1) ||
	    strlen(p + 1) >= sz)
		return 0;
	snprintf(out, sz, "%s", p + 1);
	return 1;
}

/*
 * The member id a $member-match answer gives: MemberId (HRex 1.1+),
 * else MemberIdentifier's value (what PDex says $everything takes),
 * else, in the PDex STU1 shape, the UMB identifier of MemberPatient.
 */
static int
member_id_of(json_object *p, char *out, size_t sz)
{
	json_object	*list, *e, *ids, *id;
	const char	*v;
	size_t		 i, n;

	if ((list = fhir_get(p, "parameter", json_type_array)) == NULL)
		return 0;
	if ((e = params_find(list, "MemberId", NULL)) != NULL &&
	    patient_id_of(fhir_path_str(e, "valueReference.reference"), out,
	    sz))
		return 1;
	if ((e = params_find(list, "MemberIdentifier", NULL)) != NULL &&
	    (v = fhir_path_str(e, "valueIdentifier.value")) != NULL &&
	    fhir_valid_id(v) && strlen(v) < sz) {
		snprintf(out, sz, "%s", v);
		return 1;
	}
	if ((e = params_find(list, "MemberPatient", NULL)) != NULL &&
	    (ids = fhir_get(fhir_get(e, "resource", json_type_object),
	    "identifier", json_type_array)) != NULL) {
		n = json_object_array_length(ids);
		for (i = 0; i < n; i++) {
			id = json_object_array_get_idx(ids, i);
			if (!fhir_has_coding(fhir_get(id, "type",
			    json_type_object), NULL, "UMB"))
				continue;
			if ((v = fhir_str(id, "value")) != NULL &&
			    fhir_valid_id(v) && strlen(v) < sz) {
				snprintf(out, sz, "%s", v);
				return 1;
			}
		}
	}
	return 0;
}

/* --- exchanges -------------------------------------------------------- */

static int
collect_member(void *arg, const char *patient, long long seq,
    const char *remote)
{
	struct fmembers	*ms = arg;
	struct fmember	*nv;

	if (array_grow(&ms->v, ms->n, &ms->cap, sizeof(*nv), 16) == -1)
		return -1;
	nv = &ms->v[ms->n++];
	memset(nv, 0, sizeof(*nv));
	snprintf(nv->local, sizeof(nv->local), "%s", patient);
	snprintf(nv->remote, sizeof(nv->remote), "%s", remote ? remote : "");
	nv->seq = seq;
	return 0;
}

/* Every member of pull p not yet decided gets ev with reason. */
static int
members_all(struct flow *f, struct fmembers *ms, enum inb_event ev,
    const char *reason, long long retry_after, struct p2p_err *err)
{
	size_t	 i;

	for (i = 0; i < ms->n; i++) {
		if (ms->v[i].done)
			continue;
		ms->v[i].done = 1;
		if (outcome(f, ms->v[i].local, ev, reason, retry_after,
		    err) == -1)
			return -1;
	}
	return 0;
}

/*
 * A request that got no usable answer (err from smart_call or
 * pull_kickoff): a local failure (500) stops the run; no answer, a busy
 * or broken peer is tried again later; a refused token or an answer we
 * cannot use fails the members, with the reason.  0 or -1.
 */
static int
fault(struct flow *f, struct fmembers *ms, const char *what,
    struct p2p_err *err)
{
	char		 why[600];
	long long	 after = err->retry_after;
	enum inb_event	 ev;

	if (err->status == 500)
		return -1;
	ev = err->status == 503 || err->status == 504 ? INB_EV_RETRY :
	    INB_EV_FAILED;
	snprintf(why, sizeof(why), "%s: %s", what, err->msg);
	say(f, "peer %s: %s", f->peer.name, why);
	p2p_err_init(err);
	return members_all(f, ms, ev, why, after, err);
}

/* Removes an exchange's directory and files. */
static void
rm_files(const struct p2p_config *cfg, long long pid)
{
	char		 dir[PATH_MAX], path[PATH_MAX + 300];
	DIR		*d;
	struct dirent	*de;

	snprintf(dir, sizeof(dir), "%.4000s/inbound/%lld", cfg->data_dir, pid);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
file_path(const struct p2p_config *cfg, long long pid, long long seq,
    char *out, size_t sz)
{
	char	 dir[PATH_MAX];

	if (pull_dir(cfg, pid, dir, sizeof(dir)) == -1)
		dir[0] = '\0';
	snprintf(out, sz, "%s/%lld.ndjson", dir, seq);
}

/* Ends an exchange as failed; its members get ev. */
static int
pull_failed(struct flow *f, struct pull *p, struct fmembers *ms,
    enum inb_event ev, const char *reason, long long retry_after,
    struct p2p_err *err)
{
	char	 why[600];

	snprintf(why, sizeof(why), "%s %lld: %s", pull_kind_name(p->kind),
	    p->pid, reason);
	say(f, "pull %lld (%s) failed: %s", p->pid, pull_kind_name(p->kind),
	    reason);
	if (pull_set(f->db, p, PULL_FAILED, reason, err) == -1 ||
	    members_all(f, ms, ev, why, retry_after, err) == -1)
		return -1;
	rm_files(f->cfg, p->pid);
	return 0;
}

struct dlctx {
	struct flow	*f;
	struct pull	*p;
	struct pull_file *files;
	size_t		 n;
};

static int
on_file(void *arg, struct dl_item *it, struct p2p_err *err)
{
	struct dlctx		*c = arg;
	struct pull_file	*pf = NULL;
	size_t			 i;

	for (i = 0; i < c->n; i++)
		if (c->files[i].seq == it->seq)
			pf = &c->files[i];
	if (pf == NULL)
		return 0;
	pf->bytes = it->bytes;
	pf->lines = it->lines;
	/* Every try was a request the peer may count as a disclosure. */
	pf->attempts += it->attempts;
	it->attempts = 0;
	snprintf(pf->reason, sizeof(pf->reason), "%s", it->reason);
	pf->state = it->outcome == DL_OK ? PF_DONE : it->outcome == DL_FAILED ?
	    PF_FAILED : PF_PENDING;
	return pull_file_set(c->f->db, c->p->pid, pf, err);
}

/*
 * Downloads the pending files of p.  0 all there, 1 some went stale
 * (poll again), 2 stopped, 3 failed (p and its members recorded), -1.
 */
static int
download(struct flow *f, struct pull *p, struct fmembers *ms,
    struct p2p_err *err)
{
	struct pull_file	*files = NULL;
	struct dl_item		*items = NULL;
	struct dl_opts		 o;
	struct dlctx		 c;
	struct progress		 pg;
	char			 label[96], why[600];
	long long		 done = 0, bytes = 0;
	size_t			 n, i, k = 0;
	int			 rc = -1, stale = 0;

	if (pull_files(f->db, p->pid, &files, &n, err) == -1)
		return -1;
	if ((items = calloc(n ? n : 1, sizeof(*items))) == NULL) {
		free(files);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	for (i = 0; i < n; i++) {
		if (files[i].state != PF_PENDING) {
			done++;
			bytes += files[i].bytes;
			continue;
		}
		items[k].seq = files[i].seq;
		items[k].url = files[i].url;
		items[k].count = files[i].count;
		file_path(f->cfg, p->pid, files[i].seq, items[k].path,
		    sizeof(items[k].path));
		k++;
	}
	memset(&o, 0, sizeof(o));
	o.max_bytes = f->cfg->peer_file_max;
	o.parallel = f->o->parallel;
	o.stall = f->o->timeout;
	o.stop_after = f->o->stop_after;
	o.done = &f->files;
	o.stop = f->o->stop;
	o.on_file = on_file;
	c.f = f;
	c.p = p;
	c.files = files;
	c.n = n;
	o.arg = &c;
	snprintf(label, sizeof(label), "pull %lld (%s, %s)", p->pid,
	    pull_kind_name(p->kind), f->peer.name);
	progress_init(&pg, f->o->prog, f->o->interval, label, (long long)n,
	    done, bytes);
	o.progress = &pg;
	if (k > 0)
		rc = dl_run(&f->s, items, k, &o, err);
	else
		rc = 0;
	progress_end(&pg);
	if (rc == -1 || rc == 2)
		goto out;
	for (i = 0; i < k; i++) {
		if (items[i].outcome == DL_STALE)
			stale = 1;
		else if (items[i].outcome == DL_FAILED) {
			snprintf(why, sizeof(why), "file %lld (%.200s): %s",
			    items[i].seq, items[i].url, items[i].reason);
			rc = pull_failed(f, p, ms, INB_EV_RETRY, why, 0, err) ==
			    -1 ? -1 : 3;
			goto out;
		}
	}
	rc = stale ? 1 : 0;
out:
	if (rc == 2)
		f->res->stopped = 1;
	free(items);
	free(files);
	return rc;
}

/* The refusals of an export's error file, put on the members named. */
static int
read_errors(struct flow *f, const char *path, struct fmembers *ms,
    struct p2p_err *err)
{
	FILE		*fp;
	char		*line = NULL, text[400], needle[100];
	size_t		 cap = 0, i;
	ssize_t		 len;
	const char	*hit;

	if ((fp = fopen(path, "r")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	while ((len = getline(&line, &cap, fp)) > 0) {
		httpc_outcome_text(line, (size_t)len, text, sizeof(text));
		for (i = 0; i < ms->n; i++) {
			if (ms->v[i].remote[0] == '\0')
				continue;
			snprintf(needle, sizeof(needle), "Patient/%s",
			    ms->v[i].remote);
			/* The peer's own words name the member it left out. */
			if ((hit = strstr(text, needle)) != NULL &&
			    !((hit[strlen(needle)] >= 'A' &&
			    hit[strlen(needle)] <= 'Z') ||
			    (hit[strlen(needle)] >= 'a' &&
			    hit[strlen(needle)] <= 'z') ||
			    (hit[strlen(needle)] >= '0' &&
			    hit[strlen(needle)] <= '9') ||
			    hit[strlen(needle)] == '-' ||
			    hit[strlen(needle)] == '.')) {
				snprintf(ms->v[i].refusal,
				    sizeof(ms->v[i].refusal), "%s", text);
				break;
			}
		}
		if (i == ms->n)
			say(f, "peer %s reports: %s", f->peer.name, text);
	}
	free(line);
	fclose(fp);
	return 0;
}

/* Stores an export's files; every member ends fetched or refused. */
static int
load_export(struct flow *f, struct pull *p, struct fmembers *ms,
    struct p2p_err *err)
{
	struct pull_file	*files = NULL;
	struct ingest		 g;
	struct ingest_member	*im;
	char			 path[PATH_MAX + 64], src[MANIFEST_URL_MAX];
	char			 why[600];
	size_t			 n, i;
	int			 pass, rc = -1;

	ingest_init(&g, f->db, f->cfg, &f->peer);
	for (i = 0; i < ms->n; i++)
		if (ms->v[i].remote[0] != '\0' && ingest_member(&g,
		    ms->v[i].local, ms->v[i].remote) == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
			goto out;
		}
	if (pull_files(f->db, p->pid, &files, &n, err) == -1)
		goto out;
	/* Refusals first; then Organizations (others refer to them). */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < n; i++) {
			if ((pass == 0) != files[i].error ||
			    (pass == 1 && strcmp(files[i].type,
			    "Organization") != 0) ||
			    (pass == 2 && strcmp(files[i].type,
			    "Organization") == 0) ||
			    files[i].state == PF_LOADED)
				continue;
			file_path(f->cfg, p->pid, files[i].seq, path,
			    sizeof(path));
			if (files[i].error) {
				if (read_errors(f, path, ms, err) == -1)
					goto out;
				continue;
			}
			manifest_url_path(files[i].url, src, sizeof(src));
			if (ingest_file(&g, path, src, err) == -1) {
				snprintf(why, sizeof(why), "the peer's data "
				    "cannot be stored: %s", err->msg);
				p2p_err_init(err);
				rc = pull_failed(f, p, ms, INB_EV_FAILED, why, 0,
				    err);
				goto out;
			}
			files[i].state = PF_LOADED;
			if (pull_file_set(f->db, p->pid, &files[i], err) == -1)
				goto out;
		}
	if (db_begin(f->db, err) == -1)
		goto out;
	for (i = 0; i < ms->n; i++) {
		if (ms->v[i].done)
			continue;
		ms->v[i].done = 1;
		if (ms->v[i].refusal[0] != '\0') {
			if (outcome(f, ms->v[i].local, INB_EV_CONSENT,
			    ms->v[i].refusal, 0, err) == -1)
				goto fail_tx;
			continue;
		}
		im = ingest_find(&g, ms->v[i].remote);
		if (inbound_fetched(f->db, ms->v[i].local, f->peer.name,
		    p->transaction_time, im ? im->stored : 0, err) == -1)
			goto fail_tx;
		f->res->fetched++;
		f->res->resources += im ? im->stored : 0;
		say(f, "member %s: fetched: %lld resources stored from %s "
		    "(Patient/%s there)", ms->v[i].local, im ? im->stored : 0,
		    f->peer.name, ms->v[i].remote);
	}
	if (pull_set(f->db, p, PULL_DONE, NULL, err) == -1 ||
	    db_commit(f->db, err) == -1)
		goto fail_tx;
	pull_release(&f->s, p);
	rm_files(f->cfg, p->pid);
	rc = 0;
	goto out;
fail_tx:
	db_rollback(f->db);
out:
	free(files);
	ingest_free(&g);
	return rc;
}

/* --- $bulk-member-match results -------------------------------------- */

static struct fmember *
by_contained(struct fmembers *ms, const char *cid)
{
	long long	 k;
	size_t		 i;

	for (i = 0; i < ms->n; i++)
		if (strcmp(ms->v[i].local, cid) == 0)
			return &ms->v[i];
	/* The responder renames a contained Patient it cannot keep:
	 * "member-<MemberBundle number>" (our own responder does). */
	if (strncmp(cid, "member-", 7) == 0 &&
	    parse_ll(cid + 7, 1, 1LL << 31, &k) == 0)
		for (i = 0; i < ms->n; i++)
			if (ms->v[i].seq == k - 1)
				return &ms->v[i];
	return NULL;
}

/* One result Group: its members' outcomes; the MatchedMembers id. */
static int
result_group(struct flow *f, json_object *g, struct fmembers *ms,
    char gid[72], struct p2p_err *err)
{
	json_object	*mem, *e, *ent, *exts, *x;
	struct fmember	*m;
	const char	*code = NULL, *ref, *cid, *url;
	char		 remote[72], why[200];
	size_t		 i, n, k;
	enum inb_event	 ev;

	if (fhir_type(g) == NULL || strcmp(fhir_type(g), "Group") != 0)
		return 0;
	if (fhir_has_coding(fhir_get(g, "code", json_type_object), BM_RESULT_CS,
	    "match"))
		code = "match";
	else if (fhir_has_coding(fhir_get(g, "code", json_type_object),
	    BM_RESULT_CS, "nomatch"))
		code = "nomatch";
	else if (fhir_has_coding(fhir_get(g, "code", json_type_object),
	    BM_RESULT_CS, "consentconstraint"))
		code = "consentconstraint";
	if (code == NULL)
		return 0;
	if (strcmp(code, "match") == 0 && fhir_id(g) != NULL &&
	    fhir_valid_id(fhir_id(g)))
		snprintf(gid, 72, "%s", fhir_id(g));
	if ((mem = fhir_get(g, "member", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(mem);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(mem, i);
		ent = fhir_get(e, "entity", json_type_object);
		ref = fhir_str(ent, "reference");
		cid = NULL;
		exts = fhir_get(ent, "extension", json_type_array);
		for (k = 0; exts != NULL && k < json_object_array_length(exts);
		    k++) {
			x = json_object_array_get_idx(exts, k);
			if ((url = fhir_str(x, "url")) != NULL &&
			    strcmp(url, BM_MATCH_EXT) == 0)
				cid = fhir_path_str(x, "valueReference.reference");
		}
		if (cid == NULL && ref != NULL && ref[0] == '#')
			cid = ref;
		if (cid == NULL || cid[0] != '#' ||
		    (m = by_contained(ms, cid + 1)) == NULL || m->done) {
			say(f, "peer %s: a %s entry names no member of this "
			    "request (%.80s)", f->peer.name, code,
			    cid ? cid : ref ? ref : "no reference");
			continue;
		}
		m->done = 1;
		if (strcmp(code, "match") == 0) {
			if (!patient_id_of(ref, remote, sizeof(remote))) {
				if (outcome(f, m->local, INB_EV_FAILED, "the "
				    "peer matched the member without naming its "
				    "Patient", 0, err) == -1)
					return -1;
				continue;
			}
			snprintf(m->remote, sizeof(m->remote), "%s", remote);
			if (inbound_set_remote(f->db, m->local, f->peer.name,
			    remote, err) == -1 ||
			    outcome(f, m->local, INB_EV_MATCHED, NULL, 0,
			    err) == -1)
				return -1;
			say(f, "member %s: matched at %s as Patient/%s",
			    m->local, f->peer.name, remote);
			continue;
		}
		ev = strcmp(code, "nomatch") == 0 ? INB_EV_NOMATCH :
		    INB_EV_CONSENT;
		snprintf(why, sizeof(why), "the peer put the member in %s",
		    ev == INB_EV_NOMATCH ? "NonMatchedMembers" :
		    "ConsentConstrainedMembers");
		if (outcome(f, m->local, ev, why, 0, err) == -1)
			return -1;
	}
	return 0;
}

/* Reads the JSON lines of a result file, calling one of the handlers. */
static int
each_line(const char *path, int (*fn)(void *, json_object *), void *arg,
    struct p2p_err *err)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	json_object	*o;
	struct p2p_err	 pe;
	int		 rc = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "%s: %s", path,
		    strerror(errno));
	while (rc == 0 && (len = getline(&line, &cap, fp)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		p2p_err_init(&pe);
		if (fhir_parse(line, (size_t)len, &o, &pe) == -1) {
			rc = p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "a result "
			    "line is not JSON: %s", pe.msg);
			break;
		}
		rc = fn(arg, o);
		json_object_put(o);
	}
	free(line);
	fclose(fp);
	return rc;
}

struct mres {
	struct flow	*f;
	struct fmembers	*ms;
	char		 gid[72];
	struct p2p_err	*err;
	int		 groups;	/* Groups seen */
};

static int
on_group(void *arg, json_object *o)
{
	struct mres	*r = arg;

	r->groups++;
	return result_group(r->f, o, r->ms, r->gid, r->err);
}

static int
on_params(void *arg, json_object *o)
{
	json_object	*list, *g;
	size_t		 i, n;

	if ((list = fhir_get(o, "parameter", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++)
		if ((g = fhir_get(json_object_array_get_idx(list, i),
		    "resource", json_type_object)) != NULL &&
		    on_group(arg, g) == -1)
			return -1;
	return 0;
}

/* "MemberBundle N: ..." in an error file fails that member alone. */
static int
on_error(void *arg, json_object *o)
{
	struct mres	*r = arg;
	const char	*t = fhir_path_str(o, "issue.diagnostics");
	char		 text[400];
	long long	 k;
	size_t		 i, j;

	httpc_outcome_text(fhir_json(o), strlen(fhir_json(o)), text,
	    sizeof(text));
	if (t != NULL && strncmp(t, "MemberBundle ", 13) == 0) {
		for (j = 13; t[j] >= '0' && t[j] <= '9'; j++)
			;
		if (t[j] == ':' && j > 13 && j - 13 < 10) {
			char	 num[12];

			memcpy(num, t + 13, j - 13);
			num[j - 13] = '\0';
			if (parse_ll(num, 1, 1LL << 31, &k) == 0)
				for (i = 0; i < r->ms->n; i++)
					if (r->ms->v[i].seq == k - 1 &&
					    !r->ms->v[i].done) {
						r->ms->v[i].done = 1;
						return outcome(r->f,
						    r->ms->v[i].local,
						    INB_EV_FAILED, text, 0,
						    r->err) == -1 ? -1 : 0;
					}
		}
	}
	say(r->f, "peer %s reports: %s", r->f->peer.name, text);
	return 0;
}

static int run_pull(struct flow *, long long, struct p2p_err *);

/* Kicks off $davinci-data-export for the matched members of a match. */
static int
export_matched(struct flow *f, struct pull *mp, struct fmembers *ms,
    const char *gid, struct p2p_err *err)
{
	struct httpc_resp	 r;
	json_object		*body;
	struct fmembers		 matched = { NULL, 0, 0 };
	char			 url[1200], status[1024], why[500];
	long long		 pid;
	size_t			 i;
	int			 rc = -1;
	enum inb_event		 ev;

	for (i = 0; i < ms->n; i++)
		if (ms->v[i].remote[0] != '\0' && collect_member(&matched,
		    ms->v[i].local, ms->v[i].seq, ms->v[i].remote) == -1)
			return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
	if (matched.n == 0)
		return 0;
	if (gid[0] == '\0') {
		rc = members_all(f, &matched, INB_EV_FAILED, "the peer matched "
		    "members without a MatchedMembers Group id", 0, err);
		free(matched.v);
		return rc;
	}
	/* PDex: POST, exportType payertopayer; _since on repeat requests. */
	if ((body = params_new()) == NULL ||
	    params_add(body, "exportType", "valueCanonical",
	    json_object_new_string(PDEX_P2P_EXPORT)) == -1 ||
	    (mp->since[0] != '\0' && params_add(body, "_since",
	    "valueInstant", json_object_new_string(mp->since)) == -1)) {
		json_object_put(body);
		free(matched.v);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	snprintf(url, sizeof(url), "%s/Group/%s/$davinci-data-export",
	    f->peer.base_url, gid);
	if (pull_kickoff(&f->s, "POST", url, fhir_json(body), &r, status,
	    sizeof(status), err) == -1) {
		json_object_put(body);
		rc = fault(f, &matched, "$davinci-data-export", err);
		free(matched.v);
		return rc;
	}
	json_object_put(body);
	if (status[0] == '\0') {
		ev = refusal(&r, why, sizeof(why));
		if (ev == INB_EV_NOMATCH || ev == INB_EV_CONSENT)
			ev = INB_EV_FAILED;
		say(f, "peer %s refused $davinci-data-export: %s", f->peer.name,
		    why);
		rc = members_all(f, &matched, ev, why, r.retry_after, err);
		httpc_resp_free(&r);
		free(matched.v);
		return rc;
	}
	httpc_resp_free(&r);
	if (db_begin(f->db, err) == -1)
		goto out;
	if (pull_create(f->db, f->peer.name, PULL_EXPORT, status, gid,
	    mp->since, &pid, err) == -1)
		goto fail_tx;
	for (i = 0; i < matched.n; i++)
		if (pull_member_add(f->db, pid, matched.v[i].local,
		    matched.v[i].seq, matched.v[i].remote, err) == -1)
			goto fail_tx;
	if (db_commit(f->db, err) == -1)
		goto fail_tx;
	say(f, "pull %lld (export): $davinci-data-export of Group/%s for %zu "
	    "members%s%s", pid, gid, matched.n, mp->since[0] ? ", _since " :
	    "", mp->since);
	free(matched.v);
	return run_pull(f, pid, err);
fail_tx:
	db_rollback(f->db);
out:
	free(matched.v);
	return -1;
}

/* The outcome of a $bulk-member-match, then the export. */
static int
load_match(struct flow *f, struct pull *p, struct fmembers *ms,
    struct p2p_err *err)
{
	struct pull_file	*files = NULL;
	struct mres		 r;
	char			 path[PATH_MAX + 64];
	size_t			 n, i;
	int			 pass, rc = -1;

	memset(&r, 0, sizeof(r));
	r.f = f;
	r.ms = ms;
	r.err = err;
	if (pull_files(f->db, p->pid, &files, &n, err) == -1)
		return -1;
	if (db_begin(f->db, err) == -1)
		goto out;
	/* PDex 2.2: Group lines; 2.1: the same Groups in a Parameters. */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < n; i++) {
			file_path(f->cfg, p->pid, files[i].seq, path,
			    sizeof(path));
			if (pass == 0 && !files[i].error &&
			    strcmp(files[i].type, "Group") == 0) {
				if (each_line(path, on_group, &r, err) == -1)
					goto fail_tx;
			} else if (pass == 1 && !files[i].error && r.groups == 0 &&
			    strcmp(files[i].type, "Parameters") == 0) {
				if (each_line(path, on_params, &r, err) == -1)
					goto fail_tx;
			} else if (pass == 2 && files[i].error) {
				if (each_line(path, on_error, &r, err) == -1)
					goto fail_tx;
			}
		}
	for (i = 0; i < ms->n; i++)
		if (!ms->v[i].done && ms->v[i].remote[0] == '\0') {
			ms->v[i].done = 1;
			if (outcome(f, ms->v[i].local, INB_EV_RETRY, "the peer's"
			    " answer does not mention the member", 0,
			    err) == -1)
				goto fail_tx;
		}
	for (i = 0; i < ms->n; i++)
		if (ms->v[i].remote[0] != '\0' && pull_member_remote(f->db,
		    p->pid, ms->v[i].local, ms->v[i].remote, err) == -1)
			goto fail_tx;
	if (pull_set(f->db, p, PULL_DONE, NULL, err) == -1 ||
	    db_commit(f->db, err) == -1)
		goto fail_tx;
	pull_release(&f->s, p);
	rm_files(f->cfg, p->pid);
	rc = export_matched(f, p, ms, r.gid, err);
	goto out;
fail_tx:
	db_rollback(f->db);
out:
	free(files);
	return rc;
}

/*
 * Takes an exchange as far as it goes: 0 finished (done or failed, the
 * members' outcomes recorded), 1 still running at the peer when the
 * wait ran out, 2 stopped, -1 error.
 */
static int
run_pull(struct flow *f, long long pid, struct p2p_err *err)
{
	struct pull	 p;
	struct manifest	 m;
	struct fmembers	 ms = { NULL, 0, 0 };
	time_t		 last_note = 0;
	int		 rc, repolled = 0, ret = -1;

	if ((rc = pull_get(f->db, pid, &p, err)) != 0)
		return rc == 1 ? p2p_fail(err, 404, P2P_ISSUE_NOT_FOUND,
		    "no pull %lld", pid) : -1;
	if (pull_members(f->db, pid, collect_member, &ms, err) == -1)
		return -1;
	for (;;) {
		if (stopping(f)) {
			f->res->stopped = 1;
			ret = 2;
			goto out;
		}
		switch (p.state) {
		case PULL_POLLING:
			if (p.next_poll > (long long)now_sec()) {
				if (p.next_poll > (long long)f->until) {
					say(f, "pull %lld (%s): still running at "
					    "%s (%s); the next run continues it",
					    pid, pull_kind_name(p.kind),
					    f->peer.name, p.progress[0] ?
					    p.progress : "in progress");
					f->res->running++;
					ret = 1;
					goto out;
				}
				if (sleep_until(f, (time_t)p.next_poll))
					continue;
			}
			p2p_err_init(err);
			rc = pull_poll(&f->s, &p, &m, err);
			if (rc == 1) {
				if (now_sec() - last_note >= f->o->interval &&
				    f->o->prog != NULL) {
					fprintf(f->o->prog, "pull %lld (%s, %s):"
					    " %s\n", pid, pull_kind_name(p.kind),
					    f->peer.name, p.progress);
					fflush(f->o->prog);
					last_note = now_sec();
				}
				if (pull_set(f->db, &p, PULL_POLLING, NULL,
				    err) == -1)
					goto out;
				continue;
			}
			if (rc == 0) {
				rc = pull_files_put(f->db, &p, &m, err);
				manifest_free(&m);
				if (rc == -1 && err->status == 409) {
					ret = pull_failed(f, &p, &ms,
					    INB_EV_RETRY, err->msg, 0, err);
					goto out;
				}
				if (rc == -1 || pull_set(f->db, &p,
				    PULL_DOWNLOADING, NULL, err) == -1)
					goto out;
				continue;
			}
			if (err->status == 503 || err->status == 504 ||
			    err->status == 502) {
				/* No answer, busy, malformed: poll later. */
				if (++p.attempts >= FLOW_POLL_FAULTS) {
					ret = pull_failed(f, &p, &ms,
					    INB_EV_RETRY, err->msg, 0, err);
					goto out;
				}
				p.next_poll = pull_after(err->retry_after > 0 ?
				    err->retry_after : inb_backoff(p.attempts) /
				    10);
				say(f, "pull %lld (%s): %s; polling again in "
				    "%lld s", pid, pull_kind_name(p.kind),
				    err->msg, p.next_poll - (long long)now_sec());
				if (pull_set(f->db, &p, PULL_POLLING, err->msg,
				    err) == -1)
					goto out;
				p2p_err_init(err);
				continue;
			}
			if (err->status == 500 || err->status == 409 ||
			    err->status == 401)
				goto out;	/* ours, not the exchange's */
			/* Gone (404) or failed at the peer: ask again. */
			{
				char	 why[400];

				snprintf(why, sizeof(why), "%s", err->msg);
				p2p_err_init(err);
				ret = pull_failed(f, &p, &ms, INB_EV_RETRY, why,
				    0, err);
			}
			goto out;
		case PULL_DOWNLOADING:
			rc = download(f, &p, &ms, err);
			if (rc == -1 || rc == 2 || rc == 3) {
				ret = rc == 3 ? 0 : rc;
				goto out;
			}
			if (rc == 1) {
				/* Expired links or a withdrawn job: the status
				 * URL says which (once per run). */
				if (repolled++) {
					ret = pull_failed(f, &p, &ms,
					    INB_EV_RETRY, "the peer refuses the "
					    "files even after a fresh manifest",
					    0, err);
					goto out;
				}
				p.next_poll = 0;
				p.state = PULL_POLLING;
				continue;
			}
			if (pull_set(f->db, &p, PULL_LOADING, NULL, err) == -1)
				goto out;
			continue;
		case PULL_LOADING:
			ret = p.kind == PULL_MATCH ? load_match(f, &p, &ms, err) :
			    load_export(f, &p, &ms, err);
			goto out;
		default:
			ret = 0;
			goto out;
		}
	}
out:
	free(ms.v);
	return ret;
}

/* --- one member ------------------------------------------------------- */

/* Follows a searchset's next links; every entry into all. */
static int
everything_sync(struct flow *f, struct httpc_resp *first, json_object *all,
    struct p2p_err *err)
{
	struct httpc_req	 q;
	struct httpc_resp	 r = *first;
	json_object		*b = NULL, *es, *links, *l;
	const char		*next;
	char			 url[MANIFEST_URL_MAX];
	size_t			 i, n, pages = 0, bytes = 0;
	int			 rc = -1, own = 0;

	for (;;) {
		/* All pages go into one transaction: bounded like a
		 * Bundle file the loader takes. */
		if ((bytes += r.body.len) > FLOW_SYNC_MAX) {
			p2p_fail(err, 502, P2P_ISSUE_TOO_COSTLY, "$everything: "
			    "more than %ld bytes; ask for it asynchronously",
			    FLOW_SYNC_MAX);
			goto out;
		}
		if (fhir_parse(r.body.p ? r.body.p : "", r.body.len, &b,
		    err) == -1 || fhir_type(b) == NULL ||
		    strcmp(fhir_type(b), "Bundle") != 0) {
			p2p_err_init(err);
			p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "$everything "
			    "answered 200 without a Bundle");
			goto out;
		}
		if ((es = fhir_get(b, "entry", json_type_array)) != NULL) {
			n = json_object_array_length(es);
			for (i = 0; i < n; i++)
				if (fhir_push(all, json_object_get(
				    json_object_array_get_idx(es, i))) == -1) {
					p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
					    "out of memory");
					goto out;
				}
		}
		next = NULL;
		links = fhir_get(b, "link", json_type_array);
		for (i = 0; links && i < json_object_array_length(links); i++) {
			l = json_object_array_get_idx(links, i);
			if (fhir_str(l, "relation") != NULL &&
			    strcmp(fhir_str(l, "relation"), "next") == 0)
				next = fhir_str(l, "url");
		}
		if (next == NULL) {
			rc = 0;
			goto out;
		}
		if (++pages >= FLOW_PAGES_MAX || strlen(next) >= sizeof(url) ||
		    !httpc_same_origin(next, f->peer.base_url)) {
			p2p_fail(err, 502, P2P_ISSUE_STRUCTURE, "$everything: "
			    "a next link off the peer's origin, or too many "
			    "pages");
			goto out;
		}
		snprintf(url, sizeof(url), "%s", next);
		json_object_put(b);
		b = NULL;
		if (own)
			httpc_resp_free(&r);
		memset(&q, 0, sizeof(q));
		q.method = "GET";
		q.url = url;
		q.accept = "application/fhir+json";
		q.timeout = f->s.timeout;
		if (smart_call(&f->s, &q, &r, err) == -1) {
			own = 0;
			goto out;
		}
		own = 1;
		if (r.status != 200) {
			char	 text[300];

			httpc_outcome_text(r.body.p, r.body.len, text,
			    sizeof(text));
			p2p_fail(err, r.status >= 500 ? 503 : 502, r.status >=
			    500 ? P2P_ISSUE_TRANSIENT : P2P_ISSUE_PROCESSING,
			    "$everything page: HTTP %ld: %s", r.status, text);
			goto out;
		}
	}
out:
	json_object_put(b);
	if (own)
		httpc_resp_free(&r);
	return rc;
}

/* $everything for a matched member: async when the peer allows it. */
static int
member_fetch(struct flow *f, const char *member, const char *remote,
    const char *since, struct p2p_err *err)
{
	struct httpc_resp	 r;
	struct ingest		 g;
	struct fmembers		 one;
	struct fmember		 m1;
	struct p2p_buf		 url = { 0 };
	json_object		*all = NULL;
	char			 status[1024], why[500], src[200];
	long long		 pid;
	enum inb_event		 ev;
	int			 rc = -1;

	if (buf_printf(&url, "%s/Patient/%s/$everything", f->peer.base_url,
	    remote) == -1 || (since[0] != '\0' && (buf_puts(&url,
	    "?_since=") == -1 || url_encode(&url, since) == -1)))
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	if (pull_kickoff(&f->s, "GET", url.p, NULL, &r, status, sizeof(status),
	    err) == -1) {
		buf_free(&url);
		one.v = &m1;
		one.n = 1;
		memset(&m1, 0, sizeof(m1));
		snprintf(m1.local, sizeof(m1.local), "%s", member);
		return fault(f, &one, "$everything", err);
	}
	buf_free(&url);
	if (status[0] != '\0') {
		httpc_resp_free(&r);
		if (db_begin(f->db, err) == -1)
			return -1;
		if (pull_create(f->db, f->peer.name, PULL_EVERYTHING, status,
		    NULL, since, &pid, err) == -1 ||
		    pull_member_add(f->db, pid, member, 0, remote, err) == -1 ||
		    db_commit(f->db, err) == -1) {
			db_rollback(f->db);
			return -1;
		}
		say(f, "pull %lld (everything): Patient/%s/$everything at %s%s"
		    "%s", pid, remote, f->peer.name, since[0] ? ", _since " : "",
		    since);
		rc = run_pull(f, pid, err);
		return rc == -1 ? -1 : 0;
	}
	if (r.status != 200) {
		/* 403: the consent lapsed or an opt-out arrived since the
		 * match; 404: the peer forgot the match. */
		ev = refusal(&r, why, sizeof(why));
		if (r.status == 403 || r.status == 404)
			ev = INB_EV_CONSENT;
		else if (ev == INB_EV_NOMATCH || ev == INB_EV_CONSENT)
			ev = INB_EV_FAILED;
		rc = outcome(f, member, ev, why, r.retry_after, err) == -1 ?
		    -1 : 0;
		httpc_resp_free(&r);
		return rc;
	}
	/* Synchronous: every page, then one transaction. */
	if ((all = json_object_new_array()) == NULL) {
		httpc_resp_free(&r);
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	}
	rc = everything_sync(f, &r, all, err);
	snprintf(status, sizeof(status), "%s", r.date);
	httpc_resp_free(&r);
	if (rc == -1) {
		json_object_put(all);
		if (err->status == 500)
			return -1;
		snprintf(why, sizeof(why), "%s", err->msg);
		p2p_err_init(err);
		return outcome(f, member, err->status == 503 ? INB_EV_RETRY :
		    INB_EV_FAILED, why, 0, err) == -1 ? -1 : 0;
	}
	ingest_init(&g, f->db, f->cfg, &f->peer);
	snprintf(src, sizeof(src), "Patient/%.64s/$everything", remote);
	rc = -1;
	if (ingest_member(&g, member, remote) == -1)
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	else if (ingest_entries(&g, all, src, err) == -1) {
		snprintf(why, sizeof(why), "the peer's data cannot be stored: "
		    "%s", err->msg);
		p2p_err_init(err);
		rc = outcome(f, member, INB_EV_FAILED, why, 0, err) == -1 ?
		    -1 : 0;
	} else if (inbound_fetched(f->db, member, f->peer.name,
	    g.recorded, g.m[0].stored, err) == 0) {
		f->res->fetched++;
		f->res->resources += g.m[0].stored;
		say(f, "member %s: fetched: %lld resources stored from %s "
		    "(Patient/%s there)", member, g.m[0].stored, f->peer.name,
		    remote);
		rc = 0;
	}
	ingest_free(&g);
	json_object_put(all);
	return rc;
}

struct has {
	const char	*member;
	int		 found;
};

static int
has_member(void *arg, const char *patient, long long seq, const char *remote)
{
	struct has	*h = arg;

	(void)seq;
	(void)remote;
	if (strcmp(patient, h->member) == 0)
		h->found = 1;
	return 0;
}

/* Runs the unfinished exchanges holding member: 0 none, 1 ran, -1. */
static int
resume_member(struct flow *f, const char *member, struct p2p_err *err)
{
	long long	 pids[FLOW_OPEN_MAX];
	struct has	 h;
	size_t		 n, i;
	int		 ran = 0;

	if (pull_open(f->db, f->peer.name, pids, FLOW_OPEN_MAX, &n, err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		h.member = member;
		h.found = 0;
		if (pull_members(f->db, pids[i], has_member, &h, err) == -1)
			return -1;
		if (!h.found)
			continue;
		say(f, "pull %lld: resuming", pids[i]);
		if (run_pull(f, pids[i], err) == -1)
			return -1;
		ran = 1;
	}
	return ran;
}

int
flow_member(struct p2p_db *db, const struct p2p_config *cfg,
    const char *peer, const char *member, const struct flow_opts *o,
    struct flow_result *res, struct p2p_err *err)
{
	struct flow		 f;
	struct due_stats	 ds;
	struct inbound		 row;
	struct matchreq		 mr;
	struct httpc_req	 q;
	struct httpc_resp	 r;
	json_object		*body = NULL, *ans = NULL;
	char			 why[600], remote[72], since[40], url[700];
	struct p2p_err		 pe;
	enum inb_event		 ev;
	int			 rc, ret = -1;

	memset(&mr, 0, sizeof(mr));
	if (flow_open(&f, db, cfg, peer, o, res, PEER_CAP_MEMBER_MATCH |
	    PEER_CAP_EVERYTHING, err) == -1)
		goto out;
	if (due_sync(db, cfg, member, &ds, o->out, err) == -1)
		goto out;
	memset(&row, 0, sizeof(row));
	if ((rc = inbound_get(db, member, peer, &row, err)) == -1)
		goto out;
	/* An exchange an earlier run left half way: finish it. */
	if ((rc = resume_member(&f, member, err)) != 0) {
		ret = rc == -1 ? -1 : 0;
		goto out;
	}
	if (row.patient[0] != '\0' && row.state == INB_WITHDRAWN) {
		p2p_fail(err, 422, P2P_ISSUE_BUSINESS_RULE, "member %s withdrew"
		    " the opt-in", member);
		goto out;
	}
	/* Build first: its reason is the clearest when nothing is due. */
	rc = matchreq_build(db, cfg, f.peer.npi, member, now_sec(), &mr, why,
	    sizeof(why), err);
	if (rc == -1)
		goto out;
	if (rc == 1 || row.patient[0] == '\0') {
		if (row.patient[0] != '\0') {
			ret = outcome(&f, member, INB_EV_FAILED, why, 0, err) ==
			    -1 ? -1 : 0;
			goto out;
		}
		p2p_fail(err, 422, P2P_ISSUE_BUSINESS_RULE, "member %s cannot "
		    "be requested from %s: %s", member, peer, why[0] ? why :
		    "no opt-in naming that payer");
		goto out;
	}
	snprintf(since, sizeof(since), "%s", o->since ? o->since : o->full ?
	    "" : row.since);
	if ((body = matchreq_parameters(&mr)) == NULL) {
		p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
		goto out;
	}
	if (outcome(&f, member, INB_EV_REQUEST, NULL, 0, err) == -1)
		goto out;
	res->requested++;
	snprintf(url, sizeof(url), "%s/Patient/$member-match", f.peer.base_url);
	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.url = url;
	q.ctype = "application/fhir+json";
	q.accept = "application/fhir+json";
	q.body = fhir_json(body);
	q.body_len = strlen(q.body);
	q.timeout = f.s.timeout;
	p2p_err_init(&pe);
	if (smart_call(&f.s, &q, &r, &pe) == -1) {
		struct fmember	 m1;
		struct fmembers	 one = { &m1, 1, 1 };

		memset(&m1, 0, sizeof(m1));
		snprintf(m1.local, sizeof(m1.local), "%s", member);
		*err = pe;
		ret = fault(&f, &one, "$member-match", err);
		goto out;
	}
	if (r.status != 200) {
		ev = refusal(&r, why, sizeof(why));
		ret = outcome(&f, member, ev, why, r.retry_after, err) == -1 ?
		    -1 : 0;
		httpc_resp_free(&r);
		goto out;
	}
	p2p_err_init(&pe);
	if (fhir_parse(r.body.p ? r.body.p : "", r.body.len, &ans, &pe) == -1 ||
	    !member_id_of(ans, remote, sizeof(remote))) {
		httpc_resp_free(&r);
		ret = outcome(&f, member, INB_EV_FAILED, "the peer answered "
		    "$member-match with 200 but no usable member id", 0, err) ==
		    -1 ? -1 : 0;
		goto out;
	}
	httpc_resp_free(&r);
	if (inbound_set_remote(db, member, peer, remote, err) == -1 ||
	    outcome(&f, member, INB_EV_MATCHED, NULL, 0, err) == -1)
		goto out;
	say(&f, "member %s: matched at %s as Patient/%s", member, peer, remote);
	ret = member_fetch(&f, member, remote, since, err);
out:
	json_object_put(body);
	json_object_put(ans);
	matchreq_free(&mr);
	flow_close(&f);
	return ret;
}

/* --- every member due --------------------------------------------------- */

static const char *const sql_due =
    "SELECT patient, coalesce(since, '') FROM inbound i"
    " WHERE peer = ?1 AND next_try <= ?2"
    " AND (state IN ('due', 'requested', 'matched')"
    " OR (?3 AND state = 'fetched')"
    " OR (?4 AND state IN ('failed', 'nomatch', 'consent')))"
    " AND NOT EXISTS (SELECT 1 FROM pull_member m JOIN pull p"
    " ON p.pid = m.pid WHERE m.patient = i.patient AND p.peer = i.peer"
    " AND p.state IN ('polling', 'downloading', 'loading'))"
    " ORDER BY coalesce(since, ''), patient";

/* The selection of members due, for the query-plan test. */
const char *const flow_queries[] = { sql_due, NULL };

struct cand {
	char	 patient[72];
	char	 since[40];
};

/* db_rows() callback: a member due; since (arg), when given, for all. */
static void
row_cand(struct db_stmt *st, void *elem, void *arg)
{
	struct cand	*c = elem;
	const char	*since = arg;

	snprintf(c->patient, sizeof(c->patient), "%s", db_col_text(st, 0));
	snprintf(c->since, sizeof(c->since), "%s",
	    since != NULL ? since : db_col_text(st, 1));
}

static int
candidates(struct flow *f, struct cand **out, size_t *n, struct p2p_err *err)
{
	struct db_stmt	*st;

	*out = NULL;
	*n = 0;
	if ((st = db_query(f->db, sql_due, err, "tIii", f->peer.name,
	    (long long)now_sec(), f->o->refresh != 0,
	    f->o->retry != 0)) == NULL)
		return -1;
	return db_rows(f->db, st, sizeof(**out), 64, row_cand,
	    (void *)f->o->since, out, n, err, "members due");
}

/* One $bulk-member-match for cands[0..n) (same _since). */
static int
bulk_batch(struct flow *f, struct cand *c, size_t n, struct p2p_err *err)
{
	struct matchreq		 mr;
	struct httpc_resp	 r;
	json_object		*body, *list, *mb;
	struct fmembers		 sent = { NULL, 0, 0 };
	char			 why[600], url[700], status[1024];
	long long		 pid;
	size_t			 i;
	int			 rc, ret = -1;
	enum inb_event		 ev;

	if ((body = params_new()) == NULL)
		return p2p_fail(err, 500, P2P_ISSUE_EXCEPTION, "out of memory");
	list = fhir_get(body, "parameter", json_type_array);
	for (i = 0; i < n; i++) {
		rc = matchreq_build(f->db, f->cfg, f->peer.npi, c[i].patient,
		    now_sec(), &mr, why, sizeof(why), err);
		if (rc == -1)
			goto out;
		if (rc == 1) {
			if (outcome(f, c[i].patient, INB_EV_FAILED, why, 0,
			    err) == -1)
				goto out;
			continue;
		}
		mb = matchreq_member_bundle(&mr);
		matchreq_free(&mr);
		if (fhir_push(list, mb) == -1 || collect_member(&sent,
		    c[i].patient, (long long)sent.n, "") == -1) {
			p2p_fail(err, 500, P2P_ISSUE_EXCEPTION,
			    "out of memory");
			goto out;
		}
	}
	if (sent.n == 0) {
		ret = 0;
		goto out;
	}
	snprintf(url, sizeof(url), "%s/Group/$bulk-member-match",
	    f->peer.base_url);
	if (pull_kickoff(&f->s, "POST", url, fhir_json(body), &r, status,
	    sizeof(status), err) == -1) {
		ret = fault(f, &sent, "$bulk-member-match", err);
		goto out;
	}
	if (status[0] == '\0') {
		ev = refusal(&r, why, sizeof(why));
		if (ev == INB_EV_NOMATCH || ev == INB_EV_CONSENT)
			ev = INB_EV_FAILED;
		say(f, "peer %s refused $bulk-member-match for %zu members: %s",
		    f->peer.name, sent.n, why);
		ret = members_all(f, &sent, ev, why, r.retry_after, err);
		httpc_resp_free(&r);
		goto out;
	}
	httpc_resp_free(&r);
	if (db_begin(f->db, err) == -1)
		goto out;
	if (pull_create(f->db, f->peer.name, PULL_MATCH, status, NULL,
	    c[0].since, &pid, err) == -1)
		goto fail_tx;
	for (i = 0; i < sent.n; i++)
		if (pull_member_add(f->db, pid, sent.v[i].local, sent.v[i].seq,
		    NULL, err) == -1 || outcome(f, sent.v[i].local,
		    INB_EV_REQUEST, NULL, 0, err) == -1)
			goto fail_tx;
	if (db_commit(f->db, err) == -1)
		goto fail_tx;
	f->res->requested += (long)sent.n;
	say(f, "pull %lld (match): $bulk-member-match for %zu members at %s",
	    pid, sent.n, f->peer.name);
	ret = run_pull(f, pid, err) == -1 ? -1 : 0;
	goto out;
fail_tx:
	db_rollback(f->db);
out:
	free(sent.v);
	json_object_put(body);
	return ret;
}

int
flow_bulk(struct p2p_db *db, const struct p2p_config *cfg, const char *peer,
    const struct flow_opts *o, struct flow_result *res, struct p2p_err *err)
{
	struct flow		 f;
	struct due_stats	 ds;
	struct cand		*c = NULL;
	long long		 pids[FLOW_OPEN_MAX];
	size_t			 n, i, j, batch;
	int			 ret = -1;

	batch = o->batch > 0 ? (size_t)o->batch : FLOW_BATCH;
	if (flow_open(&f, db, cfg, peer, o, res, PEER_CAP_BULK_MATCH |
	    PEER_CAP_DATA_EXPORT, err) == -1)
		goto out;
	if (due_sync(db, cfg, NULL, &ds, o->out, err) == -1)
		goto out;
	/* What an earlier run left half way first. */
	if (pull_open(db, f.peer.name, pids, FLOW_OPEN_MAX, &n, err) == -1)
		goto out;
	for (i = 0; i < n && !stopping(&f); i++) {
		say(&f, "pull %lld: resuming", pids[i]);
		if (run_pull(&f, pids[i], err) == -1)
			goto out;
	}
	if (stopping(&f)) {
		res->stopped = 1;
		ret = 0;
		goto out;
	}
	if (candidates(&f, &c, &n, err) == -1)
		goto out;
	for (i = 0; i < n && !stopping(&f); i = j) {
		for (j = i + 1; j < n && j - i < batch &&
		    strcmp(c[j].since, c[i].since) == 0; j++)
			;
		if (bulk_batch(&f, c + i, j - i, err) == -1)
			goto out;
	}
	if (stopping(&f))
		res->stopped = 1;
	ret = 0;
out:
	free(c);
	flow_close(&f);
	return ret;
}
