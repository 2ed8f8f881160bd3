//! The HTTP API at its boundary: the app on a real port and a fresh database (SQLite, or
//! PostgreSQL when `UPKEEP_TEST_DATABASE_URL` is set).

use serde_json::{Value, json};

use crate::support::app::{ADMIN_TOKEN, TestApp};
use crate::support::git;

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(json_of(ready).await["status"], "ready");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "upkeep_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("upkeep_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("upkeep_job_queue_depth"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.store.close().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "liveness does not depend on the database"
    );
}

#[tokio::test]
async fn request_ids_are_kept_or_generated() {
    let app = TestApp::spawn().await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let generated = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    app.stop().await;
}

#[tokio::test]
async fn authentication_is_required() {
    let app = TestApp::spawn().await;
    let none = app
        .client
        .get(app.url("/api/v1/repositories"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body = json_of(none).await;
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization")
    );
    let wrong = app
        .client
        .get(app.url("/api/v1/repositories"))
        .bearer_auth("upk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let team = app.team_token("acme").await;
    let forbidden = app
        .client
        .post(app.url("/api/v1/teams"))
        .bearer_auth(&team)
        .json(&json!({"name": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403, "team tokens cannot create teams");
    app.stop().await;
}

#[tokio::test]
async fn register_list_get_and_delete_repositories() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    // Registration checks the repository exists, so these are real (local) git repositories.
    let first_repo = git::GitRepo::with_files(&[]);
    let others = [git::GitRepo::with_files(&[]), git::GitRepo::with_files(&[])];
    let created = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("{}/", first_repo.path())}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let repo = json_of(created).await;
    assert_eq!(repo["url"], format!("file://{}", first_repo.path()));
    assert_eq!(repo["provider"], "local");
    assert_eq!(repo["full_name"], first_repo.path());
    assert_eq!(repo["default_branch"], "main");

    let duplicate = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("file://{}", first_repo.path())}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    assert_eq!(json_of(duplicate).await["error"]["code"], "conflict");

    for url in [json!(others[0].path()), json!(others[1].path())] {
        let response = app
            .client
            .post(app.url("/api/v1/repositories"))
            .bearer_auth(&token)
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{url}");
    }

    let first = json_of(
        app.client
            .get(app.url("/api/v1/repositories?limit=2"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_i64().expect("a next cursor");
    let second = json_of(
        app.client
            .get(app.url(&format!("/api/v1/repositories?limit=2&after={next}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["provider"], "local");
    assert!(second["next"].is_null());

    let id = repo["id"].as_i64().unwrap();
    let one = app
        .client
        .get(app.url(&format!("/api/v1/repositories/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/repositories/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .client
        .get(app.url(&format!("/api/v1/repositories/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(json_of(gone).await["error"]["code"], "not_found");

    // Both changes are in the journal, in order.
    let events = app
        .db
        .store
        .events_after(&upkeep::store::events::EventFilter {
            after: 0,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "repository_upserted",
            "repository_upserted",
            "repository_upserted",
            "repository_deleted"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = TestApp::spawn().await;
    let token = app.team_token("acme").await;
    let post = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/repositories"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let malformed = post("{\"url\": ").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        json_of(malformed).await["error"]["code"],
        "malformed_request"
    );

    let missing = post("{}").await.unwrap();
    assert_eq!(missing.status(), 422);
    assert!(
        json_of(missing).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("url")
    );

    // A path parameter of the wrong type gets the same JSON error shape.
    for path in [
        "/api/v1/repositories/abc",
        "/api/v1/repositories/9223372036854775808/dependencies",
        "/api/v1/subscriptions/x/deliveries",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body = json_of(response).await;
        assert_eq!(body["error"]["code"], "malformed_request", "{path}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid path: "),
            "{body}"
        );
    }

    let invalid = post("{\"url\": \"ftp://example.com/x\"}").await.unwrap();
    assert_eq!(invalid.status(), 422);
    let message = json_of(invalid).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.starts_with("url:"), "{message}");

    let credentials = post("{\"url\": \"https://user:secret@github.com/a/b\"}")
        .await
        .unwrap();
    assert_eq!(credentials.status(), 422);

    let bad_limit = app
        .client
        .get(app.url("/api/v1/repositories?limit=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_limit.status(), 422);
    let bad_query = app
        .client
        .get(app.url("/api/v1/repositories?limit=many"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_query.status(), 400);
    let bad_id = app
        .client
        .get(app.url("/api/v1/repositories/abc"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);

    let unknown = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json_of(unknown).await["error"]["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn teams_are_isolated() {
    let app = TestApp::spawn().await;
    let a = app.team_token("team-a").await;
    let b = app.team_token("team-b").await;
    let secret = git::GitRepo::with_files(&[]);
    let repo = json_of(
        app.client
            .post(app.url("/api/v1/repositories"))
            .bearer_auth(&b)
            .json(&json!({"url": secret.path()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = repo["id"].as_i64().unwrap();

    let list = json_of(
        app.client
            .get(app.url("/api/v1/repositories"))
            .bearer_auth(&a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "team A sees none of team B's repositories"
    );
    let fetch = app
        .client
        .get(app.url(&format!("/api/v1/repositories/{id}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch.status(), 403);
    let delete = app
        .client
        .delete(app.url(&format!("/api/v1/repositories/{id}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    let for_other = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&a)
        .json(&json!({"url": "https://github.com/x/y", "team": "team-b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(for_other.status(), 403);

    let admin = json_of(
        app.client
            .get(app.url("/api/v1/repositories"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        admin["items"].as_array().unwrap().len(),
        1,
        "the admin sees every team"
    );
    app.stop().await;
}

/// Crawls recorded for `repository` so far.
async fn crawls_of(app: &TestApp, repository: i64) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM crawls WHERE repository_id = $1")
        .bind(repository)
        .fetch_one(app.db.store.pool())
        .await
        .expect("count crawls")
        .get::<i64, _>("n")
}

#[tokio::test]
async fn a_crawl_can_be_asked_for_now() {
    let app = TestApp::spawn().await;
    let owner = app.team_token("owners").await;
    let other = app.team_token("others").await;
    let repo = git::GitRepo::with_files(&[("requirements.txt", "django==3.2.0\n")]);
    let registered = json_of(
        app.client
            .post(app.url("/api/v1/repositories"))
            .bearer_auth(&owner)
            .json(&json!({"url": repo.path()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = registered["id"].as_i64().expect("an id");
    let idle = std::time::Duration::from_mins(1);
    crate::support::app::wait_for_idle_queue(&app.db.store, idle).await;
    let before = crawls_of(&app, id).await;
    assert_eq!(before, 1, "the registration crawled once");

    let crawl = |token: String, id: i64| {
        app.client
            .post(app.url(&format!("/api/v1/repositories/{id}/crawl")))
            .bearer_auth(token)
            .send()
    };
    let answer = crawl(owner.clone(), id).await.unwrap();
    assert_eq!(answer.status(), 202);
    let body = json_of(answer).await;
    assert_eq!(body["repository_id"], id, "{body}");
    crate::support::app::wait_for_idle_queue(&app.db.store, idle).await;
    assert_eq!(crawls_of(&app, id).await, before + 1, "one more crawl ran");

    let admin = crawl(ADMIN_TOKEN.to_owned(), id).await.unwrap();
    assert_eq!(admin.status(), 202, "the admin may crawl any repository");
    let foreign = crawl(other.clone(), id).await.unwrap();
    assert_eq!(foreign.status(), 403, "like GET, another team's repository");
    assert_eq!(json_of(foreign).await["error"]["code"], "forbidden");
    let unknown = crawl(owner.clone(), id + 1000).await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json_of(unknown).await["error"]["code"], "not_found");
    let anonymous = app
        .client
        .post(app.url(&format!("/api/v1/repositories/{id}/crawl")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_is_served_and_stable() {
    let app = TestApp::spawn().await;
    let served = json_of(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let generated = serde_json::to_value(upkeep::api::openapi()).unwrap();
    assert_eq!(served, generated);
    // Path parameters are those in the path template; everything else a list takes is a query.
    for (path, operations) in generated["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let place = parameter["in"].as_str().unwrap();
                let in_template = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    place == "path",
                    in_template,
                    "{method} {path}: `{name}` is declared in {place}"
                );
            }
            // Every list pages one way: {items, next}.
            let reference = operation["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap_or_default();
            let schema = reference.rsplit('/').next().unwrap_or_default();
            let properties = &generated["components"]["schemas"][schema]["properties"];
            if properties.get("items").is_some() {
                assert!(
                    properties.get("next").is_some(),
                    "{method} {path}: {schema} has items but no next"
                );
            }
        }
    }
    let docs = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.url().path().ends_with("/api/docs/"), "{}", docs.url());
    let page = docs.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // Every script and style the page loads comes from this server, none from elsewhere.
    assert!(!page.contains("src=\"http"), "{page}");
    assert!(!page.contains("href=\"http"), "{page}");
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        if asset == "swagger-initializer.js" {
            let script = response.text().await.unwrap();
            assert!(
                script.contains("/api/v1/openapi.json"),
                "the viewer reads the served document: {script}"
            );
        }
    }
    insta::assert_json_snapshot!("openapi", generated, { ".info.version" => "[version]" });
    app.stop().await;
}
