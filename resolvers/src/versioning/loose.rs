//! A loose scheme for toolchains and action tags (own code): optional leading `v`, dotted
//! numbers of any length, then an optional prerelease (`rc1`, `-beta.2`, `a1`) or a variant
//! suffix (`-tem`, `-zulu`), and optional `+build` metadata.
//!
//! Requirements: a bare version is a prefix (`18` matches 18.x, `v4` matches v4.x.y, `1.21`
//! matches 1.21.x, `1.21.5` only 1.21.5); `=`/`==` likewise; `>=`, `>`, `<`, `<=`, `^`, `~`,
//! `~>` and `x`/`*` wildcards work as in npm, with comma- or space-separated clauses and `||`
//! alternatives (as in `engines.node` or `requires-python`).
//!
//! Versions written with fewer parts stand for their whole series, so `update_kind` only looks
//! at the parts both versions spell out (`v4` → `v4.2.1` is not an update, `v4` → `v5` is major).

use std::cmp::Ordering;
use std::ops::Range;

use super::{
    BumpStyle, Clause, Parsed, Role, Target, UpdateKind, VersionScheme, bump_parsed, cmp_release,
    kind_between, natural, parse_written, split_ranges,
};

pub struct Loose;

const PRERELEASE_WORDS: [&str; 14] = [
    "alpha",
    "beta",
    "rc",
    "pre",
    "preview",
    "dev",
    "snapshot",
    "nightly",
    "canary",
    "ea",
    "next",
    "insiders",
    "milestone",
    "cr",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ver<'a> {
    nums: Vec<u64>,
    /// Prerelease text (`rc1`, `-beta.2`), when the part after the numbers is one.
    pre: Option<&'a str>,
    /// Variant suffix (`-tem`), compared case-insensitively for compatibility.
    variant: &'a str,
    /// One letter directly after the numbers (OpenSSL's `1.1.1w`, `0.8a`), lower-cased: a
    /// later release of the same numbers (`1.1.1` < `1.1.1a` < `1.1.1w` < `1.1.2`).
    letter: Option<char>,
    /// `+build` metadata; only breaks ties.
    build: &'a str,
    /// Has a wildcard tail (`18.x`); only in requirements.
    wild: bool,
}

fn is_prerelease_text(rest: &str) -> bool {
    let body = rest
        .trim_start_matches(['-', '.', '_'])
        .to_ascii_lowercase();
    let word: String = body.chars().take_while(char::is_ascii_alphabetic).collect();
    let after_word = body.get(word.len()..).unwrap_or_default();
    let followed_by_digit = after_word.starts_with(|c: char| c.is_ascii_digit());
    PRERELEASE_WORDS.contains(&word.as_str())
        || (matches!(word.as_str(), "a" | "b" | "c" | "m") && followed_by_digit)
}

fn parse_any(text: &str) -> Option<Ver<'_>> {
    let text = text.trim();
    if text.contains(|c: char| c.is_whitespace()) {
        return None;
    }
    let written = parse_written(text)?;
    if written.nums.is_empty() && written.wild.is_empty() {
        return None;
    }
    let (rest, build) = match written.rest.find('+') {
        Some(i) => (written.rest.get(..i)?, written.rest.get(i..)?),
        None => (written.rest, ""),
    };
    if !rest.is_empty()
        && !rest.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
    {
        return None;
    }
    let mut letters = rest.chars();
    let letter = match (letters.next(), letters.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() && !written.nums.is_empty() => {
            Some(c.to_ascii_lowercase())
        }
        _ => None,
    };
    let rest = if letter.is_some() { "" } else { rest };
    if rest.len() == 1
        || rest
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return None;
    }
    let (pre, variant) = if rest.is_empty() {
        (None, "")
    } else if is_prerelease_text(rest) {
        (Some(rest), "")
    } else {
        (None, rest)
    };
    Some(Ver {
        nums: written.nums,
        pre,
        variant,
        letter,
        build,
        wild: !written.wild.is_empty(),
    })
}

