-- Events and customers. Timestamps are BIGINT microseconds since the epoch (UTC); event ids are
-- compared byte-wise (SQLite's default BINARY collation). Every index leads with the workspace.
CREATE TABLE {prefix}events (
    seq          INTEGER PRIMARY KEY,
    workspace    TEXT     NOT NULL,
    id           TEXT     NOT NULL,
    customer     BIGINT   NOT NULL,
    actor        SMALLINT NOT NULL,
    name         TEXT     NOT NULL,
    occurred_at  BIGINT   NOT NULL,
    received_at  BIGINT   NOT NULL,
    url          TEXT     NOT NULL,
    path         TEXT     NOT NULL,
    domain       TEXT     NOT NULL,
    referrer     TEXT     NOT NULL,
    country      TEXT     NOT NULL,
    region       TEXT     NOT NULL,
    city         TEXT     NOT NULL,
    zone         TEXT     NOT NULL,
    device       SMALLINT,
    ip           TEXT,
    metadata     TEXT     NOT NULL
);
CREATE UNIQUE INDEX {prefix}events_id ON {prefix}events (workspace, id);
-- Each index also carries what the aggregates read, so they run on the index alone: the time
-- index serves the log's keyset order and the window-wide aggregates, the customer index the
-- per-customer buckets and ranks, the name index the funnels.
CREATE INDEX {prefix}events_time ON {prefix}events (workspace, occurred_at, id, actor, customer, name);
CREATE INDEX {prefix}events_customer ON {prefix}events (workspace, customer, occurred_at, actor, name);
CREATE INDEX {prefix}events_name ON {prefix}events (workspace, name, occurred_at, actor, customer);

CREATE TABLE {prefix}customers (
    workspace            TEXT     NOT NULL,
    id                   BIGINT   NOT NULL,
    code                 TEXT     NOT NULL,
    first_name           TEXT     NOT NULL,
    last_name            TEXT     NOT NULL,
    email                TEXT     NOT NULL,
    status               SMALLINT NOT NULL,
    is_admin_placeholder SMALLINT NOT NULL,
    search_text          TEXT     NOT NULL,
    sort_name            TEXT     NOT NULL,
    PRIMARY KEY (workspace, id)
) WITHOUT ROWID;
