//! Cargo manager: `Cargo.toml` (every dependency table, target-specific tables,
//! `[workspace.dependencies]`, `[patch]`, and `rust-version` as a `rust` toolchain entry),
//! `Cargo.lock` (v1–v4) and the toolchain files `rust-toolchain` / `rust-toolchain.toml`.

use std::collections::BTreeSet;

use toml_edit::{Document, Item, TableLike, Value};

use super::{
    Dependency, DependencyKind, Extraction, LockedPackage, SkipReason, Span, Warning, file_name,
    line_of,
};
use crate::Ecosystem;

/// The lockfiles this manager reads.
pub const LOCKFILE_NAMES: &[&str] = &["Cargo.lock"];

pub fn matches(path: &str) -> bool {
    matches!(
        file_name(path),
        "Cargo.toml" | "Cargo.lock" | "rust-toolchain" | "rust-toolchain.toml"
    )
}

pub fn extract(path: &str, text: &str) -> Extraction {
    match file_name(path) {
        "Cargo.lock" => lockfile(text),
        "rust-toolchain" | "rust-toolchain.toml" => toolchain(text),
        _ => manifest(text),
    }
}

/// Parse TOML, turning a syntax error into a warning with its line.
fn parse<'t>(text: &'t str, out: &mut Extraction) -> Option<Document<&'t str>> {
    match Document::parse(text) {
        Ok(doc) => Some(doc),
        Err(err) => {
            let line = err.span().map_or(1, |s| line_of(text, s.start));
            out.warnings.push(Warning::at_line(
                line,
                format!("invalid TOML: {}", err.message().trim()),
            ));
            None
        }
    }
}

/// The span of a string value's content (inside the quotes), trimmed.
fn string_span(text: &str, value: &Value) -> Option<Span> {
    let range = value.span()?;
    value.as_str()?;
    let raw = text.get(range.clone())?;
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| raw.starts_with(q) && raw.ends_with(q) && raw.len() >= 2 * q.len())?;
    let inner = raw.get(quote.len()..raw.len() - quote.len())?;
    let lead = inner.len() - inner.trim_start().len();
    let start = range.start + quote.len() + lead;
    Some(Span::new(start, start + inner.trim().len()))
}

fn line_of_item(text: &str, item: &Item) -> usize {
    let span = match item {
        Item::Value(v) => v.span(),
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span(),
        Item::None => None,
    };
    span.map_or(1, |s| line_of(text, s.start))
}

/// The dependency tables of a manifest (or of one `target.<cfg>` table).
const TABLES: [(&str, DependencyKind); 5] = [
    ("dependencies", DependencyKind::Normal),
    ("dev-dependencies", DependencyKind::Dev),
    ("dev_dependencies", DependencyKind::Dev),
    ("build-dependencies", DependencyKind::Build),
    ("build_dependencies", DependencyKind::Build),
];

fn manifest(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let Some(doc) = parse(text, &mut out) else {
        return out;
    };
    let root = doc.as_table();
    let mut reader = Reader {
        text,
        out: &mut out,
    };
    if let Some(workspace) = root.get("workspace").and_then(Item::as_table_like)
        && let Some(deps) = workspace.get("dependencies")
    {
        reader.table("workspace.dependencies", deps, DependencyKind::Managed);
    }
    for (table, kind) in TABLES {
        if let Some(deps) = root.get(table) {
            reader.table(table, deps, kind);
        }
    }
    if let Some(targets) = root.get("target").and_then(Item::as_table_like) {
        for (cfg, target) in targets.iter() {
            let Some(target) = target.as_table_like() else {
                continue;
            };
            for (table, kind) in TABLES {
                if let Some(deps) = target.get(table) {
                    reader.table(&format!("target.{cfg}.{table}"), deps, kind);
                }
            }
        }
    }
    // `[patch.<source>]` and `[replace]` force versions onto the graph.
    if let Some(patch) = root.get("patch").and_then(Item::as_table_like) {
        for (source, deps) in patch.iter() {
            reader.table(&format!("patch.{source}"), deps, DependencyKind::Override);
        }
    }
    // `rust-version` of `[package]` or `[workspace.package]`: the oldest Rust the crate builds
    // with, the runtime its dependencies must fit (`rust-version.workspace = true` names none).
    let package_tables = [
        root.get("package"),
        root.get("workspace")
            .and_then(Item::as_table_like)
            .and_then(|w| w.get("package")),
    ];
    for table in package_tables.into_iter().flatten() {
        if let Some(value) = table
            .as_table_like()
            .and_then(|t| t.get("rust-version"))
            .and_then(Item::as_value)
            && let Some(span) = string_span(text, value)
        {
            out.dependencies.push(
                Dependency::at("rust", Ecosystem::Toolchain, text, span)
                    .kind(DependencyKind::Toolchain),
            );
        }
    }
    out
}