fn parse(version: &str) -> Option<Ver<'_>> {
    parse_any(version).filter(|v| !v.wild && !v.nums.is_empty())
}

fn cmp_pre(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => natural(
            x.trim_start_matches(['-', '.', '_']),
            y.trim_start_matches(['-', '.', '_']),
        ),
    }
}

fn cmp_ver(a: &Ver<'_>, b: &Ver<'_>) -> Ordering {
    cmp_release(&a.nums, &b.nums)
        .then_with(|| a.letter.cmp(&b.letter))
        .then_with(|| cmp_pre(a.pre, b.pre))
        .then_with(|| a.nums.len().cmp(&b.nums.len()))
        .then_with(|| natural(a.variant, b.variant))
        .then_with(|| natural(a.build, b.build))
}

/// Release numbers cut or padded to `len` parts.
fn head(nums: &[u64], len: usize) -> Vec<u64> {
    (0..len)
        .map(|i| nums.get(i).copied().unwrap_or(0))
        .collect()
}

/// Does `v` match one clause `op w`?
fn clause_matches(v: &Ver<'_>, op: &str, w: &Ver<'_>) -> bool {
    if w.nums.is_empty() {
        return true;
    }
    if !w.variant.is_empty() && !w.variant.eq_ignore_ascii_case(v.variant) {
        return false;
    }
    let p = w.nums.len();
    let prefix = |k: usize| head(&v.nums, k.min(p)) == head(&w.nums, k.min(p));
    let full = cmp_release(&v.nums, &w.nums)
        .then_with(|| v.letter.cmp(&w.letter))
        .then_with(|| cmp_pre(v.pre, w.pre));
    let at_precision = cmp_release(&head(&v.nums, p), &w.nums);
    match op {
        "" | "=" | "==" => {
            prefix(p)
                && (w.letter.is_none() || (v.nums.len() == p && v.letter == w.letter))
                && (w.pre.is_none() || cmp_pre(v.pre, w.pre).is_eq())
        }
        ">=" => full.is_ge(),
        ">" => at_precision.is_gt(),
        "<" => full.is_lt(),
        "<=" => at_precision.is_le(),
        "^" => {
            let k = w.nums.iter().position(|n| *n != 0).map_or(p, |i| i + 1);
            full.is_ge() && prefix(k)
        }
        "~" | "~>" => full.is_ge() && prefix(if p >= 2 { 2 } else { 1 }),
        _ => false,
    }
}

const OPS: [&str; 9] = [">=", "<=", "==", "~>", ">", "<", "=", "^", "~"];

/// One alternative of a requirement: its byte range and its clauses' (op, version) byte ranges.
type GroupRanges = (Range<usize>, Vec<(Range<usize>, Range<usize>)>);

/// The clauses of each alternative.
fn clause_ranges(requirement: &str) -> Vec<GroupRanges> {
    let mut groups = Vec::new();
    for (group, _) in split_ranges(requirement, "||") {
        let mut clauses = Vec::new();
        let mut pending: Option<Range<usize>> = None;
        let mut start = None;
        let text = requirement.get(group.clone()).unwrap_or_default();
        let mut toks = Vec::new();
        for (i, c) in text.char_indices() {
            let at = group.start + i;
            let sep = c.is_whitespace() || c == ',';
            match (sep, start) {
                (true, Some(s)) => {
                    toks.push(s..at);
                    start = None;
                }
                (false, None) => start = Some(at),
                _ => {}
            }
        }
        if let Some(s) = start {
            toks.push(s..group.end);
        }
        for tok in toks {
            let t = requirement.get(tok.clone()).unwrap_or_default();
            let op_len = OPS
                .iter()
                .filter(|op| t.starts_with(**op))
                .map(|op| op.len())
                .max()
                .unwrap_or(0);
            if op_len == t.len() {
                pending = Some(tok);
                continue;
            }
            let clause = match pending.take() {
                Some(op) if op_len == 0 => (op, tok),
                _ => (tok.start..tok.start + op_len, tok.start + op_len..tok.end),
            };
            clauses.push(clause);
        }
        if pending.is_some() {
            clauses.clear();
        }
        groups.push((group, clauses));
    }
    groups
}

