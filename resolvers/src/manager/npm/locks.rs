//! npm, yarn and pnpm lockfiles: every locked registry package becomes a [`LockedPackage`].
//! Lockfiles declare no dependencies of their own; [`crate::scan`] pairs them with manifests.

use std::collections::BTreeSet;

use serde_json::Value;

use super::split_name_version;
use crate::Ecosystem;
use crate::manager::{Extraction, LockedPackage, Warning};

fn locked(name: &str, version: &str, direct: bool) -> LockedPackage {
    LockedPackage {
        name: name.to_owned(),
        ecosystem: Ecosystem::Npm,
        version: version.to_owned(),
        direct,
    }
}

/// Does this look like a registry version (not a path, URL or git reference)?
fn is_registry_version(version: &str) -> bool {
    version.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1 to 3.
pub fn package_lock(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let root: Value = match serde_json::from_str(text.trim_start_matches('\u{feff}')) {
        Ok(root) => root,
        Err(err) => {
            out.warnings.push(Warning::at_line(
                err.line().max(1),
                format!("invalid JSON: {err}"),
            ));
            return out;
        }
    };
    if let Some(packages) = root.get("packages").and_then(Value::as_object) {
        // v2/v3: keys are install paths; the top-level copy (`node_modules/x`) is the direct one.
        for (path, entry) in packages {
            let Some(idx) = path.rfind("node_modules/") else {
                // The root project or a workspace folder.
                continue;
            };
            if entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let installed_as = path.get(idx + "node_modules/".len()..).unwrap_or_default();
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(installed_as);
            let Some(version) = entry.get("version").and_then(Value::as_str) else {
                continue;
            };
            if name.is_empty() || !is_registry_version(version) {
                continue;
            }
            let top_level = path.starts_with("node_modules/") && idx == 0;
            out.locks.push(locked(name, version, top_level));
        }
    } else if let Some(deps) = root.get("dependencies").and_then(Value::as_object) {
        // v1: a tree of `dependencies`; the first level is the hoisted copy.
        let mut stack: Vec<(&serde_json::Map<String, Value>, bool)> = vec![(deps, true)];
        while let Some((map, top)) = stack.pop() {
            for (name, entry) in map {
                let Some(version) = entry.get("version").and_then(Value::as_str) else {
                    continue;
                };
                // Aliases are written `npm:real@1.2.3`.
                let (real, version) = match version.strip_prefix("npm:") {
                    Some(alias) => split_name_version(alias).unwrap_or((name, alias)),
                    None => (name.as_str(), version),
                };
                if is_registry_version(version) {
                    out.locks.push(locked(real, version, top));
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push((nested, false));
                }
            }
        }
    } else if !root.is_object() {
        out.warnings
            .push(Warning::at_line(1, "lockfile is not a JSON object"));
    }
    out
}

/// `yarn.lock`, classic (v1) and berry (YAML). Both are read line by line: an unindented
/// line lists the descriptors (`"a@^1", a@^1.2:`), an indented `version` line the version.
pub fn yarn_lock(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut seen = BTreeSet::new();
    let mut current: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('\t') {
            current = None;
            let Some(header) = line.trim_end().strip_suffix(':') else {
                out.warnings.push(Warning::at_line(
                    line_no,
                    "expected a `descriptor:` line in yarn.lock",
                ));
                continue;
            };
            if header == "__metadata" {
                continue;
            }
            if is_local_entry(header) {
                continue;
            }
            match descriptor_name(header) {
                Some(name) => current = Some(name),
                None => out.warnings.push(Warning::at_line(
                    line_no,
                    format!("cannot read the package name of `{header}`"),
                )),
            }
            continue;
        }
        let trimmed = line.trim();
        let version = trimmed
            .strip_prefix("version:")
            .or_else(|| trimmed.strip_prefix("version "));
        let (Some(version), Some(name)) = (version, current.as_ref()) else {
            continue;
        };
        // Only the entry's own `version` line (two-space indent), not nested fields.
        let indent = line.len() - line.trim_start().len();
        if indent > 2 {
            continue;
        }
        let version = version.trim().trim_matches('"').trim_matches('\'');
        if is_registry_version(version) && seen.insert((name.clone(), version.to_owned())) {
            out.locks.push(locked(name, version, false));
        }
        current = None;
    }
    out
}

/// Protocols of yarn.lock entries that are not registry packages.
const LOCAL_PROTOCOLS: [&str; 6] = ["workspace:", "link:", "portal:", "file:", "patch:", "exec:"];

/// Is this yarn.lock entry a workspace, link, patch or other local package?
fn is_local_entry(header: &str) -> bool {
    let first = header
        .split(", ")
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    split_name_version(first)
        .is_some_and(|(_, range)| LOCAL_PROTOCOLS.iter().any(|p| range.trim().starts_with(p)))
}

/// The package name of a yarn.lock entry header (`"@s/a@^1", "@s/a@npm:^1.2"` → `@s/a`);
/// `None` for local entries (`workspace:`, `link:`, `portal:`, `file:`, `patch:`) and headers
/// that cannot be read. An alias (`x@npm:real@^1`) names the real package.
fn descriptor_name(header: &str) -> Option<String> {
    let first = header.split(", ").next()?.trim().trim_matches('"');
    let (name, range) = split_name_version(first)?;
    let range = range.trim();
    if LOCAL_PROTOCOLS.iter().any(|p| range.starts_with(p)) {
        return None;
    }
    if let Some(npm) = range.strip_prefix("npm:")
        && let Some((real, _)) = split_name_version(npm)
    {
        return Some(real.to_owned());
    }
    (!name.is_empty()).then(|| name.to_owned())
}

