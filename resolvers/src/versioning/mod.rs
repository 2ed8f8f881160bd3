//! Version schemes: one module per scheme. Each answers parse/validity, ordering, stability,
//! requirement matching, the lowest version a requirement allows, the kind of an update, and how
//! to bump a requirement to a new version while keeping the author's operator style.
//!
//! Crates: `semver` (Cargo's own parser and matcher) for [`cargo`] and the parsing under [`go`];
//! `nodejs-semver` (node-semver's range and prerelease rules) for [`npm`]; `pep440_rs` (uv's
//! PEP 440 implementation) for [`pep440`]. Maven ComparableVersion and ranges, Go
//! pseudo-versions, Docker tags and the loose scheme are our own code: no maintained crate
//! covers them. Requirement bumping is our own for every scheme: [`bump_parsed`] rewrites only
//! the version text of each clause, so operators, spacing and precision stay as written.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

pub mod cargo;
pub mod docker;
pub mod go;
pub mod loose;
pub mod maven;
pub mod npm;
pub mod pep440;

/// The size of a version change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateKind {
    Patch,
    Minor,
    Major,
}

impl UpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Patch => "patch",
            UpdateKind::Minor => "minor",
            UpdateKind::Major => "major",
        }
    }
}

/// What every version scheme can answer. Versions and requirements are the strings found in
/// manifests and registries; nothing here panics on any input.
pub trait VersionScheme: Sync {
    /// Is `version` a version of this scheme?
    fn is_valid(&self, version: &str) -> bool;

    /// Total order. Invalid versions sort below every valid one (then by plain string order).
    fn compare(&self, a: &str, b: &str) -> Ordering;

    /// A release version (not a prerelease, snapshot, dev build, ...).
    fn is_stable(&self, version: &str) -> bool;

    /// Does `version` carry the scheme's prerelease markers? This is the one place a release's
    /// prerelease flag is decided: every registry adapter asks it for each version it lists
    /// (`Release::prerelease`). Unlike `!is_stable`, it also answers for text the scheme cannot
    /// order, by the markers alone (a legacy PyPI version is no prerelease; a floating Docker tag
    /// such as `latest` is one).
    fn is_prerelease(&self, version: &str) -> bool;

    /// Is `requirement` a requirement (range, exact pin, ...) of this scheme?
    fn is_valid_requirement(&self, requirement: &str) -> bool;

    /// Does `version` satisfy `requirement`?
    fn satisfies(&self, version: &str, requirement: &str) -> bool;

    /// The lowest version `requirement` allows, written as a full version (`^1.2` → `1.2.0`);
    /// `None` when the requirement has no lower bound or is invalid.
    fn lower_bound(&self, requirement: &str) -> Option<String>;

    /// The kind of change from `from` to `to`; `None` unless `to` is newer than `from`.
    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind>;

    /// Can `candidate` replace `current` at all (e.g. Docker `3.12-slim` only moves to `*-slim`)?
    fn is_compatible(&self, current: &str, candidate: &str) -> bool {
        let _ = (current, candidate);
        true
    }

    /// The new requirement that admits `new_version`, keeping the operator style of
    /// `requirement` (`^1.2` → `^1.4`, `~=3.2` → `~=6.1`, `>=1.1,<2` → `>=3.1,<4`, `1.0.100` →
    /// `1.0.229`). `None` when the requirement cannot be rewritten.
    fn bump(&self, requirement: &str, new_version: &str) -> Option<String>;
}

/// Every version scheme; `Ecosystem::versioning` picks one per ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Versioning {
    /// SemVer with Cargo requirement semantics.
    Cargo,
    /// SemVer with npm range semantics.
    Npm,
    /// PEP 440.
    Pep440,
    /// Maven ComparableVersion and version ranges.
    Maven,
    /// Go modules: v-prefixed semver, `+incompatible`, pseudo-versions.
    Go,
    /// Docker tags: numeric parts compared, suffix kept.
    Docker,
    /// Anything dotted-numeric-ish: toolchains, action tags.
    Loose,
}

