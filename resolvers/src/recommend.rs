//! The recommendation for one dependency: from its requirement, its locked version and the
//! registry's releases, what it is on now, what the newest usable release is, what a policy
//! allows it to move to, and the requirement that admits that version.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::Ecosystem;
use crate::registry::Release;
use crate::versioning::{UpdateKind, VersionScheme};

/// What updates a repository accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Recommend major updates (default `true`).
    pub allow_major: bool,
    /// Recommend prereleases even when the current version is a release (default `false`).
    pub allow_prerelease: bool,
    /// Only recommend releases published at least this many days ago (default 0). Releases
    /// whose registry gives no publish time are not held back.
    pub cooldown_days: u32,
    /// Requirements in the ecosystem's scheme (or exact versions) never recommended.
    pub ignore_versions: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_major: true,
            allow_prerelease: false,
            cooldown_days: 0,
            ignore_versions: Vec::new(),
        }
    }
}

/// The outcome for one dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The locked version when known, else the lowest version the requirement allows.
    pub current: Option<String>,
    /// The newest non-yanked release compatible with `current`; stable unless `current` is
    /// itself a prerelease.
    pub latest: Option<String>,
    /// When `latest` was published, if the registry says.
    pub latest_published_at: Option<DateTime<Utc>>,
    /// The newest release newer than `current` that the policy allows; `None` when nothing
    /// newer is allowed.
    pub recommended: Option<String>,
    /// The kind of the change `current` → `latest`; `None` when already current.
    pub update: Option<UpdateKind>,
    /// The requirement admitting `recommended`: the bumped requirement when `recommended` is
    /// outside it, else the requirement unchanged; `None` when there is no requirement or it
    /// cannot be rewritten.
    pub new_requirement: Option<String>,
}

fn is_prerelease(scheme: &dyn VersionScheme, release: &Release) -> bool {
    release.prerelease || !scheme.is_stable(&release.version)
}

fn newest<'r>(
    scheme: &dyn VersionScheme,
    releases: impl Iterator<Item = &'r Release>,
) -> Option<&'r Release> {
    releases.max_by(|a, b| scheme.compare(&a.version, &b.version))
}

