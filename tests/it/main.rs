//! upkeep's integration tests: one test binary, one module per boundary (HTTP API, CLI, crawl,
//! event stream, GitHub, team isolation, job queue, the real binary under faults, readiness,
//! pipeline, the README's first session, resolve, `upkeep scan`, store), and [`support`]: the
//! app and a fresh database per test, the fake GitHub, the fake registries and git repositories.
//! Every test runs on SQLite, and on PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set;
//! PostgreSQL-only tests are `#[ignore]`d unless run with `--include-ignored`.

mod answers;
mod api;
mod cli;
mod crawl;
mod events;
mod fake_registries;
mod faults;
mod github;
mod isolation;
mod jobs;
mod pipeline;
mod readiness;
mod readme;
mod resolve;
mod scan_cli;
mod store;
mod support;
mod webhooks_in;
