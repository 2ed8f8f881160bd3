//! `upkeep scan PATH` end to end: the real binary on a small project tree (Cargo, npm, pip)
//! against local fake registries (a Cargo sparse index, an npm registry and PyPI's JSON API on
//! 127.0.0.1) serving recorded responses with `ETag`s and answering `304` to a matching
//! `If-None-Match`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use upkeep_resolvers::Ecosystem;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::fake_registries::FakeRegistries;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan")
}

fn project() -> PathBuf {
    fixtures().join("project")
}

fn recorded(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("registry").join(name)).expect("recorded response")
}

/// What a fake served: path (as sent, still percent-encoded), status, and the request's
/// `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    path: String,
    status: u16,
    if_none_match: Option<String>,
}

#[derive(Clone)]
enum Route {
    /// A `200` with this body, content type and `ETag`; `304` when `If-None-Match` matches.
    Document {
        body: Vec<u8>,
        content_type: &'static str,
        etag: String,
    },
    /// A `404` with this JSON body.
    Missing(&'static str),
}

/// A fake registry: fixed routes by path, every request logged; unknown paths are `404`.
#[derive(Clone)]
struct FakeRegistry {
    routes: Arc<HashMap<String, Route>>,
    log: Arc<Mutex<Vec<Served>>>,
}

impl Respond for FakeRegistry {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let if_none_match = request
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, response) = match self.routes.get(&path) {
            Some(Route::Document {
                body,
                content_type,
                etag,
            }) => {
                if if_none_match.as_deref() == Some(etag.as_str()) {
                    (
                        304,
                        ResponseTemplate::new(304).insert_header("etag", etag.as_str()),
                    )
                } else {
                    (
                        200,
                        ResponseTemplate::new(200)
                            .insert_header("etag", etag.as_str())
                            .set_body_raw(body.clone(), content_type),
                    )
                }
            }
            Some(Route::Missing(body)) => (
                404,
                ResponseTemplate::new(404).set_body_raw(body.as_bytes(), "application/json"),
            ),
            None => (404, ResponseTemplate::new(404).set_body_string("Not Found")),
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Served {
                path,
                status,
                if_none_match,
            });
        response
    }
}

struct Fake {
    server: MockServer,
    log: Arc<Mutex<Vec<Served>>>,
}

impl Fake {
    async fn start(routes: Vec<(&str, Route)>) -> Fake {
        let server = MockServer::start().await;
        let log = Arc::new(Mutex::new(Vec::new()));
        let fake = FakeRegistry {
            routes: Arc::new(
                routes
                    .into_iter()
                    .map(|(path, route)| (path.to_owned(), route))
                    .collect(),
            ),
            log: Arc::clone(&log),
        };
        Mock::given(any()).respond_with(fake).mount(&server).await;
        Fake { server, log }
    }

    fn base(&self) -> String {
        format!("{}/", self.server.uri())
    }

