//! Real git repositories in temporary directories, for registration and crawl tests.

use std::path::Path;
use std::process::Command;

/// A git work tree on branch `main` in a temporary directory.
pub struct GitRepo {
    pub dir: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "upkeep tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.invalid")
        .env("GIT_COMMITTER_NAME", "upkeep tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl GitRepo {
    /// An empty repository (no commits yet).
    pub fn init() -> GitRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
        GitRepo { dir }
    }

    /// A repository with one commit holding `files`.
    pub fn with_files(files: &[(&str, &str)]) -> GitRepo {
        let repo = GitRepo::init();
        for (path, text) in files {
            repo.write(path, text);
        }
        repo.commit("initial");
        repo
    }

    pub fn path(&self) -> &str {
        self.dir.path().to_str().expect("UTF-8 temp path")
    }

    /// Write a file (text, or bytes that need not be UTF-8).
    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(path, text).expect("write file");
    }

    pub fn remove(&self, rel: &str) {
        git(self.dir.path(), &["rm", "--quiet", "--", rel]);
    }

    /// Commit everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        git(self.dir.path(), &["add", "--all"]);
        git(
            self.dir.path(),
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        git(self.dir.path(), &["rev-parse", "HEAD"])
    }
}
