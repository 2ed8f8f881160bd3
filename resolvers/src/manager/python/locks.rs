//! Python lockfiles: `poetry.lock`, `uv.lock` (TOML) and `Pipfile.lock` (JSON).
//! They fill [`Extraction::locks`]; they declare no dependencies of their own.

use std::collections::BTreeMap;

use toml_edit::Item;

use super::pep508::normalize_name;
use super::toml_files::parse;
use crate::Ecosystem;
use crate::manager::{Extraction, LockedPackage, Warning};

fn locked(name: &str, version: &str, direct: bool) -> LockedPackage {
    LockedPackage {
        name: normalize_name(name),
        ecosystem: Ecosystem::Pypi,
        version: version.to_owned(),
        direct,
    }
}

/// `poetry.lock`: `[[package]]` entries with `name` and `version`. Poetry does not record which
/// packages are direct, so every entry has `direct: false`.
pub fn extract_poetry_lock(text: &str) -> Extraction {
    extract_toml_lock(text, false)
}

/// `uv.lock`: `[[package]]` entries; workspace members (`source = { editable | virtual }`) are
/// not locks themselves, but the packages they depend on are marked `direct`.
pub fn extract_uv_lock(text: &str) -> Extraction {
    extract_toml_lock(text, true)
}

fn extract_toml_lock(text: &str, uv: bool) -> Extraction {
    let mut out = Extraction::default();
    let doc = match parse(text) {
        Ok(doc) => doc,
        Err(warning) => {
            out.warnings.push(warning);
            return out;
        }
    };
    let Some(packages) = doc.as_table().get("package") else {
        return out;
    };
    let Some(packages) = packages.as_array_of_tables() else {
        out.warnings
            .push(Warning::new("`package` is not an array of tables"));
        return out;
    };
    let mut members: Vec<MemberDependency> = Vec::new();
    let mut entries = Vec::new();
    for package in packages {
        let name = package.get("name").and_then(Item::as_str);
        let source = package.get("source").and_then(Item::as_table_like);
        let is_member =
            uv && source.is_some_and(|s| s.contains_key("editable") || s.contains_key("virtual"));
        if is_member {
            collect_uv_member_dependencies(package, &mut members);
            continue;
        }
        match (name, package.get("version").and_then(Item::as_str)) {
            (Some(name), Some(version)) => entries.push((name, version)),
            (Some(name), None) => out.warnings.push(Warning::new(format!(
                "locked package `{name}` has no version"
            ))),
            (None, _) => out
                .warnings
                .push(Warning::new("a `[[package]]` entry has no name")),
        }
    }
    let python = doc
        .as_table()
        .get("requires-python")
        .and_then(Item::as_str)
        .and_then(|r| Ecosystem::Pypi.versioning().scheme().lower_bound(r));
    let direct = direct_versions(&members, python.as_deref());
    out.locks = entries
        .into_iter()
        .map(|(name, version)| {
            let name_key = normalize_name(name);
            let is_direct = match direct.get(&name_key) {
                Some(Some(chosen)) => chosen == version,
                Some(None) => true,
                None => false,
            };
            locked(name, version, is_direct)
        })
        .collect();
    out
}

/// A dependency of a uv workspace member: its name, and the version and environment marker uv
/// writes when the lockfile holds several versions of that name (resolution forks).
struct MemberDependency {
    name: String,
    version: Option<String>,
    marker: Option<String>,
}

