//! The error policy: what to do with one answer, as pure functions of what happened
//! (the error's class, whether the request was an attempt or a check, the retries used,
//! the deadlines). The scheduler applies the decision; nothing here has side effects,
//! so every branch is tested on its own below.

use std::time::Duration;

use tokio::time::Instant;

use super::retry::{PendingConfig, RetryConfig};
use crate::adapter::{AdapterError, CheckStatus, Effect, PendingDeadline};
use crate::model::OperationKind;

/// Why the executor asks a system whether an operation is in place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckPurpose {
    /// An attempt may have taken effect (timeout after send, or interrupted run).
    MaybeApplied,
    /// The system answered "conflict"; confirm before calling it done.
    Conflict(AdapterError),
    /// The system is completing it later.
    Pending,
}

/// What happened, as far as the policy cares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure<'a> {
    /// The error.
    pub(crate) error: &'a AdapterError,
    /// The operation's kind (a revocation of something gone is done); `None` for a read.
    pub(crate) kind: Option<&'a OperationKind>,
    /// The answer was to an attempt (the change was sent), not to a check.
    pub(crate) executed: bool,
    /// Now.
    pub(crate) now: Instant,
    /// When the operation gives up retrying (its first attempt plus
    /// [`RetryConfig::max_total_time`]); `None` when it has no first attempt yet.
    pub(crate) give_up_at: Option<Instant>,
    /// The next backoff delay the retry budget allows ([`backoff_delay`]); `None` when
    /// the budget is used up.
    pub(crate) backoff: Option<Duration>,
    /// For a rate-limited answer: when the throttled budget opens again (the limiter
    /// works that out from what the server said).
    pub(crate) throttled_until: Option<Instant>,
}

/// What to do about a failed request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Throttled: send again once the budget opens at `until` (no retry used up).
    WaitForBudget {
        /// Then.
        until: Instant,
    },
    /// Transient: send again after `delay`; when `check_first`, first ask the system
    /// whether the failed attempt took effect anyway.
    Retry {
        /// The backoff delay.
        delay: Duration,
        /// Check before sending again.
        check_first: bool,
    },
    /// A conflict: confirm with a check before calling it done.
    Confirm,
    /// The system completes it later: re-check after `recheck_after`.
    Pending {
        /// What the system asked for.
        recheck_after: Duration,
    },
    /// It was already so: a success.
    AlreadyInPlace,
    /// Failed for good: report the error, skip the dependents.
    Fail,
}

