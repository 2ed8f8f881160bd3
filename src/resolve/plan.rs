//! Deciding recommendations: pure functions from a dependency, its package's releases and the
//! repository policy to the recommendations it should carry, and from those plus the stored ones
//! to the changes to write.
//!
//! Per dependency there are at most two recommendations, keyed by kind:
//!
//! - **in-major** (`patch` or `minor`): the newest release the policy allows without a major
//!   change;
//! - **major** (`major`), reported separately and only when `allow_major` is on: the newest
//!   release the policy allows at all, when that is a major change.
//!
//! So a dependency on `1.2.3` with `1.2.9`, `1.4.0` and `2.1.0` published carries `minor → 1.4.0`
//! and `major → 2.1.0`; a team can take the safe one now and plan the other.
//!
//! No recommendation is made for skipped dependencies, ignored packages, or when the version in
//! use cannot be determined (no lock and no lower bound in the requirement).
//!
//! Only releases that fit the repository's declared runtime are recommended (a release stating
//! `requires_python = ">=3.12"` is not for a repository on Python 3.8, see
//! [`upkeep_resolvers::runtime`]). When the runtime alone holds back a release the policy would
//! otherwise recommend, the assessment names it ([`Assessment::blocked_by_runtime`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::problem::Problem;
use upkeep_resolvers::recommend::{self, Evaluation};
use upkeep_resolvers::registry::Release;
use upkeep_resolvers::runtime::{RuntimeBlock, Runtimes};
use upkeep_resolvers::versioning::{UpdateKind, VersionScheme};

use crate::events::RecommendationRemoval;
use crate::policy::{RangeStrategy, RepoPolicy};
use crate::recommendation_kind::RecommendationKind;
use crate::store::inventory::DependencyRecord;
use crate::store::recommendations::StoredRecommendation;

/// A recommendation a dependency should carry (`patch`, `minor` or `major`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub kind: RecommendationKind,
    pub target_version: String,
    pub new_requirement: Option<String>,
}

/// What a dependency should carry, and the version it is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependencyPlan {
    pub current: Option<String>,
    pub desired: Vec<Desired>,
}

/// What the planner needs to know of one dependency, wherever it comes from (a stored
/// dependency of the service, a scanned one of `upkeep scan`).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub ecosystem: Ecosystem,
    pub name: &'a str,
    pub requirement: Option<&'a str>,
    pub locked: Option<&'a str>,
    /// Not updated at all (git source, local path, ...).
    pub skipped: bool,
}

impl<'a> From<&'a DependencyRecord> for Subject<'a> {
    fn from(dependency: &'a DependencyRecord) -> Self {
        Subject {
            ecosystem: dependency.ecosystem,
            name: &dependency.name,
            requirement: dependency.requirement.as_deref(),
            locked: dependency.locked.as_deref(),
            skipped: dependency.skip_reason.is_some(),
        }
    }
}

/// What a dependency is assessed under: the repository's policy, the runtimes it declares and
/// the time.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a RepoPolicy,
    pub runtimes: &'a Runtimes,
    pub now: DateTime<Utc>,
}

/// The one answer about a dependency that `upkeep scan`, the fleet API and the recomputation
/// job all give: the facts (current, latest, the kind of that update) and the recommendations
/// the policy allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Current, latest and the update kind between them (the package's version filters of the
    /// policy applied; majors are not filtered out of `latest`).
    pub evaluation: Evaluation,
    /// What the dependency should carry under the policy.
    pub plan: DependencyPlan,
    /// Why the answer cannot be trusted although the package has releases (none satisfies the
    /// requirement); a failed lookup is the caller's to report, as only it knows.
    pub problem: Option<Problem>,
    /// The newest release the policy would recommend but the repository's declared runtime
    /// does not admit (what it requires, and the runtime declared); `None` when the runtime
    /// holds nothing back.
    pub blocked_by_runtime: Option<RuntimeBlock>,
}

impl Assessment {
    /// The one recommended target: the in-major (`patch`/`minor`) recommendation when there is
    /// one, else the `major` one.
    pub fn recommended(&self) -> Option<&Desired> {
        self.plan
            .desired
            .iter()
            .find(|d| d.kind != RecommendationKind::Major)
            .or_else(|| self.plan.desired.first())
    }
}

