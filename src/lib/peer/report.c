/*
 * peer/report.c - see report.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "peer/peer.h"
#include "peer/pull.h"
#include "peer/report.h"

static const char *const sql_rows =
    "SELECT " INBOUND_COLS " FROM inbound"
    " WHERE (?1 IS NULL OR peer = ?1) AND (?2 IS NULL OR patient = ?2)"
    " AND (?3 IS NULL OR state = ?3)"
    " ORDER BY peer, coalesce(deadline, '9999'), patient";
static const char *const sql_pulls =
    "SELECT pid FROM pull WHERE (?1 IS NULL OR peer = ?1)"
    " AND (state IN ('polling', 'downloading', 'loading')"
    " OR updated >= ?2) ORDER BY pid";

int
report_late(const struct inbound *r, time_t now, long *days)
{
	time_t	 dl, req;

	*days = 0;
	if (r->deadline[0] == '\0' || time_parse(r->deadline, 1, &dl) == -1)
		return 0;
	if (r->requested[0] != '\0' && time_parse(r->requested, 0, &req) == 0) {
		if (req <= dl)
			return 0;
		*days = (long)((req - dl + 86399) / 86400);
		return 1;
	}
	if (r->state == INB_WITHDRAWN || now <= dl)
		return 0;
	*days = (long)((now - dl + 86399) / 86400);
	return 2;
}

/* "2026-12-03T10:00:00Z" -> "2026-12-03 10:00", "" -> "-" */
static const char *
when(const char *s, char *buf, size_t sz)
{
	if (s == NULL || s[0] == '\0')
		return "-";
	if (strlen(s) >= 16 && s[10] == 'T')
		snprintf(buf, sz, "%.10s %.5s", s, s + 11);
	else
		snprintf(buf, sz, "%.10s", s);
	return buf;
}

struct peers {
	FILE		*out;
	const char	*only;
	int		 n;
};

static int
show_peer(void *arg, const struct peer *p)
{
	struct peers	*ps = arg;
	char		 caps[160], at[32];

	if (ps->only != NULL && strcmp(ps->only, p->name) != 0)
		return 0;
	if (ps->n++ == 0)
		fprintf(ps->out, "peers:\n");
	peer_caps_text(p->caps, caps, sizeof(caps));
	if (p->discovered > 0)
		time_instant((time_t)p->discovered, at);
	fprintf(ps->out, "  %s  NPI %s  %s  %s  client %s  key %s\n",
	    p->name, p->npi, p->base_url, p->active ? "active" : "DISABLED",
	    p->client_id, p->kid[0] ? p->kid : "(shared)");
	fprintf(ps->out, "    declares: %s%s%s%s\n", p->discovered ? caps :
	    "(not discovered yet)", p->discovered ? " (checked " : "",
	    p->discovered ? at : "", p->discovered ? ")" : "");
	return 0;
}

/* One exchange: kind, state, files and bytes so far. */
static int
show_pull(struct p2p_db *db, long long pid, FILE *out, struct report_sum *s,
    struct p2p_err *err)
{
	struct pull		 p;
	struct pull_file	*f = NULL;
	size_t			 n, i, done = 0;
	long long		 bytes = 0;
	char			 at[32];

	if (pull_get(db, pid, &p, err) != 0 ||
	    pull_files(db, pid, &f, &n, err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (f[i].state == PF_DONE || f[i].state == PF_LOADED)
			done++;
		bytes += f[i].bytes;
	}
	free(f);
	if (p.state != PULL_DONE && p.state != PULL_FAILED)
		s->open++;
	time_instant((time_t)p.created, at);
	fprintf(out, "  pull %lld  %s  %s  %s  started %s", p.pid, p.peer,
	    pull_kind_name(p.kind), pull_state_name(p.state), at);
	if (n > 0)
		fprintf(out, "  files %zu/%zu (%d%%, %lld bytes)", done, n,
		    (int)(done * 100 / n), bytes);
	if (p.since[0] != '\0')
		fprintf(out, "  _since %s", p.since);
	if (p.transaction_time[0] != '\0')
		fprintf(out, "  transactionTime %s", p.transaction_time);
	fputc('\n', out);
	if (p.reason[0] != '\0')
		fprintf(out, "      %s\n", p.reason);
	return 0;
}

int
report_status(struct p2p_db *db, const struct report_opts *o, FILE *out,
    struct report_sum *s, struct p2p_err *err)
{
	static const char *const label[INB__MAX] = {
		"due",			/* INB_DUE */
		"requested",		/* INB_REQUESTED */
		"matched",		/* INB_MATCHED */
		"not matched",		/* INB_NOMATCH */
		"consent-constrained",	/* INB_CONSENT */
		"fetched",		/* INB_FETCHED */
		"failed",		/* INB_FAILED */
		"withdrawn",		/* INB_WITHDRAWN */
	};
	struct peers	 ps;
	struct inbound	 r;
	struct db_stmt	*st;
	char		 b1[32], b2[32], b3[32], flag[80];
	long long	 pids[256];
	size_t		 npids = 0, i;
	time_t		 now = now_sec();
	long		 days;
	int		 rc, k, rows = 0;