    /// Everything served since the last call.
    fn take(&self) -> Vec<Served> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn document(body: Vec<u8>, content_type: &'static str, etag: &str) -> Route {
    Route::Document {
        body,
        content_type,
        etag: format!("\"{etag}\""),
    }
}

struct Registries {
    cargo: Fake,
    npm: Fake,
    pypi: Fake,
}

impl Registries {
    async fn start() -> Registries {
        let cargo = Fake::start(vec![
            (
                "/config.json",
                document(
                    br#"{"dl":"https://static.crates.io/crates","api":"https://crates.io"}"#
                        .to_vec(),
                    "application/json",
                    "cfg-1",
                ),
            ),
            (
                "/se/mv/semver",
                document(recorded("cargo/semver"), "text/plain", "semver-66"),
            ),
            (
                "/cf/g-/cfg-if",
                document(recorded("cargo/cfg-if"), "text/plain", "cfg-if-17"),
            ),
        ])
        .await;
        // A packument cut off in the middle, as a broken caching proxy would serve it.
        let mut truncated = recorded("npm/querystring.json");
        truncated.truncate(truncated.len() / 2);
        let npm = Fake::start(vec![
            (
                "/querystring",
                document(recorded("npm/querystring.json"), "application/json", "qs-5"),
            ),
            (
                "/@types%2fis-number",
                document(
                    recorded("npm/types-is-number.json"),
                    "application/json",
                    "isnum-7",
                ),
            ),
            (
                "/corp-build-tools",
                document(truncated, "application/json", "corp-truncated"),
            ),
        ])
        .await;
        let pypi = Fake::start(vec![
            (
                "/pypi/attrs/json",
                document(recorded("pypi/attrs.json"), "application/json", "attrs-26"),
            ),
            (
                "/pypi/internal-toolkit/json",
                Route::Missing(r#"{"message": "Not Found"}"#),
            ),
        ])
        .await;
        Registries { cargo, npm, pypi }
    }

    fn take(&self) -> Vec<Served> {
        let mut all = self.cargo.take();
        all.extend(self.npm.take());
        all.extend(self.pypi.take());
        all
    }
}

/// The binary with a clean `UPKEEP_*` environment pointed at the fakes and `cache`.
fn upkeep(registries: &Registries, cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upkeep"));
    command.current_dir(cache);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("UPKEEP_")) {
        command.env_remove(key);
    }
    command
        .env("UPKEEP_REGISTRY_CARGO", registries.cargo.base())
        .env("UPKEEP_REGISTRY_NPM", registries.npm.base())
        .env("UPKEEP_REGISTRY_PYPI", registries.pypi.base())
        .env("UPKEEP_CACHE_DIR", cache.join("cache"))
        .env("RUST_LOG", "off");
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("run upkeep");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scan_json(registries: &Registries, cache: &Path, extra: &[&str]) -> Value {
    let (code, stdout, stderr) = run(upkeep(registries, cache)
        .arg("scan")
        .arg(project())
        .args(["--format", "json"])
        .args(extra));
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The entries named `name` in `manifest`.
fn entries<'a>(doc: &'a Value, manifest: &str, name: &str) -> Vec<&'a Value> {
    doc["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["manifest"] == manifest && d["name"] == name)
        .collect()
}

fn entry<'a>(doc: &'a Value, manifest: &str, name: &str) -> &'a Value {
    let found = entries(doc, manifest, name);
    assert!(!found.is_empty(), "no {name} in {manifest}: {doc:#}");
    found[0]
}

fn assert_resolution(
    doc: &Value,
    manifest: &str,
    name: &str,
    expected: (&str, &str, &str, Option<&str>, Option<&str>),
) {
    let (current, latest, recommended, update, published_at) = expected;
    for e in entries(doc, manifest, name) {
        assert_eq!(e["current"], current, "{name}: {e:#}");
        assert_eq!(e["latest"], latest, "{name}: {e:#}");
        assert_eq!(e["recommended"], recommended, "{name}: {e:#}");
        assert_eq!(e["update"].as_str(), update, "{name}: {e:#}");
        assert_eq!(e["published_at"].as_str(), published_at, "{name}: {e:#}");
    }
    assert!(!entries(doc, manifest, name).is_empty(), "no {name}");
}

