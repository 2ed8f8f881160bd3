//! The rate-limit budget: what GitHub last said about `X-RateLimit-Remaining` / `X-RateLimit-Reset`,
//! shared by every client of the process that talks to the same API with the same credentials.
//!
//! Before each request the caller asks [`Budget::admit`]: while the remaining budget is above the
//! reserve the request goes ahead (and is counted against the budget until GitHub's next answer
//! corrects the figure); under the reserve the caller sleeps until the reset time, or gets
//! `RateLimited` when that is further away than the longest wait allowed.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::GithubError;

/// Slack added to a wait for the reset time, so the window has really turned over.
const RESET_SLACK: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct State {
    /// Requests left in the window, as last reported (minus requests sent since).
    remaining: Option<u64>,
    /// When the window resets (seconds since the epoch).
    reset_epoch: Option<i64>,
}

/// One rate-limit budget.
#[derive(Debug, Default)]
pub struct Budget {
    state: Mutex<State>,
}

static BUDGETS: LazyLock<Mutex<HashMap<String, Arc<Budget>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The process-wide budget for `key` (API base URL and credential identity).
pub fn shared(key: &str) -> Arc<Budget> {
    let mut budgets = BUDGETS.lock().unwrap_or_else(PoisonError::into_inner);
    budgets.entry(key.to_owned()).or_default().clone()
}

/// What the caller must do before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// Sleep this long, then ask again.
    Wait(Duration),
}

pub fn epoch_to_datetime(epoch: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(epoch, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

impl Budget {
    /// May a request go now? `Err(RateLimited)` when the wait would exceed `max_wait`.
    pub fn admit(&self, reserve: u64, max_wait: Duration) -> Result<Admission, GithubError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now_ms = Utc::now().timestamp_millis();
        match (state.remaining, state.reset_epoch) {
            (Some(remaining), Some(reset)) if remaining < reserve => {
                let reset_ms = reset.saturating_mul(1000);
                if reset_ms <= now_ms {
                    // The window has turned over since GitHub last answered.
                    state.remaining = None;
                    state.reset_epoch = None;
                    return Ok(Admission::Go);
                }
                let wait = Duration::from_millis(u64::try_from(reset_ms - now_ms).unwrap_or(0))
                    + RESET_SLACK;
                if wait > max_wait {
                    return Err(GithubError::RateLimited {
                        reset_at: epoch_to_datetime(reset),
                    });
                }
                Ok(Admission::Wait(wait))
            }
            (Some(remaining), _) => {
                state.remaining = Some(remaining.saturating_sub(1));
                Ok(Admission::Go)
            }
            _ => Ok(Admission::Go),
        }
    }

    /// Record what a response said.
    pub fn observe(&self, remaining: Option<u64>, reset_epoch: Option<i64>) {
        if remaining.is_none() && reset_epoch.is_none() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(remaining) = remaining {
            state.remaining = Some(remaining);
        }
        if let Some(reset) = reset_epoch {
            state.reset_epoch = Some(reset);
        }
    }

    /// The last known figures (remaining, reset epoch seconds).
    pub fn snapshot(&self) -> (Option<u64>, Option<i64>) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.remaining, state.reset_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_above_the_reserve_and_counts_down() {
        let budget = Budget::default();
        assert_eq!(
            budget.admit(10, Duration::from_secs(1)).unwrap(),
            Admission::Go
        );
        let reset = Utc::now().timestamp() + 3600;
        budget.observe(Some(11), Some(reset));
        assert_eq!(
            budget.admit(10, Duration::from_secs(1)).unwrap(),
            Admission::Go
        );
        assert_eq!(budget.snapshot().0, Some(10));
        // Under the reserve with the reset an hour away: too long to wait.
        budget.observe(Some(3), Some(reset));
        assert!(matches!(
            budget.admit(10, Duration::from_mins(1)),
            Err(GithubError::RateLimited { .. })
        ));
        // A reset in two seconds is worth waiting for.
        budget.observe(Some(3), Some(Utc::now().timestamp() + 2));
        assert!(matches!(
            budget.admit(10, Duration::from_mins(1)).unwrap(),
            Admission::Wait(d) if d <= Duration::from_millis(2_300)
        ));
    }

    #[test]
    fn a_past_reset_clears_the_budget() {
        let budget = Budget::default();
        budget.observe(Some(0), Some(Utc::now().timestamp() - 5));
        assert_eq!(
            budget.admit(10, Duration::from_secs(1)).unwrap(),
            Admission::Go
        );
        assert_eq!(budget.snapshot(), (None, None));
    }
}
