-- Lookup problems (SQLite). Kept in step with migrations/postgres/0008_lookup_problems.sql.
-- The code of the package's last lookup failure beside its message (packages.last_error), so the
-- API can say what went wrong with each dependency: not_found, unreachable, unauthorised,
-- registry_error or not_looked_up (upkeep_resolvers::problem::ProblemCode). Cleared with
-- last_error by a successful lookup.
ALTER TABLE packages ADD COLUMN last_error_code TEXT CHECK (last_error_code <> '');
UPDATE packages SET last_error_code = CASE
    WHEN last_error = 'package not found in the registry' THEN 'not_found'
    WHEN last_error LIKE 'not looked up:%' THEN 'not_looked_up'
    ELSE 'registry_error' END
  WHERE last_error IS NOT NULL;
