//! A repository's update policy: `.upkeep.toml` in the repository root and/or the API
//! (`GET`/`PUT /api/v1/repositories/{id}/policy`). Both write the same JSON document into
//! `repositories.policy`; the last writer wins.
//!
//! # `.upkeep.toml`
//!
//! ```toml
//! [policy]
//! # Recommend major updates (default true). Majors are *reported separately*: a dependency can
//! # carry one patch/minor recommendation (the newest release of its current major) and one
//! # `major` recommendation (the newest release overall) at the same time. `false` drops the
//! # `major` one.
//! allow_major = true
//! # Recommend prereleases even when the version in use is a release (default false).
//! allow_prerelease = false
//! # Minimum release age in days before a release is recommended (default 0, at most 365).
//! # Releases whose registry reports no publish time are not held back.
//! cooldown_days = 3
//! # Package names never recommended: glob patterns, `*` = any run of characters, `?` = one.
//! ignore = ["eslint*", "@types/*"]
//! # `bump` (default): every recommendation writes a new requirement (`^1.2` → `^1.4`).
//! # `lockfile-only`: when the target is inside the current requirement and the dependency is
//! # locked, only the lockfile changes (`new_requirement` is null); outside the requirement, or
//! # without a lockfile, the requirement is bumped anyway.
//! range_strategy = "bump"
//!
//! # Versions never recommended for packages matching `name` (a glob): a requirement in the
//! # ecosystem's scheme, or one exact version.
//! [[policy.ignore_versions]]
//! name = "react"
//! versions = ">=19"
//! ```
//!
//! Every key is optional. Unknown keys (at the top level, in `[policy]` or in an
//! `ignore_versions` entry) are errors naming the key, so a typo never silently does nothing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a recommendation changes the requirement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RangeStrategy {
    /// Write a requirement that starts at the target version.
    #[default]
    Bump,
    /// Change only the lockfile while the target is inside the current requirement.
    LockfileOnly,
}

/// Versions never recommended for packages whose name matches `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IgnoreVersions {
    /// Package name glob (`react`, `@babel/*`).
    pub name: String,
    /// A requirement in the package's version scheme (`>=19`), or an exact version.
    pub versions: String,
}

/// The policy of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RepoPolicy {
    /// Package name globs never recommended.
    pub ignore: Vec<String>,
    /// Versions never recommended, per package name glob.
    pub ignore_versions: Vec<IgnoreVersions>,
    /// Recommend majors, as separate `major` recommendations (default `true`).
    pub allow_major: bool,
    /// Recommend prereleases to dependencies on releases (default `false`).
    pub allow_prerelease: bool,
    /// Minimum release age in days (0–365, default 0).
    pub cooldown_days: u32,
    /// `bump` (default) or `lockfile-only`.
    pub range_strategy: RangeStrategy,
}

impl Default for RepoPolicy {
    fn default() -> Self {
        RepoPolicy {
            ignore: Vec::new(),
            ignore_versions: Vec::new(),
            allow_major: true,
            allow_prerelease: false,
            cooldown_days: 0,
            range_strategy: RangeStrategy::Bump,
        }
    }
}

/// A policy field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The field's path (`cooldown_days`, `ignore[2]`, `ignore_versions[0].name`).
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The longest cooldown accepted.
pub const MAX_COOLDOWN_DAYS: u32 = 365;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpkeepToml {
    #[serde(default)]
    policy: RepoPolicy,
}

/// Why `.upkeep.toml` does not hold a policy: the message names the key and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyFileError(pub String);

/// The policy file's name, read from a repository's root (by crawls and by `upkeep scan`).
pub const POLICY_FILE: &str = ".upkeep.toml";

/// The policy file of the tree at `root`: `Ok(None)` when there is none (the default policy
/// applies), an error naming the key and line when it does not hold a valid policy or cannot be
/// read. `upkeep scan` reads it here; a crawl reads the blob and calls [`parse_repo_policy`].
pub fn read_policy_file(root: &std::path::Path) -> Result<Option<RepoPolicy>, PolicyFileError> {
    let path = root.join(POLICY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_repo_policy(&text).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(PolicyFileError(format!(
            "{POLICY_FILE}: cannot be read: {error}"
        ))),
    }
}

/// Parse `.upkeep.toml`; the error names the offending key and line.
pub fn parse_repo_policy(text: &str) -> Result<RepoPolicy, PolicyFileError> {
    let parsed: UpkeepToml = toml::from_str(text).map_err(|e| {
        let line = unknown_key_line(text, e.message()).or_else(|| {
            e.span().map(|span| {
                text.get(..span.start)
                    .unwrap_or_default()
                    .lines()
                    .count()
                    .max(1)
            })
        });
        PolicyFileError(match line {
            Some(line) => format!(".upkeep.toml line {line}: {}", e.message()),
            None => format!(".upkeep.toml: {}", e.message()),
        })
    })?;
    parsed
        .policy
        .validate()
        .map_err(|e| PolicyFileError(format!(".upkeep.toml: policy.{e}")))?;
    Ok(parsed.policy)
}

/// The line of the key an "unknown field `key`" message names (serde reports the span of the
/// enclosing table, not of the key).
fn unknown_key_line(text: &str, message: &str) -> Option<usize> {
    let key = message
        .strip_prefix("unknown field `")?
        .split('`')
        .next()
        .filter(|k| !k.is_empty())?;
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || line
                    .trim_start_matches('[')
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with(']'))
        })
        .map(|i| i + 1)
}