/// For each name a workspace member depends on, the version the root's environment selects:
/// `None` when the member names no version (the lockfile holds one), else, among the forks, the
/// one whose marker holds for the lowest Python the project supports (`requires-python`), and
/// failing that the newest.
fn direct_versions(
    members: &[MemberDependency],
    python: Option<&str>,
) -> BTreeMap<String, Option<String>> {
    let scheme = Ecosystem::Pypi.versioning().scheme();
    let mut forks: BTreeMap<String, Vec<&MemberDependency>> = BTreeMap::new();
    for dep in members {
        forks
            .entry(normalize_name(&dep.name))
            .or_default()
            .push(dep);
    }
    forks
        .into_iter()
        .map(|(name, deps)| {
            let versioned: Vec<&MemberDependency> =
                deps.into_iter().filter(|d| d.version.is_some()).collect();
            let selected = python
                .and_then(|py| {
                    versioned
                        .iter()
                        .find(|d| d.marker.as_deref().is_some_and(|m| marker_holds(m, py)))
                })
                .or_else(|| {
                    versioned.iter().max_by(|a, b| {
                        scheme.compare(
                            a.version.as_deref().unwrap_or_default(),
                            b.version.as_deref().unwrap_or_default(),
                        )
                    })
                })
                .and_then(|d| d.version.clone());
            (name, selected)
        })
        .collect()
}

/// Does a uv environment marker hold for Python `python`? Only `python_version` and
/// `python_full_version` comparisons are evaluated (`and` binds tighter than `or`, no
/// parentheses); any other clause (platform, implementation) is taken to hold, since the root's
/// Python version is all the lockfile says about its environment. A marker this cannot read does
/// not hold.
fn marker_holds(marker: &str, python: &str) -> bool {
    let scheme = Ecosystem::Pypi.versioning().scheme();
    let clause_holds = |clause: &str| -> Option<bool> {
        let clause = clause.trim();
        let rest = clause
            .strip_prefix("python_full_version")
            .or_else(|| clause.strip_prefix("python_version"));
        let Some(rest) = rest else {
            return Some(!clause.is_empty() && !clause.contains(['(', ')']));
        };
        let rest = rest.trim_start();
        let op_len = rest
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))
            .unwrap_or(rest.len());
        let (op, value) = rest.split_at(op_len);
        let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
        if op.is_empty() || value.is_empty() {
            return None;
        }
        Some(scheme.satisfies(python, &format!("{op}{value}")))
    };
    marker.split(" or ").any(|alternative| {
        alternative
            .split(" and ")
            .all(|clause| clause_holds(clause).unwrap_or(false))
    })
}

fn collect_uv_member_dependencies(package: &toml_edit::Table, members: &mut Vec<MemberDependency>) {
    let mut add_list = |item: &Item| {
        if let Some(array) = item.as_array() {
            for value in array {
                let Some(table) = value.as_inline_table() else {
                    continue;
                };
                let field = |key: &str| {
                    table
                        .get(key)
                        .and_then(toml_edit::Value::as_str)
                        .map(str::to_owned)
                };
                if let Some(name) = field("name") {
                    members.push(MemberDependency {
                        name,
                        version: field("version"),
                        marker: field("marker"),
                    });
                }
            }
        }
    };
    if let Some(deps) = package.get("dependencies") {
        add_list(deps);
    }
    for table in ["optional-dependencies", "dev-dependencies"] {
        if let Some(groups) = package.get(table).and_then(Item::as_table_like) {
            for (_, list) in groups.iter() {
                add_list(list);
            }
        }
    }
}

