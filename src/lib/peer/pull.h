/*
 * peer/pull.h - one asynchronous exchange with a previous payer (FHIR
 * R4 async pattern, Bulk Data 2.0): the kick-off, polling its status URL
 * as Retry-After says, the manifest, and the record of all of it
 * (tables pull, pull_file, pull_member), so that a run that stops half
 * way is resumed by the next one instead of asking again.
 *
 * Kinds: match ($bulk-member-match), export ($davinci-data-export on
 * the MatchedMembers Group), everything (Patient/$everything, async).
 * States: polling -> downloading -> loading -> done, or failed.
 */
#ifndef P2P_PEER_PULL_H
#define P2P_PEER_PULL_H

#include <stddef.h>

#include "core/err.h"
#include "peer/manifest.h"
#include "peer/smart.h"
#include "store/db.h"

#define PULL_POLL_DEFAULT	2	/* seconds, without Retry-After */
#define PULL_POLL_MAX		600	/* longest wait between polls */

enum pull_kind { PULL_MATCH, PULL_EXPORT, PULL_EVERYTHING, PULL_KIND__MAX };
enum pull_state { PULL_POLLING, PULL_DOWNLOADING, PULL_LOADING, PULL_DONE,
	PULL_FAILED, PULL_STATE__MAX };
enum pull_fstate { PF_PENDING, PF_DONE, PF_LOADED, PF_FAILED, PF__MAX };

struct pull {
	long long	 pid;
	char		 peer[72];
	enum pull_kind	 kind;
	enum pull_state	 state;
	char		 status_url[1024];
	char		 group_id[72];		/* export: the peer's Group */
	char		 since[40];		/* _since sent, or "" */
	char		 transaction_time[40];	/* manifest, or "" */
	long long	 created;
	long long	 next_poll;		/* epoch s */
	int		 attempts;		/* transient poll faults */
	char		 reason[512];
	char		 progress[128];		/* the peer's X-Progress */
};

struct pull_file {
	long long	 seq;
	int		 error;		/* an entry of the manifest's error[] */
	char		 type[65];
	char		 url[MANIFEST_URL_MAX];
	long long	 count;		/* announced lines, -1 unknown */
	long long	 bytes;		/* on disk */
	long long	 lines;		/* counted, -1 not yet */
	enum pull_fstate state;
	int		 attempts;
	char		 reason[300];
};

const char *pull_kind_name(enum pull_kind);
const char *pull_state_name(enum pull_state);

/* Records a new exchange in state polling; sets *pid.  0 or -1. */
int	 pull_create(struct p2p_db *, const char *peer, enum pull_kind,
	    const char *status_url, const char *group_id, const char *since,
	    long long *pid, struct p2p_err *);
/* 0, 1 when there is no such pull, -1. */
int	 pull_get(struct p2p_db *, long long pid, struct pull *,
	    struct p2p_err *);
/*
 * The unfinished exchanges (not done, not failed) of peer, oldest
 * first, at most max; sets *n.
 */
int	 pull_open(struct p2p_db *, const char *peer, long long *pids,
	    size_t max, size_t *n, struct p2p_err *);
/* Sets state, reason (NULL clears) and when to poll next. */
int	 pull_set(struct p2p_db *, struct pull *, enum pull_state,
	    const char *reason, struct p2p_err *);

/* The members of an exchange. */
int	 pull_member_add(struct p2p_db *, long long pid, const char *patient,
	    long long seq, const char *remote_id, struct p2p_err *);
int	 pull_member_remote(struct p2p_db *, long long pid,
	    const char *patient, const char *remote_id, struct p2p_err *);
/* Calls fn(arg, patient, seq, remote_id or "") for each, by seq. */
int	 pull_members(struct p2p_db *, long long pid,
	    int (*fn)(void *, const char *, long long, const char *),
	    void *arg, struct p2p_err *);

/*
 * Records the manifest's files (first time) or refreshes their URLs
 * (a signed URL expires; files are the same paths), and the
 * transactionTime.  0, or -1 (409 when the manifest lists other files
 * than before).
 */
int	 pull_files_put(struct p2p_db *, struct pull *, const struct manifest *,
	    struct p2p_err *);
/* The exchange's files by seq (malloc'd array, caller frees).  0 or -1. */
int	 pull_files(struct p2p_db *, long long pid, struct pull_file **,
	    size_t *n, struct p2p_err *);
int	 pull_file_set(struct p2p_db *, long long pid,
	    const struct pull_file *, struct p2p_err *);

/*
 * Kick-off: POST (body, Parameters) or GET url with Prefer:
 * respond-async.  202 sets status_url (the Content-Location, which must
 * be on the peer's origin).  Any other answer is left in resp for the
 * caller (a 200 may be a synchronous answer) and 0 is returned with
 * status_url "".  -1 when no answer came.
 */
int	 pull_kickoff(struct smart *, const char *method, const char *url,
	    const char *body, struct httpc_resp *resp, char *status_url,
	    size_t sz, struct p2p_err *);

/*
 * Polls once.  Returns 0 with m filled when complete (free with
 * manifest_free()); 1 while the peer works (p->next_poll, p->progress
 * set; also after 429/503, with Retry-After honoured); -1 when the
 * exchange is over without a manifest: err 404 (the job is gone: revoked,
 * expired, deleted), 502 (malformed manifest), or the peer's own
 * failure (its status and OperationOutcome text).
 */
int	 pull_poll(struct smart *, struct pull *, struct manifest *m,
	    struct p2p_err *);

/*
 * The epoch second from which s seconds have passed (rounded up: a
 * Retry-After of 1 is never a wait of 0.1 s).
 */
long long pull_after(long long s);

/* Tells the peer we are done (DELETE on the status URL); best effort. */
void	 pull_release(struct smart *, const struct pull *);

/* Where an exchange's files are kept: <data>/inbound/<pid>. */
int	 pull_dir(const struct p2p_config *, long long pid, char *out,
	    size_t outsz);

#endif
