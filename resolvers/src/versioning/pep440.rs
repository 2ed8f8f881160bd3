//! PEP 440 versions and specifiers (all operators incl. `~=` and `===`, epochs, pre/post/dev,
//! local versions), built on `pep440_rs` (the parser behind uv). Poetry's constraint syntax
//! (`^1.2`, `~1.2`, bare pins, `*`, `||`) is understood too, because Poetry manifests are read
//! with this scheme.
//!
//! Matching follows the PyPA `packaging` rules: a prerelease or dev version only satisfies a
//! requirement one of whose clauses names a prerelease itself.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifier};

use super::{
    BumpStyle, Clause, Parsed, Role, Target, UpdateKind, VersionScheme, bump_parsed, kind_between,
    op_and_version, order_by, split_ranges,
};

pub struct Pep440;

const OPS: &[&str] = &["===", "~=", "==", "!=", "<=", ">=", "<", ">", "^", "~", "="];

fn parse(version: &str) -> Option<Version> {
    Version::from_str(version.trim()).ok()
}

/// One clause of a requirement, ready to match.
enum Spec {
    Pep(VersionSpecifier),
    /// `===text`: string equality.
    Arbitrary(String),
    /// `*`
    Any,
}

/// Poetry `^`/`~`: `>=v,<upper` where `upper` bumps the component at `index`.
fn poetry_range(version: &str, caret: bool) -> Option<Vec<Spec>> {
    let v = parse(version)?;
    let release = v.release();
    let index = if caret {
        release
            .iter()
            .position(|n| *n != 0)
            .unwrap_or(release.len().saturating_sub(1))
    } else {
        usize::from(release.len() >= 2)
    };
    let mut upper: Vec<u64> = release.iter().take(index).copied().collect();
    upper.push(release.get(index)?.checked_add(1)?);
    let upper = Version::new(upper).with_epoch(v.epoch());
    Some(vec![
        Spec::Pep(VersionSpecifier::greater_than_equal_version(v)),
        Spec::Pep(VersionSpecifier::less_than_version(upper)),
    ])
}

/// The alternatives (`||` in Poetry; plain PEP 440 has one) of a requirement.
fn alternatives(requirement: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    split_ranges(requirement, "|").filter(|(_, piece)| !piece.trim().is_empty())
}

fn group_specs(group: &str) -> Option<Vec<Spec>> {
    let mut specs = Vec::new();
    for (range, _) in split_ranges(group, ",") {
        let (op, version) = op_and_version(group, range, OPS)?;
        let op = group.get(op)?;
        let version = group.get(version)?;
        match op {
            "===" => specs.push(Spec::Arbitrary(version.to_owned())),
            "^" => specs.extend(poetry_range(version, true)?),
            "~" => specs.extend(poetry_range(version, false)?),
            "" | "=" if version == "*" => specs.push(Spec::Any),
            "" | "=" => specs.push(Spec::Pep(
                VersionSpecifier::from_str(&format!("=={version}")).ok()?,
            )),
            _ => specs.push(Spec::Pep(
                VersionSpecifier::from_str(&format!("{op}{version}")).ok()?,
            )),
        }
    }
    (!specs.is_empty()).then_some(specs)
}

fn parse_req(requirement: &str) -> Option<Vec<Vec<Spec>>> {
    let groups: Option<Vec<_>> = alternatives(requirement.trim())
        .map(|(_, g)| group_specs(g))
        .collect();
    groups.filter(|g| !g.is_empty())
}

