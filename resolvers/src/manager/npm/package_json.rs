//! `package.json`: dependency tables, overrides/resolutions, `engines` and `packageManager`.

use super::json::{self, Json, JsonStr};
use super::{is_numeric_version, split_name_version};
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, line_of};

/// Dependency tables and the kind of their entries.
const TABLES: [(&str, DependencyKind); 4] = [
    ("dependencies", DependencyKind::Normal),
    ("devDependencies", DependencyKind::Dev),
    ("peerDependencies", DependencyKind::Peer),
    ("optionalDependencies", DependencyKind::Optional),
];

/// `engines` entries that name a toolchain (others, like `vscode`, are not packages we track).
const ENGINES: [&str; 5] = ["node", "npm", "pnpm", "yarn", "bun"];

pub fn extract(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let root = match json::parse(text) {
        Ok(root) => root,
        Err(err) => {
            out.warnings.push(Warning::at_line(
                line_of(text, err.offset),
                format!("invalid JSON: {}", err.message),
            ));
            return out;
        }
    };
    let Some(members) = root.as_object() else {
        out.warnings.push(Warning::at_line(
            1,
            format!("package.json is {}, not an object", root.type_name()),
        ));
        return out;
    };
    let mut reader = Reader {
        text,
        out: &mut out,
    };
    // Walk the top level in file order so the output follows the file.
    for (key, value) in members {
        let key_name = key.value();
        if let Some((_, kind)) = TABLES.iter().find(|(table, _)| *table == key_name) {
            reader.table(&key_name, value, *kind);
        } else {
            match key_name.as_ref() {
                "overrides" => reader.overrides(value, &key_name),
                "resolutions" => reader.resolutions(value),
                "pnpm" => {
                    if let Some(overrides) = value.get("overrides") {
                        reader.overrides(overrides, "pnpm.overrides");
                    }
                }
                "engines" => reader.engines(value),
                "packageManager" => reader.package_manager(value),
                _ => {}
            }
        }
    }
    resolve_override_references(&mut out.dependencies);
    out
}

/// An npm override written `$foo` takes the requirement of the root project's own dependency
/// `foo` (npm's rule). It gets that requirement, without a span of its own: updating `foo` where
/// it is written updates the override too. Without such a dependency it stays skipped.
fn resolve_override_references(dependencies: &mut [Dependency]) {
    let roots: Vec<(String, Option<String>, Option<SkipReason>)> = dependencies
        .iter()
        .filter(|d| d.kind != DependencyKind::Override)
        .map(|d| (d.name.clone(), d.requirement.clone(), d.skip))
        .collect();
    for dep in dependencies
        .iter_mut()
        .filter(|d| d.kind == DependencyKind::Override)
    {
        let Some(reference) = dep
            .requirement
            .as_deref()
            .and_then(|r| r.trim().strip_prefix('$'))
        else {
            continue;
        };
        if let Some((_, requirement, skip)) = roots.iter().find(|(name, ..)| name == reference) {
            dep.requirement.clone_from(requirement);
            dep.span = None;
            dep.skip = *skip;
        }
    }
}

struct Reader<'t, 'o> {
    text: &'t str,
    out: &'o mut Extraction,
}

impl Reader<'_, '_> {
    fn warn(&mut self, offset: usize, message: String) {
        self.out
            .warnings
            .push(Warning::at_line(line_of(self.text, offset), message));
    }