impl Versioning {
    pub fn scheme(self) -> &'static dyn VersionScheme {
        match self {
            Versioning::Cargo => &cargo::Cargo,
            Versioning::Npm => &npm::Npm,
            Versioning::Pep440 => &pep440::Pep440,
            Versioning::Maven => &maven::Maven,
            Versioning::Go => &go::Go,
            Versioning::Docker => &docker::Docker,
            Versioning::Loose => &loose::Loose,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the schemes.
// ---------------------------------------------------------------------------------------------

/// Whether a SemVer-shaped `version` (optionally `v`-prefixed) is a prerelease; versions that
/// do not parse as SemVer fall back to "has a `-` before any `+`".
pub(crate) fn semver_prerelease(version: &str) -> bool {
    let bare = version
        .strip_prefix(['v', 'V', '='])
        .unwrap_or(version)
        .trim();
    match semver::Version::parse(bare) {
        Ok(parsed) => !parsed.pre.is_empty(),
        Err(_) => bare.split('+').next().unwrap_or_default().contains('-'),
    }
}

/// Order two strings through a scheme's parser: valid versions by `cmp`, invalid ones below every
/// valid one and among themselves by plain string order.
pub(crate) fn order_by<T>(
    a: &str,
    b: &str,
    parse: impl Fn(&str) -> Option<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => cmp(&x, &y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// Natural, case-insensitive order of free text: digit runs compare as numbers, everything else
/// as text (`alpine3.9 < alpine3.19`, `rc2 < rc10`).
pub(crate) fn natural(left: &str, right: &str) -> Ordering {
    fn chunks(text: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in text.to_ascii_lowercase().chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((is_digit, chunk)) if *is_digit == digit => chunk.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (lefts, rights) = (chunks(left), chunks(right));
    for (l, r) in lefts.iter().zip(&rights) {
        let order = match (l, r) {
            ((true, ln), (true, rn)) => {
                let (ln, rn) = (ln.trim_start_matches('0'), rn.trim_start_matches('0'));
                (ln.len(), ln).cmp(&(rn.len(), rn))
            }
            ((_, lt), (_, rt)) => lt.cmp(rt),
        };
        if order.is_ne() {
            return order;
        }
    }
    lefts.len().cmp(&rights.len())
}

/// The kind of change between two release-number lists: the first differing component decides
/// (index 0 major, 1 minor, anything later patch); missing components count as 0. Equal release
/// numbers (a prerelease becoming its release, a post release, ...) count as a patch.
pub(crate) fn kind_between(from: &[u64], to: &[u64]) -> UpdateKind {
    let len = from.len().max(to.len());
    for i in 0..len {
        let a = from.get(i).copied().unwrap_or(0);
        let b = to.get(i).copied().unwrap_or(0);
        if a != b {
            return match i {
                0 => UpdateKind::Major,
                1 => UpdateKind::Minor,
                _ => UpdateKind::Patch,
            };
        }
    }
    UpdateKind::Patch
}

/// The kind of change between two `major.minor.patch` triples under caret compatibility (Cargo
/// book, "Default requirements"; node-semver's `^`): the left-most non-zero component of `from`
/// is its major, so any change at or before it is breaking (`0.10.1` → `0.13.0` and
/// `0.0.3` → `0.0.4` are major), and later components keep their usual meaning relative to it
/// (`0.2.1` → `0.2.5` is a patch). From 1.0.0 on this is [`kind_between`].
pub(crate) fn caret_kind(from: [u64; 3], to: [u64; 3]) -> UpdateKind {
    let significant = from.iter().position(|n| *n != 0).unwrap_or(2);
    if from.get(..=significant) != to.get(..=significant) {
        return UpdateKind::Major;
    }
    kind_between(&from, &to)
}

/// Compare release-number lists, padding the shorter with zeros.
pub(crate) fn cmp_release(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// A version as an author wrote it inside a requirement: `v1.2`, `1.x`, `1.2.*`, `3.2`,
/// `1.0.0-rc.1`. Keeps enough of the spelling to write a new version the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written<'a> {
    /// Written with a leading `v`/`V`.
    pub v: Option<char>,
    /// The leading dotted numbers.
    pub nums: Vec<u64>,
    /// Wildcard tail after the numbers as written (`.*`, `.x`, `.x.x`, or `*` alone).
    pub wild: &'a str,
    /// Everything after the numbers and wildcards (`-rc.1`, `a1`, `-slim`, `.post1`).
    pub rest: &'a str,
}

fn is_wildcard(c: char) -> bool {
    matches!(c, '*' | 'x' | 'X')
}

/// Split a written version into its parts; `None` when it starts with neither a number nor a
/// wildcard.
pub(crate) fn parse_written(text: &str) -> Option<Written<'_>> {
    let (v, body) = match text.chars().next() {
        Some(c @ ('v' | 'V')) => (Some(c), text.get(1..)?),
        _ => (None, text),
    };
    let mut nums = Vec::new();
    let mut pos = 0;
    loop {
        let tail = body.get(pos..)?;
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            break;
        }
        nums.push(tail.get(..digits)?.parse::<u64>().ok()?);
        pos += digits;
        let after = body.get(pos..)?;
        let mut chars = after.chars();
        if chars.next() == Some('.') && chars.next().is_some_and(|c| c.is_ascii_digit()) {
            pos += 1;
        } else {
            break;
        }
    }
    // Wildcards: `*` alone, or `.x`/`.*` groups after the numbers.
    let wild_start = pos;
    let ends_token = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric());
    if nums.is_empty() {
        let mut chars = body.chars();
        match chars.next() {
            Some(w) if is_wildcard(w) && ends_token(chars.next()) => pos += 1,
            _ => return None,
        }
    }
    loop {
        let mut chars = body.get(pos..)?.chars();
        if chars.next() != Some('.') {
            break;
        }
        match chars.next() {
            Some(w) if is_wildcard(w) && ends_token(chars.next()) => pos += 2,
            _ => break,
        }
    }
    if nums.is_empty() && pos == wild_start {
        return None;
    }
    Some(Written {
        v,
        nums,
        wild: body.get(wild_start..pos)?,
        rest: body.get(pos..)?,
    })
}

/// The new version a requirement is bumped to, as a scheme sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    /// Release numbers (`[1, 4, 0]`).
    pub release: Vec<u64>,
    /// The version exactly as it is to be written in full.
    pub text: &'a str,
    /// A plain release that may be written with fewer components (no prerelease, no suffix).
    pub plain: bool,
}

/// How a clause of a requirement reacts to a bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A lower bound written at the author's precision: `^1.2`, `~1.2`, `>=1.1`, `~=3.2`,
    /// loose prefixes. Rewritten as the new version at the same precision.
    Lower,
    /// An exclusive lower bound `>1.2`: becomes `>=` and then like [`Role::Lower`].
    Greater,
    /// An exact pin (`=1.2.3`, `==1.2.3`, npm bare): the full new version; wildcards and (when
    /// the scheme says partial pins are ranges) partial versions keep their precision.
    Exact,
    /// An exclusive upper bound `<2`: the next value at the author's significant position.
    Upper,
    /// An inclusive upper bound `<=1.9`, hyphen upper ends: the new version at the same
    /// precision, or in full when that does not admit it.
    UpperInclusive,
    /// Kept as written (`!=1.5`, hyphen lower ends).
    Keep,
    /// Replaced by the full new version as written (`===1.0`).
    Verbatim,
}

