-- Events and customers. Timestamps are BIGINT microseconds since the epoch (UTC). All text is
-- utf8mb4 (4-byte UTF-8) under utf8mb4_nopad_bin: compared by code point (the byte order of
-- UTF-8) with trailing spaces significant, so ids order byte-wise and "a" and "a " are different
-- ids. Every index leads with the workspace and also carries the columns the aggregates read.
CREATE TABLE {prefix}events (
    seq          BIGINT       NOT NULL AUTO_INCREMENT,
    workspace    VARCHAR(128) NOT NULL,
    id           VARCHAR(128) NOT NULL,
    customer     BIGINT       NOT NULL,
    actor        SMALLINT     NOT NULL,
    name         VARCHAR(255) NOT NULL,
    occurred_at  BIGINT       NOT NULL,
    received_at  BIGINT       NOT NULL,
    url          TEXT         NOT NULL,
    path         TEXT         NOT NULL,
    domain       TEXT         NOT NULL,
    referrer     TEXT         NOT NULL,
    country      TEXT         NOT NULL,
    region       TEXT         NOT NULL,
    city         TEXT         NOT NULL,
    zone         TEXT         NOT NULL,
    device       SMALLINT     NULL,
    ip           VARCHAR(64)  NULL,
    metadata     MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (seq),
    UNIQUE KEY {prefix}events_id (workspace, id),
    KEY {prefix}events_time (workspace, occurred_at, id, actor, customer, name),
    KEY {prefix}events_customer (workspace, customer, occurred_at, actor, name),
    KEY {prefix}events_name (workspace, name, occurred_at, actor, customer)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE {prefix}customers (
    workspace            VARCHAR(128) NOT NULL,
    id                   BIGINT       NOT NULL,
    code                 TEXT         NOT NULL,
    first_name           TEXT         NOT NULL,
    last_name            TEXT         NOT NULL,
    email                TEXT         NOT NULL,
    status               SMALLINT     NOT NULL,
    is_admin_placeholder SMALLINT     NOT NULL,
    search_text          MEDIUMTEXT   NOT NULL,
    sort_name            TEXT         NOT NULL,
    PRIMARY KEY (workspace, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
