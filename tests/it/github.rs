//! GitHub: the client against the fake GitHub (conditional heads, truncated trees, blobs,
//! pagination, rate limits, GitHub App tokens), organisation import and incoming webhooks
//! through the API. Runs on SQLite, or PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use upkeep::config::Secret;
use upkeep::forge::github::{
    Conditional, GithubAuth, GithubClient, GithubConfig, GithubError, GithubTuning,
};

use crate::support::app::{self, ADMIN_TOKEN, TestApp};
use crate::support::fake_github::{self, FakeGithub, git_blob_sha};

/// A throwaway RSA key for the GitHub App tests (generated for this test; grants nothing).
const TEST_APP_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxEAAdFCGIRymn2/e1ZkfgemQVGeWNI5QsU+vYR9bzEKERHL0\nJGn24cgu2VoD88KS8CLRbkf/QkZMEIfuj5lQW9ytBkgLgqtNgIZSDA1gtuBVYqfl\n2AeHr8QVb3J8ovmfjitNeb6SmDsWBa5obY3TLCArLK0ROHRruAoGhZ2A2jqMvzlZ\ndl8UruJo6URceeAaDjZeJnnr3WZhi6J/PCYQaCuZyKbc9ZG8tZ0AsQq5jRqaRK6w\nUb9A0Hsnoi3euymMz648f3vj7o6Hyh/Zl/Yz3d+2Dai2yth+G98VIxb4wgtBErfa\nv9g4hljTh3hQFm//UastY0TQv/tEnC8AWaUnTwIDAQABAoIBABChQciZeDw/EsmI\n78+W2aonEiFs47gRZToZQAnRX/SHoHCycwjQ5+hLD9lAPPx/fPcXZDrdo/5IObLe\n6fLGMZ6PLSROn5cTkA43k6VMzujASswA4UO0o6VbztsyTuh6kbA48ChEY2S+AQg7\nNsMt1Pq0wSPYiJCJoQUn6FSTO7OCQ5qKnSlbT7aNSoa1wwjTexHEUSNuQy2J+09J\nx+BECbcKoslRKreGepz84t34Xd+6QlLFnQUvUQ1Y9ScicaDqEU82YnnsoX2i8UzV\n6y83MpPIBlfqG3XFl+QdJhr1BvibPBMmWlDW60qL/ot/8KlzK6wyoxYswZC8cUb2\nE9hwuz0CgYEA6uFEM2QyGh062gWReJbklEVAiqJCoAhOw7CzAmlqVU+ge31tLF5/\nPe3LUERGM+fS28Md8dpCa4n3iwvT4XA6YBCI7gkXXFa2yt3Du1w9lfZH37IemhA3\ngZ5+EY1gJlPEKkd6aD1DQUEko66V6lCH5Abh0S+Ie+dTFZE5fBFKUDUCgYEA1eWB\n63W/IFQpLfKBdn6JTIVjIHDn6X5UinV+qFBIWc3rTspFX7Q4OCNp+jueD63NVMIO\n4AjioKXpWQ0GIHLAynRvvpo0hgN1matUcSfb2DIDGXRjWbKsteHwFtNRFs9BpCfm\nALXsVjtZVj8PJnyko068lALhSkpa4N3cGmWZkfMCgYARtGE7rnXIWiOxg3HvsRAR\nzRaMXKbBAV9OiOc1a1TEkXf7Vvz/ty/IL0CAEGVqTDMstYxwSo9vI7sxE/coqxj7\nXMO1jaHhJ/gnWogCe3V49FN+nSKJYmeMsbG3CP0SZoYG2dR0PwnuxUZJwEM0olVb\n7tjet8KF9G3i1kuK+pKrcQKBgHDPxC7wgiZF3RYrsdZSNI3USAzDH72JcIM6JtwU\nw6QBtBpxGhe40HHjU7CzotC4JPSQCRJl/UknWCQsd0/D1iSxNoJ7iDoqNusebsHj\neNLUxce2F/QmBWtER8FyIHF8TC2NEYTMbmKomJyhU5dD4/1xuIoD3ti00KuKt9yA\nO3e7AoGBAJIvOjY0VGOkDf2F6YNdguy4UYlDd6zywNiWKjJ1ouhZeIU6E6x1tBlL\nol7qXLiOCL8YiJcBRX2VhxZ/sfONr3yx++Ma7tsjD7Vb0ABEVXw9GDAVNANBiZFh\nV3SkTWMJ/RH4+iaBGdf/yyz7uNvXd7pQjiFRkfKhJbf6uFRYzBWh\n-----END RSA PRIVATE KEY-----";

const TOKEN: &str = "ghp_test_token_0123456789";