/// Evaluate one dependency against its releases under `policy`, as of `now`.
pub fn evaluate(
    ecosystem: Ecosystem,
    requirement: Option<&str>,
    locked: Option<&str>,
    releases: &[Release],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Evaluation {
    let scheme = ecosystem.versioning().scheme();
    let written = requirement.filter(|r| !r.trim().is_empty());
    let current = locked
        .map(str::trim)
        .filter(|l| scheme.is_valid(l))
        .map(str::to_owned)
        .or_else(|| written.and_then(|r| scheme.lower_bound(r.trim())));
    let reference = current.as_deref();
    let current_is_prerelease = reference.is_some_and(|c| !scheme.is_stable(c));

    let usable = |r: &&Release| {
        !r.yanked
            && scheme.is_valid(&r.version)
            && reference.is_none_or(|c| scheme.is_compatible(c, &r.version))
    };

    let latest = newest(
        scheme,
        releases
            .iter()
            .filter(usable)
            .filter(|r| current_is_prerelease || !is_prerelease(scheme, r)),
    );

    let allow_prerelease = current_is_prerelease || policy.allow_prerelease;
    let cooldown = Duration::days(i64::from(policy.cooldown_days));
    let ignored = |version: &str| {
        policy
            .ignore_versions
            .iter()
            .any(|ignore| ignore.trim() == version || scheme.satisfies(version, ignore))
    };
    let recommended = newest(
        scheme,
        releases
            .iter()
            .filter(usable)
            .filter(|r| allow_prerelease || !is_prerelease(scheme, r))
            .filter(|r| {
                let kind = reference.map(|c| scheme.update_kind(c, &r.version));
                match kind {
                    None => true,
                    Some(None) => false,
                    Some(Some(kind)) => policy.allow_major || kind != UpdateKind::Major,
                }
            })
            .filter(|r| {
                policy.cooldown_days == 0 || r.published_at.is_none_or(|t| now - t >= cooldown)
            })
            .filter(|r| !ignored(&r.version)),
    );

    let update = match (reference, latest) {
        (Some(c), Some(l)) => scheme.update_kind(c, &l.version),
        _ => None,
    };
    let new_requirement = written.and_then(|r| match recommended {
        Some(rec) if !scheme.satisfies(&rec.version, r) => scheme.bump(r, &rec.version),
        _ => Some(r.to_owned()),
    });

    Evaluation {
        latest: latest.map(|l| l.version.clone()),
        latest_published_at: latest.and_then(|l| l.published_at),
        recommended: recommended.map(|r| r.version.clone()),
        update,
        new_requirement,
        current,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("valid date")
    }

    fn days_ago(days: i64) -> DateTime<Utc> {
        now() - Duration::days(days)
    }

    fn release(version: &str) -> Release {
        Release {
            version: version.to_owned(),
            published_at: Some(days_ago(100)),
            yanked: false,
            deprecated: None,
            requires_runtime: None,
            prerelease: false,
        }
    }

    fn releases(versions: &[&str]) -> Vec<Release> {
        versions.iter().map(|v| release(v)).collect()
    }

    fn eval(
        ecosystem: Ecosystem,
        requirement: Option<&str>,
        locked: Option<&str>,
        releases: &[Release],
        policy: &Policy,
    ) -> Evaluation {
        evaluate(ecosystem, requirement, locked, releases, policy, now())
    }

    #[test]
    fn major_update_with_bumped_requirement() {
        let rs = releases(&["1.2.3", "1.4.0", "2.0.0", "2.1.0-rc.1", "0.9.0"]);
        let e = eval(
            Ecosystem::Cargo,
            Some("^1.2"),
            Some("1.2.3"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.current.as_deref(), Some("1.2.3"));
        assert_eq!(e.latest.as_deref(), Some("2.0.0"));
        assert_eq!(e.latest_published_at, Some(days_ago(100)));
        assert_eq!(e.recommended.as_deref(), Some("2.0.0"));
        assert_eq!(e.update, Some(UpdateKind::Major));
        assert_eq!(e.new_requirement.as_deref(), Some("^2.0"));
    }

    /// Cargo's compatibility rule: below 1.0.0 the left-most non-zero component is the major, so
    /// reqwest 0.10 → 0.13 is a major update and `allow_major = false` keeps to 0.10.x.
    #[test]
    fn cargo_zero_major_updates_follow_allow_major() {
        let rs = releases(&["0.10.4", "0.10.10", "0.11.27", "0.13.1"]);
        let policy = Policy {
            allow_major: false,
            ..Policy::default()
        };
        let e = eval(Ecosystem::Cargo, Some("0.10"), Some("0.10.4"), &rs, &policy);
        assert_eq!(e.latest.as_deref(), Some("0.13.1"));
        assert_eq!(e.update, Some(UpdateKind::Major));
        assert_eq!(e.recommended.as_deref(), Some("0.10.10"));
        assert_eq!(e.new_requirement.as_deref(), Some("0.10"));
    }

    #[test]
    fn current_from_requirement_when_not_locked() {
        let rs = releases(&["1.2.0", "1.4.0"]);
        let e = eval(
            Ecosystem::Cargo,
            Some("^1.2"),
            None,
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.current.as_deref(), Some("1.2.0"));
        assert_eq!(e.update, Some(UpdateKind::Minor));
        assert_eq!(e.recommended.as_deref(), Some("1.4.0"));
        assert_eq!(
            e.new_requirement.as_deref(),
            Some("^1.2"),
            "1.4.0 is inside ^1.2"
        );
    }

    #[test]
    fn prerelease_current_may_move_to_prereleases() {
        let rs = releases(&["1.9.0", "2.0.0-rc.1", "2.0.0-rc.2"]);
        let e = eval(
            Ecosystem::Npm,
            Some("^2.0.0-rc.1"),
            Some("2.0.0-rc.1"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.latest.as_deref(), Some("2.0.0-rc.2"));
        assert_eq!(e.recommended.as_deref(), Some("2.0.0-rc.2"));
        assert_eq!(e.update, Some(UpdateKind::Patch));
        assert_eq!(e.new_requirement.as_deref(), Some("^2.0.0-rc.1"));

        let stable = eval(
            Ecosystem::Npm,
            Some("^1.9.0"),
            Some("1.9.0"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(stable.latest.as_deref(), Some("1.9.0"));
        assert_eq!(stable.recommended, None);
        assert_eq!(stable.update, None);

        let allowed = Policy {
            allow_prerelease: true,
            ..Policy::default()
        };
        let opted_in = eval(Ecosystem::Npm, Some("^1.9.0"), Some("1.9.0"), &rs, &allowed);
        assert_eq!(
            opted_in.latest.as_deref(),
            Some("1.9.0"),
            "latest stays stable"
        );
        assert_eq!(opted_in.recommended.as_deref(), Some("2.0.0-rc.2"));
        assert_eq!(opted_in.new_requirement.as_deref(), Some("^2.0.0-rc.2"));
    }

    #[test]
    fn registry_prerelease_flag_is_honoured() {
        let mut rs = releases(&["1.0.0", "1.1.0"]);
        if let Some(r) = rs.last_mut() {
            r.prerelease = true;
        }
        let e = eval(
            Ecosystem::Cargo,
            Some("1.0.0"),
            None,
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.latest.as_deref(), Some("1.0.0"));
        assert_eq!(e.recommended, None);
    }

    #[test]
    fn yanked_latest_is_skipped() {
        let mut rs = releases(&["1.2.3", "1.4.0", "1.5.0"]);
        if let Some(r) = rs.last_mut() {
            r.yanked = true;
        }
        let e = eval(
            Ecosystem::Cargo,
            Some("1.2.3"),
            Some("1.2.3"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.latest.as_deref(), Some("1.4.0"));
        assert_eq!(e.recommended.as_deref(), Some("1.4.0"));
        assert_eq!(e.update, Some(UpdateKind::Minor));
        assert_eq!(
            e.new_requirement.as_deref(),
            Some("1.2.3"),
            "caret 1.2.3 admits 1.4.0"
        );
    }

    #[test]
    fn cooldown_holds_back_fresh_releases() {
        let mut rs = releases(&["1.2.3", "1.4.0", "1.5.0"]);
        if let Some(r) = rs.last_mut() {
            r.published_at = Some(days_ago(2));
        }
        let policy = Policy {
            cooldown_days: 7,
            ..Policy::default()
        };
        let e = eval(Ecosystem::Pypi, Some("==1.2.3"), None, &rs, &policy);
        assert_eq!(e.current.as_deref(), Some("1.2.3"));
        assert_eq!(e.latest.as_deref(), Some("1.5.0"));
        assert_eq!(e.latest_published_at, Some(days_ago(2)));
        assert_eq!(e.recommended.as_deref(), Some("1.4.0"));
        assert_eq!(e.new_requirement.as_deref(), Some("==1.4.0"));

        // Unknown publish times are not held back.
        if let Some(r) = rs.last_mut() {
            r.published_at = None;
        }
        let e = eval(Ecosystem::Pypi, Some("==1.2.3"), None, &rs, &policy);
        assert_eq!(e.recommended.as_deref(), Some("1.5.0"));
    }

    #[test]
    fn major_disallowed() {
        let rs = releases(&["1.2.3", "1.4.0", "2.0.0"]);
        let policy = Policy {
            allow_major: false,
            ..Policy::default()
        };
        let e = eval(Ecosystem::Npm, Some("~1.2.3"), Some("1.2.3"), &rs, &policy);
        assert_eq!(e.latest.as_deref(), Some("2.0.0"));
        assert_eq!(e.update, Some(UpdateKind::Major));
        assert_eq!(e.recommended.as_deref(), Some("1.4.0"));
        assert_eq!(e.new_requirement.as_deref(), Some("~1.4.0"));
    }

    #[test]
    fn ignored_versions() {
        let rs = releases(&["1.0", "1.1", "2.0", "2.1"]);
        let policy = Policy {
            ignore_versions: vec![">=2.1".to_owned(), "1.1".to_owned()],
            ..Policy::default()
        };
        let e = eval(Ecosystem::Pypi, Some("~=1.0"), Some("1.0"), &rs, &policy);
        assert_eq!(e.latest.as_deref(), Some("2.1"));
        assert_eq!(e.recommended.as_deref(), Some("2.0"));
        assert_eq!(e.new_requirement.as_deref(), Some("~=2.0"));
    }

    #[test]
    fn docker_suffix_compatibility() {
        let rs = releases(&[
            "3.12-slim",
            "3.13",
            "3.13-slim",
            "3.13.1-slim",
            "3.14-alpine",
            "3.14.0rc1-slim",
            "latest",
        ]);
        let e = eval(
            Ecosystem::Docker,
            Some("3.12-slim"),
            None,
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.current.as_deref(), Some("3.12-slim"));
        assert_eq!(e.latest.as_deref(), Some("3.13-slim"));
        assert_eq!(e.recommended.as_deref(), Some("3.13-slim"));
        assert_eq!(e.update, Some(UpdateKind::Minor));
        assert_eq!(e.new_requirement.as_deref(), Some("3.13-slim"));
    }

    #[test]
    fn go_and_loose() {
        let rs = releases(&["v1.2.3", "v1.3.0", "v1.3.1", "v2.0.0+incompatible"]);
        let policy = Policy {
            allow_major: false,
            ..Policy::default()
        };
        let e = eval(Ecosystem::Go, Some("v1.2.3"), None, &rs, &policy);
        assert_eq!(e.latest.as_deref(), Some("v2.0.0+incompatible"));
        assert_eq!(e.recommended.as_deref(), Some("v1.3.1"));
        assert_eq!(e.new_requirement.as_deref(), Some("v1.3.1"));

        let tags = releases(&["v4", "v4.1.0", "v4.2.1", "v5", "v5.0.0"]);
        let e = eval(
            Ecosystem::GithubActions,
            Some("v4"),
            None,
            &tags,
            &Policy::default(),
        );
        assert_eq!(e.current.as_deref(), Some("v4"));
        assert_eq!(e.latest.as_deref(), Some("v5.0.0"));
        assert_eq!(e.update, Some(UpdateKind::Major));
        assert_eq!(e.new_requirement.as_deref(), Some("v5"));

        let node = releases(&["18.20.4", "20.11.1", "22.3.0"]);
        let e = eval(
            Ecosystem::Toolchain,
            Some("20"),
            None,
            &node,
            &Policy::default(),
        );
        assert_eq!(e.new_requirement.as_deref(), Some("22"));
    }

    #[test]
    fn already_current_and_unknowns() {
        let rs = releases(&["1.0.0", "1.1.0"]);
        let e = eval(
            Ecosystem::Cargo,
            Some("1.1"),
            Some("1.1.0"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.update, None);
        assert_eq!(e.recommended, None);
        assert_eq!(e.new_requirement.as_deref(), Some("1.1"));

        let e = eval(Ecosystem::Cargo, Some("*"), None, &rs, &Policy::default());
        assert_eq!(e.current, None);
        assert_eq!(e.latest.as_deref(), Some("1.1.0"));
        assert_eq!(e.update, None);
        assert_eq!(e.new_requirement.as_deref(), Some("*"));

        let e = eval(Ecosystem::Cargo, None, None, &[], &Policy::default());
        assert_eq!(e, Evaluation::default());

        let e = eval(
            Ecosystem::Maven,
            Some("${v}"),
            Some("not a version!"),
            &rs,
            &Policy::default(),
        );
        assert_eq!(e.current, None);
        assert_eq!(e.new_requirement, None);
    }

    #[test]
    fn serialises() {
        let rs = releases(&["1.0.0", "2.0.0"]);
        let e = eval(
            Ecosystem::Cargo,
            Some("1.0"),
            Some("1.0.0"),
            &rs,
            &Policy::default(),
        );
        let json = serde_json::to_value(&e).expect("serialisable");
        assert_eq!(json["update"], "major");
        assert_eq!(json["latest"], "2.0.0");
        assert_eq!(json["new_requirement"], "2.0");
        assert_eq!(json["latest_published_at"], "2024-02-22T12:00:00Z");
        let back: Evaluation = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, e);
        let policy: Policy = serde_json::from_str(r#"{"cooldown_days": 3}"#).expect("policy");
        assert!(policy.allow_major);
        assert_eq!(policy.cooldown_days, 3);
    }
}