/// One operator + version of a requirement, located by byte ranges in the requirement text.
#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub role: Role,
    pub op: std::ops::Range<usize>,
    pub version: std::ops::Range<usize>,
}

/// A requirement split for bumping: alternatives (`||`) of clauses that must all hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    /// Each alternative: its byte range in the requirement and its clauses.
    pub groups: Vec<(std::ops::Range<usize>, Vec<Clause>)>,
}

/// How a scheme wants its requirements bumped.
pub(crate) struct BumpStyle<'s> {
    /// Partial exact pins are ranges (`=1.2` means `1.2.x` in Cargo and npm).
    pub partial_exact_is_range: bool,
    /// Separator used when a new alternative is appended (`" || "`); `None` if the scheme has no
    /// alternatives.
    pub or_separator: Option<&'s str>,
}

fn with_v(w: &Written<'_>, text: &str) -> String {
    match w.v {
        Some(v) if !text.starts_with(['v', 'V']) => format!("{v}{text}"),
        _ => text.to_owned(),
    }
}

fn render(w: &Written<'_>, nums: &[u64]) -> String {
    let mut out = String::new();
    if let Some(v) = w.v {
        out.push(v);
    }
    let joined: Vec<String> = nums.iter().map(u64::to_string).collect();
    out.push_str(&joined.join("."));
    out.push_str(w.wild);
    out
}

