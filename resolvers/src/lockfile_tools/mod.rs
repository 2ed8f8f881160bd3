//! Bringing a lockfile in line with its edited manifests by running the ecosystem's own tool in
//! the working copy (`cargo update`, `npm install --package-lock-only`, `uv lock`, ...). upkeep
//! never writes a lockfile format by hand.
//!
//! The upgrade engine (`crate::upgrade`) calls a [`LockfileUpdater`] once per affected
//! lockfile, after the manifest edits; `LockfileTools` is the one that runs the real tools.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use serde::Serialize;

use crate::Manager;

/// One package the lockfile must now pin at `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedTarget {
    /// The package name as the ecosystem's tool spells it (crate, npm package, PyPI project,
    /// Go module path).
    pub name: String,
    /// The version the lockfile must pin afterwards.
    pub version: String,
    /// Whether the manifest's requirement was edited for it (`false`: a lockfile-only update).
    pub manifest_changed: bool,
}

/// What to bring in line: the lockfile at `lockfile` (relative to `root`, `/`-separated), read
/// by `manager`, after the manifest edits that `targets` describe.
#[derive(Debug, Clone, Copy)]
pub struct LockfileRequest<'a> {
    /// The working copy's root.
    pub root: &'a Path,
    /// The lockfile's path relative to `root` (`Cargo.lock`, `web/package-lock.json`).
    pub lockfile: &'a str,
    pub manager: Manager,
    pub targets: &'a [LockedTarget],
}

/// How running a lockfile's tool ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LockfileOutcome {
    /// The tool ran and succeeded; the lockfile on disk is the tool's.
    Updated { tool: String, output: String },
    /// The tool is not installed: the lockfile is left as it was (not an error).
    ToolMissing { tool: String },
    /// upkeep has no tool for this lockfile format: the lockfile is left as it was.
    Unsupported { lockfile: String },
    /// The tool failed or ran out of time; `message` says which and why, `output` is its trimmed
    /// output. The caller rolls the update back.
    Failed {
        tool: String,
        message: String,
        output: String,
    },
}

/// A boxed future, as [`LockfileUpdater::update`] returns.
pub type UpdateFuture<'a> = Pin<Box<dyn Future<Output = LockfileOutcome> + Send + 'a>>;

/// Brings one lockfile in line. The engine depends on this trait, so tests can count calls or
/// fail on purpose without running any tool.
pub trait LockfileUpdater: Sync {
    fn update<'a>(&'a self, request: LockfileRequest<'a>) -> UpdateFuture<'a>;
}
