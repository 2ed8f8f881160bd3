//! Groovy and Kotlin build scripts, read token by token.
//!
//! What is recognised (anything else is ignored, never guessed at):
//! - in any `dependencies { }` block: `conf("g:a:v")`, `conf 'g:a:v'`, `conf("g:a:$v")`,
//!   `conf 'g:a:' + v`, `conf(platform("g:a:v"))` (kind managed), `conf("g", "a", "v")`,
//!   map/named notation `conf group: 'g', name: 'a', version: 'v'` / `conf(group = "g", ...)`,
//!   `add("conf", "g:a:v")`; inside `constraints { }` the kind is managed;
//! - `force 'g:a:v'` anywhere (kind override);
//! - in `plugins { }`: `id("x") version "1"`, `id 'x' version '1'`, `kotlin("jvm") version "1"`;
//!   ids without a version are reported with `no-version` unless they are core plugins (no dot);
//! - variables: `val x = "1"`, `var`, `def`, `String x = '1'`, `val x by extra("1")`,
//!   `ext.x = '1'`, `extra["x"] = "1"`, `ext { x = '1'; set("y", "2") }` and Groovy map literals
//!   (`ext.versions = [kotlin: '1.9']` → `versions.kotlin`). Variables whose value is a full
//!   coordinate (`deps = [junit: 'junit:junit:4.12']`) are reported as dependencies (kind normal:
//!   where they are used cannot be told from the literal).
//!
//! Configuration names map to kinds: names containing `test` → dev; `classpath`,
//! `*annotationProcessor`, `kapt*`, `ksp*` → build; everything else → normal.

use std::collections::HashMap;

use super::lexer::{self, Token, TokenKind, has_interpolation, sole_interpolation};
use super::plugin_marker;
use crate::Ecosystem;
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, Span, Warning, line_of};

pub(super) fn extract(text: &str) -> Extraction {
    let (tokens, mut warnings) = lexer::tokenize(text);
    let (block_of, blocks) = block_structure(text, &tokens, &mut warnings);
    let mut script = Script {
        text,
        tokens,
        block_of,
        blocks,
        vars: Vars::default(),
    };
    script.collect_variables();
    let mut found: Vec<(usize, Dependency)> = Vec::new();
    script.variable_coordinates(&mut found);
    script.declarations(&mut found);
    found.sort_by_key(|(pos, _)| *pos);
    Extraction {
        dependencies: found.into_iter().map(|(_, d)| d).collect(),
        warnings,
        ..Extraction::default()
    }
}

/// A `{ }` block: the identifier written before its `{` (`dependencies`, `plugins`, `ext`).
struct Block<'a> {
    name: &'a str,
    parent: Option<usize>,
}

/// For every token, the innermost block containing it; plus the block table.
fn block_structure<'a>(
    text: &'a str,
    tokens: &[Token],
    warnings: &mut Vec<Warning>,
) -> (Vec<Option<usize>>, Vec<Block<'a>>) {
    let mut block_of = Vec::with_capacity(tokens.len());
    let mut blocks: Vec<Block<'a>> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut last_ident: &'a str = "";
    for token in tokens {
        block_of.push(stack.last().copied());
        match token.kind {
            TokenKind::Ident => last_ident = token.span.slice(text).unwrap_or(""),
            TokenKind::Punct if token.is_punct(text, "{") => {
                blocks.push(Block {
                    name: last_ident,
                    parent: stack.last().copied(),
                });
                stack.push(blocks.len() - 1);
                last_ident = "";
            }
            TokenKind::Punct if token.is_punct(text, "}") => {
                if stack.pop().is_none() {
                    warnings.push(Warning::at_line(
                        line_of(text, token.span.start),
                        "unbalanced `}`",
                    ));
                }
                last_ident = "";
            }
            _ => {}
        }
    }
    if let Some(open) = stack.first() {
        let line = tokens
            .iter()
            .zip(&block_of)
            .find(|(t, b)| t.is_punct(text, "{") && b.is_none_or(|b| b < *open))
            .map(|(t, _)| line_of(text, t.span.start));
        let message = format!("{} unclosed `{{` at the end of the file", stack.len());
        warnings.push(match line {
            Some(line) => Warning::at_line(line, message),
            None => Warning::new(message),
        });
    }
    (block_of, blocks)
}

