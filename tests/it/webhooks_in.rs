//! `POST /webhooks/github` under hostile input (issue 10, points 4 and 5): nothing is read before
//! the request could be authentic, large bodies are capped in size and in number, the API's own
//! body limit answers 413, and the same push under a new delivery id queues nothing. Runs on
//! SQLite, or PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use upkeep::config::Secret;
use upkeep::repository_url::RepositoryUrl;

use crate::support::app::{TestApp, sha256_signature};

const WEBHOOK_SECRET: &str = "webhook-secret-for-tests";
/// How long a test waits for an answer that must come (a bound against hanging, not a timing
/// assertion).
const ANSWER_WITHIN: Duration = Duration::from_secs(30);
const LARGE: usize = 10 * 1024 * 1024;

async fn webhook_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.github_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        // The queue is what these tests inspect: keep the workers from taking jobs meanwhile.
        config.job_poll_ms = 60_000;
    })
    .await
}

/// Send only the head of a POST to `/webhooks/github` declaring a `content_length` body, and none
/// of the body; the connection stays open.
async fn send_head(app: &TestApp, content_length: usize, signature: Option<&str>) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let mut head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: d-head\r\nContent-Length: {content_length}\r\n",
        app.addr
    );
    if let Some(signature) = signature {
        head = head + "X-Hub-Signature-256: " + signature + "\r\n";
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
}

