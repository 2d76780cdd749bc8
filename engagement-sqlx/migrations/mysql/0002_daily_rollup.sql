-- The daily rollup: for every workspace, customer, UTC day (the microsecond at which the day
-- starts) and event name, how many events the aggregates count (actor = customer) and the latest
-- of them. `append` and `purge` maintain it in the transaction that changes the events, so it is
-- exact under duplicate ids, late events and purges; the aggregates read it for the whole UTC
-- days of a window and the raw events only at the window's partial edges.
CREATE TABLE {prefix}daily (
    workspace  VARCHAR(128) NOT NULL,
    customer   BIGINT       NOT NULL,
    day        BIGINT       NOT NULL,
    name       VARCHAR(255) NOT NULL,
    n          BIGINT       NOT NULL,
    last_at    BIGINT       NOT NULL,
    PRIMARY KEY (workspace, customer, day, name),
    KEY {prefix}daily_day (workspace, day, customer, name, n, last_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
INSERT INTO {prefix}daily (workspace, customer, day, name, n, last_at)
SELECT workspace, customer, occurred_at - MOD(MOD(occurred_at, 86400000000) + 86400000000, 86400000000),
       name, COUNT(*), MAX(occurred_at)
FROM {prefix}events
WHERE actor = 0 AND occurred_at >= -4320000000000000000 AND occurred_at < 4320000000000000000
GROUP BY workspace, customer, occurred_at - MOD(MOD(occurred_at, 86400000000) + 86400000000, 86400000000), name;
