-- The customer index in funnel-journey order: (customer, time, id), so a customer's step events
-- are read in the order the funnel matches them, from the index alone and without a sort.
DROP INDEX {prefix}events_customer;
CREATE INDEX {prefix}events_customer ON {prefix}events (workspace, customer, occurred_at, id)
    INCLUDE (actor, name);
