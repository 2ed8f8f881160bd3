use super::extract;
use crate::manager::{DependencyKind, SkipReason};

crate::manager::test_kit::kit_tests!(Manager::Npm);

fn summary(
    path: &str,
    text: &str,
) -> Vec<(String, Option<String>, DependencyKind, Option<SkipReason>)> {
    extract(path, text)
        .dependencies
        .into_iter()
        .map(|d| (d.name, d.requirement, d.kind, d.skip))
        .collect()
}

#[test]
fn aliases_resolve_to_the_real_package() {
    let text = r#"{"dependencies": {"x": "npm:@s/real@^1.2.3", "y": "npm:plain@2"}}"#;
    let out = extract("package.json", text);
    let first = out.dependencies.first().expect("dependency");
    assert_eq!(first.name, "@s/real");
    assert_eq!(first.span.and_then(|s| s.slice(text)), Some("^1.2.3"));
    assert_eq!(
        out.dependencies.get(1).map(|d| d.name.as_str()),
        Some("plain")
    );
}

#[test]
fn skip_reasons() {
    let text = r#"{"dependencies": {"a": "workspace:*", "b": "file:../b", "c": "user/repo", "d": "https://x.invalid/d.tgz", "e": "git://x.invalid/e.git", "f": "^1"}}"#;
    let skips: Vec<_> = summary("package.json", text)
        .into_iter()
        .map(|d| d.3)
        .collect();
    assert_eq!(
        skips,
        vec![
            Some(SkipReason::Workspace),
            Some(SkipReason::Path),
            Some(SkipReason::Git),
            Some(SkipReason::Url),
            Some(SkipReason::Git),
            None
        ]
    );
}

#[test]
fn invalid_json_warns_with_line() {
    let out = extract(
        "package.json",
        "{\n  \"dependencies\": {\n    \"a\" \"1\"\n  }\n}\n",
    );
    assert!(out.dependencies.is_empty());
    assert_eq!(out.warnings.first().and_then(|w| w.line), Some(3));
    let out = extract("package-lock.json", "{\n  \"packages\": [\n");
    assert!(out.warnings.first().and_then(|w| w.line).is_some());
}

#[test]
fn node_version_files() {
    assert_eq!(
        summary(".nvmrc", "v20.11.0\n"),
        vec![(
            "node".to_owned(),
            Some("v20.11.0".to_owned()),
            DependencyKind::Toolchain,
            None
        )]
    );
    assert_eq!(
        summary(".node-version", "lts/*").first().and_then(|d| d.3),
        Some(SkipReason::NoVersion)
    );
}

#[test]
fn package_manager_field() {
    let text = r#"{"packageManager": "yarn@4.1.1+sha224.abc"}"#;
    let out = extract("package.json", text);
    let dep = out.dependencies.first().expect("toolchain");
    assert_eq!(dep.name, "yarn");
    assert_eq!(dep.requirement.as_deref(), Some("4.1.1+sha224.abc"));
}

#[test]
fn yarn_classic_and_berry() {
    let classic = "# yarn lockfile v1\n\n\"@babel/core@^7.0.0\", \"@babel/core@^7.1.0\":\n  version \"7.1.2\"\n  resolved \"https://x.invalid\"\n  dependencies:\n    debug \"^4.1.0\"\n\ndebug@^4.1.0:\n  version \"4.1.1\"\n";
    let out = extract("yarn.lock", classic);
    let locks: Vec<_> = out
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.version.as_str()))
        .collect();
    assert_eq!(locks, vec![("@babel/core", "7.1.2"), ("debug", "4.1.1")]);
    let berry = "__metadata:\n  version: 8\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n\n\"debug@npm:^4.1.0\":\n  version: 4.3.4\n  resolution: \"debug@npm:4.3.4\"\n";
    let out = extract("yarn.lock", berry);
    let locks: Vec<_> = out
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.version.as_str()))
        .collect();
    assert_eq!(locks, vec![("debug", "4.3.4")]);
}

#[test]
fn dollar_overrides_take_the_root_dependency_requirement() {
    let text = r#"{"devDependencies": {"typescript": "^5.4.0"}, "overrides": {"foo": {"typescript": "$typescript"}, "bar": "$missing"}}"#;
    let out = extract("package.json", text);
    let overrides: Vec<_> = out
        .dependencies
        .iter()
        .filter(|d| d.kind == DependencyKind::Override)
        .map(|d| (d.name.as_str(), d.requirement.as_deref(), d.span, d.skip))
        .collect();
    assert_eq!(
        overrides,
        vec![
            ("typescript", Some("^5.4.0"), None, None),
            (
                "bar",
                Some("$missing"),
                out.dependencies.last().and_then(|d| d.span),
                Some(SkipReason::UnresolvedVariable)
            ),
        ]
    );
}
