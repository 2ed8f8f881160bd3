//! Container images: `Dockerfile`/`Containerfile` `FROM` (and `COPY --from=image`) lines and
//! compose files' `image:` values.
//!
//! The dependency name is the image without tag or digest, as written (`node`,
//! `ghcr.io/org/app`, `registry.example:5000/team/app`; Docker Hub's implicit `library/` is not
//! added). The requirement is the tag and the span covers the tag's bytes. A digest
//! (`@sha256:…`) is reported as `locked`; an image pinned only by digest is skipped `digest`.
//!
//! Variables: in Dockerfiles, `ARG`s declared before the first `FROM` are substituted with their
//! defaults; when the tag comes from an `ARG` default, the span points at that default, so an
//! update edits the `ARG` line. In compose files `${VAR:-default}` uses the default. A reference
//! that still holds a variable after substitution is skipped `unresolved-variable`. A tag built
//! from several pieces (`${V}-alpine`) keeps its requirement but has no span.

use std::collections::HashMap;

use super::github_actions::yaml;
use super::{Dependency, Extraction, SkipReason, Span, Warning, file_name, line_of};
use crate::Ecosystem;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

pub fn matches(path: &str) -> bool {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    is_dockerfile(&lower) || is_compose(&lower)
}

fn is_dockerfile(lower: &str) -> bool {
    lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.starts_with("containerfile.")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
}

fn is_compose(lower: &str) -> bool {
    (lower.starts_with("docker-compose") || lower.starts_with("compose"))
        && [".yml", ".yaml"].iter().any(|ext| lower.ends_with(ext))
}

pub fn extract(path: &str, text: &str) -> Extraction {
    if is_compose(&file_name(path).to_ascii_lowercase()) {
        extract_compose(text)
    } else {
        extract_dockerfile(text)
    }
}

/// A string after variable substitution; every byte remembers where in the file it came from
/// (`None` when it did not come from the file verbatim).
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    pub text: String,
    pub origin: Vec<Option<usize>>,
    /// Some variable could not be resolved; its reference is kept in `text`.
    pub unresolved: bool,
}

impl Resolved {
    /// `raw` as written at `offset` in the file (or at no known offset).
    pub fn literal(raw: &str, offset: Option<usize>) -> Self {
        Resolved {
            text: raw.to_owned(),
            origin: (0..raw.len()).map(|i| offset.map(|o| o + i)).collect(),
            unresolved: false,
        }
    }

    /// Bytes `start..end` with their origins.
    fn slice(&self, start: usize, end: usize) -> Resolved {
        Resolved {
            text: self.text.get(start..end).unwrap_or_default().to_owned(),
            origin: self.origin.get(start..end).unwrap_or_default().to_vec(),
            unresolved: false,
        }
    }

    fn push(&mut self, other: &Resolved) {
        self.text.push_str(&other.text);
        self.origin.extend_from_slice(&other.origin);
        self.unresolved |= other.unresolved;
    }

    /// The file span of `start..end` when those bytes are one contiguous run of the file.
    fn span(&self, start: usize, end: usize) -> Option<Span> {
        if start >= end {
            return None;
        }
        let first = (*self.origin.get(start)?)?;
        for (i, origin) in self.origin.get(start..end)?.iter().enumerate() {
            if *origin != Some(first + i) {
                return None;
            }
        }
        Some(Span::new(first, first + (end - start)))
    }
}

/// Substitute `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME-default}` in `input`. `lookup`
/// gives a variable's value; a default written inline is used when the lookup fails. `$$` is a
/// literal `$` (compose).
pub(crate) fn substitute(input: &Resolved, lookup: &dyn Fn(&str) -> Option<Resolved>) -> Resolved {
    let raw = input.text.as_str();
    let mut out = Resolved {
        unresolved: input.unresolved,
        ..Resolved::default()
    };
    let mut i = 0;
    while i < raw.len() {
        let Some(dollar) = raw[i..].find('$') else {
            out.push(&input.slice(i, raw.len()));
            break;
        };
        out.push(&input.slice(i, i + dollar));
        i += dollar;
        let after = &raw[i + 1..];
        if after.starts_with('$') {
            out.push(&input.slice(i, i + 1));
            i += 2;
            continue;
        }
        let (name, default, consumed) = if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                out.push(&input.slice(i, raw.len()));
                out.unresolved = true;
                break;
            };
            let inner = &body[..close];
            let (name, default) = match inner.find([':', '-', '+', '?']) {
                Some(p) => {
                    let op_len = if inner[p..].starts_with(':') { 2 } else { 1 };
                    let op = inner.get(p..p + op_len).unwrap_or_default();
                    let from = i + 2 + p + op_len;
                    let default = op
                        .ends_with('-')
                        .then(|| input.slice(from.min(i + 2 + close), i + 2 + close));
                    (&inner[..p], default)
                }
                None => (inner, None),
            };
            (name, default, close + 3)
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..len], None, len + 1)
        };
        if name.is_empty() {
            out.push(&input.slice(i, i + 1));
            i += 1;
            continue;
        }
        if let Some(value) = lookup(name) {
            out.push(&value);
        } else if let Some(default) = default {
            out.push(&substitute(&default, lookup));
        } else {
            out.push(&input.slice(i, i + consumed));
            out.unresolved = true;
        }
        i += consumed;
    }
    out
}

