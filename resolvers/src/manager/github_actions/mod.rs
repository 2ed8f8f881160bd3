//! GitHub Actions: `uses:` in workflows (`.github/workflows/*.yml|yaml`) and in composite
//! actions (`action.yml`/`action.yaml`).
//!
//! - `owner/repo@v4` → name `owner/repo`, requirement `v4`; sub-actions and reusable workflows
//!   keep their path: `owner/repo/path@v1`, `owner/repo/.github/workflows/x.yml@main`.
//! - Commit pins: `owner/repo@<40-hex sha> # v4.1.1`. The requirement is the SHA (its span
//!   covers the SHA, which is what the workflow really runs and what an update must rewrite);
//!   `locked` is the version named by the comment, so the dependency can be compared with
//!   releases. An updater replacing the SHA must rewrite the comment too. A SHA without a
//!   version comment is skipped `digest`.
//! - `docker://image:tag` → a Docker dependency (see [`super::docker`]).
//! - Local actions (`./.github/actions/x`) are skipped `local`; references built from
//!   expressions (`${{ … }}`) are skipped `unresolved-variable`.

pub(crate) mod yaml;

use super::docker::{Resolved, image_dependency};
use super::{Dependency, Extraction, SkipReason, Span, Warning, file_name};
use crate::Ecosystem;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

pub fn matches(path: &str) -> bool {
    let name = file_name(path);
    let in_workflows = path
        .strip_suffix(name)
        .is_some_and(|dir| dir.ends_with(".github/workflows/"));
    (in_workflows && [".yml", ".yaml"].iter().any(|ext| name.ends_with(ext)))
        || name == "action.yml"
        || name == "action.yaml"
}

/// A full commit SHA (SHA-1 or SHA-256 object names).
fn is_commit_sha(reference: &str) -> bool {
    matches!(reference.len(), 40 | 64) && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// The version named by a pin comment: `v4.1.1`, `4.1.1`, `tag=v4`, `pin@v4 extra words`.
fn comment_version(comment: &str) -> Option<String> {
    let first = comment.split_whitespace().next()?;
    let version = first
        .trim_start_matches("tag=")
        .trim_start_matches("tag:")
        .trim_start_matches("pin@")
        .trim_end_matches([',', ';']);
    let digits = version.strip_prefix(['v', 'V']).unwrap_or(version);
    digits
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_owned())
}

fn uses_dependency(text: &str, value: &yaml::KeyValue, out: &mut Extraction) {
    let reference = value.value.trim();
    let lead = value.value.len() - value.value.trim_start().len();
    let base = value.span.map(|s| s.start + lead);
    if let Some(image) = reference.strip_prefix("docker://") {
        let resolved = Resolved::literal(image, base.map(|b| b + "docker://".len()));
        out.dependencies.extend(image_dependency(text, &resolved));
        return;
    }
    if reference.starts_with('.') || reference.starts_with('/') {
        out.dependencies.push(
            Dependency::unversioned(reference, Ecosystem::GithubActions).skip(SkipReason::Local),
        );
        return;
    }
    if reference.contains("${{") {
        out.dependencies.push(
            Dependency::unversioned(reference, Ecosystem::GithubActions)
                .skip(SkipReason::UnresolvedVariable),
        );
        return;
    }
    let Some((name, git_ref)) = reference.rsplit_once('@') else {
        out.warnings.push(Warning::at_line(
            value.line,
            format!("`uses: {reference}` names no version (`@ref`)"),
        ));
        out.dependencies.push(
            Dependency::unversioned(reference, Ecosystem::GithubActions)
                .skip(SkipReason::NoVersion),
        );
        return;
    };
    if !name.contains('/') || name.starts_with('/') || name.ends_with('/') || git_ref.is_empty() {
        out.warnings.push(Warning::at_line(
            value.line,
            format!("`uses: {reference}` is not `owner/repo[/path]@ref`"),
        ));
        return;
    }
    let mut dep = if let Some(base) = base {
        let start = base + name.len() + 1;
        Dependency::at(
            name,
            Ecosystem::GithubActions,
            text,
            Span::new(start, start + git_ref.len()),
        )
    } else {
        let mut dep = Dependency::unversioned(name, Ecosystem::GithubActions);
        dep.requirement = Some(git_ref.to_owned());
        dep
    };
    if is_commit_sha(git_ref) {
        match value.comment.as_deref().and_then(comment_version) {
            Some(version) => dep.locked = Some(version),
            None => dep.skip = Some(SkipReason::Digest),
        }
    }
    out.dependencies.push(dep);
}