#[derive(Debug, Clone, Copy)]
struct Var<'a> {
    /// The literal's content.
    value: &'a str,
    /// Span of the literal's content.
    span: Span,
    /// Defined through `ext`, a map literal, `def`/`val`: all are reported the same way.
    position: usize,
}

#[derive(Default)]
struct Vars<'a> {
    map: HashMap<String, Var<'a>>,
    order: Vec<String>,
}

impl<'a> Vars<'a> {
    /// The first definition wins: later assignments are usually conditional overrides.
    fn define(&mut self, name: String, var: Var<'a>) {
        if !self.map.contains_key(&name) {
            self.order.push(name.clone());
            self.map.insert(name, var);
        }
    }

    /// Resolve `expr` (`x`, `versions.x`, `rootProject.ext.x`) to a literal without
    /// interpolations, following `"$other"` aliases.
    fn resolve(&self, expr: &str) -> Option<Var<'a>> {
        let mut expr = expr.trim();
        for _ in 0..16 {
            let var = self.lookup(expr)?;
            match sole_interpolation(var.value) {
                Some(inner) => expr = inner,
                None if has_interpolation(var.value) => return None,
                None => return Some(var),
            }
        }
        None
    }

    fn lookup(&self, expr: &str) -> Option<Var<'a>> {
        let mut key = expr;
        loop {
            if let Some(var) = self.map.get(key) {
                return Some(*var);
            }
            let stripped = ["rootProject.", "project.", "ext.", "extra.", "properties."]
                .iter()
                .find_map(|p| key.strip_prefix(p))?;
            key = stripped;
        }
    }
}

struct Script<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    block_of: Vec<Option<usize>>,
    blocks: Vec<Block<'a>>,
    vars: Vars<'a>,
}

/// Words that appear before strings inside `dependencies { }` but are not configurations.
const NOT_CONFIGURATIONS: &[&str] = &[
    "exclude",
    "because",
    "version",
    "strictly",
    "require",
    "prefer",
    "reject",
    "project",
    "files",
    "fileTree",
    "module",
    "kotlin",
    "platform",
    "enforcedPlatform",
    "testFixtures",
    "println",
    "print",
    "apply",
    "from",
    "val",
    "var",
    "def",
    "if",
    "else",
    "return",
];

impl<'a> Script<'a> {
    fn tok(&self, i: usize) -> Option<Token> {
        self.tokens.get(i).copied()
    }

