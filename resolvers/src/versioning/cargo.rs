//! SemVer versions with Cargo requirement semantics (bare = caret, `~`, `=`, comparisons,
//! wildcards, comma lists), built on the `semver` crate (the parser Cargo itself uses).

use std::cmp::Ordering;

use semver::{Comparator, Op, Version, VersionReq};

use super::{
    BumpStyle, Clause, Parsed, Role, Target, UpdateKind, VersionScheme, bump_parsed, caret_kind,
    op_and_version, order_by, split_ranges,
};

pub struct Cargo;

const OPS: &[&str] = &[">=", "<=", ">", "<", "=", "^", "~"];

fn parse(version: &str) -> Option<Version> {
    Version::parse(version.trim()).ok()
}

fn parse_req(requirement: &str) -> Option<VersionReq> {
    let requirement = requirement.trim();
    if requirement.is_empty() {
        return None;
    }
    VersionReq::parse(requirement).ok()
}

/// The lowest version one comparator admits, if it has a lower bound.
fn comparator_floor(c: &Comparator) -> Option<Version> {
    let minor = c.minor.unwrap_or(0);
    let patch = c.patch.unwrap_or(0);
    match c.op {
        Op::Exact | Op::GreaterEq | Op::Tilde | Op::Caret | Op::Wildcard => {
            let mut v = Version::new(c.major, minor, patch);
            v.pre = c.pre.clone();
            Some(v)
        }
        Op::Greater => Some(match (c.minor, c.patch) {
            (None, _) => Version::new(c.major.checked_add(1)?, 0, 0),
            (Some(m), None) => Version::new(c.major, m.checked_add(1)?, 0),
            (Some(m), Some(p)) => Version::new(c.major, m, p.checked_add(1)?),
        }),
        _ => None,
    }
}

/// The clauses of a Cargo requirement, for bumping.
fn clauses(requirement: &str) -> Parsed {
    let mut group = Vec::new();
    for (range, _) in split_ranges(requirement, ",") {
        let Some((op, version)) = op_and_version(requirement, range, OPS) else {
            continue;
        };
        let role = match requirement.get(op.clone()).unwrap_or_default() {
            "" | "^" | "~" | ">=" => Role::Lower,
            ">" => Role::Greater,
            "=" => Role::Exact,
            "<" => Role::Upper,
            "<=" => Role::UpperInclusive,
            _ => Role::Keep,
        };
        group.push(Clause { role, op, version });
    }
    Parsed {
        groups: vec![(0..requirement.len(), group)],
    }
}

