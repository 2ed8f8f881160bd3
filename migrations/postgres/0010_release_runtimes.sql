-- Release runtimes (PostgreSQL). Kept in step with migrations/sqlite/0010_release_runtimes.sql.
-- The runtime a release states it needs, as its registry states it: PyPI requires_python (PEP 440),
-- npm engines.node (an npm range), the crates index's rust_version (a minimum). NULL when the
-- registry does not say; releases stored before this migration get it at their next lookup.
ALTER TABLE releases ADD COLUMN requires_runtime TEXT CHECK (requires_runtime <> '');
