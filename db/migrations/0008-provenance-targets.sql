-- p2p schema, version 8: the targets of a Provenance are written by the
-- store (src/lib/store/store.c) with the resource, not by triggers.  A
-- trigger's WHEN ran on every resource row a load wrote, Provenance or
-- not, and cost 10-15% of a load (bench/README.md).  The table and its
-- rows stay as 0006 made them.
DROP TRIGGER IF EXISTS prov_target_ins;
DROP TRIGGER IF EXISTS prov_target_upd;
DROP TRIGGER IF EXISTS prov_target_del;
