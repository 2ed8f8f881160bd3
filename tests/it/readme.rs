//! The README's first-session block, run as written: extracted from README.md (the fenced block
//! after `<!-- first-session -->`), so the two cannot drift, and run with bash in a local git
//! repository against the built binary, with the registries faked on 127.0.0.1.

use std::path::Path;
use std::process::Command;

use upkeep_resolvers::Ecosystem;

use crate::support::fake_registries::{FakeRegistries, FakeRegistryOptions};
use crate::support::git::GitRepo;

/// The shell block after the `<!-- first-session -->` marker.
fn first_session_block() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let after = readme
        .split_once("<!-- first-session -->")
        .expect("the README marks its first-session block")
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```sh\n")
        .expect("a ```sh block follows the marker");
    body.split_once("\n```")
        .expect("the block is closed")
        .0
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_session_block_works_as_written() {
    let registries = FakeRegistries::start_with(FakeRegistryOptions::default()).await;
    registries.set_versions(Ecosystem::Pypi, "requests", &["2.30.0", "2.31.0", "2.32.3"]);
    let project = GitRepo::with_files(&[("requirements.txt", "requests==2.30.0\n")]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = Path::new(env!("CARGO_BIN_EXE_upkeep"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The test's own wrapper: stop the server however the block ends.
    let script = format!(
        "set -euo pipefail\ntrap 'kill $UPKEEP_PID 2>/dev/null || true' EXIT\n{}\n",
        first_session_block()
    );
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(project.path());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("UPKEEP_")) {
        command.env_remove(key);
    }
    command
        .env("PATH", path)
        .env("UPKEEP_LISTEN", format!("127.0.0.1:{port}"))
        .env("UPKEEP_GITHUB_API_URL", "http://127.0.0.1:9/")
        .env("UPKEEP_JOB_POLL_MS", "50");
    for (key, url) in registries.base_urls() {
        command.env(format!("UPKEEP_REGISTRY_{}", key.to_ascii_uppercase()), url);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log =
        std::fs::read_to_string(Path::new(project.path()).join("upkeep.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}\nlog:\n{log}",
        output.status
    );
    // The dependencies with current, latest and recommended; the recommendation; the CLI table.
    assert!(
        stdout.contains("requirements.txt\trequests\t2.30.0\t2.32.3\t2.32.3"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("requests\tminor\t2.32.3"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("requirements.txt") && l.contains("minor")),
        "the CLI's table: {stdout}"
    );
}
