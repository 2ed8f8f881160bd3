-- Push deduplication (PostgreSQL). Kept in step with migrations/sqlite/0007_push_heads.sql.
-- The head commit (`after`) of the last GitHub push handled for each registered repository: a
-- push whose `after` is that commit again (the same push under another delivery id: a second
-- webhook on the organisation, a replayed body) queues nothing. Only the last head is kept, so a
-- force push back to an earlier commit is a new push.

CREATE TABLE github_push_heads (
    repository_id  BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    after_sha      TEXT NOT NULL CHECK (after_sha <> ''),
    received_at    BIGINT NOT NULL
);