    fn text_of(&self, i: usize) -> &'a str {
        self.tokens
            .get(i)
            .and_then(|t| t.span.slice(self.text))
            .unwrap_or("")
    }

    /// Index of the first non-newline token at or after `i`.
    fn skip_nl(&self, mut i: usize) -> usize {
        while self.tok(i).is_some_and(|t| t.kind == TokenKind::Newline) {
            i += 1;
        }
        i
    }

    fn is_punct(&self, i: usize, c: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_punct(self.text, c))
    }

    fn is_op(&self, i: usize, op: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_op(self.text, op))
    }

    fn is_kind(&self, i: usize, kind: TokenKind) -> bool {
        self.tok(i).is_some_and(|t| t.kind == kind)
    }

    fn is_ident(&self, i: usize, name: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is_ident(self.text, name))
    }

    /// Is the previous non-newline token a `.` (so token `i` is a member access)?
    fn after_dot(&self, i: usize) -> bool {
        let mut j = i;
        while j > 0 {
            j -= 1;
            match self.tok(j) {
                Some(t) if t.kind == TokenKind::Newline => {}
                Some(t) => return t.is_punct(self.text, ".") || t.is_op(self.text, "?."),
                None => return false,
            }
        }
        false
    }

    fn block_names(&self, i: usize) -> impl Iterator<Item = &'a str> + '_ {
        let mut current = self.block_of.get(i).copied().flatten();
        std::iter::from_fn(move || {
            let index = current?;
            let block = self.blocks.get(index)?;
            current = block.parent;
            Some(block.name)
        })
    }

    fn innermost_block(&self, i: usize) -> Option<&'a str> {
        self.block_names(i).next()
    }

    fn in_block(&self, i: usize, name: &str) -> bool {
        self.block_names(i).any(|n| n == name)
    }

    fn var_at(&self, i: usize) -> Option<Var<'a>> {
        let t = self.tok(i)?;
        (t.kind == TokenKind::Str).then(|| Var {
            value: t.text(self.text),
            span: t.span,
            position: t.span.start,
        })
    }

    // ----- variables -------------------------------------------------------------------------

    fn collect_variables(&mut self) {
        let mut i = 0;
        while i < self.tokens.len() {
            i = self.variable_at(i).unwrap_or(i + 1);
        }
    }

    /// Try to read a variable definition starting at token `i`; returns the index after it.
    fn variable_at(&mut self, i: usize) -> Option<usize> {
        let word = self.text_of(i);
        let t = self.tok(i)?;
        if t.kind != TokenKind::Ident {
            return None;
        }
        // `val x = "1"`, `def x = '1'`, `String x = '1'`, `val x: String = "1"`,
        // `val x by extra("1")`.
        if matches!(word, "val" | "var" | "def" | "String") {
            let name_at = self.skip_nl(i + 1);
            if !self.is_kind(name_at, TokenKind::Ident) {
                return None;
            }
            let name = self.text_of(name_at).to_owned();
            let mut k = name_at + 1;
            if self.is_op(k, ":") && self.is_kind(k + 1, TokenKind::Ident) {
                k += 2;
                if self.is_op(k, "?") {
                    k += 1;
                }
            }
            if self.is_op(k, "=") {
                return Some(self.assign_value(name, self.skip_nl(k + 1)));
            }
            if self.is_ident(k, "by")
                && self.is_ident(k + 1, "extra")
                && self.is_punct(k + 2, "(")
                && self.is_punct(k + 4, ")")
                && let Some(var) = self.var_at(k + 3)
            {
                self.vars.define(name, var);
                return Some(k + 5);
            }
            return None;
        }
        // `ext.x = '1'`, `ext.set("x", "1")`, `extra.set("x", "1")`, `ext["x"] = "1"`.
        if matches!(word, "ext" | "extra") {
            if self.is_punct(i + 1, ".") && self.is_kind(i + 2, TokenKind::Ident) {
                let member = self.text_of(i + 2);
                if member == "set" {
                    return self.set_call(i + 3);
                }
                if self.is_op(i + 3, "=") {
                    let name = member.to_owned();
                    return Some(self.assign_value(name, self.skip_nl(i + 4)));
                }
            }
            if self.is_punct(i + 1, "[")
                && self.is_punct(i + 3, "]")
                && self.is_op(i + 4, "=")
                && let Some(key) = self.var_at(i + 2)
            {
                let name = key.value.to_owned();
                return Some(self.assign_value(name, self.skip_nl(i + 5)));
            }
            return None;
        }
        // Inside `ext { }`: `x = '1'`, `set("x", "1")`.
        if self.innermost_block(i) == Some("ext") && !self.after_dot(i) {
            if word == "set" {
                return self.set_call(i + 1);
            }
            if self.is_op(i + 1, "=") {
                let name = word.to_owned();
                return Some(self.assign_value(name, self.skip_nl(i + 2)));
            }
        }
        None
    }

    /// `("name", "value")` at `open`.
    fn set_call(&mut self, open: usize) -> Option<usize> {
        if !self.is_punct(open, "(") || !self.is_punct(open + 2, ",") {
            return None;
        }
        let key = self.var_at(open + 1)?;
        let value_at = self.skip_nl(open + 3);
        let value = self.var_at(value_at)?;
        self.vars.define(key.value.to_owned(), value);
        Some(value_at + 1)
    }

    /// The value of an assignment to `name` at token `at`: a string or a Groovy map literal.
    fn assign_value(&mut self, name: String, at: usize) -> usize {
        if let Some(var) = self.var_at(at) {
            self.vars.define(name, var);
            at + 1
        } else if self.is_punct(at, "[") {
            self.map_literal(&name, at)
        } else {
            at
        }
    }

    /// A Groovy map literal `[k: 'v', 'k2': [..]]` at `open`; entries become `prefix.k`.
    /// Returns the index after the closing `]`.
    fn map_literal(&mut self, prefix: &str, open: usize) -> usize {
        let mut j = self.skip_nl(open + 1);
        loop {
            if self.is_punct(j, "]") {
                return j + 1;
            }
            let key_is_word = self.tok(j).is_some_and(|t| {
                matches!(
                    t.kind,
                    TokenKind::Ident | TokenKind::Str | TokenKind::Number
                )
            });
            if !key_is_word || !self.is_op(j + 1, ":") {
                // A list or an expression: skip to the end of the literal.
                return self.skip_balanced(open);
            }
            let key = format!("{prefix}.{}", self.text_of(j));
            let value_at = self.skip_nl(j + 2);
            if let Some(var) = self.var_at(value_at) {
                self.vars.define(key, var);
                j = value_at + 1;
            } else if self.is_punct(value_at, "[") {
                j = self.map_literal(&key, value_at);
            } else {
                j = self.skip_expression(value_at);
            }
            j = self.skip_nl(j);
            if self.is_punct(j, ",") {
                j = self.skip_nl(j + 1);
            } else if self.is_punct(j, "]") {
                return j + 1;
            } else {
                return self.skip_balanced(open);
            }
        }
    }

    /// From an opening bracket at `open`, the index after its matching closer.
    fn skip_balanced(&self, open: usize) -> usize {
        let mut depth = 0usize;
        let mut j = open;
        while let Some(t) = self.tok(j) {
            if t.kind == TokenKind::Punct {
                match t.text(self.text) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
            }
            j += 1;
        }
        j
    }

    /// Skip an expression up to (not including) a `,` or closing bracket at depth 0.
    fn skip_expression(&self, mut j: usize) -> usize {
        let mut depth = 0usize;
        while let Some(t) = self.tok(j) {
            if t.kind == TokenKind::Punct {
                match t.text(self.text) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" | "," if depth == 0 => return j,
                    ")" | "]" | "}" => depth -= 1,
                    _ => {}
                }
            }
            j += 1;
        }
        j
    }

    /// Variables whose literal is a full `group:artifact:version` coordinate.
    fn variable_coordinates(&self, found: &mut Vec<(usize, Dependency)>) {
        for name in &self.vars.order {
            let Some(var) = self.vars.map.get(name) else {
                continue;
            };
            if let Some(dep) = self.coordinate(var.value, var.span, None, DependencyKind::Normal)
                && dep.skip != Some(SkipReason::NoVersion)
            {
                found.push((var.position, dep));
            }
        }
    }

    // ----- declarations ----------------------------------------------------------------------

    fn declarations(&self, found: &mut Vec<(usize, Dependency)>) {
        for i in 0..self.tokens.len() {
            let Some(t) = self.tok(i) else { continue };
            if t.kind != TokenKind::Ident || self.after_dot(i) {
                continue;
            }
            let word = t.text(self.text);
            let position = t.span.start;
            if self.innermost_block(i) == Some("plugins") && matches!(word, "id" | "kotlin") {
                if let Some(dep) = self.plugin(i, word == "kotlin") {
                    found.push((position, dep));
                }
            } else if word == "force" {
                if let Some(dep) = self.call_with_coordinate(i, DependencyKind::Override) {
                    found.push((position, dep));
                }
            } else if self.in_block(i, "dependencies") {
                if word == "add" {
                    if let Some(dep) = self.add_call(i) {
                        found.push((position, dep));
                    }
                } else if !NOT_CONFIGURATIONS.contains(&word)
                    && let Some(dep) = self.dependency(i, word)
                {
                    found.push((position, dep));
                }
            }
        }
    }

    /// `id("x") version "1"` / `kotlin("jvm") version "1"` at `i`.
    fn plugin(&self, i: usize, kotlin: bool) -> Option<Dependency> {
        let mut j = i + 1;
        let paren = self.is_punct(j, "(");
        if paren {
            j += 1;
        } else if kotlin {
            return None;
        }
        let id_token = self.tok(j)?;
        if id_token.kind != TokenKind::Str {
            return None;
        }
        let raw_id = id_token.text(self.text);
        if raw_id.is_empty() || has_interpolation(raw_id) {
            return None;
        }
        let id = if kotlin {
            format!("org.jetbrains.kotlin.{raw_id}")
        } else {
            raw_id.to_owned()
        };
        j += 1;
        if paren {
            if !self.is_punct(j, ")") {
                return None;
            }
            j += 1;
        }
        let name = plugin_marker(&id);
        if self.is_ident(j, "version") {
            let mut v = j + 1;
            if self.is_punct(v, "(") {
                v += 1;
            }
            let dep = self.version_at(&name, v)?;
            return Some(dep.kind(DependencyKind::Plugin));
        }
        if kotlin || id.contains('.') {
            return Some(
                Dependency::unversioned(name, Ecosystem::Maven)
                    .kind(DependencyKind::Plugin)
                    .skip(SkipReason::NoVersion),
            );
        }
        None
    }

    /// A version written at token `v`: a string (possibly `"$x"`) or a variable name.
    fn version_at(&self, name: &str, v: usize) -> Option<Dependency> {
        let t = self.tok(v)?;
        match t.kind {
            TokenKind::Str => Some(self.version_dep(name, t.text(self.text), t.span)),
            TokenKind::Ident => Some(self.variable_dep(name, t)),
            _ => None,
        }
    }

    /// A dependency whose version is the variable named by identifier token `t`.
    fn variable_dep(&self, name: &str, t: Token) -> Dependency {
        match self.vars.resolve(t.text(self.text)) {
            Some(var) => Dependency::at(name, Ecosystem::Maven, self.text, var.span),
            None => Dependency::at(name, Ecosystem::Maven, self.text, t.span)
                .skip(SkipReason::UnresolvedVariable),
        }
    }

    /// A dependency whose version text `version` sits at `span` (inside a string literal).
    fn version_dep(&self, name: &str, version: &str, span: Span) -> Dependency {
        if let Some(expr) = sole_interpolation(version) {
            return match self.vars.resolve(expr) {
                Some(var) => Dependency::at(name, Ecosystem::Maven, self.text, var.span),
                None => Dependency::at(name, Ecosystem::Maven, self.text, span)
                    .skip(SkipReason::UnresolvedVariable),
            };
        }
        if version.trim().is_empty() {
            return Dependency::unversioned(name, Ecosystem::Maven).skip(SkipReason::NoVersion);
        }
        let dep = Dependency::at(name, Ecosystem::Maven, self.text, span);
        if has_interpolation(version) {
            dep.skip(SkipReason::UnresolvedVariable)
        } else {
            dep
        }
    }

    /// Parse a `group:artifact[:version[:classifier]][@ext]` string literal whose content is
    /// `content` at `span`. `concat` is an identifier token appended with `+` after a trailing
    /// `:` (`'g:a:' + v`).
    fn coordinate(
        &self,
        content: &str,
        span: Span,
        concat: Option<Token>,
        kind: DependencyKind,
    ) -> Option<Dependency> {
        if content.is_empty() || content.contains(char::is_whitespace) {
            return None;
        }
        let mut parts = content.split(':');
        let group = parts.next()?;
        let artifact = parts.next()?;
        let version = parts.next();
        let classifier = parts.next();
        if parts.next().is_some() || classifier.is_some_and(str::is_empty) {
            return None;
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if !valid(group) || !valid(artifact) {
            return None;
        }
        let name = format!("{group}:{artifact}");
        let Some(version) = version else {
            return Some(
                Dependency::unversioned(name, Ecosystem::Maven)
                    .kind(kind)
                    .skip(SkipReason::NoVersion),
            );
        };
        let version = version.split('@').next().unwrap_or(version);
        if version.is_empty()
            && let Some(var) = concat
        {
            return Some(self.variable_dep(&name, var).kind(kind));
        }
        let start = span.start + group.len() + artifact.len() + 2;
        let version_span = Span::new(start, start + version.len());
        Some(self.version_dep(&name, version, version_span).kind(kind))
    }

    /// `conf(...)` / `conf ...` inside `dependencies { }` at `i`.
    fn dependency(&self, i: usize, config: &str) -> Option<Dependency> {
        let mut j = i + 1;
        let paren = self.is_punct(j, "(");
        if paren {
            j = self.skip_nl(j + 1);
        } else if self.tok(j).is_some_and(|t| t.kind == TokenKind::Punct) {
            return None;
        }
        let mut managed = self.in_block(i, "constraints");
        if self.tok(j).is_some_and(|t| {
            t.kind == TokenKind::Ident
                && matches!(t.text(self.text), "platform" | "enforcedPlatform")
        }) && self.is_punct(j + 1, "(")
        {
            managed = true;
            j = self.skip_nl(j + 2);
        }
        let kind = config_kind(config, managed);
        let t = self.tok(j)?;
        match t.kind {
            TokenKind::Str => {
                // `conf("g", "a", "v")`
                if paren && self.is_punct(j + 1, ",") {
                    return self.positional(j, kind);
                }
                let concat = (self.is_op(j + 1, "+") && self.is_kind(j + 2, TokenKind::Ident))
                    .then(|| self.tok(j + 2))
                    .flatten();
                self.coordinate(t.text(self.text), t.span, concat, kind)
            }
            TokenKind::Ident if self.is_op(j + 1, ":") || self.is_op(j + 1, "=") => {
                self.named_arguments(j, paren, kind)
            }
            _ => None,
        }
    }

    /// `("g", "a", "v")` starting at the first string `j`.
    fn positional(&self, j: usize, kind: DependencyKind) -> Option<Dependency> {
        let group = self.var_at(j)?;
        let artifact_at = self.skip_nl(j + 2);
        let artifact = self.var_at(artifact_at)?;
        let name = format!("{}:{}", group.value, artifact.value);
        if self.is_punct(artifact_at + 1, ",") {
            let version_at = self.skip_nl(artifact_at + 2);
            return Some(self.version_at(&name, version_at)?.kind(kind));
        }
        Some(
            Dependency::unversioned(name, Ecosystem::Maven)
                .kind(kind)
                .skip(SkipReason::NoVersion),
        )
    }

    /// `group: 'g', name: 'a', version: 'v'` (Groovy) or `group = "g", ...` (Kotlin) at `j`.
    fn named_arguments(
        &self,
        mut j: usize,
        paren: bool,
        kind: DependencyKind,
    ) -> Option<Dependency> {
        let mut group = None;
        let mut artifact = None;
        let mut version = None;
        loop {
            let key = self.tok(j)?;
            if key.kind != TokenKind::Ident || !(self.is_op(j + 1, ":") || self.is_op(j + 1, "=")) {
                break;
            }
            let value_at = self.skip_nl(j + 2);
            match key.text(self.text) {
                "group" => group = self.var_at(value_at).map(|v| v.value),
                "name" => artifact = self.var_at(value_at).map(|v| v.value),
                "version" => version = Some(value_at),
                _ => {}
            }
            j = self.skip_expression(value_at);
            if !self.is_punct(j, ",") {
                break;
            }
            j = if paren { self.skip_nl(j + 1) } else { j + 1 };
            if !paren && self.is_kind(j, TokenKind::Newline) {
                j = self.skip_nl(j);
            }
        }
        let name = format!("{}:{}", group?, artifact?);
        match version {
            Some(v) => Some(self.version_at(&name, v)?.kind(kind)),
            None => Some(
                Dependency::unversioned(name, Ecosystem::Maven)
                    .kind(kind)
                    .skip(SkipReason::NoVersion),
            ),
        }
    }

    /// `add("conf", "g:a:v")` at `i`.
    fn add_call(&self, i: usize) -> Option<Dependency> {
        if !self.is_punct(i + 1, "(") || !self.is_punct(i + 3, ",") {
            return None;
        }
        let config = self.var_at(i + 2)?;
        let coordinate = self.var_at(self.skip_nl(i + 4))?;
        self.coordinate(
            coordinate.value,
            coordinate.span,
            None,
            config_kind(config.value, self.in_block(i, "constraints")),
        )
    }

    /// `force 'g:a:v'` / `force("g:a:v")` at `i`.
    fn call_with_coordinate(&self, i: usize, kind: DependencyKind) -> Option<Dependency> {
        let j = if self.is_punct(i + 1, "(") {
            i + 2
        } else {
            i + 1
        };
        let var = self.var_at(j)?;
        self.coordinate(var.value, var.span, None, kind)
    }
}

/// The dependency kind a configuration name implies.
fn config_kind(config: &str, managed: bool) -> DependencyKind {
    if managed {
        return DependencyKind::Managed;
    }
    let lower = config.to_ascii_lowercase();
    if lower.contains("test") {
        DependencyKind::Dev
    } else if lower == "classpath"
        || lower.contains("annotationprocessor")
        || lower.starts_with("kapt")
        || lower.starts_with("ksp")
    {
        DependencyKind::Build
    } else {
        DependencyKind::Normal
    }
}
