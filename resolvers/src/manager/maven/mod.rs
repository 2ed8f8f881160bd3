//! Maven: `pom.xml` (and `*.pom.xml`).
//!
//! Read with `quick-xml` into a small element tree that keeps the byte span of every element's
//! text, then:
//! - `dependencies/dependency`: scope `test` → dev, `provided`/`runtime`/`compile` → normal,
//!   `<optional>true</optional>` → optional, scope `system` → skipped as `path`;
//! - `dependencyManagement` entries (imported BOMs included) → managed;
//! - `build/plugins`, `build/pluginManagement/plugins`, `reporting/plugins` and
//!   `build/extensions` → plugin (a plugin without `groupId` is `org.apache.maven.plugins`);
//!   a plugin's own `dependencies` and its compiler `annotationProcessorPaths` → build;
//! - `parent` → parent;
//! - the same inside every `profiles/profile`.
//!
//! Versions: `${name}` is looked up in the POM's `<properties>` (following `${other}` chains),
//! `${project.version}` (or the parent's version when the project inherits it) and
//! `${project.parent.version}`; the dependency's span then covers the property's value, so an
//! update edits the property. A version mixing text and variables, or naming a property this
//! POM does not define, is skipped as `unresolved-variable`; no `<version>` at all is
//! `no-version` (managed by a parent or BOM). A dependency on the project's own group whose
//! version is `${project.version}`/`${project.parent.version}` is a module of the same build
//! and is skipped as `local`. The project's own coordinates are not a dependency.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{
    Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, file_name, line_of,
};
use crate::Ecosystem;

#[cfg(test)]
mod tests;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

/// Does the Maven manager read the file at `path`?
pub fn matches(path: &str) -> bool {
    let name = file_name(path);
    name == "pom.xml" || name.ends_with(".pom.xml")
}

/// Extract the dependencies a POM declares.
pub fn extract(_path: &str, text: &str) -> Extraction {
    let mut out = Extraction::default();
    let root = parse(text, &mut out.warnings);
    let Some(project) = root.child("project") else {
        if out.warnings.is_empty() {
            out.warnings
                .push(Warning::new("no <project> element: not a Maven POM"));
        }
        return out;
    };
    let pom = Pom::new(text, project);
    let mut found = Vec::new();
    if let Some(parent) = project.child("parent") {
        found.extend(pom.coordinate(parent, DependencyKind::Parent, None));
    }
    pom.model(project, &mut found);
    for profile in project.path(&["profiles", "profile"]) {
        pom.model(profile, &mut found);
    }
    found.sort_by_key(|(start, _)| *start);
    out.dependencies = found.into_iter().map(|(_, d)| d).collect();
    out
}

// ----- a minimal element tree with text spans --------------------------------------------------

#[derive(Debug, Default)]
struct Element {
    name: String,
    /// Byte offset of the start tag.
    start: usize,
    /// Span of the element's own text, whitespace-trimmed (None when empty).
    text: Option<Span>,
    children: Vec<Element>,
}

impl Element {
    fn new(tag: &BytesStart<'_>, start: usize) -> Self {
        let local = tag.local_name();
        Element {
            name: local.into_inner().to_owned(),
            start,
            text: None,
            children: Vec::new(),
        }
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// All elements reached by following `names` (every match at every step).
    fn path<'s>(&'s self, names: &[&str]) -> Vec<&'s Element> {
        let mut current = vec![self];
        for name in names {
            current = current
                .into_iter()
                .flat_map(|e| e.children.iter().filter(|c| c.name == *name))
                .collect();
        }
        current
    }

    /// The trimmed text of child `name`, with its span.
    fn child_text<'t>(&self, text: &'t str, name: &str) -> Option<(&'t str, Span)> {
        let span = self.child(name)?.text?;
        Some((span.slice(text)?, span))
    }

    fn extend_text(&mut self, start: usize, end: usize) {
        self.text = Some(match self.text {
            Some(span) => Span::new(span.start.min(start), span.end.max(end)),
            None => Span::new(start, end),
        });
    }
}