/// Parsed alternatives: each a list of (op, version) that must all hold; `None` if invalid.
fn parse_req(requirement: &str) -> Option<Vec<Vec<(&str, Ver<'_>)>>> {
    let groups = clause_ranges(requirement);
    let mut out = Vec::new();
    for (_, clauses) in groups {
        if clauses.is_empty() {
            return None;
        }
        let mut group = Vec::new();
        for (op, version) in clauses {
            let op = requirement.get(op)?;
            if !(op.is_empty() || OPS.contains(&op)) {
                return None;
            }
            group.push((op, parse_any(requirement.get(version)?)?));
        }
        out.push(group);
    }
    (!out.is_empty()).then_some(out)
}

fn group_matches(v: &Ver<'_>, group: &[(&str, Ver<'_>)]) -> bool {
    if v.pre.is_some() && !group.iter().any(|(_, w)| w.pre.is_some()) {
        return false;
    }
    group.iter().all(|(op, w)| clause_matches(v, op, w))
}

impl VersionScheme for Loose {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        match (parse(a), parse(b)) {
            (Some(x), Some(y)) => cmp_ver(&x, &y),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => a.cmp(b),
        }
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|v| v.pre.is_none())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        // Tags and toolchain versions as registries list them: SemVer's rule, and for anything
        // else a `-` before any `+`.
        super::semver_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse_req(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        let (Some(v), Some(groups)) = (parse(version), parse_req(requirement)) else {
            return false;
        };
        groups.iter().any(|g| group_matches(&v, g))
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        let groups = parse_req(requirement)?;
        let ranges = clause_ranges(requirement);
        let mut floors = Vec::new();
        for ((_, clauses), group) in ranges.iter().zip(&groups) {
            let floor = clauses
                .iter()
                .zip(group)
                .filter(|(_, (op, w))| {
                    matches!(*op, "" | "=" | "==" | ">=" | "^" | "~" | "~>") && !w.nums.is_empty()
                })
                .filter_map(|((_, version), _)| requirement.get(version.clone()))
                .max_by(|a, b| self.compare(a, b))?;
            floors.push(floor.to_owned());
        }
        floors.into_iter().min_by(|a, b| self.compare(a, b))
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (f, t) = (parse(from)?, parse(to)?);
        if !cmp_ver(&t, &f).is_gt() {
            return None;
        }
        let shared = f.nums.len().min(t.nums.len());
        if head(&f.nums, shared) != head(&t.nums, shared) {
            return Some(kind_between(&head(&f.nums, shared), &head(&t.nums, shared)));
        }
        (cmp_release(&f.nums, &t.nums).is_eq() && (f.pre != t.pre || f.letter != t.letter))
            .then_some(UpdateKind::Patch)
    }

    fn is_compatible(&self, current: &str, candidate: &str) -> bool {
        match (parse(current), parse(candidate)) {
            (Some(c), Some(n)) => c.variant.eq_ignore_ascii_case(n.variant),
            _ => false,
        }
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        let requirement = requirement.trim();
        parse_req(requirement)?;
        let version = parse(new_version)?;
        let text = new_version.trim();
        let target = Target {
            release: version.nums.clone(),
            text,
            plain: version.pre.is_none()
                && version.variant.is_empty()
                && version.letter.is_none()
                && version.build.is_empty(),
        };
        let groups = clause_ranges(requirement)
            .into_iter()
            .map(|(group, clauses)| {
                let clauses = clauses
                    .into_iter()
                    .map(|(op, version)| {
                        let role = match requirement.get(op.clone()).unwrap_or_default() {
                            "" | ">=" | "^" | "~" | "~>" => Role::Lower,
                            "=" | "==" => Role::Exact,
                            ">" => Role::Greater,
                            "<" => Role::Upper,
                            "<=" => Role::UpperInclusive,
                            _ => Role::Keep,
                        };
                        Clause { role, op, version }
                    })
                    .collect();
                (group, clauses)
            })
            .collect();
        let style = BumpStyle {
            partial_exact_is_range: true,
            or_separator: Some(" || "),
        };
        bump_parsed(
            requirement,
            &Parsed { groups },
            &target,
            &style,
            |group| self.satisfies(text, group),
            |result| self.satisfies(text, result),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::UpdateKind::{Major, Minor, Patch};
    use super::*;

    const S: Loose = Loose;

    #[test]
    fn ordering() {
        let ascending = [
            "1.9",
            "1.21rc1",
            "1.21rc2",
            "1.21",
            "1.21.0",
            "1.21.5",
            "1.22",
            "3.13.0a1",
            "3.13.0b2",
            "3.13.0rc1",
            "3.13.0",
            "3.13.1",
            "v4",
            "v4.0.1",
            "v4.2.1",
            "v5.0.0-beta.1",
            "v5.0.0",
            "18.20.4",
            "20.11.1",
            "21.0.2-tem",
            "21.0.2-zulu",
            "21.0.3+9",
            "21.0.3+13",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("v1.2.3", "1.2.3"), Ordering::Equal);
        // OpenSSL's letter releases follow the release they letter, before the next number.
        let letters = [
            "0.8",
            "0.8a",
            "0.8b",
            "0.9",
            "1.1.1-rc1",
            "1.1.1",
            "1.1.1a",
            "1.1.1b",
            "1.1.1w",
            "1.1.2",
            "3.0.0",
        ];
        for pair in letters.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("1.1.1W", "1.1.1w"), Ordering::Equal);
        assert!(S.satisfies("1.1.1w", ">=1.1.1a"));
        assert!(!S.satisfies("1.1.1", ">=1.1.1a"));
        assert!(S.satisfies("1.1.1w", "1.1.1w"));
        assert!(!S.satisfies("1.1.1v", "1.1.1w"));
        assert!(S.satisfies("1.1.1w", "<1.1.2"));
        assert!(S.is_compatible("1.1.1", "1.1.1w"));
        assert_eq!(S.bump("1.1.1a", "1.1.1w").as_deref(), Some("1.1.1w"));
        assert_eq!(S.compare("stable", "0.1"), Ordering::Less);
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("18", true, true),
            ("v4", true, true),
            ("1.21.5", true, true),
            ("1.75.0", true, true),
            ("21.0.2-tem", true, true),
            ("21.0.3+13", true, true),
            ("8.5", true, true),
            ("1.21rc1", true, false),
            ("3.13.0a1", true, false),
            ("v5.0.0-beta.1", true, false),
            ("2.0.0-M1", true, false),
            ("1.80.0-nightly", true, false),
            ("stable", false, false),
            ("lts/*", false, false),
            ("18.x", false, false),
            (">=18", false, false),
            ("", false, false),
            ("1.2 3", false, false),
            // One-letter suffixes: OpenSSL's letter releases (`1.1.1w`), `0.8a`.
            ("0.8a", true, true),
            ("1.1.1w", true, true),
            ("1.0.2U", true, true),
            ("v1.1.1w", true, true),
            ("1.1.1w+5", true, true),
            ("1.1.1-", false, false),
            ("a", false, false),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
    }

    #[test]
    fn satisfies() {
        let cases = [
            ("18.20.4", "18", true),
            ("19.0.0", "18", false),
            ("v4.2.1", "v4", true),
            ("4.2.1", "v4", true),
            ("v5.0.0", "v4", false),
            ("1.21.5", "1.21", true),
            ("1.22.0", "1.21", false),
            ("1.21.5", "1.21.5", true),
            ("1.21.6", "1.21.5", false),
            ("1.21.5", "=1.21", true),
            ("18.0.0-rc1", "18", false),
            ("21.0.2-tem", "21-tem", true),
            ("21.0.2-zulu", "21-tem", false),
            ("20.1.0", ">=18", true),
            ("16.0.0", ">=18", false),
            ("20.1.0", ">=18 <21", true),
            ("21.0.0", ">=18, <21", false),
            ("18.9.0", "^18.2", true),
            ("19.0.0", "^18.2", false),
            ("18.2.9", "~18.2", true),
            ("18.3.0", "~18.2", false),
            ("19.1.0", ">18", true),
            ("18.9.0", ">18", false),
            ("18.9.0", "<=18", true),
            ("20.5.0", "18.x", false),
            ("18.5.0", "18.x", true),
            ("20.5.0", "^18 || ^20", true),
            ("22.0.0", "^18 || ^20", false),
            ("1.0", "*", true),
            ("1.0", "lts/*", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
    }

    #[test]
    fn lower_bound() {
        let cases = [
            ("18", Some("18")),
            ("v4", Some("v4")),
            ("1.21.5", Some("1.21.5")),
            (">=18 <21", Some("18")),
            ("^18 || ^16.3", Some("16.3")),
            ("<21", None),
            ("*", None),
            ("lts/*", None),
        ];
        for (r, expected) in cases {
            assert_eq!(S.lower_bound(r).as_deref(), expected, "{r}");
        }
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("18", "20.11.1", Some(Major)),
            ("v4", "v5.0.0", Some(Major)),
            ("v4", "v4.2.1", None),
            ("1.21", "1.22.0", Some(Minor)),
            ("1.21.5", "1.21.6", Some(Patch)),
            ("1.21.5", "1.22.0", Some(Minor)),
            ("3.13.0rc1", "3.13.0", Some(Patch)),
            // A letter release (OpenSSL `1.1.1w`) is a later release of the same numbers.
            ("1.1.1", "1.1.1w", Some(Patch)),
            ("1.1.1a", "1.1.1w", Some(Patch)),
            ("1.1.1w", "1.1.2", Some(Patch)),
            ("1.1.1w", "3.0.0", Some(Major)),
            ("1.1.1w", "1.1.1w", None),
            ("3.13.0", "3.13.0", None),
            ("3.13.1", "3.13.0", None),
            ("stable", "1.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn compatibility() {
        assert!(S.is_compatible("v4", "v5.0.0"));
        assert!(S.is_compatible("18", "20.11.1"));
        assert!(S.is_compatible("21.0.2-tem", "21.0.3-TEM"));
        assert!(!S.is_compatible("21.0.2-tem", "21.0.3-zulu"));
        assert!(!S.is_compatible("21.0.2-tem", "21.0.3"));
        assert!(S.is_compatible("3.12", "3.13.0rc1"));
    }

    #[test]
    fn bump() {
        let cases = [
            ("v4", "v5.0.0", Some("v5")),
            ("v4", "5.1.0", Some("v5")),
            ("18", "20.11.1", Some("20")),
            ("1.21", "1.22.0", Some("1.22")),
            ("1.21.5", "1.22.1", Some("1.22.1")),
            ("v4.1.0", "v4.2.0", Some("v4.2.0")),
            ("21.0.2-tem", "21.0.3-tem", Some("21.0.3-tem")),
            ("=1.21", "1.23.4", Some("=1.23")),
            (">=18", "22.1.0", Some(">=22")),
            (">=18 <21", "22.1.0", Some(">=22 <23")),
            // Space-separated clauses must all hold (as in npm ranges): an upper bound that
            // already admits the target stays as written.
            (">=18 <=22", "20.1.0", Some(">=20 <=22")),
            (">=18 <23", "20.1.0", Some(">=20 <23")),
            ("^18 || ^20", "22.1.0", Some("^18 || ^20 || ^22")),
            ("18.x", "20.1.0", Some("20.x")),
            ("3.12", "3.13.0rc1", Some("3.13.0rc1")),
            ("lts/*", "20.1.0", None),
            ("18", "stable", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }
}
