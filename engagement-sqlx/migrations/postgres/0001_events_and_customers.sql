-- Events and customers. Timestamps are BIGINT microseconds since the epoch (UTC). Text that is
-- compared or ordered (ids, names, the search text) uses COLLATE "C": byte-wise, as the model
-- orders it. Every index leads with the workspace, which is also the distribution column when
-- the schema runs on a distributed PostgreSQL (see docs/scaling.md).
CREATE TABLE {prefix}events (
    workspace    TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    customer     BIGINT           NOT NULL,
    actor        SMALLINT         NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    occurred_at  BIGINT           NOT NULL,
    received_at  BIGINT           NOT NULL,
    url          TEXT             NOT NULL,
    path         TEXT COLLATE "C" NOT NULL,
    domain       TEXT COLLATE "C" NOT NULL,
    referrer     TEXT COLLATE "C" NOT NULL,
    country      TEXT             NOT NULL,
    region       TEXT             NOT NULL,
    city         TEXT             NOT NULL,
    zone         TEXT             NOT NULL,
    device       SMALLINT,
    ip           TEXT COLLATE "C",
    metadata     TEXT             NOT NULL,
    PRIMARY KEY (workspace, id)
);
-- Each index also carries what the aggregates read (INCLUDE), so they can run as index-only
-- scans: the time index serves the log's keyset order and the window-wide aggregates, the
-- customer index the per-customer buckets and ranks, the name index the funnels.
CREATE INDEX {prefix}events_time ON {prefix}events (workspace, occurred_at, id)
    INCLUDE (actor, customer, name);
CREATE INDEX {prefix}events_customer ON {prefix}events (workspace, customer, occurred_at)
    INCLUDE (actor, name);
CREATE INDEX {prefix}events_name ON {prefix}events (workspace, name, occurred_at)
    INCLUDE (actor, customer);

CREATE TABLE {prefix}customers (
    workspace            TEXT COLLATE "C" NOT NULL,
    id                   BIGINT           NOT NULL,
    code                 TEXT             NOT NULL,
    first_name           TEXT             NOT NULL,
    last_name            TEXT             NOT NULL,
    email                TEXT             NOT NULL,
    status               SMALLINT         NOT NULL,
    is_admin_placeholder SMALLINT         NOT NULL,
    search_text          TEXT COLLATE "C" NOT NULL,
    sort_name            TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (workspace, id)
);