/// Parse `text` into a tree under an unnamed root. Malformed XML stops the parse with a warning;
/// what was read so far is kept.
fn parse(text: &str, warnings: &mut Vec<Warning>) -> Element {
    let mut reader = Reader::from_str(text);
    let mut stack = vec![Element::default()];
    let mut failed = false;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event();
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match event {
            Ok(Event::Start(tag)) => stack.push(Element::new(&tag, before)),
            Ok(Event::Empty(tag)) => {
                let element = Element::new(&tag, before);
                if let Some(top) = stack.last_mut() {
                    top.children.push(element);
                }
            }
            Ok(Event::End(_)) => close_top(&mut stack),
            Ok(Event::Text(_) | Event::GeneralRef(_)) => {
                if let Some((start, end)) = trimmed(text, before, after)
                    && let Some(top) = stack.last_mut()
                {
                    top.extend_text(start, end);
                }
            }
            Ok(Event::CData(_)) => {
                // `<![CDATA[` … `]]>`: the value is between the markers.
                if let Some((start, end)) = trimmed(text, before + 9, after.saturating_sub(3))
                    && let Some(top) = stack.last_mut()
                {
                    top.extend_text(start, end);
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                let position = usize::try_from(reader.error_position()).unwrap_or(before);
                warnings.push(Warning::at_line(
                    line_of(text, position),
                    format!("invalid XML: {e}"),
                ));
                failed = true;
                break;
            }
        }
    }
    if stack.len() > 1 {
        if !failed && let Some(open) = stack.last() {
            warnings.push(Warning::at_line(
                line_of(text, open.start),
                format!("<{}> is not closed at the end of the file", open.name),
            ));
        }
        while stack.len() > 1 {
            close_top(&mut stack);
        }
    }
    stack.pop().unwrap_or_default()
}

fn close_top(stack: &mut Vec<Element>) {
    if stack.len() > 1
        && let Some(done) = stack.pop()
        && let Some(parent) = stack.last_mut()
    {
        parent.children.push(done);
    }
}

/// `start..end` with surrounding whitespace removed; None when nothing is left.
fn trimmed(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let raw = text.get(start..end)?;
    let lead = raw.len() - raw.trim_start().len();
    let body = raw.trim();
    (!body.is_empty()).then(|| (start + lead, start + lead + body.len()))
}

// ----- the POM model ---------------------------------------------------------------------------

/// A property's literal value and where it is written.
#[derive(Debug, Clone, Copy)]
struct Property<'t> {
    value: &'t str,
    span: Span,
}

struct Pom<'t> {
    text: &'t str,
    properties: HashMap<String, Property<'t>>,
    /// The project's groupId (or the parent's when inherited), for recognising sibling modules.
    group: Option<&'t str>,
}

