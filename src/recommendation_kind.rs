//! What kind of upgrade a recommendation is: `patch`, `minor` or `major` (planned by the
//! recommender from releases and the repository policy, see `crate::resolve::plan`), or
//! `security` (left to the advisory work). One enum from the planner through the store to the API
//! and the events; its text is its serde name, which the store, the API and the events share.

use std::fmt;

use serde::{Deserialize, Serialize};
use upkeep_resolvers::versioning::UpdateKind;

/// The kind of a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecommendationKind {
    /// The newest release of the current minor line.
    Patch,
    /// The newest release of the current major line.
    Minor,
    /// The newest release overall, when that is a major change (reported separately).
    Major,
    /// A release that fixes an advisory affecting the version in use.
    Security,
}

impl RecommendationKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [RecommendationKind; 4] = [
        RecommendationKind::Patch,
        RecommendationKind::Minor,
        RecommendationKind::Major,
        RecommendationKind::Security,
    ];

    /// Does the recommender plan this kind from releases and the policy? (`security` ones are
    /// the advisory work's.)
    pub fn is_planned(self) -> bool {
        self != RecommendationKind::Security
    }
}

impl From<UpdateKind> for RecommendationKind {
    fn from(kind: UpdateKind) -> Self {
        match kind {
            UpdateKind::Patch => RecommendationKind::Patch,
            UpdateKind::Minor => RecommendationKind::Minor,
            UpdateKind::Major => RecommendationKind::Major,
        }
    }
}

/// Its serde name (`patch`, `minor`, `major`, `security`).
impl fmt::Display for RecommendationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => Err(fmt::Error),
        }
    }
}

impl std::str::FromStr for RecommendationKind {
    type Err = String;

    /// A kind by its name; the error lists the names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RecommendationKind::ALL
            .into_iter()
            .find(|kind| kind.to_string() == text)
            .ok_or_else(|| {
                let names: Vec<String> = RecommendationKind::ALL
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                format!("`{text}` is not one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_update_kinds() {
        for kind in RecommendationKind::ALL {
            assert_eq!(kind.to_string().parse::<RecommendationKind>(), Ok(kind));
        }
        for update in [UpdateKind::Patch, UpdateKind::Minor, UpdateKind::Major] {
            assert_eq!(
                RecommendationKind::from(update).to_string(),
                update.as_str()
            );
        }
        assert_eq!(
            "huge".parse::<RecommendationKind>(),
            Err("`huge` is not one of patch, minor, major, security".to_owned())
        );
        assert!(!RecommendationKind::Security.is_planned());
        assert!(RecommendationKind::Major.is_planned());
    }
}
