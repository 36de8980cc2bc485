/*
 * bulkmatch.h - PDex $bulk-member-match: the request's MemberBundles
 * (checked at kick-off) and the runner's work (bulk_match_run() in
 * job.h) that sorts each member into MatchedMembers, NonMatchedMembers
 * or ConsentConstrainedMembers.  See docs/matching.md.
 */
#ifndef P2P_BULKMATCH_H
#define P2P_BULKMATCH_H

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "jobs/job.h"
#include "member/match.h"

/* PDex result code system and the Group profiles (bulk-member-match.md §4-5). */
#define BM_RESULT_CS	"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
#define BM_MATCH_PROFILE \
	"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/pdex-member-match-group"
#define BM_NOMATCH_PROFILE \
	"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/pdex-member-no-match-group"
#define BM_MATCH_EXT \
	"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-match-parameters"
#define NPI_SYSTEM	"http://hl7.org/fhir/sid/us-npi"

/*
 * Reads the parts of one MemberBundle parameter into in, and what
 * matching reads of them into k (match_key_of(); pointers borrowed from
 * param).  Returns 0, or -1 with a 400 naming the MemberBundle (index
 * is its position) and the part or element.
 */
int	 bulk_match_parts(json_object *param, size_t index,
	    struct match_input *in, struct match_key *k, struct p2p_err *);

/*
 * Checks a $bulk-member-match Parameters body: only MemberBundle
 * parameters, at least one and at most max, each well formed, with
 * what matching reads valid as for $member-match (match_key_of()); a
 * missing required part is left to the runner, which reports that
 * MemberBundle alone in the error file.  Sets
 * *bundles to the array of MemberBundle parameters (a new reference,
 * caller puts).  Returns 0, or -1 with 400 (naming the MemberBundle
 * index and part) or 413.
 */
int	 bulk_match_check(json_object *body, long long max,
	    json_object **bundles, struct p2p_err *);

/*
 * The kick-off: checks body (bulk_match_check(), at most
 * cfg->bulk_max_members), runs the probing guard on every complete
 * MemberBundle in order, as $member-match would (match_probe(): the
 * attempts are recorded and committed, and each MemberBundle over the
 * limit is audited as refused and will be reported in
 * NonMatchedMembers without being matched), then queues a
 * JOB_BULK_MATCH job of client for the requesting payer npi / org_id,
 * dated now, naming those MemberBundles; sets id.  0, or -1 with err
 * (400, 413, or a database failure).
 */
int	 bulk_match_queue(struct p2p_db *, const struct p2p_config *,
	    const char *client, const char *npi, const char *org_id,
	    json_object *body, time_t now, char id[JOB_ID_LEN + 1],
	    struct p2p_err *);

#endif
