//! SemVer versions with npm range semantics (`^ ~ x`, hyphen ranges, `||`, prerelease rules),
//! built on `nodejs-semver` (a port of node-semver's matching rules).

use std::cmp::Ordering;
use std::ops::Range as Span;

use nodejs_semver::{Range, Version};

use super::{
    BumpStyle, Clause, Parsed, Role, Target, UpdateKind, VersionScheme, bump_parsed, caret_kind,
    order_by, split_ranges,
};

pub struct Npm;

/// A numeric identifier as SemVer 2.0.0 and node-semver write it: `0` or no leading zero.
fn numeric(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// Dot-separated identifiers after `-` (prerelease: numeric ones without leading zeros) or `+`
/// (build: any alphanumerics and hyphens).
fn identifiers(text: &str, prerelease: bool) -> bool {
    text.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (!prerelease || !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
    })
}

/// The prerelease and build tail of a version (`-rc.1+sha.5`, or nothing).
fn strict_tail(tail: &str) -> bool {
    let (rest, build) = match tail.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (tail, None),
    };
    let pre_ok = match rest.strip_prefix('-') {
        Some(pre) => identifiers(pre, true),
        None => rest.is_empty(),
    };
    pre_ok && build.is_none_or(|b| identifiers(b, false))
}

/// node-semver's strict version grammar (its `FULL` pattern): three numbers without leading
/// zeros, then an optional prerelease and build. `nodejs-semver` accepts `17.04.0` and
/// `1.2.3foo`, which node-semver rejects.
fn strict_version(body: &str) -> bool {
    let end = body.find(['-', '+']).unwrap_or(body.len());
    let (main, tail) = body.split_at(end);
    let parts: Vec<&str> = main.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| numeric(p)) && strict_tail(tail)
}

/// One version inside a range as node-semver's `XRANGEPLAIN` writes it: optional `v`/`=`, then
/// one to three parts, each a number without leading zeros or `x`/`X`/`*`; a prerelease and
/// build only after the third part (`1.2.3-rc.1`, `1.x`, `*`).
fn strict_partial(text: &str) -> bool {
    let body = text.trim_start_matches(['v', '=']);
    let end = body.find(['-', '+']).unwrap_or(body.len());
    let (main, tail) = body.split_at(end);
    let parts: Vec<&str> = main.split('.').collect();
    let part_ok = |p: &&str| matches!(*p, "x" | "X" | "*") || numeric(p);
    (1..=3).contains(&parts.len())
        && parts.iter().all(part_ok)
        && (tail.is_empty() || (parts.len() == 3 && strict_tail(tail)))
}

/// node-semver's range grammar, strictly: `||` alternatives of whitespace-separated comparators
/// (an operator among `< <= > >= = ~ ~> ^`, optionally followed by spaces, then a partial
/// version) or one hyphen range `a - b`. Rejects what node-semver rejects and `nodejs-semver`
/// lets through (`1.2.3foo`, `1.x.05`, `>=17.04.0`).
fn strict_range(requirement: &str) -> bool {
    requirement.split("||").all(|group| {
        let toks: Vec<&str> = group.split_whitespace().collect();
        if let [low, "-", high] = toks.as_slice() {
            return strict_partial(low) && strict_partial(high);
        }
        let mut pending_op = false;
        for tok in toks {
            let op_len = tok.len() - tok.trim_start_matches(['<', '>', '=', '~', '^']).len();
            let (op, version) = tok.split_at(op_len);
            if !matches!(op, "" | "<" | "<=" | ">" | ">=" | "=" | "~" | "~>" | "^") {
                return false;
            }
            if version.is_empty() {
                if pending_op {
                    return false;
                }
                pending_op = true;
                continue;
            }
            if pending_op && op_len > 0 {
                return false;
            }
            pending_op = false;
            if !strict_partial(version) {
                return false;
            }
        }
        !pending_op
    })
}

fn parse(version: &str) -> Option<Version> {
    let version = version.trim();
    // Registry versions are strict; node-semver's `valid` also accepts a leading `v`/`=`.
    let body = version.trim_start_matches(['v', '=']);
    if !strict_version(body) {
        return None;
    }
    // Strict shape: three numbers, then only a prerelease or build part.
    let written = super::parse_written(body)?;
    if written.v.is_some()
        || written.nums.len() != 3
        || !written.wild.is_empty()
        || !(written.rest.is_empty() || written.rest.starts_with(['-', '+']))
    {
        return None;
    }
    Version::parse(body).ok()
}