    /// The members of an object-valued field, with a warning for anything else.
    fn members<'v, 'a>(
        &mut self,
        field: &str,
        value: &'v Json<'a>,
    ) -> Option<&'v [(JsonStr<'a>, Json<'a>)]> {
        if let Some(members) = value.as_object() {
            return Some(members);
        }
        self.out.warnings.push(Warning::new(format!(
            "`{field}` is {}, expected an object",
            value.type_name()
        )));
        None
    }

    fn table(&mut self, field: &str, value: &Json<'_>, kind: DependencyKind) {
        let Some(members) = self.members(field, value) else {
            return;
        };
        for (name, value) in members {
            let Some(req) = value.as_str() else {
                self.warn(
                    name.span.start,
                    format!(
                        "`{field}.{}` is {}, expected a string",
                        name.value(),
                        value.type_name()
                    ),
                );
                continue;
            };
            let dep = classify(self.text, &name.value(), req).kind(kind);
            self.out.dependencies.push(dep);
        }
    }

    /// npm `overrides` (nested objects; `.` overrides the parent itself) and `pnpm.overrides`
    /// (`a>b` selectors).
    fn overrides(&mut self, value: &Json<'_>, field: &str) {
        let Some(members) = self.members(field, value) else {
            return;
        };
        for (key, value) in members {
            let key_value = key.value();
            match value {
                Json::String(req) => {
                    if key_value == "." {
                        // Handled by the parent entry below.
                        continue;
                    }
                    let name = override_target(&key_value);
                    self.push_override(name, req);
                }
                Json::Object(_) => {
                    if let Some(own) = value.get(".").and_then(Json::as_str) {
                        self.push_override(override_target(&key_value), own);
                    }
                    self.overrides(value, &format!("{field}.{key_value}"));
                }
                other => self.warn(
                    key.span.start,
                    format!(
                        "`{field}.{key_value}` is {}, expected a string or an object",
                        other.type_name()
                    ),
                ),
            }
        }
    }

    fn push_override(&mut self, name: &str, req: &JsonStr<'_>) {
        if name.is_empty() {
            return;
        }
        let mut dep = classify(self.text, name, req).kind(DependencyKind::Override);
        // `$foo` reuses the version of the direct dependency `foo`.
        if req.raw.trim_start().starts_with('$') {
            dep.skip = Some(SkipReason::UnresolvedVariable);
        }
        self.out.dependencies.push(dep);
    }

    /// yarn `resolutions`: keys are package paths (`**/a`, `a/b`, `@s/a/**/@s/b`).
    fn resolutions(&mut self, value: &Json<'_>) {
        let Some(members) = self.members("resolutions", value) else {
            return;
        };
        for (key, value) in members {
            let key_value = key.value();
            let Some(req) = value.as_str() else {
                self.warn(
                    key.span.start,
                    format!(
                        "`resolutions.{key_value}` is {}, expected a string",
                        value.type_name()
                    ),
                );
                continue;
            };
            let name = resolution_target(&key_value);
            if name.is_empty() {
                continue;
            }
            let dep = classify(self.text, name, req).kind(DependencyKind::Override);
            self.out.dependencies.push(dep);
        }
    }

    fn engines(&mut self, value: &Json<'_>) {
        let Some(members) = self.members("engines", value) else {
            return;
        };
        for (key, value) in members {
            let name = key.value();
            if !ENGINES.contains(&name.as_ref()) {
                continue;
            }
            let Some(req) = value.as_str() else {
                self.warn(
                    key.span.start,
                    format!(
                        "`engines.{name}` is {}, expected a string",
                        value.type_name()
                    ),
                );
                continue;
            };
            let (span, trimmed) = trimmed_span(req);
            let mut dep = Dependency::at(name.as_ref(), Ecosystem::Toolchain, self.text, span)
                .kind(DependencyKind::Toolchain);
            if trimmed.is_empty() {
                dep.skip = Some(SkipReason::NoVersion);
            }
            self.out.dependencies.push(dep);
        }
    }

    /// `"packageManager": "pnpm@9.1.0+sha512.…"`: the span covers the version and its hash, so
    /// an update writes a new version without a stale hash.
    fn package_manager(&mut self, value: &Json<'_>) {
        let Some(spec) = value.as_str() else {
            self.out.warnings.push(Warning::new(format!(
                "`packageManager` is {}, expected a string",
                value.type_name()
            )));
            return;
        };
        let (span, trimmed) = trimmed_span(spec);
        let Some((name, version)) = trimmed.split_once('@') else {
            let dep = Dependency::unversioned(trimmed, Ecosystem::Toolchain)
                .kind(DependencyKind::Toolchain)
                .skip(SkipReason::NoVersion);
            if !trimmed.is_empty() {
                self.out.dependencies.push(dep);
            }
            return;
        };
        let start = span.start + name.len() + 1;
        let mut dep = Dependency::at(
            name,
            Ecosystem::Toolchain,
            self.text,
            Span::new(start, start + version.len()),
        )
        .kind(DependencyKind::Toolchain);
        if !is_numeric_version(version) {
            dep.skip = Some(SkipReason::NoVersion);
        }
        self.out.dependencies.push(dep);
    }
}

