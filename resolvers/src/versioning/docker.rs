//! Docker image tags (own code): a dotted numeric release (`3.12`, `1.25.3`, optional leading
//! `v`), an optional prerelease glued to it (`3.13.0rc1`) and an optional suffix after a hyphen
//! that names the variant (`-slim`, `-alpine3.19`, `-jdk-jammy`). Releases compare numerically;
//! a tag only moves to tags of the same shape: same number of release parts and same suffix
//! (`3.12-slim` → `3.13-slim`, never `3.13` or `3.13.1-slim`). `latest` and other non-numeric
//! tags are not versions.
//!
//! A tag in a manifest is a pin: `satisfies` means "is that tag" and `bump` writes the new tag.

use std::cmp::Ordering;

use super::{
    UpdateKind, VersionScheme, cmp_release, kind_between, natural, order_by, parse_written,
};

pub struct Docker;

/// Words that make a suffix's first segment a prerelease marker (`-rc1-slim`, `-beta`).
const PRERELEASE_WORDS: [&str; 10] = [
    "alpha", "beta", "rc", "pre", "preview", "dev", "nightly", "canary", "snapshot", "ea",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag<'a> {
    v: bool,
    nums: Vec<u64>,
    pre: &'a str,
    suffix: &'a str,
}

fn parse(tag: &str) -> Option<Tag<'_>> {
    let tag = tag.trim();
    if tag.is_empty()
        || tag.len() > 128
        || tag.contains(|c: char| c.is_whitespace() || c == '@' || c == ':')
    {
        return None;
    }
    let written = parse_written(tag)?;
    if written.nums.is_empty() || !written.wild.is_empty() || matches!(written.v, Some('V')) {
        return None;
    }
    let rest = written.rest;
    let pre_len = if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric())
                .len()
    } else {
        0
    };
    let pre = rest.get(..pre_len)?;
    let after = rest.get(pre_len..)?;
    let suffix = match after.strip_prefix('-') {
        Some(s) if !s.is_empty() => s,
        None if after.is_empty() => "",
        _ => return None,
    };
    Some(Tag {
        v: written.v.is_some(),
        nums: written.nums,
        pre,
        suffix,
    })
}

fn cmp_tags(a: &Tag<'_>, b: &Tag<'_>) -> Ordering {
    cmp_release(&a.nums, &b.nums)
        .then_with(|| a.nums.len().cmp(&b.nums.len()))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => natural(a.pre, b.pre),
        })
        .then_with(|| natural(a.suffix, b.suffix))
}

fn suffix_is_prerelease(suffix: &str) -> bool {
    let first = suffix
        .split(['-', '.'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let word = first.trim_end_matches(|c: char| c.is_ascii_digit());
    PRERELEASE_WORDS.contains(&word)
}

/// A tag is a release when it starts with a number (`18`, `v1.2.3`, `3.12-slim`,
/// `18.19.0-alpine3.19`) and carries no prerelease marker (`rc`, `alpha`, `beta`, `a1`/`b1`
/// right after the number, `pre`, `preview`, `dev`, `snapshot`, `nightly`, `canary`, `edge`,
/// `next`). Everything else — `latest`, `lts`, `bookworm`, `sha256-…` — counts as a prerelease so
/// that no floating or non-version tag is ever recommended as a release.
fn marked_prerelease(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    let body = lower.strip_prefix('v').unwrap_or(&lower);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    let numeric_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let suffix = body.get(numeric_end..).unwrap_or_default();
    // Python-style `3.13.0a1`, `3.13.0b2`, `3.13.0rc1` directly after the number.
    let mut joined = suffix.chars();
    let lead: String = joined
        .by_ref()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    if matches!(lead.as_str(), "a" | "b" | "rc") && suffix.len() > lead.len() {
        let after = suffix.get(lead.len()..).unwrap_or_default();
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            return true;
        }
    }
    suffix
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| !word.is_empty())
        .any(|word| {
            matches!(
                word,
                "rc" | "alpha"
                    | "beta"
                    | "pre"
                    | "preview"
                    | "dev"
                    | "snapshot"
                    | "nightly"
                    | "canary"
                    | "edge"
                    | "next"
                    | "insiders"
            )
        })
}

