-- Event delivery beyond the cursor API (SQLite). Kept in step with migrations/postgres/0005_delivery.sql.

-- Outgoing webhook subscriptions. `secret` signs every delivery (HMAC-SHA256); the API never returns
-- it. `last_seq` is the journal position the dispatcher has read up to for this subscription.
CREATE TABLE webhook_subscriptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id       BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    url           TEXT NOT NULL CHECK (url <> ''),
    types         TEXT NOT NULL CHECK (types <> ''),
    secret        TEXT NOT NULL CHECK (secret <> ''),
    max_attempts  BIGINT NOT NULL CHECK (max_attempts > 0),
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_team ON webhook_subscriptions (team_id);

-- One row per (subscription, event): its delivery state. `queued` is 1 once a `deliver_webhook` job
-- was enqueued for it.
CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id   BIGINT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_seq         BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    event_id          TEXT NOT NULL CHECK (event_id <> ''),
    event_type        TEXT NOT NULL CHECK (event_type <> ''),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    queued            SMALLINT NOT NULL DEFAULT 0 CHECK (queued IN (0, 1)),
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_status_code  BIGINT,
    last_error        TEXT CHECK (last_error <> ''),
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    delivered_at      BIGINT,
    UNIQUE (subscription_id, event_seq)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (status, queued);

-- Durable positions and leases of the delivery loops (`nats`: the JetStream publisher's journal
-- position; `webhooks`: the dispatcher's lease). One process at a time holds a loop's lease.
CREATE TABLE delivery_cursors (
    name          TEXT PRIMARY KEY CHECK (name <> ''),
    last_seq      BIGINT NOT NULL DEFAULT 0,
    leased_by     TEXT CHECK (leased_by <> ''),
    leased_until  BIGINT,
    updated_at    BIGINT NOT NULL
);