/// The status line and head of the answer on `stream`, or `None` when none comes within `wait`.
async fn answer_head(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = async {
        let mut buf = [0_u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
            if received.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(wait, read).await.ok()?;
    (!received.is_empty()).then(|| String::from_utf8_lossy(&received).into_owned())
}

fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

async fn deliver(app: &TestApp, event: &str, delivery: &str, body: &[u8]) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            sha256_signature(WEBHOOK_SECRET, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("deliver");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn push_payload(after: &str) -> Vec<u8> {
    json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "deleted": false,
        "repository": {
            "full_name": "Acme/API",
            "html_url": "https://github.com/Acme/API",
            "default_branch": "main"
        },
        "commits": []
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn unsigned_deliveries_are_refused_before_their_body_is_read() {
    // No secret configured: 401 while the declared 24 MB body is still unsent.
    let app = TestApp::spawn().await;
    let signature = sha256_signature("anything", b"{}");
    let mut stream = send_head(&app, 24 * 1024 * 1024, Some(&signature)).await;
    let head = answer_head(&mut stream, ANSWER_WITHIN)
        .await
        .expect("an answer without the body being sent");
    assert_eq!(status_of(&head), 401, "{head}");
    app.stop().await;

    // A secret configured: a missing or malformed signature header is 401 before the body too.
    let app = webhook_app().await;
    for signature in [None, Some("sha1=0123"), Some("sha256=not-hex")] {
        let mut stream = send_head(&app, 24 * 1024 * 1024, signature).await;
        let head = answer_head(&mut stream, ANSWER_WITHIN)
            .await
            .unwrap_or_else(|| panic!("no answer for signature {signature:?}"));
        assert_eq!(status_of(&head), 401, "{signature:?}: {head}");
    }
    // A declared body over GitHub's largest payload: 413 before reading it.
    let signature = sha256_signature(WEBHOOK_SECRET, b"{}");
    let mut stream = send_head(&app, 26 * 1024 * 1024, Some(&signature)).await;
    let head = answer_head(&mut stream, ANSWER_WITHIN)
        .await
        .expect("an answer to an oversized declaration");
    assert_eq!(status_of(&head), 413, "{head}");
    app.stop().await;
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_refused() {
    let app = webhook_app().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: d-chunked\r\nTransfer-Encoding: chunked\r\n\
         X-Hub-Signature-256: {}\r\n\r\n",
        app.addr,
        sha256_signature(WEBHOOK_SECRET, b"{}")
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..26 {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break; // the server stopped reading: it has answered
        }
    }
    let head = answer_head(&mut stream, ANSWER_WITHIN)
        .await
        .expect("an answer to an oversized stream");
    assert_eq!(status_of(&head), 413, "{head}");
    app.stop().await;
}

#[tokio::test]
async fn large_bodies_are_read_a_few_at_a_time_and_the_rest_shed_with_retry_after() {
    let app = webhook_app().await;
    let signature = sha256_signature(WEBHOOK_SECRET, b"{}");
    // Open large deliveries whose bodies never come, until one is shed: the earlier ones hold
    // every permit while the server waits for their bodies.
    let mut holders = Vec::new();
    let mut shed = None;
    for _ in 0..20 {
        let mut stream = send_head(&app, LARGE, Some(&signature)).await;
        match answer_head(&mut stream, Duration::from_secs(1)).await {
            Some(head) => {
                shed = Some(head);
                break;
            }
            None => holders.push(stream),
        }
    }
    let shed = shed.expect("a large delivery is shed once the permits are taken");
    assert_eq!(status_of(&shed), 503, "{shed}");
    assert!(
        shed.to_ascii_lowercase().contains("retry-after: "),
        "{shed}"
    );
    assert!(!holders.is_empty(), "the first large delivery was read");

    // Small deliveries need no permit and go through meanwhile.
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let (status, reply) = deliver(&app, "ping", "d-ping", ping).await;
    assert_eq!((status, &reply["status"]), (200, &json!("pong")), "{reply}");

    // Hang up the held deliveries: their permits come back and a large signed body is read.
    drop(holders);
    let mut big = br#"{"zen":"padded","hook_id":2}"#.to_vec();
    big.resize(3 * 1024 * 1024, b' ');
    let mut answered = None;
    for attempt in 0..300 {
        let (status, reply) = deliver(&app, "ping", &format!("d-big-{attempt}"), &big).await;
        if status != 503 {
            answered = Some((status, reply));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, reply) = answered.expect("the permits come back");
    assert_eq!((status, &reply["status"]), (200, &json!("pong")), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn api_bodies_over_the_limit_answer_413() {
    let app = TestApp::spawn().await;
    let token = app.team_token("platform").await;
    let mut url = String::from("https://github.com/acme/");
    url.push_str(&"a".repeat(3 * 1024 * 1024));
    let response = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    app.stop().await;
}

/// Pending crawls of `repository` queued by a push (priority 100).
async fn urgent_crawls(app: &TestApp, repository: i64) -> usize {
    sqlx::query(
        "SELECT payload FROM jobs WHERE kind = 'crawl' AND state = 'pending' AND priority = 100",
    )
    .fetch_all(app.db.store.pool())
    .await
    .expect("jobs")
    .iter()
    .filter(|row| {
        let payload: String = row.get("payload");
        let payload: Value = serde_json::from_str(&payload).expect("payload JSON");
        payload["repository_id"].as_i64() == Some(repository)
    })
    .count()
}

/// The crawls queued so far ran.
async fn run_crawls(app: &TestApp) {
    sqlx::query("UPDATE jobs SET state = 'done' WHERE kind = 'crawl' AND state = 'pending'")
        .execute(app.db.store.pool())
        .await
        .expect("finish crawls");
}

#[tokio::test]
async fn the_same_push_under_a_new_delivery_id_queues_nothing() {
    let app = webhook_app().await;
    let team = app.db.store.create_team("platform").await.expect("team");
    let url = RepositoryUrl::parse("https://github.com/acme/api").expect("url");
    let repo = app
        .db
        .store
        .add_repository(team.id, &url, None)
        .await
        .expect("repository");
    let first = push_payload("ce013625030ba8dba906f756967f9e9ca394464a");

    let (status, reply) = deliver(&app, "push", "d-1", &first).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({ "status": "queued", "repositories": [repo.id] })
    );
    run_crawls(&app).await;

    // The same body under another delivery id (a second webhook, a replay): nothing queued.
    let (status, reply) = deliver(&app, "push", "d-2", &first).await;
    assert_eq!((status, &reply), (200, &json!({ "status": "duplicate" })));
    assert_eq!(urgent_crawls(&app, repo.id).await, 0);

    // A new push is queued, and so is a force push back to the first commit.
    let second = push_payload("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
    let (status, reply) = deliver(&app, "push", "d-3", &second).await;
    assert_eq!(
        (status, &reply["status"]),
        (200, &json!("queued")),
        "{reply}"
    );
    assert_eq!(urgent_crawls(&app, repo.id).await, 1);
    run_crawls(&app).await;
    let (status, reply) = deliver(&app, "push", "d-4", &first).await;
    assert_eq!(
        (status, &reply["status"]),
        (200, &json!("queued")),
        "{reply}"
    );
    assert_eq!(urgent_crawls(&app, repo.id).await, 1);

    // A push without its `after` commit is malformed.
    let mut payload: Value = serde_json::from_slice(&first).expect("JSON");
    payload.as_object_mut().expect("object").remove("after");
    let body = payload.to_string().into_bytes();
    let (status, reply) = deliver(&app, "push", "d-5", &body).await;
    assert_eq!(status, 422, "{reply}");
    app.stop().await;
}
