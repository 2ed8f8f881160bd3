//! Gradle version catalogs (`gradle/libs.versions.toml`).
//!
//! `[libraries]` entries (kind managed: the catalog declares versions, build scripts choose
//! where to use them) and `[plugins]` entries (kind plugin, named by the plugin marker artifact).
//! Both accept string notation (`"g:a:1.0"`, `"plugin.id:1.0"`) and tables with `module`,
//! `group` + `name`, or `id`, and a `version` that is a string, `{ ref = "x" }` / `version.ref`
//! (resolved in `[versions]`; the span then points at that entry, so every library sharing the
//! ref moves together), or a rich version (`{ strictly/require/prefer = "…" }`, first present
//! wins). `[versions]` entries nothing refers to and `[bundles]` are not dependencies.

use toml_edit::{Document, Item, TableLike, Value};

use super::plugin_marker;
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, line_of};

pub(super) fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!("invalid TOML: {}", e.message());
            out.warnings.push(match e.span() {
                Some(span) => Warning::at_line(line_of(text, span.start), message),
                None => Warning::new(message),
            });
            return out;
        }
    };
    let catalog = Catalog {
        text,
        versions: doc.get("versions").and_then(Item::as_table_like),
    };
    if let Some(libraries) = doc.get("libraries").and_then(Item::as_table_like) {
        for (alias, item) in libraries.iter() {
            if let Some(dep) = catalog.library(alias, item, &mut out.warnings) {
                out.dependencies.push(dep);
            }
        }
    }
    if let Some(plugins) = doc.get("plugins").and_then(Item::as_table_like) {
        for (alias, item) in plugins.iter() {
            if let Some(dep) = catalog.plugin(alias, item, &mut out.warnings) {
                out.dependencies.push(dep);
            }
        }
    }
    out
}

struct Catalog<'a> {
    text: &'a str,
    versions: Option<&'a dyn TableLike>,
}