/// Assess `subject` against its package's `releases` under `context` (see [`Assessment`]).
pub fn assess(subject: Subject<'_>, releases: &[Release], context: &Context<'_>) -> Assessment {
    let package_policy = context.policy.for_package(subject.name);
    let evaluate = |releases: &[Release]| {
        recommend::evaluate(
            subject.ecosystem,
            subject.requirement,
            subject.locked,
            releases,
            &package_policy,
            context.now,
        )
    };
    let fitting = fitting_releases(subject.ecosystem, releases, context.runtimes);
    // `latest` and its update kind stay the registry's facts; what is recommended fits.
    let mut evaluation = evaluate(releases);
    if fitting.len() != releases.len() {
        let fit = evaluate(&fitting);
        evaluation.recommended = fit.recommended;
        evaluation.new_requirement = fit.new_requirement;
    }
    let problem = if subject.skipped {
        None
    } else {
        Problem::no_matching_release(subject.ecosystem, subject.requirement, releases)
    };
    let plan = plan_for(subject, &fitting, context.policy, context.now);
    let blocked_by_runtime = (fitting.len() != releases.len())
        .then(|| runtime_block(subject, releases, &plan, context))
        .flatten();
    Assessment {
        evaluation,
        plan,
        problem,
        blocked_by_runtime,
    }
}

/// The releases of `releases` that fit `runtimes` (all of them, borrowed, when none is held back).
fn fitting_releases<'r>(
    ecosystem: Ecosystem,
    releases: &'r [Release],
    runtimes: &Runtimes,
) -> Cow<'r, [Release]> {
    if releases.iter().all(|r| runtimes.fits(ecosystem, r)) {
        Cow::Borrowed(releases)
    } else {
        Cow::Owned(
            releases
                .iter()
                .filter(|r| runtimes.fits(ecosystem, r))
                .cloned()
                .collect(),
        )
    }
}

/// The newest target the policy would recommend without the runtime constraint that `plan`
/// (made with it) does not carry, because the runtime does not admit it.
fn runtime_block(
    subject: Subject<'_>,
    releases: &[Release],
    plan: &DependencyPlan,
    context: &Context<'_>,
) -> Option<RuntimeBlock> {
    let scheme = subject.ecosystem.versioning().scheme();
    let unconstrained = plan_for(subject, releases, context.policy, context.now);
    unconstrained
        .desired
        .iter()
        .filter(|d| {
            !plan
                .desired
                .iter()
                .any(|p| p.target_version == d.target_version)
        })
        .filter_map(|d| releases.iter().find(|r| r.version == d.target_version))
        .filter_map(|release| context.runtimes.block(subject.ecosystem, release))
        .max_by(|a, b| scheme.compare(&a.version, &b.version))
}

fn nonempty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The requirement to write for `target` under `strategy` (see [`crate::policy`]).
fn new_requirement(
    scheme: &dyn VersionScheme,
    strategy: RangeStrategy,
    subject: Subject<'_>,
    target: &str,
) -> Option<String> {
    let requirement = nonempty(subject.requirement)?;
    let inside = scheme.satisfies(target, requirement);
    let locked = nonempty(subject.locked).is_some();
    if inside && locked && strategy == RangeStrategy::LockfileOnly {
        return None;
    }
    scheme
        .bump(requirement, target)
        .filter(|bumped| bumped != requirement)
}

/// The recommendations `dependency` should carry under `context` (those [`assess`] gives).
pub fn desired(
    dependency: &DependencyRecord,
    releases: &[Release],
    context: &Context<'_>,
) -> DependencyPlan {
    assess(dependency.into(), releases, context).plan
}

