-- upkeep schema (SQLite). Kept in step with migrations/postgres/0001_domain.sql:
-- a test checks both define the same tables and columns.
-- Timestamps are BIGINT milliseconds since the Unix epoch (UTC) in both backends, so one portable
-- query text serves both through sqlx's Any driver. Flags are SMALLINT 0/1 for the same reason.

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE CHECK (name <> ''),
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id       BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE CHECK (token_hash <> ''),
    prefix        TEXT NOT NULL CHECK (prefix <> ''),
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX api_tokens_team ON api_tokens (team_id);

CREATE TABLE repositories (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id          BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    provider         TEXT NOT NULL CHECK (provider IN ('github', 'git', 'local')),
    url              TEXT NOT NULL CHECK (url <> ''),
    full_name        TEXT NOT NULL CHECK (full_name <> ''),
    default_branch   TEXT CHECK (default_branch <> ''),
    policy           TEXT NOT NULL CHECK (policy <> ''),
    schedule         TEXT NOT NULL CHECK (schedule <> ''),
    head_commit      TEXT CHECK (head_commit <> ''),
    head_etag        TEXT CHECK (head_etag <> ''),
    last_crawled_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (team_id, url)
);

CREATE TABLE crawls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id   BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'unchanged', 'failed')),
    commit_sha      TEXT CHECK (commit_sha <> ''),
    manifests_read  BIGINT NOT NULL DEFAULT 0,
    error           TEXT CHECK (error <> ''),
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX crawls_repository ON crawls (repository_id, started_at);

CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path           TEXT NOT NULL CHECK (path <> ''),
    manager        TEXT NOT NULL CHECK (manager <> ''),
    blob_id        TEXT CHECK (blob_id <> ''),
    warnings       TEXT NOT NULL CHECK (warnings <> ''),
    updated_at     BIGINT NOT NULL,
    UNIQUE (repository_id, path, manager)
);

CREATE TABLE registries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ecosystem  TEXT NOT NULL CHECK (ecosystem <> ''),
    name       TEXT NOT NULL CHECK (name <> ''),
    url        TEXT CHECK (url <> ''),
    UNIQUE (ecosystem, name)
);
INSERT INTO registries (ecosystem, name) VALUES
    ('cargo', 'default'), ('npm', 'default'), ('pypi', 'default'), ('maven', 'default'),
    ('go', 'default'), ('docker', 'default'), ('github-actions', 'default'), ('toolchain', 'default');

CREATE TABLE packages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ecosystem      TEXT NOT NULL CHECK (ecosystem <> ''),
    registry_id    BIGINT NOT NULL REFERENCES registries (id),
    name           TEXT NOT NULL CHECK (name <> ''),
    source_url     TEXT CHECK (source_url <> ''),
    homepage       TEXT CHECK (homepage <> ''),
    changelog_url  TEXT CHECK (changelog_url <> ''),
    checked_at     BIGINT,
    UNIQUE (ecosystem, registry_id, name)
);

CREATE TABLE releases (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id    BIGINT NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version       TEXT NOT NULL CHECK (version <> ''),
    published_at  BIGINT,
    yanked        SMALLINT NOT NULL DEFAULT 0 CHECK (yanked IN (0, 1)),
    deprecated    TEXT CHECK (deprecated <> ''),
    prerelease    SMALLINT NOT NULL DEFAULT 0 CHECK (prerelease IN (0, 1)),
    UNIQUE (package_id, version)
);

CREATE TABLE dependencies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    manifest_id  BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    package_id   BIGINT NOT NULL REFERENCES packages (id),
    dep_key      TEXT NOT NULL CHECK (dep_key <> ''),
    requirement  TEXT CHECK (requirement <> ''),
    locked       TEXT CHECK (locked <> ''),
    kind         TEXT NOT NULL CHECK (kind <> ''),
    span_start   BIGINT,
    span_end     BIGINT,
    skip_reason  TEXT CHECK (skip_reason <> ''),
    UNIQUE (manifest_id, dep_key)
);
CREATE INDEX dependencies_package ON dependencies (package_id);

CREATE TABLE recommendations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dependency_id    BIGINT NOT NULL REFERENCES dependencies (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('patch', 'minor', 'major', 'security')),
    target_version   TEXT NOT NULL CHECK (target_version <> ''),
    new_requirement  TEXT CHECK (new_requirement <> ''),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (dependency_id, kind)
);

CREATE TABLE advisories (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    osv_id        TEXT NOT NULL UNIQUE CHECK (osv_id <> ''),
    summary       TEXT CHECK (summary <> ''),
    details       TEXT CHECK (details <> ''),
    severity      TEXT CHECK (severity <> ''),
    published_at  BIGINT,
    modified_at   BIGINT NOT NULL,
    withdrawn_at  BIGINT,
    raw           TEXT NOT NULL CHECK (raw <> '')
);

CREATE TABLE advisory_ranges (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    advisory_id    BIGINT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    ordinal        BIGINT NOT NULL,
    ecosystem      TEXT NOT NULL CHECK (ecosystem <> ''),
    package_name   TEXT NOT NULL CHECK (package_name <> ''),
    introduced     TEXT CHECK (introduced <> ''),
    fixed          TEXT CHECK (fixed <> ''),
    last_affected  TEXT CHECK (last_affected <> ''),
    UNIQUE (advisory_id, ordinal)
);
CREATE INDEX advisory_ranges_package ON advisory_ranges (ecosystem, package_name);

CREATE TABLE rollouts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    advisory_id   BIGINT NOT NULL UNIQUE REFERENCES advisories (id) ON DELETE CASCADE,
    started_at    BIGINT NOT NULL,
    completed_at  BIGINT
);

CREATE TABLE upgrade_pull_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    advisory_id    BIGINT REFERENCES advisories (id),
    branch         TEXT NOT NULL CHECK (branch <> ''),
    title          TEXT NOT NULL CHECK (title <> ''),
    state          TEXT NOT NULL CHECK (state IN ('planned', 'open', 'merged', 'closed')),
    number         BIGINT,
    url            TEXT CHECK (url <> ''),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (repository_id, branch)
);

-- The event journal. `seq` is the stream position consumers read after; see src/store/events.rs
-- for how PostgreSQL appends keep positions in commit order.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE CHECK (id <> ''),
    stream       TEXT NOT NULL CHECK (stream <> ''),
    type         TEXT NOT NULL CHECK (type <> ''),
    team_id      BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    subject_key  TEXT NOT NULL CHECK (subject_key <> ''),
    occurred_at  BIGINT NOT NULL,
    payload      TEXT NOT NULL CHECK (payload <> '')
);
CREATE INDEX events_team_seq ON events (team_id, seq);

-- The durable job queue.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL CHECK (kind <> ''),
    payload       TEXT NOT NULL CHECK (payload <> ''),
    dedup_key     TEXT CHECK (dedup_key <> ''),
    priority      BIGINT NOT NULL DEFAULT 0,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    run_at        BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL CHECK (max_attempts > 0),
    last_error    TEXT CHECK (last_error <> ''),
    locked_by     TEXT CHECK (locked_by <> ''),
    locked_until  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_dedup_pending ON jobs (kind, dedup_key) WHERE state = 'pending';
CREATE INDEX jobs_claim ON jobs (state, priority, run_at);
