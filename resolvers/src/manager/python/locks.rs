//! Python lockfiles: `poetry.lock`, `uv.lock` (TOML) and `Pipfile.lock` (JSON).
//! They fill [`Extraction::locks`]; they declare no dependencies of their own.

use std::collections::BTreeSet;

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
    let mut direct: BTreeSet<String> = BTreeSet::new();
    let mut entries = Vec::new();
    for package in packages {
        let name = package.get("name").and_then(Item::as_str);
        let source = package.get("source").and_then(Item::as_table_like);
        let is_member =
            uv && source.is_some_and(|s| s.contains_key("editable") || s.contains_key("virtual"));
        if is_member {
            collect_uv_member_dependencies(package, &mut direct);
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
    out.locks = entries
        .into_iter()
        .map(|(name, version)| locked(name, version, direct.contains(&normalize_name(name))))
        .collect();
    out
}

fn collect_uv_member_dependencies(package: &toml_edit::Table, direct: &mut BTreeSet<String>) {
    let mut add_list = |item: &Item| {
        if let Some(array) = item.as_array() {
            for value in array {
                if let Some(name) = value
                    .as_inline_table()
                    .and_then(|t| t.get("name"))
                    .and_then(toml_edit::Value::as_str)
                {
                    direct.insert(normalize_name(name));
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