fn plan_for(
    subject: Subject<'_>,
    releases: &[Release],
    policy: &RepoPolicy,
    now: DateTime<Utc>,
) -> DependencyPlan {
    let ecosystem = subject.ecosystem;
    let scheme = ecosystem.versioning().scheme();
    let evaluate = |policy: &recommend::Policy| -> Evaluation {
        recommend::evaluate(
            ecosystem,
            subject.requirement,
            subject.locked,
            releases,
            policy,
            now,
        )
    };
    let package_policy = policy.for_package(subject.name);
    let in_major = evaluate(&recommend::Policy {
        allow_major: false,
        ..package_policy.clone()
    });
    let mut plan = DependencyPlan {
        current: in_major.current.clone(),
        desired: Vec::new(),
    };
    if subject.skipped || policy.ignores(subject.name) {
        return plan;
    }
    let Some(current) = in_major.current.as_deref() else {
        return plan;
    };
    let mut push = |target: &str, kind: UpdateKind| {
        plan.desired.push(Desired {
            kind: kind.into(),
            target_version: target.to_owned(),
            new_requirement: new_requirement(scheme, policy.range_strategy, subject, target),
        });
    };
    if let Some(target) = in_major.recommended.as_deref()
        && let Some(kind) = scheme.update_kind(current, target)
        && kind != UpdateKind::Major
    {
        push(target, kind);
    }
    if policy.allow_major {
        let any = evaluate(&package_policy);
        if let Some(target) = any.recommended.as_deref()
            && scheme.update_kind(current, target) == Some(UpdateKind::Major)
        {
            push(target, UpdateKind::Major);
        }
    }
    plan
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Insert {
        dependency_id: i64,
        desired: Desired,
    },
    Update {
        id: i64,
        dependency_id: i64,
        desired: Desired,
    },
    Delete {
        existing: StoredRecommendation,
        reason: RecommendationRemoval,
    },
}

/// Has a dependency on `current` reached `target`?
fn reached(scheme: &dyn VersionScheme, current: Option<&str>, target: &str) -> bool {
    current.is_some_and(|c| scheme.is_valid(c) && scheme.compare(c, target).is_ge())
}