impl RepoPolicy {
    /// Check the values serde cannot: empty patterns, the cooldown range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |field: String, message: &str| PolicyError {
            field,
            message: message.to_owned(),
        };
        for (i, pattern) in self.ignore.iter().enumerate() {
            if pattern.trim().is_empty() {
                return Err(invalid(format!("ignore[{i}]"), "must not be empty"));
            }
        }
        for (i, rule) in self.ignore_versions.iter().enumerate() {
            if rule.name.trim().is_empty() {
                return Err(invalid(
                    format!("ignore_versions[{i}].name"),
                    "must not be empty",
                ));
            }
            if rule.versions.trim().is_empty() {
                return Err(invalid(
                    format!("ignore_versions[{i}].versions"),
                    "must not be empty",
                ));
            }
        }
        if self.cooldown_days > MAX_COOLDOWN_DAYS {
            return Err(invalid(
                "cooldown_days".to_owned(),
                &format!("must be between 0 and {MAX_COOLDOWN_DAYS}"),
            ));
        }
        Ok(())
    }

    /// The policy stored in `repositories.policy`. A document that no longer parses (written by
    /// an older version) falls back to the defaults rather than stopping recommendations.
    pub fn from_stored(json: &str) -> RepoPolicy {
        serde_json::from_str(json).unwrap_or_else(|error| {
            tracing::warn!(%error, "stored repository policy does not parse; using defaults");
            RepoPolicy::default()
        })
    }

    /// The JSON stored in `repositories.policy`.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Is package `name` ignored altogether?
    pub fn ignores(&self, name: &str) -> bool {
        self.ignore
            .iter()
            .any(|pattern| glob_match(pattern.trim(), name))
    }

    /// The recommender's policy for package `name`.
    pub fn for_package(&self, name: &str) -> upkeep_resolvers::recommend::Policy {
        upkeep_resolvers::recommend::Policy {
            allow_major: self.allow_major,
            allow_prerelease: self.allow_prerelease,
            cooldown_days: self.cooldown_days,
            ignore_versions: self
                .ignore_versions
                .iter()
                .filter(|rule| glob_match(rule.name.trim(), name))
                .map(|rule| rule.versions.trim().to_owned())
                .collect(),
        }
    }
}

/// Glob match over characters: `*` matches any run (including none), `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and the text position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file() {
        let policy = parse_repo_policy(
            r#"
[policy]
allow_major = false
allow_prerelease = true
cooldown_days = 3
ignore = ["eslint*"]
range_strategy = "lockfile-only"

[[policy.ignore_versions]]
name = "react"
versions = ">=19"
"#,
        )
        .expect("valid");
        assert!(!policy.allow_major && policy.allow_prerelease);
        assert_eq!(policy.cooldown_days, 3);
        assert_eq!(policy.range_strategy, RangeStrategy::LockfileOnly);
        assert!(policy.ignores("eslint-plugin-react") && !policy.ignores("react"));
        assert_eq!(policy.for_package("react").ignore_versions, vec![">=19"]);
        assert!(policy.for_package("react-dom").ignore_versions.is_empty());
        let json = policy.to_stored();
        assert_eq!(RepoPolicy::from_stored(&json), policy);
    }

    #[test]
    fn defaults_and_empty() {
        assert_eq!(parse_repo_policy("").expect("empty"), RepoPolicy::default());
        assert_eq!(
            parse_repo_policy("[policy]\n").expect("empty table"),
            RepoPolicy::default()
        );
        assert_eq!(RepoPolicy::from_stored("{}"), RepoPolicy::default());
        assert!(RepoPolicy::default().allow_major);
        assert_eq!(RepoPolicy::from_stored("not json"), RepoPolicy::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = parse_repo_policy("[policy]\nalow_major = true\n").expect_err("typo");
        assert!(error.0.contains("alow_major"), "{error}");
        assert!(error.0.contains("line 2"), "{error}");
        let error = parse_repo_policy("[polcy]\n").expect_err("typo");
        assert!(error.0.contains("polcy"), "{error}");
        let error =
            parse_repo_policy("[[policy.ignore_versions]]\nname = \"a\"\nversion = \"1\"\n")
                .expect_err("typo");
        assert!(error.0.contains("version"), "{error}");
        let error = parse_repo_policy("[policy]\nrange_strategy = \"pin\"\n").expect_err("bad");
        assert!(error.0.contains("pin"), "{error}");
        let error = parse_repo_policy("[policy]\ncooldown_days = 400\n").expect_err("range");
        assert!(error.0.contains("policy.cooldown_days"), "{error}");
        let error = parse_repo_policy("[policy]\nignore = [\" \"]\n").expect_err("empty");
        assert!(error.0.contains("policy.ignore[0]"), "{error}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("eslint*", "eslint"));
        assert!(glob_match("@types/*", "@types/node"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*-plugin-*", "eslint-plugin-react"));
        assert!(glob_match(
            "org.apache.*:*",
            "org.apache.logging.log4j:log4j-core"
        ));
        assert!(!glob_match("react", "react-dom"));
        assert!(glob_match("a*b*c", "aXXbYYbZc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }
}
