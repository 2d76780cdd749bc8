-- The name index also carries the page domain, so that the event log's exact count for a name
-- and a domain (e.g. every Page Viewed on one site over 14 days) can be an index-only scan
-- instead of reading each event's row from the heap (docs/scaling.md, 10M events).
DROP INDEX {prefix}events_name;
CREATE INDEX {prefix}events_name ON {prefix}events (workspace, name, occurred_at, id)
    INCLUDE (actor, customer, domain);
