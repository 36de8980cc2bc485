-- p2p schema, version 1.
-- Applied by p2p-admin init/migrate in one transaction; PRAGMA user_version
-- records the last migration applied.  Every query a request runs is
-- served by one of the indexes below (tests/unit/check_db.c checks the
-- query plans).

-- FHIR resources as loaded.  rid is the internal key; (type, id) the
-- FHIR identity.  patient is the id of the Patient whose compartment the
-- resource is in (the Patient's own id for a Patient), NULL otherwise.
-- The payer-to-payer rules are applied once, here, at load time:
--   dos      date of service (YYYY-MM-DD) used for the data window
--   flags    P2P_RF_* bits (sensitive, excluded, prior authorization, ...)
--   changed  for prior authorizations, when the decision last changed
--   p2p_json the form released to payers when it differs from json
--            (e.g. a CARIN BB non-financial ExplanationOfBenefit)
CREATE TABLE resource (
	rid		INTEGER PRIMARY KEY,
	type		TEXT NOT NULL,
	id		TEXT NOT NULL,
	patient		TEXT,
	dos		TEXT,
	flags		INTEGER NOT NULL DEFAULT 0,
	changed		TEXT,
	last_updated	TEXT NOT NULL,
	json		TEXT NOT NULL,
	p2p_json	TEXT,
	UNIQUE (type, id)
);
CREATE INDEX resource_patient ON resource (patient, type, rid)
	WHERE patient IS NOT NULL;

-- Identifiers used for lookups.  kind: 1 Patient.identifier,
-- 2 Coverage.subscriberId, 3 Coverage.identifier, 4 Organization.identifier
-- (patient = the Organization id there).  One row per value;
-- rows go with their resource (rid) when it is replaced.
CREATE TABLE ident (
	rid		INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
	kind		INTEGER NOT NULL,
	system		TEXT,
	value		TEXT NOT NULL,
	patient		TEXT NOT NULL
);
CREATE INDEX ident_value ON ident (value, kind);
CREATE INDEX ident_rid ON ident (rid);

-- Normalised demographics of each member (one row per Patient name):
-- family and given are case- and accent-folded (see match.c).
CREATE TABLE demog (
	rid		INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
	patient		TEXT NOT NULL,
	family		TEXT NOT NULL,
	given		TEXT NOT NULL,
	birth_date	TEXT,
	gender		TEXT
);
CREATE INDEX demog_lookup ON demog (birth_date, family);
CREATE INDEX demog_rid ON demog (rid);
CREATE INDEX demog_patient ON demog (patient);

-- OAuth clients (receiving payers).  secret_hash is a salted slow hash
-- (see auth.c); the secret itself is never stored.
CREATE TABLE client (
	id		TEXT PRIMARY KEY,
	secret_hash	TEXT,
	npi		TEXT,
	scopes		TEXT NOT NULL DEFAULT '',
	grant_types	TEXT NOT NULL DEFAULT 'client_credentials',
	jwks		TEXT,
	jwks_url	TEXT,
	active		INTEGER NOT NULL DEFAULT 1,
	created		TEXT NOT NULL
);

-- Key sets fetched from clients' JWKS URLs.
CREATE TABLE jwks_cache (
	client_id	TEXT PRIMARY KEY REFERENCES client (id) ON DELETE CASCADE,
	jwks		TEXT,
	fetched		INTEGER NOT NULL,
	expires		INTEGER NOT NULL,
	last_try	INTEGER NOT NULL
);

-- Assertion ids seen, kept until the assertion expires (replay guard).
CREATE TABLE jti (
	client_id	TEXT NOT NULL,
	jti		TEXT NOT NULL,
	exp		INTEGER NOT NULL,
	PRIMARY KEY (client_id, jti)
) WITHOUT ROWID;
CREATE INDEX jti_exp ON jti (exp);

-- Consents: submitted with a match (source 'submitted'), or opt-outs
-- and other consents loaded by the payer (source 'loaded').
CREATE TABLE consent (
	cid		INTEGER PRIMARY KEY,
	id		TEXT NOT NULL UNIQUE,
	patient		TEXT NOT NULL,
	client_id	TEXT,
	source		TEXT NOT NULL,
	status		TEXT NOT NULL,
	provision	TEXT,
	policy		TEXT,
	period_start	TEXT,
	period_end	TEXT,
	recipient	TEXT,
	created		TEXT NOT NULL,
	updated		TEXT NOT NULL,
	json		TEXT NOT NULL
);
CREATE INDEX consent_patient ON consent (patient, status);
CREATE INDEX consent_client ON consent (client_id, patient);

-- Every version of every consent (status changes, revocations).
CREATE TABLE consent_history (
	hid		INTEGER PRIMARY KEY,
	cid		INTEGER NOT NULL REFERENCES consent (cid),
	version		INTEGER NOT NULL,
	status		TEXT NOT NULL,
	changed_by	TEXT,
	time		TEXT NOT NULL,
	json		TEXT NOT NULL
);
CREATE INDEX consent_history_cid ON consent_history (cid, version);

-- A client's right to a member's data: created by $member-match or a
-- MatchedMembers group, always under a consent (NULL only for the
-- configured consent-less legacy form, which is marked).
CREATE TABLE match (
	mid		INTEGER PRIMARY KEY,
	client_id	TEXT NOT NULL,
	patient		TEXT NOT NULL,
	cid		INTEGER REFERENCES consent (cid),
	group_id	TEXT,
	consentless	INTEGER NOT NULL DEFAULT 0,
	created		TEXT NOT NULL
);
CREATE INDEX match_client_patient ON match (client_id, patient);
CREATE INDEX match_patient ON match (patient);

-- Brute-force guard for $member-match: one row per attempt.
CREATE TABLE probe (
	client_id	TEXT NOT NULL,
	person		TEXT NOT NULL,
	card		TEXT NOT NULL,
	time		INTEGER NOT NULL
);
CREATE INDEX probe_lookup ON probe (client_id, person, time);

-- Groups produced by $bulk-member-match (kind match / nomatch /
-- consentconstraint), owned by the client that asked.
CREATE TABLE grp (
	id		TEXT PRIMARY KEY,
	client_id	TEXT NOT NULL,
	job_id		TEXT,
	kind		TEXT NOT NULL,
	created		TEXT NOT NULL,
	json		TEXT NOT NULL
);
CREATE INDEX grp_client ON grp (client_id);

CREATE TABLE grp_member (
	group_id	TEXT NOT NULL REFERENCES grp (id) ON DELETE CASCADE,
	patient		TEXT NOT NULL,
	cid		INTEGER REFERENCES consent (cid),
	PRIMARY KEY (group_id, patient)
) WITHOUT ROWID;

-- Asynchronous jobs.  id is 128 random bits in hex and also names the
-- job's output directory.  status: queued, running, complete, failed,
-- cancelled.
CREATE TABLE job (
	id		TEXT PRIMARY KEY,
	client_id	TEXT NOT NULL,
	kind		TEXT NOT NULL,
	status		TEXT NOT NULL,
	request		TEXT NOT NULL,
	params		TEXT NOT NULL,
	created		INTEGER NOT NULL,
	started		INTEGER,
	finished	INTEGER,
	heartbeat	INTEGER,
	runner		TEXT,
	progress	TEXT,
	transaction_time TEXT,
	error		TEXT,
	expires		INTEGER NOT NULL
);
CREATE INDEX job_status ON job (status, created);
CREATE INDEX job_expires ON job (expires);

CREATE TABLE job_file (
	job_id		TEXT NOT NULL REFERENCES job (id) ON DELETE CASCADE,
	seq		INTEGER NOT NULL,
	kind		TEXT NOT NULL,		-- output | error
	type		TEXT NOT NULL,		-- resource type
	name		TEXT NOT NULL,		-- file name in the job directory
	count		INTEGER NOT NULL,
	bytes		INTEGER NOT NULL,
	PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- Members whose data each job's files hold (to withdraw files when a
-- consent is revoked).
CREATE TABLE job_member (
	job_id		TEXT NOT NULL REFERENCES job (id) ON DELETE CASCADE,
	patient		TEXT NOT NULL,
	cid		INTEGER,
	PRIMARY KEY (job_id, patient)
) WITHOUT ROWID;
CREATE INDEX job_member_patient ON job_member (patient);

-- Audit trail: append-only (the triggers refuse changes).  event: token,
-- match, consent, release, ...; outcome: success or failure.
CREATE TABLE audit (
	aid		INTEGER PRIMARY KEY,
	time		TEXT NOT NULL,
	event		TEXT NOT NULL,
	outcome		TEXT NOT NULL,
	client_id	TEXT,
	patient		TEXT,
	cid		INTEGER,
	detail		TEXT
);
CREATE INDEX audit_patient ON audit (patient, time);
CREATE INDEX audit_time ON audit (time);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
	BEGIN SELECT RAISE(ABORT, 'audit records cannot be changed'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	BEGIN SELECT RAISE(ABORT, 'audit records cannot be deleted'); END;
