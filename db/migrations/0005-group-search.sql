-- p2p schema: Group read and search for the requesting payer (issue
-- #14).  A Group's search values are kept as tokens, derived from its
-- stored JSON by the database itself whenever the JSON is written
-- ($bulk-member-match inserts a placeholder, then sets the Group), so
-- the search (member/group.c) never parses a Group:
--   identifier      Group.identifier             system|value
--   code            Group.code.coding            system|code
--   characteristic  Group.characteristic[elem].code.coding
--   value           Group.characteristic[elem].valueCodeableConcept.coding,
--                   .valueBoolean ("true"/"false"), and
--                   .valueReference.identifier (the requesting payer)
-- elem pairs a characteristic with its value (characteristic-value).
-- A missing system is ''.
CREATE TABLE grp_token (
	group_id	TEXT NOT NULL REFERENCES grp (id) ON DELETE CASCADE,
	name		TEXT NOT NULL,
	value		TEXT NOT NULL,
	system		TEXT NOT NULL,
	elem		INTEGER NOT NULL,
	PRIMARY KEY (group_id, name, value, system, elem)
) WITHOUT ROWID;

-- A client's groups in id order (the search's keyset).
CREATE INDEX grp_client_id ON grp (client_id, id);

CREATE TRIGGER grp_tokens AFTER UPDATE OF json ON grp
BEGIN
	DELETE FROM grp_token WHERE group_id = new.id;
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'identifier', json_extract(i.value, '$.value'),
		    coalesce(json_extract(i.value, '$.system'), ''), 0
		FROM json_each(new.json, '$.identifier') i
		WHERE json_type(i.value, '$.value') = 'text';
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'code', json_extract(c.value, '$.code'),
		    coalesce(json_extract(c.value, '$.system'), ''), 0
		FROM json_each(new.json, '$.code.coding') c
		WHERE json_type(c.value, '$.code') = 'text';
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'characteristic', json_extract(c.value, '$.code'),
		    coalesce(json_extract(c.value, '$.system'), ''), ch.key
		FROM json_each(new.json, '$.characteristic') ch,
		    json_each(ch.value, '$.code.coding') c
		WHERE json_type(c.value, '$.code') = 'text';
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'value', json_extract(c.value, '$.code'),
		    coalesce(json_extract(c.value, '$.system'), ''), ch.key
		FROM json_each(new.json, '$.characteristic') ch,
		    json_each(ch.value, '$.valueCodeableConcept.coding') c
		WHERE json_type(c.value, '$.code') = 'text';
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'value', json_type(ch.value, '$.valueBoolean'),
		    '', ch.key
		FROM json_each(new.json, '$.characteristic') ch
		WHERE json_type(ch.value, '$.valueBoolean') IN ('true', 'false');
	INSERT OR IGNORE INTO grp_token (group_id, name, value, system, elem)
		SELECT new.id, 'value',
		    json_extract(ch.value, '$.valueReference.identifier.value'),
		    coalesce(json_extract(ch.value,
		    '$.valueReference.identifier.system'), ''), ch.key
		FROM json_each(new.json, '$.characteristic') ch
		WHERE json_type(ch.value, '$.valueReference.identifier.value') =
		    'text';
END;

-- The groups stored so far.
UPDATE grp SET json = json;
