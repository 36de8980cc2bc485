-- p2p schema, version 6: the disclosure accounting of jobs.
--
-- job_member rows are written by the runner while a job runs, and are
-- pending until the job completes: the transaction that marks it
-- complete (and lists its files) turns each export member's row into
-- its one "release" audit record; a failed job's rows are deleted, and
-- a job taken back from a dead runner starts with none.  So the audit
-- trail records each member once per job, and only for files that were
-- published (jobs/members.c).
--
-- n: resources of the member in an export's files (NULL for the
--    matched members a $bulk-member-match job's Groups name: their
--    record is the match itself);
-- released: 0 for a member left out of an export (no valid consent at
--    execution time): recorded as a refusal, never served.
ALTER TABLE job_member ADD COLUMN n INTEGER;
ALTER TABLE job_member ADD COLUMN released INTEGER NOT NULL DEFAULT 1;

-- Nothing looks job_member rows up by member: one b-tree less to write
-- per member of every export.
DROP INDEX job_member_patient;

-- The release check reads indexes only, consents included: an export
-- checks every member of a group (consent.h CONSENT_ACCESS_SQL), and
-- the consent rows themselves (most of their bytes are the Consent's
-- JSON) are sparse, so that reading them cost a page read per member
-- (bench/exportfast.md).  Keyed by cid, which only grows, a
-- $member-match writes it at its end (one page for a batch of them).
CREATE INDEX consent_release ON consent (cid, status, policy,
	period_start, period_end);

-- Provenance loaded from source systems, by the resources it targets
-- (target.reference as written, "Type/id"): an export includes the
-- Provenance of what it releases (Bulk Data 2.0: Provenance whose target
-- is in the patient compartment; PDex: received Provenance is kept and
-- passed on).  The triggers keep it with the resource rows.
CREATE TABLE prov_target (
	target		TEXT NOT NULL,
	rid		INTEGER NOT NULL,
	PRIMARY KEY (target, rid)
) WITHOUT ROWID;
CREATE INDEX prov_target_rid ON prov_target (rid);
CREATE TRIGGER prov_target_ins AFTER INSERT ON resource
	WHEN new.type = 'Provenance'
BEGIN
	INSERT OR IGNORE INTO prov_target (target, rid)
	SELECT json_extract(value, '$.reference'), new.rid
	FROM json_each(new.json, '$.target')
	WHERE type = 'object' AND json_extract(value, '$.reference') IS NOT NULL;
END;
CREATE TRIGGER prov_target_upd AFTER UPDATE OF json ON resource
	WHEN new.type = 'Provenance'
BEGIN
	DELETE FROM prov_target WHERE rid = old.rid;
	INSERT OR IGNORE INTO prov_target (target, rid)
	SELECT json_extract(value, '$.reference'), new.rid
	FROM json_each(new.json, '$.target')
	WHERE type = 'object' AND json_extract(value, '$.reference') IS NOT NULL;
END;
CREATE TRIGGER prov_target_del AFTER DELETE ON resource
	WHEN old.type = 'Provenance'
BEGIN
	DELETE FROM prov_target WHERE rid = old.rid;
END;
INSERT OR IGNORE INTO prov_target (target, rid)
	SELECT json_extract(t.value, '$.reference'), r.rid
	FROM resource r, json_each(r.json, '$.target') t
	WHERE r.type = 'Provenance' AND t.type = 'object'
	AND json_extract(t.value, '$.reference') IS NOT NULL;

-- A job's progress as numbers, for the Retry-After its status answers
-- (jobs/status.c): when the runner took it (ms), the members (or
-- MemberBundles) done of the total at its last report (ms).  And what
-- the status URL last told a client while the job ran: when to come
-- back (ms), the Retry-After given, and how many polls in a row came
-- before half of it (three answer 429).
ALTER TABLE job ADD COLUMN started_ms INTEGER;
ALTER TABLE job ADD COLUMN beat_ms INTEGER;
ALTER TABLE job ADD COLUMN done INTEGER;
ALTER TABLE job ADD COLUMN total INTEGER;
ALTER TABLE job ADD COLUMN poll_due INTEGER;
ALTER TABLE job ADD COLUMN poll_ra INTEGER;
ALTER TABLE job ADD COLUMN poll_early INTEGER NOT NULL DEFAULT 0;