	memset(s, 0, sizeof(*s));
	memset(&ps, 0, sizeof(ps));
	ps.out = out;
	ps.only = o->peer;
	if (peer_each(db, show_peer, &ps, err) == -1)
		return -1;
	if (ps.n == 0)
		fprintf(out, "peers: none (p2p-admin peer add)\n");
	if ((st = db_query(db, sql_rows, err, "ttt", o->peer, o->member,
	    o->state >= 0 ? inb_state_name((enum inb_state)o->state) :
	    NULL)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		inbound_row(st, &r);
		k = report_late(&r, now, &days);
		s->n[r.state]++;
		if (k == 1)
			s->late++;
		else if (k == 2)
			s->overdue++;
		if (o->overdue && k == 0)
			continue;
		if (rows++ == 0)
			fprintf(out, "members:\n  %-24s %-12s %-19s %-10s %-10s "
			    "%-10s %-16s %-16s %-16s %s\n", "MEMBER", "PEER",
			    "STATE", "OPTED IN", "COVERAGE", "DEADLINE",
			    "REQUESTED", "ANSWERED", "FETCHED", "RESOURCES");
		flag[0] = '\0';
		if (k == 1)
			snprintf(flag, sizeof(flag), "  LATE: requested %ld "
			    "day%s after the deadline", days, days == 1 ? "" :
			    "s");
		else if (k == 2)
			snprintf(flag, sizeof(flag), "  OVERDUE: not requested,"
			    " %ld day%s past the deadline", days, days == 1 ?
			    "" : "s");
		fprintf(out, "  %-24s %-12s %-19s %-10.10s %-10.10s %-10s "
		    "%-16s %-16s %-16s %lld%s\n", r.patient, r.peer,
		    label[r.state], r.opted_in[0] ? r.opted_in : "-",
		    r.coverage_start[0] ? r.coverage_start : "-",
		    r.deadline[0] ? r.deadline : "-",
		    when(r.requested, b1, sizeof(b1)),
		    when(r.answered, b2, sizeof(b2)),
		    when(r.fetched, b3, sizeof(b3)), r.resources, flag);
		if (r.reason[0] != '\0')
			fprintf(out, "      %s\n", r.reason);
		if (r.state == INB_DUE && r.next_try > (long long)now) {
			time_instant((time_t)r.next_try, b1);
			fprintf(out, "      next try after %s (attempt %d of "
			    "%d)\n", b1, r.attempts + 1, INB_MAX_ATTEMPTS);
		}
	}
	db_done(st);
	if (rc != DB_DONE)
		return db_fail(db, rc, err, "requests");
	if (rows == 0)
		fprintf(out, "members: none%s\n", o->overdue ? " late or overdue"
		    : "");
	/* Exchanges under way, and those that ended in the last day. */
	if ((st = db_query(db, sql_pulls, err, "tI", o->peer,
	    (long long)now - 86400)) == NULL)
		return -1;
	while ((rc = db_step(st)) == DB_ROW && npids < 256)
		pids[npids++] = db_col_int64(st, 0);
	db_done(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return db_fail(db, rc, err, "pulls");
	if (npids > 0)
		fprintf(out, "transfers (under way, or ended in the last day):\n");
	for (i = 0; i < npids; i++)
		if (show_pull(db, pids[i], out, s, err) == -1)
			return -1;
	fprintf(out, "summary:");
	for (k = 0; k < INB__MAX; k++)
		fprintf(out, "%s %s %ld", k ? "," : "", label[k], s->n[k]);
	fprintf(out, "; %ld overdue, %ld requested late", s->overdue, s->late);
	fprintf(out, "; %ld transfers under way\n", s->open);
	return 0;
}