/// Byte ranges of an image reference's name, tag and digest.
struct ImageParts {
    name_end: usize,
    tag: Option<(usize, usize)>,
    digest: Option<(usize, usize)>,
}

fn split_image(image: &str) -> ImageParts {
    let (before_digest, digest) = match image.find('@') {
        Some(at) => (&image[..at], Some((at + 1, image.len()))),
        None => (image, None),
    };
    let last_slash = before_digest.rfind('/').map_or(0, |i| i + 1);
    match before_digest[last_slash..].find(':') {
        Some(colon) => ImageParts {
            name_end: last_slash + colon,
            tag: Some((last_slash + colon + 1, before_digest.len())),
            digest,
        },
        None => ImageParts {
            name_end: before_digest.len(),
            tag: None,
            digest,
        },
    }
}

/// The dependency for an image reference, or `None` for `scratch` and empty references.
pub(crate) fn image_dependency(text: &str, image: &Resolved) -> Option<Dependency> {
    let reference = image.text.as_str();
    if reference.is_empty() || reference.eq_ignore_ascii_case("scratch") {
        return None;
    }
    let parts = split_image(reference);
    let name = &reference[..parts.name_end];
    if name.contains('$') || name.is_empty() {
        return Some(
            Dependency::unversioned(reference, Ecosystem::Docker)
                .skip(SkipReason::UnresolvedVariable),
        );
    }
    let mut dep = Dependency::unversioned(name, Ecosystem::Docker);
    if let Some((start, end)) = parts.tag {
        // An unresolved tag (`${TAG}`) is not rewritten in place: no span.
        if let Some(span) = image.span(start, end).filter(|_| !image.unresolved) {
            dep = Dependency::at(name, Ecosystem::Docker, text, span);
        } else {
            dep.requirement = reference.get(start..end).map(str::to_owned);
        }
    }
    if let Some((start, end)) = parts.digest {
        dep.locked = reference.get(start..end).map(str::to_owned);
    }
    dep.skip = if image.unresolved {
        Some(SkipReason::UnresolvedVariable)
    } else if parts.tag.is_some() {
        None
    } else if parts.digest.is_some() {
        Some(SkipReason::Digest)
    } else {
        Some(SkipReason::NoVersion)
    };
    Some(dep)
}

/// One Dockerfile instruction after joining continuation lines.
struct Instruction {
    text: String,
    origin: Vec<usize>,
    line: usize,
}

impl Instruction {
    /// Whitespace-separated words with their offsets in `self.text`.
    fn words(&self) -> Vec<(usize, &str)> {
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in self.text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    words.push((s, &self.text[s..i]));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            words.push((s, &self.text[s..]));
        }
        words
    }

    /// `word` at `at` in `self.text`, resolved against `args`.
    fn resolve(&self, at: usize, word: &str, args: &HashMap<String, Resolved>) -> Resolved {
        let literal = Resolved {
            text: word.to_owned(),
            origin: (0..word.len())
                .map(|i| self.origin.get(at + i).copied())
                .collect(),
            unresolved: false,
        };
        substitute(&literal, &|name| args.get(name).cloned())
    }
}