/// Only real ranges: dist-tags (`latest`), URLs, `file:`, `npm:` aliases and git specs are not.
fn parse_range(requirement: &str) -> Option<Range> {
    let requirement = requirement.trim();
    if requirement.contains(':') || requirement.contains('/') || !strict_range(requirement) {
        return None;
    }
    Range::parse(requirement).ok()
}

/// Whitespace-separated tokens of `text[range]` with absolute byte ranges.
fn tokens(text: &str, range: Span<usize>) -> Vec<Span<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.get(range.clone()).unwrap_or_default().char_indices() {
        let at = range.start + i;
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..at);
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..range.end);
    }
    out
}

fn role_of(op: &str) -> Role {
    match op {
        "" | "=" => Role::Exact,
        "^" | "~" | "~>" | ">=" => Role::Lower,
        ">" => Role::Greater,
        "<" => Role::Upper,
        "<=" => Role::UpperInclusive,
        _ => Role::Keep,
    }
}

/// The clauses of an npm range, for bumping and lower bounds.
fn clauses(requirement: &str) -> Parsed {
    let mut groups = Vec::new();
    for (range, _) in split_ranges(requirement, "||") {
        let toks = tokens(requirement, range.clone());
        let mut clauses = Vec::new();
        let is_hyphen = toks.len() == 3
            && toks
                .get(1)
                .and_then(|t| requirement.get(t.clone()))
                .is_some_and(|t| t == "-");
        if is_hyphen {
            if let (Some(low), Some(high)) = (toks.first(), toks.get(2)) {
                clauses.push(Clause {
                    role: Role::Keep,
                    op: low.start..low.start,
                    version: low.clone(),
                });
                clauses.push(Clause {
                    role: Role::UpperInclusive,
                    op: high.start..high.start,
                    version: high.clone(),
                });
            }
        } else {
            let mut pending_op: Option<Span<usize>> = None;
            for tok in toks {
                let text = requirement.get(tok.clone()).unwrap_or_default();
                let op_len = text.len() - text.trim_start_matches(['<', '>', '=', '~', '^']).len();
                if op_len == text.len() {
                    pending_op = Some(tok);
                    continue;
                }
                let (op, version) = match pending_op.take() {
                    Some(op) if op_len == 0 => (op, tok),
                    _ => (tok.start..tok.start + op_len, tok.start + op_len..tok.end),
                };
                let role = role_of(requirement.get(op.clone()).unwrap_or_default());
                clauses.push(Clause { role, op, version });
            }
        }
        groups.push((range, clauses));
    }
    Parsed { groups }
}

