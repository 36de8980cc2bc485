-- p2p schema, version 7: fewer pages written by each $member-match
-- (bench/mmbatch.md).  A match stores a consent, its history, a match
-- and audit records; every index is one more b-tree whose page the
-- commit writes, and an index keyed by member is written at a random
-- place, so its page is one more WAL frame even when a batch of
-- requests shares one commit (web/batch.c).  These three served only
-- rare lookups, which other indexes answer now:
--   consent_client (client_id, patient): a client's consents for a
--     member are the ones its matches of the member name
--     (match_client_patient);
--   match_patient (patient): a member's matches are looked up per
--     client (match_client_patient, once for each row of table client);
--   consent_patient (patient, status, provision): only the consents the
--     payer loads (the opt-outs among them) are looked up by member
--     alone; a submitted consent is found through its match.  (source
--     is in the key so that the opt-out check reads the index alone.)
DROP INDEX consent_client;
DROP INDEX match_patient;
DROP INDEX consent_patient;
CREATE INDEX consent_loaded ON consent (patient, status, provision, source)
	WHERE source = 'loaded';

-- The probing guard's rows are only read within probe_window: the
-- runner deletes older ones (match_probe_expire()), through this index.
-- Before, only the rows of a person probed again went, and a table that
-- only grows makes each insert land on a page less likely cached.  The
-- index is written at its end (time only grows), one page a batch.
CREATE INDEX probe_time ON probe (time);