struct Reader<'t, 'o> {
    text: &'t str,
    out: &'o mut Extraction,
}

impl Reader<'_, '_> {
    fn table(&mut self, table: &str, deps: &Item, kind: DependencyKind) {
        let Some(deps) = deps.as_table_like() else {
            self.out.warnings.push(Warning::at_line(
                line_of_item(self.text, deps),
                format!("`{table}` is not a table"),
            ));
            return;
        };
        for (key, item) in deps.iter() {
            self.entry(table, key, item, kind);
        }
    }

    fn entry(&mut self, table: &str, key: &str, item: &Item, kind: DependencyKind) {
        let text = self.text;
        // `name = "1.0"`
        if let Some(value) = item.as_value()
            && value.as_str().is_some()
        {
            match string_span(text, value) {
                Some(span) => {
                    self.out
                        .dependencies
                        .push(Dependency::at(key, Ecosystem::Cargo, text, span).kind(kind));
                }
                None => self.out.warnings.push(Warning::at_line(
                    line_of_item(text, item),
                    format!("`{table}.{key}`: cannot locate the requirement"),
                )),
            }
            return;
        }
        let Some(fields) = item.as_table_like() else {
            self.out.warnings.push(Warning::at_line(
                line_of_item(text, item),
                format!("`{table}.{key}` is neither a version string nor a table"),
            ));
            self.out.dependencies.push(
                Dependency::unversioned(key, Ecosystem::Cargo)
                    .kind(kind)
                    .skip(SkipReason::InvalidRequirement),
            );
            return;
        };
        self.detailed(table, key, fields, item, kind);
    }

    /// `name = { version = "1", package = "real", optional = true, … }` or
    /// `[dependencies.name]`.
    fn detailed(
        &mut self,
        table: &str,
        key: &str,
        fields: &dyn TableLike,
        item: &Item,
        kind: DependencyKind,
    ) {
        let text = self.text;
        let name = fields
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(key)
            .trim();
        let flag = |field: &str| fields.get(field).and_then(Item::as_bool) == Some(true);
        let kind = if flag("optional") && kind == DependencyKind::Normal {
            DependencyKind::Optional
        } else {
            kind
        };
        let version = fields.get("version").and_then(Item::as_value);
        let mut dep = match version {
            Some(value) if value.as_str().is_some() => match string_span(text, value) {
                Some(span) => Dependency::at(name, Ecosystem::Cargo, text, span),
                None => Dependency::unversioned(name, Ecosystem::Cargo)
                    .skip(SkipReason::InvalidRequirement),
            },
            Some(_) => {
                self.out.warnings.push(Warning::at_line(
                    line_of_item(text, item),
                    format!("`{table}.{key}.version` is not a string"),
                ));
                Dependency::unversioned(name, Ecosystem::Cargo).skip(SkipReason::InvalidRequirement)
            }
            None => Dependency::unversioned(name, Ecosystem::Cargo),
        }
        .kind(kind);
        dep.registry = fields
            .get("registry")
            .or_else(|| fields.get("registry-index"))
            .and_then(Item::as_str)
            .map(str::to_owned);
        if flag("workspace") {
            // Inherited from `[workspace.dependencies]`, where the requirement is reported.
            dep.skip = Some(SkipReason::Workspace);
        } else if fields.contains_key("git") {
            dep.skip = Some(SkipReason::Git);
        } else if fields.contains_key("path") {
            dep.skip = Some(SkipReason::Path);
        } else if dep.requirement.is_none() && dep.skip.is_none() {
            dep.skip = Some(SkipReason::NoVersion);
        }
        self.out.dependencies.push(dep);
    }
}