/// The `n`-th backoff delay (from 0) of an operation's retries, or `None` when the retry
/// budget ([`RetryConfig::max_attempts`], the total backoff) is used up. Deterministic:
/// the jitter is seeded by `seed`.
pub(crate) fn backoff_delay(retry: &RetryConfig, seed: u64, n: u32) -> Option<Duration> {
    retry
        .backoff(seed)
        .nth(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Decides what to do about a failed attempt or check.
pub(crate) fn on_failure(f: &Failure<'_>) -> Decision {
    let too_late = |next: Instant| f.give_up_at.is_some_and(|limit| next > limit);
    match f.error {
        AdapterError::RateLimited { .. } => {
            let until = f.throttled_until.unwrap_or(f.now);
            if too_late(until) {
                Decision::Fail
            } else {
                Decision::WaitForBudget { until }
            }
        }
        AdapterError::Transient { maybe_applied, .. } => match f.backoff {
            Some(delay) if !too_late(f.now + delay) => Decision::Retry {
                delay,
                check_first: *maybe_applied && f.executed,
            },
            _ => Decision::Fail,
        },
        AdapterError::AlreadyDone { .. } if f.executed => Decision::AlreadyInPlace,
        AdapterError::Conflict { .. } if f.executed => Decision::Confirm,
        AdapterError::Pending { recheck_after, .. } => Decision::Pending {
            recheck_after: *recheck_after,
        },
        AdapterError::NotFound { .. } if f.executed && f.kind.is_some_and(removes) => {
            Decision::AlreadyInPlace
        }
        // A misconfigured system is never "already absent" and never gets better by
        // waiting; nor does anything else.
        _ => Decision::Fail,
    }
}

/// Operations for which "not found" means the work is done.
fn removes(kind: &OperationKind) -> bool {
    matches!(
        kind,
        OperationKind::Revoke { .. } | OperationKind::DeleteAccount
    )
}

/// What to do about a check's answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckDecision {
    /// In place.
    Succeed {
        /// Changed by us, or already so (a confirmed conflict).
        effect: Effect,
        /// The account id, when the system said.
        external_id: Option<String>,
    },
    /// Still under way: re-check.
    Pending {
        /// What the system asked for.
        recheck_after: Duration,
    },
    /// Not in place after a conflict: the conflict stands.
    Fail(AdapterError),
    /// Not in place and nothing under way: send it (again).
    Send,
}

/// Decides what to do about a successful check.
pub(crate) fn on_check(status: CheckStatus, purpose: CheckPurpose) -> CheckDecision {
    match (status, purpose) {
        (CheckStatus::Done { external_id }, CheckPurpose::Conflict(_)) => CheckDecision::Succeed {
            effect: Effect::AlreadyInPlace,
            external_id,
        },
        (CheckStatus::Done { external_id }, _) => CheckDecision::Succeed {
            effect: Effect::Changed,
            external_id,
        },
        (CheckStatus::Pending { recheck_after }, _) => CheckDecision::Pending { recheck_after },
        (CheckStatus::NotDone, CheckPurpose::Conflict(error)) => CheckDecision::Fail(error),
        (CheckStatus::NotDone, _) => CheckDecision::Send,
    }
}

/// What to do about an operation that is (still) pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingDecision {
    /// Look again then.
    RecheckAt(Instant),
    /// Stop checking in this run: it is reported pending (a resume checks it again).
    GiveUp,
}