fn warnings(doc: &Value) -> Vec<(String, String)> {
    doc["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| {
            (
                w["manifest"].as_str().unwrap_or_default().to_owned(),
                w["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn scan_resolves_each_package_once_then_revalidates_without_downloading() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");

    // Cold cache.
    let doc = scan_json(&registries, cache.path(), &[]);
    assert_resolution(
        &doc,
        "Cargo.toml",
        "semver",
        (
            "1.0.17",
            "1.0.28",
            "1.0.28",
            Some("patch"),
            Some("2026-04-04T00:25:14Z"),
        ),
    );
    assert_eq!(
        entries(&doc, "Cargo.toml", "semver").len(),
        2,
        "normal and build dependency"
    );
    assert_resolution(
        &doc,
        "Cargo.toml",
        "cfg-if",
        (
            "0.1.10",
            "1.0.5",
            "1.0.5",
            Some("major"),
            Some("2026-09-16T17:36:11Z"),
        ),
    );
    assert_resolution(
        &doc,
        "package.json",
        "querystring",
        (
            "0.2.0",
            "0.2.1",
            "0.2.1",
            Some("patch"),
            Some("2024-11-23T04:36:21.579Z"),
        ),
    );
    assert_resolution(
        &doc,
        "package.json",
        "@types/is-number",
        (
            "7.0.3",
            "7.0.5",
            "7.0.5",
            Some("patch"),
            Some("2024-12-13T02:21:49.328Z"),
        ),
    );
    // Not locked: current is the lowest version the requirement allows; 21.1.0 is yanked and
    // 15.0.0a1 a prerelease, neither matters here. Recommended is what the service recommends:
    // the newest release of the current major first (26.1.0 is the separate major).
    assert_resolution(
        &doc,
        "requirements.txt",
        "attrs",
        (
            "21.3",
            "26.1.0",
            "21.4.0",
            Some("major"),
            Some("2026-03-19T14:22:23.645947Z"),
        ),
    );
    assert_resolution(
        &doc,
        "docs/requirements.txt",
        "attrs",
        (
            "21.4.0",
            "26.1.0",
            "26.1.0",
            Some("major"),
            Some("2026-03-19T14:22:23.645947Z"),
        ),
    );

    // Skipped dependencies are not looked up and carry null results.
    let path_dep = entry(&doc, "Cargo.toml", "fixture-helpers");
    assert_eq!(path_dep["skipped"], "path");
    assert!(path_dep["latest"].is_null() && path_dep["update"].is_null());

    // The 404 and the truncated packument are warnings on their dependency; all else printed.
    let warnings = warnings(&doc);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|(manifest, message)| manifest == "requirements.txt"
                && message.starts_with("internal-toolkit: ")
                && message.contains("not found")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|(manifest, message)| manifest == "package.json"
                && message.starts_with("corp-build-tools: ")
                && message.contains("malformed")),
        "{warnings:?}"
    );
    for (manifest, name) in [
        ("requirements.txt", "internal-toolkit"),
        ("package.json", "corp-build-tools"),
    ] {
        let failed = entry(&doc, manifest, name);
        assert!(failed["skipped"].is_null());
        assert!(failed["latest"].is_null() && failed["recommended"].is_null());
    }
    // ... and each says why on the dependency itself.
    assert_eq!(
        entry(&doc, "requirements.txt", "internal-toolkit")["problem"]["code"],
        "not_found"
    );
    assert_eq!(
        entry(&doc, "package.json", "corp-build-tools")["problem"]["code"],
        "registry_error"
    );
    assert!(entry(&doc, "Cargo.toml", "semver")["problem"].is_null());

    // Each unique package was requested exactly once, the index config once.
    let served = registries.take();
    let mut per_path: HashMap<&str, usize> = HashMap::new();
    for s in &served {
        *per_path.entry(s.path.as_str()).or_default() += 1;
    }
    let mut paths: Vec<_> = per_path.keys().copied().collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/@types%2fis-number",
            "/cf/g-/cfg-if",
            "/config.json",
            "/corp-build-tools",
            "/pypi/attrs/json",
            "/pypi/internal-toolkit/json",
            "/querystring",
            "/se/mv/semver",
        ]
    );
    assert!(per_path.values().all(|n| *n == 1), "{served:?}");
    assert!(
        served.iter().all(|s| s.if_none_match.is_none()),
        "{served:?}"
    );

    // Warm cache, a new process: only conditional requests, every one answered 304 (the 404
    // has nothing to revalidate and is asked again), and the same answer.
    let again = scan_json(&registries, cache.path(), &[]);
    assert_eq!(again, doc);
    let served = registries.take();
    assert_eq!(served.len(), 8, "{served:?}");
    assert!(
        served.iter().all(|s| s.status != 200),
        "no bodies the second time: {served:?}"
    );
    for s in &served {
        if s.path == "/pypi/internal-toolkit/json" {
            assert_eq!(s.status, 404);
        } else {
            assert_eq!(s.status, 304, "{s:?}");
            assert!(s.if_none_match.is_some(), "{s:?}");
        }
    }

    // The table: current → latest with the kind of update, grouped by manifest.
    let (code, table, stderr) = run(upkeep(&registries, cache.path()).arg("scan").arg(project()));
    assert_eq!(code, 0, "{stderr}");
    assert!(table.contains("Cargo.toml (cargo)"), "{table}");
    let semver_line = table
        .lines()
        .find(|l| l.trim_start().starts_with("semver ") && l.contains("1.0.17 "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        semver_line.contains("1.0.17 \u{2192} 1.0.28  (patch)"),
        "{table}"
    );
    assert!(table.contains("0.1.10 \u{2192} 1.0.5  (major)"), "{table}");
    assert!(table.contains("[skipped: path]"), "{table}");
    assert!(
        table.contains("internal-toolkit: package not found"),
        "{table}"
    );
    assert!(
        table.contains("outdated (3 major, 0 minor, 4 patch)"),
        "{table}"
    );
    // stderr is not a terminal here: no progress bar.
    assert!(!stderr.contains("resolving"), "{stderr}");
    assert!(registries.take().iter().all(|s| s.status != 200));
}

