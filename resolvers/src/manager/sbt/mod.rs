//! sbt: `build.sbt` and any other `*.sbt` (`project/plugins.sbt`), and
//! `project/build.properties`.
//!
//! Build files are read with the tokenizer shared with Gradle ([`super::gradle::lexer`]):
//! - module IDs `group % artifact % version [% config]` anywhere (inside `Seq(...)`, `+=`,
//!   `++=`, over several lines); operands may be string literals or `val`s of the same file
//!   (also `object Versions { val x = "…" }` as `Versions.x`). A version from a `val` carries the
//!   span of the `val`'s literal, so an update edits the `val`;
//! - `% Test`, `% "test"`, `% IntegrationTest`, `% "it"` → dev; `addSbtPlugin(...)` → plugin;
//!   `compilerPlugin(...)`/`addCompilerPlugin(...)` → build; `dependencyOverrides` → override;
//!   `libraryDependencySchemes` and `excludeDependencies` entries are not dependencies;
//! - `%%` and `%%%` append the Scala binary version of the build (`2.13.12` → `_2.13`,
//!   `3.3.1` → `_3`): from `ThisBuild / scalaVersion`, else the first `scalaVersion :=`, else the
//!   first entry of `crossScalaVersions`. With none of them, sbt 1.x builds with its own Scala,
//!   2.12, so `_2.12` is used (always the case for the meta-build in `project/`). When the
//!   setting exists but cannot be resolved in this file, the name has no suffix and the
//!   dependency is skipped as `unresolved-variable`. `%%%` (Scala.js/Native) gets the same JVM
//!   suffix: the platform suffix (`_sjs1`) is added by the plugin, and the JVM artifact has the
//!   same versions, so it is the one looked up.
//! - `scalaVersion := "…"` → toolchain `scala`; `sbt.version` in `project/build.properties` →
//!   toolchain `sbt`.
//!
//! Operands that are neither literals nor resolvable `val`s (a group from another file, an
//! expression) make the module ID unnameable; it is left out.

use std::collections::HashMap;

use super::gradle::lexer::{self, Token, TokenKind};
use super::{
    Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, file_name, line_of,
};
use crate::Ecosystem;

#[cfg(test)]
mod tests;

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

/// Does the sbt manager read the file at `path`?
pub fn matches(path: &str) -> bool {
    let name = file_name(path);
    std::path::Path::new(name)
        .extension()
        .is_some_and(|ext| ext == "sbt")
        || is_build_properties(path)
}

fn is_build_properties(path: &str) -> bool {
    path == "project/build.properties" || path.ends_with("/project/build.properties")
}

/// Extract the dependencies an sbt file declares.
pub fn extract(path: &str, text: &str) -> Extraction {
    if is_build_properties(path) || file_name(path) == "build.properties" {
        return build_properties(text);
    }
    Build::new(text).extract()
}

/// `sbt.version=1.9.8` → toolchain `sbt`.
fn build_properties(text: &str) -> Extraction {
    let mut out = Extraction::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let Some(sep) = trimmed.find(['=', ':']) else {
            continue;
        };
        if trimmed.get(..sep).map(str::trim) != Some("sbt.version") {
            continue;
        }
        let value_start = line_start + (line.len() - trimmed.len()) + sep + 1;
        let raw = text.get(value_start..offset).unwrap_or("");
        let lead = raw.len() - raw.trim_start().len();
        let value = raw.trim();
        if value.is_empty() {
            out.warnings.push(Warning::at_line(
                line_of(text, line_start),
                "sbt.version has no value",
            ));
            continue;
        }
        let start = value_start + lead;
        out.dependencies.push(
            Dependency::at(
                "sbt",
                Ecosystem::Toolchain,
                text,
                Span::new(start, start + value.len()),
            )
            .kind(DependencyKind::Toolchain),
        );
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Val<'a> {
    value: &'a str,
    span: Span,
}

/// What the `%%` suffix is.
enum Suffix {
    Known(String),
    Unresolved,
}