impl Catalog<'_> {
    fn library(&self, alias: &str, item: &Item, warnings: &mut Vec<Warning>) -> Option<Dependency> {
        if let Some(value) = item.as_value().filter(|v| v.is_str()) {
            // "group:artifact:version"
            let s = value.as_str()?;
            let mut parts = s.splitn(3, ':');
            let (group, artifact) = (parts.next()?, parts.next()?);
            let name = format!("{group}:{artifact}");
            let Some(version) = parts.next() else {
                return Some(no_version(name, DependencyKind::Managed));
            };
            let dep = match self.string_span(value) {
                Some(span) => {
                    let start = span.start + group.len() + artifact.len() + 2;
                    Dependency::at(
                        name,
                        Ecosystem::Maven,
                        self.text,
                        Span::new(start, span.end),
                    )
                }
                None => unspanned(name, version),
            };
            return Some(dep.kind(DependencyKind::Managed));
        }
        let table = item.as_table_like()?;
        let name = if let Some(module) = table.get("module").and_then(Item::as_str) {
            module.to_owned()
        } else {
            let group = table.get("group").and_then(Item::as_str);
            let artifact = table.get("name").and_then(Item::as_str);
            let (Some(g), Some(a)) = (group, artifact) else {
                warnings.push(self.warning(
                    item,
                    format!("library `{alias}` has neither `module` nor `group` and `name`"),
                ));
                return None;
            };
            format!("{g}:{a}")
        };
        Some(
            self.versioned(name, table.get("version"), alias, warnings)
                .kind(DependencyKind::Managed),
        )
    }

    fn plugin(&self, alias: &str, item: &Item, warnings: &mut Vec<Warning>) -> Option<Dependency> {
        if let Some(value) = item.as_value().filter(|v| v.is_str()) {
            // "plugin.id:version"
            let s = value.as_str()?;
            let (id, version) = match s.split_once(':') {
                Some((id, version)) => (id, Some(version)),
                None => (s, None),
            };
            let name = plugin_marker(id);
            let Some(version) = version else {
                return Some(no_version(name, DependencyKind::Plugin));
            };
            let dep = match self.string_span(value) {
                Some(span) => Dependency::at(
                    name,
                    Ecosystem::Maven,
                    self.text,
                    Span::new(span.start + id.len() + 1, span.end),
                ),
                None => unspanned(name, version),
            };
            return Some(dep.kind(DependencyKind::Plugin));
        }
        let table = item.as_table_like()?;
        let Some(id) = table.get("id").and_then(Item::as_str) else {
            warnings.push(self.warning(item, format!("plugin `{alias}` has no `id`")));
            return None;
        };
        Some(
            self.versioned(plugin_marker(id), table.get("version"), alias, warnings)
                .kind(DependencyKind::Plugin),
        )
    }

    /// The dependency `name` with the version item `version` (string, ref or rich version).
    fn versioned(
        &self,
        name: String,
        version: Option<&Item>,
        alias: &str,
        warnings: &mut Vec<Warning>,
    ) -> Dependency {
        let Some(version) = version else {
            return no_version(name, DependencyKind::Normal);
        };
        if let Some(value) = version.as_value().filter(|v| v.is_str()) {
            return self.string_dep(name, value);
        }
        let Some(table) = version.as_table_like() else {
            return no_version(name, DependencyKind::Normal);
        };
        if let Some(reference) = table.get("ref").and_then(Item::as_str) {
            let target = self.versions.and_then(|v| v.get(reference));
            let resolved = target.and_then(|t| {
                if let Some(value) = t.as_value().filter(|v| v.is_str()) {
                    Some(self.string_dep(name.clone(), value))
                } else {
                    t.as_table_like().and_then(|rich| self.rich(&name, rich))
                }
            });
            return resolved.unwrap_or_else(|| {
                warnings.push(self.warning(
                    version,
                    format!("`{alias}` refers to version `{reference}`, which [versions] does not define"),
                ));
                Dependency::unversioned(name, Ecosystem::Maven).skip(SkipReason::UnresolvedVariable)
            });
        }
        self.rich(&name, table)
            .unwrap_or_else(|| no_version(name, DependencyKind::Normal))
    }

    /// A rich version table: the first of `strictly`, `require`, `prefer`.
    fn rich(&self, name: &str, table: &dyn TableLike) -> Option<Dependency> {
        ["strictly", "require", "prefer"].iter().find_map(|key| {
            let value = table.get(key)?.as_value().filter(|v| v.is_str())?;
            Some(self.string_dep(name.to_owned(), value))
        })
    }

    fn string_dep(&self, name: String, value: &Value) -> Dependency {
        match self.string_span(value) {
            Some(span) => Dependency::at(name, Ecosystem::Maven, self.text, span),
            None => unspanned(name, value.as_str().unwrap_or_default()),
        }
    }

    /// The span of a string value's content, when the raw text between the quotes is exactly
    /// the value (no escapes, single-line quotes).
    fn string_span(&self, value: &Value) -> Option<Span> {
        let range = value.span()?;
        let raw = self.text.get(range.clone())?;
        let quote = raw.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        if raw.len() < 2 || raw.starts_with(&format!("{quote}{quote}{quote}")) {
            return None;
        }
        let span = Span::new(range.start + 1, range.end - 1);
        (span.slice(self.text) == value.as_str()).then_some(span)
    }

    fn warning(&self, item: &Item, message: String) -> Warning {
        let span = item
            .as_value()
            .and_then(Value::span)
            .or_else(|| item.span());
        match span {
            Some(span) => Warning::at_line(line_of(self.text, span.start), message),
            None => Warning::new(message),
        }
    }
}

fn no_version(name: String, kind: DependencyKind) -> Dependency {
    Dependency::unversioned(name, Ecosystem::Maven)
        .kind(kind)
        .skip(SkipReason::NoVersion)
}

/// A version written with escapes or multi-line quotes: reported without a span (it cannot be
/// updated in place).
fn unspanned(name: String, version: &str) -> Dependency {
    let mut dep = Dependency::unversioned(name, Ecosystem::Maven);
    dep.requirement = Some(version.to_owned());
    dep
}
