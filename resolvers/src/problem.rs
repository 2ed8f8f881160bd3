//! Why a dependency has no answer: its package could not be looked up in its registry, or no
//! release satisfies its requirement. One vocabulary (`code`, `message`) for `upkeep scan` and
//! the service, so both say the same thing about the same failure.

use serde::{Deserialize, Serialize};

use crate::Ecosystem;
use crate::http::HttpError;
use crate::registry::{RegistryError, Release};

/// What kind of problem a dependency has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The registry does not know the package (404/410).
    NotFound,
    /// The registry could not be reached or did not answer usefully for now (transport error,
    /// 5xx, 408, 429).
    Unreachable,
    /// The registry refused the request (401/403): credentials are missing or wrong.
    Unauthorised,
    /// The registry answered something else that cannot be used (another 4xx, a malformed or
    /// oversized answer).
    RegistryError,
    /// The package was not looked up (a name its registry cannot have, a refused address).
    NotLookedUp,
    /// The package has releases, but none satisfies the requirement.
    NoMatchingRelease,
}

impl ProblemCode {
    pub const ALL: [ProblemCode; 6] = [
        ProblemCode::NotFound,
        ProblemCode::Unreachable,
        ProblemCode::Unauthorised,
        ProblemCode::RegistryError,
        ProblemCode::NotLookedUp,
        ProblemCode::NoMatchingRelease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::NotFound => "not_found",
            ProblemCode::Unreachable => "unreachable",
            ProblemCode::Unauthorised => "unauthorised",
            ProblemCode::RegistryError => "registry_error",
            ProblemCode::NotLookedUp => "not_looked_up",
            ProblemCode::NoMatchingRelease => "no_matching_release",
        }
    }

    /// The code of a stored text (`None` for an unknown one).
    pub fn parse(text: &str) -> Option<ProblemCode> {
        ProblemCode::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dependency's problem: its code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
}

impl Problem {
    /// The problem a failed lookup leaves.
    pub fn from_lookup(error: &RegistryError) -> Problem {
        let code = match error {
            RegistryError::NotFound => ProblemCode::NotFound,
            RegistryError::Skipped(_) | RegistryError::Http(HttpError::Refused { .. }) => {
                ProblemCode::NotLookedUp
            }
            RegistryError::Status {
                status: 401 | 403, ..
            } => ProblemCode::Unauthorised,
            RegistryError::Status { status, .. }
                if *status >= 500 || *status == 408 || *status == 429 =>
            {
                ProblemCode::Unreachable
            }
            RegistryError::Http(HttpError::Transport { .. }) => ProblemCode::Unreachable,
            RegistryError::Status { .. }
            | RegistryError::Malformed { .. }
            | RegistryError::Http(HttpError::TooLarge { .. }) => ProblemCode::RegistryError,
        };
        Problem {
            code,
            message: error.to_string(),
        }
    }

    /// `NoMatchingRelease` when the package has releases but none satisfies `requirement` (a
    /// requirement the ecosystem's scheme understands); `None` otherwise.
    pub fn no_matching_release(
        ecosystem: Ecosystem,
        requirement: Option<&str>,
        releases: &[Release],
    ) -> Option<Problem> {
        let requirement = requirement.map(str::trim).filter(|r| !r.is_empty())?;
        let scheme = ecosystem.versioning().scheme();
        if releases.is_empty() || !scheme.is_valid_requirement(requirement) {
            return None;
        }
        if releases
            .iter()
            .any(|r| scheme.satisfies(&r.version, requirement))
        {
            return None;
        }
        Some(Problem {
            code: ProblemCode::NoMatchingRelease,
            message: format!(
                "none of the {} releases satisfies `{requirement}`",
                releases.len()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str) -> Release {
        Release {
            version: version.to_owned(),
            published_at: None,
            yanked: false,
            deprecated: None,
            requires_runtime: None,
            prerelease: false,
        }
    }

    #[test]
    fn lookup_failures_have_codes() {
        let code = |e: RegistryError| Problem::from_lookup(&e).code;
        assert_eq!(code(RegistryError::NotFound), ProblemCode::NotFound);
        let status = |status| RegistryError::Status {
            status,
            url: "http://127.0.0.1/x".into(),
        };
        assert_eq!(code(status(401)), ProblemCode::Unauthorised);
        assert_eq!(code(status(403)), ProblemCode::Unauthorised);
        assert_eq!(code(status(503)), ProblemCode::Unreachable);
        assert_eq!(code(status(429)), ProblemCode::Unreachable);
        assert_eq!(code(status(400)), ProblemCode::RegistryError);
        assert_eq!(
            code(RegistryError::Http(HttpError::Transport {
                url: "http://127.0.0.1/x".into(),
                message: "connection refused".into()
            })),
            ProblemCode::Unreachable
        );
        assert_eq!(
            code(RegistryError::Skipped("bad name".into())),
            ProblemCode::NotLookedUp
        );
        for c in ProblemCode::ALL {
            assert_eq!(ProblemCode::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn no_matching_release_when_no_release_satisfies_the_requirement() {
        let releases = [release("1.0.0"), release("1.1.0")];
        let problem = Problem::no_matching_release(Ecosystem::Pypi, Some("==9.9.9"), &releases)
            .expect("a problem");
        assert_eq!(problem.code, ProblemCode::NoMatchingRelease);
        assert!(Problem::no_matching_release(Ecosystem::Pypi, Some(">=1.0"), &releases).is_none());
        assert!(Problem::no_matching_release(Ecosystem::Pypi, None, &releases).is_none());
        assert!(Problem::no_matching_release(Ecosystem::Pypi, Some("==9.9.9"), &[]).is_none());
    }
}