/// The span of the trimmed raw string and the trimmed text.
fn trimmed_span<'a>(s: &JsonStr<'a>) -> (Span, &'a str) {
    let trimmed = s.raw.trim();
    let lead = s.raw.len() - s.raw.trim_start().len();
    let start = s.span.start + lead;
    (Span::new(start, start + trimmed.len()), trimmed)
}

/// Build the dependency for `name: requirement`, resolving `npm:` aliases and marking
/// requirements that no registry can update.
pub(crate) fn classify(text: &str, name: &str, req: &JsonStr<'_>) -> Dependency {
    let (span, trimmed) = trimmed_span(req);
    let lower = trimmed.to_ascii_lowercase();
    if let Some(alias) = trimmed.strip_prefix("npm:") {
        let alias_start = span.start + 4;
        return match split_name_version(alias) {
            Some((real, version)) => {
                let start = alias_start + real.len() + 1;
                Dependency::at(
                    real,
                    Ecosystem::Npm,
                    text,
                    Span::new(start, start + version.len()),
                )
            }
            None => Dependency::unversioned(alias, Ecosystem::Npm).skip(SkipReason::NoVersion),
        };
    }
    let dep = Dependency::at(name, Ecosystem::Npm, text, span);
    let skip = if lower.starts_with("workspace:") {
        Some(SkipReason::Workspace)
    } else if ["file:", "link:", "portal:", "./", "../", "/", "~/"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        Some(SkipReason::Path)
    } else if lower.starts_with("git+")
        || lower.starts_with("git:")
        || lower.starts_with("github:")
        || lower.starts_with("gitlab:")
        || lower.starts_with("bitbucket:")
        || lower.starts_with("gist:")
        || ((lower.starts_with("http://") || lower.starts_with("https://"))
            && lower.split('#').next().is_some_and(|base| {
                std::path::Path::new(base)
                    .extension()
                    .is_some_and(|ext| ext.eq_ignore_ascii_case("git"))
            }))
        || is_github_shorthand(trimmed)
    {
        Some(SkipReason::Git)
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        Some(SkipReason::Url)
    } else if lower.starts_with("catalog:") {
        Some(SkipReason::UnresolvedVariable)
    } else {
        None
    };
    match skip {
        Some(reason) => dep.skip(reason),
        None => dep,
    }
}

/// `user/repo` or `user/repo#ref`: npm's GitHub shorthand.
fn is_github_shorthand(req: &str) -> bool {
    let base = req.split('#').next().unwrap_or_default();
    let Some((user, repo)) = base.split_once('/') else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    !user.starts_with('@') && ok(user) && ok(repo) && !repo.contains('/')
}

/// The package an override key targets: the last `>`-separated selector without its version
/// (`a@1>b@^2` → `b`).
fn override_target(key: &str) -> &str {
    let last = key.rsplit('>').next().unwrap_or(key).trim();
    split_name_version(last).map_or(last, |(name, _)| name)
}

/// The package a yarn resolution key targets: the last package in the path (`**/a/@s/b` →
/// `@s/b`), without a version selector.
fn resolution_target(key: &str) -> &str {
    let segments: Vec<&str> = key.split('/').collect();
    let mut start = None;
    let mut i = 0;
    while i < segments.len() {
        let seg = segments.get(i).copied().unwrap_or_default();
        if seg == "**" || seg.is_empty() {
            i += 1;
            continue;
        }
        let begin = segments.iter().take(i).map(|s| s.len() + 1).sum::<usize>();
        start = Some(begin);
        i += if seg.starts_with('@') { 2 } else { 1 };
    }
    let last = start.and_then(|s| key.get(s..)).unwrap_or(key);
    split_name_version(last).map_or(last, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_targets() {
        assert_eq!(resolution_target("**/lodash"), "lodash");
        assert_eq!(resolution_target("a/b"), "b");
        assert_eq!(resolution_target("@s/a/**/@t/b"), "@t/b");
        assert_eq!(resolution_target("@s/a"), "@s/a");
        assert_eq!(resolution_target("left-pad@1.1.0"), "left-pad");
        assert_eq!(override_target("a@1>@s/b@^2"), "@s/b");
        assert_eq!(override_target("foo"), "foo");
    }

    #[test]
    fn shorthand() {
        assert!(is_github_shorthand("expressjs/express#4.x"));
        assert!(!is_github_shorthand("@types/node"));
        assert!(!is_github_shorthand("^1.2.3"));
        assert!(!is_github_shorthand("1.x || 2.x"));
    }
}