/// Decides when to look again at a pending operation that went pending at `since`, given
/// how long its system lets work stay pending (`deadline`; the executor's own
/// [`PendingConfig::deadline`] by default) and what the system asked for.
///
/// [`PendingDeadline::FirstLogin`] work waits for a person, however long that takes: the
/// run does not wait for it (a later run or a resume checks it again).
pub(crate) fn on_pending(
    config: &PendingConfig,
    deadline: PendingDeadline,
    since: Instant,
    now: Instant,
    recheck_after: Duration,
) -> PendingDecision {
    let deadline = match deadline {
        PendingDeadline::After { wait } => wait,
        PendingDeadline::FirstLogin => return PendingDecision::GiveUp,
        _ => config.deadline,
    };
    let end = since + deadline;
    if now >= end {
        return PendingDecision::GiveUp;
    }
    PendingDecision::RecheckAt((now + config.next_check(recheck_after)).min(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{RateLimitInfo, SystemError};
    use crate::model::Entitlement;

    fn e() -> SystemError {
        SystemError::new(Some(500), None, "boom")
    }

    fn grant() -> OperationKind {
        OperationKind::Grant {
            entitlement: Entitlement::new("okta", "group", "eng"),
        }
    }

    fn revoke() -> OperationKind {
        OperationKind::Revoke {
            entitlement: Entitlement::new("okta", "group", "eng"),
        }
    }

    fn failure<'a>(error: &'a AdapterError, kind: &'a OperationKind, now: Instant) -> Failure<'a> {
        Failure {
            error,
            kind: Some(kind),
            executed: true,
            now,
            give_up_at: Some(now + Duration::from_secs(60)),
            backoff: Some(Duration::from_secs(1)),
            throttled_until: None,
        }
    }

    #[test]
    fn rate_limited_waits_for_the_budget_unless_that_is_past_the_deadline() {
        let now = Instant::now();
        let error = AdapterError::RateLimited {
            info: RateLimitInfo::default(),
            error: e(),
        };
        let kind = grant();
        let mut f = failure(&error, &kind, now);
        f.throttled_until = Some(now + Duration::from_secs(5));
        // The retry budget does not matter for throttling.
        f.backoff = None;
        assert_eq!(
            on_failure(&f),
            Decision::WaitForBudget {
                until: now + Duration::from_secs(5)
            }
        );
        f.throttled_until = Some(now + Duration::from_secs(61));
        assert_eq!(on_failure(&f), Decision::Fail);
    }

    #[test]
    fn transient_retries_with_backoff_and_checks_first_when_it_may_have_applied() {
        let now = Instant::now();
        let kind = grant();
        let plain = AdapterError::transient(e());
        let f = failure(&plain, &kind, now);
        assert_eq!(
            on_failure(&f),
            Decision::Retry {
                delay: Duration::from_secs(1),
                check_first: false
            }
        );
        let maybe = AdapterError::Transient {
            error: e(),
            maybe_applied: true,
        };
        let f = failure(&maybe, &kind, now);
        assert_eq!(
            on_failure(&f),
            Decision::Retry {
                delay: Duration::from_secs(1),
                check_first: true
            }
        );
        // A check that timed out did not send anything: no check first.
        let f = Failure {
            executed: false,
            ..failure(&maybe, &kind, now)
        };
        assert_eq!(
            on_failure(&f),
            Decision::Retry {
                delay: Duration::from_secs(1),
                check_first: false
            }
        );
    }

    #[test]
    fn transient_fails_when_the_budget_or_the_time_is_used_up() {
        let now = Instant::now();
        let kind = grant();
        let error = AdapterError::transient(e());
        let f = Failure {
            backoff: None,
            ..failure(&error, &kind, now)
        };
        assert_eq!(on_failure(&f), Decision::Fail);
        let f = Failure {
            backoff: Some(Duration::from_secs(61)),
            ..failure(&error, &kind, now)
        };
        assert_eq!(on_failure(&f), Decision::Fail);
        // Never sent yet: no deadline.
        let f = Failure {
            backoff: Some(Duration::from_secs(61)),
            give_up_at: None,
            ..failure(&error, &kind, now)
        };
        assert!(matches!(on_failure(&f), Decision::Retry { .. }));
    }

    #[test]
    fn already_done_is_a_success_only_as_the_answer_to_an_attempt() {
        let now = Instant::now();
        let kind = grant();
        let error = AdapterError::AlreadyDone { error: e() };
        assert_eq!(
            on_failure(&failure(&error, &kind, now)),
            Decision::AlreadyInPlace
        );
        let f = Failure {
            executed: false,
            ..failure(&error, &kind, now)
        };
        assert_eq!(on_failure(&f), Decision::Fail);
    }

    #[test]
    fn a_conflict_is_confirmed_by_a_check() {
        let now = Instant::now();
        let kind = grant();
        let error = AdapterError::Conflict { error: e() };
        assert_eq!(on_failure(&failure(&error, &kind, now)), Decision::Confirm);
        let f = Failure {
            executed: false,
            ..failure(&error, &kind, now)
        };
        assert_eq!(on_failure(&f), Decision::Fail);
    }

    #[test]
    fn pending_is_rechecked_from_attempts_and_checks_alike() {
        let now = Instant::now();
        let kind = grant();
        let error = AdapterError::Pending {
            recheck_after: Duration::from_secs(7),
            error: e(),
        };
        for executed in [true, false] {
            let f = Failure {
                executed,
                ..failure(&error, &kind, now)
            };
            assert_eq!(
                on_failure(&f),
                Decision::Pending {
                    recheck_after: Duration::from_secs(7)
                }
            );
        }
    }

    #[test]
    fn not_found_is_done_only_for_removals_that_were_sent() {
        let now = Instant::now();
        let error = AdapterError::NotFound { error: e() };
        let rk = revoke();
        assert_eq!(
            on_failure(&failure(&error, &rk, now)),
            Decision::AlreadyInPlace
        );
        let delete = OperationKind::DeleteAccount;
        assert_eq!(
            on_failure(&failure(&error, &delete, now)),
            Decision::AlreadyInPlace
        );
        let gk = grant();
        assert_eq!(on_failure(&failure(&error, &gk, now)), Decision::Fail);
        let f = Failure {
            executed: false,
            ..failure(&error, &rk, now)
        };
        assert_eq!(on_failure(&f), Decision::Fail);
    }

    #[test]
    fn configuration_and_the_other_classes_fail_at_once() {
        let now = Instant::now();
        let rk = revoke();
        for error in [
            AdapterError::Configuration { error: e() },
            AdapterError::Unauthorized { error: e() },
            AdapterError::Invalid { error: e() },
            AdapterError::Permanent { error: e() },
            AdapterError::Unsupported { what: "x".into() },
        ] {
            // Even a revocation, with retries left: never retried, never "already absent".
            assert_eq!(
                on_failure(&failure(&error, &rk, now)),
                Decision::Fail,
                "{error}"
            );
        }
    }

    #[test]
    fn backoff_delays_are_deterministic_and_bounded_by_the_attempts() {
        let retry = RetryConfig {
            max_attempts: 3,
            ..RetryConfig::default()
        };
        assert_eq!(backoff_delay(&retry, 9, 0), backoff_delay(&retry, 9, 0));
        assert!(backoff_delay(&retry, 9, 1).is_some());
        assert_eq!(backoff_delay(&retry, 9, 2), None, "3 attempts = 2 retries");
    }

    #[test]
    fn check_answers_map_onto_success_pending_failure_or_resend() {
        let conflict = AdapterError::Conflict { error: e() };
        assert_eq!(
            on_check(
                CheckStatus::Done { external_id: None },
                CheckPurpose::Conflict(conflict.clone())
            ),
            CheckDecision::Succeed {
                effect: Effect::AlreadyInPlace,
                external_id: None
            }
        );
        for purpose in [CheckPurpose::MaybeApplied, CheckPurpose::Pending] {
            assert_eq!(
                on_check(
                    CheckStatus::Done {
                        external_id: Some("u1".into())
                    },
                    purpose.clone()
                ),
                CheckDecision::Succeed {
                    effect: Effect::Changed,
                    external_id: Some("u1".into())
                }
            );
            assert_eq!(
                on_check(CheckStatus::NotDone, purpose.clone()),
                CheckDecision::Send
            );
            assert_eq!(
                on_check(
                    CheckStatus::Pending {
                        recheck_after: Duration::from_secs(3)
                    },
                    purpose
                ),
                CheckDecision::Pending {
                    recheck_after: Duration::from_secs(3)
                }
            );
        }
        assert_eq!(
            on_check(
                CheckStatus::NotDone,
                CheckPurpose::Conflict(conflict.clone())
            ),
            CheckDecision::Fail(conflict)
        );
    }

    #[test]
    fn pending_rechecks_until_the_deadline_then_gives_up() {
        let config = PendingConfig {
            interval: Duration::from_secs(30),
            deadline: Duration::from_secs(900),
        };
        let since = Instant::now();
        let deadline = PendingDeadline::After {
            wait: Duration::from_secs(100),
        };
        assert_eq!(
            on_pending(&config, deadline, since, since, Duration::from_secs(5)),
            PendingDecision::RecheckAt(since + Duration::from_secs(5))
        );
        // Never past the deadline.
        let late = since + Duration::from_secs(90);
        assert_eq!(
            on_pending(&config, deadline, since, late, Duration::from_secs(60)),
            PendingDecision::RecheckAt(since + Duration::from_secs(100))
        );
        let at_end = since + Duration::from_secs(100);
        assert_eq!(
            on_pending(&config, deadline, since, at_end, Duration::from_secs(5)),
            PendingDecision::GiveUp
        );
        // The executor's default deadline.
        let default = PendingDeadline::Default;
        assert_eq!(
            on_pending(&config, default, since, at_end, Duration::from_secs(60)),
            PendingDecision::RecheckAt(at_end + Duration::from_secs(30))
        );
        let at_default_end = since + Duration::from_secs(900);
        assert_eq!(
            on_pending(
                &config,
                default,
                since,
                at_default_end,
                Duration::from_secs(5)
            ),
            PendingDecision::GiveUp
        );
        // Waiting for a person: the run does not wait.
        let login = PendingDeadline::FirstLogin;
        assert_eq!(
            on_pending(&config, login, since, since, Duration::from_secs(5)),
            PendingDecision::GiveUp
        );
    }
}