/// `Cargo.lock`: every registry package; `direct` when a workspace member (a package without
/// `source`) depends on it.
fn lockfile(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let Some(doc) = parse(text, &mut out) else {
        return out;
    };
    let Some(packages) = doc
        .as_table()
        .get("package")
        .and_then(Item::as_array_of_tables)
    else {
        return out;
    };
    let mut members_deps: Vec<(String, Option<String>)> = Vec::new();
    let mut registry: Vec<(String, String)> = Vec::new();
    for package in packages {
        let name = package.get("name").and_then(Item::as_str);
        let version = package.get("version").and_then(Item::as_str);
        let (Some(name), Some(version)) = (name, version) else {
            out.warnings.push(Warning::at_line(
                package.span().map_or(1, |s| line_of(text, s.start)),
                "`[[package]]` without a name or version",
            ));
            continue;
        };
        match package.get("source").and_then(Item::as_str) {
            None => {
                // A workspace member or path dependency: record what it depends on.
                let deps = package.get("dependencies").and_then(Item::as_array);
                for dep in deps.into_iter().flatten().filter_map(Value::as_str) {
                    // `name`, `name version` or `name version (source)` (v1).
                    let mut parts = dep.split_whitespace();
                    if let Some(dep_name) = parts.next() {
                        members_deps.push((dep_name.to_owned(), parts.next().map(str::to_owned)));
                    }
                }
            }
            Some(source) if source.starts_with("registry+") || source.starts_with("sparse+") => {
                registry.push((name.to_owned(), version.to_owned()));
            }
            Some(_) => {}
        }
    }
    let direct: BTreeSet<(&str, Option<&str>)> = members_deps
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_deref()))
        .collect();
    for (name, version) in registry {
        let is_direct = direct.contains(&(name.as_str(), Some(version.as_str())))
            || direct.contains(&(name.as_str(), None));
        out.locks.push(LockedPackage {
            name,
            ecosystem: Ecosystem::Cargo,
            version,
            direct: is_direct,
        });
    }
    out
}

/// `rust-toolchain.toml` (`[toolchain] channel = "1.78.0"`) or the legacy one-line
/// `rust-toolchain`. Channel names (`stable`, `nightly-2024-05-01`) carry no version to update.
fn toolchain(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let trimmed = text.trim();
    let legacy = !trimmed.is_empty()
        && !trimmed.contains('\n')
        && !trimmed.contains('=')
        && !trimmed.starts_with('[');
    let span = if legacy {
        let start = text.len() - text.trim_start().len();
        Some(Span::new(start, start + trimmed.len()))
    } else {
        let Some(doc) = parse(text, &mut out) else {
            return out;
        };
        let channel = doc
            .as_table()
            .get("toolchain")
            .and_then(Item::as_table_like)
            .and_then(|t| t.get("channel"))
            .and_then(Item::as_value);
        match channel {
            Some(value) => {
                let span = string_span(text, value);
                if span.is_none() {
                    out.warnings.push(Warning::at_line(
                        value.span().map_or(1, |s| line_of(text, s.start)),
                        "`toolchain.channel` is not a string",
                    ));
                }
                span
            }
            None => None,
        }
    };
    if let Some(span) = span {
        let mut dep = Dependency::at("rust", Ecosystem::Toolchain, text, span)
            .kind(DependencyKind::Toolchain);
        let numeric = dep
            .requirement
            .as_deref()
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_ascii_digit());
        if !numeric {
            dep.skip = Some(SkipReason::NoVersion);
        }
        out.dependencies.push(dep);
    }
    out
}

#[cfg(test)]
mod tests;
