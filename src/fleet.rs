//! Questions about the fleet inventory, answered under each repository's policy: a repository's
//! dependencies with their latest release and what the policy recommends, and which repositories
//! use a package (optionally below a version, or locked under a version prefix, transitive
//! lockfile pins included). The HTTP API (`crate::api::fleet`) turns the
//! answers into its payloads; the reads are the store's.
//!
//! A dependency's recommendations in a listing are planned by the function the recomputation job
//! and `upkeep scan` use (`crate::resolve::plan::assess`), under the repository's stored policy, so they follow a policy
//! change at once, before the job has rewritten the stored rows; `security` recommendations,
//! which the planner does not own, are listed as stored.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use upkeep_resolvers::Ecosystem;
use upkeep_resolvers::problem::Problem;
use upkeep_resolvers::recommend::Evaluation;
use upkeep_resolvers::registry::Release;
use upkeep_resolvers::runtime::RuntimeBlock;

use crate::policy::RepoPolicy;
use crate::recommendation_kind::RecommendationKind;
use crate::resolve::plan::{self, Context, Desired};
use crate::store::inventory::DependencyRecord;
use crate::store::recommendations::DependencyWithRecommendations;
use crate::store::repositories::Page;
use crate::store::{Result, Store};

/// One dependency of a repository, evaluated under the repository's policy.
#[derive(Debug, Clone)]
pub struct ListedDependency {
    pub dependency: DependencyRecord,
    /// Current, latest and the update kind between them.
    pub evaluation: Evaluation,
    /// What the policy recommends (patch/minor first, then major), then stored `security` ones.
    pub recommendations: Vec<Desired>,
    /// Why there is no answer: the package's last lookup failed, or no release satisfies the
    /// requirement.
    pub problem: Option<Problem>,
    /// The newer release the policy would recommend but the repository's declared runtime does
    /// not admit.
    pub blocked_by_runtime: Option<RuntimeBlock>,
}