#[tokio::test]
async fn offline_scan_makes_no_request_and_needs_no_configuration() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--offline", "--format", "json"])
        .arg(project())
        // A broken database URL does not matter to a scan.
        .env("UPKEEP_DATABASE_URL", "mysql://nowhere"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(registries.take(), [], "offline makes no request");
    assert!(
        !cache.path().join("cache").exists(),
        "offline builds no HTTP client and writes no cache"
    );
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(doc["dependencies"][0].get("latest").is_none(), "{doc:#}");
    insta::assert_snapshot!("offline_json", stdout);
}

#[tokio::test]
async fn online_scan_survives_a_bad_configuration_with_defaults() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--format", "json"])
        .arg(project())
        .env("UPKEEP_DATABASE_URL", "mysql://nowhere"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("UPKEEP_DATABASE_URL"), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    // The registry overrides from the environment were kept.
    assert_eq!(entry(&doc, "Cargo.toml", "cfg-if")["latest"], "1.0.5");
    assert!(cache.path().join("cache/http").is_dir());
}

#[tokio::test]
async fn fail_on_exits_3_when_an_update_that_large_exists() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    // The project has a major (cfg-if 0.1 → 1.0) and patches.
    let (code, table, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--fail-on", "major"])
        .arg(project()));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("major"), "{stderr}");
    assert!(
        table.contains("(major)"),
        "the table is printed too: {table}"
    );

    // Only a patch (semver 1.0.17 → 1.0.28): `minor` passes, `patch` fails.
    let tree = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        tree.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nsemver = \"1.0.17\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--fail-on", "minor"])
        .arg(tree.path()));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--fail-on", "patch"])
        .arg(tree.path()));
    assert_eq!(code, 3, "{stderr}");
}

