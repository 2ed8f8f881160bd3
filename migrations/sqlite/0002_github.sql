-- GitHub integration (SQLite). Kept in step with migrations/postgres/0002_github.sql.
-- Incoming webhook deliveries already handled, by `X-GitHub-Delivery`, so a redelivery queues
-- nothing twice. Rows older than 30 days are pruned when new deliveries arrive.

CREATE TABLE github_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT NOT NULL UNIQUE CHECK (delivery_id <> ''),
    event        TEXT NOT NULL CHECK (event <> ''),
    received_at  BIGINT NOT NULL
);
CREATE INDEX github_deliveries_received ON github_deliveries (received_at);