fn token_client(github: &FakeGithub) -> GithubClient {
    github.require_token(TOKEN);
    GithubClient::new(GithubConfig {
        api_url: github.url(),
        auth: GithubAuth::Token(Secret::new(TOKEN)),
    })
    .expect("client")
}

fn tuned_client(github: &FakeGithub, tuning: GithubTuning) -> GithubClient {
    GithubClient::with_tuning(
        GithubConfig {
            api_url: github.url(),
            auth: GithubAuth::Token(Secret::new(fake_github::TOKEN)),
        },
        tuning,
    )
    .expect("client")
}

#[tokio::test]
async fn repository_metadata_and_conditional_branch_heads() {
    let github = FakeGithub::start().await;
    let head = github.add_repo("Acme", "api", "trunk", &[("README.md", "hello\n")]);
    let client = token_client(&github);

    let info = client.repository("acme/api").await.unwrap();
    assert_eq!(info.full_name, "Acme/api");
    assert_eq!(info.default_branch, "trunk");
    assert!(!info.archived && !info.private);
    assert!(matches!(
        client.repository("acme/nope").await,
        Err(GithubError::NotFound(_))
    ));

    let Conditional::Modified { value, etag } =
        client.branch_head("acme/api", "trunk", None).await.unwrap()
    else {
        panic!("a first request is answered in full");
    };
    assert_eq!(value, head);
    let etag = etag.expect("GitHub sends an ETag for branches");
    let remaining = github.rate_limit_remaining();
    assert_eq!(
        client
            .branch_head("acme/api", "trunk", Some(&etag))
            .await
            .unwrap(),
        Conditional::NotModified
    );
    assert_eq!(github.not_modified(), 1);
    assert_eq!(github.requests("branch"), 2);
    assert_eq!(
        github.rate_limit_remaining(),
        remaining,
        "a 304 costs no rate limit"
    );
    assert_eq!(client.stats().not_modified, 1);
    assert_eq!(
        client.stats().get(upkeep::forge::github::Endpoint::Branch),
        2
    );

    // A push changes the head: the old ETag no longer matches.
    let new_head = github.push("acme", "api", &[("README.md", "hello again\n")]);
    assert_eq!(
        client
            .branch_head("acme/api", "trunk", Some(&etag))
            .await
            .unwrap(),
        Conditional::Modified {
            value: new_head.clone(),
            etag: Some(
                match client.branch_head("acme/api", "trunk", None).await.unwrap() {
                    Conditional::Modified { etag, .. } => etag.unwrap(),
                    Conditional::NotModified => unreachable!(),
                }
            ),
        }
    );
    assert!(matches!(
        client.branch_head("acme/api", "gone", None).await,
        Err(GithubError::NotFound(_))
    ));
    // A wrong token is refused, and the refusal is not a panic or a secret in the message.
    let wrong = GithubClient::new(GithubConfig {
        api_url: github.url(),
        auth: GithubAuth::Token(Secret::new("ghp_wrong")),
    })
    .unwrap();
    let error = wrong.repository("acme/api").await.unwrap_err().to_string();
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("ghp_wrong"), "{error}");
}

fn nested_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("Cargo.toml".to_owned(), b"[workspace]\n".to_vec()),
        (
            ".github/workflows/ci.yml".to_owned(),
            b"on: push\n".to_vec(),
        ),
    ];
    for dir in ["crates/a", "crates/b", "web/app", "web/app/deep/er"] {
        files.push((
            format!("{dir}/Cargo.toml"),
            format!("# {dir}\n").into_bytes(),
        ));
        files.push((
            format!("{dir}/package.json"),
            format!("{{\"name\":\"{dir}\"}}").into_bytes(),
        ));
    }
    files
}

#[tokio::test]
async fn truncated_trees_are_completed_by_walking_subtrees() {
    let github = FakeGithub::start().await;
    let files = nested_files();
    let head = github.add_repo("acme", "mono", "main", &files);
    let client = token_client(&github);

    let full = client.tree("acme/mono", &head).await.unwrap();
    assert_eq!(github.requests("tree"), 1);
    let mut expected: Vec<(String, String)> = files
        .iter()
        .map(|(path, content)| (path.clone(), git_blob_sha(content)))
        .collect();
    expected.sort();
    let seen: Vec<(String, String)> = full
        .iter()
        .map(|e| (e.path.clone(), e.sha.clone()))
        .collect();
    assert_eq!(seen, expected, "only blobs, with their git blob ids");
    let manifest = full.iter().find(|e| e.path == "Cargo.toml").unwrap();
    assert_eq!(manifest.size, Some(12));

    github.set_truncate_trees(true);
    github.reset_counters();
    let walked = client.tree("acme/mono", &head).await.unwrap();
    assert_eq!(walked, full, "walking subtrees finds every file");
    // One truncated recursive request, then one request per directory:
    // root, .github, .github/workflows, crates, crates/a, crates/b, web, web/app, deep, er.
    assert_eq!(github.requests("tree"), 11);

    assert!(matches!(
        client
            .tree("acme/mono", "0000000000000000000000000000000000000000")
            .await,
        Err(GithubError::NotFound(_))
    ));
}

