//! npm manager: `package.json`, the lockfiles of npm (`package-lock.json`,
//! `npm-shrinkwrap.json`), yarn (`yarn.lock`, classic and berry) and pnpm (`pnpm-lock.yaml`), and
//! the Node version files `.nvmrc` and `.node-version`.

mod json;
mod locks;
mod package_json;

use super::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, file_name};
use crate::Ecosystem;

/// The lockfiles this manager reads.
pub const LOCKFILE_NAMES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
];

pub fn matches(path: &str) -> bool {
    matches!(
        file_name(path),
        "package.json"
            | "package-lock.json"
            | "npm-shrinkwrap.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | ".nvmrc"
            | ".node-version"
    )
}

pub fn extract(path: &str, text: &str) -> Extraction {
    match file_name(path) {
        "package.json" => package_json::extract(text),
        "package-lock.json" | "npm-shrinkwrap.json" => locks::package_lock(text),
        "yarn.lock" => locks::yarn_lock(text),
        "pnpm-lock.yaml" => locks::pnpm_lock(text),
        ".nvmrc" | ".node-version" => node_version_file(text),
        other => Extraction {
            warnings: vec![Warning::new(format!("`{other}` is not an npm file"))],
            ..Extraction::default()
        },
    }
}

/// `.nvmrc` / `.node-version`: the first line that is not blank or a comment names the Node
/// version (`20.11.0`, `v20`, or an alias like `lts/iron` that no registry version matches).
fn node_version_file(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.split('#').next().unwrap_or_default();
        let trimmed = content.trim();
        if trimmed.is_empty() {
            continue;
        }
        let lead = content.len() - content.trim_start().len();
        let span = Span::new(start + lead, start + lead + trimmed.len());
        let mut dep = Dependency::at("node", Ecosystem::Toolchain, text, span)
            .kind(DependencyKind::Toolchain);
        if !is_numeric_version(trimmed) {
            dep = dep.skip(SkipReason::NoVersion);
        }
        out.dependencies.push(dep);
        break;
    }
    out
}

/// `20`, `v20.11.0`, `20.x`: a version with a number in front (not an alias like `lts/*`).
pub(crate) fn is_numeric_version(v: &str) -> bool {
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    v.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Split `name@version` where the name may be scoped (`@scope/name@1.0.0`).
pub(crate) fn split_name_version(spec: &str) -> Option<(&str, &str)> {
    let at = spec.get(1..)?.find('@')? + 1;
    Some((spec.get(..at)?, spec.get(at + 1..)?))
}

#[cfg(test)]
mod tests;
