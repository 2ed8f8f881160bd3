-- Every locked version per manifest (PostgreSQL). Kept in step with migrations/sqlite/0009_locked_versions.sql.
-- A lockfile may pin several versions of one name; each (name, version) pair a lockfile pins and
-- no manifest names is a `transitive` row of the lockfile's manifest. Such a row is now keyed by
-- its version as well (`transitive:{ecosystem}:{name}@{version}:{ordinal}`, see
-- `crate::crawler::reconcile::dep_key`) instead of by its position among the rows of that name
-- (`transitive:{ecosystem}:{name}:{ordinal}`), so that removing or bumping one version touches
-- that version's row only. The stored rows get their new keys here, so the first crawl after the
-- upgrade finds them unchanged (same ids, no events). The ordinal counts the rows of the same
-- manifest, package and version by id (a lockfile lists each pair once, so it is 0).

UPDATE dependencies
SET dep_key = 'transitive:'
    || (SELECT p.ecosystem FROM packages p WHERE p.id = dependencies.package_id)
    || ':'
    || (SELECT p.name FROM packages p WHERE p.id = dependencies.package_id)
    || '@' || locked || ':'
    || CAST((SELECT COUNT(*) FROM dependencies o
             WHERE o.manifest_id = dependencies.manifest_id
               AND o.package_id = dependencies.package_id
               AND o.kind = 'transitive'
               AND o.locked = dependencies.locked
               AND o.id < dependencies.id) AS TEXT)
WHERE kind = 'transitive' AND locked IS NOT NULL;
