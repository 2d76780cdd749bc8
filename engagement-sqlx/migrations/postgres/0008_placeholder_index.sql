-- The admin placeholders of each workspace, indexed apart (a partial index: a few rows a
-- workspace). The ranking leaves placeholders out with `NOT EXISTS (… is_admin_placeholder = 1)`;
-- without this index PostgreSQL probed the primary key and read each probed customer's row to
-- test the flag, or hashed the placeholders from a scan of the workspace's customers: at 1M
-- events the ranking's read of the largest totals took 3.3 ms instead of 0.6 ms (11.7 ms
-- instead of 0.5 ms in a generic plan), and beside other workspaces' customers a ranking read
-- every page of the table (docs/scaling.md, "2026-12-07: admin placeholders by index").
CREATE INDEX {prefix}customers_placeholder ON {prefix}customers (workspace, id)
    WHERE is_admin_placeholder = 1;