impl VersionScheme for Docker {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        match (parse(a), parse(b)) {
            (Some(x), Some(y)) => cmp_tags(&x, &y),
            _ => order_by(a, b, |s| parse(s).map(|_| ()), |(), ()| Ordering::Equal),
        }
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|t| t.pre.is_empty() && !suffix_is_prerelease(t.suffix))
    }

    fn is_prerelease(&self, version: &str) -> bool {
        marked_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        match (parse(version), parse(requirement)) {
            (Some(v), Some(r)) => v == r,
            _ => false,
        }
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        parse(requirement).map(|_| requirement.trim().to_owned())
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (from, to) = (parse(from)?, parse(to)?);
        cmp_tags(&to, &from)
            .is_gt()
            .then(|| kind_between(&from.nums, &to.nums))
    }

    fn is_compatible(&self, current: &str, candidate: &str) -> bool {
        match (parse(current), parse(candidate)) {
            (Some(c), Some(n)) => {
                c.v == n.v && c.nums.len() == n.nums.len() && c.suffix == n.suffix
            }
            _ => false,
        }
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        self.is_compatible(requirement, new_version)
            .then(|| new_version.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::UpdateKind::{Major, Minor, Patch};
    use super::*;

    const S: Docker = Docker;

    #[test]
    fn ordering() {
        let ascending = [
            "1",
            "1.0.0",
            "2",
            "3.9",
            "3.12",
            "3.12-alpine",
            "3.12-slim",
            "3.12.0",
            "3.13.0rc1",
            "3.13.0rc2",
            "3.13.0",
            "3.13.0-alpine3.19",
            "3.13.0-alpine3.20",
            "18.04",
            "20",
            "20.10",
            "22.04",
            "20240101",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("3.12-slim", "3.12-slim"), Ordering::Equal);
        assert_eq!(S.compare("latest", "1"), Ordering::Less);
        assert_eq!(S.compare("alpine", "latest"), Ordering::Less);
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("3.12", true, true),
            ("3.12-slim", true, true),
            ("3.12.1-slim-bookworm", true, true),
            ("20-alpine3.19", true, true),
            ("v2.10.4", true, true),
            ("17-jdk-jammy", true, true),
            ("3.13.0rc1", true, false),
            ("3.13.0b2-slim", true, false),
            ("1.26-rc-alpine", true, false),
            ("8.0-beta2", true, false),
            ("latest", false, false),
            ("alpine", false, false),
            ("stable-slim", false, false),
            ("", false, false),
            ("3.12-", false, false),
            ("3.12_slim", false, false),
            ("1.0@sha256:abc", false, false),
            ("V1.0", false, false),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
    }

    #[test]
    fn compatibility() {
        let cases = [
            ("3.12-slim", "3.13-slim", true),
            ("3.12-slim", "3.13", false),
            ("3.12-slim", "3.13.1-slim", false),
            ("3.12-slim", "3.13-alpine", false),
            ("3.12", "3.13", true),
            ("3.12", "3.13.0", false),
            ("20-alpine3.19", "22-alpine3.19", true),
            ("20-alpine3.19", "22-alpine3.20", false),
            ("v2.10", "v2.11", true),
            ("v2.10", "2.11", false),
            ("latest", "3.13", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.is_compatible(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn requirements() {
        let cases = [
            ("3.12-slim", "3.12-slim", true),
            ("3.12", "3.12-slim", false),
            ("3.12.0", "3.12", false),
            ("3.13", "3.12", false),
            ("latest", "latest", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
        assert_eq!(S.lower_bound("3.12-slim").as_deref(), Some("3.12-slim"));
        assert_eq!(S.lower_bound("latest"), None);
        assert!(S.is_valid_requirement("20-alpine"));
        assert!(!S.is_valid_requirement("latest"));
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("3.12-slim", "3.13-slim", Some(Minor)),
            ("18", "20", Some(Major)),
            ("1.25.3", "1.25.4", Some(Patch)),
            ("3.13.0rc1", "3.13.0", Some(Patch)),
            ("3.12", "3.12", None),
            ("3.13", "3.12", None),
            ("latest", "3.12", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("3.12-slim", "3.13-slim", Some("3.13-slim")),
            ("3.12-slim", "3.13", None),
            ("18", "20", Some("20")),
            ("1.25.3-alpine", "1.27.0-alpine", Some("1.27.0-alpine")),
            ("latest", "3.13", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }

    #[test]
    fn prerelease_tags() {
        for release in [
            "18",
            "v1.2.3",
            "3.12-slim",
            "18.19.0-alpine3.19",
            "1.25.3-bookworm",
        ] {
            assert!(!S.is_prerelease(release), "{release}");
        }
        for pre in [
            "latest",
            "lts",
            "bookworm",
            "sha256-abc.sig",
            "3.13.0a1",
            "3.13.0rc1-slim",
            "1.2.0-rc.1",
            "2.0-beta",
            "8.0.0-preview.3",
            "1.27-alpine-edge",
        ] {
            assert!(S.is_prerelease(pre), "{pre}");
        }
    }
}
