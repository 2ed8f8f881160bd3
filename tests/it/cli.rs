//! The `upkeep` binary at its boundary: exit codes, one-line errors, admin commands, and `serve`
//! answering and shutting down gracefully.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::git;

fn upkeep(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upkeep"));
    command.current_dir(dir);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("UPKEEP_")) {
        command.env_remove(key);
    }
    // The git repositories these tests register as local paths live in the temporary directory.
    command.env(
        "UPKEEP_LOCAL_REPOSITORY_ROOTS",
        std::fs::canonicalize(std::env::temp_dir()).expect("the temporary directory"),
    );
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

#[test]
fn a_malformed_database_url_is_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://localhost/x", "postgres://", "not a url"] {
        let (code, _, stderr) = run(upkeep(dir.path())
            .arg("migrate")
            .env("UPKEEP_DATABASE_URL", url));
        assert_eq!(code, 2, "{url}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("UPKEEP_DATABASE_URL"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bad_configuration_values_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(upkeep(dir.path())
        .arg("migrate")
        .env("UPKEEP_LISTEN", "nowhere"));
    assert_eq!(code, 2);
    assert!(stderr.contains("UPKEEP_LISTEN"), "{stderr}");
    std::fs::write(dir.path().join("bad.toml"), "listen = [").unwrap();
    let (code, _, stderr) = run(upkeep(dir.path()).args(["--config", "bad.toml", "migrate"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["worker", "--help"],
        vec!["migrate", "--help"],
        vec!["scan", "--help"],
        vec!["team", "create", "--help"],
        vec!["token", "create", "--help"],
        vec!["repo", "add", "--help"],
        vec!["repo", "list", "--help"],
        vec!["repo", "remove", "--help"],
        vec!["repo", "show", "--help"],
        vec!["repo", "crawl", "--help"],
        vec!["deps", "--help"],
        vec!["fleet", "usages", "--help"],
    ] {
        let (code, stdout, _) = run(upkeep(dir.path()).args(&args));
        assert_eq!(code, 0, "{args:?}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
    }
}

#[test]
fn teams_tokens_and_repositories_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(upkeep(dir.path()).args(["team", "create", "acme"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created team acme"));
    assert!(
        dir.path().join("upkeep.db").exists(),
        "the default SQLite file is created in the working directory"
    );
    let (code, token, _) = run(upkeep(dir.path()).args(["token", "create", "--team", "acme"]));
    assert_eq!(code, 0);
    assert!(token.trim().starts_with("upk_"), "{token}");
    // Registration checks the repository exists: a real git repository, and a plain directory.
    let not_git = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(upkeep(dir.path()).args([
        "repo",
        "add",
        not_git.path().to_str().unwrap(),
        "--team",
        "acme",
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read this repository"), "{stderr}");
    let repo_dir = git::GitRepo::with_files(&[("README.md", "hello\n")]);
    let path = repo_dir.path();
    let (code, stdout, stderr) =
        run(upkeep(dir.path()).args(["repo", "add", path, "--team", "acme"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("local"), "{stdout}");
    let (code, _, stderr) = run(upkeep(dir.path()).args(["repo", "add", path, "--team", "acme"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("already registered"), "{stderr}");
    let (_, listed, _) = run(upkeep(dir.path()).args(["repo", "list"]));
    assert!(listed.contains(path), "{listed}");
    let header = listed.lines().next().unwrap_or_default();
    for column in ["ID", "TEAM", "LAST CRAWL", "URL"] {
        assert!(header.contains(column), "{listed}");
    }
    assert!(listed.contains("acme"), "the team is shown: {listed}");
    let (code, stdout, stderr) = run(upkeep(dir.path()).args(["repo", "crawl", "1"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("crawl of"), "{stdout}");
    let (code, _, stderr) = run(upkeep(dir.path()).args(["repo", "crawl", "7"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("no repository with id 7"), "{stderr}");
    let (code, _, _) = run(upkeep(dir.path()).args(["repo", "remove", "1"]));
    assert_eq!(code, 0);
    let (_, listed, _) = run(upkeep(dir.path()).args(["repo", "list"]));
    assert!(listed.contains("no repositories registered"), "{listed}");
}

#[test]
fn read_only_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["repo", "list"],
        vec!["repo", "show", "1"],
        vec!["deps", "1"],
        vec!["fleet", "usages", "django"],
        vec!["team", "list"],
    ] {
        let (code, stdout, stderr) = run(upkeep(dir.path()).args(&args));
        assert_eq!(code, 1, "{args:?}: {stdout}");
        assert!(stderr.contains("no database at"), "{args:?}: {stderr}");
        assert!(stderr.contains("upkeep.db"), "{args:?}: {stderr}");
        assert!(
            !dir.path().join("upkeep.db").exists(),
            "{args:?} created an empty database"
        );
    }
}

#[test]
fn the_cli_finds_the_services_database_like_the_service() {
    let service = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(upkeep(service.path()).args(["team", "create", "acme"]));
    assert_eq!(code, 0, "{stderr}");
    let file = service.path().join("upkeep.db");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("using the database") && l.contains(file.to_str().unwrap())),
        "without configuration it says which database it opened: {stderr}"
    );
    let url = format!("sqlite://{}", file.display());

    // The environment variable, from another directory.
    let (code, stdout, stderr) = run(upkeep(elsewhere.path())
        .args(["team", "list"])
        .env("UPKEEP_DATABASE_URL", &url));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("acme"), "{stdout}");
    assert!(!stderr.contains("using the database"), "{stderr}");

    // The service's configuration file, by --config and by UPKEEP_CONFIG.
    let config = elsewhere.path().join("upkeep.toml");
    std::fs::write(&config, format!("database_url = \"{url}\"\n")).unwrap();
    let (code, stdout, stderr) =
        run(upkeep(elsewhere.path()).args(["--config", config.to_str().unwrap(), "team", "list"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("acme"), "{stdout}");
    let (code, stdout, stderr) = run(upkeep(elsewhere.path())
        .args(["repo", "list"])
        .env("UPKEEP_CONFIG", &config));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("no repositories registered"), "{stdout}");
    assert!(!elsewhere.path().join("upkeep.db").exists());
}

#[cfg(unix)]
#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = upkeep(dir.path())
        .arg("serve")
        .env("UPKEEP_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            break response;
        }
        assert!(Instant::now() < deadline, "serve did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let pid = i32::try_from(child.id()).unwrap();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("admin_token is not set") && log.contains("upkeep team create"),
        "serve without an admin token says no team can be created through the API, and how: {log}"
    );
    assert!(!log.contains('\u{1b}'), "no colour codes in a pipe: {log}");
}

#[test]
fn github_failures_are_one_clear_line_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(upkeep(dir.path()).args(["team", "create", "acme"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(upkeep(dir.path())
        .args(["repo", "add", "https://github.com/acme/x", "--team", "acme"])
        .env("UPKEEP_GITHUB_API_URL", "http://127.0.0.1:9/"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a pipe: {stderr}"
    );
    assert!(
        !stderr.contains("octocrab"),
        "no raw line from the GitHub client library: {stderr}"
    );
    assert!(stderr.contains("GitHub: GET /repos/acme/x"), "{stderr}");
}

/// `repo show`, `deps` and `fleet usages` read what the service stored: the service runs in the
/// test with fake registries, the CLI opens its database.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_shows_what_the_service_knows() {
    use crate::support::app::{TestApp, wait_for_idle_queue};
    use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};
    use upkeep_resolvers::Ecosystem;

    let registries = FakeRegistries::start_with(FakeRegistryOptions::default()).await;
    registries.set_versions(Ecosystem::Pypi, "requests", &["2.30.0", "2.32.3"]);
    registries.set_versions(Ecosystem::Npm, "left-pad", &["1.0.0", "1.3.0", "2.0.0"]);
    let urls = registries.base_urls();
    let app = TestApp::spawn_with(|config| config.registries.extend(urls)).await;
    let token = app.team_token("acme").await;
    let repo = git::GitRepo::with_files(&[
        ("requirements.txt", "requests==2.30.0\n"),
        (
            "package.json",
            r#"{"name": "web", "dependencies": {"left-pad": "1.0.0"}}"#,
        ),
    ]);
    let registered: serde_json::Value = app
        .client
        .post(app.url("/api/v1/repositories"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "url": repo.path() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["id"].as_i64().expect("registered").to_string();
    wait_for_idle_queue(&app.db.store, Duration::from_mins(1)).await;

    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let (code, stdout, stderr) = run(upkeep(dir.path())
            .args(args)
            .env("UPKEEP_DATABASE_URL", &app.db.url));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stdout
    };

    let all = cli(&["deps", &id]);
    let header = all.lines().next().unwrap_or_default();
    for column in [
        "MANIFEST",
        "NAME",
        "CURRENT",
        "LATEST",
        "UPDATE",
        "RECOMMENDED",
    ] {
        assert!(header.contains(column), "{all}");
    }
    let requests = all.lines().find(|l| l.contains("requests")).expect(&all);
    assert!(
        requests.contains("2.30.0") && requests.contains("2.32.3") && requests.contains("minor"),
        "{all}"
    );
    let majors = cli(&["deps", &id, "--kind", "major"]);
    assert!(majors.contains("left-pad"), "{majors}");
    assert!(!majors.contains("requests"), "{majors}");
    let json: serde_json::Value =
        serde_json::from_str(&cli(&["deps", &id, "--outdated", "--format", "json"])).expect("JSON");
    let names: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{json}");
    assert!(
        names.contains(&"requests") && names.contains(&"left-pad"),
        "{json}"
    );

    let shown = cli(&["repo", "show", &id]);
    for expected in [
        "acme",
        "completed",
        "2 dependencies",
        "outdated:    2",
        "warnings:    0",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }

    let usages = cli(&["fleet", "usages", "requests"]);
    let line = usages
        .lines()
        .find(|l| l.contains("requirements.txt"))
        .expect(&usages);
    assert!(line.contains("pypi") && line.contains("2.30.0"), "{usages}");
    let below = cli(&[
        "fleet",
        "usages",
        "requests",
        "--ecosystem",
        "pypi",
        "--below",
        "2.0",
    ]);
    assert!(below.contains("no repository uses this package"), "{below}");
    let (code, _, stderr) = run(upkeep(dir.path())
        .args(["fleet", "usages", "requests", "--ecosystem", "cobol"])
        .env("UPKEEP_DATABASE_URL", &app.db.url));
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown ecosystem"), "{stderr}");
    app.stop().await;
}