impl VersionScheme for Npm {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        order_by(a, b, parse, Version::cmp)
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|v| !v.is_prerelease())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        super::semver_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse_range(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        match (parse(version), parse_range(requirement)) {
            (Some(v), Some(r)) => r.satisfies(&v),
            _ => false,
        }
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        let range = parse_range(requirement)?;
        let min = range.min_version()?;
        let unbounded = min.major() == 0 && min.minor() == 0 && min.patch() == 0 && {
            // `*`, `<2`, `x`: node-semver answers 0.0.0 although nothing was written.
            let parsed = clauses(requirement.trim());
            !parsed.groups.iter().any(|(_, clauses)| {
                clauses.iter().any(|c| {
                    c.role != Role::Upper
                        && c.role != Role::UpperInclusive
                        && requirement
                            .trim()
                            .get(c.version.clone())
                            .and_then(super::parse_written)
                            .is_some_and(|w| !w.nums.is_empty())
                })
            })
        };
        (!unbounded).then(|| min.to_string())
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (from, to) = (parse(from)?, parse(to)?);
        // node-semver's caret: below 1.0.0 the left-most non-zero component is the major.
        (to > from).then(|| {
            caret_kind(
                [from.major(), from.minor(), from.patch()],
                [to.major(), to.minor(), to.patch()],
            )
        })
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        let version = parse(new_version)?;
        let requirement = requirement.trim();
        parse_range(requirement)?;
        let text = new_version.trim().trim_start_matches(['v', '=']);
        let target = Target {
            release: vec![version.major(), version.minor(), version.patch()],
            text,
            plain: !version.is_prerelease() && version.build().is_empty(),
        };
        let style = BumpStyle {
            partial_exact_is_range: true,
            or_separator: Some(" || "),
        };
        bump_parsed(
            requirement,
            &clauses(requirement),
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

    const S: Npm = Npm;

    #[test]
    fn ordering() {
        let ascending = [
            "0.0.0",
            "0.0.1",
            "0.1.0",
            "1.0.0-0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("v1.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(S.compare("nonsense", "0.0.0"), Ordering::Less);
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("1.2.3", true, true),
            ("v1.2.3", true, true),
            ("1.0.0-rc.1", true, false),
            ("1.0.0-next.3", true, false),
            ("2.0.0+sha.abc", true, true),
            ("latest", false, false),
            ("", false, false),
            ("1.2.3.4", false, false),
            // node-semver's strict grammar (SemVer 2.0.0 §2, §9, §10): no leading zeros in
            // numbers or numeric prerelease identifiers, nothing after the version but `-pre`
            // and `+build`, no empty identifiers.
            ("17.04.0", false, false),
            ("01.2.3", false, false),
            ("1.2.03", false, false),
            ("1.2.3foo", false, false),
            ("1.2.3-01", false, false),
            ("1.2.3-", false, false),
            ("1.2.3+", false, false),
            ("1.2.3-a..b", false, false),
            ("1.2.3-rc.1_2", false, false),
            ("1.2.3-0", true, false),
            ("1.2.3-0a.00a", true, false),
            ("1.2.3-alpha-1.x", true, false),
            ("1.2.3+001.sha-5", true, true),
            ("0.0.0", true, true),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
        for (r, valid) in [
            ("^1.2.3", true),
            ("1.x", true),
            ("", true),
            ("*", true),
            (">=1.2.3 <2.0.0", true),
            ("1.2.3 - 2.3.4", true),
            ("^1.2.3 || ^2.0.0", true),
            ("latest", false),
            // node-semver rejects these ranges (numbers without leading zeros, nothing after a
            // version but a prerelease or build); `nodejs-semver` accepted them.
            ("1.2.3foo", false),
            ("1.x.05", false),
            (">=17.04.0", false),
            ("^1.2.3foo", false),
            ("~1.02", false),
            ("1.2.3 - 2.3.4foo", false),
            ("^1.2.3 || 1.2.3foo", false),
            (">=1.2.3-01", false),
            ("1.2-rc.1", false),
            (">==1.2.3", false),
            (">= >= 1.2.3", false),
            (">=", false),
            ("1.x.x", true),
            ("1.2.x", true),
            ("X", true),
            (">= 1.2.3", true),
            ("=v1.2.3", true),
            ("v1.2", true),
            ("~> 1.2", true),
            ("<=1.2.3-rc.1+build.5", true),
            ("^0.0.0", true),
            ("npm:lodash@^4", false),
            ("file:../foo", false),
            ("github:user/repo", false),
        ] {
            assert_eq!(S.is_valid_requirement(r), valid, "{r}");
        }
    }

    #[test]
    fn satisfies() {
        let cases = [
            ("1.4.0", "^1.2.3", true),
            ("2.0.0", "^1.2.3", false),
            ("0.2.9", "^0.2.3", true),
            ("0.3.0", "^0.2.3", false),
            ("0.0.3", "^0.0.3", true),
            ("0.0.4", "^0.0.3", false),
            ("1.2.9", "~1.2.3", true),
            ("1.3.0", "~1.2.3", false),
            ("1.9.9", "1.x", true),
            ("2.0.0", "1.x", false),
            ("1.2.7", "1.2", true),
            ("1.2.3", "1.2.3", true),
            ("1.2.4", "1.2.3", false),
            ("1.2.4", "=1.2.4", true),
            ("2.3.4", "1.2.3 - 2.3.4", true),
            ("2.3.5", "1.2.3 - 2.3.4", false),
            ("2.3.9", "1.2.3 - 2.3", true),
            ("2.5.0", "^1.2.3 || ^2.0.0", true),
            ("3.0.0", "^1.2.3 || ^2.0.0", false),
            ("1.5.0", ">=1.2.3 <2.0.0", true),
            ("1.5.0", ">= 1.2.3 < 2.0.0", true),
            ("1.2.4-beta.1", "^1.2.4-beta.0", true),
            ("1.2.5-beta.1", "^1.2.4-beta.0", false),
            ("1.3.0-rc.1", "^1.2.0", false),
            ("9.9.9", "*", true),
            ("1.0.0", "latest", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
    }

    #[test]
    fn lower_bound() {
        let cases = [
            ("^1.2.3", Some("1.2.3")),
            ("~1.2", Some("1.2.0")),
            ("1.x", Some("1.0.0")),
            ("1.2.3 - 2.3.4", Some("1.2.3")),
            (">=1.2.3 <2.0.0", Some("1.2.3")),
            ("^2.0.0 || ^1.5.0", Some("1.5.0")),
            (">1.2.3", Some("1.2.4")),
            ("^0.0.0", Some("0.0.0")),
            ("^1.0.0-rc.1", Some("1.0.0-rc.1")),
            ("<2.0.0", None),
            ("*", None),
            ("latest", None),
        ];
        for (r, expected) in cases {
            assert_eq!(S.lower_bound(r).as_deref(), expected, "{r}");
        }
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("1.2.3", "2.0.0", Some(Major)),
            ("1.2.3", "1.3.0", Some(Minor)),
            ("1.2.3", "1.2.4", Some(Patch)),
            ("0.1.0", "0.1.1", Some(Patch)),
            // node-semver caret ranges: "allows changes that do not modify the left-most
            // non-zero element" (`^0.2.3` := `>=0.2.3 <0.3.0-0`, `^0.0.3` := `>=0.0.3 <0.0.4-0`).
            ("0.2.3", "0.3.0", Some(Major)),
            ("0.0.3", "0.0.4", Some(Major)),
            ("0.10.0", "0.13.2", Some(Major)),
            ("0.9.9", "1.0.0", Some(Major)),
            ("1.0.0-rc.1", "1.0.0", Some(Patch)),
            ("1.0.0", "1.0.0", None),
            ("1.0.0", "0.9.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("^1.2.3", "1.4.0", Some("^1.4.0")),
            ("^1.2", "1.4.3", Some("^1.4")),
            ("~1.2.3", "1.4.0", Some("~1.4.0")),
            ("1.2.3", "1.4.0", Some("1.4.0")),
            ("=1.2.3", "1.4.0", Some("=1.4.0")),
            ("1.2", "1.4.5", Some("1.4")),
            ("1.x", "2.3.0", Some("2.x")),
            ("1.2.x", "1.4.1", Some("1.4.x")),
            ("*", "3.0.0", Some("*")),
            (">=1.2.3 <2.0.0", "2.1.0", Some(">=2.1.0 <3.0.0")),
            (">= 1.2 < 2", "3.0.1", Some(">= 3.0 < 4")),
            ("1.2.3 - 2.3.4", "3.1.0", Some("1.2.3 - 3.1.0")),
            (
                "^1.2.3 || ^2.0.0",
                "3.1.0",
                Some("^1.2.3 || ^2.0.0 || ^3.1.0"),
            ),
            ("^1.2.3 || ^2.0.0", "2.5.0", Some("^1.2.3 || ^2.5.0")),
            ("^1.0.0", "2.0.0-rc.1", Some("^2.0.0-rc.1")),
            ("v1.2.3", "1.4.0", Some("v1.4.0")),
            ("~0.2", "0.4.0", Some("~0.4")),
            // A bump never narrows what the range already admits above the target: an upper
            // bound that admits it stays as written (node-semver: a range is the intersection of
            // its comparators, so only the lower bound needs to move).
            (">= 0.1.21 <= 0.2.0", "0.1.24", Some(">= 0.1.24 <= 0.2.0")),
            (">=1.0.0 <=2.0.0", "1.5.0", Some(">=1.5.0 <=2.0.0")),
            (">=1.0.0 <3.0.0", "1.5.0", Some(">=1.5.0 <3.0.0")),
            ("1.0.0 - 2.3.4", "1.5.0", Some("1.0.0 - 2.3.4")),
            (">=1.0.0 <=2.0.0", "2.5.0", Some(">=2.5.0 <=2.5.0")),
            ("latest", "1.0.0", None),
            ("^1.0.0", "garbage", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }
}
