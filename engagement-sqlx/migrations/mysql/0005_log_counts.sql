-- The event log's counts: for every workspace, UTC day (the microsecond at which the day
-- starts), event name, actor and page domain, how many events there are. `append` adds what it
-- inserted and `purge` takes off what it deleted, in the transaction that changes the events, so
-- it is exact under duplicate ids, late events and purges. The event log's exact total for a
-- filter on names, actors and a domain reads it for the window's whole UTC days (a few rows a
-- day) and counts the raw events only at the window's partial edges. A domain may be longer than
-- an InnoDB key takes, so the key holds its SHA-256 instead (a generated column).
CREATE TABLE {prefix}log_counts (
    workspace   VARCHAR(128) NOT NULL,
    day         BIGINT       NOT NULL,
    name        VARCHAR(255) NOT NULL,
    actor       SMALLINT     NOT NULL,
    domain      TEXT         NOT NULL,
    domain_key  BINARY(32) AS (UNHEX(SHA2(domain, 256))) STORED,
    n           BIGINT       NOT NULL,
    UNIQUE KEY {prefix}log_counts_key (workspace, day, name, actor, domain_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
INSERT INTO {prefix}log_counts (workspace, day, name, actor, domain, n)
SELECT workspace, occurred_at - MOD(MOD(occurred_at, 86400000000) + 86400000000, 86400000000),
       name, actor, domain, COUNT(*)
FROM {prefix}events
WHERE occurred_at >= -4320000000000000000 AND occurred_at < 4320000000000000000
GROUP BY workspace, occurred_at - MOD(MOD(occurred_at, 86400000000) + 86400000000, 86400000000),
         name, actor, domain;