impl VersionScheme for Cargo {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        order_by(a, b, parse, Version::cmp)
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|v| v.pre.is_empty())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        super::semver_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse_req(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        match (parse(version), parse_req(requirement)) {
            (Some(v), Some(r)) => r.matches(&v),
            _ => false,
        }
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        let req = parse_req(requirement)?;
        req.comparators
            .iter()
            .filter_map(comparator_floor)
            .max()
            .map(|v| v.to_string())
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (from, to) = (parse(from)?, parse(to)?);
        // Cargo's compatibility rule: below 1.0.0 the left-most non-zero component is the major.
        (to > from).then(|| {
            caret_kind(
                [from.major, from.minor, from.patch],
                [to.major, to.minor, to.patch],
            )
        })
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        let version = parse(new_version)?;
        parse_req(requirement)?;
        let text = new_version.trim();
        let target = Target {
            release: vec![version.major, version.minor, version.patch],
            text,
            plain: version.pre.is_empty() && version.build.is_empty(),
        };
        let style = BumpStyle {
            partial_exact_is_range: true,
            or_separator: None,
        };
        bump_parsed(
            requirement.trim(),
            &clauses(requirement.trim()),
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

    const S: Cargo = Cargo;

    #[test]
    fn ordering() {
        let ascending = [
            "0.0.1",
            "0.1.0",
            "0.9.9",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
            "10.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("1.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(S.compare("garbage", "0.0.0"), Ordering::Less);
        assert_eq!(S.compare("b", "a"), Ordering::Greater);
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("1.2.3", true, true),
            ("0.0.0", true, true),
            ("1.0.0-rc.1", true, false),
            ("1.0.0-alpha", true, false),
            ("1.0.0+build.5", true, true),
            ("1.2", false, false),
            ("v1.2.3", false, false),
            ("", false, false),
            ("01.2.3", false, false),
            ("1.2.3.4", false, false),
            ("latest", false, false),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
    }

    #[test]
    fn satisfies() {
        let cases = [
            ("1.2.3", "1.2.3", true),
            ("1.9.0", "1.2.3", true),
            ("2.0.0", "1.2.3", false),
            ("1.2.2", "1.2.3", false),
            ("1.4.0", "^1.2", true),
            ("0.2.5", "^0.2.3", true),
            ("0.3.0", "^0.2.3", false),
            ("0.0.4", "^0.0.3", false),
            ("1.2.9", "~1.2.3", true),
            ("1.3.0", "~1.2.3", false),
            ("1.9.0", "~1", true),
            ("1.2.3", "=1.2.3", true),
            ("1.2.4", "=1.2.3", false),
            ("1.2.7", "=1.2", true),
            ("1.5.0", ">=1.1, <2", true),
            ("2.0.0", ">=1.1, <2", false),
            ("1.1.0", ">1.1", false),
            ("1.1.1", ">1.1.0", true),
            ("1.2.9", "1.2.*", true),
            ("1.3.0", "1.2.*", false),
            ("5.0.0", "*", true),
            ("1.0.0-rc.1", "^1.0.0-rc.0", true),
            ("1.0.0-rc.1", "^0.9", false),
            ("1.1.0-rc.1", "^1.0.0-rc.0", false),
            ("1.2.3", "not a req", false),
            ("x", "^1", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
        assert!(S.is_valid_requirement(">=1.1, <2"));
        assert!(!S.is_valid_requirement(""));
        assert!(!S.is_valid_requirement("latest"));
    }

    #[test]
    fn lower_bound() {
        let cases = [
            ("^1.2", Some("1.2.0")),
            ("1.2.3", Some("1.2.3")),
            ("~0.3", Some("0.3.0")),
            ("=2.0.1", Some("2.0.1")),
            (">=1.1, <2", Some("1.1.0")),
            (">1.2.3", Some("1.2.4")),
            (">1.2", Some("1.3.0")),
            (">1", Some("2.0.0")),
            ("1.*", Some("1.0.0")),
            ("^1.0.0-rc.1", Some("1.0.0-rc.1")),
            ("<2", None),
            ("*", None),
            ("garbage", None),
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
            // Cargo book, "Default requirements" (SemVer compatibility): `^0.1.0` stops below
            // 0.2.0 and `^0.0.1` below 0.0.2, so those moves are breaking, i.e. major.
            ("0.1.0", "0.2.0", Some(Major)),
            ("0.0.1", "0.0.2", Some(Major)),
            ("0.10.1", "0.13.0", Some(Major)),
            ("0.7.3", "0.10.0", Some(Major)),
            ("0.9.2", "1.0.0", Some(Major)),
            ("0.2.1", "0.2.9", Some(Patch)),
            ("0.13.0-rc.1", "0.13.0", Some(Patch)),
            ("1.0.0-rc.1", "1.0.0", Some(Patch)),
            ("1.2.3", "1.2.3", None),
            ("2.0.0", "1.0.0", None),
            ("x", "1.0.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("^1.2", "1.4.3", Some("^1.4")),
            ("1.0.100", "1.0.229", Some("1.0.229")),
            ("1.2", "2.1.0", Some("2.1")),
            ("1", "2.5.0", Some("2")),
            ("~1.2.3", "1.4.0", Some("~1.4.0")),
            ("=1.2.3", "1.4.0", Some("=1.4.0")),
            ("=1.2", "1.4.5", Some("=1.4")),
            (">=1.1, <2", "3.1.0", Some(">=3.1, <4")),
            (">=1.1,<2", "3.1.0", Some(">=3.1,<4")),
            (">=0.2.0, <0.3.0", "0.5.1", Some(">=0.5.1, <0.6.0")),
            (">1.0", "2.3.0", Some(">=2.3")),
            ("<2", "3.1.0", Some("<4")),
            ("<=1.5", "2.3.0", Some("<=2.3")),
            // Comma-separated comparators must all match (Cargo book, "Multiple version
            // requirements"): an upper bound that already admits the target stays as written.
            (">=1.0.0, <=2.0.0", "1.5.0", Some(">=1.5.0, <=2.0.0")),
            (">=0.1.21, <=0.2.0", "0.1.24", Some(">=0.1.24, <=0.2.0")),
            (">=1.0, <3", "1.5.0", Some(">=1.5, <3")),
            ("<=1.5", "1.2.0", Some("<=1.5")),
            ("1.*", "2.3.0", Some("2.*")),
            ("1.2.*", "1.4.0", Some("1.4.*")),
            ("^0.2", "0.3.1", Some("^0.3")),
            ("^1.2", "2.0.0-rc.1", Some("^2.0.0-rc.1")),
            ("*", "9.9.9", Some("*")),
            (" ^1.2 ", "1.4.0", Some("^1.4")),
            ("^1.2", "not-a-version", None),
            ("latest", "1.0.0", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }
}