#[tokio::test]
async fn blobs_are_decoded_to_their_bytes() {
    let github = FakeGithub::start().await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let text = "x = \"1.0\"\n".repeat(40);
    let head = github.add_repo(
        "acme",
        "bin",
        "main",
        &[
            ("data.bin", binary.as_slice()),
            ("Cargo.toml", text.as_bytes()),
        ],
    );
    let client = token_client(&github);
    let tree = client.tree("acme/bin", &head).await.unwrap();
    for entry in &tree {
        let bytes = client.blob("acme/bin", &entry.sha).await.unwrap();
        let expected = if entry.path == "data.bin" {
            binary.clone()
        } else {
            text.clone().into_bytes()
        };
        assert_eq!(bytes, expected, "{}", entry.path);
        assert_eq!(entry.size, Some(expected.len() as u64));
    }
    // A push of one file changes only that file's blob id.
    let next = github.push("acme", "bin", &[("Cargo.toml", "x = \"2.0\"\n")]);
    let after = client.tree("acme/bin", &next).await.unwrap();
    let sha_of = |entries: &[upkeep::forge::github::TreeEntry], path: &str| {
        entries.iter().find(|e| e.path == path).unwrap().sha.clone()
    };
    assert_eq!(sha_of(&after, "data.bin"), sha_of(&tree, "data.bin"));
    assert_ne!(sha_of(&after, "Cargo.toml"), sha_of(&tree, "Cargo.toml"));
    assert_eq!(
        client
            .blob("acme/bin", &sha_of(&after, "Cargo.toml"))
            .await
            .unwrap(),
        b"x = \"2.0\"\n"
    );
    assert_eq!(github.requests("blob"), 3);
}

#[tokio::test]
async fn organisation_listing_follows_link_pagination() {
    let github = FakeGithub::start().await;
    for name in ["one", "two", "three", "four", "five"] {
        github.add_repo("acme", name, "main", &[("README.md", name)]);
    }
    github.archive("acme", "four");
    github.add_repo("other", "x", "main", &[("README.md", "x")]);
    github.set_max_per_page(2);
    let client = token_client(&github);

    let repos = client.org_repositories("acme").await.unwrap();
    assert_eq!(github.requests("org_repositories"), 3, "three pages of two");
    let names: Vec<&str> = repos.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "acme/one",
            "acme/two",
            "acme/three",
            "acme/four",
            "acme/five"
        ]
    );
    let archived: Vec<&str> = repos
        .iter()
        .filter(|r| r.archived)
        .map(|r| r.full_name.as_str())
        .collect();
    assert_eq!(archived, ["acme/four"]);
    assert!(matches!(
        client.org_repositories("no-such-org").await,
        Err(GithubError::NotFound(_))
    ));
}

