//! The keys upkeep writes as text in one place: the subject keys of events (`subject_key` in the
//! journal, see "Events" in ARCHITECTURE.md) and the dedup keys of jobs (a pending job with the
//! same kind and key absorbs a second one, see `crate::jobs`).
//!
//! A crawl job and the events about a repository share the key `repository:{id}`; the other keys
//! name their own subject. The texts are part of the wire format (event consumers filter on
//! subject keys, the queue's unique index holds dedup keys): changing one is a breaking change.

use std::fmt::Display;

use crate::recommendation_kind::RecommendationKind;

/// A repository: subject of its repository and crawl events, dedup key of its `crawl` job.
pub fn repository(repository_id: i64) -> String {
    format!("repository:{repository_id}")
}

/// Dedup key of the `recommend_repository` job that recomputes every dependency of a repository.
pub fn repository_all_dependencies(repository_id: i64) -> String {
    format!("repository:{repository_id}:all")
}

/// Dedup key of a package's `resolve_package` job.
pub fn package(package_id: i64) -> String {
    format!("package:{package_id}")
}

/// Subject of a package's release events: `package:{ecosystem}:{name}`.
pub fn package_releases(ecosystem: impl Display, name: &str) -> String {
    format!("package:{ecosystem}:{name}")
}

/// Subject of a dependency's events.
pub fn dependency(dependency_id: i64) -> String {
    format!("dependency:{dependency_id}")
}

/// Subject of the events of one dependency's recommendation of one kind.
pub fn recommendation(dependency_id: i64, kind: RecommendationKind) -> String {
    format!("recommendation:{dependency_id}:{kind}")
}

/// Dedup key of a webhook delivery's `deliver_webhook` job.
pub fn delivery(delivery_id: i64) -> String {
    format!("delivery:{delivery_id}")
}

#[cfg(test)]
mod tests {
    use upkeep_resolvers::Ecosystem;

    use super::*;

    #[test]
    fn keys_keep_their_text() {
        assert_eq!(repository(42), "repository:42");
        assert_eq!(repository_all_dependencies(42), "repository:42:all");
        assert_eq!(package(7), "package:7");
        assert_eq!(
            package_releases(Ecosystem::GithubActions, "actions/checkout"),
            "package:github-actions:actions/checkout"
        );
        assert_eq!(
            package_releases(Ecosystem::Npm, "@types/node"),
            "package:npm:@types/node"
        );
        assert_eq!(dependency(9), "dependency:9");
        assert_eq!(
            recommendation(9, RecommendationKind::Minor),
            "recommendation:9:minor"
        );
        assert_eq!(
            recommendation(9, RecommendationKind::Security),
            "recommendation:9:security"
        );
        assert_eq!(delivery(3), "delivery:3");
    }

    #[test]
    fn repository_keys_do_not_collide() {
        assert_ne!(repository(1), repository_all_dependencies(1));
        assert_ne!(repository(12), package(12));
        assert_ne!(dependency(5), delivery(5));
    }
}