/// `Pipfile.lock`: JSON with `default` and `develop` sections of `{"version": "==1.2.3"}`. Only
/// top-level Pipfile packages would be direct, and the lockfile does not say which, so
/// `direct: false`.
pub fn extract_pipfile_lock(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let json: serde_json::Value = match serde_json::from_str(text) {
        Ok(json) => json,
        Err(e) => {
            out.warnings.push(Warning::at_line(
                e.line().max(1),
                format!("invalid JSON: {e}"),
            ));
            return out;
        }
    };
    let Some(root) = json.as_object() else {
        out.warnings
            .push(Warning::new("Pipfile.lock is not a JSON object"));
        return out;
    };
    for (section, packages) in root {
        if section.starts_with('_') {
            continue;
        }
        let Some(packages) = packages.as_object() else {
            continue;
        };
        for (name, entry) in packages {
            // git/path entries carry no version.
            let Some(version) = entry.get("version") else {
                continue;
            };
            if let Some(version) = version.as_str() {
                let version = version.trim().trim_start_matches("==").trim();
                out.locks.push(locked(name, version, false));
            } else {
                out.warnings.push(Warning::new(format!(
                    "`{section}.{name}.version` is not a string"
                )));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_lock_marks_direct_dependencies() {
        let text = r#"
version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "Flask" }]
[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "flask"
version = "3.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.0.0"

[[package]]
name = "werkzeug"
version = "3.0.1"
"#;
        let ex = extract_uv_lock(text);
        let got: Vec<_> = ex
            .locks
            .iter()
            .map(|l| (l.name.as_str(), l.version.as_str(), l.direct))
            .collect();
        assert_eq!(
            got,
            vec![
                ("flask", "3.0.0", true),
                ("pytest", "8.0.0", true),
                ("werkzeug", "3.0.1", false)
            ]
        );
    }

    #[test]
    fn uv_forks_pick_the_version_of_the_lowest_supported_python() {
        // Shaped like a real uv.lock with resolution forks (click 8.1.8 for Python < 3.10,
        // 8.3.1 above); the root supports >= 3.9, so 8.1.8 is the one its environment selects.
        let lock = |requires: &str| {
            format!(
                r#"
version = 1
requires-python = "{requires}"
[[package]]
name = "app"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "click", version = "8.1.8", source = {{ registry = "https://pypi.org/simple" }}, marker = "python_full_version < '3.10'" }},
    {{ name = "click", version = "8.3.1", source = {{ registry = "https://pypi.org/simple" }}, marker = "python_full_version >= '3.10'" }},
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
]

[[package]]
name = "click"
version = "8.1.8"
resolution-markers = ["python_full_version < '3.10'"]

[[package]]
name = "click"
version = "8.3.1"
resolution-markers = ["python_full_version >= '3.10'"]

[[package]]
name = "colorama"
version = "0.4.6"
"#
            )
        };
        let direct = |requires: &str| -> Vec<(String, String, bool)> {
            extract_uv_lock(&lock(requires))
                .locks
                .into_iter()
                .map(|l| (l.name, l.version, l.direct))
                .collect()
        };
        let row = |n: &str, v: &str, d: bool| (n.to_owned(), v.to_owned(), d);
        assert_eq!(
            direct(">=3.9"),
            vec![
                row("click", "8.1.8", true),
                row("click", "8.3.1", false),
                row("colorama", "0.4.6", true)
            ]
        );
        assert_eq!(
            direct(">=3.11"),
            vec![
                row("click", "8.1.8", false),
                row("click", "8.3.1", true),
                row("colorama", "0.4.6", true)
            ]
        );
        assert!(marker_holds(
            "python_full_version >= '3.9' and python_full_version < '3.11'",
            "3.10"
        ));
        assert!(marker_holds(
            "python_version < '3.8' or python_full_version == '3.10.*'",
            "3.10"
        ));
        assert!(!marker_holds("python_full_version == '3.11.*'", "3.10"));
        assert!(!marker_holds("python_full_version >=", "3.10"));
    }

    #[test]
    fn broken_lockfiles_warn() {
        assert_eq!(extract_poetry_lock("[[package]\n").warnings.len(), 1);
        let ex = extract_pipfile_lock("{\"default\": {\n  \"x\": }");
        assert_eq!(ex.warnings.len(), 1);
        assert_eq!(ex.warnings[0].line, Some(2));
        let ex = extract_poetry_lock("[[package]]\nname = \"a\"\n[[package]]\nversion = \"1\"\n");
        assert_eq!(ex.warnings.len(), 2);
    }

    #[test]
    fn pipfile_lock_versions() {
        let text = r#"{"_meta": {}, "default": {"Requests": {"version": "==2.31.0"}, "mylib": {"git": "x"}}, "develop": {"pytest": {"version": "==8.0.0"}}}"#;
        let ex = extract_pipfile_lock(text);
        let got: Vec<_> = ex
            .locks
            .iter()
            .map(|l| (l.name.as_str(), l.version.as_str()))
            .collect();
        assert_eq!(got, vec![("requests", "2.31.0"), ("pytest", "8.0.0")]);
    }
}