pub fn extract(_path: &str, text: &str) -> Extraction {
    let mut out = Extraction::default();
    let (values, warning) = yaml::values_of(text, &["uses"]);
    for value in &values {
        uses_dependency(text, value, &mut out);
    }
    out.warnings.extend(warning);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (
        String,
        Ecosystem,
        Option<String>,
        Option<String>,
        Option<SkipReason>,
    );

    fn rows(ex: &Extraction) -> Vec<Row> {
        ex.dependencies
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    d.ecosystem,
                    d.requirement.clone(),
                    d.locked.clone(),
                    d.skip,
                )
            })
            .collect()
    }

    #[test]
    fn file_matching() {
        assert!(matches(".github/workflows/ci.yml"));
        assert!(matches("sub/.github/workflows/release.yaml"));
        assert!(matches("action.yml"));
        assert!(matches(".github/actions/setup/action.yaml"));
        assert!(!matches(".github/dependabot.yml"));
        assert!(!matches("workflows/ci.yml"));
        assert!(!matches(".github/workflows/README.md"));
    }

    #[test]
    fn uses_forms() {
        let sha = "b4ffde65f46336ab88eb53be808477a3936bae11";
        let text = format!(
            "on: push\njobs:\n  call:\n    uses: org/shared/.github/workflows/ci.yml@main\n  build:\n    steps:\n\
             \x20     - uses: actions/checkout@v4\n\
             \x20     - uses: actions/cache/restore@v4.0.2\n\
             \x20     - uses: actions/setup-node@{sha} # v4.1.1\n\
             \x20     - uses: 'owner/repo@{sha}'\n\
             \x20     - uses: docker://alpine:3.20\n\
             \x20     - uses: docker://ghcr.io/org/tool@sha256:abc\n\
             \x20     - uses: ./.github/actions/local\n\
             \x20     - uses: ${{{{ matrix.action }}}}\n\
             \x20     - uses: not-an-action\n"
        );
        let ex = extract(".github/workflows/ci.yml", &text);
        let gha = Ecosystem::GithubActions;
        assert_eq!(
            rows(&ex),
            vec![
                (
                    "org/shared/.github/workflows/ci.yml".into(),
                    gha,
                    Some("main".into()),
                    None,
                    None
                ),
                (
                    "actions/checkout".into(),
                    gha,
                    Some("v4".into()),
                    None,
                    None
                ),
                (
                    "actions/cache/restore".into(),
                    gha,
                    Some("v4.0.2".into()),
                    None,
                    None
                ),
                (
                    "actions/setup-node".into(),
                    gha,
                    Some(sha.into()),
                    Some("v4.1.1".into()),
                    None
                ),
                (
                    "owner/repo".into(),
                    gha,
                    Some(sha.into()),
                    None,
                    Some(SkipReason::Digest)
                ),
                (
                    "alpine".into(),
                    Ecosystem::Docker,
                    Some("3.20".into()),
                    None,
                    None
                ),
                (
                    "ghcr.io/org/tool".into(),
                    Ecosystem::Docker,
                    None,
                    Some("sha256:abc".into()),
                    Some(SkipReason::Digest)
                ),
                (
                    "./.github/actions/local".into(),
                    gha,
                    None,
                    None,
                    Some(SkipReason::Local)
                ),
                (
                    "${{ matrix.action }}".into(),
                    gha,
                    None,
                    None,
                    Some(SkipReason::UnresolvedVariable)
                ),
                (
                    "not-an-action".into(),
                    gha,
                    None,
                    None,
                    Some(SkipReason::NoVersion)
                ),
            ]
        );
        assert_eq!(ex.warnings.len(), 1);
        assert_eq!(ex.warnings[0].line, Some(15));
    }

    #[test]
    fn comment_versions() {
        assert_eq!(comment_version("v4.1.1").as_deref(), Some("v4.1.1"));
        assert_eq!(comment_version("4.1.1 latest").as_deref(), Some("4.1.1"));
        assert_eq!(comment_version("tag=v2").as_deref(), Some("v2"));
        assert_eq!(comment_version("pin@v3.0.0").as_deref(), Some("v3.0.0"));
        assert_eq!(comment_version("pinned for safety"), None);
    }

    #[test]
    fn invalid_yaml_warns() {
        let ex = extract(
            "action.yml",
            "runs:\n  steps:\n    - uses: a/b@v1\n  bad: [\n",
        );
        assert_eq!(ex.dependencies.len(), 1);
        assert_eq!(ex.warnings.len(), 1);
        assert!(ex.warnings[0].line.is_some());
    }

    crate::manager::test_kit::kit_tests!(Manager::GithubActions, |dep| {
        if dep.requirement.as_deref().is_some_and(is_commit_sha) {
            "0123456789abcdef0123456789abcdef01234567".to_owned()
        } else {
            "v99".to_owned()
        }
    });
}