/// A repository's dependencies by id after `after`, at most `limit`, as of `now`.
pub async fn dependencies(
    store: &Store,
    repository_id: i64,
    after: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Page<ListedDependency>> {
    let policy = store
        .repository_policy(repository_id)
        .await?
        .map(|(_, json)| RepoPolicy::from_stored(&json))
        .unwrap_or_default();
    let page = store
        .repository_dependencies(repository_id, after, limit)
        .await?;
    let mut package_ids: Vec<i64> = page.items.iter().map(|d| d.dependency.package_id).collect();
    package_ids.sort_unstable();
    package_ids.dedup();
    let releases = store.releases_for(&package_ids).await?;
    let problems = store.package_problems(&package_ids).await?;
    let runtimes = store.repository_runtimes(repository_id).await?;
    let context = Context {
        policy: &policy,
        runtimes: &runtimes,
        now,
    };
    let items = page
        .items
        .into_iter()
        .map(|item| listed(item, &releases, &problems, &context))
        .collect();
    Ok(Page {
        items,
        next: page.next,
    })
}

/// How many of a repository's dependencies have a problem (as their listing shows it), as of
/// `now`.
pub async fn dependencies_with_problems(
    store: &Store,
    repository_id: i64,
    now: DateTime<Utc>,
) -> Result<i64> {
    let mut count = 0;
    let mut after = 0;
    loop {
        let page = dependencies(store, repository_id, after, 500, now).await?;
        count += page.items.iter().filter(|d| d.problem.is_some()).count();
        match page.next {
            Some(next) => after = next,
            None => return Ok(i64::try_from(count).unwrap_or(i64::MAX)),
        }
    }
}

fn listed(
    item: DependencyWithRecommendations,
    releases: &HashMap<i64, Vec<Release>>,
    problems: &HashMap<i64, Problem>,
    context: &Context<'_>,
) -> ListedDependency {
    let dependency = item.dependency;
    let releases = releases
        .get(&dependency.package_id)
        .map_or(&[][..], Vec::as_slice);
    let assessment = plan::assess((&dependency).into(), releases, context);
    let evaluation = assessment.evaluation;
    let mut recommendations = assessment.plan.desired;
    recommendations.extend(
        item.recommendations
            .into_iter()
            .filter(|stored| !stored.kind.is_planned())
            .map(|stored| Desired {
                kind: stored.kind,
                target_version: stored.target_version,
                new_requirement: stored.new_requirement,
            }),
    );
    // Majors last, as a repository's safe upgrades come first.
    recommendations.sort_by_key(|r| r.kind == RecommendationKind::Major);
    // A skipped dependency is not looked up, so no lookup of its package concerns it.
    let problem = if dependency.skip_reason.is_some() {
        None
    } else {
        problems
            .get(&dependency.package_id)
            .cloned()
            .or(assessment.problem)
    };
    ListedDependency {
        dependency,
        evaluation,
        recommendations,
        problem,
        blocked_by_runtime: assessment.blocked_by_runtime,
    }
}

/// One repository's uses of a package.
#[derive(Debug, Clone)]
pub struct RepositoryUsages {
    pub repository_id: i64,
    /// `owner/name`.
    pub full_name: String,
    pub url: String,
    /// Each use (a direct dependency, or a `transitive` pin of a lockfile: the record's `kind`),
    /// with the version in use (locked, else the requirement's lower bound).
    pub usages: Vec<(DependencyRecord, Option<String>)>,
}

/// A version prefix on component boundaries, the `locked` filter of the usages query: `0.9`
/// matches `0.9`, `0.9.0`, `0.9.2`, `0.9.0-rc.1` and PEP 440's `0.9a1`, never `0.90.1`. A version
/// matches when it equals the prefix or continues it at a component boundary: with a separator
/// (`.`, `-`, `+`), or with a character of another class than the prefix's last one (a letter
/// after a digit as in `0.9a1` or OpenSSL's `1.1.1w`, a digit after a letter). A leading `v`
/// before a digit is ignored on both sides (Go's `v0.9.1` matches `0.9` and `v0.9`).
/// Why a text is not a [`VersionPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidVersionPrefix {
    #[error("a version prefix such as `0.9` is required")]
    Empty,
    #[error("`{0}` contains white space")]
    WhiteSpace(String),
    #[error("`{0}` is not a version prefix (it may not start or end with `.`, `-` or `+`)")]
    Separator(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPrefix(String);

impl VersionPrefix {
    const SEPARATORS: [char; 3] = ['.', '-', '+'];

    /// The prefix `text` (trimmed), or why it is not one: empty, containing white space, or
    /// starting or ending in a separator.
    pub fn parse(text: &str) -> std::result::Result<Self, InvalidVersionPrefix> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidVersionPrefix::Empty);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(InvalidVersionPrefix::WhiteSpace(text.to_owned()));
        }
        if text.ends_with(Self::SEPARATORS) || text.starts_with(Self::SEPARATORS) {
            return Err(InvalidVersionPrefix::Separator(text.to_owned()));
        }
        Ok(VersionPrefix(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `version` lies under this prefix.
    pub fn matches(&self, version: &str) -> bool {
        let prefix = without_v(&self.0);
        let version = without_v(version.trim());
        let Some(rest) = version.strip_prefix(prefix) else {
            return false;
        };
        let (Some(last), Some(next)) = (prefix.chars().next_back(), rest.chars().next()) else {
            return rest.is_empty();
        };
        Self::SEPARATORS.contains(&next)
            || (last.is_ascii_digit() && !next.is_ascii_digit())
            || (last.is_alphabetic() && !next.is_alphabetic())
    }
}

/// `text` without a leading `v`/`V` that precedes a digit.
fn without_v(text: &str) -> &str {
    match text.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => text,
    }
}

/// Which uses of a package a usages query keeps.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter<'a> {
    /// Only uses whose version in use is below this version in the ecosystem's scheme.
    pub below: Option<&'a str>,
    /// Only uses whose locked version lies under this prefix: direct dependencies by their
    /// `locked` version and the lockfile's own `transitive` pins alike; a use with no locked
    /// version never matches.
    pub locked: Option<&'a VersionPrefix>,
}

