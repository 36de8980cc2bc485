-- p2p schema, version 3: the release check reads indexes only.
-- Every export and $everything checks, per member, the client's matches
-- (newest first) and the member's opt-outs (consent.c sql_access,
-- sql_optout).  Both indexes are replaced, not added, so a $member-match
-- writes as many b-trees as before; their entries carry the columns the
-- checks read, and the match and consent rows (with their JSON) are no
-- longer read for that (bench/exportfast.md: consent pages were most of
-- the export runner's page reads).
DROP INDEX match_client_patient;
CREATE INDEX match_client_patient
	ON match (client_id, patient, mid, cid, consentless);
DROP INDEX consent_patient;
CREATE INDEX consent_patient ON consent (patient, status, provision);
