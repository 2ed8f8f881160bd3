//! A repository's update policy: `.upkeep.toml` in the repository root and/or the API.
//! (Being filled in by the recommendation work.)

use serde::{Deserialize, Serialize};

/// The policy of one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoPolicy {}

/// Parse `.upkeep.toml`.
pub fn parse_repo_policy(text: &str) -> Result<RepoPolicy, String> {
    let _ = text;
    Ok(RepoPolicy {})
}