struct Build<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    warnings: Vec<Warning>,
    vals: HashMap<String, Val<'a>>,
}

impl<'a> Build<'a> {
    fn new(text: &'a str) -> Self {
        let (tokens, warnings) = lexer::tokenize(text);
        // Newlines do not matter for the patterns read here.
        let tokens: Vec<Token> = tokens
            .into_iter()
            .filter(|t| t.kind != TokenKind::Newline)
            .collect();
        let mut build = Build {
            text,
            tokens,
            warnings,
            vals: HashMap::new(),
        };
        build.collect_vals();
        build
    }

    fn tok(&self, i: usize) -> Option<Token> {
        self.tokens.get(i).copied()
    }

    fn word(&self, i: usize) -> &'a str {
        self.tokens
            .get(i)
            .and_then(|t| t.span.slice(self.text))
            .unwrap_or("")
    }

    fn is_kind(&self, i: usize, kind: TokenKind) -> bool {
        self.tok(i).is_some_and(|t| t.kind == kind)
    }

    fn is_op(&self, i: usize, op: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_op(self.text, op))
    }

    fn is_punct(&self, i: usize, p: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_punct(self.text, p))
    }

    fn str_at(&self, i: usize) -> Option<Val<'a>> {
        let t = self.tok(i)?;
        (t.kind == TokenKind::Str).then(|| Val {
            value: t.span.slice(self.text).unwrap_or(""),
            span: t.span,
        })
    }

    /// `val x = "1"`, `lazy val`, `var`, `def x: String = "1"`, also inside `object O { }`
    /// (then known as `x` and `O.x`). The first definition of a name wins.
    fn collect_vals(&mut self) {
        let mut objects: Vec<(usize, &'a str)> = Vec::new();
        let mut depth = 0usize;
        let mut pending_object: Option<&'a str> = None;
        for i in 0..self.tokens.len() {
            let word = self.word(i);
            match self.tok(i).map(|t| t.kind) {
                Some(TokenKind::Punct) if word == "{" => {
                    depth += 1;
                    if let Some(name) = pending_object.take() {
                        objects.push((depth, name));
                    }
                }
                Some(TokenKind::Punct) if word == "}" => {
                    if objects.last().is_some_and(|(d, _)| *d == depth) {
                        objects.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                Some(TokenKind::Ident)
                    if word == "object" && self.is_kind(i + 1, TokenKind::Ident) =>
                {
                    pending_object = Some(self.word(i + 1));
                }
                Some(TokenKind::Ident) if matches!(word, "val" | "var" | "def") => {
                    if let Some((name, val)) = self.val_definition(i) {
                        if let Some((_, object)) = objects.last() {
                            self.vals.entry(format!("{object}.{name}")).or_insert(val);
                        }
                        self.vals.entry(name.to_owned()).or_insert(val);
                    }
                }
                _ => {}
            }
        }
    }

    fn val_definition(&self, i: usize) -> Option<(&'a str, Val<'a>)> {
        if !self.is_kind(i + 1, TokenKind::Ident) {
            return None;
        }
        let name = self.word(i + 1);
        let mut k = i + 2;
        if self.is_op(k, ":") && self.is_kind(k + 1, TokenKind::Ident) {
            k += 2;
        }
        if !self.is_op(k, "=") {
            return None;
        }
        Some((name, self.str_at(k + 1)?))
    }

    /// The literal of the `val` named `name` (`x` or `Object.x`).
    fn resolve(&self, name: &str) -> Option<Val<'a>> {
        self.vals.get(name).copied()
    }

    /// An operand at `i`: a literal or a (dotted) identifier. Returns the value (if known), its
    /// span as written, and the index after it.
    fn operand(&self, i: usize) -> Option<(Option<Val<'a>>, Span, usize)> {
        let t = self.tok(i)?;
        match t.kind {
            TokenKind::Str => Some((self.str_at(i), t.span, i + 1)),
            TokenKind::Ident => {
                let mut end = i;
                while self.is_punct(end + 1, ".") && self.is_kind(end + 2, TokenKind::Ident) {
                    end += 2;
                }
                let last = self.tok(end)?;
                let span = Span::new(t.span.start, last.span.end);
                let name = span.slice(self.text).unwrap_or("");
                Some((self.resolve(name), span, end + 1))
            }
            _ => None,
        }
    }

    fn extract(mut self) -> Extraction {
        let mut dependencies = Vec::new();
        let suffix = self.scala_suffix(&mut dependencies);
        let calls = self.enclosing_calls();
        let mut setting: &str = "";
        let mut i = 0;
        while i < self.tokens.len() {
            let word = self.word(i);
            if self.is_kind(i, TokenKind::Ident) {
                if matches!(word, "val" | "var" | "def" | "lazy") {
                    setting = "";
                } else if self.is_op(i + 1, ":=")
                    || self.is_op(i + 1, "+=")
                    || self.is_op(i + 1, "++=")
                {
                    setting = word;
                }
            }
            match self.module_id(
                i,
                &suffix,
                calls.get(i).copied().unwrap_or_default(),
                setting,
            ) {
                Some((dep, next)) => {
                    dependencies.extend(dep);
                    i = next;
                }
                None => i += 1,
            }
        }
        Extraction {
            dependencies,
            warnings: std::mem::take(&mut self.warnings),
            ..Extraction::default()
        }
    }

    /// For each token: the kind implied by an enclosing `addSbtPlugin(` / `compilerPlugin(`.
    fn enclosing_calls(&self) -> Vec<Option<DependencyKind>> {
        let mut out = Vec::with_capacity(self.tokens.len());
        let mut stack: Vec<Option<DependencyKind>> = Vec::new();
        for i in 0..self.tokens.len() {
            if self.is_punct(i, "(") {
                let callee = if i > 0 { self.word(i - 1) } else { "" };
                let kind = match callee {
                    "addSbtPlugin" => Some(DependencyKind::Plugin),
                    "compilerPlugin" | "addCompilerPlugin" => Some(DependencyKind::Build),
                    _ => stack.last().copied().flatten(),
                };
                stack.push(kind);
            } else if self.is_punct(i, ")") {
                stack.pop();
            }
            out.push(stack.last().copied().flatten());
        }
        out
    }

    /// The Scala binary suffix for `%%`, and `scalaVersion` toolchain entries.
    fn scala_suffix(&self, dependencies: &mut Vec<Dependency>) -> Suffix {
        let mut this_build: Option<Option<Val<'a>>> = None;
        let mut first: Option<Option<Val<'a>>> = None;
        let mut cross: Option<Option<Val<'a>>> = None;
        let mut seen = Vec::new();
        for i in 0..self.tokens.len() {
            if !self.is_kind(i, TokenKind::Ident) || !self.is_op(i + 1, ":=") {
                continue;
            }
            match self.word(i) {
                "scalaVersion" => {
                    let Some((val, _, _)) = self.operand(i + 2) else {
                        continue;
                    };
                    let scoped =
                        i >= 2 && self.word(i - 2) == "ThisBuild" && self.is_op(i - 1, "/");
                    if scoped && this_build.is_none() {
                        this_build = Some(val);
                    }
                    if first.is_none() {
                        first = Some(val);
                    }
                    // `scalaVersion := scala213` with the val in another file: no entry.
                    let Some(val) = val else {
                        continue;
                    };
                    if !seen.contains(&val.span) {
                        seen.push(val.span);
                        dependencies.push(
                            Dependency::at("scala", Ecosystem::Toolchain, self.text, val.span)
                                .kind(DependencyKind::Toolchain),
                        );
                    }
                }
                "crossScalaVersions" if cross.is_none() => {
                    let mut j = i + 2;
                    if self.is_kind(j, TokenKind::Ident) && self.is_punct(j + 1, "(") {
                        j += 2;
                    }
                    if let Some((val, _, _)) = self.operand(j) {
                        cross = Some(val);
                    }
                }
                _ => {}
            }
        }
        let chosen = this_build.or(first).or(cross);
        match chosen {
            Some(Some(val)) => match binary_version(val.value) {
                Some(bin) => Suffix::Known(bin),
                None => Suffix::Unresolved,
            },
            Some(None) => Suffix::Unresolved,
            None => Suffix::Known("2.12".to_owned()),
        }
    }

    /// A module ID `group %[%[%]] artifact % version [% config]` starting at `i`.
    /// Returns the dependency (None when it is not one to report) and the index after it.
    fn module_id(
        &self,
        i: usize,
        suffix: &Suffix,
        call: Option<DependencyKind>,
        setting: &str,
    ) -> Option<(Option<Dependency>, usize)> {
        let cross = match self.tok(i + 1) {
            Some(t) if t.is_op(self.text, "%") => false,
            Some(t) if t.is_op(self.text, "%%") || t.is_op(self.text, "%%%") => true,
            _ => return None,
        };
        // The group must start the expression (not be the tail of a longer `%` chain).
        if i > 0
            && self
                .tok(i - 1)
                .is_some_and(|t| t.kind == TokenKind::Op && t.text(self.text).starts_with('%'))
        {
            return None;
        }
        if !matches!(
            self.tok(i).map(|t| t.kind),
            Some(TokenKind::Str | TokenKind::Ident)
        ) {
            return None;
        }
        let (group, _, after_group) = self.operand(i)?;
        if after_group != i + 1 {
            return None;
        }
        let (artifact, _, after_artifact) = self.operand(i + 2)?;
        if !self.is_op(after_artifact, "%") {
            return None;
        }
        let (version, version_span, mut next) = self.operand(after_artifact + 1)?;
        let mut kind = call.unwrap_or(DependencyKind::Normal);
        if self.is_op(next, "%")
            && let Some((config, config_span, after_config)) = self.operand(next + 1)
        {
            let config =
                config.map_or_else(|| config_span.slice(self.text).unwrap_or(""), |c| c.value);
            let config = config.to_ascii_lowercase();
            if call.is_none() && (config.contains("test") || config == "it") {
                kind = DependencyKind::Dev;
            }
            next = after_config;
        }
        if matches!(setting, "libraryDependencySchemes" | "excludeDependencies") {
            return Some((None, next));
        }
        if setting == "dependencyOverrides" && call.is_none() {
            kind = DependencyKind::Override;
        }
        let (Some(group), Some(artifact)) = (group, artifact) else {
            return Some((None, next));
        };
        let mut unresolved_suffix = false;
        let name = match (cross, suffix) {
            (false, _) => format!("{}:{}", group.value, artifact.value),
            (true, Suffix::Known(bin)) => format!("{}:{}_{bin}", group.value, artifact.value),
            (true, Suffix::Unresolved) => {
                unresolved_suffix = true;
                format!("{}:{}", group.value, artifact.value)
            }
        };
        let mut dep = if let Some(v) = version {
            Dependency::at(name, Ecosystem::Maven, self.text, v.span)
        } else {
            // The expression is kept as written for the reader, but without a span: replacing
            // an expression with a version literal would change the build's structure.
            let mut dep = Dependency::unversioned(name, Ecosystem::Maven)
                .skip(SkipReason::UnresolvedVariable);
            dep.requirement = version_span.slice(self.text).map(str::to_owned);
            dep
        };
        if unresolved_suffix {
            dep = dep.skip(SkipReason::UnresolvedVariable);
        }
        Some((Some(dep.kind(kind)), next))
    }
}

/// The Scala binary version of a full version: `2.13.12` → `2.13`, `3.3.1` → `3`.
fn binary_version(version: &str) -> Option<String> {
    let mut parts = version.trim().split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    if major >= 3 {
        return Some(major.to_string());
    }
    let minor: u32 = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some(format!("{major}.{minor}"))
}