fn pad(release: &[u64], precision: usize) -> Vec<u64> {
    (0..precision)
        .map(|i| release.get(i).copied().unwrap_or(0))
        .collect()
}

/// The replacement text of one clause's version (`None`: the clause cannot be rewritten).
fn rewrite_version(
    role: Role,
    w: &Written<'_>,
    t: &Target<'_>,
    full: bool,
    style: &BumpStyle<'_>,
) -> Option<String> {
    if w.nums.is_empty() {
        // `*`, `x`: nothing to rewrite.
        return Some(render(w, &[]));
    }
    let precision = w.nums.len();
    let short_ok = t.plain && w.rest.is_empty();
    Some(match role {
        Role::Keep => return None,
        Role::Lower | Role::Greater => {
            if short_ok && (!full || !w.wild.is_empty()) {
                render(w, &pad(&t.release, precision))
            } else {
                with_v(w, t.text)
            }
        }
        Role::Exact => {
            let partial = style.partial_exact_is_range && precision < 3;
            if short_ok && (!w.wild.is_empty() || partial) {
                render(w, &pad(&t.release, precision))
            } else {
                with_v(w, t.text)
            }
        }
        Role::Upper => {
            let significant = w
                .nums
                .iter()
                .rposition(|n| *n != 0)
                .unwrap_or(precision - 1);
            let mut nums = pad(&t.release, precision);
            let bumped = nums.get(significant)?.checked_add(1)?;
            if let Some(slot) = nums.get_mut(significant) {
                *slot = bumped;
            }
            for slot in nums.iter_mut().skip(significant + 1) {
                *slot = 0;
            }
            format!("{}{}", render(w, &nums), w.rest)
        }
        Role::UpperInclusive => {
            if short_ok && !full {
                render(w, &pad(&t.release, precision))
            } else {
                with_v(w, t.text)
            }
        }
        Role::Verbatim => t.text.to_owned(),
    })
}

/// Apply byte-range replacements (sorted, non-overlapping) to `text`.
pub(crate) fn splice(text: &str, edits: &[(std::ops::Range<usize>, String)]) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (range, new) in edits {
        out.push_str(text.get(at..range.start)?);
        out.push_str(new);
        at = range.end;
    }
    out.push_str(text.get(at..)?);
    Some(out)
}

