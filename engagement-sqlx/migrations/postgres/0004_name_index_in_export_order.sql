-- The name index in export order: (name, time, id), so an export of some event names reads each
-- keyset chunk in (occurred_at, id) order from the index and stops at the chunk's end. Keyed
-- (name, time) only, PostgreSQL sorted the whole rest of the window for every chunk (218 ms
-- instead of 10 ms per 10,000-event chunk at 1M events), which made an export quadratic.
DROP INDEX {prefix}events_name;
CREATE INDEX {prefix}events_name ON {prefix}events (workspace, name, occurred_at, id)
    INCLUDE (actor, customer);