#[tokio::test]
async fn a_single_file_can_be_scanned_and_one_warning_is_singular() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    // requirements.txt alone: internal-toolkit is unknown to the registry, one warning.
    let (code, table, stderr) = run(upkeep(&registries, cache.path())
        .arg("scan")
        .arg(project().join("requirements.txt")));
    assert_eq!(code, 0, "{stderr}");
    assert!(table.contains("requirements.txt (python)"), "{table}");
    assert!(!table.contains("Cargo.toml"), "only that file: {table}");
    assert!(table.contains("2 dependencies"), "{table}");
    assert!(table.trim_end().ends_with(", 1 warning"), "{table}");

    // A manifest brings the lockfile beside it: the locked version is the current one.
    let doc: Value = {
        let (code, stdout, stderr) = run(upkeep(&registries, cache.path())
            .args(["scan", "--offline", "--format", "json"])
            .arg(project().join("Cargo.toml")));
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).expect("JSON")
    };
    let cfg_if = entry(&doc, "Cargo.toml", "cfg-if");
    assert_eq!(cfg_if["locked"], "0.1.10", "{doc:#}");
    assert!(
        entries(&doc, "package.json", "querystring").is_empty(),
        "{doc:#}"
    );

    let (code, _, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--offline"])
        .arg(project().join("README.md")));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot scan"), "{stderr}");
}

#[tokio::test]
async fn direct_hides_lockfile_only_entries() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    let tree = tempfile::tempdir().expect("temp dir");
    std::fs::copy(project().join("Cargo.toml"), tree.path().join("Cargo.toml")).unwrap();
    let mut lock = std::fs::read_to_string(project().join("Cargo.lock")).unwrap();
    lock.push_str(
        "\n[[package]]\nname = \"autocfg\"\nversion = \"1.1.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    std::fs::write(tree.path().join("Cargo.lock"), lock).unwrap();
    let scan = |extra: &[&str]| {
        let (code, table, stderr) = run(upkeep(&registries, cache.path())
            .args(["scan", "--offline"])
            .args(extra)
            .arg(tree.path()));
        assert_eq!(code, 0, "{stderr}");
        table
    };
    let all = scan(&[]);
    assert!(
        all.contains("autocfg") && all.contains("transitive"),
        "{all}"
    );
    let direct = scan(&["--direct"]);
    assert!(!direct.contains("autocfg"), "{direct}");
    assert!(direct.contains("cfg-if"), "{direct}");
}