/// Rewrite one alternative of a requirement for `target`; the returned text covers exactly the
/// alternative's byte range. `admits(requirement)` says whether a requirement of the scheme
/// admits the target: an upper bound that already does is kept as written, so a bump never
/// narrows what the requirement admits above the target (`>=0.1.21 <=0.2.0` → 0.1.24 keeps
/// `<=0.2.0`).
fn rewrite_group(
    requirement: &str,
    span: &std::ops::Range<usize>,
    clauses: &[Clause],
    target: &Target<'_>,
    full: bool,
    style: &BumpStyle<'_>,
    admits: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut edits = Vec::new();
    for clause in clauses {
        if clause.role == Role::Keep {
            continue;
        }
        let written_text = requirement.get(clause.version.clone())?;
        // The upper bound alone, spelled the same way in every scheme that has one (hyphen
        // upper ends are inclusive, like `<=`).
        let upper = match clause.role {
            Role::Upper => Some("<"),
            Role::UpperInclusive => Some("<="),
            _ => None,
        };
        if upper.is_some_and(|op| admits(&format!("{op}{written_text}"))) {
            continue;
        }
        let w = parse_written(written_text)?;
        let Some(new) = rewrite_version(clause.role, &w, target, full, style) else {
            continue;
        };
        let relative = |r: &std::ops::Range<usize>| -> Option<std::ops::Range<usize>> {
            Some(r.start.checked_sub(span.start)?..r.end.checked_sub(span.start)?)
        };
        if clause.role == Role::Greater {
            edits.push((relative(&clause.op)?, ">=".to_owned()));
        }
        edits.push((relative(&clause.version)?, new));
    }
    edits.sort_by_key(|(r, _)| r.start);
    splice(requirement.get(span.clone())?, &edits)
}

/// The generic operator-preserving bump used by the range schemes. `admits(group_text)` says
/// whether an alternative already admits the target; `accept(result)` is the final check (the
/// result must be a valid requirement that the new version satisfies).
pub(crate) fn bump_parsed(
    requirement: &str,
    parsed: &Parsed,
    target: &Target<'_>,
    style: &BumpStyle<'_>,
    admits: impl Fn(&str) -> bool,
    accept: impl Fn(&str) -> bool,
) -> Option<String> {
    if parsed.groups.is_empty() {
        return None;
    }
    let admitting = parsed
        .groups
        .iter()
        .rposition(|(span, _)| requirement.get(span.clone()).is_some_and(&admits));
    let append = admitting.is_none() && parsed.groups.len() > 1 && style.or_separator.is_some();
    let index = admitting.unwrap_or(parsed.groups.len() - 1);
    let (span, clauses) = parsed.groups.get(index)?;
    for full in [false, true] {
        let Some(new_group) =
            rewrite_group(requirement, span, clauses, target, full, style, &admits)
        else {
            continue;
        };
        let result = if append {
            format!(
                "{}{}{}",
                requirement.trim_end(),
                style.or_separator.unwrap_or(" || "),
                new_group.trim()
            )
        } else {
            let edits = [(span.clone(), new_group)];
            splice(requirement, &edits)?
        };
        if accept(&result) {
            return Some(result);
        }
    }
    None
}

/// Split `text` on `sep`, yielding each piece with its byte range.
pub(crate) fn split_ranges<'a>(
    text: &'a str,
    sep: &'a str,
) -> impl Iterator<Item = (std::ops::Range<usize>, &'a str)> + 'a {
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let rest = text.get(start..)?;
        let range = if let Some(i) = rest.find(sep) {
            let range = start..start + i;
            start += i + sep.len();
            range
        } else {
            done = true;
            start..text.len()
        };
        Some((range.clone(), text.get(range)?))
    })
}