fn logical_instructions(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let directive = directive.trim();
        if let Some(value) = directive
            .strip_prefix("escape")
            .map(str::trim_start)
            .and_then(|v| v.strip_prefix('='))
        {
            if let Some(c) = value.trim().chars().next() {
                escape = c;
            }
        } else if !directive.contains('=') {
            break;
        }
    }
    let mut out = Vec::new();
    let mut current: Option<Instruction> = None;
    let mut offset = 0;
    for physical in text.split_inclusive('\n') {
        let line_offset = offset;
        offset += physical.len();
        let body = physical.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if current.is_some() && trimmed.starts_with('#') {
            continue;
        }
        let (piece, continued) = match body.trim_end().strip_suffix(escape) {
            Some(before) => (before, true),
            None => (body, false),
        };
        let ins = current.get_or_insert_with(|| Instruction {
            text: String::new(),
            origin: Vec::new(),
            line: line_of(text, line_offset),
        });
        ins.text.push_str(piece);
        ins.origin.extend(line_offset..line_offset + piece.len());
        if continued {
            ins.text.push(' ');
            ins.origin.push(line_offset + piece.len());
        } else if let Some(done) = current.take() {
            out.push(done);
        }
    }
    out.extend(current);
    out
}

/// Parse `ARG a=1 b="2" c` into (name, value-with-origin).
fn parse_args(ins: &Instruction, words: &[(usize, &str)]) -> Vec<(String, Option<Resolved>)> {
    words
        .iter()
        .skip(1)
        .map(|(at, word)| match word.split_once('=') {
            Some((name, value)) => {
                let mut value_at = at + name.len() + 1;
                let mut value = value;
                if let Some(inner) = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                {
                    value = inner;
                    value_at += 1;
                }
                let origin = (0..value.len())
                    .map(|i| ins.origin.get(value_at + i).copied())
                    .collect();
                let resolved = Resolved {
                    text: value.to_owned(),
                    origin,
                    unresolved: false,
                };
                (name.to_owned(), Some(resolved))
            }
            None => ((*word).to_owned(), None),
        })
        .collect()
}

fn extract_dockerfile(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut args: HashMap<String, Resolved> = HashMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut seen_from = false;
    for ins in logical_instructions(text) {
        let words = ins.words();
        let Some((_, keyword)) = words.first() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for (name, value) in parse_args(&ins, &words) {
                    match value {
                        Some(value) => {
                            args.insert(name, value);
                        }
                        None => {
                            args.remove(&name);
                        }
                    }
                }
            }
            "FROM" => {
                seen_from = true;
                let rest: Vec<_> = words
                    .iter()
                    .skip(1)
                    .filter(|(_, w)| !w.starts_with("--"))
                    .collect();
                let Some((at, image)) = rest.first() else {
                    out.warnings
                        .push(Warning::at_line(ins.line, "`FROM` without an image"));
                    continue;
                };
                let resolved = ins.resolve(*at, image, &args);
                let alias = match rest.get(1..) {
                    Some([(_, as_kw), (_, name), ..]) if as_kw.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    Some([]) | None => None,
                    Some(_) => {
                        out.warnings.push(Warning::at_line(
                            ins.line,
                            format!("unexpected words after `FROM {image}`"),
                        ));
                        None
                    }
                };
                if stages.contains(&resolved.text.to_ascii_lowercase()) {
                    out.dependencies.push(
                        Dependency::unversioned(resolved.text.clone(), Ecosystem::Docker)
                            .skip(SkipReason::Local),
                    );
                } else if let Some(dep) = image_dependency(text, &resolved) {
                    out.dependencies.push(dep);
                }
                stages.extend(alias);
            }
            "COPY" => {
                for (at, word) in &words {
                    let Some(from) = word.strip_prefix("--from=") else {
                        continue;
                    };
                    let is_stage = stages.contains(&from.to_ascii_lowercase())
                        || from.chars().all(|c| c.is_ascii_digit());
                    if is_stage {
                        continue;
                    }
                    let resolved = ins.resolve(at + "--from=".len(), from, &args);
                    out.dependencies.extend(image_dependency(text, &resolved));
                }
            }
            _ => {}
        }
    }
    out
}