#[tokio::test]
async fn pauses_until_reset_when_the_budget_runs_low() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    // Reset in 1–2 s (GitHub's reset is a whole second), so the window cannot turn over
    // before the first request.
    github.set_rate_limit(5000, 10, Duration::from_secs(2));
    // The budget is process-wide per API URL and credential: a credential of this test's own
    // keeps the hour-long reset below from reaching other tests.
    github.require_token("ghp_budget_test");
    let budget_client = || {
        GithubClient::new(GithubConfig {
            api_url: github.url(),
            auth: GithubAuth::Token(Secret::new("ghp_budget_test")),
        })
        .expect("client")
    };
    let client = budget_client();

    client.repository("acme/api").await.unwrap();
    assert_eq!(client.rate_limit().0, Some(9));
    let started = Instant::now();
    // Another client of the same API and credentials shares the budget: it pauses too.
    let other = budget_client();
    other.repository("acme/api").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "paused until the reset ({:?})",
        started.elapsed()
    );
    assert_eq!(other.stats().rate_limit_waits, 1);
    assert!(github.rate_limit_remaining() > 4000, "the window reset");

    // A reset an hour away is too long to wait for: the call says when to come back.
    github.set_rate_limit(5000, 10, Duration::from_hours(1));
    client.repository("acme/api").await.unwrap();
    match client.repository("acme/api").await {
        Err(GithubError::RateLimited { reset_at }) => {
            assert!(reset_at > chrono::Utc::now() + chrono::Duration::minutes(50));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn secondary_limits_are_backed_off_and_retried() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    let client = tuned_client(
        &github,
        GithubTuning {
            secondary_backoff: Duration::from_millis(100),
            max_retries: 2,
            ..GithubTuning::default()
        },
    );

    // With `Retry-After: 1`.
    github.inject_secondary_limit(1, Some(1));
    let started = Instant::now();
    client.repository("acme/api").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(github.requests("repository"), 2);
    assert_eq!(client.stats().retries, 1);

    // Without `Retry-After`: exponential back-off from `secondary_backoff`.
    github.inject_secondary_limit(2, None);
    client.repository("acme/api").await.unwrap();
    assert_eq!(github.requests("repository"), 5);

    // More refusals than retries: the caller learns it is rate limited.
    github.inject_secondary_limit(5, None);
    assert!(matches!(
        client.repository("acme/api").await,
        Err(GithubError::RateLimited { .. })
    ));
    assert_eq!(github.requests("repository"), 8);
}

#[tokio::test]
async fn too_many_requests_are_waited_out_with_and_without_retry_after() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    let client = tuned_client(
        &github,
        GithubTuning {
            secondary_backoff: Duration::from_millis(100),
            max_retries: 2,
            ..GithubTuning::default()
        },
    );

    // `429` with `Retry-After: 1`: waited out, then answered.
    github.inject_failures(1, StatusCode::TOO_MANY_REQUESTS, Some(1));
    let started = Instant::now();
    assert_eq!(
        client.repository("acme/api").await.unwrap().full_name,
        "acme/api"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(github.requests("repository"), 2);
    assert_eq!(client.stats().retries, 1);
    assert_eq!(client.stats().rate_limit_waits, 1);

    // `429` without `Retry-After`: backed off from `secondary_backoff`, doubling.
    github.inject_failures(2, StatusCode::TOO_MANY_REQUESTS, None);
    let started = Instant::now();
    client.repository("acme/api").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(github.requests("repository"), 5);

    // More `429`s than retries: the caller learns it is rate limited.
    github.inject_failures(3, StatusCode::TOO_MANY_REQUESTS, None);
    assert!(matches!(
        client.repository("acme/api").await,
        Err(GithubError::RateLimited { .. })
    ));
    assert_eq!(github.requests("repository"), 8);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let github = FakeGithub::start().await;
    let head = github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    let client = tuned_client(
        &github,
        GithubTuning {
            server_error_backoff: Duration::from_millis(50),
            max_retries: 2,
            ..GithubTuning::default()
        },
    );

    github.inject_failures(2, StatusCode::BAD_GATEWAY, None);
    assert_eq!(
        client.branch_head("acme/api", "main", None).await.unwrap(),
        Conditional::Modified {
            value: head,
            etag: match client.branch_head("acme/api", "main", None).await.unwrap() {
                Conditional::Modified { etag, .. } => etag,
                Conditional::NotModified => unreachable!(),
            },
        }
    );
    assert_eq!(github.requests("branch"), 4);
    assert_eq!(client.stats().retries, 2);

    // A server error that outlasts the retries is the caller's, and a transient one.
    github.inject_failures(3, StatusCode::SERVICE_UNAVAILABLE, None);
    let error = client.repository("acme/api").await.unwrap_err();
    assert!(
        matches!(&error, GithubError::Api(message) if message.contains("503")),
        "{error:?}"
    );
    assert_eq!(github.requests("repository"), 3);
}

#[tokio::test]
async fn a_renamed_repository_is_followed_to_its_new_name() {
    let github = FakeGithub::start().await;
    let head = github.add_repo("acme", "old-name", "main", &[("README.md", "hello\n")]);
    github.rename("acme", "old-name", "new-name");
    let client = token_client(&github);

    // GitHub answers `301` to `/repositories/{id}/…`; the client follows with its credential.
    let info = client.repository("acme/old-name").await.unwrap();
    assert_eq!(info.full_name, "acme/new-name");
    let Conditional::Modified { value, .. } = client
        .branch_head("acme/old-name", "main", None)
        .await
        .unwrap()
    else {
        panic!("a first request is answered in full");
    };
    assert_eq!(value, head);
    let tree = client.tree("acme/old-name", &head).await.unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(
        client.blob("acme/old-name", &tree[0].sha).await.unwrap(),
        b"hello\n"
    );
    // Each read is the `301` and the request it points to.
    assert_eq!(github.requests("repository"), 2);
    assert_eq!(github.requests("branch"), 2);
    assert_eq!(github.requests("tree"), 2);
    assert_eq!(github.requests("blob"), 2);
}

#[tokio::test]
async fn an_empty_repository_is_a_permanent_error() {
    let github = FakeGithub::start().await;
    github.add_empty_repo("acme", "empty");
    github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    let client = token_client(&github);

    assert_eq!(
        client
            .repository("acme/empty")
            .await
            .unwrap()
            .default_branch,
        "main"
    );
    let error = client
        .branch_head("acme/empty", "main", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, GithubError::EmptyRepository(what) if what == "branch main of acme/empty"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("the repository is empty"),
        "{error}"
    );
    assert!(matches!(
        client.tree("acme/empty", "main").await,
        Err(GithubError::EmptyRepository(_))
    ));
    // A branch missing from a repository with commits is still not found.
    assert!(matches!(
        client.branch_head("acme/api", "gone", None).await,
        Err(GithubError::NotFound(_))
    ));
}

#[tokio::test]
async fn github_app_installation_tokens_are_minted_cached_and_refreshed() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("README.md", "x")]);
    github.add_repo("acme", "web", "main", &[("README.md", "y")]);
    github.enable_app(4242, Duration::from_secs(4));
    let app_client = |app_id| {
        GithubClient::with_tuning(
            GithubConfig {
                api_url: github.url(),
                auth: GithubAuth::App {
                    app_id,
                    private_key: Secret::new(TEST_APP_KEY),
                },
            },
            GithubTuning {
                token_refresh_margin: Duration::from_secs(2),
                ..GithubTuning::default()
            },
        )
        .expect("app client")
    };
    let client = app_client(4242);

    client.repository("acme/api").await.unwrap();
    assert_eq!(github.requests("installation"), 1);
    assert_eq!(github.requests("access_token"), 1);
    assert!(
        github
            .last_authorization()
            .is_some_and(|a| a.starts_with("Bearer ghs_")),
        "repository calls carry the installation token"
    );
    // Same account: the installation and its token are reused.
    client.repository("acme/web").await.unwrap();
    client.org_repositories("acme").await.unwrap();
    assert_eq!(github.requests("installation"), 1);
    assert_eq!(github.requests("access_token"), 1);

    // Within the refresh margin of `expires_at`, a new token is minted before the call.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    client.repository("acme/api").await.unwrap();
    assert_eq!(github.requests("access_token"), 2);
    assert_eq!(github.requests("repository"), 3, "no call was refused");

    // The fake checks the JWT's issuer: another app id is refused.
    let stranger = app_client(7);
    let error = stranger
        .repository("acme/api")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("PRIVATE KEY"), "{error}");
}

