//! Go module versions (own code on top of the `semver` crate's parser): `v`-prefixed semantic
//! versions, `+incompatible` for pre-module major versions, and pseudo-versions
//! (`v0.0.0-20191109021931-daa7c04131f5`, `v1.2.4-0.2019…-abc…`, `v1.2.4-pre.0.2019…-abc…`),
//! which are prereleases of the next version and so order between the base and that version.
//!
//! A requirement in `go.mod` is the exact minimum version the build selects; any other version
//! needs an edit, so `satisfies` means "is that version" and `bump` writes the new version.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDateTime, Utc};
use semver::Version;

use super::{UpdateKind, VersionScheme, kind_between, order_by};

pub struct Go;

fn parse(version: &str) -> Option<Version> {
    let body = version.trim().strip_prefix('v')?;
    let parsed = Version::parse(body).ok()?;
    match parsed.build.as_str() {
        "" => Some(parsed),
        "incompatible" if parsed.major >= 2 => Some(parsed),
        _ => None,
    }
}

/// Is this a pseudo-version (a commit without a tag)?
pub fn is_pseudo_version(version: &str) -> bool {
    let Some(v) = parse(version) else {
        return false;
    };
    // The prerelease ends in `yyyymmddhhmmss-abcdefabcdef`, optionally after `0.` / `pre.0.`.
    let pre = v.pre.as_str();
    let tail = pre.rsplit('.').next().unwrap_or_default();
    let Some((time, hash)) = tail.split_once('-') else {
        return false;
    };
    let shape = time.len() == 14
        && time.chars().all(|c| c.is_ascii_digit())
        && hash.len() == 12
        && hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    let head_ok = if pre == tail {
        // `vX.0.0-yyyymmddhhmmss-abcdefabcdef`: no earlier tag of this major version.
        v.minor == 0 && v.patch == 0
    } else {
        pre.strip_suffix(tail)
            .is_some_and(|head| head == "0." || head.ends_with(".0."))
    };
    shape && head_ok
}

