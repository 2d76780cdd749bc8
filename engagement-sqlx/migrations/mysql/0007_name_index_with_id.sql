-- The name index in keyset order: (name, time, id), as on PostgreSQL. Keyed (name, time) only,
-- a funnel's read of its later steps (which names this index and reads each event's id) looked
-- every row up in the clustered index: Q7 at 1M events took 5.3-5.7 s, now 3.4-3.8 s. Named
-- exports now read this index too; Q6 at 1M events, which read the time index, went from
-- 1.2 s to 1.5 s (docs/scaling.md, "2026-12-07: MySQL's name index with the event id").
ALTER TABLE {prefix}events DROP INDEX {prefix}events_name,
    ADD INDEX {prefix}events_name (workspace, name, occurred_at, id, actor, customer);