fn group_matches(version: &str, specs: &[Spec]) -> bool {
    let arbitrary = |text: &str| text.trim().eq_ignore_ascii_case(version.trim());
    if specs
        .iter()
        .any(|s| matches!(s, Spec::Arbitrary(t) if !arbitrary(t)))
    {
        return false;
    }
    if specs.iter().any(|s| matches!(s, Spec::Arbitrary(_))) && parse(version).is_none() {
        return true;
    }
    let Some(v) = parse(version) else {
        return false;
    };
    let names_prerelease = specs.iter().any(|s| {
        matches!(s, Spec::Pep(p) if p.version().any_prerelease()) || matches!(s, Spec::Arbitrary(_))
    });
    if v.any_prerelease() && !names_prerelease {
        return false;
    }
    specs.iter().all(|s| match s {
        Spec::Pep(p) => contains(p, &v),
        Spec::Arbitrary(_) | Spec::Any => true,
    })
}

/// Does the specifier admit `v`? PEP 440, "Exclusive ordered comparison": `<V` must not allow a
/// pre-release of the specified version *unless the specified version is itself a
/// pre-release*. `pep440_rs` (0.7.3, the newest) excludes pre-releases of V's release even then,
/// so `3.0.0a7` failed `<3.0.0a8`; with a pre-release V the comparison is the plain order.
fn contains(spec: &VersionSpecifier, v: &Version) -> bool {
    match spec.operator() {
        Operator::LessThan if spec.version().any_prerelease() => v < spec.version(),
        _ => spec.contains(v),
    }
}

fn group_floor(specs: &[Spec]) -> Option<Version> {
    specs
        .iter()
        .filter_map(|s| match s {
            Spec::Pep(p) => match p.operator() {
                Operator::Equal
                | Operator::EqualStar
                | Operator::ExactEqual
                | Operator::TildeEqual
                | Operator::GreaterThanEqual => Some(p.version().clone()),
                _ => None,
            },
            Spec::Arbitrary(text) => parse(text),
            Spec::Any => None,
        })
        .max()
}

fn role_of(op: &str) -> Role {
    match op {
        "~=" | ">=" | "^" | "~" => Role::Lower,
        ">" => Role::Greater,
        "" | "=" | "==" => Role::Exact,
        "===" => Role::Verbatim,
        "<" => Role::Upper,
        "<=" => Role::UpperInclusive,
        _ => Role::Keep,
    }
}

fn clauses(requirement: &str) -> Parsed {
    let groups = alternatives(requirement)
        .map(|(group, _)| {
            let clauses = split_ranges(requirement.get(group.clone()).unwrap_or_default(), ",")
                .filter_map(|(range, _)| {
                    let range = group.start + range.start..group.start + range.end;
                    let (op, version) = op_and_version(requirement, range, OPS)?;
                    let role = role_of(requirement.get(op.clone())?);
                    Some(Clause { role, op, version })
                })
                .collect();
            (group, clauses)
        })
        .collect();
    Parsed { groups }
}

/// Whether a PEP 440 version is a pre- or development release (`a`, `b`, `rc`, `dev`, and their
/// spelled-out forms); post releases and local versions are not.
fn marked_prerelease(version: &str) -> bool {
    let version = version.trim().to_ascii_lowercase();
    let public = version.split('+').next().unwrap_or_default();
    let public = public.split_once('!').map_or(public, |(_, rest)| rest);
    let public = public.strip_prefix('v').unwrap_or(public);
    public
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|word| {
            matches!(
                word,
                "a" | "b" | "c" | "rc" | "alpha" | "beta" | "pre" | "preview" | "dev"
            )
        })
}