/// `pnpm-lock.yaml`, lockfile versions 5 to 9.
pub fn pnpm_lock(text: &str) -> Extraction {
    use serde_norway::Value as Yaml;

    let mut out = Extraction::default();
    let root: Yaml = match serde_norway::from_str(text) {
        Ok(root) => root,
        Err(err) => {
            let line = err.location().map_or(1, |l| l.line());
            out.warnings
                .push(Warning::at_line(line, format!("invalid YAML: {err}")));
            return out;
        }
    };
    if root.is_null() {
        return out;
    }
    if !root.is_mapping() {
        out.warnings
            .push(Warning::at_line(1, "pnpm-lock.yaml is not a mapping"));
        return out;
    }
    // Direct dependencies: every importer's (or, without importers, the root's) dependency
    // tables. Values are `1.2.3`, `1.2.3_peer@1` (v5), `1.2.3(peer@1)` (v6+) or
    // `{specifier, version}` (v6+).
    let mut direct: BTreeSet<(String, String)> = BTreeSet::new();
    let importers: Vec<&Yaml> = match root.get("importers").and_then(Yaml::as_mapping) {
        Some(map) => map.values().collect(),
        None => vec![&root],
    };
    for importer in importers {
        for table in [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ] {
            let Some(map) = importer.get(table).and_then(Yaml::as_mapping) else {
                continue;
            };
            for (name, value) in map {
                let Some(name) = yaml_str(name) else { continue };
                let version = match value {
                    Yaml::Mapping(_) => value.get("version").and_then(yaml_str),
                    other => yaml_str(other),
                };
                let Some(version) = version else { continue };
                // v9 writes aliases as `real@1.2.3`, v5/v6 as `/real/1.2.3` or `/real@1.2.3`.
                let (name, version) = match split_package_key(&version) {
                    Some((real, v)) if !is_registry_version(&version) => (real, v),
                    _ => (name.clone(), strip_peers(&version).to_owned()),
                };
                direct.insert((name, version));
            }
        }
    }
    let mut seen = BTreeSet::new();
    if let Some(packages) = root.get("packages").and_then(Yaml::as_mapping) {
        for key in packages.keys() {
            let Some(key) = yaml_str(key) else { continue };
            let Some((name, version)) = split_package_key(&key) else {
                continue;
            };
            if !is_registry_version(&version) {
                continue;
            }
            if seen.insert((name.clone(), version.clone())) {
                let is_direct = direct.contains(&(name.clone(), version.clone()));
                out.locks.push(locked(&name, &version, is_direct));
            }
        }
    }
    out
}

fn yaml_str(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Drop pnpm's peer-dependency suffixes: `1.2.3(react@18.0.0)` and `1.2.3_react@18.0.0`.
fn strip_peers(version: &str) -> &str {
    let end = version.find(['(', '_']).unwrap_or(version.len());
    version.get(..end).unwrap_or(version)
}

/// Name and version of a `packages:` key: `/a/1.2.3_peer` (v5), `/@s/a@1.2.3(peer)` (v6),
/// `@s/a@1.2.3` (v9), optionally after a registry host (`registry.example/a/1.0.0`).
fn split_package_key(key: &str) -> Option<(String, String)> {
    let key = key.trim();
    let key = key.strip_prefix('/').unwrap_or(key);
    let base = key.split('(').next().unwrap_or(key);
    // v5: the version is the last path segment (`/@s/a/1.2.3_peer@1`).
    if let Some((name, version)) = base.rsplit_once('/')
        && is_registry_version(version)
    {
        return Some((name.to_owned(), strip_peers(version).to_owned()));
    }
    let (name, version) = split_name_version(base)?;
    // A host before a scoped name: `host/@s/a` → `@s/a`.
    let name = match name.rfind("/@") {
        Some(at) => name.get(at + 1..).unwrap_or(name),
        None => name,
    };
    Some((name.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pnpm_keys() {
        let k = |s: &str| split_package_key(s);
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(k("/lodash/4.17.21"), pair("lodash", "4.17.21"));
        assert_eq!(
            k("/@babel/core/7.1.0_react@17.0.2"),
            pair("@babel/core", "7.1.0")
        );
        assert_eq!(
            k("/@babel/core@7.1.0(react@17.0.2)"),
            pair("@babel/core", "7.1.0")
        );
        assert_eq!(
            k("react-dom@18.2.0(react@18.2.0)"),
            pair("react-dom", "18.2.0")
        );
        assert_eq!(k("@types/node@20.1.0"), pair("@types/node", "20.1.0"));
        assert_eq!(strip_peers("1.2.3(a@1)(b@2)"), "1.2.3");
    }

    #[test]
    fn yarn_descriptors() {
        assert_eq!(
            descriptor_name("\"@babel/core@^7.0.0\", \"@babel/core@^7.1.0\"").as_deref(),
            Some("@babel/core")
        );
        assert_eq!(
            descriptor_name("\"lodash@npm:^4.17.0, lodash@npm:^4.17.21\"").as_deref(),
            Some("lodash")
        );
        assert_eq!(
            descriptor_name("\"alias@npm:real@^1.0.0\"").as_deref(),
            Some("real")
        );
        assert_eq!(descriptor_name("\"app@workspace:.\""), None);
    }
}
