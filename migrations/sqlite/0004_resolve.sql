-- Resolving packages and the fleet inventory queries (SQLite). Kept in step with
-- migrations/postgres/0004_resolve.sql.

-- Why the last registry lookup of a package failed (unknown package, registry error); cleared by
-- the next successful lookup.
ALTER TABLE packages ADD COLUMN last_error TEXT CHECK (last_error <> '');

-- "Which repositories use ecosystem/name" looks packages up without the registry.
CREATE INDEX packages_ecosystem_name ON packages (ecosystem, name);
-- The stale-package sweep reads packages by their last lookup.
CREATE INDEX packages_checked_at ON packages (checked_at);
