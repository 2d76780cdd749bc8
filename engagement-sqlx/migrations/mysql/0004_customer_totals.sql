-- Every customer's number of counted events (actor = customer), all time. `append` adds what it
-- inserted and `purge` takes off what it deleted, in the transaction that changes the events.
-- A window's score can never exceed it, so the ranking reads only the customers whose total
-- reaches the score it has to beat (see the ranking) instead of every customer of the window.
CREATE TABLE {prefix}totals (
    workspace  VARCHAR(128) NOT NULL,
    customer   BIGINT       NOT NULL,
    n          BIGINT       NOT NULL,
    PRIMARY KEY (workspace, customer),
    KEY {prefix}totals_n (workspace, n, customer)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
INSERT INTO {prefix}totals (workspace, customer, n)
SELECT workspace, customer, COUNT(*) FROM {prefix}events WHERE actor = 0
GROUP BY workspace, customer;
