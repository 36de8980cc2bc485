-- p2p schema, version 4: the receiving payer's side (p2p-request).
-- A new member who opted in and named a previous payer has that payer's
-- history requested ($member-match or $bulk-member-match, then
-- $everything or $davinci-data-export) and stored under our member.
-- See docs/receiving.md.

-- Our keys for the client assertions we sign (SMART Backend Services).
-- The private key is a file (mode 0600) under <data>/keys/; the database
-- holds its name and the public JWK, which /.well-known/jwks.json
-- publishes from created on, until retired.  A shared key serves every
-- peer that names no key of its own; the newest shared key whose
-- not_before has come signs (a rotation publishes the next key before
-- it is used).
CREATE TABLE sign_key (
	kid		TEXT PRIMARY KEY,
	alg		TEXT NOT NULL,		-- ES384 | RS384
	file		TEXT NOT NULL,		-- relative to the data directory
	jwk		TEXT NOT NULL,		-- public JWK, JSON
	shared		INTEGER NOT NULL,	-- 1: installation key; 0: one peer's
	not_before	INTEGER NOT NULL,	-- signs from (epoch seconds)
	retired		INTEGER,		-- unpublished since (epoch seconds)
	created		INTEGER NOT NULL
);

-- Previous payers we request from: their FHIR base, the client id they
-- issued to us, which of our keys signs for them (NULL: the current
-- shared key), and what discovery found (token endpoint, operations
-- declared in the CapabilityStatement, as PEER_CAP_* bits).
CREATE TABLE peer (
	name		TEXT PRIMARY KEY,
	npi		TEXT NOT NULL,
	base_url	TEXT NOT NULL,
	client_id	TEXT NOT NULL,
	kid		TEXT REFERENCES sign_key (kid),
	scope		TEXT NOT NULL,
	active		INTEGER NOT NULL DEFAULT 1,
	token_url	TEXT,
	caps		INTEGER NOT NULL DEFAULT 0,
	discovered	INTEGER,
	created		TEXT NOT NULL
);
CREATE INDEX peer_npi ON peer (npi);

-- One row per (our member, previous payer) the member named in an
-- opt-in Consent: where the request stands (state: due, requested,
-- matched, nomatch, consent, fetched, failed, withdrawn), when each step
-- happened (UTC instants), the deadline (YYYY-MM-DD, one week after the
-- later of the start of coverage and the opt-in), the last refusal or
-- failure in words, retries (attempts, next_try in epoch seconds), the
-- peer's id for the member, and the transactionTime of the last
-- complete fetch (the next _since).
CREATE TABLE inbound (
	patient		TEXT NOT NULL,
	peer		TEXT NOT NULL REFERENCES peer (name) ON DELETE CASCADE,
	state		TEXT NOT NULL,
	consent_id	TEXT,
	opted_in	TEXT,
	coverage_start	TEXT,
	deadline	TEXT,
	requested	TEXT,
	answered	TEXT,
	fetched		TEXT,
	updated		TEXT NOT NULL,
	attempts	INTEGER NOT NULL DEFAULT 0,
	next_try	INTEGER NOT NULL DEFAULT 0,
	reason		TEXT,
	remote_id	TEXT,
	since		TEXT,
	resources	INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (patient, peer)
) WITHOUT ROWID;
CREATE INDEX inbound_state ON inbound (peer, state, next_try);

-- Asynchronous exchanges with a peer (kind: match = $bulk-member-match,
-- export = $davinci-data-export, everything = Patient/$everything):
-- the status URL to poll, the manifest's transactionTime once complete,
-- and where the work stands (state: polling, downloading, loading, done,
-- failed), so that an interrupted run resumes instead of starting over.
CREATE TABLE pull (
	pid		INTEGER PRIMARY KEY,
	peer		TEXT NOT NULL REFERENCES peer (name) ON DELETE CASCADE,
	kind		TEXT NOT NULL,
	state		TEXT NOT NULL,
	status_url	TEXT NOT NULL,
	group_id	TEXT,
	since		TEXT,
	transaction_time TEXT,
	created		INTEGER NOT NULL,
	updated		INTEGER NOT NULL,
	next_poll	INTEGER NOT NULL DEFAULT 0,
	attempts	INTEGER NOT NULL DEFAULT 0,
	reason		TEXT
);
CREATE INDEX pull_open ON pull (peer, state);

-- The manifest's files and how far each got: bytes on disk (a resumed
-- download asks for the rest), lines counted against the manifest's
-- count, state pending | done (downloaded, verified) | loaded | failed.
CREATE TABLE pull_file (
	pid		INTEGER NOT NULL REFERENCES pull (pid) ON DELETE CASCADE,
	seq		INTEGER NOT NULL,
	kind		TEXT NOT NULL,		-- output | error
	type		TEXT NOT NULL,
	url		TEXT NOT NULL,
	count		INTEGER,
	bytes		INTEGER NOT NULL DEFAULT 0,
	lines		INTEGER,
	state		TEXT NOT NULL,
	attempts	INTEGER NOT NULL DEFAULT 0,
	reason		TEXT,
	PRIMARY KEY (pid, seq)
) WITHOUT ROWID;

-- The members of an exchange: our member, its MemberBundle position in
-- a $bulk-member-match request, and the peer's Patient id once matched.
CREATE TABLE pull_member (
	pid		INTEGER NOT NULL REFERENCES pull (pid) ON DELETE CASCADE,
	patient		TEXT NOT NULL,
	seq		INTEGER NOT NULL,
	remote_id	TEXT,
	PRIMARY KEY (pid, patient)
) WITHOUT ROWID;
CREATE INDEX pull_member_patient ON pull_member (patient);

-- Received resources that are ours already: an Organization whose NPI
-- we hold is not stored twice; references to it point at ours.
CREATE TABLE peer_alias (
	npi		TEXT NOT NULL,		-- the sending payer's NPI
	type		TEXT NOT NULL,
	remote_id	TEXT NOT NULL,
	local_id	TEXT NOT NULL,
	PRIMARY KEY (npi, type, remote_id)
) WITHOUT ROWID;

-- The opt-in consents the payer loads (the receiving side's work list)
-- are walked without reading the consents other payers submit.
CREATE INDEX consent_optin ON consent (cid)
	WHERE source = 'loaded' AND provision = 'permit';
