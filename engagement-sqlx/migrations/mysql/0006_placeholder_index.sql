-- The admin placeholders of each workspace, found by index (MariaDB has no partial indexes, so
-- the flag leads the id), so the ranking's `NOT EXISTS (… is_admin_placeholder = 1)` reads
-- those rows only: Q1 at 1M events took 150-170 ms without it, 40-58 ms with it (docs/scaling.md,
-- "2026-12-07: admin placeholders by index"). `IF NOT EXISTS`: a run interrupted after the index
-- was made runs again (DDL commits at once here).
ALTER TABLE {prefix}customers
    ADD INDEX IF NOT EXISTS {prefix}customers_placeholder (workspace, is_admin_placeholder, id);