#[tokio::test]
async fn an_unversioned_requirement_shows_as_any_version_and_is_not_skipped() {
    let registries = Registries::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("requirements-dev.txt"), "requests\n").expect("write");
    let (code, stdout, stderr) = run(upkeep(&registries, cache.path())
        .args(["scan", "--offline"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("requests "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns, vec!["requests", "*", "dev"], "{stdout}");
}

/// A tree declaring its runtimes (`requires-python = ">=3.8"`, `.nvmrc` 16, `rust-version` 1.70
/// beside `rust-toolchain` 1.75.0) against registries whose releases state what they need (PyPI `requires_python`, npm
/// `engines.node`, the crates index's `rust_version`): nothing its runtime cannot run is
/// recommended, and the scan says which newer release is held back and why.
#[tokio::test]
async fn releases_the_declared_runtime_cannot_run_are_not_recommended_and_the_scan_says_why() {
    let registries = FakeRegistries::start().await;
    registries.set_versions_requiring(
        Ecosystem::Pypi,
        "django",
        &[
            ("4.2.0", Some(">=3.8")),
            ("4.2.20", Some(">=3.8")),
            ("5.2.8", Some(">=3.10")),
            ("6.1.3", Some(">=3.12")),
        ],
    );
    registries.set_versions_requiring(
        Ecosystem::Npm,
        "left-pad",
        &[
            ("1.0.0", Some(">=10")),
            ("1.3.0", Some(">=14")),
            ("1.4.0", Some(">=20")),
        ],
    );
    registries.set_versions_requiring(
        Ecosystem::Cargo,
        "semverish",
        &[
            ("1.0.0", None),
            ("1.1.0", Some("1.60")),
            ("1.2.0", Some("1.80")),
        ],
    );
    let tree = tempfile::tempdir().expect("temp dir");
    let write =
        |name: &str, text: &str| std::fs::write(tree.path().join(name), text).expect("write");
    write(
        "pyproject.toml",
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"django==4.2.0\"]\n",
    );
    write(
        "package.json",
        r#"{"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.0.0"}}"#,
    );
    write(".nvmrc", "16\n");
    write(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nrust-version = \"1.70\"\n\n[dependencies]\nsemverish = \"1.0\"\n",
    );
    write("rust-toolchain", "1.75.0\n");

    let scan = |format: &'static str| {
        let urls: Vec<(&str, String)> = [
            ("UPKEEP_REGISTRY_PYPI", Ecosystem::Pypi),
            ("UPKEEP_REGISTRY_NPM", Ecosystem::Npm),
            ("UPKEEP_REGISTRY_CARGO", Ecosystem::Cargo),
        ]
        .into_iter()
        .map(|(key, ecosystem)| (key, registries.base_url(ecosystem).expect("served")))
        .collect();
        let path = tree.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let cache = tempfile::tempdir().expect("temp dir");
            let mut command = Command::new(env!("CARGO_BIN_EXE_upkeep"));
            command.current_dir(cache.path());
            for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("UPKEEP_")) {
                command.env_remove(key);
            }
            command
                .envs(urls)
                .env("UPKEEP_CACHE_DIR", cache.path().join("cache"))
                .env("RUST_LOG", "off")
                .arg("scan")
                .arg(&path)
                .args(["--format", format]);
            run(&mut command)
        })
    };
    let (code, stdout, stderr) = scan("json").await.expect("the scan thread");
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    // Python 3.8: django stays on 4.2 (5.2 needs 3.10, 6.1 needs 3.12); 6.1.3 is named.
    let django = entry(&doc, "pyproject.toml", "django");
    assert_eq!(django["latest"], "6.1.3", "{django:#}");
    assert_eq!(django["recommended"], "4.2.20", "{django:#}");
    assert_eq!(
        django["blocked_by_runtime"],
        json!({"version": "6.1.3", "runtime": "python", "requires": ">=3.12", "runtime_version": "3.8"}),
        "{django:#}"
    );
    // Node.js 16 (`.nvmrc`): within the major, 1.4.0 needs 20; 1.3.0 is the newest it runs.
    let left_pad = entry(&doc, "package.json", "left-pad");
    assert_eq!(left_pad["latest"], "1.4.0", "{left_pad:#}");
    assert_eq!(left_pad["recommended"], "1.3.0", "{left_pad:#}");
    assert_eq!(
        left_pad["blocked_by_runtime"],
        json!({"version": "1.4.0", "runtime": "node", "requires": ">=20", "runtime_version": "16.0.0"}),
        "{left_pad:#}"
    );
    // Rust 1.70 (`rust-version`, below the `rust-toolchain` 1.75.0): 1.2.0 has
    // `rust-version = "1.80"`.
    let semverish = entry(&doc, "Cargo.toml", "semverish");
    assert_eq!(semverish["recommended"], "1.1.0", "{semverish:#}");
    assert_eq!(
        semverish["blocked_by_runtime"]["version"], "1.2.0",
        "{semverish:#}"
    );
    assert_eq!(semverish["blocked_by_runtime"]["runtime_version"], "1.70.0");

    let (code, table, stderr) = scan("table").await.expect("the scan thread");
    assert_eq!(code, 0, "{stderr}");
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}: {table}"))
            .to_owned()
    };
    assert!(
        line("django")
            .contains("recommended 4.2.20; 6.1.3 needs Python >=3.12 (declared: Python 3.8)"),
        "{table}"
    );
    assert!(
        line("left-pad")
            .contains("recommended 1.3.0; 1.4.0 needs Node.js >=20 (declared: Node.js 16.0.0)"),
        "{table}"
    );
    assert!(
        line("semverish").contains("1.2.0 needs Rust >=1.80 (declared: Rust 1.70.0)"),
        "{table}"
    );
    registries.stop().await;
}