fn extract_compose(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let (values, warning) = yaml::values_of(text, &["image"]);
    out.warnings.extend(warning);
    let no_env = |_: &str| None;
    for value in values {
        let resolved = substitute(
            &Resolved::literal(&value.value, value.span.map(|s| s.start)),
            &no_env,
        );
        match image_dependency(text, &resolved) {
            Some(dep) => out.dependencies.push(dep),
            None if value.value.trim().is_empty() => out
                .warnings
                .push(Warning::at_line(value.line, "`image:` without a value")),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, Option<String>, Option<String>, Option<SkipReason>);

    fn rows(ex: &Extraction) -> Vec<Row> {
        ex.dependencies
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    d.requirement.clone(),
                    d.locked.clone(),
                    d.skip,
                )
            })
            .collect()
    }

    fn row(name: &str, req: Option<&str>, locked: Option<&str>, skip: Option<SkipReason>) -> Row {
        (
            name.to_owned(),
            req.map(str::to_owned),
            locked.map(str::to_owned),
            skip,
        )
    }

    #[test]
    fn file_matching() {
        for yes in [
            "Dockerfile",
            "a/Dockerfile.dev",
            "build/app.dockerfile",
            "Containerfile",
            "docker-compose.yml",
            "docker-compose.prod.yaml",
            "compose.yaml",
            "deploy/compose.override.yml",
        ] {
            assert!(matches(yes), "{yes}");
        }
        for no in [
            "dockerfile.md.txt.json/x",
            "Dockerfiles/readme",
            "compose.json",
            "mydocker.yml",
        ] {
            assert!(!matches(no), "{no}");
        }
    }

    #[test]
    fn from_lines() {
        let text = "# syntax=docker/dockerfile:1\nARG BASE=python\nARG PY_VERSION=3.12\nARG DIGEST\n\
            FROM --platform=$BUILDPLATFORM ${BASE}:${PY_VERSION}-slim AS build\n\
            FROM ghcr.io/org/app:1.2.3@sha256:abc AS app\n\
            from registry.example:5000/team/tool@sha256:def\n\
            FROM build\nFROM scratch\nFROM node:${NODE}\nFROM $BASE:$PY_VERSION\n\
            FROM ubuntu\nCOPY --from=app /x /y\nCOPY --from=busybox:1.36 /bin/sh /sh\n";
        let ex = extract("Dockerfile", text);
        assert!(ex.warnings.is_empty(), "{:?}", ex.warnings);
        assert_eq!(
            rows(&ex),
            vec![
                row("python", Some("3.12-slim"), None, None),
                row("ghcr.io/org/app", Some("1.2.3"), Some("sha256:abc"), None),
                row(
                    "registry.example:5000/team/tool",
                    None,
                    Some("sha256:def"),
                    Some(SkipReason::Digest)
                ),
                row("build", None, None, Some(SkipReason::Local)),
                row(
                    "node",
                    Some("${NODE}"),
                    None,
                    Some(SkipReason::UnresolvedVariable)
                ),
                row("python", Some("3.12"), None, None),
                row("ubuntu", None, None, Some(SkipReason::NoVersion)),
                row("busybox", Some("1.36"), None, None),
            ]
        );
        // `3.12-slim` is built from two places: no span. `$PY_VERSION` alone points at the ARG.
        assert_eq!(ex.dependencies[0].span, None);
        let span = ex.dependencies[5].span.expect("span");
        assert_eq!(span.slice(text), Some("3.12"));
        assert_eq!(line_of(text, span.start), 3);
    }

    #[test]
    fn continuations_and_escape_directive() {
        let text = "# escape=`\nFROM `\n  --platform=linux/amd64 `\n  # comment inside\n  alpine:3.20 AS base\nRUN echo \\\n";
        let ex = extract("Containerfile", text);
        assert_eq!(rows(&ex), vec![row("alpine", Some("3.20"), None, None)]);
        assert_eq!(
            ex.dependencies[0].span.and_then(|s| s.slice(text)),
            Some("3.20")
        );
    }

    #[test]
    fn compose_images() {
        let text = "services:\n  db:\n    image: \"postgres:${PG_VERSION:-16.2}\"\n  cache:\n    image: redis:7-alpine\n  app:\n    image: ${REGISTRY}/app:${TAG}\n  built:\n    build: .\n  plain:\n    image: nginx\n";
        let ex = extract("docker-compose.yml", text);
        assert_eq!(
            rows(&ex),
            vec![
                row("postgres", Some("16.2"), None, None),
                row("redis", Some("7-alpine"), None, None),
                row(
                    "${REGISTRY}/app:${TAG}",
                    None,
                    None,
                    Some(SkipReason::UnresolvedVariable)
                ),
                row("nginx", None, None, Some(SkipReason::NoVersion)),
            ]
        );
        assert_eq!(
            ex.dependencies[0].span.and_then(|s| s.slice(text)),
            Some("16.2")
        );
    }

    #[test]
    fn broken_inputs_warn() {
        let ex = extract("Dockerfile", "FROM\nFROM alpine:3 AS\n");
        assert_eq!(ex.warnings.len(), 2);
        let ex = extract("compose.yaml", "services:\n  a:\n    image: [\n");
        assert_eq!(ex.warnings.len(), 1);
    }

    crate::manager::test_kit::kit_tests!(Manager::Docker, |_| "99.1-slim".to_owned());
}