/// Within `text[range]`, the operator (from `ops`, longest first) and the version after it,
/// both as absolute byte ranges; `None` when no version follows.
pub(crate) fn op_and_version(
    text: &str,
    range: std::ops::Range<usize>,
    ops: &[&str],
) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let piece = text.get(range.clone())?;
    let lead = piece.len() - piece.trim_start().len();
    let op_start = range.start + lead;
    let after_ws = text.get(op_start..range.end)?;
    let op_len = ops
        .iter()
        .filter(|op| after_ws.starts_with(**op))
        .map(|op| op.len())
        .max()
        .unwrap_or(0);
    let op = op_start..op_start + op_len;
    let rest = text.get(op.end..range.end)?;
    let v_start = op.end + (rest.len() - rest.trim_start().len());
    let v_end = range.start + piece.trim_end().len();
    if v_end <= v_start {
        return None;
    }
    Some((op, v_start..v_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Versioning; 7] = [
        Versioning::Cargo,
        Versioning::Npm,
        Versioning::Pep440,
        Versioning::Maven,
        Versioning::Go,
        Versioning::Docker,
        Versioning::Loose,
    ];

    /// Odd versions and requirements, mixed with ordinary ones.
    const CORPUS: &[&str] = &[
        "",
        " ",
        "*",
        "x",
        "v",
        "V",
        "1",
        "1.",
        ".1",
        "1..2",
        "-",
        "--",
        "1-",
        "1.0-",
        "^",
        "~",
        "~=",
        "===",
        ">=",
        "<",
        "||",
        "|",
        " || ",
        ",",
        ",,",
        "[",
        "]",
        "(,)",
        "[,]",
        "[1.0",
        "(1.0)",
        "[1.0,2.0)",
        "(,1.0],[1.2,)",
        "1.2.+",
        "+",
        "latest",
        "latest.release",
        "v1.2.3",
        "1.2.3",
        "1.2.3-rc.1",
        "1.2.3+build",
        "1.0a1",
        "1!2.0",
        "1.0.post1.dev0",
        "1.0-SNAPSHOT",
        "3.12-slim",
        "20-alpine3.19",
        "v0.0.0-20191109021931-daa7c04131f5",
        "v2.0.0+incompatible",
        "18.x",
        "^1.2 || ^2",
        ">=1.1,<2",
        ">= 1 < 2",
        "1.2.3 - 2.3.4",
        "99999999999999999999999.1",
        "1.99999999999999999999999",
        "18446744073709551615",
        "<18446744073709551615",
        "^18446744073709551615.0",
        "é",
        "1.é",
        "v1.2.3-é",
        "1.2.3é",
        "1.0\u{0}",
        "🦀",
        "1.🦀",
        "[🦀,)",
        "~=🦀",
        "a.b.c",
        "1.x.x",
        "x.x",
        "*.*",
        "=*",
        "!=1.0",
        "1,2",
        "1 2",
        "\t1.0\n",
        "${version}",
        "npm:foo@1",
        "file:../x",
        "1.0.0.0.0.0",
        "2.0",
        "2.0.0",
        "v2",
        "0.0.0",
        "<2",
        ">1",
        "~1.2",
        "1.2.3-",
    ];

    /// Odd inputs: every method of every scheme answers without panicking, `compare` is
    /// antisymmetric and puts invalid versions below valid ones, and a bump always admits the
    /// version it was made for.
    #[test]
    fn odd_inputs_never_panic() {
        for versioning in ALL {
            let scheme = versioning.scheme();
            for a in CORPUS {
                let _ = (
                    scheme.is_valid(a),
                    scheme.is_stable(a),
                    scheme.is_valid_requirement(a),
                    scheme.lower_bound(a),
                );
                for b in CORPUS {
                    let ab = scheme.compare(a, b);
                    assert_eq!(
                        ab,
                        scheme.compare(b, a).reverse(),
                        "{versioning:?} {a:?} {b:?}"
                    );
                    if scheme.is_valid(a) && !scheme.is_valid(b) {
                        assert_eq!(ab, Ordering::Greater, "{versioning:?} {a:?} {b:?}");
                    }
                    let _ = (
                        scheme.satisfies(a, b),
                        scheme.update_kind(a, b),
                        scheme.is_compatible(a, b),
                    );
                    if let Some(bumped) = scheme.bump(b, a) {
                        assert!(
                            scheme.satisfies(a, &bumped),
                            "{versioning:?} bump {b:?} to {a:?} gave {bumped:?}"
                        );
                    }
                }
            }
        }
    }

    /// The laws every scheme's `compare` must keep, checked on generated versions (valid and
    /// not): antisymmetry, transitivity, and equality consistent with the order. No scheme hashes
    /// versions itself (equal versions are found by `compare`), so the hashing law is checked as
    /// substitutability: versions that compare equal compare the same against every other one,
    /// which is what a hash of a canonical form relies on.
    mod ordering_laws {
        use proptest::prelude::*;

        use super::super::{Ordering, Versioning};

        fn check(scheme: Versioning, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
            let s = scheme.scheme();
            let (ab, bc, ac) = (s.compare(a, b), s.compare(b, c), s.compare(a, c));
            prop_assert_eq!(
                ab,
                s.compare(b, a).reverse(),
                "antisymmetry {:?} {:?}",
                a,
                b
            );
            prop_assert_eq!(s.compare(a, a), Ordering::Equal, "reflexivity {:?}", a);
            if ab.is_le() && bc.is_le() {
                let expected = if ab.is_lt() || bc.is_lt() {
                    Ordering::Less
                } else {
                    Ordering::Equal
                };
                prop_assert_eq!(ac, expected, "transitivity {:?} {:?} {:?}", a, b, c);
            }
            if ab.is_eq() {
                prop_assert_eq!(ac, bc, "equal {:?} = {:?} against {:?}", a, b, c);
                prop_assert_eq!(s.is_valid(a), s.is_valid(b), "validity {:?} {:?}", a, b);
            }
            Ok(())
        }

        /// Junk of the characters versions are written with.
        const JUNK: &str = "[0-9a-zA-Z.+_-]{0,7}";
        const SEMVER: &str =
            "v?[0-2]\\.[0-2]\\.[0-2](-(alpha|beta|rc|0|1|x)(\\.[0-2a-b]){0,2})?(\\+[a-b0-1]{1,2})?";
        const PEP440: &str = "([0-1]!)?[0-2](\\.[0-2]){0,2}((a|b|rc|c|alpha|pre)[0-2]?)?(\\.post[0-1])?(\\.dev[0-1])?(\\+[a-b0-1]{1,2})?";
        /// Maven versions as Maven's spec writes them: dotted numbers, then hyphen-separated
        /// qualifiers or numbers, or one trailing dotted qualifier. Maven's ComparableVersion
        /// is not transitive on every string it accepts, by its own rules (`0snapshot` < `0` <
        /// `0.a-alpha`, yet a list outranks a qualifier, so `0snapshot` > `0.a-alpha`; likewise
        /// `1` < `1-sp` < `1-0.alpha` < `1`), so the law is checked on this shape; text that is
        /// no Maven version is mixed in.
        const MAVEN: &str = "[0-2](\\.[0-2]){0,3}((-([0-2]|(alpha|beta|a|b|m|rc|cr|sp|snapshot|final|ga|release|foo|jre)[0-2]?)){0,2}|\\.(alpha|rc|sp|final|ga|release|foo|m)[0-2]?)";
        const NOT_MAVEN: &str = "[a-zA-Z$][0-9a-zA-Z.+_-]{0,6}";
        const TRAIN: &str =
            "(Hoxton|Greenwich|hoxton)\\.(M[0-2]|RC[0-2]|RELEASE|SR[0-2]{1,2}|BUILD-SNAPSHOT)";
        const GO: &str = "v[0-2]\\.[0-2]\\.[0-2](-(rc|pre|0)(\\.[0-2])?)?(\\+incompatible)?|v0\\.0\\.0-20[0-9]{12}-[0-9a-f]{12}";
        const DOCKER: &str =
            "[0-2](\\.[0-2]){0,2}(-(alpine|slim|alpine3\\.[0-2]{1,2}|rc[0-2]|bookworm))?|latest";
        const LOOSE: &str = "v?[0-2](\\.[0-2]){0,3}([a-c]|-?(rc|beta|alpha|a|b)[0-2]?|-(tem|zulu))?(\\+[0-2]{1,2})?";

        fn versions(shape: &'static str) -> impl Strategy<Value = String> {
            prop_oneof![4 => shape, 1 => JUNK]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(600))]

            #[test]
            fn cargo(a in versions(SEMVER), b in versions(SEMVER), c in versions(SEMVER)) {
                check(Versioning::Cargo, &a, &b, &c)?;
            }

            #[test]
            fn npm(a in versions(SEMVER), b in versions(SEMVER), c in versions(SEMVER)) {
                check(Versioning::Npm, &a, &b, &c)?;
            }

            #[test]
            fn pep440(a in versions(PEP440), b in versions(PEP440), c in versions(PEP440)) {
                check(Versioning::Pep440, &a, &b, &c)?;
            }

            #[test]
            fn maven(
                a in prop_oneof![6 => MAVEN, 2 => TRAIN, 1 => NOT_MAVEN],
                b in prop_oneof![6 => MAVEN, 2 => TRAIN, 1 => NOT_MAVEN],
                c in prop_oneof![6 => MAVEN, 2 => TRAIN, 1 => NOT_MAVEN],
            ) {
                check(Versioning::Maven, &a, &b, &c)?;
            }

            #[test]
            fn go(a in versions(GO), b in versions(GO), c in versions(GO)) {
                check(Versioning::Go, &a, &b, &c)?;
            }

            #[test]
            fn docker(a in versions(DOCKER), b in versions(DOCKER), c in versions(DOCKER)) {
                check(Versioning::Docker, &a, &b, &c)?;
            }

            #[test]
            fn loose(a in versions(LOOSE), b in versions(LOOSE), c in versions(LOOSE)) {
                check(Versioning::Loose, &a, &b, &c)?;
            }
        }
    }

    #[test]
    fn written_versions() {
        let cases = [
            ("1.2.3", Some((None, vec![1, 2, 3], "", ""))),
            ("v4", Some((Some('v'), vec![4], "", ""))),
            ("1.x", Some((None, vec![1], ".x", ""))),
            ("1.2.*", Some((None, vec![1, 2], ".*", ""))),
            ("*", Some((None, vec![], "*", ""))),
            ("x.x", Some((None, vec![], "x.x", ""))),
            ("3.12-slim", Some((None, vec![3, 12], "", "-slim"))),
            ("1.0.post1", Some((None, vec![1, 0], "", ".post1"))),
            ("1.xyz", Some((None, vec![1], "", ".xyz"))),
            ("xyz", None),
            ("", None),
        ];
        for (text, expected) in cases {
            let got = parse_written(text).map(|w| (w.v, w.nums, w.wild, w.rest));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn update_kinds() {
        assert_eq!(kind_between(&[1, 2, 3], &[2, 0, 0]), UpdateKind::Major);
        assert_eq!(kind_between(&[1, 2], &[1, 3, 0]), UpdateKind::Minor);
        assert_eq!(
            kind_between(&[1, 2, 3, 4], &[1, 2, 3, 5]),
            UpdateKind::Patch
        );
        assert_eq!(kind_between(&[1], &[1, 0, 0]), UpdateKind::Patch);
        // Cargo book, "Default requirements": `^0.2.3` is `>=0.2.3, <0.3.0` and `^0.0.3` is
        // `>=0.0.3, <0.0.4`; the left-most non-zero component is the major.
        let caret = [
            ([0, 10, 2], [0, 13, 0], UpdateKind::Major),
            ([0, 7, 3], [0, 10, 0], UpdateKind::Major),
            ([0, 0, 3], [0, 0, 4], UpdateKind::Major),
            ([0, 0, 0], [0, 0, 1], UpdateKind::Major),
            ([0, 2, 1], [0, 2, 5], UpdateKind::Patch),
            ([0, 9, 0], [1, 0, 0], UpdateKind::Major),
            ([1, 2, 3], [1, 3, 0], UpdateKind::Minor),
            ([1, 2, 3], [1, 2, 4], UpdateKind::Patch),
            ([1, 2, 3], [2, 0, 0], UpdateKind::Major),
            ([0, 3, 0], [0, 3, 0], UpdateKind::Patch),
        ];
        for (from, to, kind) in caret {
            assert_eq!(caret_kind(from, to), kind, "{from:?} -> {to:?}");
        }
    }
}
