//! The store's conformance suite: runs on SQLite, and on PostgreSQL when
//! `UPKEEP_TEST_DATABASE_URL` is set. Tests that only make sense with several writers on
//! PostgreSQL are `#[ignore]`d unless CI runs them with `--include-ignored`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::json;
use upkeep::repository_url::RepositoryUrl;
use upkeep::store::events::{self, EventFilter, NewEvent};
use upkeep::store::{Store, StoreError};

use crate::support::app::{fresh_db, require_postgres};

/// Tables and their columns as declared in a migration file.
fn schema(sql: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut tables = BTreeMap::new();
    let mut current: Option<(String, BTreeSet<String>)> = None;
    for line in sql.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            let name = rest.split_whitespace().next().unwrap().to_owned();
            current = Some((name, BTreeSet::new()));
        } else if line.starts_with(");") {
            if let Some((name, columns)) = current.take() {
                tables.insert(name, columns);
            }
        } else if let Some((_, columns)) = current.as_mut() {
            let first = line.split_whitespace().next().unwrap_or_default();
            if !first.is_empty()
                && first.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && first != "unique"
            {
                columns.insert(first.to_owned());
            }
        }
    }
    tables
}

#[test]
fn sqlite_and_postgres_schemas_define_the_same_tables_and_columns() {
    let root = env!("CARGO_MANIFEST_DIR");
    let files = |backend: &str| {
        let mut all = String::new();
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/migrations/{backend}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in &paths {
            all.push_str(&std::fs::read_to_string(path).unwrap());
        }
        (
            paths
                .iter()
                .map(|p| p.file_name().unwrap().to_owned())
                .collect::<Vec<_>>(),
            all,
        )
    };
    let (sqlite_files, sqlite) = files("sqlite");
    let (postgres_files, postgres) = files("postgres");
    assert_eq!(
        sqlite_files, postgres_files,
        "migration files are kept in step"
    );
    let sqlite = schema(&sqlite);
    assert!(sqlite.len() >= 15, "{sqlite:?}");
    assert_eq!(sqlite, schema(&postgres));
}

#[tokio::test]
async fn empty_strings_and_dangling_references_are_refused() {
    let db = fresh_db().await;
    let empty = sqlx::query("INSERT INTO teams (name, created_at) VALUES ('', 0)")
        .execute(db.store.pool())
        .await;
    assert!(empty.is_err(), "CHECK (name <> '') holds");
    let dangling = sqlx::query(
        "INSERT INTO repositories (team_id, provider, url, full_name, policy, schedule, created_at, updated_at) \
         VALUES (999, 'git', 'u', 'n', '{}', 's', 0, 0)",
    )
    .execute(db.store.pool())
    .await;
    assert!(dangling.is_err(), "foreign keys are enforced");
}

#[tokio::test]
async fn teams_tokens_and_repositories() {
    let db = fresh_db().await;
    let store = &db.store;
    let team = store.create_team("acme").await.unwrap();
    assert!(matches!(
        store.create_team("acme").await,
        Err(StoreError::Conflict(_))
    ));
    let token = store.create_token(&team).await.unwrap();
    assert_eq!(
        store.team_for_token(token.token.expose()).await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(store.team_for_token("upk_wrong").await.unwrap(), None);
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_ne!(stored, token.token.expose(), "only the hash is stored");

    let url = RepositoryUrl::parse("https://github.com/a/b").unwrap();
    let repo = store.add_repository(team.id, &url, None).await.unwrap();
    assert!(matches!(
        store.add_repository(team.id, &url, None).await,
        Err(StoreError::Conflict(_))
    ));
    let other = store.create_team("other").await.unwrap();
    store
        .add_repository(other.id, &url, None)
        .await
        .expect("another team may register the same URL");
    assert_eq!(
        store
            .repositories(Some(team.id), 0, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store.repositories(None, 0, 10).await.unwrap().items.len(),
        2
    );
    store.remove_repository(repo.id).await.unwrap();
    assert!(matches!(
        store.remove_repository(repo.id).await,
        Err(StoreError::NotFound(_))
    ));

    let all = store
        .events_after(&EventFilter {
            after: 0,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let mine = store
        .events_after(&EventFilter {
            after: 0,
            limit: 10,
            team_id: Some(team.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["repository_upserted", "repository_deleted"]
    );
    let typed = store
        .events_after(&EventFilter {
            after: 0,
            limit: 10,
            types: vec!["repository_deleted".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(typed.len(), 1);
    let after_first = store
        .events_after(&EventFilter {
            after: all[0].seq,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(after_first.len(), 2);
}

#[tokio::test]
async fn an_event_rolls_back_with_its_change() {
    let db = fresh_db().await;
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    events::append(&mut tx, store.backend(), event(1))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        store
            .events_after(&EventFilter {
                after: 0,
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
}

fn event(n: usize) -> NewEvent {
    NewEvent {
        stream: "repository_event",
        kind: "repository_upserted",
        team_id: None,
        subject_key: format!("repository:{n}"),
        payload: json!({ "n": n }),
    }
}

/// Writers commit concurrently while a reader follows the journal by cursor; the reader must see
/// every event exactly once, in position order, without ever skipping one.
async fn cursor_never_skips(store: Store, writers: usize, per_writer: usize) {
    let store = Arc::new(store);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..per_writer {
                let mut tx = store.begin().await.unwrap();
                // Some work inside the transaction, so commits interleave.
                sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
                events::append(&mut tx, store.backend(), event(w * per_writer + i))
                    .await
                    .unwrap();
                if i % 3 == 0 {
                    tokio::task::yield_now().await;
                }
                tx.commit().await.unwrap();
            }
        });
    }
    let total = writers * per_writer;
    let mut seen = Vec::new();
    let mut after = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while seen.len() < total {
        assert!(
            std::time::Instant::now() < deadline,
            "reader saw only {} of {total} events",
            seen.len()
        );
        let page = store
            .events_after(&EventFilter {
                after,
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        for e in &page {
            seen.push(e.subject_key.clone());
            after = e.seq;
        }
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let all = store
        .events_after(&EventFilter {
            after: 0,
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), total);
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), total, "no event seen twice or skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursor_readers_never_skip_events_under_concurrent_writers() {
    let db = fresh_db().await;
    cursor_never_skips(db.store.clone(), 4, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set UPKEEP_TEST_DATABASE_URL and run with --include-ignored"]
async fn postgres_cursor_readers_never_skip_events_under_eight_writers() {
    require_postgres();
    let db = fresh_db().await;
    cursor_never_skips(db.store.clone(), 8, 100).await;
}
