-- The lookup lease of a package (PostgreSQL). Kept in step with migrations/sqlite/0006_resolve_lease.sql.

-- Until when one resolve_package job holds the package's registry lookup (ms since the epoch).
-- Another job for the same package that finds the lease held leaves the lookup to its holder, so
-- a package queued again while its lookup runs is still asked for once. Cleared when the lookup
-- ends; a lease left behind by a dead worker simply expires.
ALTER TABLE packages ADD COLUMN resolving_until BIGINT;