/// How a version text resolved.
enum Version<'t> {
    /// A literal (possibly reached through properties) at this span.
    Literal(Property<'t>),
    /// `${project.version}`-style self reference, resolved to this literal.
    SelfReference(Property<'t>),
    /// Variables that cannot be resolved here, or text mixed with variables.
    Unresolved,
}

impl<'t> Pom<'t> {
    fn new(text: &'t str, project: &Element) -> Self {
        let mut properties = HashMap::new();
        if let Some(props) = project.child("properties") {
            for p in &props.children {
                if let Some(span) = p.text
                    && let Some(value) = span.slice(text)
                {
                    properties
                        .entry(p.name.clone())
                        .or_insert(Property { value, span });
                }
            }
        }
        let own = |name: &str| {
            let (value, span) = project.child_text(text, name)?;
            Some(Property { value, span })
        };
        let parent = |name: &str| {
            let (value, span) = project.child("parent")?.child_text(text, name)?;
            Some(Property { value, span })
        };
        let parent_version = parent("version");
        let version = own("version").or(parent_version);
        let group = own("groupId").or_else(|| parent("groupId"));
        for (key, value) in [
            ("project.version", version),
            ("pom.version", version),
            ("version", version),
            ("project.parent.version", parent_version),
            ("parent.version", parent_version),
            ("project.groupId", group),
            ("pom.groupId", group),
            ("project.parent.groupId", parent("groupId")),
            ("project.artifactId", own("artifactId")),
        ] {
            if let Some(value) = value {
                properties.insert(key.to_owned(), value);
            }
        }
        Pom {
            text,
            properties,
            group: group.map(|g| g.value),
        }
    }

    /// Dependencies, dependency management and build sections of a project or profile.
    fn model(&self, model: &Element, found: &mut Vec<(usize, Dependency)>) {
        for dep in model.path(&["dependencies", "dependency"]) {
            found.extend(self.dependency(dep, false));
        }
        for dep in model.path(&["dependencyManagement", "dependencies", "dependency"]) {
            found.extend(self.dependency(dep, true));
        }
        let mut plugins = model.path(&["build", "plugins", "plugin"]);
        plugins.extend(model.path(&["build", "pluginManagement", "plugins", "plugin"]));
        plugins.extend(model.path(&["reporting", "plugins", "plugin"]));
        for plugin in plugins {
            found.extend(self.coordinate(
                plugin,
                DependencyKind::Plugin,
                Some("org.apache.maven.plugins"),
            ));
            for dep in plugin.path(&["dependencies", "dependency"]) {
                found.extend(self.coordinate(dep, DependencyKind::Build, None));
            }
            let mut configurations: Vec<&Element> = plugin.children("configuration").collect();
            configurations.extend(plugin.path(&["executions", "execution", "configuration"]));
            for configuration in configurations {
                for path in configuration.path(&["annotationProcessorPaths", "path"]) {
                    found.extend(self.coordinate(path, DependencyKind::Build, None));
                }
            }
        }
        for extension in model.path(&["build", "extensions", "extension"]) {
            found.extend(self.coordinate(extension, DependencyKind::Plugin, None));
        }
    }

    /// A `<dependency>`: kind from scope and optional (managed inside dependencyManagement).
    fn dependency(&self, element: &Element, managed: bool) -> Option<(usize, Dependency)> {
        let scope = element
            .child_text(self.text, "scope")
            .map(|(s, _)| self.substitute(s));
        let optional = element
            .child_text(self.text, "optional")
            .is_some_and(|(o, _)| o.eq_ignore_ascii_case("true"));
        let kind = if managed {
            DependencyKind::Managed
        } else if scope.as_deref() == Some("test") {
            DependencyKind::Dev
        } else if optional {
            DependencyKind::Optional
        } else {
            DependencyKind::Normal
        };
        let (start, mut dep) = self.coordinate(element, kind, None)?;
        if scope.as_deref() == Some("system") {
            dep = dep.skip(SkipReason::Path);
        }
        Some((start, dep))
    }

    /// Any element with `groupId`, `artifactId` and an optional `version`.
    fn coordinate(
        &self,
        element: &Element,
        kind: DependencyKind,
        default_group: Option<&str>,
    ) -> Option<(usize, Dependency)> {
        let artifact = element.child_text(self.text, "artifactId")?.0;
        let group = match element.child_text(self.text, "groupId") {
            Some((g, _)) => self.substitute(g),
            None => default_group?.to_owned(),
        };
        let name = format!("{group}:{}", self.substitute(artifact));
        let Some((written, span)) = element.child_text(self.text, "version") else {
            let dep = Dependency::unversioned(name, Ecosystem::Maven)
                .kind(kind)
                .skip(SkipReason::NoVersion);
            return Some((element.start, dep));
        };
        let dep = match self.version(written, span) {
            Version::Literal(p) => Dependency::at(name, Ecosystem::Maven, self.text, p.span),
            Version::SelfReference(p) => {
                let dep = Dependency::at(name, Ecosystem::Maven, self.text, p.span);
                if kind != DependencyKind::Parent && self.group == Some(group.as_str()) {
                    dep.skip(SkipReason::Local)
                } else {
                    dep
                }
            }
            Version::Unresolved => Dependency::at(name, Ecosystem::Maven, self.text, span)
                .skip(SkipReason::UnresolvedVariable),
        };
        Some((element.start, dep.kind(kind)))
    }

    /// Resolve a version text: a literal, or exactly one `${property}` (followed through chains).
    fn version(&self, written: &'t str, span: Span) -> Version<'t> {
        let mut current = Property {
            value: written,
            span,
        };
        let mut own = false;
        for _ in 0..16 {
            if !current.value.contains("${") {
                return if own {
                    Version::SelfReference(current)
                } else {
                    Version::Literal(current)
                };
            }
            let Some(name) = sole_variable(current.value) else {
                return Version::Unresolved;
            };
            own |= matches!(
                name,
                "project.version"
                    | "pom.version"
                    | "version"
                    | "project.parent.version"
                    | "parent.version"
            );
            match self.properties.get(name) {
                Some(p) => current = *p,
                None => return Version::Unresolved,
            }
        }
        Version::Unresolved
    }

    /// Replace `${name}` by property values in a name (groupId, artifactId, scope); unknown
    /// variables stay as written.
    fn substitute(&self, value: &str) -> String {
        let mut out = value.to_owned();
        for _ in 0..16 {
            let Some(start) = out.find("${") else { break };
            let Some(len) = out.get(start..).and_then(|s| s.find('}')) else {
                break;
            };
            let name = out.get(start + 2..start + len).unwrap_or("");
            let Some(p) = self.properties.get(name) else {
                break;
            };
            out.replace_range(start..=start + len, p.value);
        }
        out
    }
}

/// `${name}` → `name` when the whole text is one variable.
fn sole_variable(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    (!inner.is_empty() && !inner.contains(['$', '{', '}'])).then_some(inner)
}