/// The commit time a pseudo-version carries (`v0.0.0-20191109021931-daa7c04131f5`,
/// `v1.2.4-0.20191109021931-daa7c04131f5`, `v1.2.3-pre.0.20191109021931-daa7c04131f5`): the
/// 14-digit stamp before a 12-digit hex revision at the end of the prerelease.
pub fn pseudo_version_time(version: &str) -> Option<DateTime<Utc>> {
    let parsed = parse(version)?;
    let (before, revision) = parsed.pre.as_str().rsplit_once('-')?;
    if revision.len() != 12 || !revision.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let stamp = before.rsplit('.').next()?;
    if stamp.len() != 14 {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

impl VersionScheme for Go {
    fn is_valid(&self, version: &str) -> bool {
        parse(version).is_some()
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        order_by(a, b, parse, Version::cmp_precedence)
    }

    fn is_stable(&self, version: &str) -> bool {
        parse(version).is_some_and(|v| v.pre.is_empty())
    }

    fn is_prerelease(&self, version: &str) -> bool {
        // Every pseudo-version is a prerelease; `+incompatible` is build metadata and does not
        // make a release one.
        !self.is_stable(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        match (parse(version), parse(requirement)) {
            (Some(v), Some(r)) => v.cmp_precedence(&r).is_eq(),
            _ => false,
        }
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        parse(requirement).map(|_| requirement.trim().to_owned())
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        let (from, to) = (parse(from)?, parse(to)?);
        to.cmp_precedence(&from).is_gt().then(|| {
            kind_between(
                &[from.major, from.minor, from.patch],
                &[to.major, to.minor, to.patch],
            )
        })
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        parse(requirement)?;
        parse(new_version).map(|_| new_version.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::UpdateKind::{Major, Minor, Patch};
    use super::*;

    const S: Go = Go;

    #[test]
    fn ordering() {
        let ascending = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-abcdefabcdef",
            "v0.0.1",
            "v0.1.0",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4-0.20210101000000-0123456789ab",
            "v1.2.4-pre",
            "v1.2.4-pre.0.20191109021931-daa7c04131f5",
            "v1.2.4-pre.1",
            "v1.2.4",
            "v1.2.5-0.20230101000000-aaaaaaaaaaaa",
            "v1.2.5",
            "v1.10.0",
            "v2.0.0+incompatible",
            "v2.1.0+incompatible",
            "v3.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(S.compare("v1.2.3", "v1.2.3"), Ordering::Equal);
        assert_eq!(S.compare("1.2.3", "v0.0.1"), Ordering::Less);
    }

    #[test]
    fn validity_stability_pseudo() {
        let cases = [
            ("v1.2.3", true, true, false),
            ("v0.0.0", true, true, false),
            ("v2.0.0+incompatible", true, true, false),
            ("v1.0.0-rc.1", true, false, false),
            ("v0.0.0-20191109021931-daa7c04131f5", true, false, true),
            ("v1.2.4-0.20191109021931-daa7c04131f5", true, false, true),
            (
                "v1.2.4-pre.0.20191109021931-daa7c04131f5",
                true,
                false,
                true,
            ),
            ("v1.5.0-20191109021931-daa7c04131f5", true, false, false),
            ("v1.2.4-0.2019-daa7c04131f5", true, false, false),
            ("v1.0.0+incompatible", false, false, false),
            ("v1.0.0+build", false, false, false),
            ("1.2.3", false, false, false),
            ("v1.2", false, false, false),
            ("latest", false, false, false),
            ("", false, false, false),
        ];
        for (v, valid, stable, pseudo) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
            assert_eq!(is_pseudo_version(v), pseudo, "{v}");
        }
    }

    #[test]
    fn requirements() {
        let satisfies = [
            ("v1.2.3", "v1.2.3", true),
            ("v1.2.4", "v1.2.3", false),
            ("v1.2.2", "v1.2.3", false),
            ("v2.0.0+incompatible", "v2.0.0+incompatible", true),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20191109021931-daa7c04131f5",
                true,
            ),
            ("v1.2.3", "garbage", false),
            ("v1.2.3-rc.1", "v1.2.3", false),
            ("v1.2.3", "v1.2.3-rc.1", false),
            (" v1.2.3 ", "v1.2.3", true),
        ];
        for (v, r, expected) in satisfies {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
        assert!(S.is_valid_requirement("v1.2.3"));
        assert!(!S.is_valid_requirement(">=v1.2.3"));
        let lower = [
            ("v1.2.3", Some("v1.2.3")),
            (
                " v0.0.0-20191109021931-daa7c04131f5 ",
                Some("v0.0.0-20191109021931-daa7c04131f5"),
            ),
            ("1.2.3", None),
        ];
        for (r, expected) in lower {
            assert_eq!(S.lower_bound(r).as_deref(), expected, "{r}");
        }
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("v1.2.3", "v2.0.0+incompatible", Some(Major)),
            ("v1.2.3", "v1.3.0", Some(Minor)),
            ("v1.2.3", "v1.2.4", Some(Patch)),
            ("v0.0.0-20191109021931-daa7c04131f5", "v0.1.0", Some(Minor)),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-abcdefabcdef",
                Some(Patch),
            ),
            (
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
                Some(Patch),
            ),
            ("v1.2.3", "v1.2.3", None),
            ("v1.2.3", "v1.2.2", None),
            ("v1.2.3", "junk", None),
            (
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                Some(Patch),
            ),
            ("v0.9.0", "v1.0.0-rc.1", Some(Major)),
            ("v1.0.0-rc.1", "v1.0.0-rc.2", Some(Patch)),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("v1.2.3", "v1.4.0", Some("v1.4.0")),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.1.0",
                Some("v0.1.0"),
            ),
            ("v1.2.3", "v2.0.0+incompatible", Some("v2.0.0+incompatible")),
            ("v1.2.3", "1.4.0", None),
            (
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
                Some("v1.2.4"),
            ),
            ("v1.2.3", "v1.3.0-rc.1", Some("v1.3.0-rc.1")),
            (" v1.2.3 ", " v1.2.4 ", Some("v1.2.4")),
            ("garbage", "v1.4.0", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }

    /// The module proxy adapter's ordering and prerelease rules, decided here.
    #[test]
    fn module_proxy_versions() {
        assert!(S.compare("v1.10.0", "v1.9.0").is_gt());
        assert!(S.compare("v1.0.0", "v1.0.0-rc.1").is_gt());
        assert!(S.compare("v1.0.0-rc.10", "v1.0.0-rc.9").is_gt());
        assert!(S.compare("v1.0.0-alpha", "v1.0.0-1").is_gt());
        assert!(!S.is_prerelease("v2.0.0+incompatible"));
        assert!(S.is_prerelease("v0.0.0-20191109021931-daa7c04131f5"));
        assert!(S.is_prerelease("v1.0.0-beta"));
        assert!(!S.is_valid("1.0.0"));
        assert!(!S.is_valid("v1.0"));
        assert_eq!(
            pseudo_version_time("v0.0.0-20191109021931-daa7c04131f5").map(|t| t.to_rfc3339()),
            Some("2019-11-09T02:19:31+00:00".to_owned())
        );
        assert!(pseudo_version_time("v1.2.4-0.20191109021931-daa7c04131f5").is_some());
        assert!(pseudo_version_time("v1.2.3-pre.0.20191109021931-daa7c04131f5").is_some());
        assert!(pseudo_version_time("v1.0.0-rc.1").is_none());
    }
}
