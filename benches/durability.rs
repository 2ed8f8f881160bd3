//! What SQLite's `synchronous = FULL` costs the embedded default:
//! `cargo bench --bench durability`.
//!
//! The store runs SQLite in WAL mode with `synchronous = FULL`, so a commit that was answered is
//! on disk even when the `-wal` file is lost with the process (the README's "Performance"). This
//! benchmark measures what that costs against `NORMAL` on the same disk: team registrations
//! (one transaction each, with its event) and job cycles (enqueue, claim, complete: three
//! transactions), each on a fresh database file in a temporary directory with a one-connection
//! pool whose pragma is set for the run. It prints one line per mode and, last, one JSON object.

use std::time::Instant;

use serde_json::json;
use upkeep::jobs::crawl::Crawl;
use upkeep::jobs::{self};
use upkeep::store::{PoolSize, Store};

/// Team registrations per mode.
const TEAMS: u32 = 300;
/// Job cycles per mode.
const JOB_CYCLES: u32 = 150;

#[tokio::main]
async fn main() {
    let mut figures = serde_json::Map::new();
    for (mode, pragma) in [
        ("FULL", "PRAGMA synchronous = FULL"),
        ("NORMAL", "PRAGMA synchronous = NORMAL"),
    ] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
        let store = Store::open_sized(&url, PoolSize { max: Some(1) })
            .await
            .expect("open the store");
        sqlx::query(pragma)
            .execute(store.pool())
            .await
            .expect("set the pragma");

        let started = Instant::now();
        for i in 0..TEAMS {
            store
                .create_team(&format!("team-{i}"))
                .await
                .expect("create a team");
        }
        let teams_per_second = f64::from(TEAMS) / started.elapsed().as_secs_f64();

        let started = Instant::now();
        for i in 0..JOB_CYCLES {
            jobs::enqueue(
                &store,
                &Crawl {
                    repository_id: i64::from(i) + 1,
                },
            )
            .await
            .expect("enqueue");
            let claimed = store
                .claim("bench", 60_000)
                .await
                .expect("claim")
                .expect("a job to claim");
            assert!(store.complete(claimed.id, "bench").await.expect("complete"));
        }
        let cycles_per_second = f64::from(JOB_CYCLES) / started.elapsed().as_secs_f64();

        println!(
            "synchronous = {mode:<6}  {teams_per_second:>8.0} team registrations/s  \
             {cycles_per_second:>8.0} job cycles/s"
        );
        figures.insert(
            mode.to_ascii_lowercase(),
            json!({
                "team_registrations_per_second": teams_per_second.round(),
                "job_cycles_per_second": cycles_per_second.round(),
            }),
        );
    }
    println!("{}", serde_json::Value::Object(figures));
}
