-- Crawling (issue 5). Kept in step with migrations/sqlite/0003_crawl.sql.

-- The crawl lease: one crawl of a repository at a time, across every worker process. A worker
-- takes it with a conditional UPDATE (free or expired) and releases it when the crawl ends.
ALTER TABLE repositories ADD COLUMN crawl_locked_by TEXT CHECK (crawl_locked_by <> '');
ALTER TABLE repositories ADD COLUMN crawl_locked_until BIGINT;
-- When a crawl last started (successful or not), so the scheduler does not retry a failing
-- repository every minute.
ALTER TABLE repositories ADD COLUMN crawl_attempted_at BIGINT;
CREATE INDEX repositories_crawl_due ON repositories (last_crawled_at);

-- The extraction of the manifest's blob (JSON), so an unchanged blob is never fetched again.
ALTER TABLE manifests ADD COLUMN extraction TEXT CHECK (extraction <> '');

-- What each crawl did.
ALTER TABLE crawls ADD COLUMN blobs_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawls ADD COLUMN dependencies_added BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawls ADD COLUMN dependencies_changed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawls ADD COLUMN dependencies_removed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawls ADD COLUMN warnings BIGINT NOT NULL DEFAULT 0;