// ---- API: organisation import and incoming webhooks ----

async fn crawl_jobs(app: &TestApp) -> Vec<(i64, i64)> {
    sqlx::query("SELECT payload, priority FROM jobs WHERE kind = 'crawl' ORDER BY id")
        .fetch_all(app.db.store.pool())
        .await
        .expect("jobs")
        .iter()
        .map(|row| {
            let payload: String = row.get("payload");
            let payload: Value = serde_json::from_str(&payload).expect("payload JSON");
            (
                payload["repository_id"].as_i64().expect("repository_id"),
                row.get::<i64, _>("priority"),
            )
        })
        .collect()
}

#[tokio::test]
async fn importing_an_organisation_registers_unarchived_repositories() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("Cargo.toml", "[package]\n")]);
    github.add_repo("acme", "web", "develop", &[("package.json", "{}")]);
    github.add_repo("acme", "old", "master", &[("setup.py", "")]);
    github.archive("acme", "old");
    github.set_max_per_page(1);
    let url = github.url();
    let app = TestApp::spawn_with(|config| config.github_api_url = url).await;
    let token = app.team_token("platform").await;

    let response = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&token)
        .json(&json!({ "github_org": "acme" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let registered = body["registered"].as_array().unwrap();
    let urls: Vec<&str> = registered
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["https://github.com/acme/api", "https://github.com/acme/web"]
    );
    assert_eq!(registered[1]["default_branch"], "develop");
    assert_eq!(
        body["skipped"],
        json!([{ "full_name": "acme/old", "reason": "archived" }])
    );
    assert_eq!(github.requests("org_repositories"), 3);
    let ids: Vec<i64> = registered
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let jobs = crawl_jobs(&app).await;
    assert_eq!(jobs, ids.iter().map(|id| (*id, 0)).collect::<Vec<_>>());

    // Importing again registers nothing new and queues nothing.
    let again: Value = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&token)
        .json(&json!({ "github_org": "acme" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["registered"], json!([]));
    assert_eq!(again["skipped"].as_array().unwrap().len(), 3);
    assert_eq!(crawl_jobs(&app).await.len(), 2);

    // Unknown organisation, bad name, admin without a team.
    for (bearer, body, status, field) in [
        (
            token.as_str(),
            json!({ "github_org": "nobody-here" }),
            422,
            "github_org",
        ),
        (
            token.as_str(),
            json!({ "github_org": "../x" }),
            422,
            "github_org",
        ),
        (ADMIN_TOKEN, json!({ "github_org": "acme" }), 422, "team"),
        (
            token.as_str(),
            json!({ "github_org": "acme", "team": "other" }),
            403,
            "",
        ),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/imports"))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{error}"
        );
    }
    app.stop().await;
}

const WEBHOOK_SECRET: &str = "webhook-secret-for-tests";

fn sign(secret: &str, body: &[u8]) -> String {
    app::sha256_signature(secret, body)
}

fn push_payload(git_ref: &str) -> Vec<u8> {
    json!({
        "ref": git_ref,
        "before": "0000000000000000000000000000000000000000",
        "after": "ce013625030ba8dba906f756967f9e9ca394464a",
        "created": false,
        "deleted": false,
        "forced": false,
        "repository": {
            "id": 1,
            "name": "API",
            "full_name": "Acme/API",
            "private": false,
            "owner": { "login": "Acme", "id": 1, "type": "Organization" },
            "html_url": "https://github.com/Acme/API",
            "default_branch": "main",
            "master_branch": "main"
        },
        "pusher": { "name": "someone", "email": "someone@example.invalid" },
        "commits": [],
        "head_commit": null
    })
    .to_string()
    .into_bytes()
}

async fn deliver(
    app: &TestApp,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<String>,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("user-agent", "GitHub-Hookshot/test")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn webhook_app(github: &FakeGithub) -> (TestApp, String) {
    let url = github.url();
    let app = TestApp::spawn_with(|config| {
        config.github_api_url = url;
        config.github_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        // The queue is what these tests inspect: keep the workers from taking jobs meanwhile.
        config.job_poll_ms = 60_000;
    })
    .await;
    let token = app.team_token("platform").await;
    (app, token)
}

async fn register(app: &TestApp, token: &str, url: &str) -> i64 {
    let response = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_service_sends_its_configured_github_credentials() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("Cargo.toml", "[package]\n")]);
    // The test configuration carries the fake's token: registering reads the repository with it.
    let (app, token) = webhook_app(&github).await;
    register(&app, &token, "https://github.com/acme/api").await;
    assert_eq!(github.requests("repository"), 1);
    assert_eq!(
        github.last_authorization(),
        Some(format!("Bearer {}", fake_github::TOKEN))
    );
    app.stop().await;

    // Without a token the fake answers 401, like GitHub for a private repository, and the
    // repository cannot be registered.
    let url = github.url();
    let anonymous = TestApp::spawn_with(|config| {
        config.github_api_url = url;
        config.github_token = None;
    })
    .await;
    let token = anonymous.team_token("platform").await;
    let response = anonymous
        .client
        .post(anonymous.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&json!({ "url": "https://github.com/acme/api" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(github.requests("repository"), 2);
    assert_eq!(github.last_authorization(), None);
    anonymous.stop().await;
}

#[tokio::test]
async fn push_webhooks_are_verified_deduplicated_and_queue_a_priority_crawl() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("Cargo.toml", "[package]\n")]);
    let (app, token) = webhook_app(&github).await;
    let id = register(&app, &token, "https://github.com/acme/api").await;
    let before = crawl_jobs(&app).await.len();
    let body = push_payload("refs/heads/main");

    // Missing or wrong signatures: 401 and nothing queued.
    let (status, error) = deliver(&app, "push", "d-1", &body, None).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["code"], "unauthorized");
    let (status, _) = deliver(
        &app,
        "push",
        "d-1",
        &body,
        Some(sign("other-secret", &body)),
    )
    .await;
    assert_eq!(status, 401);
    let tampered = push_payload("refs/heads/main ");
    let (status, _) = deliver(
        &app,
        "push",
        "d-1",
        &tampered,
        Some(sign(WEBHOOK_SECRET, &body)),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(crawl_jobs(&app).await.len(), before);

    // A signed push to the default branch: one crawl at priority 100.
    let (status, reply) = deliver(
        &app,
        "push",
        "d-1",
        &body,
        Some(sign(WEBHOOK_SECRET, &body)),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({ "status": "queued", "repositories": [id] }));
    let urgent: Vec<(i64, i64)> = crawl_jobs(&app)
        .await
        .into_iter()
        .filter(|job| job.1 == 100)
        .collect();
    assert_eq!(urgent, [(id, 100)]);

    // The same delivery again: nothing more.
    let (status, reply) = deliver(
        &app,
        "push",
        "d-1",
        &body,
        Some(sign(WEBHOOK_SECRET, &body)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], "duplicate");
    // Registration's own crawl may re-queue itself while the workers run (crawl lease), so count
    // only the webhook's urgent crawls.
    let urgent_now = crawl_jobs(&app)
        .await
        .into_iter()
        .filter(|job| job.1 == 100)
        .count();
    assert_eq!(urgent_now, 1);

    // Another branch, an unregistered repository, other events: ignored.
    let feature = push_payload("refs/heads/feature");
    let (status, reply) = deliver(
        &app,
        "push",
        "d-2",
        &feature,
        Some(sign(WEBHOOK_SECRET, &feature)),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(reply["status"], "ignored");
    let stranger = String::from_utf8(push_payload("refs/heads/main"))
        .unwrap()
        .replace("Acme/API", "acme/unknown");
    let (status, _) = deliver(
        &app,
        "push",
        "d-3",
        stranger.as_bytes(),
        Some(sign(WEBHOOK_SECRET, stranger.as_bytes())),
    )
    .await;
    assert_eq!(status, 202);
    let issue = br#"{"action":"opened"}"#;
    let (status, _) = deliver(
        &app,
        "issues",
        "d-4",
        issue,
        Some(sign(WEBHOOK_SECRET, issue)),
    )
    .await;
    assert_eq!(status, 202);
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let (status, reply) =
        deliver(&app, "ping", "d-5", ping, Some(sign(WEBHOOK_SECRET, ping))).await;
    assert_eq!(status, 200);
    assert_eq!(reply["status"], "pong");
    let urgent_now = crawl_jobs(&app)
        .await
        .into_iter()
        .filter(|job| job.1 == 100)
        .count();
    assert_eq!(urgent_now, 1, "ignored deliveries queue nothing");
    app.stop().await;
}

#[tokio::test]
async fn webhooks_are_refused_when_no_secret_is_configured() {
    let app = TestApp::spawn().await;
    let body = push_payload("refs/heads/main");
    let (status, _) = deliver(&app, "push", "d-1", &body, Some(sign("anything", &body))).await;
    assert_eq!(status, 401);
    assert!(crawl_jobs(&app).await.is_empty());
    app.stop().await;
}

fn installation_payload(event_action: &str, account: &str, key: &str, repos: &[&str]) -> Vec<u8> {
    let repositories: Vec<Value> = repos
        .iter()
        .enumerate()
        .map(|(i, full_name)| {
            json!({
                "id": i + 1,
                "node_id": format!("R_{i}"),
                "name": full_name.split('/').nth(1).unwrap(),
                "full_name": full_name,
                "private": false
            })
        })
        .collect();
    let mut payload = json!({
        "action": event_action,
        "installation": {
            "id": 40001,
            "account": { "login": account, "id": 1, "type": "Organization" },
            "repository_selection": "selected",
            "app_id": 4242
        },
        "sender": { "login": "admin", "id": 2, "type": "User" }
    });
    payload[key] = Value::Array(repositories);
    payload.to_string().into_bytes()
}

#[tokio::test]
async fn installation_events_add_and_remove_repositories() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("README.md", "# api\n")]);
    let (app, token) = webhook_app(&github).await;
    let api = register(&app, &token, "https://github.com/acme/api").await;
    let signed = |body: &[u8]| Some(sign(WEBHOOK_SECRET, body));

    // The team that has acme's repositories gets the repositories the app gains.
    let added = installation_payload(
        "added",
        "Acme",
        "repositories_added",
        &["Acme/web", "Acme/docs"],
    );
    let (status, reply) = deliver(
        &app,
        "installation_repositories",
        "i-1",
        &added,
        signed(&added),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let new_ids: Vec<i64> = reply["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(new_ids.len(), 2);
    let listed: Value = app
        .client
        .get(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let urls: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://github.com/acme/api",
            "https://github.com/acme/web",
            "https://github.com/acme/docs"
        ]
    );
    let queued: Vec<i64> = crawl_jobs(&app).await.iter().map(|j| j.0).collect();
    for id in &new_ids {
        assert!(queued.contains(id), "a crawl is queued for {id}");
    }

    // Repositories the app loses are removed.
    let removed = installation_payload("removed", "acme", "repositories_removed", &["acme/api"]);
    let (status, reply) = deliver(
        &app,
        "installation_repositories",
        "i-2",
        &removed,
        signed(&removed),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["removed"], json!([api]));
    let gone = app
        .client
        .get(app.url(&format!("/api/v1/repositories/{api}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    // An account no team has repositories of: nothing registered, 202.
    let created = installation_payload("created", "strangers", "repositories", &["strangers/x"]);
    let (status, reply) = deliver(&app, "installation", "i-3", &created, signed(&created)).await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["status"], "ignored");
    app.stop().await;
}

/// Crawl `full_name` (registered with default branch `main`) through the job queue until the job
/// ends; the job's record and the repository's id.
async fn crawl_job_until_it_ends(
    github: &FakeGithub,
    full_name: &str,
) -> (upkeep::store::jobs::JobRecord, i64) {
    let (record, repository_id, _) = crawl_job_until(github, full_name, |record| {
        record.state != "pending" && record.state != "running"
    })
    .await;
    (record, repository_id)
}

/// Like [`crawl_job_until_it_ends`], until `done` holds for the job's record; also the job's
/// `run_at` then (ms since the epoch).
async fn crawl_job_until(
    github: &FakeGithub,
    full_name: &str,
    done: impl Fn(&upkeep::store::jobs::JobRecord) -> bool,
) -> (upkeep::store::jobs::JobRecord, i64, i64) {
    let url = github.url();
    let app = TestApp::spawn_with(|config| config.github_api_url = url).await;
    app.team_token("platform").await;
    let team = app
        .db
        .store
        .team_by_name("platform")
        .await
        .unwrap()
        .unwrap();
    let location =
        upkeep::repository_url::RepositoryUrl::parse(&format!("https://github.com/{full_name}"))
            .unwrap();
    let repository = app
        .db
        .store
        .add_repository(team.id, &location, Some("main"))
        .await
        .unwrap();
    let job_id = upkeep::jobs::enqueue(
        &app.db.store,
        &upkeep::jobs::crawl::Crawl {
            repository_id: repository.id,
        },
    )
    .await
    .unwrap()
    .expect("a new job");
    let deadline = Instant::now() + Duration::from_secs(30);
    let record = loop {
        let record = app.db.store.job(job_id).await.unwrap().unwrap();
        if done(&record) {
            break record;
        }
        assert!(
            Instant::now() < deadline,
            "the crawl job did not finish: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(app.db.store.pool())
        .await
        .unwrap();
    app.stop().await;
    (record, repository.id, run_at)
}

#[tokio::test]
async fn a_crawl_of_a_repository_github_no_longer_has_gives_up_at_once() {
    let github = FakeGithub::start().await;
    // Registered while it existed; GitHub answers 404 for it now.
    let (record, repository_id) = crawl_job_until_it_ends(&github, "acme/gone").await;
    assert_eq!(record.state, "failed", "{record:?}");
    assert_eq!(
        record.attempts, 1,
        "given up at the first attempt: {record:?}"
    );
    let reason = record.last_error.unwrap_or_default();
    assert!(
        reason.starts_with(&format!("crawl of repository {repository_id}: "))
            && reason.contains("not found"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_crawl_of_an_empty_repository_gives_up_at_once_and_says_why() {
    let github = FakeGithub::start().await;
    github.add_empty_repo("acme", "empty");
    let (record, repository_id) = crawl_job_until_it_ends(&github, "acme/empty").await;
    assert_eq!(record.state, "failed", "{record:?}");
    assert_eq!(
        record.attempts, 1,
        "given up at the first attempt: {record:?}"
    );
    let reason = record.last_error.unwrap_or_default();
    assert_eq!(
        reason,
        format!(
            "crawl of repository {repository_id}: GitHub: branch main of acme/empty: the repository is empty (no commits yet)"
        )
    );
}

#[tokio::test]
async fn a_rate_limited_crawl_waits_for_the_reset_without_using_an_attempt() {
    let github = FakeGithub::start().await;
    github.add_repo("acme", "api", "main", &[("Cargo.toml", "[package]\n")]);
    // Ten requests left until an hour from now: the crawl's first request takes the budget under
    // the client's reserve, and the reset is too far away to wait for within the call.
    github.set_rate_limit(5000, 10, Duration::from_hours(1));
    let started_ms = chrono::Utc::now().timestamp_millis();
    let (record, _, run_at) =
        crawl_job_until(&github, "acme/api", |record| record.last_error.is_some()).await;
    assert_eq!(record.state, "pending", "{record:?}");
    assert_eq!(
        record.attempts, 0,
        "a rate limit does not use up an attempt: {record:?}"
    );
    let reason = record.last_error.unwrap_or_default();
    assert!(reason.contains("rate limit exhausted until"), "{reason}");
    assert_eq!(github.requests("branch"), 1);
    assert_eq!(github.requests("tree"), 0, "nothing sent past the reserve");
    // Queued again for the reset (GitHub's reset is a whole second).
    assert!(
        run_at >= started_ms + 3_598_000,
        "run at the reset: {run_at} (started {started_ms})"
    );
}