impl VersionScheme for Pep440 {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        order_by(a, b, parse, Version::cmp)
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|v| v.is_stable())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        marked_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse_req(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        parse_req(requirement)
            .is_some_and(|groups| groups.iter().any(|g| group_matches(version, g)))
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        let floors: Option<Vec<Version>> = parse_req(requirement)?
            .iter()
            .map(|g| group_floor(g))
            .collect();
        floors?.into_iter().min().map(|v| v.to_string())
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (from, to) = (parse(from)?, parse(to)?);
        if to <= from {
            return None;
        }
        if from.epoch() != to.epoch() {
            return Some(UpdateKind::Major);
        }
        Some(kind_between(from.release(), to.release()))
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        let version = parse(new_version)?;
        let requirement = requirement.trim();
        parse_req(requirement)?;
        let text = new_version.trim();
        let target = Target {
            release: version.release().to_vec(),
            text,
            plain: version.is_stable()
                && version.epoch() == 0
                && !version.is_local()
                && !version.is_post(),
        };
        let style = BumpStyle {
            partial_exact_is_range: false,
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

    const S: Pep440 = Pep440;

    #[test]
    fn ordering() {
        let ascending = [
            "0.9",
            "1.0.dev0",
            "1.0a1.dev0",
            "1.0a1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local.1",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.0.post2",
            "1.0.1",
            "1.1",
            "1.10",
            "2.0",
            "1!0.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(S.compare("1.0alpha1", "1.0a1"), Ordering::Equal);
        assert_eq!(S.compare("not a version", "0"), Ordering::Less);
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("1.0", true, true),
            ("2024.1.15", true, true),
            ("1.0.post1", true, true),
            ("1.0+ubuntu.1", true, true),
            ("1!2.0", true, true),
            ("v1.0", true, true),
            ("1.0a1", true, false),
            ("1.0rc2", true, false),
            ("1.0.dev3", true, false),
            ("1.0.post1.dev0", true, false),
            ("latest", false, false),
            ("", false, false),
            ("1.0-foo-bar", false, false),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
    }

    #[test]
    fn satisfies() {
        let cases = [
            ("1.5", ">=1.1,<2", true),
            ("2.0", ">=1.1,<2", false),
            ("2.0a1", ">=1.1,<2", false),
            ("3.9.1", "~=3.2", true),
            ("4.0", "~=3.2", false),
            ("1.4.9", "~=1.4.5", true),
            ("1.5.0", "~=1.4.5", false),
            ("1.2.3", "==1.2.3", true),
            // PEP 440 "Exclusive ordered comparison": `<V` excludes pre-releases of V unless V
            // is itself a pre-release; then it is the plain order.
            ("3.0.0a7", "<3.0.0a8", true),
            ("3.0.0a8", "<3.0.0a8", false),
            ("3.0.0a9", "<3.0.0a8", false),
            ("3.0.0.dev1", "<3.0.0a8", true),
            ("3.0.0b1", "<3.0.0rc1", true),
            ("2.9", "<3.0.0a8", true),
            ("3.0.0", "<3.0.0a8", false),
            ("3.0.0a7", "<3.0.0", false),
            ("3.0.0a7", ">=3.0.0a1,<3.0.0", false),
            ("2.9.0rc1", ">=2.9.0rc1,<3.0.0", true),
            ("3.0.0rc1", ">=2.0,<3.0.0rc2", true),
            ("3.1.dev0", "<3.1", false),
            ("1.2.3+local", "==1.2.3", true),
            ("1.2.4", "==1.2.3", false),
            ("1.2.9", "==1.2.*", true),
            ("1.3", "==1.2.*", false),
            ("1.5", "!=1.5", false),
            ("1.6", ">=1.0,!=1.5", true),
            ("1.0", "===1.0", true),
            ("1.0.0", "===1.0", false),
            ("foobar", "===foobar", true),
            ("1.1", ">1.0", true),
            ("1.0.post1", ">1.0", false),
            ("1.0", "<=1.0", true),
            ("2.0b1", ">=2.0b1", true),
            ("2.0b2", ">=1.0", false),
            ("1.0", "> 0.9 , < 2", true),
            // Poetry constraints.
            ("1.9", "^1.2", true),
            ("2.0", "^1.2", false),
            ("0.2.5", "^0.2.3", true),
            ("0.3.0", "^0.2.3", false),
            ("1.2.9", "~1.2.3", true),
            ("1.3.0", "~1.2.3", false),
            ("1.2.3", "1.2.3", true),
            ("7.0", "*", true),
            ("2.5", "^1.0 || ^2.0", true),
            ("3.0", "^1.0 || ^2.0", false),
            ("1.0", "latest", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
        assert!(S.is_valid_requirement("~=3.2"));
        assert!(!S.is_valid_requirement("~=3"));
        assert!(!S.is_valid_requirement(""));
    }

    #[test]
    fn lower_bound() {
        let cases = [
            (">=1.1,<2", Some("1.1")),
            ("~=3.2", Some("3.2")),
            ("==1.2.3", Some("1.2.3")),
            ("==1.2.*", Some("1.2")),
            ("===1.0", Some("1.0")),
            ("^1.2", Some("1.2")),
            ("1.4.0", Some("1.4.0")),
            (">=1.0,>=1.5", Some("1.5")),
            ("^2.0 || ^1.5", Some("1.5")),
            ("<2", None),
            (">1.0", None),
            ("*", None),
            ("nonsense", None),
        ];
        for (r, expected) in cases {
            assert_eq!(S.lower_bound(r).as_deref(), expected, "{r}");
        }
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("1.0", "2.0", Some(Major)),
            ("1.0", "1.1", Some(Minor)),
            ("1.0", "1.0.1", Some(Patch)),
            ("1.0.0", "1.0.0.1", Some(Patch)),
            ("1.0", "1.0.post1", Some(Patch)),
            ("1.0rc1", "1.0", Some(Patch)),
            ("2024.1", "2025.1", Some(Major)),
            ("1.0", "1!0.5", Some(Major)),
            ("1.0", "1.0", None),
            ("2.0", "1.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("~=3.2", "6.1.4", Some("~=6.1")),
            ("~=1.4.5", "1.6.0", Some("~=1.6.0")),
            (">=1.1,<2", "3.1.0", Some(">=3.1,<4")),
            (">=1.1, <2", "3.1", Some(">=3.1, <4")),
            ("==1.2.3", "1.4.0", Some("==1.4.0")),
            ("==1.2", "1.4.1", Some("==1.4.1")),
            ("==1.2.*", "1.4.0", Some("==1.4.*")),
            ("===1.0", "2.0", Some("===2.0")),
            (">=1.0,!=1.5", "2.0", Some(">=2.0,!=1.5")),
            (">=1.0,!=2.0", "2.0", None),
            ("<=1.9", "2.3", Some("<=2.3")),
            ("<=1.9", "2.3.1", Some("<=2.3.1")),
            // PEP 440 "Inclusive ordered comparison": `<=1.3.0` already admits 0.9.2, and a
            // comma-separated specifier set is the intersection of its clauses, so the upper
            // clause stays as written.
            ("<=1.3.0", "0.9.2", Some("<=1.3.0")),
            (">=1.0,<=2.0", "1.5", Some(">=1.5,<=2.0")),
            (">=1.0,<3", "1.5", Some(">=1.5,<3")),
            (">1.0", "2.0", Some(">=2.0")),
            (">=1.0", "2.0rc1", Some(">=2.0rc1")),
            ("^1.2", "2.4.1", Some("^2.4")),
            ("~1.2.3", "1.4.0", Some("~1.4.0")),
            ("1.2.3", "1.4.0", Some("1.4.0")),
            ("^1.0 || ^2.0", "3.1.0", Some("^1.0 || ^2.0 || ^3.1")),
            ("*", "3.0", Some("*")),
            ("nonsense", "1.0", None),
            (">=1.0", "not a version", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }

    #[test]
    fn prereleases_per_pep_440() {
        for pre in [
            "1.0a1",
            "1.0.0b2",
            "2.0rc1",
            "1.0.dev3",
            "1.0-alpha.1",
            "1!2.0c1",
            "3.0.0.preview1",
        ] {
            assert!(S.is_prerelease(pre), "{pre}");
        }
        for stable in [
            "1.0",
            "1.0.post1",
            "1.0-1",
            "1.0+local.a",
            "2024.1.1",
            "v1.2.3",
        ] {
            assert!(!S.is_prerelease(stable), "{stable}");
        }
    }
}
