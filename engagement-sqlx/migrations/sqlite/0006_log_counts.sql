-- The event log's counts: for every workspace, UTC day (the microsecond at which the day
-- starts), event name, actor and page domain, how many events there are. `append` adds what it
-- inserted and `purge` takes off what it deleted, in the transaction that changes the events, so
-- it is exact under duplicate ids, late events and purges. The event log's exact total for a
-- filter on names, actors and a domain reads it for the window's whole UTC days (a few rows a
-- day) and counts the raw events only at the window's partial edges.
CREATE TABLE {prefix}log_counts (
    workspace  TEXT     NOT NULL,
    day        BIGINT   NOT NULL,
    name       TEXT     NOT NULL,
    actor      SMALLINT NOT NULL,
    domain     TEXT     NOT NULL,
    n          BIGINT   NOT NULL,
    PRIMARY KEY (workspace, day, name, actor, domain)
) WITHOUT ROWID;
INSERT INTO {prefix}log_counts (workspace, day, name, actor, domain, n)
SELECT workspace, occurred_at - (((occurred_at % 86400000000) + 86400000000) % 86400000000),
       name, actor, domain, COUNT(*)
FROM {prefix}events
WHERE occurred_at >= -4320000000000000000 AND occurred_at < 4320000000000000000
GROUP BY workspace, occurred_at - (((occurred_at % 86400000000) + 86400000000) % 86400000000),
         name, actor, domain;