/// The writes that turn `existing` (the stored recommendations of one dependency) into
/// `plan.desired`. Deletions come first so a kind's row can be replaced within one transaction.
///
/// - same target and requirement: nothing (so a re-run emits no event);
/// - a stored target the dependency has reached: deleted as `applied` (and a newer target of the
///   same kind is inserted afresh);
/// - a different target not yet reached: updated in place;
/// - a stored kind no longer desired: deleted as `obsolete`.
pub fn changes(
    ecosystem: Ecosystem,
    dependency_id: i64,
    plan: &DependencyPlan,
    existing: &[StoredRecommendation],
) -> Vec<Change> {
    let scheme = ecosystem.versioning().scheme();
    let desired: BTreeMap<RecommendationKind, &Desired> =
        plan.desired.iter().map(|d| (d.kind, d)).collect();
    let mut deletes = Vec::new();
    let mut writes = Vec::new();
    let mut handled: HashSet<RecommendationKind> = HashSet::new();
    for stored in existing {
        handled.insert(stored.kind);
        let applied = reached(scheme, plan.current.as_deref(), &stored.target_version);
        match desired.get(&stored.kind) {
            Some(want)
                if want.target_version == stored.target_version
                    && want.new_requirement == stored.new_requirement => {}
            Some(want) if applied => {
                deletes.push(Change::Delete {
                    existing: stored.clone(),
                    reason: RecommendationRemoval::Applied,
                });
                writes.push(Change::Insert {
                    dependency_id,
                    desired: (*want).clone(),
                });
            }
            Some(want) => writes.push(Change::Update {
                id: stored.id,
                dependency_id,
                desired: (*want).clone(),
            }),
            None => deletes.push(Change::Delete {
                existing: stored.clone(),
                reason: if applied {
                    RecommendationRemoval::Applied
                } else {
                    RecommendationRemoval::Obsolete
                },
            }),
        }
    }
    for want in &plan.desired {
        if !handled.contains(&want.kind) {
            writes.push(Change::Insert {
                dependency_id,
                desired: want.clone(),
            });
        }
    }
    deletes.extend(writes);
    deletes
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use upkeep_resolvers::manager::{DependencyKind, Manager, SkipReason};

    use super::*;
    use crate::recommendation_kind::RecommendationKind::{Major, Minor, Patch};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
            .single()
            .expect("date")
    }

    fn release(version: &str, days_ago: i64) -> Release {
        Release {
            version: version.to_owned(),
            published_at: Some(now() - Duration::days(days_ago)),
            yanked: false,
            deprecated: None,
            requires_runtime: None,
            prerelease: false,
        }
    }

    fn dep(requirement: &str, locked: Option<&str>) -> DependencyRecord {
        DependencyRecord {
            id: 7,
            repository_id: 1,
            team_id: 1,
            manifest_id: 2,
            manifest: "package.json".into(),
            manager: Manager::Npm,
            package_id: 3,
            ecosystem: Ecosystem::Npm,
            name: "left-pad".into(),
            dep_key: "normal:npm:left-pad:0".into(),
            requirement: Some(requirement.into()),
            locked: locked.map(Into::into),
            kind: DependencyKind::Normal,
            span_start: None,
            span_end: None,
            skip_reason: None,
        }
    }

    fn releases() -> Vec<Release> {
        vec![
            release("1.2.3", 100),
            release("1.2.9", 50),
            release("1.4.0", 40),
            release("2.1.0", 1),
        ]
    }

    /// The plan under `policy` with no runtime declared.
    fn planned(
        dependency: &DependencyRecord,
        releases: &[Release],
        policy: &RepoPolicy,
        now: DateTime<Utc>,
    ) -> DependencyPlan {
        let runtimes = Runtimes::default();
        desired(
            dependency,
            releases,
            &Context {
                policy,
                runtimes: &runtimes,
                now,
            },
        )
    }

    fn targets(plan: &DependencyPlan) -> Vec<(RecommendationKind, &str, Option<&str>)> {
        plan.desired
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.target_version.as_str(),
                    d.new_requirement.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn majors_are_reported_separately() {
        let plan = planned(
            &dep("^1.2.3", Some("1.2.3")),
            &releases(),
            &RepoPolicy::default(),
            now(),
        );
        assert_eq!(plan.current.as_deref(), Some("1.2.3"));
        assert_eq!(
            targets(&plan),
            vec![
                (Minor, "1.4.0", Some("^1.4.0")),
                (Major, "2.1.0", Some("^2.1.0"))
            ]
        );
        let no_major = RepoPolicy {
            allow_major: false,
            ..RepoPolicy::default()
        };
        let plan = planned(&dep("^1.2.3", Some("1.2.3")), &releases(), &no_major, now());
        assert_eq!(targets(&plan), vec![(Minor, "1.4.0", Some("^1.4.0"))]);
    }

    #[test]
    fn lockfile_only_inside_the_range() {
        let policy = RepoPolicy {
            range_strategy: RangeStrategy::LockfileOnly,
            ..RepoPolicy::default()
        };
        let plan = planned(&dep("^1.2.3", Some("1.2.3")), &releases(), &policy, now());
        assert_eq!(
            targets(&plan),
            vec![(Minor, "1.4.0", None), (Major, "2.1.0", Some("^2.1.0"))]
        );
        // Without a lock there is nothing but the requirement to change.
        let plan = planned(&dep("^1.2.3", None), &releases(), &policy, now());
        assert_eq!(targets(&plan)[0], (Minor, "1.4.0", Some("^1.4.0")));
    }

    #[test]
    fn cooldown_ignore_and_skips() {
        let cooldown = RepoPolicy {
            cooldown_days: 3,
            ..RepoPolicy::default()
        };
        let plan = planned(&dep("1.2.3", None), &releases(), &cooldown, now());
        assert_eq!(targets(&plan), vec![(Minor, "1.4.0", Some("1.4.0"))]);
        let ignored = RepoPolicy {
            ignore: vec!["left-*".into()],
            ..RepoPolicy::default()
        };
        assert!(
            planned(&dep("1.2.3", None), &releases(), &ignored, now())
                .desired
                .is_empty()
        );
        let mut skipped = dep("1.2.3", None);
        skipped.skip_reason = Some(SkipReason::Git);
        assert!(
            planned(&skipped, &releases(), &RepoPolicy::default(), now())
                .desired
                .is_empty()
        );
        let unknown = planned(&dep("*", None), &releases(), &RepoPolicy::default(), now());
        assert!(unknown.desired.is_empty());
    }

    fn stored(
        id: i64,
        kind: RecommendationKind,
        target: &str,
        requirement: Option<&str>,
    ) -> StoredRecommendation {
        StoredRecommendation {
            id,
            dependency_id: 7,
            kind,
            target_version: target.into(),
            new_requirement: requirement.map(Into::into),
        }
    }

    #[test]
    fn diff_against_stored() {
        let plan = planned(
            &dep("^1.2.3", Some("1.2.3")),
            &releases(),
            &RepoPolicy::default(),
            now(),
        );
        let same = vec![
            stored(1, Minor, "1.4.0", Some("^1.4.0")),
            stored(2, Major, "2.1.0", Some("^2.1.0")),
        ];
        assert!(changes(Ecosystem::Npm, 7, &plan, &same).is_empty());

        let older = vec![
            stored(1, Minor, "1.3.0", Some("^1.3.0")),
            stored(3, Patch, "1.2.9", None),
        ];
        let out = changes(Ecosystem::Npm, 7, &plan, &older);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(
            matches!(&out[0], Change::Delete { reason: RecommendationRemoval::Obsolete, existing } if existing.id == 3)
        );
        assert!(matches!(&out[1], Change::Update { id: 1, .. }));
        assert!(matches!(&out[2], Change::Insert { desired, .. } if desired.kind == Major));

        // Upgraded to 1.4.0: the minor is applied; 2.1.0 stays.
        let upgraded = planned(
            &dep("^1.4.0", Some("1.4.0")),
            &releases(),
            &RepoPolicy::default(),
            now(),
        );
        let out = changes(Ecosystem::Npm, 7, &upgraded, &same);
        assert_eq!(
            out,
            vec![Change::Delete {
                existing: same[0].clone(),
                reason: RecommendationRemoval::Applied
            }]
        );
    }

    /// django on 3.2 in a repository declaring `requires-python = ">=3.8"`: 6.x needs 3.12, so
    /// the major recommended is the newest that admits 3.8, and the held-back one is named.
    #[test]
    fn runtime_holds_back_releases_it_does_not_admit() {
        let needs = |version: &str, requires: &str| Release {
            requires_runtime: Some(requires.to_owned()),
            ..release(version, 30)
        };
        let releases = vec![
            needs("3.2.20", ">=3.6"),
            needs("3.2.25", ">=3.6"),
            needs("4.2.20", ">=3.8"),
            needs("5.2.8", ">=3.10"),
            needs("6.1.3", ">=3.12"),
        ];
        let mut django = dep("==3.2.20", None);
        django.ecosystem = Ecosystem::Pypi;
        django.name = "django".into();
        let policy = RepoPolicy::default();
        let mut runtimes = Runtimes::default();
        runtimes.declare("python", ">=3.8");
        let context = Context {
            policy: &policy,
            runtimes: &runtimes,
            now: now(),
        };
        let assessment = assess((&django).into(), &releases, &context);
        assert_eq!(
            targets(&assessment.plan),
            vec![
                (Patch, "3.2.25", Some("==3.2.25")),
                (Major, "4.2.20", Some("==4.2.20"))
            ]
        );
        assert_eq!(assessment.evaluation.latest.as_deref(), Some("6.1.3"));
        assert_eq!(assessment.evaluation.recommended.as_deref(), Some("4.2.20"));
        let block = assessment.blocked_by_runtime.expect("6.1.3 is held back");
        assert_eq!(
            (block.version.as_str(), block.requires.as_str()),
            ("6.1.3", ">=3.12")
        );
        assert_eq!(block.runtime_version, "3.8");

        // Within the major only: the in-major target is unaffected, nothing is reported.
        let no_major = RepoPolicy {
            allow_major: false,
            ..RepoPolicy::default()
        };
        let context = Context {
            policy: &no_major,
            ..context
        };
        let assessment = assess((&django).into(), &releases, &context);
        assert_eq!(
            targets(&assessment.plan),
            vec![(Patch, "3.2.25", Some("==3.2.25"))]
        );
        assert_eq!(assessment.blocked_by_runtime, None);

        // On Python 3.12 (`.python-version`) nothing is held back.
        let mut modern = Runtimes::default();
        modern.declare("python", "3.12.1");
        let context = Context {
            policy: &policy,
            runtimes: &modern,
            now: now(),
        };
        let assessment = assess((&django).into(), &releases, &context);
        assert_eq!(
            assessment
                .plan
                .desired
                .last()
                .map(|d| d.target_version.as_str()),
            Some("6.1.3")
        );
        assert_eq!(assessment.blocked_by_runtime, None);
    }
}
