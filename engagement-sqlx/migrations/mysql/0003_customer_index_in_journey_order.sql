-- The customer index in funnel-journey order: (customer, time, id), so a customer's step events
-- are read in the order the funnel matches them, from the index alone and without a sort.
ALTER TABLE {prefix}events DROP INDEX {prefix}events_customer,
    ADD INDEX {prefix}events_customer (workspace, customer, occurred_at, id, actor, name);