/// One page of `repositories` (by repository id, as [`package_usages`] returns them): those after
/// the cursor `after`, at most `limit`, and the cursor of the next page when more follow.
pub fn usages_page(
    repositories: Vec<RepositoryUsages>,
    after: i64,
    limit: i64,
) -> Page<RepositoryUsages> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut items: Vec<RepositoryUsages> = repositories
        .into_iter()
        .filter(|r| r.repository_id > after)
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(|r| r.repository_id)
    } else {
        None
    };
    Page { items, next }
}

/// The repositories of `team_id` (`None`: every team) using `ecosystem`/`name`, by repository
/// id, each with its uses (direct dependencies and transitive lockfile pins, every locked
/// version), kept by `filter`.
pub async fn package_usages(
    store: &Store,
    ecosystem: Ecosystem,
    name: &str,
    filter: &UsageFilter<'_>,
    team_id: Option<i64>,
) -> Result<Vec<RepositoryUsages>> {
    let scheme = ecosystem.versioning().scheme();
    let below = filter.below;
    let mut repositories: BTreeMap<i64, RepositoryUsages> = BTreeMap::new();
    for usage in store.package_usages(ecosystem, name, team_id).await? {
        let d = usage.dependency;
        if let Some(prefix) = filter.locked
            && !d.locked.as_deref().is_some_and(|l| prefix.matches(l))
        {
            continue;
        }
        let version = d
            .locked
            .as_deref()
            .map(str::trim)
            .filter(|l| scheme.is_valid(l))
            .map(str::to_owned)
            .or_else(|| {
                d.requirement
                    .as_deref()
                    .and_then(|r| scheme.lower_bound(r.trim()))
            });
        if let Some(limit) = below {
            let is_below = version
                .as_deref()
                .is_some_and(|v| scheme.compare(v, limit).is_lt());
            if !is_below {
                continue;
            }
        }
        repositories
            .entry(d.repository_id)
            .or_insert_with(|| RepositoryUsages {
                repository_id: d.repository_id,
                full_name: usage.full_name,
                url: usage.url,
                usages: Vec::new(),
            })
            .usages
            .push((d, version));
    }
    Ok(repositories.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::VersionPrefix;

    fn prefix(text: &str) -> VersionPrefix {
        VersionPrefix::parse(text).expect("a prefix")
    }

    #[test]
    fn a_prefix_matches_on_component_boundaries() {
        let minor = prefix("0.9");
        for version in [
            "0.9",
            "0.9.0",
            "0.9.2",
            "0.9.0-rc.1",
            "0.9+build",
            "0.9a1",
            "v0.9.1",
            " 0.9.3 ",
        ] {
            assert!(minor.matches(version), "{version}");
        }
        for version in ["0.90.1", "0.8.5", "10.9.1", "0.91", "0", ""] {
            assert!(!minor.matches(version), "{version}");
        }
        assert!(prefix("v1").matches("1.2.3"));
        assert!(prefix("1").matches("v1.2.3"));
        assert!(!prefix("1").matches("12.0.0"));
        assert!(prefix("1.2.3").matches("1.2.3"));
        assert!(!prefix("1.2.3").matches("1.2.30"));
        assert!(prefix("2.0.0-beta").matches("2.0.0-beta.2"));
        assert!(prefix("2.0.0-beta").matches("2.0.0-beta2"));
        assert!(!prefix("2.0.0-beta").matches("2.0.0-betax"));
        assert!(prefix("1.1.1").matches("1.1.1w"));
        assert!(!prefix("vendor").matches("endor"));
    }

    #[test]
    fn a_prefix_is_refused_when_it_names_no_component() {
        for text in ["", "  ", "0.9.", "-1", "0 9", "1+"] {
            assert!(VersionPrefix::parse(text).is_err(), "{text:?}");
        }
        assert_eq!(prefix(" 0.9 ").as_str(), "0.9");
    }
}
