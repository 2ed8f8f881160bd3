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
    assert!(stderr.contains("cannot read the repository"), "{stderr}");
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
    let (code, _, _) = run(upkeep(dir.path()).args(["repo", "remove", "1"]));
    assert_eq!(code, 0);
    let (_, listed, _) = run(upkeep(dir.path()).args(["repo", "list"]));
    assert!(listed.trim().is_empty(), "{listed}");
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
}
