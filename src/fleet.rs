//! Questions about the fleet inventory, answered under each repository's policy: a repository's
//! dependencies with their latest release and what the policy recommends, and which repositories
//! use a package (optionally below a version). The HTTP API (`crate::api::fleet`) turns the
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
    /// Each use, with the version in use (locked, else the requirement's lower bound).
    pub usages: Vec<(DependencyRecord, Option<String>)>,
}

/// The repositories of `team_id` (`None`: every team) using `ecosystem`/`name`, by repository
/// id; with `below`, only the uses whose version in use is below it in the ecosystem's scheme.
pub async fn package_usages(
    store: &Store,
    ecosystem: Ecosystem,
    name: &str,
    below: Option<&str>,
    team_id: Option<i64>,
) -> Result<Vec<RepositoryUsages>> {
    let scheme = ecosystem.versioning().scheme();
    let mut repositories: BTreeMap<i64, RepositoryUsages> = BTreeMap::new();
    for usage in store.package_usages(ecosystem, name, team_id).await? {
        let d = usage.dependency;
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
