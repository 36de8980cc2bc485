-- p2p schema, version 2: fewer b-trees written by each $member-match
-- (bench/mmfast.md).  A commit writes at least one page per b-tree it
-- touches; these two tables lose one b-tree each, and the Consent JSON
-- is kept once per capture instead of twice.

-- Brute-force guard: the key is the only index.  Two attempts with the
-- same card by the same client in the same second are one row (the
-- guard counts distinct cards, so nothing is lost); writers use
-- INSERT OR IGNORE.
CREATE TABLE probe_v2 (
	client_id	TEXT NOT NULL,
	person		TEXT NOT NULL,
	time		INTEGER NOT NULL,
	card		TEXT NOT NULL,
	PRIMARY KEY (client_id, person, time, card)
) WITHOUT ROWID;
INSERT OR IGNORE INTO probe_v2 (client_id, person, time, card)
	SELECT client_id, person, time, card FROM probe;
DROP TABLE probe;
ALTER TABLE probe_v2 RENAME TO probe;

-- Every version of every consent, keyed by (cid, version).  json NULL
-- means "the consent's stored json": a capture stores the document once,
-- in consent.json.  Before consent.json changes, the trigger copies the
-- old document into the history rows that pointed at it, so every
-- version keeps its document.
CREATE TABLE consent_history_v2 (
	cid		INTEGER NOT NULL REFERENCES consent (cid),
	version		INTEGER NOT NULL,
	status		TEXT NOT NULL,
	changed_by	TEXT,
	time		TEXT NOT NULL,
	json		TEXT,
	PRIMARY KEY (cid, version)
) WITHOUT ROWID;
INSERT INTO consent_history_v2 (cid, version, status, changed_by, time, json)
	SELECT cid, version, status, changed_by, time, json
	FROM consent_history ORDER BY cid, version;
DROP TABLE consent_history;
ALTER TABLE consent_history_v2 RENAME TO consent_history;
CREATE TRIGGER consent_history_keep BEFORE UPDATE OF json ON consent
	WHEN old.json IS NOT new.json
	BEGIN UPDATE consent_history SET json = old.json
		WHERE cid = old.cid AND json IS NULL; END;
